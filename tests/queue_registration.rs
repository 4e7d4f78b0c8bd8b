//! RegisterProcess: de-duplication (sequential and 16-way concurrent), every overlap
//! policy, one run per trigger occurrence, and which executor sees which process.

#[macro_use]
mod common;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use common::{Must, TestDb};
use stagehand::store::{Completion, FinalStatus, ProcessStatus};
use tokio::sync::Barrier;

conformance!(duplicate_refused_while_active_and_allowed_after_completion);
async fn duplicate_refused_while_active_and_allowed_after_completion(db: &TestDb) {
    let first = db
        .register("nightly_import", Some(r#"{"file":"a.csv"}"#), None)
        .await
        .must(db, "register");
    assert!(
        first.registered,
        "{db}: the first registration must be accepted: {first:?}"
    );
    assert_eq!(
        first.status,
        ProcessStatus::Pending,
        "{db}: a new process is Pending"
    );
    assert_eq!(
        first.process_name, "nightly_import",
        "{db}: the row names the process"
    );
    let logs = db.logs(first.process_id).await;
    assert!(
        logs.iter()
            .any(|l| l.log_level == "Info" && l.message.starts_with("Registered")),
        "{db}: a new process gets an Info log row 'Registered', got {logs:?}"
    );

    let again = db
        .register("nightly_import", None, None)
        .await
        .must(db, "register duplicate");
    assert!(
        !again.registered,
        "{db}: a duplicate while Pending must be refused: {again:?}"
    );
    assert_eq!(
        again.process_id, first.process_id,
        "{db}: a refusal returns the existing ProcessID"
    );
    assert_eq!(
        again.status,
        ProcessStatus::Pending,
        "{db}: the existing row's status"
    );

    let assigned = db.assign(1).await.must(db, "AssignProcessToWorker");
    assert_eq!(
        assigned.len(),
        1,
        "{db}: the pending process is assigned: {assigned:?}"
    );
    let during = db
        .register("nightly_import", None, None)
        .await
        .must(db, "register while running");
    assert!(
        !during.registered,
        "{db}: a duplicate while InProgress must be refused: {during:?}"
    );
    assert_eq!(
        during.process_id, first.process_id,
        "{db}: the running row is returned"
    );
    assert_eq!(
        during.status,
        ProcessStatus::InProgress,
        "{db}: the running row's status"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE ProcessName = 'nightly_import'")
            .await,
        1,
        "{db}: refused registrations insert nothing"
    );

    let done = db
        .complete_one(&Completion::new(
            first.process_id,
            "Worker_1",
            None,
            FinalStatus::Completed,
        ))
        .await
        .must(db, "CompleteProcess");
    assert!(
        done.accepted,
        "{db}: the owner's completion is accepted: {done:?}"
    );
    let after = db
        .register("nightly_import", None, None)
        .await
        .must(db, "register after completion");
    assert!(
        after.registered,
        "{db}: once finished, the name may run again: {after:?}"
    );
    assert_ne!(
        after.process_id, first.process_id,
        "{db}: a new run is a new row"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE ProcessName = 'nightly_import'")
            .await,
        2
    );
}

conformance!(sixteen_concurrent_registrations_create_one_row);
async fn sixteen_concurrent_registrations_create_one_row(db: &TestDb) {
    // Rounds without a task (default skip) and with a skip task: both paths must hold.
    for round in 0..6 {
        let name = format!("race_{round}");
        if round >= 3 {
            db.driver_task(&name, "skip").await;
        }
        let barrier = Arc::new(Barrier::new(16));
        let callers: Vec<_> = (0..16)
            .map(|_| {
                let (store, barrier, name, label) =
                    (db.store(), barrier.clone(), name.clone(), db.to_string());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .register(&name, None, None)
                        .await
                        .must(&label, "concurrent RegisterProcess")
                })
            })
            .collect();
        let mut results = Vec::new();
        for caller in callers {
            results.push(
                caller
                    .await
                    .unwrap_or_else(|e| panic!("{db}: a registering task failed: {e}")),
            );
        }
        let accepted = results.iter().filter(|r| r.registered).count();
        assert_eq!(
            accepted, 1,
            "{db}: round {round}: exactly one of 16 callers registers: {results:?}"
        );
        let id = results[0].process_id;
        assert!(
            results.iter().all(|r| r.process_id == id),
            "{db}: round {round}: every caller gets the one row's ProcessID: {results:?}"
        );
        assert_eq!(
            db.count(&format!("stage.FileControl WHERE ProcessName = '{name}'"))
                .await,
            1,
            "{db}: round {round}: exactly one row for {name}"
        );
    }
}

