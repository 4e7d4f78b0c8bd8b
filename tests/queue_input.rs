//! Bad input: refused with an error naming the argument and nothing written; or, for text
//! that merely looks dangerous (quotes, SQL fragments, unicode), stored verbatim and never
//! executed.

#[macro_use]
mod common;

use common::{assert_invalid_argument, Must, TestDb};
use stagehand::store::{ClaimRequest, LogLevel, ProcessStatus, TaskRecord};

/// Rows in the tables a refused call must not touch.
async fn footprint(db: &TestDb) -> [i64; 3] {
    [
        db.count("stage.FileControl").await,
        db.count("stage.ProcessLog").await,
        db.count("stage.Task").await,
    ]
}

const TRICKY: [&str; 6] = [
    "x'; DROP TABLE stage.FileControl; --",
    "Robert'); --",
    "Zoë Ünïcødé 東京 naïve 🚀",
    "tab\tnew\nline \"double\" and `back` quotes",
    "back\\slash %_ [like] *wild*",
    "'; EXEC xp_cmdshell 'dir'; SELECT '",
];

conformance!(bad_process_names_are_refused);
async fn bad_process_names_are_refused(db: &TestDb) {
    let before = footprint(db).await;
    let null = db.call_sql("RegisterProcess", &["NULL"]);
    assert_invalid_argument(
        db,
        db.query_i64(&null).await,
        "ProcessName",
        "RegisterProcess(NULL)",
    );
    for name in ["", " ", "   \t ", &"n".repeat(256), &"é".repeat(256)] {
        let shown = format!(
            "RegisterProcess({} characters {:?}...)",
            name.chars().count(),
            name.chars().next()
        );
        assert_invalid_argument(
            db,
            db.register(name, None, None).await,
            "ProcessName",
            &shown,
        );
    }
    assert_eq!(
        footprint(db).await,
        before,
        "{db}: refused registrations write nothing"
    );

    for name in ["n".repeat(255), "é".repeat(255)] {
        let registered = db
            .register(&name, None, None)
            .await
            .must(db, "RegisterProcess 255 characters");
        assert!(
            registered.registered,
            "{db}: a 255-character name is accepted"
        );
        assert_eq!(
            db.row(registered.process_id).await.process_name,
            name,
            "{db}: stored whole"
        );
    }
}

conformance!(tricky_names_and_parameters_are_stored_verbatim);
async fn tricky_names_and_parameters_are_stored_verbatim(db: &TestDb) {
    for (i, name) in TRICKY.iter().enumerate() {
        let parameters =
            serde_json::json!({ "file": name, "n": i, "note": "Robert'); --" }).to_string();
        let registered = db
            .register(name, Some(&parameters), None)
            .await
            .must(db, "RegisterProcess");
        assert!(
            registered.registered,
            "{db}: {name:?} is a name like any other: {registered:?}"
        );
        assert_eq!(
            &registered.process_name, name,
            "{db}: the returned name is verbatim"
        );
        let row = db.row(registered.process_id).await;
        assert_eq!(
            (&row.process_name, row.parameters.as_deref()),
            (&name.to_string(), Some(parameters.as_str()))
        );
    }
    // JSON text is stored as given, whitespace and key order included.
    let odd = "{ \"b\" : [1, 2 ,3],\n  \"a\":\"x'; DROP TABLE stage.FileControl; --\" }";
    let registered = db
        .register("odd_json", Some(odd), None)
        .await
        .must(db, "RegisterProcess");
    assert_eq!(
        db.row(registered.process_id).await.parameters.as_deref(),
        Some(odd),
        "{db}: verbatim JSON"
    );

    let worker = "w'; DROP TABLE stage.Task; --";
    db.driver_task("quoted_worker", "parallel").await;
    let id = db.register_new("quoted_worker").await;
    let claimed = db.claim_as(worker, 1).await;
    assert_eq!(claimed.len(), 1, "{db}: {claimed:?}");
    assert_eq!(
        claimed[0].worker_assigned, worker,
        "{db}: the worker name is stored verbatim"
    );
    let beat = db.heartbeat(worker, &[id], 60).await.must(db, "Heartbeat");
    assert!(beat[0].held, "{db}: {beat:?}");

    assert_eq!(
        db.count("stage.FileControl").await,
        TRICKY.len() as i64 + 2,
        "{db}: the table is still there"
    );
    assert_eq!(
        db.count("stage.Task").await,
        1,
        "{db}: stage.Task is still there"
    );
}

