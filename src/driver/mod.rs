//! `stagehand run`: the driver. N workers claim processes from the database and run
//! their commands; heartbeats keep their leases; outcomes are recorded in batches;
//! housekeeping resets stuck work and rotates history; signals shut it down gracefully
//! (first) or at once (second).

mod backoff;
mod claimer;
mod command;
mod email;
mod fence;
mod heartbeat;
mod held;
mod housekeeping;
mod metrics;
mod notifier;
mod presence;
mod reporter;
mod secrets;
mod slots;
mod webhook;

pub use backoff::Backoff;
pub use email::{SmtpConfig, SmtpTls};
pub use housekeeping::{rotate_in_batches, HousekeepingConfig, ROLL_UP_BATCH, ROTATION_REST};
pub use metrics::{Call, DriverMetrics};
pub use notifier::NotifierConfig;
pub use secrets::Secrets;
pub use webhook::WebhookConfig;

use crate::clock::{self, ClockConfig};
use crate::store::{Backend, DriverPresence};
use held::{Held, StopReason};
use slots::Slots;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// How many commands run at once.
    pub workers: usize,
    /// `host/driver`; each process runs as `host/driver/slot`.
    pub worker_prefix: String,
    pub lease: Duration,
    pub heartbeat_every: Duration,
    /// Bounds of the wait between claims when no work was found.
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// How long a graceful shutdown waits for running commands.
    pub grace: Duration,
    /// When set, each process's whole output is written to `<dir>/<id>-<attempt>.log`.
    pub output_dir: Option<PathBuf>,
    pub housekeeping: HousekeepingConfig,
    /// Print one line per finished process on standard output.
    pub print_summaries: bool,
    /// The trigger clock; None runs workers only.
    pub clock: Option<ClockConfig>,
    /// Kept out of every command's environment and masked in its stored output.
    pub secrets: Arc<Secrets>,
    /// Delivery of stage.Notification rows; None: left to other deliverers.
    pub notifier: Option<NotifierConfig>,
    /// Counted by the driver's tasks; `run --dashboard` serves them on /metrics.
    pub metrics: DriverMetrics,
}

/// The two ways to stop a driver: the first signal fires `graceful`, the second `immediate`.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    pub graceful: CancellationToken,
    pub immediate: CancellationToken,
}

