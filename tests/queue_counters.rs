//! The counters behind ProcessStatusSummary and WorkerStatistics (V130..V138): after any
//! mix of changes to stage.FileControl, from every procedure and from plain SQL, each
//! counter-backed figure equals the same figure computed by COUNT(*) over the table,
//! before and after the deltas are rolled up; and the migration counts the rows a
//! database held before it.

#[macro_use]
mod common;

use chrono::{Duration, Utc};
use common::{Must, TestDb, Unit};
use stagehand::store::{
    connect, migrations, Backend, BackendKind, Completion, ConnectOptions, DatabaseUrl,
    FinalStatus, StoreError, TaskRecord,
};
use std::process::Command;
use std::sync::Arc;

const STATUSES: [&str; 5] = ["Pending", "InProgress", "Completed", "Failed", "Cancelled"];
const FINISHED: &str = "Status IN ('Completed', 'Failed', 'Cancelled')";

/// A run's duration as WorkerStatistics defines it, in microseconds, as SQL.
fn duration_micros(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Postgres => {
            "CAST(EXTRACT(EPOCH FROM EndTime - COALESCE(CommandStartedAt, StartTime)) * 1000000 AS bigint)"
        }
        BackendKind::SqlServer => {
            "DATEDIFF_BIG(MICROSECOND, COALESCE(CommandStartedAt, StartTime), EndTime)"
        }
    }
}

/// The first column of the first row of `sql` on `store`.
async fn value(db: &TestDb, store: &dyn Backend, sql: &str) -> i64 {
    store.query_i64(sql).await.must(db, sql).unwrap_or(0)
}

/// Every figure of both views against COUNT(*), SUM and MAX over stage.FileControl.
async fn assert_exact(db: &TestDb, store: &dyn Backend, when: &str) {
    let summary = store
        .status_summary()
        .await
        .must(db, "ProcessStatusSummary");
    for status in STATUSES {
        let expected = value(
            db,
            store,
            &format!("SELECT COUNT(*) FROM stage.FileControl WHERE Status = '{status}'"),
        )
        .await;
        let shown = summary.iter().find(|s| s.status == status);
        assert_eq!(
            shown.map_or(0, |s| s.process_count),
            expected,
            "{db} {when}: ProcessStatusSummary for {status}: {summary:?}"
        );
        assert!(
            expected > 0 || shown.is_none(),
            "{db} {when}: a status with no rows has no row: {summary:?}"
        );
    }
    assert!(
        summary
            .iter()
            .all(|s| STATUSES.contains(&s.status.as_str())),
        "{db} {when}: {summary:?}"
    );

    let stats = store.worker_statistics().await.must(db, "WorkerStatistics");
    let workers = value(
        db,
        store,
        &format!(
            "SELECT COUNT(DISTINCT WorkerAssigned) FROM stage.FileControl \
             WHERE {FINISHED} AND WorkerAssigned IS NOT NULL"
        ),
    )
    .await;
    assert_eq!(
        stats.len() as i64,
        workers,
        "{db} {when}: one row per worker with finished runs: {stats:?}"
    );
    let duration = duration_micros(db.kind());
    for s in &stats {
        let of_worker = format!(
            "FROM stage.FileControl WHERE {FINISHED} AND WorkerAssigned = {}",
            db.text(&s.worker_assigned)
        );
        let count = value(db, store, &format!("SELECT COUNT(*) {of_worker}")).await;
        let timed = value(db, store, &format!("SELECT COUNT({duration}) {of_worker}")).await;
        let total = value(
            db,
            store,
            &format!("SELECT CAST(SUM({duration}) AS bigint) {of_worker}"),
        )
        .await;
        let max = value(db, store, &format!("SELECT MAX({duration}) {of_worker}")).await;
        assert_eq!(
            s.processes_done, count,
            "{db} {when}: ProcessesDone of {s:?}"
        );
        let avg = if timed > 0 {
            total as f64 / timed as f64 / 1e6
        } else {
            0.0
        };
        assert!(
            (s.avg_duration_seconds - avg).abs() <= 1e-9 * avg.abs().max(1.0),
            "{db} {when}: AvgDurationSeconds of {s:?}: expected {avg}"
        );
        assert_eq!(
            (s.max_duration_seconds * 1e6).round() as i64,
            max,
            "{db} {when}: MaxDurationSeconds of {s:?}"
        );
    }
}

