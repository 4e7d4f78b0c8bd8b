//! Command-line interface: argument parsing and one module per command group.

mod bench;
pub mod config;
mod dashboard;
mod drivers;
pub mod exit;
mod log_level;
pub mod logging;
mod logs;
mod maintenance;
mod migrate;
mod notify_args;
mod output;
mod register;
mod run;
pub mod service;
mod status;
mod steer;
mod task;
mod task_import;
mod task_status;
mod text_file;

use crate::store::{self, Backend, ConnectOptions, DatabaseUrl, DATABASE_URL_ENV};
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
    Register(register::RegisterArgs),
    /// Run the driver: claim processes and execute their commands until Ctrl-C.
    Run(Box<run::RunArgs>),
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
    /// Cancel a process: a Pending one at once, an InProgress one is stopped by its driver.
    Cancel {
        /// The ProcessID (stage.FileControl).
        process_id: i64,
    },
    /// Register a Failed or Cancelled process again, with the same parameters.
    Retry {
        /// The ProcessID (stage.FileControl or its history).
        process_id: i64,
    },
    /// Internal: supervises one command for `stagehand run`, which starts it (Linux).
    #[cfg(target_os = "linux")]
    #[command(name = "exec-shim", hide = true)]
    ExecShim(crate::exec::ShimArgs),
    /// Serve the web dashboard and /metrics (loopback by default; elsewhere only with auth).
    Dashboard(dashboard::DashboardArgs),
    /// Install, start, stop or remove the driver as a service (systemd, Windows services).
    #[command(subcommand)]
    Service(service::ServiceCommand),
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

/// `run` settings that contradict each other, as clap's usage error (exit code 2).
fn run_conflict(message: String) -> clap::Error {
    // Built, so the usage line reads `stagehand run [OPTIONS]`.
    let mut command = Cli::command();
    command.build();
    let kind = clap::error::ErrorKind::ArgumentConflict;
    match command.find_subcommand_mut("run") {
        Some(run) => run.error(kind, message),
        None => command.error(kind, message),
    }
}

/// `stagehand run` with its settings resolved (flags over the configuration file): the
/// one way into the driver, from a terminal or a service manager.
pub async fn run_driver(
    database: &Option<String>,
    args: &run::RunArgs,
    shutdown: crate::driver::Shutdown,
) -> Result<ExitCode> {
    args.check().map_err(run_conflict)?;
    let workers = args.workers() as u32;
    let url = database_url(database)?;
    let secrets = crate::driver::Secrets::with_extra(&url, args.notify.secrets());
    run::run(
        open_store(database, workers + 4).await?,
        args,
        secrets,
        &url,
        shutdown,
    )
    .await
}

pub async fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Migrate(args) => migrate::run(&cli.database, args, cli.json).await,
        Command::Register(args) => {
            register::run(&open_store(&cli.database, 1).await?, args, cli.json).await
        }
        Command::Run(args) => {
            let shutdown = crate::driver::Shutdown::default();
            tokio::spawn(run::watch_signals(shutdown.clone()));
            run_driver(&cli.database, args, shutdown).await
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
        Command::Cancel { process_id } => {
            steer::cancel(&open_store(&cli.database, 1).await?, *process_id, cli.json).await
        }
        Command::Retry { process_id } => {
            steer::retry(&open_store(&cli.database, 1).await?, *process_id, cli.json).await
        }
        // main() runs it before starting a runtime; here only for callers of this function.
        #[cfg(target_os = "linux")]
        Command::ExecShim(shim) => Ok(shim.run()),
        Command::Service(command) => service::run(command),
        Command::Dashboard(args) => {
            let url = database_url(&cli.database)?;
            let config = dashboard::config(args.listen, &args.auth, args.alert_mb, &url)?;
            dashboard::run(open_store(&cli.database, 8).await?, config).await
        }
    }
}
