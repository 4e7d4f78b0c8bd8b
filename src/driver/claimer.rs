//! The claim loop: asks stage.ClaimProcesses for at most as many processes as there are
//! free slots, starts each in its slot, and waits for work (PostgreSQL: NOTIFY; SQL
//! Server: an adaptive poll) or for a slot to free up.

use super::backoff::Backoff;
use super::command::spec_for;
use super::held::{Held, StopReason};
use super::metrics::{Call, DriverMetrics};
use super::reporter::Finished;
use super::secrets::Secrets;
use super::slots::Slots;
use crate::clock::StopWindows;
use crate::exec::{self, Captured, OutcomeKind, RunOutcome};
use crate::store::{Backend, ClaimRequest, ClaimedProcess};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub struct Claimer {
    pub db: Arc<dyn Backend>,
    pub worker_prefix: String,
    pub slots: Arc<Slots>,
    pub held: Arc<Held>,
    pub finished_tx: mpsc::UnboundedSender<Finished>,
    pub lease_seconds: i32,
    pub poll: Backoff,
    pub output_dir: Option<PathBuf>,
    pub secrets: Arc<Secrets>,
    /// From the clock: when runs of `stopAtEnd` windows must be stopped.
    pub windows: watch::Receiver<StopWindows>,
    pub metrics: DriverMetrics,
}

impl Claimer {
    /// Claims and starts work until `stop` fires.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut db_backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        while !stop.is_cancelled() {
            let free = self.slots.free_labels();
            if free.is_empty() {
                tokio::select! {
                    () = self.slots.wait_freed() => {}
                    () = stop.cancelled() => {}
                }
                continue;
            }
            let request = ClaimRequest {
                worker_name: &self.worker_prefix,
                max_count: free.len() as i32,
                lease_seconds: self.lease_seconds,
                slots: Some(&free),
            };
            let sent = Instant::now();
            match self.db.claim(&request).await {
                Ok(claimed) => {
                    db_backoff.reset();
                    let found = claimed.len();
                    self.metrics.claimed(found);
                    tracing::trace!(requested = free.len(), found, "claimed");
                    for process in claimed {
                        self.start(process, sent);
                    }
                    if found > 0 {
                        self.poll.reset();
                        continue;
                    }
                    let wait = self.poll.next_wait();
                    tokio::select! {
                        result = self.db.wait_for_work(wait) => {
                            if let Err(error) = result {
                                tracing::debug!(%error, "waiting for notifications failed; polling");
                                tokio::time::sleep(wait).await;
                            }
                        }
                        () = stop.cancelled() => {}
                    }
                }
                Err(error) => {
                    self.metrics.database_error(Call::Claim);
                    let wait = db_backoff.next_wait();
                    tracing::warn!(%error, retry_in = ?wait, "cannot claim work: waiting for the database");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.cancelled() => {}
                    }
                }
            }
        }
    }

    /// Runs one claimed process, leased by a claim sent at `leased_at`, in its slot; the
    /// outcome goes to the reporter.
    fn start(&self, process: ClaimedProcess, leased_at: Instant) {
        let slot = process
            .worker_assigned
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if !self.slots.take(&slot) {
            // Only possible if the database disagreed with the slots we offered.
            tracing::error!(worker = %process.worker_assigned, "claimed into a slot that is not free; running it anyway");
        }
        let token = self.held.insert(process.process_id, leased_at);
        let (slots, held, finished_tx) = (
            self.slots.clone(),
            self.held.clone(),
            self.finished_tx.clone(),
        );
        let spec = spec_for(&process, self.output_dir.as_deref(), &self.secrets);
        let windows = self.windows.clone();
        tokio::spawn(async move {
            // Taken just before the command starts: a claim that waited, or a slot that
            // started later, must not count in the run's duration.
            let mut started_at = None;
            let outcome = match spec {
                Ok(spec) => {
                    started_at = Some(Utc::now());
                    let run = exec::run(&spec, token);
                    tokio::pin!(run);
                    let window_end =
                        window_end(windows, &process.process_name, process.scheduled_for);
                    tokio::select! {
                        outcome = &mut run => outcome,
                        () = window_end => {
                            held.stop(process.process_id, StopReason::WindowEnded);
                            run.await
                        }
                    }
                }
                Err(message) => RunOutcome {
                    kind: OutcomeKind::Failed,
                    message,
                    exit_code: None,
                    stdout: Captured::default(),
                    stderr: Captured::default(),
                    duration: Duration::ZERO,
                },
            };
            let stopped = held.reason(process.process_id);
            slots.release(&slot);
            // The reporter outlives every run task; a send error means we are exiting at once.
            let _ = finished_tx.send(Finished {
                process,
                outcome,
                stopped,
                started_at,
            });
        });
    }
}

/// Returns when the `stopAtEnd` window of the run of `task` scheduled for `scheduled`
/// ends; never for other runs, nor for a run started after its window ended (a late
/// run caught up, a queued one): it was not going at the end. Follows the clock's
/// reloads, so a run claimed before the clock's first load is still stopped.
async fn window_end(
    mut windows: watch::Receiver<StopWindows>,
    task: &str,
    scheduled: Option<DateTime<Utc>>,
) {
    let Some(scheduled) = scheduled else {
        return std::future::pending().await;
    };
    let started = Utc::now();
    loop {
        let deadline = windows
            .borrow_and_update()
            .get(task)
            .and_then(|schedule| schedule.stop_deadline(scheduled))
            .filter(|at| *at > started);
        let wait = deadline.map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
        tokio::select! {
            () = async {
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            } => return,
            changed = windows.changed() => {
                if changed.is_err() {
                    // No clock (or it stopped): keep the deadline already known.
                    match wait {
                        Some(wait) => return tokio::time::sleep(wait).await,
                        None => return std::future::pending().await,
                    }
                }
            }
        }
    }
}
