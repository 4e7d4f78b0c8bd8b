//! Who may do what: loopback binds need no login; any other bind requires a token,
//! basic-auth users each with a role, or (`--auth database`) database logins mapped
//! from the stage roles (reader sees, submitter runs and retries, admin edits, enables
//! and cancels).

use super::database_logins::{DatabaseLogins, Refusal};
use crate::store::DatabaseUrl;
use anyhow::{bail, Context, Result};
use axum::http::{header, HeaderMap};
use base64::Engine as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A signed-in user's rights, weakest first (so `role >= Role::Submitter` reads well).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Reader,
    Submitter,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Submitter => "submitter",
            Role::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        [Role::Reader, Role::Submitter, Role::Admin]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// Where basic-auth users come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// --users-file (and --auth-token-file).
    #[default]
    Files,
    /// Database logins: the user's name and password sign in to the dashboard's own
    /// server and database; stage_reader, stage_submitter, stage_admin give the role.
    Database,
}

/// The dashboard's login options (`stagehand dashboard` and `stagehand run --dashboard`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AuthArgs {
    /// A file whose first line is a bearer token with the admin role (also accepted as
    /// the password of basic auth, any user name). Required, or --users-file, or
    /// --auth database, on a non-loopback address.
    #[arg(long, env = "STAGEHAND_DASHBOARD_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Basic-auth users, one `name:role:password` a line (role: reader, submitter or
    /// admin; `#` starts a comment).
    #[arg(long, env = "STAGEHAND_DASHBOARD_USERS_FILE")]
    pub users_file: Option<PathBuf>,
    /// `database`: basic auth with database logins, their role from the stage roles they
    /// hold (checked at most once a minute per login).
    #[arg(long, value_enum, env = "STAGEHAND_DASHBOARD_AUTH", default_value_t = AuthMode::Files)]
    pub auth: AuthMode,
}

#[derive(Debug, Clone)]
struct User {
    name: String,
    role: Role,
    password: String,
}

/// The credentials the server accepts; empty (no token, no users, no database logins)
/// only on loopback.
#[derive(Debug, Default)]
pub struct Auth {
    token: Option<String>,
    users: Vec<User>,
    logins: Option<DatabaseLogins>,
}

/// What a request's credentials come to.
#[derive(Debug)]
pub enum Verdict {
    Allowed(Principal),
    /// Missing or wrong credentials (which of the two, or whether the user exists, is
    /// not told).
    Unauthorized,
    /// A valid database login without any stage role.
    NoStageRole(String),
    /// The database that checks logins cannot be reached.
    Unavailable,
}

/// Who made a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Role,
}

impl Auth {
    /// Reads the files, and refuses a non-loopback `listen` without any credentials.
    /// `url` is the dashboard's own connection string (database logins sign in to its
    /// server and database).
    pub fn load(args: &AuthArgs, listen: SocketAddr, url: &DatabaseUrl) -> Result<Auth> {
        let mut auth = Auth::default();
        if args.auth == AuthMode::Database {
            auth.logins = Some(DatabaseLogins::new(url.clone()).context("--auth database")?);
        }
        if let Some(path) = &args.auth_token_file {
            let text = read_secret_file(path, "--auth-token-file")?;
            let token = text.lines().next().unwrap_or("").trim().to_string();
            if token.len() < 16 {
                bail!(
                    "--auth-token-file {}: the token must be at least 16 characters",
                    path.display()
                );
            }
            auth.token = Some(token);
        }
        if let Some(path) = &args.users_file {
            let text = read_secret_file(path, "--users-file")?;
            auth.users =
                parse_users(&text).with_context(|| format!("--users-file {}", path.display()))?;
        }
        if !listen.ip().is_loopback() && !auth.required() {
            bail!(
                "refusing to serve the dashboard on {listen} without authentication: \
                 pass --auth-token-file, --users-file or --auth database (or listen on 127.0.0.1)"
            );
        }
        Ok(auth)
    }

    /// Whether requests must carry credentials (false only for a loopback bind).
    pub fn required(&self) -> bool {
        self.token.is_some() || !self.users.is_empty() || self.logins.is_some()
    }