conformance!(invalid_json_parameters_are_refused);
async fn invalid_json_parameters_are_refused(db: &TestDb) {
    let before = footprint(db).await;
    for parameters in [
        "{not json",
        "[1, 2",
        "x'; DROP TABLE stage.FileControl; --",
        "{\"a\": }",
    ] {
        let result = db.register("with_params", Some(parameters), None).await;
        assert_invalid_argument(
            db,
            result,
            "Parameters",
            &format!("RegisterProcess parameters {parameters:?}"),
        );
    }
    assert_eq!(footprint(db).await, before, "{db}: nothing written");
}

conformance!(bad_claim_and_assignment_arguments_are_refused);
async fn bad_claim_and_assignment_arguments_are_refused(db: &TestDb) {
    db.driver_task("claimable", "parallel").await;
    db.register_new("claimable").await;
    db.register_new("external_one").await;
    let before = footprint(db).await;
    for (worker, max_count, lease_seconds, argument) in [
        ("", 1, 60, "WorkerName"),
        ("  ", 1, 60, "WorkerName"),
        ("w", 0, 60, "MaxCount"),
        ("w", -5, 60, "MaxCount"),
        ("w", 1001, 60, "MaxCount"),
        ("w", 1, 0, "LeaseSeconds"),
    ] {
        let request = ClaimRequest {
            worker_name: worker,
            max_count,
            lease_seconds,
            slots: None,
        };
        let call = format!("ClaimProcesses({worker:?}, {max_count}, {lease_seconds})");
        assert_invalid_argument(db, db.claim(&request).await, argument, &call);
    }
    for workers in [-1, 1001] {
        let call = format!("AssignProcessToWorker({workers})");
        assert_invalid_argument(db, db.assign(workers).await, "NumberOfWorkers", &call);
    }
    let null = db.call_sql("AssignProcessToWorker", &["NULL"]);
    assert_invalid_argument(
        db,
        db.query_i64(&null).await,
        "NumberOfWorkers",
        "AssignProcessToWorker(NULL)",
    );
    assert_eq!(footprint(db).await, before, "{db}: nothing written");
    assert_eq!(
        db.count("stage.FileControl WHERE Status = 'Pending'").await,
        2,
        "{db}: nothing claimed"
    );
}

