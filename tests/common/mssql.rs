//! SQL Server side of the harness: a database per test, with READ_COMMITTED_SNAPSHOT
//! on (ERP databases often run with it, and READPAST behaves differently under it:
//! design.md), migrated with `Backend::migrate`. Administration goes through a store
//! connected with the configured (sysadmin) connection string.

use std::sync::Arc;

use anyhow::{Context, Result};
use stagehand::store::{Backend, BackendKind, DatabaseUrl};

pub struct Admin {
    store: Arc<dyn Backend>,
    base: String,
}

impl Admin {
    pub async fn connect(base: &str) -> Result<Admin> {
        let url = DatabaseUrl::parse(base).context("STAGEHAND_TEST_MSSQL")?;
        anyhow::ensure!(
            url.kind() == BackendKind::SqlServer,
            "STAGEHAND_TEST_MSSQL must be mssql://user:password@host:port/master or an ADO.NET string"
        );
        Ok(Admin {
            store: super::open(base).await?,
            base: base.to_string(),
        })
    }

    async fn exec(&self, sql: &str) -> Result<()> {
        self.store
            .execute_sql(sql)
            .await
            .with_context(|| sql.to_string())?;
        Ok(())
    }

    pub async fn create_database(&self, name: &str) -> Result<String> {
        let url = self.create_empty_database(name).await?;
        let store = super::open(&url).await?;
        store
            .migrate()
            .await
            .context("Backend::migrate on the test database (migrations/mssql)")?;
        Ok(url)
    }

    /// A database with no schema in it; returns its URL.
    pub async fn create_empty_database(&self, name: &str) -> Result<String> {
        self.exec(&format!("CREATE DATABASE [{name}]")).await?;
        self.exec(&format!(
            "ALTER DATABASE [{name}] SET READ_COMMITTED_SNAPSHOT ON WITH ROLLBACK IMMEDIATE"
        ))
        .await?;
        with_database(&self.base, name)
    }

    pub async fn drop_database(&self, name: &str) -> Result<()> {
        self.exec(&format!(
            "IF DB_ID(N'{name}') IS NOT NULL BEGIN \
             ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [{name}]; END"
        ))
        .await
    }

    /// A server login with a user in `database` that is a member of `roles` only;
    /// returns its URL and password. `test_store` is connected to `database` with the
    /// configured (sysadmin) login.
    pub async fn create_login(
        &self,
        test_store: &dyn Backend,
        database: &str,
        login: &str,
        roles: &[&str],
    ) -> Result<(String, String)> {
        // Generated, never shown; CHECK_POLICY OFF so no password policy can refuse it.
        let password = format!("Sh{login}9!");
        self.exec(&format!(
            "CREATE LOGIN [{login}] WITH PASSWORD = N'{password}', CHECK_POLICY = OFF, DEFAULT_DATABASE = [{database}]"
        ))
        .await?;
        let mut user = format!("CREATE USER [{login}] FOR LOGIN [{login}];");
        for role in roles {
            user.push_str(&format!(" ALTER ROLE [{role}] ADD MEMBER [{login}];"));
        }
        test_store
            .execute_sql(&user)
            .await
            .with_context(|| user.clone())?;
        let url = with_login(&with_database(&self.base, database)?, login, &password)?;
        Ok((url, password))
    }

    pub async fn drop_login(&self, login: &str) -> Result<()> {
        self.exec(&format!(
            "IF SUSER_ID(N'{login}') IS NOT NULL DROP LOGIN [{login}]"
        ))
        .await
    }
}

/// The connection string pointed at another database.
fn with_database(raw: &str, database: &str) -> Result<String> {
    if raw.contains("://") {
        let mut url = url::Url::parse(raw).context("STAGEHAND_TEST_MSSQL")?;
        url.set_path(&format!("/{database}"));
        Ok(url.to_string())
    } else {
        Ok(ado_set(
            raw,
            &["database", "initial catalog"],
            "Database",
            database,
        ))
    }
}

/// The connection string with SQL Server authentication as `login`.
fn with_login(raw: &str, login: &str, password: &str) -> Result<String> {
    if raw.contains("://") {
        let mut url = url::Url::parse(raw).context("STAGEHAND_TEST_MSSQL")?;
        url.set_username(login)
            .map_err(|()| anyhow::anyhow!("cannot set the user of the URL"))?;
        url.set_password(Some(password))
            .map_err(|()| anyhow::anyhow!("cannot set the password of the URL"))?;
        Ok(url.to_string())
    } else {
        let raw = ado_without(raw, &["integrated security", "trusted_connection"]);
        let raw = ado_set(&raw, &["user id", "uid", "user"], "User Id", login);
        Ok(ado_set(&raw, &["password", "pwd"], "Password", password))
    }
}

/// The pairs whose key is one of `aliases` replaced by one `key=value`.
fn ado_set(raw: &str, aliases: &[&str], key: &str, value: &str) -> String {
    format!("{};{key}={value}", ado_without(raw, aliases))
}

/// The pairs whose key is one of `aliases` removed.
fn ado_without(raw: &str, aliases: &[&str]) -> String {
    raw.split(';')
        .filter(|pair| !pair.trim().is_empty())
        .filter(|pair| {
            let name = pair
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            !aliases.contains(&name.as_str())
        })
        .collect::<Vec<_>>()
        .join(";")
}
