//! ResetStuckProcesses: an expired lease (or, for executors that never heartbeat, a
//! StartTime older than the timeout) sends a run back to Pending while attempts remain,
//! else fails it; each change is logged. Time is arranged with SQL, never slept.

#[macro_use]
mod common;

use common::{Must, TestDb, Unit};
use stagehand::store::{BackendKind, ClaimRequest, ProcessStatus, ResetProcess, TaskRecord};

async fn set_column(db: &TestDb, column: &str, value: &str, process_id: i64) {
    db.exec(&format!(
        "UPDATE stage.FileControl SET {column} = {value} WHERE ProcessID = {process_id}"
    ))
    .await;
}

conformance!(expired_lease_goes_back_to_pending_then_fails);
async fn expired_lease_goes_back_to_pending_then_fails(db: &TestDb) {
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        max_attempts: 2,
        ..TaskRecord::new("fragile", "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    let id = db.register_new("fragile").await;
    assert_eq!(db.claim_as("w1", 1).await.len(), 1, "{db}: claimed by w1");
    // A healthy run beside it: its lease is valid, so it must be left alone.
    let healthy = db.register_new("fragile").await;
    let request = ClaimRequest {
        worker_name: "w9",
        max_count: 1,
        lease_seconds: 600,
        slots: None,
    };
    assert_eq!(db.claim(&request).await.must(db, "claim").len(), 1);

    assert!(
        db.reset_stuck(60)
            .await
            .must(db, "ResetStuckProcesses")
            .is_empty(),
        "{db}: nothing is reset while leases are valid"
    );
    set_column(db, "LeaseExpiresAt", &db.ago(1, Unit::Second), id).await;
    let reset = db.reset_stuck(60).await.must(db, "ResetStuckProcesses");
    assert_eq!(
        reset,
        vec![ResetProcess {
            process_id: id,
            process_name: "fragile".into(),
            previous_worker: Some("w1".into()),
            attempt: 1,
            status: ProcessStatus::Pending,
        }],
        "{db}: the expired run goes back to Pending"
    );
    let row = db.row(id).await;
    assert_eq!(row.status, ProcessStatus::Pending, "{db}: {row:?}");
    assert_eq!(
        (row.worker_assigned.as_deref(), row.start_time),
        (None, None),
        "{db}: WorkerAssigned and StartTime cleared: {row:?}"
    );
    assert_eq!(
        row.attempt, 1,
        "{db}: the lost attempt still counts: {row:?}"
    );
    let from = format!("FROM stage.FileControl WHERE ProcessID = {id}");
    assert_eq!(
        db.instant("LeaseExpiresAt", &from).await,
        None,
        "{db}: the lease is cleared"
    );
    assert_eq!(
        db.instant("HeartbeatAt", &from).await,
        None,
        "{db}: HeartbeatAt is cleared"
    );
    let logs = db.logs(id).await;
    let last = logs.last().unwrap_or_else(|| panic!("{db}: no log rows"));
    assert!(
        last.log_level == "Warning" && last.message.contains("w1"),
        "{db}: a Warning naming the old worker: {last:?}"
    );
    assert_eq!(
        db.row(healthy).await.status,
        ProcessStatus::InProgress,
        "{db}: the healthy run keeps running"
    );

    let reclaimed = db.claim_as("w2", 1).await;
    assert_eq!(reclaimed.len(), 1, "{db}: {reclaimed:?}");
    assert_eq!(
        (reclaimed[0].process_id, reclaimed[0].attempt),
        (id, 2),
        "{db}: the second attempt"
    );
    set_column(db, "LeaseExpiresAt", &db.ago(1, Unit::Second), id).await;
    let reset = db.reset_stuck(60).await.must(db, "ResetStuckProcesses");
    assert_eq!(reset.len(), 1, "{db}: {reset:?}");
    assert_eq!(
        (
            reset[0].attempt,
            reset[0].status,
            reset[0].previous_worker.as_deref()
        ),
        (2, ProcessStatus::Failed, Some("w2")),
        "{db}: past MaxAttempts the run fails"
    );
    let row = db.row(id).await;
    assert_eq!(row.status, ProcessStatus::Failed, "{db}: {row:?}");
    assert!(
        row.end_time.is_some(),
        "{db}: a failed run has an EndTime: {row:?}"
    );
    let logs = db.logs(id).await;
    let last = logs.last().unwrap_or_else(|| panic!("{db}: no log rows"));
    assert_eq!(
        last.log_level, "Error",
        "{db}: the final failure is an Error row: {last:?}"
    );
    assert!(
        db.reset_stuck(60)
            .await
            .must(db, "ResetStuckProcesses")
            .is_empty(),
        "{db}: a second run finds nothing more"
    );
}

conformance!(never_heartbeating_runs_reset_by_start_time);
async fn never_heartbeating_runs_reset_by_start_time(db: &TestDb) {
    let young = db.register_new("agent_job_a").await;
    let old = db.register_new("agent_job_b").await;
    let assigned = db.assign(2).await.must(db, "AssignProcessToWorker");
    assert_eq!(assigned.len(), 2, "{db}: {assigned:?}");
    set_column(db, "StartTime", &db.ago(29, Unit::Minute), young).await;
    set_column(db, "StartTime", &db.ago(31, Unit::Minute), old).await;

    let reset = db.reset_stuck(30).await.must(db, "ResetStuckProcesses");
    let got: Vec<(i64, Option<&str>, ProcessStatus)> = reset
        .iter()
        .map(|r| (r.process_id, r.previous_worker.as_deref(), r.status))
        .collect();
    assert_eq!(
        got,
        vec![(old, Some("Worker_2"), ProcessStatus::Pending)],
        "{db}: only the run older than @TimeoutMinutes is reset"
    );
    assert_eq!(
        db.row(young).await.status,
        ProcessStatus::InProgress,
        "{db}: 29 minutes < 30"
    );

    set_column(db, "StartTime", &db.ago(31, Unit::Minute), young).await;
    let reset = db.reset_stuck(30).await.must(db, "ResetStuckProcesses");
    let ids: Vec<i64> = reset.iter().map(|r| r.process_id).collect();
    assert_eq!(ids, vec![young], "{db}: now it is past the timeout too");
}

conformance!(a_valid_lease_wins_over_an_old_start_time);
async fn a_valid_lease_wins_over_an_old_start_time(db: &TestDb) {
    db.driver_task("marathon", "parallel").await;
    let id = db.register_new("marathon").await;
    assert_eq!(db.claim_as("w", 1).await.len(), 1, "{db}: claimed");
    set_column(db, "StartTime", &db.ago(10, Unit::Hour), id).await;
    assert!(
        db.reset_stuck(30)
            .await
            .must(db, "ResetStuckProcesses")
            .is_empty(),
        "{db}: a run that heartbeats (valid lease) is not stuck however long it runs"
    );
    assert_eq!(db.row(id).await.status, ProcessStatus::InProgress);
}

conformance!(a_mass_reset_covers_more_rows_than_a_statement);
async fn a_mass_reset_covers_more_rows_than_a_statement(db: &TestDb) {
    // After an outage every lease may have expired at once: more rows than one statement
    // touches on SQL Server (1,000), so several chunks, all reset and logged.
    const STUCK: i64 = 1500;
    let rows = match db.kind() {
        BackendKind::Postgres => format!("generate_series(1, {STUCK}) AS g(n)"),
        BackendKind::SqlServer => format!(
            "(SELECT TOP ({STUCK}) 1 AS n FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b) AS g"
        ),
    };
    db.exec(&format!(
        "INSERT INTO stage.FileControl (ProcessName, Status, WorkerAssigned, StartTime, HeartbeatAt, \
         LeaseExpiresAt, Attempt, MaxAttempts, OverlapPolicy, Executor) \
         SELECT 'outage', 'InProgress', 'gone/1', {ago}, {ago}, {ago}, 1, 3, 'parallel', 'driver' FROM {rows}",
        ago = db.ago(5, Unit::Minute)
    ))
    .await;
    let reset = db.reset_stuck(60).await.must(db, "ResetStuckProcesses");
    assert_eq!(
        reset.len() as i64,
        STUCK,
        "{db}: every expired lease is reset"
    );
    assert!(
        reset.windows(2).all(|w| w[0].process_id < w[1].process_id),
        "{db}: by ProcessID"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE Status = 'Pending' AND WorkerAssigned IS NULL AND LeaseExpiresAt IS NULL")
            .await,
        STUCK,
        "{db}: all back to Pending"
    );
    assert_eq!(
        db.count("stage.ProcessLog WHERE LogLevel = 'Warning' AND Message LIKE 'Reset to Pending: worker gone/1 %'")
            .await,
        STUCK,
        "{db}: one log row each"
    );
}
