//! `stagehand run`: the driver in the foreground until a signal.

use crate::clock::ClockConfig;
use crate::driver::{
    self, Backoff, DriverConfig, DriverMetrics, HousekeepingConfig, Secrets, Shutdown,
};
use crate::store::{Backend, DatabaseUrl};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The most workers one driver runs: beyond this, run more drivers.
const MAX_WORKERS: u16 = 1000;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Read the settings from this TOML file (see README, "Install as a service"); flags
    /// given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Commands run at once, 1 to 1000 (default: cores - 1, at least 1).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_WORKERS)))]
    pub workers: Option<u16>,
    /// This driver's name in WorkerAssigned (`host/NAME/slot`; default: the process id).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds a graceful shutdown waits for running commands before releasing them.
    #[arg(long, default_value_t = 30)]
    pub grace_seconds: u64,
    /// Lease length in seconds (at least two heartbeats); heartbeats renew it every --heartbeat-ms.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub lease_seconds: u64,
    /// Milliseconds between heartbeats that renew the leases of running commands (at least 10).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub heartbeat_ms: u64,
    /// Shortest wait between claims when idle (SQL Server's poll; PostgreSQL is woken by NOTIFY).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub poll_min_ms: u64,
    /// Longest wait between claims when idle (at least --poll-min-ms).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub poll_max_ms: u64,
    /// Write each process's whole output to DIR/<id>-<attempt>.log.
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// How often stuck processes are reset, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub reset_every_seconds: u64,
    /// Processes of executors that never heartbeat are reset after this many minutes.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(i32).range(1..))]
    pub reset_timeout_minutes: i32,
    /// How often history is rotated, in hours (0: never from the driver).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(0..=87_600))]
    pub rotate_every_hours: u64,
    /// Finished processes older than this many months move to the history tables.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(i32).range(0..))]
    pub retention_months: i32,
    /// Run only the workers, not the trigger clock.
    #[arg(long)]
    pub no_clock: bool,
    /// Also serve the web dashboard and /metrics on this address (as `stagehand dashboard`).
    #[arg(long, value_name = "ADDR")]
    pub dashboard: Option<std::net::SocketAddr>,
    #[command(flatten)]
    pub dashboard_auth: crate::web::auth::AuthArgs,
    #[command(flatten)]
    pub notify: super::notify_args::NotifyArgs,
}

impl RunArgs {
    /// The workers to run: --workers, or one per core but one.
    pub fn workers(&self) -> usize {
        self.workers
            .map(usize::from)
            .unwrap_or_else(driver::default_workers)
            .clamp(1, usize::from(MAX_WORKERS))
    }

    /// What clap's per-flag ranges cannot see: flags that contradict each other.
    pub fn check(&self) -> Result<(), String> {
        if u128::from(self.lease_seconds) * 1000 < 2 * u128::from(self.heartbeat_ms) {
            return Err(format!(
                "--lease-seconds {} is shorter than two heartbeats (--heartbeat-ms {}): \
                 one late heartbeat would lose the lease of a running command",
                self.lease_seconds, self.heartbeat_ms
            ));
        }
        if self.poll_min_ms > self.poll_max_ms {
            return Err(format!(
                "--poll-min-ms {} is longer than --poll-max-ms {}",
                self.poll_min_ms, self.poll_max_ms
            ));
        }
        Ok(())
    }
}

/// Runs the driver until `shutdown` (from signals, or a service manager) says stop.
pub async fn run(
    db: Arc<dyn Backend>,
    args: &RunArgs,
    secrets: Secrets,
    url: &DatabaseUrl,
    shutdown: Shutdown,
) -> Result<ExitCode> {
    let workers = args.workers();
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
        lease: Duration::from_secs(args.lease_seconds),
        heartbeat_every: Duration::from_millis(args.heartbeat_ms),
        poll_min: Duration::from_millis(args.poll_min_ms),
        poll_max: Duration::from_millis(args.poll_max_ms),
        grace: Duration::from_secs(args.grace_seconds),
        output_dir: args.log_dir.clone(),
        housekeeping: HousekeepingConfig {
            reset_every: Duration::from_secs(args.reset_every_seconds),
            reset_timeout_minutes: args.reset_timeout_minutes,
            rotate_every: (args.rotate_every_hours > 0)
                .then(|| Duration::from_secs(args.rotate_every_hours * 3600)),
            retention_months: args.retention_months,
        },
        print_summaries: true,
        clock: (!args.no_clock).then(ClockConfig::default),
        secrets: Arc::new(secrets),
        notifier: args
            .notify
            .config(Duration::from_secs(args.lease_seconds))?,
        metrics: DriverMetrics::default(),
    };
    let config_metrics = config.metrics.clone();
    if let Some(listen) = args.dashboard {
        let mut config = super::dashboard::config(
            listen,
            &args.dashboard_auth,
            crate::web::DEFAULT_ALERT_MB,
            url,
        )?;
        config.driver_metrics = Some(config_metrics.clone());
        let dashboard = crate::web::Dashboard::bind(db.clone(), config).await?;
        let stop = shutdown.graceful.clone().cancelled_owned();
        tokio::spawn(async move {
            if let Err(error) = dashboard.serve(stop).await {
                tracing::error!("{error:#}");
            }
        });
    }
    if !first_connection(&*db, &shutdown).await? {
        return Ok(ExitCode::SUCCESS);
    }
    driver::run(db, config, shutdown).await;
    Ok(ExitCode::SUCCESS)
}

/// Waits for the database before starting: what can heal (refused, timed out, a
/// restart in progress) is retried with backoff, saying what it waits for; what cannot
/// (a wrong password, no such database, no schema) ends the driver with the reason, so
/// a service manager shows it instead of a driver that loops. False when a signal
/// came first.
async fn first_connection(db: &dyn Backend, shutdown: &Shutdown) -> Result<bool> {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        // Reads a stage object, so a database without the schema is found here too.
        let error = match db.schedule_version().await {
            Ok(_) => return Ok(true),
            Err(error) if error.heals() => error,
            Err(error) => return Err(error).context("the driver cannot start"),
        };
        let wait = backoff.next_wait();
        tracing::warn!(
            "waiting for the database, retrying in {:.1} s: {error}",
            wait.as_secs_f64()
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.graceful.cancelled() => return Ok(false),
        }
    }
}

/// First signal: graceful; second: immediate.
pub async fn watch_signals(shutdown: Shutdown) {
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
