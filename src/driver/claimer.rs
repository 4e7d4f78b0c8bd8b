//! The claim loop: asks stage.ClaimProcesses for at most as many processes as there are
//! free slots, starts each in its slot, and waits for work (PostgreSQL: NOTIFY; SQL
//! Server: an adaptive poll) or for a slot to free up.

use super::backoff::Backoff;
use super::command::spec_for;
use super::held::Held;
use super::reporter::Finished;
use super::secrets::Secrets;
use super::slots::Slots;
use crate::exec::{self, Captured, OutcomeKind, RunOutcome};
use crate::store::{Backend, ClaimRequest, ClaimedProcess};
use chrono::Utc;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
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
            match self.db.claim(&request).await {
                Ok(claimed) => {
                    db_backoff.reset();
                    let found = claimed.len();
                    tracing::trace!(requested = free.len(), found, "claimed");
                    for process in claimed {
                        self.start(process);
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

    /// Runs one claimed process in its slot; the outcome goes to the reporter.
    fn start(&self, process: ClaimedProcess) {
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
        let token = self.held.insert(process.process_id);
        let (slots, held, finished_tx) = (
            self.slots.clone(),
            self.held.clone(),
            self.finished_tx.clone(),
        );
        let spec = spec_for(&process, self.output_dir.as_deref(), &self.secrets);
        tokio::spawn(async move {
            // Taken just before the command starts: a claim that waited, or a slot that
            // started later, must not count in the run's duration.
            let mut started_at = None;
            let outcome = match spec {
                Ok(spec) => {
                    started_at = Some(Utc::now());
                    exec::run(&spec, token).await
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
