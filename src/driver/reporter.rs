//! Records outcomes: batches finished commands into one stage.CompleteProcesses call
//! (or stage.ReleaseProcesses at shutdown), retrying with backoff while the database is
//! unreachable, so an outcome is never lost to an outage.

use super::backoff::Backoff;
use super::held::{Held, StopReason};
use super::metrics::{Call, DriverMetrics, Outcome};
use super::secrets::Secrets;
use crate::exec::{OutcomeKind, RunOutcome};
use crate::store::{Backend, ClaimedProcess, Completion, FinalStatus, ProcessStatus, StoreResult};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Most outcomes sent in one call.
const MAX_BATCH: usize = 500;

/// A command that ended, with why the driver stopped it (if it did).
pub struct Finished {
    pub process: ClaimedProcess,
    pub outcome: RunOutcome,
    pub stopped: Option<StopReason>,
    /// When the command was started (None: it never started).
    pub started_at: Option<DateTime<Utc>>,
}

/// What to tell the database about one finished command.
enum Report {
    Complete(Completion),
    /// Hand it back to the queue, with this log message.
    Release(&'static str),
    /// The lease is gone (or we are leaving at once): nothing to record from here.
    Nothing(&'static str),
}

/// The outcome to record; every text a command produced is masked first.
fn report_for(finished: &Finished, secrets: &Secrets) -> Report {
    let (status, message) = match (finished.outcome.kind, finished.stopped) {
        (OutcomeKind::Succeeded, _) => (FinalStatus::Completed, finished.outcome.message.clone()),
        (OutcomeKind::Failed | OutcomeKind::TimedOut, _) => {
            (FinalStatus::Failed, finished.outcome.message.clone())
        }
        (OutcomeKind::Cancelled, Some(StopReason::CancelRequested)) => (
            FinalStatus::Cancelled,
            "cancelled on request (killPrevious or stage.CancelProcess; the request has its own log row)"
                .to_string(),
        ),
        (OutcomeKind::Cancelled, Some(StopReason::WindowEnded)) => (
            FinalStatus::Cancelled,
            "stopped: the repetition window of its occurrence ended (stopAtEnd)".to_string(),
        ),
        (OutcomeKind::Cancelled, Some(StopReason::Shutdown)) => {
            return Report::Release("Released by driver shutdown")
        }
        (OutcomeKind::Cancelled, Some(StopReason::LeaseUnrenewed)) => {
            return Report::Release(
                "Released: the driver could not renew its lease (database unreachable) \
                 and stopped the command before the lease ended",
            )
        }
        (OutcomeKind::Cancelled, Some(StopReason::LeaseLost)) => {
            return Report::Nothing(
                "stopped: its lease expired and it was handed to another worker",
            )
        }
        (OutcomeKind::Cancelled, Some(StopReason::Abandon) | None) => {
            return Report::Nothing(
                "killed by an immediate shutdown; its lease will expire and it will run again",
            )
        }
    };
    let p = &finished.process;
    let non_empty = |s: &str| (!s.is_empty()).then(|| secrets.mask(s));
    Report::Complete(Completion {
        process_id: p.process_id,
        worker_name: p.worker_assigned.clone(),
        attempt: Some(p.attempt),
        status,
        exit_code: finished.outcome.exit_code,
        message: Some(secrets.mask(&message)),
        stdout: non_empty(&finished.outcome.stdout.text),
        stderr: non_empty(&finished.outcome.stderr.text),
        started_at: finished.started_at,
    })
}

/// Retries `call` with backoff until it succeeds, or gives up when `abandon` fires;
/// each failure counts as a database error of `which`.
pub async fn with_retry<T, F, Fut>(
    what: &str,
    abandon: &CancellationToken,
    (metrics, which): (&DriverMetrics, Call),
    mut call: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
    loop {
        match call().await {
            Ok(value) => return Some(value),
            Err(error) => {
                metrics.database_error(which);
                let wait = backoff.next_wait();
                tracing::warn!(%error, retry_in = ?wait, "{what}: waiting for the database");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = abandon.cancelled() => return None,
                }
            }
        }
    }
}

/// What the reporter needs besides the finished commands.
pub struct Reporter {
    pub db: Arc<dyn Backend>,
    pub worker_prefix: String,
    pub held: Arc<Held>,
    /// Gives up on recording (an immediate shutdown).
    pub abandon: CancellationToken,
    pub print_summaries: bool,
    pub secrets: Arc<Secrets>,
    pub metrics: DriverMetrics,
}

/// Runs until every sender is gone and everything received is recorded.
pub async fn run(reporter: Reporter, mut finished_rx: mpsc::UnboundedReceiver<Finished>) {
    let Reporter {
        db,
        worker_prefix,
        held,
        abandon,
        print_summaries,
        secrets,
        metrics,
    } = reporter;
    while let Some(first) = finished_rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match finished_rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut completions = Vec::new();
        let mut releases = Vec::new();
        for finished in &batch {
            match report_for(finished, &secrets) {
                Report::Complete(c) => completions.push(c),
                Report::Release(message) => releases.push((message, finished.process.process_id)),
                Report::Nothing(why) => {
                    metrics.finished(Outcome::Abandoned);
                    tracing::warn!(
                        process_id = finished.process.process_id,
                        name = %finished.process.process_name,
                        "{why}"
                    )
                }
            }
        }
        if !completions.is_empty() {
            let results = with_retry(
                "recording outcomes",
                &abandon,
                (&metrics, Call::Complete),
                || db.complete(&completions),
            )
            .await;
            for result in results.iter().flatten() {
                if !result.accepted {
                    metrics.finished(Outcome::Refused);
                    tracing::warn!(
                        process_id = result.process_id,
                        "outcome refused: this worker no longer owns the process"
                    );
                    continue;
                }
                let sent = completions
                    .iter()
                    .find(|c| c.process_id == result.process_id)
                    .map(|c| c.status);
                metrics.finished(match sent {
                    Some(FinalStatus::Completed) => Outcome::Completed,
                    Some(FinalStatus::Cancelled) => Outcome::Cancelled,
                    _ => Outcome::Failed,
                });
                // A failure the database put back in the queue for its next attempt.
                if sent == Some(FinalStatus::Failed)
                    && result.status == Some(ProcessStatus::Pending)
                {
                    metrics.retried();
                }
            }
        }
        // One call per message: each release's log row says why.
        releases.sort_unstable();
        for group in releases.chunk_by(|a, b| a.0 == b.0) {
            let message = group[0].0;
            let ids: Vec<i64> = group.iter().map(|(_, id)| *id).collect();
            let released = with_retry(
                "releasing processes",
                &abandon,
                (&metrics, Call::Release),
                || db.release(&worker_prefix, &ids, Some(message)),
            )
            .await;
            for _ in released.iter().flatten() {
                metrics.finished(Outcome::Released);
            }
        }
        for finished in &batch {
            if finished.started_at.is_some() {
                metrics.run_took(finished.outcome.duration.as_secs_f64());
            }
            if print_summaries {
                print_summary(finished, &secrets);
            }
            held.remove(finished.process.process_id);
        }
    }
}