conformance!(skip_policy_task_refuses_overlap);
async fn skip_policy_task_refuses_overlap(db: &TestDb) {
    db.driver_task("skipper", "skip").await;
    let first = db.register_new("skipper").await;
    let second = db
        .register("skipper", None, None)
        .await
        .must(db, "register");
    assert!(
        !second.registered,
        "{db}: skip refuses a second Pending run: {second:?}"
    );
    assert_eq!(second.process_id, first);
    let claimed = db.claim_as("w", 5).await;
    assert_eq!(claimed.len(), 1, "{db}: one run to claim: {claimed:?}");
    let third = db
        .register("skipper", None, None)
        .await
        .must(db, "register");
    assert!(
        !third.registered,
        "{db}: skip refuses while InProgress: {third:?}"
    );
    let done = db
        .complete(&[Completion::new(first, "w", Some(1), FinalStatus::Completed)])
        .await
        .must(db, "complete");
    assert!(done[0].accepted, "{db}: {done:?}");
    db.register_new("skipper").await;
}

conformance!(parallel_policy_always_inserts);
async fn parallel_policy_always_inserts(db: &TestDb) {
    db.driver_task("fanout", "parallel").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(db.register_new("fanout").await);
    }
    let distinct: std::collections::HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 3, "{db}: three distinct rows: {ids:?}");
    let claimed: Vec<i64> = db
        .claim_as("w", 10)
        .await
        .iter()
        .map(|c| c.process_id)
        .collect();
    assert_eq!(
        claimed, ids,
        "{db}: parallel runs of one name are all claimable at once"
    );
}