    /// What the request's `Authorization` header proves. Without any configured
    /// credentials (loopback) everyone is the local admin.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Verdict {
        if !self.required() {
            return Verdict::Allowed(Principal {
                name: "local".into(),
                role: Role::Admin,
            });
        }
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Verdict::Unauthorized;
        };
        let Some((scheme, credentials)) = value.split_once(' ') else {
            return Verdict::Unauthorized;
        };
        if scheme.eq_ignore_ascii_case("bearer") {
            let valid = self
                .token
                .as_deref()
                .is_some_and(|token| constant_time_eq(token, credentials.trim()));
            return match valid {
                true => Verdict::Allowed(Principal {
                    name: "token".into(),
                    role: Role::Admin,
                }),
                false => Verdict::Unauthorized,
            };
        }
        if !scheme.eq_ignore_ascii_case("basic") {
            return Verdict::Unauthorized;
        }
        // Wiped when dropped: it holds the password.
        let Some(decoded) = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .ok()
            .map(zeroize::Zeroizing::new)
        else {
            return Verdict::Unauthorized;
        };
        let Some((name, password)) = std::str::from_utf8(&decoded)
            .ok()
            .and_then(|text| text.split_once(':'))
        else {
            return Verdict::Unauthorized;
        };
        if let Some(found) = self.file_user(name, password) {
            return Verdict::Allowed(found);
        }
        let Some(logins) = &self.logins else {
            return Verdict::Unauthorized;
        };
        match logins.sign_in(name, password).await {
            Ok(role) => Verdict::Allowed(Principal {
                name: name.to_string(),
                role,
            }),
            Err(Refusal::BadCredentials) => Verdict::Unauthorized,
            Err(Refusal::NoStageRole) => Verdict::NoStageRole(name.to_string()),
            Err(Refusal::Unavailable) => Verdict::Unavailable,
        }
    }

    /// The token (as a password) or a --users-file user.
    fn file_user(&self, name: &str, password: &str) -> Option<Principal> {
        if let Some(token) = &self.token {
            if constant_time_eq(token, password) {
                return Some(Principal {
                    name: name.to_string(),
                    role: Role::Admin,
                });
            }
        }
        // Every user is compared, so the time taken does not tell which names exist.
        let mut found = None;
        for user in &self.users {
            let matches =
                constant_time_eq(&user.name, name) & constant_time_eq(&user.password, password);
            if matches && found.is_none() {
                found = Some(Principal {
                    name: user.name.clone(),
                    role: user.role,
                });
            }
        }
        found
    }
}

fn read_secret_file(path: &Path, flag: &str) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{flag} {}", path.display()))
}

fn parse_users(text: &str) -> Result<Vec<User>> {
    let mut users = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ':');
        let (Some(name), Some(role), Some(password)) = (parts.next(), parts.next(), parts.next())
        else {
            bail!("line {}: expected name:role:password", number + 1);
        };
        let role = Role::parse(role).with_context(|| {
            format!(
                "line {}: role {role:?} is not reader, submitter or admin",
                number + 1
            )
        })?;
        if name.is_empty() || password.is_empty() {
            bail!(
                "line {}: the name and the password must not be empty",
                number + 1
            );
        }
        users.push(User {
            name: name.to_string(),
            role,
            password: password.to_string(),
        });
    }
    if users.is_empty() {
        bail!("no users");
    }
    Ok(users)
}

/// Compares secrets without stopping at the first difference.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    constant_time_eq_bytes(a.as_bytes(), b.as_bytes())
}

/// [`constant_time_eq`] for bytes.
pub fn constant_time_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_lines_name_their_mistakes() {
        let users = parse_users("# ops\nann:admin:s3cret\nbob:reader:pw:with:colons\n").unwrap();
        assert_eq!(users[1].password, "pw:with:colons");
        assert_eq!(users[0].role, Role::Admin);
        let error = parse_users("ann:boss:x").unwrap_err().to_string();
        assert!(
            error.contains("line 1") && error.contains("boss"),
            "{error}"
        );
    }

    fn url() -> DatabaseUrl {
        DatabaseUrl::parse("postgres://app:pw@db/erp").unwrap()
    }

    #[test]
    fn non_loopback_without_credentials_is_refused() {
        let error = Auth::load(
            &AuthArgs::default(),
            "0.0.0.0:8080".parse().unwrap(),
            &url(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("without authentication"), "{error}");
        assert!(!Auth::load(
            &AuthArgs::default(),
            "127.0.0.1:8080".parse().unwrap(),
            &url()
        )
        .unwrap()
        .required());
        let database = AuthArgs {
            auth: AuthMode::Database,
            ..AuthArgs::default()
        };
        assert!(
            Auth::load(&database, "0.0.0.0:8080".parse().unwrap(), &url())
                .unwrap()
                .required()
        );
    }

    #[tokio::test]
    async fn basic_and_bearer_credentials_map_to_roles() {
        let auth = Auth {
            token: Some("0123456789abcdef".into()),
            users: parse_users("bob:reader:pw").unwrap(),
            logins: None,
        };
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            let auth = &auth;
            async move {
                match auth.authenticate(&headers).await {
                    Verdict::Allowed(p) => Some(p.role),
                    _ => None,
                }
            }
        };
        let basic = |pair: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        };
        assert_eq!(with("Bearer 0123456789abcdef").await, Some(Role::Admin));
        assert_eq!(with("Bearer wrong").await, None);
        assert_eq!(with(&basic("bob:pw")).await, Some(Role::Reader));
        assert_eq!(with(&basic("bob:nope")).await, None);
        assert_eq!(
            with(&basic("anyone:0123456789abcdef")).await,
            Some(Role::Admin)
        );
        assert!(matches!(
            auth.authenticate(&HeaderMap::new()).await,
            Verdict::Unauthorized
        ));
    }
}
