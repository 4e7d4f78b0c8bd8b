//! The minimum log level (V154..V158) in the less frequent routines (V165..V172):
//! AssignProcessToWorker, CancelProcess, RetryProcess, RunTaskNow, ResetStuckProcesses,
//! ReleaseProcesses, DeleteTask and CompleteNotification write a log row only when
//! stage.LogKept keeps it: the run's task's `minLogLevel` over the database's level (a
//! process without a task: the database's). Each test reads only its routine's own rows
//! (by their text), so what registration and completion log on the way does not matter.

#[macro_use]
mod common;

use common::{Must, TestDb, Unit};
use stagehand::store::{
    Completion, FinalStatus, LogLevel, NotificationClaim, NotificationOutcome, ProcessStatus,
    TaskRecord,
};

/// The database's level (stage.SetMinLogLevel).
async fn set_level(db: &TestDb, level: &str) {
    let level = level.parse::<LogLevel>().expect("a log level");
    db.set_min_log_level(level).await.must(db, "SetMinLogLevel");
}

/// Saves a task (parallel, so runs never refuse each other) whose JSON holds `level` as
/// its `minLogLevel` (none: the database's level applies); `extra` is more JSON members.
async fn task(db: &TestDb, name: &str, executor: &str, level: Option<&str>, extra: &str) {
    let level = level.map_or(String::new(), |l| format!(r#","minLogLevel":"{l}""#));
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        max_attempts: 2,
        retry_delay_seconds: 0, // a failed attempt is runnable again at once
        executor: executor.into(),
        definition: Some(format!(r#"{{"id":"{name}"{level}{extra}}}"#)),
        ..TaskRecord::new(name, "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
}

/// The levels of the process's log rows whose message starts with `prefix`, oldest first.
async fn levels(db: &TestDb, process_id: i64, prefix: &str) -> Vec<String> {
    db.logs(process_id)
        .await
        .into_iter()
        .filter(|row| row.message.starts_with(prefix))
        .map(|row| row.log_level)
        .collect()
}

/// Claims exactly `process_id` for `worker` (the only runnable driver run at the time).
async fn claim_only(db: &TestDb, worker: &str, process_id: i64) {
    let claimed = db.claim_as(worker, 10).await;
    let ids: Vec<i64> = claimed.iter().map(|c| c.process_id).collect();
    assert_eq!(ids, vec![process_id], "{db}: claimed by {worker}");
}

async fn expire_lease(db: &TestDb, process_id: i64) {
    db.exec(&format!(
        "UPDATE stage.FileControl SET LeaseExpiresAt = {} WHERE ProcessID = {process_id}",
        db.ago(1, Unit::Second)
    ))
    .await;
}

conformance!(assignments_log_at_info);
async fn assignments_log_at_info(db: &TestDb) {
    const ASSIGNED: &str = "Assigned to ";
    task(db, "quiet", "external", None, "").await;
    task(db, "chatty", "external", Some("Info"), "").await;

    // At Info (the default) a process without a task is logged as before.
    let adhoc = db.register_new("adhoc").await;
    assert_eq!(db.assign(1).await.must(db, "assign").len(), 1, "{db}");
    assert_eq!(levels(db, adhoc, ASSIGNED).await, ["Info"], "{db}");

    set_level(db, "Warning").await;
    let quiet = db.register_new("quiet").await;
    let silent_adhoc = db.register_new("adhoc2").await;
    let assigned = db.assign(3).await.must(db, "assign");
    assert_eq!(assigned.len(), 2, "{db}: {assigned:?}");
    assert!(levels(db, quiet, ASSIGNED).await.is_empty(), "{db}");
    assert!(
        levels(db, silent_adhoc, ASSIGNED).await.is_empty(),
        "{db}: no task: the database's level applies"
    );

    // The task's own level goes over the database's.
    set_level(db, "Error").await;
    let chatty = db.register_new("chatty").await;
    assert_eq!(db.assign(4).await.must(db, "assign").len(), 1, "{db}");
    assert_eq!(levels(db, chatty, ASSIGNED).await, ["Info"], "{db}");
}

conformance!(cancellations_log_at_their_levels);
async fn cancellations_log_at_their_levels(db: &TestDb) {
    const REQUESTED: &str = "Cancellation requested by stage.CancelProcess";
    const CANCELLED: &str = "Cancelled by stage.CancelProcess";
    task(db, "quiet", "driver", None, "").await;
    task(db, "chatty", "driver", Some("Info"), "").await;

    // Warning: the request (Info) is not written, the cancel (Warning) is.
    set_level(db, "Warning").await;
    let running = db.register_new("quiet").await;
    claim_only(db, "w1", running).await;
    let pending = db.register_new("quiet").await;
    let requested = db.cancel_process(running).await.must(db, "CancelProcess");
    assert!(requested.cancel_requested, "{db}: {requested:?}");
    assert!(levels(db, running, REQUESTED).await.is_empty(), "{db}");
    let cancelled = db.cancel_process(pending).await.must(db, "CancelProcess");
    assert_eq!(cancelled.status, ProcessStatus::Cancelled, "{db}");
    assert_eq!(levels(db, pending, CANCELLED).await, ["Warning"], "{db}");

    // Error: the cancel's Warning is not written either.
    set_level(db, "Error").await;
    let pending = db.register_new("quiet").await;
    db.cancel_process(pending).await.must(db, "CancelProcess");
    assert!(levels(db, pending, CANCELLED).await.is_empty(), "{db}");

    // A task at Info keeps both while the database is at Error.
    let running = db.register_new("chatty").await;
    claim_only(db, "w2", running).await;
    let pending = db.register_new("chatty").await;
    db.cancel_process(running).await.must(db, "CancelProcess");
    db.cancel_process(pending).await.must(db, "CancelProcess");
    assert_eq!(levels(db, running, REQUESTED).await, ["Info"], "{db}");
    assert_eq!(levels(db, pending, CANCELLED).await, ["Warning"], "{db}");
}

conformance!(retries_log_at_info);
async fn retries_log_at_info(db: &TestDb) {
    const RETRY: &str = "Retry of process ";
    task(db, "quiet", "driver", None, "").await;
    task(db, "chatty", "driver", Some("Info"), "").await;
    let quiet = db.register_new("quiet").await;
    db.cancel_process(quiet).await.must(db, "CancelProcess");
    let chatty = db.register_new("chatty").await;
    db.cancel_process(chatty).await.must(db, "CancelProcess");

    let retried = db.retry_process(quiet).await.must(db, "RetryProcess");
    assert!(retried.registered, "{db}: {retried:?}");
    assert_eq!(
        levels(db, retried.process_id, RETRY).await,
        ["Info"],
        "{db}"
    );

    set_level(db, "Warning").await;
    let retried = db.retry_process(quiet).await.must(db, "RetryProcess");
    assert!(retried.registered, "{db}: {retried:?}");
    assert!(
        levels(db, retried.process_id, RETRY).await.is_empty(),
        "{db}"
    );

    set_level(db, "Error").await;
    let retried = db.retry_process(chatty).await.must(db, "RetryProcess");
    assert!(retried.registered, "{db}: {retried:?}");
    assert_eq!(
        levels(db, retried.process_id, RETRY).await,
        ["Info"],
        "{db}: the task's level goes over the database's"
    );
}

conformance!(runs_now_log_at_info);
async fn runs_now_log_at_info(db: &TestDb) {
    const RUN_NOW: &str = "Run now ";
    task(db, "quiet", "driver", None, "").await;
    task(db, "chatty", "driver", Some("Info"), "").await;

    let run = db.run_task_now("quiet", false).await.must(db, "RunTaskNow");
    assert_eq!(levels(db, run.process_id, RUN_NOW).await, ["Info"], "{db}");

    set_level(db, "Warning").await;
    let run = db.run_task_now("quiet", false).await.must(db, "RunTaskNow");
    assert!(run.registered, "{db}: {run:?}");
    assert!(levels(db, run.process_id, RUN_NOW).await.is_empty(), "{db}");

    set_level(db, "Error").await;
    let run = db
        .run_task_now("chatty", false)
        .await
        .must(db, "RunTaskNow");
    assert_eq!(
        levels(db, run.process_id, RUN_NOW).await,
        ["Info"],
        "{db}: the task's level goes over the database's"
    );
}

conformance!(resets_log_at_warning_and_error);
async fn resets_log_at_warning_and_error(db: &TestDb) {
    const RESET: &str = "Reset to Pending: ";
    const FAILED: &str = "Failed: worker ";
    task(db, "quiet", "driver", None, "").await;
    task(db, "chatty", "driver", Some("Info"), "").await;

    // Warning keeps the reset (a Warning).
    set_level(db, "Warning").await;
    let id = db.register_new("quiet").await;
    claim_only(db, "w1", id).await;
    expire_lease(db, id).await;
    assert_eq!(db.reset_stuck(60).await.must(db, "reset").len(), 1, "{db}");
    assert_eq!(levels(db, id, RESET).await, ["Warning"], "{db}");
    db.cancel_process(id).await.must(db, "CancelProcess");

    // Error drops the reset and keeps the failure (an Error).
    set_level(db, "Error").await;
    let id = db.register_new("quiet").await;
    for attempt in 1..=2 {
        claim_only(db, "w1", id).await;
        expire_lease(db, id).await;
        let reset = db.reset_stuck(60).await.must(db, "reset");
        assert_eq!(reset.len(), 1, "{db}: attempt {attempt}: {reset:?}");
    }
    assert_eq!(db.row(id).await.status, ProcessStatus::Failed, "{db}");
    assert!(levels(db, id, RESET).await.is_empty(), "{db}");
    assert_eq!(levels(db, id, FAILED).await, ["Error"], "{db}");

    // A task at Info keeps the reset while the database is at Error.
    let id = db.register_new("chatty").await;
    claim_only(db, "w1", id).await;
    expire_lease(db, id).await;
    assert_eq!(db.reset_stuck(60).await.must(db, "reset").len(), 1, "{db}");
    assert_eq!(levels(db, id, RESET).await, ["Warning"], "{db}");
}

conformance!(releases_log_at_warning);
async fn releases_log_at_warning(db: &TestDb) {
    const RELEASED: &str = "Released by driver shutdown";
    task(db, "quiet", "driver", None, "").await;
    task(db, "chatty", "driver", Some("Info"), "").await;

    set_level(db, "Warning").await;
    let id = db.register_new("quiet").await;
    claim_only(db, "w1", id).await;
    let released = db.release("w1", &[id], None).await.must(db, "release");
    assert_eq!(released, vec![id], "{db}");
    assert_eq!(levels(db, id, RELEASED).await, ["Warning"], "{db}");

    set_level(db, "Error").await;
    claim_only(db, "w1", id).await;
    let released = db.release("w1", &[id], None).await.must(db, "release");
    assert_eq!(released, vec![id], "{db}");
    assert_eq!(
        levels(db, id, RELEASED).await,
        ["Warning"],
        "{db}: the second release is not logged"
    );
    db.cancel_process(id).await.must(db, "CancelProcess");

    let id = db.register_new("chatty").await;
    claim_only(db, "w1", id).await;
    let released = db.release("w1", &[id], None).await.must(db, "release");
    assert_eq!(released, vec![id], "{db}");
    assert_eq!(
        levels(db, id, RELEASED).await,
        ["Warning"],
        "{db}: the task's level goes over the database's"
    );
}

conformance!(deletions_log_at_warning);
async fn deletions_log_at_warning(db: &TestDb) {
    set_level(db, "Warning").await;
    task(db, "first", "driver", None, "").await;
    let id = db.register_new("first").await;
    assert!(db.delete_task("first").await.must(db, "DeleteTask"), "{db}");
    assert_eq!(db.row(id).await.status, ProcessStatus::Cancelled, "{db}");
    assert_eq!(
        levels(db, id, "Cancelled: task first was deleted").await,
        ["Warning"],
        "{db}"
    );

    set_level(db, "Error").await;
    task(db, "second", "driver", None, "").await;
    let id = db.register_new("second").await;
    assert!(
        db.delete_task("second").await.must(db, "DeleteTask"),
        "{db}"
    );
    assert_eq!(db.row(id).await.status, ProcessStatus::Cancelled, "{db}");
    assert!(
        levels(db, id, "Cancelled: task second was deleted")
            .await
            .is_empty(),
        "{db}"
    );

    // The deleted task's own level goes with it: the database's applies to these rows.
    task(db, "third", "driver", Some("Info"), "").await;
    let id = db.register_new("third").await;
    assert!(db.delete_task("third").await.must(db, "DeleteTask"), "{db}");
    assert!(
        levels(db, id, "Cancelled: task third was deleted")
            .await
            .is_empty(),
        "{db}"
    );
}

conformance!(given_up_notifications_log_at_every_level);
async fn given_up_notifications_log_at_every_level(db: &TestDb) {
    // The task's own level is Warning, the database's Error: an Error row passes both.
    let notify = r#","notify":{"webhooks":["http://127.0.0.1:9/hook"]}"#;
    task(db, "noisy", "driver", Some("Warning"), notify).await;
    set_level(db, "Error").await;
    let id = db.register_new("noisy").await;
    // Both attempts fail: the run is Failed, and its failure notification is enqueued.
    for _ in 0..2 {
        claim_only(db, "w1", id).await;
        let done = db
            .complete(&[Completion::new(id, "w1", None, FinalStatus::Failed)])
            .await
            .must(db, "CompleteProcesses");
        assert!(done[0].accepted, "{db}: {done:?}");
    }

    let claim = NotificationClaim {
        driver_name: "d1",
        max_count: 10,
        lease_seconds: 60,
        webhooks: true,
        emails: true,
    };
    let claimed = db.claim_notifications(&claim).await.must(db, "claim");
    assert_eq!(claimed.len(), 1, "{db}: {claimed:?}");
    let outcome = NotificationOutcome {
        notification_id: claimed[0].notification_id,
        driver_name: "d1",
        attempt: claimed[0].attempt,
        result: Err("HTTP 500"),
        max_attempts: 1,
        retry_delay_seconds: 0,
    };
    let given_up = db
        .complete_notification(&outcome)
        .await
        .must(db, "CompleteNotification");
    assert_eq!(given_up.status.as_deref(), Some("Failed"), "{db}");
    assert_eq!(
        levels(db, id, "Notification ").await,
        ["Error"],
        "{db}: the given-up row"
    );
}