conformance!(bad_completions_are_refused_whole);
async fn bad_completions_are_refused_whole(db: &TestDb) {
    db.driver_task("finishing", "parallel").await;
    let id = db.register_new("finishing").await;
    assert_eq!(db.claim_as("w", 1).await.len(), 1, "{db}: claimed");
    let good = format!(r#"{{"processId": {id}, "workerName": "w", "status": "Completed"}}"#);
    let before = footprint(db).await;
    for (json, argument, mentions) in [
        ("[{".to_string(), "Completions", ""),
        (
            format!(r#"[{good}, {{"processId": {id}, "workerName": "w", "status": "Done"}}]"#),
            "Completions[",
            "status",
        ),
        (
            format!(r#"[{good}, {{"workerName": "w", "status": "Completed"}}]"#),
            "Completions[",
            "processId",
        ),
        (
            format!(r#"[{good}, {{"processId": {id}, "status": "Completed"}}]"#),
            "Completions[",
            "workerName",
        ),
    ] {
        let sql = db.call_sql("CompleteProcesses", &[&db.text(&json)]);
        let result = db.query_i64(&sql).await;
        assert!(
            matches!(&result, Err(stagehand::store::StoreError::InvalidArgument(m)) if m.contains(mentions)),
            "{db}: CompleteProcesses({json}) must name {mentions:?}, got {result:?}"
        );
        assert_invalid_argument(db, result, argument, &format!("CompleteProcesses({json})"));
    }
    let single = db.call_sql(
        "CompleteProcess",
        &[&id.to_string(), &db.text("w"), &db.text("Done")],
    );
    assert_invalid_argument(
        db,
        db.query_i64(&single).await,
        "Status",
        "CompleteProcess(status 'Done')",
    );
    assert_eq!(
        footprint(db).await,
        before,
        "{db}: nothing written, the valid element included"
    );
    assert_eq!(
        db.row(id).await.status,
        stagehand::store::ProcessStatus::InProgress,
        "{db}: still running"
    );
}

conformance!(bad_rotation_arguments_are_refused);
async fn bad_rotation_arguments_are_refused(db: &TestDb) {
    for (months, batch, argument) in [
        (-1, 1000, "RetentionMonths"),
        (6, 0, "BatchSize"),
        (6, 4001, "BatchSize"),
    ] {
        let call = format!("RotateHistory({months}, {batch})");
        assert_invalid_argument(db, db.rotate(months, batch, None).await, argument, &call);
    }
}

conformance!(bad_task_definitions_are_refused);
async fn bad_task_definitions_are_refused(db: &TestDb) {
    let base = TaskRecord::new("defined", "true");
    let cases: Vec<(TaskRecord, &str)> = vec![
        (TaskRecord::new("", "true"), "TaskName"),
        (TaskRecord::new(&"t".repeat(256), "true"), "TaskName"),
        (TaskRecord::new("defined", ""), "Command"),
        (
            TaskRecord {
                overlap_policy: "sometimes".into(),
                ..base.clone()
            },
            "OverlapPolicy",
        ),
        (
            TaskRecord {
                max_attempts: 0,
                ..base.clone()
            },
            "MaxAttempts",
        ),
        (
            TaskRecord {
                max_attempts: 101,
                ..base.clone()
            },
            "MaxAttempts",
        ),
        (
            TaskRecord {
                executor: "robot".into(),
                ..base.clone()
            },
            "Executor",
        ),
        (
            TaskRecord {
                timeout_minutes: Some(0),
                ..base.clone()
            },
            "TimeoutMinutes",
        ),
        (
            TaskRecord {
                retry_delay_seconds: -1,
                ..base.clone()
            },
            "RetryDelaySeconds",
        ),
    ];
    for (task, argument) in cases {
        let call = format!("SaveTask({argument} invalid)");
        assert_invalid_argument(db, db.save_task(&task).await, argument, &call);
    }
    assert_eq!(db.count("stage.Task").await, 0, "{db}: no task written");
}

/// Names and messages made only of blanks: space, tab, CR and LF, on both engines.
const BLANKS: [&str; 4] = ["\t", " \t ", "\r\n", "\n \t\r"];

conformance!(names_of_only_blanks_are_refused);
async fn names_of_only_blanks_are_refused(db: &TestDb) {
    db.driver_task("blank_target", "parallel").await;
    let id = db.register_new("blank_target").await;
    assert_eq!(db.claim_as("w", 1).await.len(), 1, "{db}: claimed");
    let before = footprint(db).await;
    for blank in BLANKS {
        let shown = format!("{blank:?}");
        assert_invalid_argument(
            db,
            db.register(blank, None, None).await,
            "ProcessName",
            &format!("RegisterProcess({shown})"),
        );
        let request = ClaimRequest {
            worker_name: blank,
            max_count: 1,
            lease_seconds: 60,
            slots: None,
        };
        assert_invalid_argument(
            db,
            db.claim(&request).await,
            "WorkerName",
            &format!("ClaimProcesses({shown})"),
        );
        assert_invalid_argument(
            db,
            db.heartbeat(blank, &[id], 60).await,
            "WorkerName",
            &format!("Heartbeat({shown})"),
        );
        assert_invalid_argument(
            db,
            db.release(blank, &[id], None).await,
            "WorkerName",
            &format!("ReleaseProcesses({shown})"),
        );
        assert_invalid_argument(
            db,
            db.worker_task(blank).await,
            "WorkerName",
            &format!("ProcessWorkerTask({shown})"),
        );
        let complete = db.call_sql(
            "CompleteProcess",
            &[&id.to_string(), &db.text(blank), &db.text("Completed")],
        );
        assert_invalid_argument(
            db,
            db.query_i64(&complete).await,
            "WorkerName",
            &format!("CompleteProcess({shown})"),
        );
        assert_invalid_argument(
            db,
            db.log_message(Some(id), blank, LogLevel::Info, None).await,
            "Message",
            &format!("LogMessage({shown})"),
        );
        assert_invalid_argument(
            db,
            db.save_task(&TaskRecord::new(blank, "true")).await,
            "TaskName",
            &format!("SaveTask({shown})"),
        );
        assert_invalid_argument(
            db,
            db.save_task(&TaskRecord::new("blank_command", blank)).await,
            "Command",
            &format!("SaveTask(command {shown})"),
        );
        assert_invalid_argument(
            db,
            db.delete_task(blank).await,
            "TaskName",
            &format!("DeleteTask({shown})"),
        );
    }
    assert_eq!(footprint(db).await, before, "{db}: nothing written");
    assert_eq!(
        db.row(id).await.status,
        ProcessStatus::InProgress,
        "{db}: still running"
    );
}

conformance!(codes_are_exact_case_without_trailing_blanks);
async fn codes_are_exact_case_without_trailing_blanks(db: &TestDb) {
    db.driver_task("coded", "parallel").await;
    let id = db.register_new("coded").await;
    assert_eq!(db.claim_as("w", 1).await.len(), 1, "{db}: claimed");
    let before = footprint(db).await;
    for policy in ["Skip", "SKIP", "skip ", " skip", "killprevious"] {
        let task = TaskRecord {
            overlap_policy: policy.into(),
            ..TaskRecord::new("coded_2", "true")
        };
        let call = format!("SaveTask(overlapPolicy {policy:?})");
        assert_invalid_argument(db, db.save_task(&task).await, "OverlapPolicy", &call);
    }
    for executor in ["Driver", "driver ", "EXTERNAL"] {
        let task = TaskRecord {
            executor: executor.into(),
            ..TaskRecord::new("coded_2", "true")
        };
        let call = format!("SaveTask(executor {executor:?})");
        assert_invalid_argument(db, db.save_task(&task).await, "Executor", &call);
    }
    for status in ["completed", "Completed ", "FAILED"] {
        let single = db.call_sql(
            "CompleteProcess",
            &[&id.to_string(), &db.text("w"), &db.text(status)],
        );
        let call = format!("CompleteProcess(status {status:?})");
        assert_invalid_argument(db, db.query_i64(&single).await, "Status", &call);
        let json = format!(r#"[{{"processId": {id}, "workerName": "w", "status": "{status}"}}]"#);
        let batch = db.call_sql("CompleteProcesses", &[&db.text(&json)]);
        let call = format!("CompleteProcesses(status {status:?})");
        assert_invalid_argument(
            db,
            db.query_i64(&batch).await,
            "Completions[0].status",
            &call,
        );
    }
    for level in ["info", "Info ", "WARNING"] {
        let sql = db.call_sql(
            "LogMessage",
            &[&id.to_string(), &db.text("hello"), &db.text(level)],
        );
        let call = format!("LogMessage(level {level:?})");
        assert_invalid_argument(db, db.query_i64(&sql).await, "LogLevel", &call);
    }
    assert_eq!(footprint(db).await, before, "{db}: nothing written");
}

conformance!(json_scalars_are_not_valid_json);
async fn json_scalars_are_not_valid_json(db: &TestDb) {
    let before = footprint(db).await;
    // Valid JSON is an object or an array, as ISJSON has it on SQL Server.
    for scalar in ["5", "\"text\"", "true", "null"] {
        assert_invalid_argument(
            db,
            db.register("scalar", Some(scalar), None).await,
            "Parameters is not valid JSON",
            &format!("RegisterProcess(parameters {scalar})"),
        );
        let task = TaskRecord {
            definition: Some(scalar.into()),
            ..TaskRecord::new("scalar", "true")
        };
        assert_invalid_argument(
            db,
            db.save_task(&task).await,
            "Definition is not valid JSON",
            &format!("SaveTask(definition {scalar})"),
        );
        let sql = db.call_sql("CompleteProcesses", &[&db.text(scalar)]);
        assert_invalid_argument(
            db,
            db.query_i64(&sql).await,
            "Completions is not valid JSON",
            &format!("CompleteProcesses({scalar})"),
        );
    }
    for (argument, message) in [
        ("NULL", "Completions must be a JSON array"),
        ("'{}'", "Completions must be a JSON array"),
    ] {
        let sql = db.call_sql("CompleteProcesses", &[argument]);
        assert_invalid_argument(
            db,
            db.query_i64(&sql).await,
            message,
            &format!("CompleteProcesses({argument})"),
        );
    }
    assert_eq!(footprint(db).await, before, "{db}: nothing written");
}

conformance!(integers_must_be_written_as_integers);
async fn integers_must_be_written_as_integers(db: &TestDb) {
    db.driver_task("counted", "parallel").await;
    let id = db.register_new("counted").await;
    assert_eq!(db.claim_as("w", 1).await.len(), 1, "{db}: claimed");
    let before = footprint(db).await;
    // An exponent or a fraction is a JSON number but not an integer as written.
    for number in ["1e2", "1.0", "1E0", "\"5\""] {
        for procedure in ["Heartbeat", "ReleaseProcesses"] {
            let sql = db.call_sql(
                procedure,
                &[&db.text("w"), &db.text(&format!("[{id}, {number}]"))],
            );
            assert_invalid_argument(
                db,
                db.query_i64(&sql).await,
                "ProcessIDs",
                &format!("{procedure}([{id}, {number}])"),
            );
        }
        for (key, json) in [
            (
                "processId",
                format!(r#"[{{"processId": {number}, "workerName": "w", "status": "Completed"}}]"#),
            ),
            (
                "attempt",
                format!(
                    r#"[{{"processId": {id}, "workerName": "w", "status": "Completed", "attempt": {number}}}]"#
                ),
            ),
            (
                "exitCode",
                format!(
                    r#"[{{"processId": {id}, "workerName": "w", "status": "Completed", "exitCode": {number}}}]"#
                ),
            ),
        ] {
            let sql = db.call_sql("CompleteProcesses", &[&db.text(&json)]);
            assert_invalid_argument(
                db,
                db.query_i64(&sql).await,
                &format!("Completions[0].{key}"),
                &format!("CompleteProcesses({json})"),
            );
        }
    }
    assert_eq!(footprint(db).await, before, "{db}: nothing written");
    let beat = db.heartbeat("w", &[id], 60).await.must(db, "Heartbeat");
    assert!(beat[0].held, "{db}: still held: {beat:?}");
}