conformance!(queue_policy_runs_one_at_a_time_in_creation_order);
async fn queue_policy_runs_one_at_a_time_in_creation_order(db: &TestDb) {
    db.driver_task("serial", "queue").await;
    db.driver_task("bystander", "parallel").await;
    let mut queued = Vec::new();
    for _ in 0..3 {
        queued.push(db.register_new("serial").await);
    }
    let bystander = db.register_new("bystander").await;

    for (turn, expected) in queued.iter().enumerate() {
        // Several claimers at once: still only the head of the queue may run.
        let claimers: Vec<_> = (0..4)
            .map(|k| {
                let (store, label) = (db.store(), db.to_string());
                tokio::spawn(async move {
                    let request = stagehand::store::ClaimRequest {
                        worker_name: &format!("claimer_{k}"),
                        max_count: 10,
                        lease_seconds: 60,
                        slots: None,
                    };
                    store.claim(&request).await.must(&label, "ClaimProcesses")
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for claimer in claimers {
            claimed.extend(
                claimer
                    .await
                    .unwrap_or_else(|e| panic!("{db}: a claiming task failed: {e}")),
            );
        }
        let serial: Vec<_> = claimed
            .iter()
            .filter(|c| c.process_name == "serial")
            .collect();
        assert_eq!(
            serial.len(),
            1,
            "{db}: turn {turn}: exactly one queued run claimed: {claimed:?}"
        );
        assert_eq!(
            serial[0].process_id, *expected,
            "{db}: turn {turn}: queued runs go in creation order"
        );
        if turn == 0 {
            assert!(
                claimed.iter().any(|c| c.process_id == bystander),
                "{db}: the queue of one name does not hold back other names: {claimed:?}"
            );
        }
        assert!(
            db.claim_as("late", 10).await.is_empty(),
            "{db}: turn {turn}: nothing else runnable"
        );
        let owner = serial[0].worker_assigned.clone();
        let done = db
            .complete(&[Completion::new(
                *expected,
                &owner,
                None,
                FinalStatus::Completed,
            )])
            .await
            .must(db, "complete");
        assert!(done[0].accepted, "{db}: {done:?}");
    }
}

conformance!(kill_previous_cancels_older_runs_and_waits_for_the_running_one);
async fn kill_previous_cancels_older_runs_and_waits_for_the_running_one(db: &TestDb) {
    db.driver_task("refresh", "killPrevious").await;
    let running = db.register_new("refresh").await;
    let claimed = db.claim_as("w", 5).await;
    assert_eq!(
        claimed.len(),
        1,
        "{db}: the first run is claimed: {claimed:?}"
    );
    let beat = db
        .heartbeat("w", &[running], 60)
        .await
        .must(db, "Heartbeat");
    assert!(
        !beat[0].cancel_requested,
        "{db}: no cancellation before a newer run: {beat:?}"
    );
    let logs_before = db.logs(running).await.len();

    let older_pending = db.register_new("refresh").await;
    let row = db.row(running).await;
    assert!(
        row.cancel_requested,
        "{db}: the running instance is marked CancelRequested: {row:?}"
    );
    assert_eq!(
        row.status,
        ProcessStatus::InProgress,
        "{db}: it keeps running until it stops"
    );
    let beat = db
        .heartbeat("w", &[running], 60)
        .await
        .must(db, "Heartbeat");
    assert!(
        beat[0].held && beat[0].cancel_requested,
        "{db}: Heartbeat reports the cancellation: {beat:?}"
    );
    let logs = db.logs(running).await;
    assert!(
        logs.len() > logs_before && logs[logs_before..].iter().any(|l| l.log_level == "Info"),
        "{db}: the cancellation request is logged (Info): {logs:?}"
    );
    assert!(
        db.claim_as("w2", 5).await.is_empty(),
        "{db}: the new run waits while the old one runs"
    );

    let newest = db.register_new("refresh").await;
    let cancelled = db.row(older_pending).await;
    assert_eq!(
        cancelled.status,
        ProcessStatus::Cancelled,
        "{db}: an older Pending run is Cancelled"
    );
    assert!(
        cancelled.end_time.is_some(),
        "{db}: the cancelled run gets an EndTime: {cancelled:?}"
    );
    assert!(
        db.logs(older_pending)
            .await
            .iter()
            .any(|l| l.log_level == "Warning"),
        "{db}: the cancellation of a pending run is logged as a Warning"
    );
    assert_eq!(db.row(newest).await.status, ProcessStatus::Pending);
    assert!(
        db.claim_as("w2", 5).await.is_empty(),
        "{db}: still not claimable while the old run runs"
    );

    let stopped = db
        .complete(&[Completion::new(
            running,
            "w",
            Some(1),
            FinalStatus::Cancelled,
        )])
        .await
        .must(db, "complete");
    assert!(stopped[0].accepted, "{db}: {stopped:?}");
    let next: Vec<i64> = db
        .claim_as("w2", 5)
        .await
        .iter()
        .map(|c| c.process_id)
        .collect();
    assert_eq!(
        next,
        vec![newest],
        "{db}: once the old run ended, the newest one runs"
    );
}

conformance!(one_run_per_scheduled_occurrence);
async fn one_run_per_scheduled_occurrence(db: &TestDb) {
    db.driver_task("hourly", "parallel").await;
    let at = Utc
        .with_ymd_and_hms(2030, 1, 1, 2, 0, 0)
        .single()
        .expect("a valid instant");
    let first = db
        .register("hourly", None, Some(at))
        .await
        .must(db, "register occurrence");
    assert!(first.registered, "{db}: {first:?}");
    assert_eq!(
        db.row(first.process_id).await.scheduled_for,
        Some(at),
        "{db}: ScheduledFor stored"
    );

    let duplicate = db
        .register("hourly", None, Some(at))
        .await
        .must(db, "register occurrence");
    assert!(
        !duplicate.registered,
        "{db}: a second run for one occurrence is refused: {duplicate:?}"
    );
    assert_eq!(
        duplicate.process_id, first.process_id,
        "{db}: the existing run is returned"
    );
    let next = db
        .register("hourly", None, Some(at + Duration::hours(1)))
        .await
        .must(db, "register next occurrence");
    assert!(
        next.registered,
        "{db}: another occurrence is a new run: {next:?}"
    );

    // Still refused once the first run has finished: the occurrence has been run.
    let claimed = db.claim_as("w", 5).await;
    assert_eq!(
        claimed.len(),
        2,
        "{db}: both occurrences claimable (parallel): {claimed:?}"
    );
    db.complete(&[Completion::new(
        first.process_id,
        "w",
        None,
        FinalStatus::Completed,
    )])
    .await
    .must(db, "complete");
    let late = db
        .register("hourly", None, Some(at))
        .await
        .must(db, "register finished occurrence");
    assert!(
        !late.registered,
        "{db}: a finished occurrence is not run again: {late:?}"
    );
    assert_eq!(late.process_id, first.process_id);
    assert_eq!(
        late.status,
        ProcessStatus::Completed,
        "{db}: the finished row is returned"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE ProcessName = 'hourly'")
            .await,
        2
    );
}

conformance!(processes_without_a_task_are_external);
async fn processes_without_a_task_are_external(db: &TestDb) {
    let external = db.register_new("ssis_package_load").await;
    let row = db.row(external).await;
    assert_eq!(row.max_attempts, 3, "{db}: no task: MaxAttempts 3: {row:?}");
    assert!(
        db.claim_as("driver", 10).await.is_empty(),
        "{db}: the driver never claims external work"
    );
    assert_eq!(db.row(external).await.status, ProcessStatus::Pending);

    let assigned = db.assign(3).await.must(db, "AssignProcessToWorker");
    assert_eq!(assigned.len(), 1, "{db}: {assigned:?}");
    let a = &assigned[0];
    assert_eq!(
        a.process_id, external,
        "{db}: assignment picks up the external process"
    );
    assert_eq!(a.worker_assigned, "Worker_1");
    assert_eq!(a.task_id, None, "{db}: no task: {a:?}");
    assert_eq!(
        a.lease_expires_at, None,
        "{db}: external executors have no lease: {a:?}"
    );
}

conformance!(driver_tasks_are_never_assigned);
async fn driver_tasks_are_never_assigned(db: &TestDb) {
    db.driver_task("driven", "parallel").await;
    let driven = db.register_new("driven").await;
    assert!(
        db.assign(5)
            .await
            .must(db, "AssignProcessToWorker")
            .is_empty(),
        "{db}: AssignProcessToWorker must not hand driver work to Worker_n"
    );
    assert_eq!(db.row(driven).await.status, ProcessStatus::Pending);
    let claimed: Vec<i64> = db
        .claim_as("driver", 5)
        .await
        .iter()
        .map(|c| c.process_id)
        .collect();
    assert_eq!(claimed, vec![driven], "{db}: the driver claims it");
}
