//! `stagehand run`: the driver in the foreground until a signal.

use crate::clock::ClockConfig;
use crate::driver::{self, DriverConfig, HousekeepingConfig, Shutdown};
use crate::store::Backend;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Commands run at once (default: cores - 1, at least 1).
    #[arg(long)]
    pub workers: Option<usize>,
    /// This driver's name in WorkerAssigned (`host/NAME/slot`; default: the process id).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds a graceful shutdown waits for running commands before releasing them.
    #[arg(long, default_value_t = 30)]
    pub grace_seconds: u64,
    /// Lease length in seconds; heartbeats renew it every --heartbeat-ms.
    #[arg(long, default_value_t = 30)]
    pub lease_seconds: u64,
    #[arg(long, default_value_t = 1000)]
    pub heartbeat_ms: u64,
    /// Shortest wait between claims when idle (SQL Server's poll; PostgreSQL is woken by NOTIFY).
    #[arg(long, default_value_t = 25)]
    pub poll_min_ms: u64,
    /// Longest wait between claims when idle.
    #[arg(long, default_value_t = 2000)]
    pub poll_max_ms: u64,
    /// Write each process's whole output to DIR/<id>-<attempt>.log.
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// How often stuck processes are reset.
    #[arg(long, default_value_t = 60)]
    pub reset_every_seconds: u64,
    /// Processes of executors that never heartbeat are reset after this many minutes.
    #[arg(long, default_value_t = 60)]
    pub reset_timeout_minutes: i32,
    /// How often history is rotated (0: never from the driver).
    #[arg(long, default_value_t = 24)]
    pub rotate_every_hours: u64,
    #[arg(long, default_value_t = 6)]
    pub retention_months: i32,
    /// Run only the workers, not the trigger clock.
    #[arg(long)]
    pub no_clock: bool,
}

pub async fn run(db: Arc<dyn Backend>, args: &RunArgs) -> Result<ExitCode> {
    let workers = args.workers.unwrap_or_else(driver::default_workers).max(1);
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| std::process::id().to_string());
    if let Some(dir) = &args.log_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--log-dir {}: {e}", dir.display()))?;
    }
    let config = DriverConfig {
        workers,
        worker_prefix: format!("{host}/{name}"),
        lease: Duration::from_secs(args.lease_seconds.max(1)),
        heartbeat_every: Duration::from_millis(args.heartbeat_ms.max(10)),
        poll_min: Duration::from_millis(args.poll_min_ms.max(1)),
        poll_max: Duration::from_millis(args.poll_max_ms.max(1)),
        grace: Duration::from_secs(args.grace_seconds),
        output_dir: args.log_dir.clone(),
        housekeeping: HousekeepingConfig {
            reset_every: Duration::from_secs(args.reset_every_seconds.max(1)),
            reset_timeout_minutes: args.reset_timeout_minutes,
            rotate_every: (args.rotate_every_hours > 0)
                .then(|| Duration::from_secs(args.rotate_every_hours * 3600)),
            retention_months: args.retention_months,
        },
        print_summaries: true,
        clock: (!args.no_clock).then(ClockConfig::default),
    };
    let shutdown = Shutdown::default();
    tokio::spawn(watch_signals(shutdown.clone()));
    driver::run(db, config, shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// First signal: graceful; second: immediate.
async fn watch_signals(shutdown: Shutdown) {
    if next_signal().await.is_err() {
        return;
    }
    tracing::info!("shutting down: no new work is claimed; running commands may finish");
    shutdown.graceful.cancel();
    if next_signal().await.is_ok() {
        tracing::warn!("second signal: stopping at once");
        shutdown.immediate.cancel();
    }
}

#[cfg(unix)]
async fn next_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}

/// Every console event is a request to stop: Ctrl-C, Ctrl-Break, the console
/// window closing, logoff and shutdown (the last two reach services only). Windows
/// ends the process a few seconds after a close, logoff or shutdown event, whatever
/// the grace period.
#[cfg(windows)]
async fn next_signal() -> std::io::Result<()> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_logoff, ctrl_shutdown};
    let mut interrupt = ctrl_c()?;
    let mut brk = ctrl_break()?;
    let mut close = ctrl_close()?;
    let mut logoff = ctrl_logoff()?;
    let mut shutdown = ctrl_shutdown()?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = brk.recv() => {}
        _ = close.recv() => {}
        _ = logoff.recv() => {}
        _ = shutdown.recv() => {}
    }
    Ok(())
}
