//! The monitoring views (ProcessStatusSummary, WorkerStatistics, OverdueProcesses) and
//! TableSpace, which Power BI / SSRS and `stagehand status` read.

#[macro_use]
mod common;

use common::{Must, TestDb, Unit};
use stagehand::store::{
    Completion, DriverPresence, DriverState, FinalStatus, LogLevel, StatusCount, TaskRecord,
    TaskSave, TriggerSave,
};

conformance!(status_summary_counts_each_status);
async fn status_summary_counts_each_status(db: &TestDb) {
    assert!(
        db.status_summary()
            .await
            .must(db, "ProcessStatusSummary")
            .is_empty(),
        "{db}: empty queue"
    );
    db.driver_task("mix", "parallel").await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(db.register_new("mix").await);
    }
    assert_eq!(db.claim_as("w", 5).await.len(), 5, "{db}: five claimed");
    let results = db
        .complete(&[
            Completion::new(ids[0], "w", None, FinalStatus::Completed),
            Completion::new(ids[1], "w", None, FinalStatus::Failed),
            Completion::new(ids[2], "w", None, FinalStatus::Cancelled),
        ])
        .await
        .must(db, "complete");
    assert!(results.iter().all(|r| r.accepted), "{db}: {results:?}");

    let mut summary = db.status_summary().await.must(db, "ProcessStatusSummary");
    summary.sort_by(|a, b| a.status.cmp(&b.status));
    let count = |status: &str, n: i64| StatusCount {
        status: status.into(),
        process_count: n,
    };
    assert_eq!(
        summary,
        vec![
            count("Cancelled", 1),
            count("Completed", 1),
            count("Failed", 1),
            count("InProgress", 2),
            count("Pending", 3)
        ],
        "{db}: one row per status present, with its count"
    );
}