/// The one line per finished process that `stagehand run` prints. A closed standard
/// output must never stop the driver, so write errors are ignored.
fn print_summary(finished: &Finished, secrets: &Secrets) {
    use std::io::Write;
    let p = &finished.process;
    let outcome = match report_for(finished, secrets) {
        Report::Complete(c) => c.status.as_str().to_string(),
        Report::Release(_) => "Released".to_string(),
        Report::Nothing(_) => "Abandoned".to_string(),
    };
    let _ = writeln!(
        std::io::stdout().lock(),
        "{} {} #{} {} in {:.2}s: {}",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        p.process_name,
        p.process_id,
        outcome,
        finished.outcome.duration.as_secs_f64(),
        secrets.mask(&finished.outcome.message)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;
    use std::cell::Cell;

    #[tokio::test]
    async fn a_deadlock_victim_is_retried() {
        let calls = Cell::new(0);
        let never = CancellationToken::new();
        let metrics = DriverMetrics::default();
        let result = with_retry(
            "recording outcomes",
            &never,
            (&metrics, Call::Complete),
            || {
                calls.set(calls.get() + 1);
                let first = calls.get() == 1;
                async move {
                    if first {
                        Err(StoreError::Conflict {
                            context: "CompleteProcesses".into(),
                            message: "chosen as the deadlock victim".into(),
                        })
                    } else {
                        Ok("recorded")
                    }
                }
            },
        )
        .await;
        assert_eq!(result, Some("recorded"));
        assert_eq!(calls.get(), 2);
    }
}