/// Rolls every delta up, in batches of `batch`.
async fn roll_up_all(db: &TestDb, batch: i32) {
    while !db
        .roll_up_counters(batch)
        .await
        .must(db, "RollUpCounters")
        .done
    {}
}

/// Several workers register, claim, complete (Completed, Failed with retries left,
/// Cancelled), cancel and retry at once while rollups run beside them.
async fn concurrent_workload(db: &TestDb) {
    let workers = (0..4).map(|w| {
        let store = db.store();
        tokio::spawn(async move {
            let worker = format!("host/w{w}");
            for round in 0..12 {
                for name in ["cnt-par", "cnt-retry"] {
                    store.register(name, None, None).await.expect("register");
                }
                let claimed = store
                    .claim(&stagehand::store::ClaimRequest {
                        worker_name: &worker,
                        max_count: 3,
                        lease_seconds: 60,
                        slots: None,
                    })
                    .await
                    .expect("claim");
                let completions: Vec<Completion> = claimed
                    .iter()
                    .enumerate()
                    .map(|(k, c)| {
                        let status = match (round + k) % 4 {
                            0 | 1 => FinalStatus::Completed,
                            2 => FinalStatus::Failed,
                            _ => FinalStatus::Cancelled,
                        };
                        let mut completion =
                            Completion::new(c.process_id, &worker, Some(c.attempt), status);
                        // Some runs report when their command started, some do not.
                        if k % 2 == 0 {
                            completion.started_at =
                                Some(Utc::now() - Duration::milliseconds(1500 + 37 * k as i64));
                        }
                        completion
                    })
                    .collect();
                // The last claim of a round stays InProgress every third round.
                let keep = usize::from(round % 3 == 0);
                store
                    .complete(&completions[..completions.len().saturating_sub(keep)])
                    .await
                    .expect("complete");
                // Another worker may claim and finish it first: then both are refused.
                let pending = store
                    .register("cnt-par", None, None)
                    .await
                    .expect("register");
                let cancelled = store.cancel_process(pending.process_id).await;
                if !matches!(cancelled, Ok(_) | Err(StoreError::Refused(_))) {
                    panic!("cancel: {cancelled:?}");
                }
                if round % 4 == 1 {
                    let retried = store.retry_process(pending.process_id).await;
                    if !matches!(retried, Ok(_) | Err(StoreError::Refused(_))) {
                        panic!("retry: {retried:?}");
                    }
                }
            }
        })
    });
    let workers: Vec<_> = workers.collect();
    let store = db.store();
    let rollups = tokio::spawn(async move {
        for _ in 0..40 {
            store.roll_up_counters(5).await.expect("RollUpCounters");
            tokio::task::yield_now().await;
        }
    });
    for worker in workers {
        worker.await.expect("a worker panicked");
    }
    rollups.await.expect("the rollups panicked");
}

