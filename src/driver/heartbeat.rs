//! Renews the leases of every held process in one stage.Heartbeat call per interval,
//! and stops the commands the database says to stop (killPrevious, or a lease lost).

use super::held::{Held, StopReason};
use super::metrics::DriverMetrics;
use crate::store::Backend;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub async fn run(
    db: Arc<dyn Backend>,
    worker_prefix: String,
    held: Arc<Held>,
    every: Duration,
    lease_seconds: i32,
    stop: CancellationToken,
    metrics: DriverMetrics,
) {
    let mut failing = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let ids = held.ids();
        if ids.is_empty() {
            continue;
        }
        let sent = Instant::now();
        let result = db.heartbeat(&worker_prefix, &ids, lease_seconds).await;
        metrics.heartbeat(result.is_ok());
        match result {
            Ok(statuses) => {
                if failing {
                    tracing::info!("heartbeats reach the database again");
                    failing = false;
                }
                let renewed: Vec<i64> = statuses
                    .iter()
                    .filter(|s| s.held)
                    .map(|s| s.process_id)
                    .collect();
                held.renewed(&renewed, sent);
                for status in statuses {
                    if !status.held {
                        held.stop(status.process_id, StopReason::LeaseLost);
                    } else if status.cancel_requested {
                        tracing::info!(
                            process_id = status.process_id,
                            "cancellation requested (killPrevious or stage.CancelProcess)"
                        );
                        held.stop(status.process_id, StopReason::CancelRequested);
                    }
                }
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, held = ids.len(), "heartbeat failed: commands keep running while their leases last; waiting for the database");
                    failing = true;
                }
            }
        }
    }
}
