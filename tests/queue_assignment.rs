//! The seed's push model: AssignProcessToWorker hands the oldest external processes to
//! free Worker_1..Worker_N, ProcessWorkerTask tells a worker what it holds, and the
//! seed's own UPDATE completes it.

#[macro_use]
mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{Must, TestDb};
use stagehand::store::{ClaimedProcess, ProcessStatus};
use tokio::sync::Barrier;

/// ProcessWorkerTask's result set, for counting its rows on SQL Server.
const WORKER_TASK_COLUMNS: &str =
    "ProcessID bigint, ProcessName nvarchar(255), Parameters nvarchar(max), Attempt int";

/// Ends every active process so the next scenario starts from an empty queue.
async fn clear_queue(db: &TestDb) {
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Cancelled', EndTime = {} WHERE Status IN ('Pending', 'InProgress')",
        db.now_sql()
    ))
    .await;
}

async fn register_many(db: &TestDb, prefix: &str, count: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..count {
        ids.push(db.register_new(&format!("{prefix}_{i}")).await);
    }
    ids
}

conformance!(assignments_are_min_of_free_workers_and_pending);
async fn assignments_are_min_of_free_workers_and_pending(db: &TestDb) {
    for workers in [0, 1, 3, 10] {
        for pending in [0usize, 2, 10] {
            let case = format!("{workers} workers, {pending} pending");
            let ids = register_many(db, &format!("job_{workers}_{pending}"), pending).await;
            let logs_before = db.count("stage.ProcessLog").await;

            let mut assigned = db.assign(workers).await.must(db, "AssignProcessToWorker");
            assigned.sort_by_key(|a| a.process_id);
            let expected = (workers as usize).min(pending);
            assert_eq!(
                assigned.len(),
                expected,
                "{db}: {case}: assignments = min(free workers, pending)"
            );
            for (k, a) in assigned.iter().enumerate() {
                assert_eq!(
                    a.process_id, ids[k],
                    "{db}: {case}: the oldest processes go first: {assigned:?}"
                );
                assert_eq!(
                    a.worker_assigned,
                    format!("Worker_{}", k + 1),
                    "{db}: {case}: the lowest free worker numbers go first: {assigned:?}"
                );
                assert_eq!(
                    a.attempt, 1,
                    "{db}: {case}: an assignment counts an attempt: {a:?}"
                );
                assert_eq!(
                    a.lease_expires_at, None,
                    "{db}: {case}: no lease for external executors"
                );
                let row = db.row(a.process_id).await;
                assert_eq!(
                    row.status,
                    ProcessStatus::InProgress,
                    "{db}: {case}: {row:?}"
                );
                assert_eq!(
                    row.worker_assigned.as_deref(),
                    Some(a.worker_assigned.as_str())
                );
                assert!(
                    row.start_time.is_some(),
                    "{db}: {case}: StartTime set: {row:?}"
                );
            }
            assert_eq!(
                db.count("stage.FileControl WHERE Status = 'InProgress'")
                    .await,
                expected as i64,
                "{db}: {case}: InProgress rows"
            );
            assert_eq!(
                db.count("stage.ProcessLog").await - logs_before,
                expected as i64,
                "{db}: {case}: one log row per assignment"
            );
            clear_queue(db).await;
        }
    }
}

conformance!(busy_workers_are_skipped);
async fn busy_workers_are_skipped(db: &TestDb) {
    let first = register_many(db, "first", 3).await;
    let assigned = db.assign(2).await.must(db, "AssignProcessToWorker");
    assert_eq!(assigned.len(), 2, "{db}: {assigned:?}");

    let later = register_many(db, "later", 2).await;
    let assigned = db.assign(3).await.must(db, "AssignProcessToWorker");
    let got: Vec<(i64, &str)> = assigned
        .iter()
        .map(|a| (a.process_id, a.worker_assigned.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(first[2], "Worker_3")],
        "{db}: Worker_1 and Worker_2 are busy; only Worker_3 gets the oldest pending process"
    );
    assert!(
        db.assign(3)
            .await
            .must(db, "AssignProcessToWorker")
            .is_empty(),
        "{db}: all three workers busy: nothing assigned"
    );
    assert_eq!(db.row(later[0]).await.status, ProcessStatus::Pending);

    db.exec(&db.seed_completion_sql(first[0])).await;
    let assigned = db.assign(3).await.must(db, "AssignProcessToWorker");
    let got: Vec<(i64, &str)> = assigned
        .iter()
        .map(|a| (a.process_id, a.worker_assigned.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(later[0], "Worker_1")],
        "{db}: the freed Worker_1 gets the next one"
    );
}

