//! `stagehand migrate`: deploy or upgrade the schema, say what that would do
//! (`--dry-run`), or print it as a script for change control (`--script`).

use crate::store::{migrations, BackendKind, DatabaseUrl};
use anyhow::{bail, Context, Result};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Print the SQL that brings a database to the current schema (guarded and recorded
    /// as `stagehand migrate` records it), without connecting.
    #[arg(long, conflicts_with = "dry_run")]
    pub script: bool,
    /// With --script: the database is already at this version; print only what follows.
    #[arg(long, requires = "script", value_name = "VERSION", default_value_t = 0)]
    pub from: i32,
    /// With --script: the dialect to print (default: the --database URL's).
    #[arg(long, requires = "script", value_enum)]
    pub dialect: Option<Dialect>,
    /// Connect and list the migrations that would be applied, applying nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Dialect {
    Postgres,
    Mssql,
}

impl From<Dialect> for BackendKind {
    fn from(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Postgres => BackendKind::Postgres,
            Dialect::Mssql => BackendKind::SqlServer,
        }
    }
}

pub async fn run(database: &Option<String>, args: &MigrateArgs, json: bool) -> Result<ExitCode> {
    if args.script {
        let kind = match (args.dialect, database) {
            (Some(dialect), _) => dialect.into(),
            (None, Some(raw)) => DatabaseUrl::parse(raw).context("--database")?.kind(),
            (None, None) => bail!("--script needs --dialect postgres|mssql (or a --database URL)"),
        };
        let latest = migrations::all(kind).last().map_or(0, |m| m.version());
        if args.from < 0 || args.from > latest {
            bail!(
                "--from {}: the migrations run from 1 to {latest}",
                args.from
            );
        }
        print!("{}", migrations::script(kind, args.from));
        return Ok(ExitCode::SUCCESS);
    }
    let db = super::open_store(database, 2).await?;
    let (names, verb) = if args.dry_run {
        (
            db.pending_migrations().await.context("migrate --dry-run")?,
            "would apply",
        )
    } else {
        (db.migrate().await.context("migrate")?, "applied")
    };
    if json {
        let key = if args.dry_run { "pending" } else { "applied" };
        println!("{}", serde_json::json!({ key: names }));
    } else if names.is_empty() {
        println!("schema is up to date");
    } else {
        for name in &names {
            println!("{verb} {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
