//! The driver's own row in stage.Driver (stage.DriverHeartbeat): announced at start,
//! refreshed every heartbeat interval so `stagehand status` and stage.DriverStatus can
//! tell a live driver from a dead one, marked stopping when a graceful shutdown begins,
//! and removed at a clean exit. A driver killed outright leaves its row to go stale.

use super::metrics::{Call, DriverMetrics};
use crate::store::{Backend, DriverPresence, DriverState};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long the last call (the row's removal) may take at exit: the driver must not hang
/// on a database that is gone.
const FAREWELL_LIMIT: Duration = Duration::from_secs(5);

/// Runs until `stop`; `stopping` is the graceful shutdown.
pub async fn run(
    db: Arc<dyn Backend>,
    presence: DriverPresence,
    every: Duration,
    stopping: CancellationToken,
    stop: CancellationToken,
    metrics: DriverMetrics,
) {
    let mut state = DriverState::Starting;
    let mut failing = false;
    loop {
        if stopping.is_cancelled() {
            state = DriverState::Stopping;
        }
        match db.driver_heartbeat(&presence, state).await {
            Ok(()) => {
                if failing {
                    tracing::info!("driver presence reaches the database again");
                    failing = false;
                }
                if state == DriverState::Starting {
                    state = DriverState::Running;
                }
            }
            Err(error) => {
                metrics.database_error(Call::Presence);
                if !failing {
                    tracing::warn!(%error, "driver presence (stage.DriverHeartbeat) failed; retrying");
                    failing = true;
                }
            }
        }
        let was_stopping = state == DriverState::Stopping;
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            // Say "stopping" at once, not a heartbeat later.
            () = stopping.cancelled(), if !was_stopping => {}
            () = stop.cancelled() => break,
        }
    }
    match tokio::time::timeout(
        FAREWELL_LIMIT,
        db.driver_heartbeat(&presence, DriverState::Stopped),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not remove this driver from stage.Driver; it goes stale")
        }
        Err(_) => {
            tracing::warn!("removing this driver from stage.Driver took too long; it goes stale")
        }
    }
}
