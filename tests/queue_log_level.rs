//! The minimum log level (V154..V164) on the hot path: registration (one and many),
//! completion with its output, LogMessage, and the fire of a trigger; the database's
//! level (stage.SetMinLogLevel) and a task's own `minLogLevel` over it.

#[macro_use]
mod common;

use common::{assert_invalid_argument, Must, TestDb};
use stagehand::store::{
    Completion, FinalStatus, FireMode, LogLevel, LogRow, TaskRecord, TaskSave, TriggerSave,
};

async fn set_level(db: &TestDb, level: LogLevel) {
    db.set_min_log_level(level).await.must(db, "SetMinLogLevel");
}

/// A parallel driver task whose JSON says `minLogLevel` (None: no level of its own).
async fn task_at(db: &TestDb, name: &str, level: Option<&str>) {
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        definition: level.map(|level| format!(r#"{{"minLogLevel":"{level}"}}"#)),
        ..TaskRecord::new(name, "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
}

/// Registers a run of `name`, claims it and completes it with output on both streams.
async fn run_once(db: &TestDb, name: &str, status: FinalStatus) -> (i64, Vec<LogRow>) {
    let id = db.register_new(name).await;
    let claimed = db.claim_as("w", 1).await;
    assert_eq!(claimed.len(), 1, "{db}: the run is claimed");
    let completion = Completion {
        stdout: Some("out".into()),
        stderr: Some("err".into()),
        ..Completion::new(id, "w", Some(1), status)
    };
    let results = db
        .complete(&[completion])
        .await
        .must(db, "CompleteProcesses");
    assert!(results[0].accepted, "{db}: {results:?}");
    (id, db.logs(id).await)
}

fn messages(logs: &[LogRow]) -> Vec<(&str, &str)> {
    logs.iter()
        .map(|l| (l.message.as_str(), l.log_level.as_str()))
        .collect()
}

conformance!(the_database_level_drops_the_rows_below_it);
async fn the_database_level_drops_the_rows_below_it(db: &TestDb) {
    task_at(db, "nightly", None).await;
    let (_, logs) = run_once(db, "nightly", FinalStatus::Completed).await;
    assert_eq!(
        messages(&logs),
        [
            ("Registered", "Info"),
            ("Completed", "Info"),
            ("stdout", "Info"),
            ("stderr", "Warning")
        ],
        "{db}: at Info (the default) every row is written"
    );

    set_level(db, LogLevel::Warning).await;
    let (_, logs) = run_once(db, "nightly", FinalStatus::Completed).await;
    assert_eq!(
        messages(&logs),
        [("stderr", "Warning")],
        "{db}: at Warning no Info row is written"
    );
    let (_, logs) = run_once(db, "nightly", FinalStatus::Failed).await;
    assert_eq!(
        messages(&logs),
        [("Failed", "Error"), ("stderr", "Warning")],
        "{db}: at Warning failures and warnings are"
    );

    set_level(db, LogLevel::Error).await;
    let (_, logs) = run_once(db, "nightly", FinalStatus::Failed).await;
    assert_eq!(
        messages(&logs),
        [("Failed", "Error")],
        "{db}: at Error only errors are written"
    );
    // A refused completion's warning follows the level too.
    let results = db
        .complete(&[Completion::new(
            logs[0].process_id.expect("a process row"),
            "w",
            Some(1),
            FinalStatus::Completed,
        )])
        .await
        .must(db, "CompleteProcesses");
    assert!(!results[0].accepted, "{db}: a finished run is refused");
    assert_eq!(db.logs(logs[0].process_id.unwrap()).await.len(), 1, "{db}");

    set_level(db, LogLevel::Info).await;
    let (_, logs) = run_once(db, "nightly", FinalStatus::Completed).await;
    assert_eq!(
        logs.len(),
        4,
        "{db}: back at Info every row is written again"
    );
}

conformance!(a_task_level_goes_over_the_database_level);
async fn a_task_level_goes_over_the_database_level(db: &TestDb) {
    task_at(db, "audited", Some("Info")).await;
    task_at(db, "quiet", Some("Warning")).await;
    task_at(db, "plain", None).await;

    set_level(db, LogLevel::Error).await;
    let (_, audited) = run_once(db, "audited", FinalStatus::Completed).await;
    assert_eq!(
        audited.len(),
        4,
        "{db}: a task at Info keeps its rows while the database is at Error: {audited:?}"
    );
    let (_, plain) = run_once(db, "plain", FinalStatus::Completed).await;
    assert!(plain.is_empty(), "{db}: {plain:?}");

    set_level(db, LogLevel::Info).await;
    let (_, quiet) = run_once(db, "quiet", FinalStatus::Completed).await;
    assert_eq!(
        messages(&quiet),
        [("stderr", "Warning")],
        "{db}: a task at Warning drops its Info rows while the database is at Info"
    );

    // The bulk path (RegisterProcesses) asks the same rule for each element's task.
    set_level(db, LogLevel::Warning).await;
    let bulk = r#"[{"name":"audited"},{"name":"plain"},{"name":"no-such-task"}]"#;
    let registered = db.register_many(bulk).await.must(db, "RegisterProcesses");
    let logged: Vec<usize> = {
        let mut counts = Vec::new();
        for row in &registered {
            assert!(row.registered, "{db}: {row:?}");
            counts.push(db.logs(row.process_id).await.len());
        }
        counts
    };
    assert_eq!(
        logged,
        [1, 0, 0],
        "{db}: only the task at Info logs its registration"
    );
}

conformance!(log_message_below_the_level_writes_nothing);
async fn log_message_below_the_level_writes_nothing(db: &TestDb) {
    task_at(db, "loader", None).await;
    let id = db.register_new("loader").await;
    set_level(db, LogLevel::Warning).await;
    let before = db.count("stage.ProcessLog").await;
    let skipped = db
        .log_message(Some(id), "rows read: 10", LogLevel::Info, None)
        .await
        .must(db, "LogMessage");
    assert_eq!(skipped, None, "{db}: no LogID for a row not written");
    let free = db
        .log_message(None, "no process", LogLevel::Info, None)
        .await
        .must(db, "LogMessage");
    assert_eq!(free, None, "{db}: the database's level for no process");
    assert_eq!(db.count("stage.ProcessLog").await, before, "{db}");
    let kept = db
        .log_message(Some(id), "3 rows rejected", LogLevel::Warning, None)
        .await
        .must(db, "LogMessage");
    assert!(kept.is_some(), "{db}: a Warning is kept at Warning");
    assert_eq!(db.count("stage.ProcessLog").await, before + 1, "{db}");
}

conformance!(set_min_log_level_checks_and_reports);
async fn set_min_log_level_checks_and_reports(db: &TestDb) {
    let change = db
        .set_min_log_level(LogLevel::Warning)
        .await
        .must(db, "SetMinLogLevel");
    assert_eq!(
        (change.min_log_level, change.previous_min_log_level),
        (LogLevel::Warning, LogLevel::Info),
        "{db}"
    );
    for bad in ["'warning'", "'Debug'", "NULL", "'Error '"] {
        let sql = db.call_sql("SetMinLogLevel", &[bad]);
        assert_invalid_argument(
            db,
            db.query_i64(&sql).await,
            "MinLogLevel",
            &format!("SetMinLogLevel({bad})"),
        );
    }
    let levels = db.log_levels().await.must(db, "log levels");
    assert_eq!(
        levels.database,
        LogLevel::Warning,
        "{db}: a refusal changes nothing"
    );

    // A DBA who deleted the row meant Info; setting a level puts it back.
    db.exec("DELETE FROM stage.LogPolicy").await;
    assert_eq!(
        db.log_levels().await.must(db, "log levels").database,
        LogLevel::Info,
        "{db}"
    );
    let change = db
        .set_min_log_level(LogLevel::Error)
        .await
        .must(db, "SetMinLogLevel");
    assert_eq!(change.previous_min_log_level, LogLevel::Info, "{db}");
    assert_eq!(db.count("stage.LogPolicy").await, 1, "{db}");

    task_at(db, "own-level", Some("Warning")).await;
    task_at(db, "bad-level", Some("loud")).await;
    let levels = db.log_levels().await.must(db, "log levels");
    assert_eq!(levels.database, LogLevel::Error, "{db}");
    assert_eq!(
        levels
            .tasks
            .iter()
            .map(|t| (t.task_name.as_str(), t.min_log_level))
            .collect::<Vec<_>>(),
        [("own-level", LogLevel::Warning)],
        "{db}: a level the JSON misspells is no level (the database's applies)"
    );
}

conformance!(a_fire_logs_what_the_level_keeps);
async fn a_fire_logs_what_the_level_keeps(db: &TestDb) {
    let at = |hour| {
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2030, 1, 1, hour, 0, 0)
            .single()
            .expect("a valid test instant")
    };
    let saved = db
        .save_tasks(&[TaskSave {
            task: TaskRecord {
                overlap_policy: "parallel".into(),
                executor: "external".into(),
                ..TaskRecord::new("fired", "true")
            },
            triggers: vec![TriggerSave {
                trigger_index: 0,
                recurrence: "daily".into(),
                enabled: true,
                definition: r#"{"at":"06:00"}"#.into(),
                next_fire_at: None,
            }],
        }])
        .await
        .must(db, "SaveTasks");
    let trigger_id = db
        .triggers()
        .await
        .must(db, "read triggers")
        .into_iter()
        .find(|t| t.task_id == saved[0].task_id)
        .expect("the task's trigger")
        .trigger_id;
    let missed_rows =
        || db.count("stage.ProcessLog WHERE ProcessID IS NULL AND Message LIKE 'Task fired:%'");
    let fire = |hour, mode| db.fire_trigger(trigger_id, at(hour), None, mode, 3);

    // The missed-occurrence warning is about the task (no process): its level applies.
    set_level(db, LogLevel::Error).await;
    fire(6, FireMode::Skip).await.must(db, "FireTrigger skip");
    assert_eq!(missed_rows().await, 0, "{db}: a Warning at Error");
    set_level(db, LogLevel::Warning).await;
    fire(7, FireMode::Skip).await.must(db, "FireTrigger skip");
    assert_eq!(missed_rows().await, 1, "{db}: a Warning at Warning");

    // A late run: its Info row follows the level as its registration does.
    let late = fire(8, FireMode::Late).await.must(db, "FireTrigger late");
    let id = late.process_id.expect("a late run");
    assert!(db.logs(id).await.is_empty(), "{db}: no Info row at Warning");
    set_level(db, LogLevel::Info).await;
    let late = fire(9, FireMode::Late).await.must(db, "FireTrigger late");
    let id = late.process_id.expect("a late run");
    assert_eq!(
        messages(&db.logs(id).await)
            .iter()
            .map(|(_, level)| *level)
            .collect::<Vec<_>>(),
        ["Info", "Info"],
        "{db}: Registered and the late-run row at Info"
    );
}
