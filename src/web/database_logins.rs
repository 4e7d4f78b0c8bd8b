//! `--auth database`: basic-auth credentials are a database login. The dashboard
//! connects as that login (its own connection string's server and database, the
//! user's name and password put in) and asks the store which stage roles it holds.
//! A success is remembered for [`CACHE_FOR`] as a salted SHA-256 of the credentials,
//! so a browser's every request does not open a connection; the password itself is
//! wiped as soon as the lookup returns and never logged.

use super::auth::Role;
use crate::store::{connect, ConnectOptions, ConnectionCause, DatabaseUrl, StageRoles, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a login's roles are trusted before the database is asked again (a revoked
/// role or a changed password takes effect after at most this long).
pub const CACHE_FOR: Duration = Duration::from_secs(60);

/// Most logins remembered at once; beyond it the expired ones go first, then all.
const MAX_CACHED: usize = 1000;

/// Why a sign-in did not give a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong name or password, or no such login: the two are not told apart.
    BadCredentials,
    /// The login is valid but holds none of stage_reader, stage_submitter, stage_admin.
    NoStageRole,
    /// The database could not be asked (down, restarting, full).
    Unavailable,
}

struct Cached {
    digest: [u8; 32],
    role: Role,
    until: Instant,
}

pub struct DatabaseLogins {
    url: DatabaseUrl,
    salt: [u8; 32],
    cache: Mutex<HashMap<String, Cached>>,
    connect_timeout: Duration,
}

impl std::fmt::Debug for DatabaseLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseLogins")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The strongest dashboard role the stage roles give.
pub fn role_of(roles: StageRoles) -> Option<Role> {
    if roles.admin {
        Some(Role::Admin)
    } else if roles.submitter {
        Some(Role::Submitter)
    } else if roles.reader {
        Some(Role::Reader)
    } else {
        None
    }
}

impl DatabaseLogins {
    /// Logins on the server and database of `url` (the dashboard's own string).
    pub fn new(url: DatabaseUrl) -> anyhow::Result<DatabaseLogins> {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt)
            .map_err(|e| anyhow::anyhow!("no random salt for the login cache: {e}"))?;
        // Fails now, not at the first sign-in, when the string cannot take a login.
        url.with_login("check", "check")?;
        Ok(DatabaseLogins {
            url,
            salt,
            cache: Mutex::new(HashMap::new()),
            connect_timeout: Duration::from_secs(10),
        })
    }

    fn digest(&self, name: &str, password: &str) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.salt);
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        hash.update(password.as_bytes());
        hash.finalize().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The role of `name` signed in with `password`.
    pub async fn sign_in(&self, name: &str, password: &str) -> Result<Role, Refusal> {
        if name.is_empty() || password.is_empty() {
            return Err(Refusal::BadCredentials);
        }
        let digest = self.digest(name, password);
        if let Some(cached) = self.lock().get(name) {
            let same = super::auth::constant_time_eq_bytes(&cached.digest, &digest);
            if same && cached.until > Instant::now() {
                return Ok(cached.role);
            }
        }
        let roles = self.ask(name, password).await?;
        let role = role_of(roles).ok_or(Refusal::NoStageRole)?;
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            let now = Instant::now();
            cache.retain(|_, c| c.until > now);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(
            name.to_string(),
            Cached {
                digest,
                role,
                until: Instant::now() + CACHE_FOR,
            },
        );
        Ok(role)
    }

    /// One connection as the login, one role lookup, closed again.
    async fn ask(&self, name: &str, password: &str) -> Result<StageRoles, Refusal> {
        let url = self.url.with_login(name, password).map_err(|error| {
            tracing::warn!("dashboard sign-in of {name:?}: {error}");
            Refusal::BadCredentials
        })?;
        let options = ConnectOptions {
            max_connections: 1,
            connect_timeout: self.connect_timeout,
        };
        let result = match connect(&url, &options).await {
            Ok(store) => store.stage_roles().await,
            Err(error) => Err(error),
        };
        // `url` (and the store's copy of the password) are dropped here; DatabaseUrl wipes itself.
        drop(url);
        result.map_err(|error| match &error {
            StoreError::Connection {
                cause: ConnectionCause::Authentication,
                ..
            } => Refusal::BadCredentials,
            error if error.heals() => {
                tracing::warn!("dashboard sign-in: the database cannot be asked: {error}");
                Refusal::Unavailable
            }
            // A login the server knows but that may not open this database, or the like.
            error => {
                tracing::warn!("dashboard sign-in of {name:?} refused: {error}");
                Refusal::BadCredentials
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strongest_role_wins() {
        let roles = |reader, submitter, admin| StageRoles {
            reader,
            submitter,
            admin,
        };
        assert_eq!(role_of(roles(true, true, true)), Some(Role::Admin));
        assert_eq!(role_of(roles(true, true, false)), Some(Role::Submitter));
        assert_eq!(role_of(roles(false, true, false)), Some(Role::Submitter));
        assert_eq!(role_of(roles(true, false, false)), Some(Role::Reader));
        assert_eq!(role_of(roles(false, false, false)), None);
    }

    #[test]
    fn digests_differ_by_name_password_and_salt() {
        let url = DatabaseUrl::parse("postgres://app@db/erp").unwrap();
        let a = DatabaseLogins::new(url.clone()).unwrap();
        let b = DatabaseLogins::new(url).unwrap();
        assert_eq!(a.digest("ann", "pw"), a.digest("ann", "pw"));
        assert_ne!(a.digest("ann", "pw"), a.digest("ann", "pX"));
        assert_ne!(a.digest("an", "npw"), a.digest("ann", "pw"));
        assert_ne!(a.digest("ann", "pw"), b.digest("ann", "pw"));
    }
}
