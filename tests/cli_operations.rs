//! The operations commands end to end: migrate, register, status, logs, logs export,
//! rotate and reset-stuck, as the real binary against a real database.

#[macro_use]
mod common;

use common::{TestDb, Unit};
use stagehand::store::{ClaimRequest, ProcessStatus};
use std::process::{Command, Output};

fn stagehand(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env("STAGEHAND_DATABASE_URL", db.url())
        .output()
        .expect("run stagehand")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

conformance!(migrate_twice_changes_nothing_and_register_reports_refusals);
async fn migrate_twice_changes_nothing_and_register_reports_refusals(db: &TestDb) {
    let out = stagehand(db, &["migrate"]);
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "schema is up to date",
        "{db}: a migrated database needs nothing"
    );

    let out = stagehand(
        db,
        &[
            "register",
            "import-orders",
            "--params",
            r#"{"day":"2024-12-06"}"#,
        ],
    );
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    assert!(
        stdout(&out).starts_with("registered process"),
        "{db}: {}",
        stdout(&out)
    );
    let out = stagehand(db, &["register", "import-orders"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{db}: a refused duplicate exits with 3 (refused), not 2 (usage)"
    );
    assert!(
        stdout(&out).contains("already Pending"),
        "{db}: {}",
        stdout(&out)
    );
    let out = stagehand(db, &["register", "bad", "--params", "{not json"]);
    assert!(
        !out.status.success(),
        "{db}: invalid parameters are refused"
    );
    assert!(
        stderr(&out).contains("Parameters is not valid JSON"),
        "{db}: {}",
        stderr(&out)
    );
}

conformance!(status_shows_counts_running_workers_overdue_and_tables);
async fn status_shows_counts_running_workers_overdue_and_tables(db: &TestDb) {
    db.driver_task("report", "parallel").await;
    for _ in 0..3 {
        db.register_new("report").await;
    }
    let request = ClaimRequest {
        worker_name: "host-a/7",
        max_count: 1,
        lease_seconds: 60,
        slots: Some(&["1".to_string()]),
    };
    let claimed = db.claim(&request).await.expect("claim");
    db.exec(&format!(
        "UPDATE stage.FileControl SET StartTime = {} WHERE ProcessID = {}",
        db.ago(90, Unit::Minute),
        claimed[0].process_id
    ))
    .await;

    let out = stagehand(db, &["status", "--json", "--alert-mb", "0"]);
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    let status: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON");
    let count = |s: &str| {
        status["counts"]
            .as_array()
            .and_then(|c| c.iter().find(|x| x["status"] == s))
            .map(|x| x["processCount"].as_i64().unwrap_or(0))
            .unwrap_or(0)
    };
    assert_eq!(
        (count("Pending"), count("InProgress")),
        (2, 1),
        "{db}: counts per status: {status}"
    );
    assert_eq!(
        status["running"][0]["workerAssigned"], "host-a/7/1",
        "{db}: what runs where"
    );
    assert_eq!(
        status["overdue"][0]["processId"], claimed[0].process_id,
        "{db}: overdue after 60 minutes"
    );
    assert!(
        status["tables"].as_array().is_some_and(|t| t.len() >= 5),
        "{db}: table sizes"
    );
    assert!(
        status["alerts"].as_array().is_some_and(|a| !a.is_empty()),
        "{db}: tables over the threshold are flagged"
    );

    let out = stagehand(db, &["status"]);
    let text = stdout(&out);
    for expected in [
        "Processes by status",
        "Running now (1)",
        "host-a/7/1",
        "Overdue (1)",
        "FileControl",
    ] {
        assert!(
            text.contains(expected),
            "{db}: the terminal view shows {expected}:\n{text}"
        );
    }
}

conformance!(logs_filter_and_export);
async fn logs_filter_and_export(db: &TestDb) {
    let id = db.register_new("logged").await;
    db.log_message(
        Some(id),
        "disk almost full",
        stagehand::store::LogLevel::Warning,
        None,
    )
    .await
    .expect("log");
    db.log_message(
        Some(id),
        "line one, \"quoted\"",
        stagehand::store::LogLevel::Error,
        Some("detail\nsecond line"),
    )
    .await
    .expect("log");

    let out = stagehand(
        db,
        &["logs", "--process", &id.to_string(), "--level", "warning"],
    );
    let text = stdout(&out);
    assert!(
        text.contains("disk almost full") && text.contains("quoted"),
        "{db}: warnings and errors: {text}"
    );
    assert!(
        !text.contains("Registered"),
        "{db}: Info rows are filtered out: {text}"
    );

    let dir = std::env::temp_dir();
    let csv_path = dir.join(format!("stagehand-logs-{}-{}.csv", std::process::id(), id));
    let out = stagehand(
        db,
        &[
            "logs",
            "export",
            "--format",
            "csv",
            "--output",
            csv_path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    let mut reader = csv::Reader::from_path(&csv_path).expect("a CSV file");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    assert_eq!(rows.len(), 3, "{db}: every row exported");
    assert_eq!(
        &rows[2][4], "line one, \"quoted\"",
        "{db}: quoting survives"
    );
    assert_eq!(
        &rows[2][5], "detail\nsecond line",
        "{db}: multi-line detail survives"
    );

    let json_path = dir.join(format!("stagehand-logs-{}-{}.json", std::process::id(), id));
    let out = stagehand(
        db,
        &[
            "logs",
            "export",
            "--format",
            "json",
            "--output",
            json_path.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    let exported: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).expect("JSON");
    assert_eq!(
        exported.as_array().map(Vec::len),
        Some(3),
        "{db}: every row exported as JSON"
    );
    assert_eq!(exported[1]["message"], "disk almost full");
}

conformance!(rotate_and_reset_stuck_from_the_command_line);
async fn rotate_and_reset_stuck_from_the_command_line(db: &TestDb) {
    db.driver_task("old-work", "parallel").await;
    let old = db.register_new("old-work").await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Completed', EndTime = {} WHERE ProcessID = {old}",
        db.ago(7, Unit::Month)
    ))
    .await;
    let out = stagehand(db, &["rotate", "--retention-months", "6"]);
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    assert!(
        stdout(&out).contains("1 processes"),
        "{db}: {}",
        stdout(&out)
    );
    assert!(
        db.process(old).await.expect("read").is_none(),
        "{db}: moved out of FileControl"
    );
    assert_eq!(
        db.count(&format!(
            "stage.FileControl_History WHERE ProcessID = {old}"
        ))
        .await,
        1
    );

    let stuck = db.register_new("old-work").await;
    db.claim_as("crashed-host/1", 1).await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET LeaseExpiresAt = {} WHERE ProcessID = {stuck}",
        db.ago(5, Unit::Minute)
    ))
    .await;
    let out = stagehand(db, &["reset-stuck"]);
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    assert!(
        stdout(&out).contains("crashed-host/1"),
        "{db}: names the worker: {}",
        stdout(&out)
    );
    assert_eq!(
        db.row(stuck).await.status,
        ProcessStatus::Failed,
        "{db}: its only attempt was used up"
    );
}
