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

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}): {}", stdout(out)))
}

/// A file with a task that runs `true`, every day.
fn task_file(id: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "stagehand-contract-{}-{id}.json",
        std::process::id()
    ));
    std::fs::write(
        &path,
        format!(
            r#"{{ "id": "{id}", "command": "true", "triggers": [{{ "recurrence": "daily", "start": "2024-01-01T06:00:00" }}] }}"#
        ),
    )
    .expect("write a task file");
    path
}

conformance!(every_command_prints_one_json_document_and_documented_exit_codes);
async fn every_command_prints_one_json_document_and_documented_exit_codes(db: &TestDb) {
    let out = stagehand(db, &["--json", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    assert_eq!(json(&out)["applied"], serde_json::json!([]), "{db}");

    // register: the row as JSON; 3 when refused, with the row still printed.
    let out = stagehand(db, &["register", "ghost", "--external", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    let registered = json(&out);
    assert_eq!(registered["registered"], true, "{db}: {registered}");
    assert_eq!(registered["processName"], "ghost", "{db}");
    assert!(registered["processId"].as_i64().is_some(), "{db}");
    let out = stagehand(db, &["--json", "register", "ghost", "--external"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{db}: refused: {}",
        stderr(&out)
    );
    assert_eq!(json(&out)["registered"], false, "{db}");

    // task add / update / import / remove.
    let file = task_file("contract-daily");
    let path = file.to_str().unwrap();
    let out = stagehand(db, &["--json", "task", "add", path]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    assert_eq!(
        json(&out)["tasks"][0]["action"],
        "added",
        "{db}: {}",
        stdout(&out)
    );
    let out = stagehand(db, &["--json", "task", "update", path]);
    assert_eq!(json(&out)["tasks"][0]["action"], "updated", "{db}");
    let out = stagehand(db, &["--json", "task", "import", path]);
    assert_eq!(json(&out)["tasks"][0]["id"], "contract-daily", "{db}");
    let out = stagehand(db, &["--json", "task", "list"]);
    assert_eq!(json(&out)[0]["id"], "contract-daily", "{db}");
    let out = stagehand(db, &["--json", "task", "remove", "contract-daily"]);
    assert_eq!(json(&out)["removed"], "contract-daily", "{db}");
    let out = stagehand(db, &["--json", "task", "remove", "contract-daily"]);
    assert_eq!(out.status.code(), Some(1), "{db}: no such task is an error");

    // rotate and reset-stuck.
    let out = stagehand(db, &["--json", "rotate"]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    assert_eq!(json(&out)["processesMoved"], 0, "{db}");
    let out = stagehand(db, &["--json", "reset-stuck"]);
    assert_eq!(json(&out)["reset"], serde_json::json!([]), "{db}");

    // A usage error is clap's 2, whatever the database.
    let out = stagehand(db, &["logs", "--tail=-3"]);
    assert_eq!(out.status.code(), Some(2), "{db}: {}", stderr(&out));
    assert!(stderr(&out).contains("--tail"), "{db}: {}", stderr(&out));
}

conformance!(status_check_exits_4_on_failed_or_overdue_work);
async fn status_check_exits_4_on_failed_or_overdue_work(db: &TestDb) {
    let out = stagehand(db, &["status", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    assert!(
        stdout(&out).starts_with("STAGEHAND OK"),
        "{db}: {}",
        stdout(&out)
    );

    db.driver_task("nightly", "parallel").await;
    // Disabled: a schedule with no live driver is a problem of its own (checked below).
    db.exec(&format!(
        "UPDATE stage.Task SET Enabled = {} WHERE TaskName = 'nightly'",
        db.boolean(false)
    ))
    .await;
    let failed = db.register_new("nightly").await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Failed', ExitCode = 7, StartTime = {}, EndTime = {} WHERE ProcessID = {failed}",
        db.ago(10, Unit::Minute),
        db.ago(5, Unit::Minute)
    ))
    .await;
    let out = stagehand(db, &["status", "--check"]);
    assert_eq!(out.status.code(), Some(4), "{db}: {}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("STAGEHAND ALERT - 0 overdue, 1 failed"),
        "{db}: {text}"
    );
    assert!(
        text.contains(&format!("failed: process {failed} (nightly)"))
            && text.contains("exit code 7"),
        "{db}: {text}"
    );
    let out = stagehand(db, &["--json", "status", "--check"]);
    assert_eq!(out.status.code(), Some(4), "{db}");
    let status = json(&out);
    assert_eq!(status["failed"][0]["processId"], failed, "{db}: {status}");
    assert_eq!(status["problems"].as_array().map(Vec::len), Some(1), "{db}");
    // Older failures are history, not an alert; without --check, status is informative only.
    let out = stagehand(db, &["status", "--check", "--failed-since", "1m"]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stdout(&out));
    let out = stagehand(db, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{db}");
    assert!(stdout(&out).contains("Failed since"), "{db}");

    // An enabled schedule and no live driver: nothing fires.
    db.exec(&format!(
        "UPDATE stage.Task SET Enabled = {} WHERE TaskName = 'nightly'",
        db.boolean(true)
    ))
    .await;
    let out = stagehand(db, &["status", "--check", "--failed-since", "1m"]);
    assert_eq!(out.status.code(), Some(4), "{db}: {}", stdout(&out));
    assert!(
        stdout(&out).contains("no live driver"),
        "{db}: {}",
        stdout(&out)
    );
}

conformance!(register_warns_when_no_task_will_run_the_name);
async fn register_warns_when_no_task_will_run_the_name(db: &TestDb) {
    let out = stagehand(db, &["register", "nightly-bakup"]);
    assert_eq!(out.status.code(), Some(0), "{db}: still registered");
    assert!(
        stderr(&out).contains(
            "no task named nightly-bakup: it will wait for AssignProcessToWorker/an SSIS or Agent executor"
        ),
        "{db}: {}",
        stderr(&out)
    );
    let out = stagehand(db, &["register", "ssis-import", "--external"]);
    assert!(
        !stderr(&out).contains("no task named"),
        "{db}: --external silences it: {}",
        stderr(&out)
    );
    // A login that may only register (no SELECT on stage.Task) still registers.
    let submitter = db.url_as("stage_submitter").await;
    let out = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["--json", "register", "from-an-application"])
        .env("STAGEHAND_DATABASE_URL", &submitter)
        .output()
        .expect("run stagehand");
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    assert_eq!(json(&out)["registered"], true, "{db}");

    db.driver_task("nightly-backup", "parallel").await;
    let out = stagehand(db, &["register", "nightly-backup"]);
    assert!(
        out.status.success() && !stderr(&out).contains("no task named"),
        "{db}: a task's name: {}",
        stderr(&out)
    );
}

conformance!(logs_by_task_tail_age_history_and_standard_output);
async fn logs_by_task_tail_age_history_and_standard_output(db: &TestDb) {
    use stagehand::store::LogLevel;
    db.driver_task("alpha", "parallel").await;
    db.driver_task("beta", "parallel").await;
    let alpha = db.register_new("alpha").await;
    let beta = db.register_new("beta").await;
    for (id, message) in [
        (alpha, "alpha one"),
        (beta, "beta one"),
        (alpha, "alpha two"),
    ] {
        db.log_message(Some(id), message, LogLevel::Info, None)
            .await
            .expect("log");
    }
    let old = db
        .log_message(Some(beta), "beta old", LogLevel::Info, None)
        .await
        .expect("log")
        .expect("written: the default level is Info");
    db.exec(&format!(
        "UPDATE stage.ProcessLog SET LogTime = {} WHERE LogID = {old}",
        db.ago(2, Unit::Day)
    ))
    .await;

    let out = stagehand(db, &["logs", "--task", "alpha"]);
    let text = stdout(&out);
    assert!(
        text.contains("alpha one") && text.contains("alpha two") && !text.contains("beta"),
        "{db}: --task: {text}"
    );
    assert!(
        text.lines()
            .all(|l| l.contains(&format!("#{alpha} alpha "))),
        "{db}: the process name on every row: {text}"
    );

    let out = stagehand(db, &["logs", "--tail", "1"]);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "{db}: --tail 1: {text}");
    assert!(text.contains("beta old"), "{db}: the newest row: {text}");

    let out = stagehand(db, &["--json", "logs", "--tail", "2", "--task", "alpha"]);
    let rows = json(&out);
    assert_eq!(
        rows.as_array().map(|r| r
            .iter()
            .map(|x| x["message"].as_str().unwrap_or("").to_string())
            .collect::<Vec<_>>()),
        Some(vec!["alpha one".to_string(), "alpha two".to_string()]),
        "{db}: the last two, oldest first: {rows}"
    );
    assert_eq!(rows[0]["processName"], "alpha", "{db}");

    let out = stagehand(db, &["logs", "--since", "1d", "--task", "beta"]);
    let text = stdout(&out);
    assert!(
        text.contains("beta one") && !text.contains("beta old"),
        "{db}: --since 1d: {text}"
    );
    let out = stagehand(db, &["logs", "--since", "3d", "--task", "beta"]);
    assert!(stdout(&out).contains("beta old"), "{db}: --since 3d");

    // Rotated: only --history shows the rows.
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Completed', EndTime = {} WHERE ProcessID = {beta}",
        db.ago(7, Unit::Month)
    ))
    .await;
    let out = stagehand(db, &["rotate", "--retention-months", "6"]);
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    let out = stagehand(db, &["logs", "--task", "beta"]);
    assert_eq!(stdout(&out), "", "{db}: beta's rows were rotated");
    let out = stagehand(db, &["logs", "--history", "--task", "beta"]);
    let text = stdout(&out);
    assert!(
        text.contains("beta one") && text.contains("beta old") && text.contains("beta"),
        "{db}: --history: {text}"
    );

    let out = stagehand(db, &["logs", "export", "--format", "json", "--output", "-"]);
    assert!(out.status.success(), "{db}: {}", stderr(&out));
    let exported = json(&out);
    assert!(
        exported
            .as_array()
            .is_some_and(|rows| rows.iter().any(|r| r["message"] == "alpha two")),
        "{db}: --output - is standard output: {exported}"
    );
}

conformance!(logs_follow_json_prints_one_object_per_line);
async fn logs_follow_json_prints_one_object_per_line(db: &TestDb) {
    use std::io::{BufRead, BufReader};
    let id = db.register_new("followed").await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["--json", "logs", "--follow", "--process", &id.to_string()])
        .env("STAGEHAND_DATABASE_URL", db.url())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start logs --follow");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(std::time::Duration::from_secs(30))
            .expect("a line from logs --follow")
    };
    let first: serde_json::Value = serde_json::from_str(&next()).expect("a JSON object per line");
    assert_eq!(first["processId"], id, "{db}: {first}");
    db.log_message(Some(id), "later", stagehand::store::LogLevel::Info, None)
        .await
        .expect("log");
    let later: serde_json::Value = serde_json::from_str(&next()).expect("a JSON object per line");
    assert_eq!(later["message"], "later", "{db}: {later}");
    assert_eq!(later["processName"], "followed", "{db}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn run_refuses_impossible_flags_naming_them() {
    // A database that does not exist: if a flag got through, `run` would exit 1, not 2.
    let url = "postgres://postgres@127.0.0.1:1/never";
    for (args, named) in [
        (&["--workers", "0"][..], "--workers"),
        (&["--workers", "1001"], "--workers"),
        (&["--workers", "100000"], "--workers"),
        (&["--heartbeat-ms", "0"], "--heartbeat-ms"),
        (&["--lease-seconds", "0"], "--lease-seconds"),
        (
            &["--lease-seconds", "1", "--heartbeat-ms", "1000"],
            "shorter than two heartbeats",
        ),
        (
            &["--poll-min-ms", "500", "--poll-max-ms", "100"],
            "--poll-max-ms",
        ),
        (&["--reset-every-seconds", "0"], "--reset-every-seconds"),
        (&["--retention-months=-1"], "--retention-months"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stagehand"))
            .arg("run")
            .args(args)
            .env("STAGEHAND_DATABASE_URL", url)
            .output()
            .expect("run stagehand");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?} is a usage error: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains(named),
            "{args:?}: the message names {named}: {}",
            stderr(&out)
        );
    }
}

// script(1) provides the terminal.
#[cfg(unix)]
conformance!(logs_on_a_terminal_show_the_last_rows_by_default);
#[cfg(unix)]
async fn logs_on_a_terminal_show_the_last_rows_by_default(db: &TestDb) {
    let id = db.register_new("chatty").await;
    for n in 1..=205 {
        db.log_message(
            Some(id),
            &format!("line {n:03}"),
            stagehand::store::LogLevel::Info,
            None,
        )
        .await
        .expect("log");
    }
    // `script` runs the command on a pseudo-terminal, as a user at a shell would.
    let command = format!("{} logs --process {id}", env!("CARGO_BIN_EXE_stagehand"));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("STAGEHAND_DATABASE_URL", db.url())
        .output()
        .expect("run script(1)");
    let text = stdout(&out);
    assert!(out.status.success(), "{db}: {text}");
    let rows = text.lines().filter(|l| l.contains("line ")).count();
    assert_eq!(rows, 200, "{db}: the last 200 rows on a terminal: {text}");
    assert!(
        text.contains("line 205") && !text.contains("line 005"),
        "{db}: the newest ones: {text}"
    );
    assert!(
        text.contains("--tail 0 for all"),
        "{db}: says there are more: {text}"
    );
    // Piped, everything.
    let out = stagehand(db, &["logs", "--process", &id.to_string()]);
    assert_eq!(
        stdout(&out).lines().filter(|l| l.contains("line ")).count(),
        205,
        "{db}"
    );
}
