//! Command-line interface: argument parsing and one module per command group.

mod bench;
pub mod exit;
mod logs;
mod maintenance;
mod migrate;
mod run;
mod status;
mod task;
mod task_import;

use crate::store::{self, Backend, ConnectOptions, DatabaseUrl, DATABASE_URL_ENV};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "stagehand",
    version,
    about = "A job engine where the database is the queue"
)]
pub struct Cli {
    /// postgres://..., mssql://user:password@host:port/database, or an ADO.NET connection string.
    #[arg(
        long = "database",
        env = DATABASE_URL_ENV,
        global = true,
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// Print the result as one JSON document (one per line for `logs --follow`).
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy or upgrade the schema (idempotent), or print it as a script.
    Migrate(migrate::MigrateArgs),
    /// Register a process (stage.RegisterProcess).
    Register {
        /// The process name (a task's id, or any name for an external executor).
        name: String,
        /// Parameters as a JSON document, passed to the command as STAGEHAND_PARAMETERS.
        #[arg(long = "params")]
        params: Option<String>,
    },
    /// Run the driver: claim processes and execute their commands until Ctrl-C.
    Run(run::RunArgs),
    /// Counts per status, workers, overdue processes and table sizes.
    Status(status::StatusArgs),
    /// Read (or follow, or export) stage.ProcessLog.
    Logs(logs::LogsArgs),
    /// Move finished processes and old logs into the history tables.
    Rotate(maintenance::RotateArgs),
    /// Put processes whose lease expired back to Pending (or Failed past their attempts).
    ResetStuck(maintenance::ResetArgs),
    /// Manage tasks (JSON in and out) and predict their fire times.
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Benchmarks against the database: queue, end to end, clock.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// The connection string given by `--database` / `STAGEHAND_DATABASE_URL`.
pub(crate) fn database_url(cli_database: &Option<String>) -> Result<DatabaseUrl> {
    let raw = cli_database
        .as_deref()
        .with_context(|| format!("no database: pass --database URL or set {DATABASE_URL_ENV}"))?;
    DatabaseUrl::parse(raw).context("--database")
}

/// Opens the store named by `--database` / `STAGEHAND_DATABASE_URL`.
pub(crate) async fn open_store(
    cli_database: &Option<String>,
    max_connections: u32,
) -> Result<Arc<dyn Backend>> {
    let url = database_url(cli_database)?;
    let options = ConnectOptions {
        max_connections,
        ..ConnectOptions::default()
    };
    store::connect(&url, &options)
        .await
        .with_context(|| format!("connecting to {}", url.redacted()))
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Migrate(args) => migrate::run(&cli.database, args, cli.json).await,
        Command::Register { name, params } => {
            let db = open_store(&cli.database, 1).await?;
            let row = db.register(name, params.as_deref(), None).await?;
            if row.registered {
                println!(
                    "registered process {} ({})",
                    row.process_id, row.process_name
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "refused: process {} of {} is already {}",
                    row.process_id, row.process_name, row.status
                );
                Ok(ExitCode::from(exit::REFUSED))
            }
        }
        Command::Run(args) => {
            let workers = args.workers.unwrap_or_else(crate::driver::default_workers);
            let secrets = crate::driver::Secrets::of(&database_url(&cli.database)?);
            let db = open_store(&cli.database, workers as u32 + 4).await?;
            run::run(db, args, secrets).await
        }
        Command::Status(args) => status::run(&open_store(&cli.database, 4).await?, args).await,
        Command::Logs(args) => logs::run(&open_store(&cli.database, 1).await?, args).await,
        Command::Rotate(args) => {
            maintenance::rotate(&open_store(&cli.database, 1).await?, args).await
        }
        Command::ResetStuck(args) => {
            maintenance::reset_stuck(&open_store(&cli.database, 1).await?, args).await
        }
        Command::Task(command) => task::run(&cli.database, command).await,
        Command::Bench(command) => bench::run(&cli.database, command).await,
    }
}