/// The number of workers when none is given: one core is left to the driver itself.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// Runs until `shutdown.graceful` and every running command is finished and recorded
/// (or until `shutdown.immediate`).
pub async fn run(db: Arc<dyn Backend>, config: DriverConfig, shutdown: Shutdown) {
    let held = Arc::new(Held::default());
    let slots = Arc::new(Slots::new(config.workers.max(1)));
    let (finished_tx, finished_rx) = mpsc::unbounded_channel();
    let heartbeats_stop = CancellationToken::new();

    // Start listening before the first claim, so no registration between the two is missed.
    if let Err(error) = db.wait_for_work(Duration::ZERO).await {
        tracing::warn!(%error, "cannot listen for new work yet; polling until the database answers");
    }
    let heartbeat = tokio::spawn(heartbeat::run(
        db.clone(),
        config.worker_prefix.clone(),
        held.clone(),
        config.heartbeat_every,
        config.lease.as_secs().max(1) as i32,
        heartbeats_stop.clone(),
        config.metrics.clone(),
    ));
    let fence = tokio::spawn(fence::run(
        held.clone(),
        config.lease,
        config.heartbeat_every,
        heartbeats_stop.clone(),
    ));
    let reporter = tokio::spawn(reporter::run(
        reporter::Reporter {
            db: db.clone(),
            worker_prefix: config.worker_prefix.clone(),
            held: held.clone(),
            abandon: shutdown.immediate.clone(),
            print_summaries: config.print_summaries,
            secrets: config.secrets.clone(),
            metrics: config.metrics.clone(),
        },
        finished_rx,
    ));
    let housekeeping = tokio::spawn(housekeeping::run(
        db.clone(),
        config.housekeeping.clone(),
        shutdown.graceful.clone(),
        config.metrics.clone(),
    ));
    // Filled by the clock; a driver without one stops no run at a window's end.
    let (windows_tx, windows) = tokio::sync::watch::channel(clock::StopWindows::default());
    let clock = config.clock.clone().map(|c| {
        tokio::spawn(clock::run(
            db.clone(),
            c,
            shutdown.graceful.clone(),
            windows_tx,
            config.metrics.clone(),
        ))
    });
    let notifier = config.notifier.clone().map(|n| {
        tokio::spawn(notifier::run(
            db.clone(),
            config.worker_prefix.clone(),
            n,
            config.secrets.clone(),
            shutdown.graceful.clone(),
        ))
    });
    let presence_stop = CancellationToken::new();
    let presence = tokio::spawn(presence::run(
        db.clone(),
        presence_of(&config),
        config.heartbeat_every,
        shutdown.graceful.clone(),
        presence_stop.clone(),
        config.metrics.clone(),
    ));
    tracing::info!(workers = config.workers, driver = %config.worker_prefix, clock = clock.is_some(), "driver started");

    claimer::Claimer {
        db: db.clone(),
        worker_prefix: config.worker_prefix.clone(),
        slots: slots.clone(),
        held: held.clone(),
        finished_tx,
        lease_seconds: config.lease.as_secs().max(1) as i32,
        poll: Backoff::new(config.poll_min, config.poll_max),
        output_dir: config.output_dir.clone(),
        secrets: config.secrets.clone(),
        windows,
        metrics: config.metrics.clone(),
    }
    .run(shutdown.graceful.clone())
    .await;

    drain(&slots, &held, config.grace, &shutdown).await;
    if shutdown.immediate.is_cancelled() {
        tracing::warn!(
            "stopped at once; unfinished processes return to the queue when their leases expire"
        );
    }
    // Every sender is gone once the run tasks ended: the reporter records what is left.
    let _ = reporter.await;
    heartbeats_stop.cancel();
    let _ = tokio::join!(heartbeat, fence, housekeeping);
    if let Some(clock) = clock {
        let _ = clock.await;
    }
    if let Some(notifier) = notifier {
        let _ = notifier.await;
    }
    presence_stop.cancel();
    let _ = presence.await;
    tracing::info!("driver stopped");
}

/// This driver as stage.Driver shows it.
fn presence_of(config: &DriverConfig) -> DriverPresence {
    DriverPresence {
        driver_name: config.worker_prefix.clone(),
        host_name: Some(gethostname::gethostname().to_string_lossy().into_owned()),
        process_id: i32::try_from(std::process::id()).ok(),
        version: Some(env!("CARGO_PKG_VERSION").to_string()),
        workers: i32::try_from(config.workers).unwrap_or(i32::MAX),
        clock_enabled: config.clock.is_some(),
        lease_seconds: config.lease.as_secs().max(1) as i32,
    }
}

/// After the claim loop stopped: wait up to `grace` for running commands, then stop
/// what is left so it is released back to the queue; a second signal kills at once.
async fn drain(slots: &Slots, held: &Held, grace: Duration, shutdown: &Shutdown) {
    if slots.all_free() {
        return;
    }
    tracing::info!(grace = ?grace, "waiting for running commands to finish (a second signal stops at once)");
    let deadline = tokio::time::Instant::now() + grace;
    let mut reason = StopReason::Shutdown;
    while !slots.all_free() {
        tokio::select! {
            () = slots.wait_freed() => continue,
            () = tokio::time::sleep_until(deadline) => {}
            () = shutdown.immediate.cancelled() => reason = StopReason::Abandon,
        }
        held.stop_all(reason);
        // Killing takes at most the exec kill grace; keep waiting for the tasks to end.
        while !slots.all_free() {
            tokio::select! {
                () = slots.wait_freed() => {}
                () = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }
}
