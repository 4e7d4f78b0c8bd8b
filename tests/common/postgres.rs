//! PostgreSQL side of the harness. Migrating takes seconds, copying a database takes
//! milliseconds: so one template database per cluster and migration set
//! (`stagehand_tpl_<hash of migrations/postgres>`) is migrated once, and each test
//! gets `CREATE DATABASE ... TEMPLATE` of it.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;

use anyhow::{Context, Result};
use tokio_postgres::{Client, NoTls};

/// Session advisory lock that serialises template builds across test threads and
/// binaries (distinct from the store's own migration lock, which `migrate` takes).
const TEMPLATE_LOCK_KEY: i64 = 0x5354_4147_4554_504C; // "STAGETPL"

/// The group whose members' passwords the test cluster checks (scripts/pg.sh's
/// pg_check_passwords); every other login is trusted.
pub const PASSWORD_CHECKED: &str = "stagehand_password_checked";

/// A superuser connection to the cluster's maintenance database.
pub struct Admin {
    client: Client,
    base: url::Url,
}

impl Admin {
    pub async fn connect(base: &str) -> Result<Admin> {
        let base =
            url::Url::parse(base).context("STAGEHAND_TEST_POSTGRES must be a postgres:// URL")?;
        let (client, connection) = tokio_postgres::connect(base.as_str(), NoTls)
            .await
            .with_context(|| {
                format!(
                    "cannot connect to {}:{:?}",
                    base.host_str().unwrap_or(""),
                    base.port()
                )
            })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("PostgreSQL admin connection ended: {e}");
            }
        });
        Ok(Admin { client, base })
    }

    fn url(&self, database: &str, login: Option<(&str, &str)>) -> Result<String> {
        let mut url = self.base.clone();
        url.set_path(&format!("/{database}"));
        if let Some((login, password)) = login {
            url.set_username(login)
                .map_err(|()| anyhow::anyhow!("cannot set the user of the URL"))?;
            url.set_password(Some(password))
                .map_err(|()| anyhow::anyhow!("cannot set the password of the URL"))?;
        }
        Ok(url.to_string())
    }

    /// A fresh copy of the migrated template; returns its URL.
    ///
    /// The template is named after the migration files, but the store applies the
    /// migrations it was compiled with: a file edited between the build and the run
    /// would leave a template that does not match the next build. So each copy is
    /// migrated once more and must find nothing to do; if it does (or diverges), the
    /// template is rebuilt by this binary and the copy made again.
    pub async fn create_database(&self, name: &str) -> Result<String> {
        let url = self.url(name, None)?;
        let mut stale = None;
        loop {
            let (template, oid) = self.ensure_template(stale).await?;
            self.client
                .batch_execute(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                ))
                .await
                .with_context(|| format!("CREATE DATABASE {name} TEMPLATE {template}"))?;
            let verdict = super::open(&url).await?.migrate().await;
            match verdict {
                Ok(applied) if applied.is_empty() => return Ok(url),
                _ if stale.is_none() => {
                    self.drop_database(name).await?;
                    stale = Some(oid);
                }
                Ok(applied) => anyhow::bail!("a freshly built {template} still lacked {applied:?}"),
                Err(e) => return Err(e).context("Backend::migrate on a copy of the template"),
            }
        }
    }

    /// A database with no schema in it; returns its URL.
    pub async fn create_empty_database(&self, name: &str) -> Result<String> {
        self.client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        self.url(name, None)
    }

    pub async fn drop_database(&self, name: &str) -> Result<()> {
        // FORCE: pooled connections of the finished test may still be closing.
        self.client
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .with_context(|| format!("DROP DATABASE {name}"))
    }

    /// Roles are cluster-wide: `login` is unique per test (see `TestDb::connect_as`).
    /// A login that is a member of `roles` only (and of [`PASSWORD_CHECKED`]), with a
    /// generated password; returns its URL and password.
    pub async fn create_login(
        &self,
        database: &str,
        login: &str,
        roles: &[&str],
    ) -> Result<(String, String)> {
        let password = format!("Pw{}x9", login.replace('_', ""));
        // Concurrent tests may create the group at once: the loser's error is no error.
        self.client
            .batch_execute(&format!(
                "DO $$ BEGIN CREATE ROLE {PASSWORD_CHECKED} NOLOGIN; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ))
            .await
            .with_context(|| format!("CREATE ROLE {PASSWORD_CHECKED}"))?;
        let mut groups = vec![PASSWORD_CHECKED.to_string()];
        groups.extend(roles.iter().map(|r| format!("\"{r}\"")));
        self.client
            .batch_execute(&format!(
                "CREATE ROLE \"{login}\" LOGIN PASSWORD '{password}' IN ROLE {}",
                groups.join(", ")
            ))
            .await
            .with_context(|| format!("CREATE ROLE {login} LOGIN IN ROLE {roles:?}"))?;
        Ok((self.url(database, Some((login, &password)))?, password))
    }

    /// Whether the server checks the passwords of [`PASSWORD_CHECKED`]'s members (a
    /// wrong one is refused), as scripts/pg.sh sets a cluster up.
    pub async fn checks_passwords(&self, database: &str, login: &str) -> Result<bool> {
        let wrong = self.url(database, Some((login, "not-the-password")))?;
        Ok(tokio_postgres::connect(&wrong, NoTls).await.is_err())
    }

    pub async fn drop_login(&self, login: &str) -> Result<()> {
        self.client
            .batch_execute(&format!("DROP ROLE IF EXISTS \"{login}\""))
            .await
            .with_context(|| format!("DROP ROLE {login}"))
    }

    /// The template for the current migration files, built unless it exists (or
    /// rebuilt when it is the `stale` one); returns its name and oid. A build that failed
    /// halfway leaves only a `_wip` database, which the next build replaces.
    async fn ensure_template(&self, stale: Option<u32>) -> Result<(String, u32)> {
        let template = format!("stagehand_tpl_{}", migrations_hash()?);
        self.client
            .execute("SELECT pg_advisory_lock($1)", &[&TEMPLATE_LOCK_KEY])
            .await
            .context("pg_advisory_lock for the template")?;
        let built = self.build_template(&template, stale).await;
        let unlocked = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&TEMPLATE_LOCK_KEY])
            .await
            .context("pg_advisory_unlock for the template");
        let oid = built?;
        unlocked?;
        Ok((template, oid))
    }

    async fn template_oid(&self, template: &str) -> Result<Option<u32>> {
        let row = self
            .client
            .query_opt(
                "SELECT oid FROM pg_database WHERE datname = $1",
                &[&template],
            )
            .await
            .context("look up the template database")?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn build_template(&self, template: &str, stale: Option<u32>) -> Result<u32> {
        let wip = format!("{template}_wip");
        let mut statements = Vec::new();
        match self.template_oid(template).await? {
            // Another test of this binary may have rebuilt it already.
            Some(oid) if Some(oid) != stale => return Ok(oid),
            Some(_) => statements.extend([
                format!("ALTER DATABASE \"{template}\" IS_TEMPLATE false"),
                format!("DROP DATABASE \"{template}\" WITH (FORCE)"),
            ]),
            None => {}
        }
        statements.extend([
            format!("DROP DATABASE IF EXISTS \"{wip}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{wip}\""),
        ]);
        // One statement per call: a multi-statement string is one implicit transaction,
        // and CREATE/DROP DATABASE refuse to run inside one.
        for sql in statements {
            self.client
                .batch_execute(&sql)
                .await
                .with_context(|| sql.clone())?;
        }
        super::open(&self.url(&wip, None)?)
            .await?
            .migrate()
            .await
            .context("Backend::migrate on the template database (migrations/postgres)")?;
        // No connection may stay open on a template: CREATE DATABASE ... TEMPLATE would
        // fail. `migrate` closed its own; forbidding new ones keeps it that way.
        for sql in [
            format!("ALTER DATABASE \"{wip}\" RENAME TO \"{template}\""),
            format!("ALTER DATABASE \"{template}\" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"),
        ] {
            self.client
                .batch_execute(&sql)
                .await
                .with_context(|| sql.clone())?;
        }
        self.template_oid(template)
            .await?
            .with_context(|| format!("{template} vanished right after it was built"))
    }
}

/// Names and contents of migrations/postgres: a new or changed migration gets a new template.
fn migrations_hash() -> Result<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join("postgres");
    let mut files = std::fs::read_dir(&dir)
        .with_context(|| format!("read {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("read {}", dir.display()))?;
    files.retain(|path| path.is_file());
    files.sort();
    let mut hasher = DefaultHasher::new();
    for path in files {
        path.file_name().hash(&mut hasher);
        std::fs::read(&path)
            .with_context(|| format!("read {}", path.display()))?
            .hash(&mut hasher);
    }
    Ok(format!("{:016x}", hasher.finish()))
}