conformance!(every_counter_equals_the_count_after_a_mixed_workload);
async fn every_counter_equals_the_count_after_a_mixed_workload(db: &TestDb) {
    db.driver_task("cnt-par", "parallel").await;
    db.save_task(&TaskRecord {
        overlap_policy: "parallel".into(),
        max_attempts: 3,
        retry_delay_seconds: 0,
        ..TaskRecord::new("cnt-retry", "true")
    })
    .await
    .must(db, "SaveTask");
    assert_exact(db, &**db, "on an empty queue").await;

    concurrent_workload(db).await;
    assert_exact(db, &**db, "after the concurrent workload").await;

    // A driver died: its leases ran out and the reset puts the runs back.
    db.exec(&format!(
        "UPDATE stage.FileControl SET LeaseExpiresAt = {} WHERE Status = 'InProgress'",
        db.ago(5, Unit::Minute)
    ))
    .await;
    let reset = db.reset_stuck(60).await.must(db, "ResetStuckProcesses");
    assert!(!reset.is_empty(), "{db}: some runs were stuck");
    assert_exact(db, &**db, "after ResetStuckProcesses").await;

    // Rotation's DELETE of old finished runs.
    db.exec(&format!(
        "UPDATE stage.FileControl SET EndTime = {} WHERE {FINISHED} AND ProcessID % 3 = 0",
        db.ago(12, Unit::Month)
    ))
    .await;
    let moved = db.rotate(6, 1000, None).await.must(db, "RotateHistory");
    assert!(moved.processes_moved > 0, "{db}: {moved:?}");
    assert_exact(db, &**db, "after RotateHistory").await;

    // A DBA's statements: a worker renamed and end times moved, rows deleted, the seed's
    // completion statement, a heartbeat-like update of columns nobody counts.
    db.exec(&format!(
        "UPDATE stage.FileControl SET WorkerAssigned = 'dba/moved', EndTime = {} \
         WHERE Status = 'Completed' AND ProcessID % 5 = 1",
        db.shifted("EndTime", 7, Unit::Second)
    ))
    .await;
    db.exec("DELETE FROM stage.FileControl WHERE Status = 'Failed' AND ProcessID % 2 = 0")
        .await;
    let pending = db.register_new("cnt-par").await;
    db.exec(&db.seed_completion_sql(pending)).await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET HeartbeatAt = {} WHERE ProcessID = {pending}",
        db.now_sql()
    ))
    .await;
    assert!(
        db.count("stage.ProcessCounter").await > 0,
        "{db}: deltas wait for a rollup"
    );
    assert_exact(db, &**db, "after a DBA's UPDATE and DELETE").await;

    // Rolled up partly, then entirely: the same figures.
    db.roll_up_counters(3).await.must(db, "RollUpCounters");
    assert_exact(db, &**db, "after a partial rollup").await;
    roll_up_all(db, 4000).await;
    assert_eq!(
        db.count("stage.ProcessCounter").await,
        0,
        "{db}: every delta rolled up"
    );
    assert_exact(db, &**db, "after a full rollup").await;

    // And the readers' role reads the same.
    let reader = db.connect_as("stage_reader").await;
    assert_eq!(
        reader
            .status_summary()
            .await
            .must(db, "ProcessStatusSummary as reader"),
        db.status_summary().await.must(db, "ProcessStatusSummary"),
        "{db}: stage_reader reads the view"
    );
}

conformance!(the_driver_role_rolls_up_and_bad_batches_are_refused);
async fn the_driver_role_rolls_up_and_bad_batches_are_refused(db: &TestDb) {
    db.driver_task("cnt-role", "parallel").await;
    for _ in 0..3 {
        db.register_new("cnt-role").await;
    }
    let worker = db.connect_as("stage_worker").await;
    let report = worker
        .roll_up_counters(2)
        .await
        .must(db, "RollUpCounters as stage_worker");
    assert_eq!((report.rolled_up, report.done), (2, false), "{db}");
    let report = worker.roll_up_counters(2).await.must(db, "RollUpCounters");
    assert_eq!((report.rolled_up, report.done), (1, true), "{db}");
    assert_exact(db, &**db, "after a worker's rollup").await;
    for bad in [0, 4001] {
        common::assert_invalid_argument(
            db,
            db.roll_up_counters(bad).await,
            "BatchSize must be between 1 and 4000",
            "RollUpCounters",
        );
    }
}

conformance!(recount_rebuilds_the_counters_from_the_table);
async fn recount_rebuilds_the_counters_from_the_table(db: &TestDb) {
    db.driver_task("cnt-recount", "parallel").await;
    for _ in 0..4 {
        db.register_new("cnt-recount").await;
    }
    let claimed = db.claim_as("host/r", 2).await;
    db.complete(&[Completion::new(
        claimed[0].process_id,
        "host/r",
        None,
        FinalStatus::Completed,
    )])
    .await
    .must(db, "CompleteProcesses");
    // Counters made wrong behind the trigger's back (what a TRUNCATE does on SQL Server).
    db.exec("DELETE FROM stage.ProcessCounter").await;
    let recount = db.call_sql("RecountCounters", &[]);
    assert_eq!(
        db.query_i64(&recount).await.must(db, "RecountCounters"),
        Some(4),
        "{db}: RecountCounters returns the rows it counted"
    );
    assert_eq!(
        db.count("stage.ProcessCounter").await,
        0,
        "{db}: no delta left"
    );
    assert_exact(db, &**db, "after RecountCounters").await;
}

