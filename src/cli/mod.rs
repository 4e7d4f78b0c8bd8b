//! Command-line interface: argument parsing and one module per command group.

mod bench;
pub mod exit;
mod logs;
mod maintenance;
mod output;
mod register;
mod run;
mod status;
mod task;

use crate::store::{self, Backend, ConnectOptions, DatabaseUrl};
use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
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
        env = "STAGEHAND_DATABASE_URL",
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
    /// Deploy or upgrade the schema (idempotent).
    Migrate,
    /// Register a process (stage.RegisterProcess).
    Register(register::RegisterArgs),
    /// Run the driver: claim processes and execute their commands until Ctrl-C.
    Run(run::RunArgs),
    /// Counts per status, what runs, workers, overdue and failed processes, table sizes
    /// (--check: a monitoring check, exit 4 on problems).
    Status(status::StatusArgs),
    /// Read (or follow, or export) stage.ProcessLog, or its history.
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

/// Opens the store named by `--database` / `STAGEHAND_DATABASE_URL`.
pub(crate) async fn open_store(
    cli_database: &Option<String>,
    max_connections: u32,
) -> Result<Arc<dyn Backend>> {
    let raw = cli_database
        .as_deref()
        .context("no database: pass --database URL or set STAGEHAND_DATABASE_URL")?;
    let url = DatabaseUrl::parse(raw).context("--database")?;
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
        Command::Migrate => {
            let db = open_store(&cli.database, 2).await?;
            let applied = db.migrate().await.context("migrate")?;
            if cli.json {
                output::print_json(&serde_json::json!({ "applied": applied }))?;
            } else if applied.is_empty() {
                println!("schema is up to date");
            } else {
                for name in &applied {
                    println!("applied {name}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Register(args) => {
            register::run(&open_store(&cli.database, 1).await?, args, cli.json).await
        }
        Command::Run(args) => {
            args.check().map_err(|message| {
                // Built, so the usage line reads `stagehand run [OPTIONS]`.
                let mut command = Cli::command();
                command.build();
                let kind = clap::error::ErrorKind::ArgumentConflict;
                match command.find_subcommand_mut("run") {
                    Some(run) => run.error(kind, message),
                    None => command.error(kind, message),
                }
            })?;
            let workers = args.workers() as u32;
            run::run(open_store(&cli.database, workers + 4).await?, args).await
        }
        Command::Status(args) => {
            status::run(&open_store(&cli.database, 4).await?, args, cli.json).await
        }
        Command::Logs(args) => {
            logs::run(&open_store(&cli.database, 1).await?, args, cli.json).await
        }
        Command::Rotate(args) => {
            maintenance::rotate(&open_store(&cli.database, 1).await?, args, cli.json).await
        }
        Command::ResetStuck(args) => {
            maintenance::reset_stuck(&open_store(&cli.database, 1).await?, args, cli.json).await
        }
        Command::Task(command) => task::run(&cli.database, command, cli.json).await,
        Command::Bench(command) => bench::run(&cli.database, command).await,
    }
}