conformance!(worker_statistics_per_worker);
async fn worker_statistics_per_worker(db: &TestDb) {
    db.driver_task("timed", "parallel").await;
    let mut finished = Vec::new();
    for (worker, seconds) in [("wa", 60), ("wa", 120), ("wb", 30)] {
        let id = db.register_new("timed").await;
        assert_eq!(
            db.claim_as(worker, 1).await.len(),
            1,
            "{db}: claimed by {worker}"
        );
        let done = db
            .complete(&[Completion::new(id, worker, None, FinalStatus::Completed)])
            .await
            .must(db, "complete");
        assert!(done[0].accepted, "{db}: {done:?}");
        db.exec(&format!(
            "UPDATE stage.FileControl SET EndTime = {} WHERE ProcessID = {id}",
            db.shifted("StartTime", seconds, Unit::Second)
        ))
        .await;
        finished.push(id);
    }
    // Still running: not a finished process of its worker.
    db.register_new("timed").await;
    assert_eq!(
        db.claim_as("wb", 1).await.len(),
        1,
        "{db}: a running one for wb"
    );

    let stats = db.worker_statistics().await.must(db, "WorkerStatistics");
    let summary: Vec<(&str, i64, i64, i64)> = stats
        .iter()
        .map(|s| {
            (
                s.worker_assigned.as_str(),
                s.processes_done,
                s.avg_duration_seconds.round() as i64,
                s.max_duration_seconds.round() as i64,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![("wa", 2, 90, 120), ("wb", 1, 30, 30)],
        "{db}: (worker, processes done, average s, max s) from EndTime - StartTime of finished runs"
    );
}

conformance!(overdue_processes_run_longer_than_their_timeout);
async fn overdue_processes_run_longer_than_their_timeout(db: &TestDb) {
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        timeout_minutes: Some(10),
        ..TaskRecord::new("bounded", "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    let late = db.register_new("bounded").await;
    let on_time = db.register_new("bounded").await;
    assert_eq!(db.claim_as("w", 2).await.len(), 2, "{db}: both claimed");
    let ext_late = db.register_new("external_late").await;
    let ext_on_time = db.register_new("external_on_time").await;
    assert_eq!(
        db.assign(2).await.must(db, "assign").len(),
        2,
        "{db}: both assigned"
    );
    for (id, minutes) in [(late, 11), (on_time, 9), (ext_late, 61), (ext_on_time, 59)] {
        db.exec(&format!(
            "UPDATE stage.FileControl SET StartTime = {} WHERE ProcessID = {id}",
            db.ago(minutes, Unit::Minute)
        ))
        .await;
    }
    let overdue = db.overdue_processes().await.must(db, "OverdueProcesses");
    let got: Vec<(i64, i32)> = overdue
        .iter()
        .map(|o| (o.process_id, o.timeout_minutes))
        .collect();
    assert_eq!(
        got,
        vec![(late, 10), (ext_late, 60)],
        "{db}: InProgress longer than the task's TimeoutMinutes (60 without one)"
    );
    assert!(
        (11..=12).contains(&overdue[0].running_minutes)
            && (61..=62).contains(&overdue[1].running_minutes),
        "{db}: RunningMinutes: {overdue:?}"
    );
    assert_eq!(
        overdue[0].worker_assigned.as_deref(),
        Some("w"),
        "{db}: {overdue:?}"
    );
    assert_eq!(
        overdue[1].process_name, "external_late",
        "{db}: {overdue:?}"
    );
}

conformance!(table_space_lists_every_stage_table_by_name);
async fn table_space_lists_every_stage_table_by_name(db: &TestDb) {
    // A row in every table, so every engine reports allocated space for each.
    db.driver_task("sized", "parallel").await;
    db.driver_heartbeat(
        &DriverPresence {
            driver_name: "host/sized".into(),
            host_name: None,
            process_id: None,
            version: None,
            workers: 1,
            clock_enabled: false,
            lease_seconds: 30,
        },
        DriverState::Starting,
    )
    .await
    .must(db, "DriverHeartbeat");
    let id = db.register_new("sized").await;
    db.log_message(Some(id), "hello", LogLevel::Info, None)
        .await
        .must(db, "LogMessage");
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Completed', StartTime = {old}, EndTime = {old} WHERE ProcessID = {id}",
        old = db.ago(12, Unit::Month)
    ))
    .await;
    let moved = db.rotate(6, 1000, None).await.must(db, "RotateHistory");
    assert_eq!(moved.processes_moved, 1, "{db}: {moved:?}");
    let pending = db.register_new("sized").await;
    let trigger = TriggerSave {
        trigger_index: 0,
        recurrence: "daily".into(),
        enabled: true,
        definition: r#"{"at":"06:00"}"#.into(),
        next_fire_at: None,
    };
    // Notify settings, and an outcome that enqueues a notification (V70..V78).
    let definition = r#"{"notify":{"onSuccess":true,"emails":["ops@example.com"]}}"#;
    db.save_tasks(&[TaskSave {
        task: TaskRecord {
            definition: Some(definition.into()),
            ..TaskRecord::new("sized", "true")
        },
        triggers: vec![trigger],
    }])
    .await
    .must(db, "SaveTasks");
    // Rolled up, then one more change: rows in both counter tables (V130).
    while !db
        .roll_up_counters(4000)
        .await
        .must(db, "RollUpCounters")
        .done
    {}
    db.exec(&db.seed_completion_sql(pending)).await;

    let space = db.table_space().await.must(db, "TableSpace");
    let names: Vec<&str> = space.iter().map(|t| t.table_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Driver",
            "FileControl",
            "FileControl_History",
            "LogPolicy",
            "Notification",
            "ProcessCounter",
            "ProcessCounterTotal",
            "ProcessLog",
            "ProcessLog_History",
            "ScheduleVersion",
            "Task",
            "TaskNotify",
            "TaskNotifyTarget",
            "TaskTrigger"
        ],
        "{db}: one row per table in schema stage, by name: {space:?}"
    );
    assert!(
        space.iter().all(|t| t.total_bytes > 0 && t.row_count >= 0),
        "{db}: every table has a nonzero size: {space:?}"
    );
}

conformance!(worker_statistics_count_from_the_command_start);
async fn worker_statistics_count_from_the_command_start(db: &TestDb) {
    db.driver_task("started", "parallel").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(db.register_new("started").await);
    }
    assert_eq!(db.claim_as("wc", 2).await.len(), 2, "{db}: claimed");
    let done = db
        .complete(&[
            Completion::new(ids[0], "wc", None, FinalStatus::Completed),
            Completion::new(ids[1], "wc", None, FinalStatus::Completed),
        ])
        .await
        .must(db, "complete");
    assert!(done.iter().all(|d| d.accepted), "{db}: {done:?}");
    // Both claimed 100 s before they ended; the first reported its command started 4 s
    // before the end, the second reported nothing (an external executor, say).
    db.exec(&format!(
        "UPDATE stage.FileControl SET StartTime = {}, CommandStartedAt = {} WHERE ProcessID = {}",
        db.shifted("EndTime", -100, Unit::Second),
        db.shifted("EndTime", -4, Unit::Second),
        ids[0]
    ))
    .await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET StartTime = {}, CommandStartedAt = NULL WHERE ProcessID = {}",
        db.shifted("EndTime", -100, Unit::Second),
        ids[1]
    ))
    .await;
    let stats = db.worker_statistics().await.must(db, "WorkerStatistics");
    let summary: Vec<(&str, i64, f64, f64)> = stats
        .iter()
        .map(|s| {
            (
                s.worker_assigned.as_str(),
                s.processes_done,
                s.avg_duration_seconds,
                s.max_duration_seconds,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![("wc", 2, 52.0, 100.0)],
        "{db}: EndTime - COALESCE(CommandStartedAt, StartTime): (4 + 100) / 2 and 100"
    );
}
