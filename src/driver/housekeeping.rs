//! What every driver does on a schedule: reset stuck processes (so work of a crashed
//! driver runs again), fold the monitoring counters' deltas into their totals (so the
//! status views sum a few rows), and rotate old rows into the history tables.

use super::metrics::{Call, DriverMetrics};
use crate::store::{Backend, RotationReport, StoreResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct HousekeepingConfig {
    pub reset_every: Duration,
    /// For executors that never heartbeat: reset after this many minutes.
    pub reset_timeout_minutes: i32,
    /// None: never rotate from the driver.
    pub rotate_every: Option<Duration>,
    pub retention_months: i32,
}

pub async fn run(
    db: Arc<dyn Backend>,
    config: HousekeepingConfig,
    stop: CancellationToken,
    metrics: DriverMetrics,
) {
    let mut next_reset = Instant::now() + config.reset_every;
    // The first rotation waits a while after start-up, so restarts don't pile work on it.
    let mut next_rotation = config
        .rotate_every
        .map(|every| Instant::now() + every.min(Duration::from_secs(600)));
    loop {
        let wake = next_rotation.map_or(next_reset, |r| r.min(next_reset));
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = stop.cancelled() => return,
        }
        let now = Instant::now();
        if now >= next_reset {
            next_reset = now + config.reset_every;
            match db.reset_stuck(config.reset_timeout_minutes).await {
                Ok(reset) => {
                    metrics.leases_reset(reset.len());
                    for r in reset {
                        tracing::warn!(
                            process_id = r.process_id,
                            name = %r.process_name,
                            previous_worker = r.previous_worker.as_deref().unwrap_or("-"),
                            attempt = r.attempt,
                            status = %r.status,
                            "reset a stuck process"
                        );
                    }
                }
                Err(error) => {
                    metrics.database_error(Call::ResetStuck);
                    tracing::warn!(%error, "reset of stuck processes failed; will try again")
                }
            }
            roll_up_counters(&db, &stop, &metrics).await;
        }
        if let (Some(at), Some(every)) = (next_rotation, config.rotate_every) {
            if now >= at {
                next_rotation = Some(now + every);
                rotate(&db, config.retention_months, &stop, &metrics).await;
            }
        }
    }
}

/// Batches until done (each a short transaction), so a shutdown stops it between them.
/// The views are exact without it; it only keeps the deltas they sum few.
async fn roll_up_counters(
    db: &Arc<dyn Backend>,
    stop: &CancellationToken,
    metrics: &DriverMetrics,
) {
    while !stop.is_cancelled() {
        match db.roll_up_counters(ROLL_UP_BATCH).await {
            Ok(report) if report.done => return,
            Ok(_) => {}
            Err(error) => {
                metrics.database_error(Call::RollUp);
                tracing::warn!(%error, "roll-up of the monitoring counters failed; will try at the next sweep");
                return;
            }
        }
    }
}

/// The most stage.RollUpCounters takes per call (below lock escalation on SQL Server).
pub const ROLL_UP_BATCH: i32 = 4000;

/// How long rotation rests after each batch, as a multiple of the batch's own time: 1.0
/// rests as long as it worked, so a rotation of millions of rows takes at most half of
/// its session's time, and of the CPU the database gives it, from the claims beside it.
pub const ROTATION_REST: f64 = 1.0;

/// RotateHistory a batch (one transaction) per call until done or `stop`, resting
/// `rest` times each batch's time after it; `each` sees every batch's report and time.
pub async fn rotate_in_batches(
    db: &Arc<dyn Backend>,
    retention_months: i32,
    batch_size: i32,
    rest: f64,
    stop: &CancellationToken,
    mut each: impl FnMut(&RotationReport, Duration),
) -> StoreResult<()> {
    while !stop.is_cancelled() {
        let started = Instant::now();
        let report = db.rotate(retention_months, batch_size, Some(1)).await?;
        let took = started.elapsed();
        each(&report, took);
        if report.done {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(took.mul_f64(rest)) => {}
            () = stop.cancelled() => {}
        }
    }
    Ok(())
}

async fn rotate(
    db: &Arc<dyn Backend>,
    retention_months: i32,
    stop: &CancellationToken,
    metrics: &DriverMetrics,
) {
    let (mut processes, mut logs) = (0, 0);
    let rotated = rotate_in_batches(
        db,
        retention_months,
        1000,
        ROTATION_REST,
        stop,
        |report, _| {
            processes += report.processes_moved;
            logs += report.logs_moved;
        },
    )
    .await;
    if let Err(error) = rotated {
        metrics.database_error(Call::Rotate);
        tracing::warn!(%error, "history rotation failed; will try at the next rotation");
        return;
    }
    if processes + logs > 0 {
        tracing::info!(
            processes,
            logs,
            "rotated finished processes and logs into history"
        );
    }
    // Notifications have no history table: old finished ones are deleted, same retention.
    let mut notifications = 0;
    while !stop.is_cancelled() {
        match db.purge_notifications(retention_months, 1000).await {
            Ok(report) => {
                notifications += report.deleted;
                if report.done {
                    break;
                }
            }
            Err(error) => {
                metrics.database_error(Call::Rotate);
                tracing::warn!(%error, "purge of old notifications failed; will try at the next rotation");
                return;
            }
        }
    }
    if notifications > 0 {
        tracing::info!(
            notifications,
            "deleted old delivered and given-up notifications"
        );
    }
}