/// The generated install script up to (not including) the first counters migration, V130:
/// the schema as a database had it before, recorded in refinery's history as `stagehand
/// migrate` records it, so that a later migrate applies V130 onwards to it.
fn script_before_counters(kind: BackendKind) -> String {
    let script = migrations::script(kind, 0);
    let cut = script
        .find("\n-- V130__")
        .expect("the install script holds V130");
    match kind {
        BackendKind::Postgres => format!("{}\nCOMMIT;\n", &script[..cut]),
        BackendKind::SqlServer => script[..cut].to_string(),
    }
}

async fn run_script(db: &TestDb, url: &str, script: &str) {
    match db.kind() {
        BackendKind::Postgres => {
            let path = std::env::temp_dir().join(format!("{}-before.sql", db.database_name()));
            std::fs::write(&path, script).expect("write the script");
            let out = Command::new("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
                .arg(&path)
                .output()
                .expect("run psql");
            let _ = std::fs::remove_file(&path);
            assert!(
                out.status.success(),
                "{db}: psql: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        BackendKind::SqlServer => {
            let store = open(url).await;
            for batch in script.split("\nGO\n").filter(|b| !b.trim().is_empty()) {
                store
                    .execute_sql(batch)
                    .await
                    .unwrap_or_else(|e| panic!("{db}: batch failed: {e}\n{batch:.400}"));
            }
        }
    }
}

async fn open(url: &str) -> Arc<dyn Backend> {
    connect(
        &DatabaseUrl::parse(url).expect("a test URL"),
        &ConnectOptions::default(),
    )
    .await
    .expect("connect")
}

conformance!(the_migration_counts_the_rows_that_were_there_before_it);
async fn the_migration_counts_the_rows_that_were_there_before_it(db: &TestDb) {
    let url = db.empty_database().await;
    run_script(db, &url, &script_before_counters(db.kind())).await;
    let old = open(&url).await;
    let pending = old
        .pending_migrations()
        .await
        .must(db, "pending migrations");
    assert!(
        pending.first().is_some_and(|m| m.starts_with("V130__")),
        "{db}: the database stands before the counters: {pending:?}"
    );
    assert_eq!(
        value(
            db,
            &*old,
            "SELECT COUNT(*) FROM information_schema.tables WHERE LOWER(table_name) = 'processcounter'"
        )
        .await,
        0,
        "{db}: no counters yet"
    );

    // Rows of every status, with workers and durations, under the old schema.
    old.save_task(&TaskRecord {
        overlap_policy: "parallel".into(),
        max_attempts: 2,
        retry_delay_seconds: 0,
        ..TaskRecord::new("cnt-old", "true")
    })
    .await
    .must(db, "SaveTask");
    for _ in 0..9 {
        old.register("cnt-old", None, None)
            .await
            .must(db, "RegisterProcess");
    }
    let claimed = old
        .claim(&stagehand::store::ClaimRequest {
            worker_name: "host/old",
            max_count: 7,
            lease_seconds: 60,
            slots: None,
        })
        .await
        .must(db, "ClaimProcesses");
    let statuses = [
        FinalStatus::Completed,
        FinalStatus::Completed,
        FinalStatus::Failed,
        FinalStatus::Cancelled,
        FinalStatus::Failed,
    ];
    let completions: Vec<Completion> = claimed
        .iter()
        .zip(statuses)
        .map(|(c, status)| {
            let mut completion = Completion::new(c.process_id, "host/old", None, status);
            completion.started_at = Some(Utc::now() - Duration::seconds(3));
            completion
        })
        .collect();
    old.complete(&completions)
        .await
        .must(db, "CompleteProcesses");
    let expected_rows = value(db, &*old, "SELECT COUNT(*) FROM stage.FileControl").await;
    assert_eq!(expected_rows, 9, "{db}");

    let applied = old.migrate().await.must(db, "migrate");
    assert!(
        applied.iter().any(|m| m.starts_with("V134__")),
        "{db}: the fill ran: {applied:?}"
    );
    let summary = old.status_summary().await.must(db, "ProcessStatusSummary");
    assert_eq!(
        summary.iter().map(|s| s.process_count).sum::<i64>(),
        expected_rows,
        "{db}: every row that was there is counted: {summary:?}"
    );
    assert_exact(db, &*old, "right after the migration").await;
    // And the counters go on from there.
    old.register("cnt-old", None, None)
        .await
        .must(db, "RegisterProcess");
    assert_exact(db, &*old, "after a registration on the migrated database").await;
}