conformance!(process_worker_task_returns_exactly_one_row);
async fn process_worker_task_returns_exactly_one_row(db: &TestDb) {
    let idle_call = [db.text("Worker_7")];
    let idle_args: Vec<&str> = idle_call.iter().map(String::as_str).collect();
    assert_eq!(
        db.rows_returned("ProcessWorkerTask", &idle_args, WORKER_TASK_COLUMNS)
            .await,
        1,
        "{db}: an idle worker gets exactly one row"
    );
    let idle = db
        .worker_task("Worker_7")
        .await
        .must(db, "ProcessWorkerTask");
    assert_eq!(
        idle,
        Default::default(),
        "{db}: the idle worker's row is all NULL"
    );

    let registered = db
        .register("export_orders", Some(r#"{"day":"2024-05-01"}"#), None)
        .await
        .must(db, "register");
    db.assign(1).await.must(db, "AssignProcessToWorker");
    let busy_call = [db.text("Worker_1")];
    let busy_args: Vec<&str> = busy_call.iter().map(String::as_str).collect();
    assert_eq!(
        db.rows_returned("ProcessWorkerTask", &busy_args, WORKER_TASK_COLUMNS)
            .await,
        1,
        "{db}: a busy worker gets exactly one row"
    );
    let busy = db
        .worker_task("Worker_1")
        .await
        .must(db, "ProcessWorkerTask");
    assert_eq!(
        busy.process_id,
        Some(registered.process_id),
        "{db}: the worker's process: {busy:?}"
    );
    assert_eq!(busy.process_name.as_deref(), Some("export_orders"));
    assert_eq!(busy.parameters.as_deref(), Some(r#"{"day":"2024-05-01"}"#));
    assert_eq!(busy.attempt, Some(1));
}

conformance!(concurrent_assignments_never_double_assign);
async fn concurrent_assignments_never_double_assign(db: &TestDb) {
    for round in 0..6 {
        register_many(db, &format!("round{round}"), 10).await;
        let barrier = Arc::new(Barrier::new(2));
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let (store, barrier, label) = (db.store(), barrier.clone(), db.to_string());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .assign(4)
                        .await
                        .must(&label, "concurrent AssignProcessToWorker")
                })
            })
            .collect();
        let mut all: Vec<ClaimedProcess> = Vec::new();
        for caller in callers {
            all.extend(
                caller
                    .await
                    .unwrap_or_else(|e| panic!("{db}: an assigning task failed: {e}")),
            );
        }
        let processes: HashSet<i64> = all.iter().map(|a| a.process_id).collect();
        let workers: HashSet<&str> = all.iter().map(|a| a.worker_assigned.as_str()).collect();
        assert_eq!(
            processes.len(),
            all.len(),
            "{db}: round {round}: a process assigned twice: {all:?}"
        );
        assert_eq!(
            workers.len(),
            all.len(),
            "{db}: round {round}: a worker given two processes: {all:?}"
        );
        assert_eq!(
            all.len(),
            4,
            "{db}: round {round}: 4 free workers, 10 pending: 4 assignments in all"
        );
        assert_eq!(
            db.count("stage.FileControl WHERE Status = 'InProgress'")
                .await,
            4,
            "{db}: round {round}: InProgress rows"
        );
        clear_queue(db).await;
    }
}

conformance!(seed_completion_statement_frees_the_worker);
async fn seed_completion_statement_frees_the_worker(db: &TestDb) {
    let ids = register_many(db, "ssis", 2).await;
    let assigned = db.assign(1).await.must(db, "AssignProcessToWorker");
    assert_eq!(assigned.len(), 1, "{db}: {assigned:?}");
    assert_eq!(assigned[0].process_id, ids[0]);
    assert!(
        db.assign(1).await.must(db, "assign").is_empty(),
        "{db}: Worker_1 is busy"
    );

    let task = db
        .worker_task("Worker_1")
        .await
        .must(db, "ProcessWorkerTask");
    let process_id = task
        .process_id
        .unwrap_or_else(|| panic!("{db}: Worker_1 holds a process"));
    let updated = db.exec(&db.seed_completion_sql(process_id)).await;
    assert_eq!(updated, 1, "{db}: the seed's UPDATE changes one row");
    let row = db.row(process_id).await;
    assert_eq!(row.status, ProcessStatus::Completed, "{db}: {row:?}");
    assert!(row.end_time.is_some(), "{db}: EndTime set: {row:?}");
    assert_eq!(
        db.worker_task("Worker_1")
            .await
            .must(db, "ProcessWorkerTask"),
        Default::default(),
        "{db}: the worker is idle again"
    );
    let next = db.assign(1).await.must(db, "AssignProcessToWorker");
    assert_eq!(next.len(), 1, "{db}: {next:?}");
    assert_eq!(
        (next[0].process_id, next[0].worker_assigned.as_str()),
        (ids[1], "Worker_1")
    );
}
