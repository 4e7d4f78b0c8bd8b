//! `stagehand task run|enable|disable`, `cancel` and `retry` as the real binary against a
//! real database: what they print, the one JSON document of `--json`, and the exit codes
//! (0 done, 1 error, 2 usage, 3 refused by the queue's rules).

#[macro_use]
mod common;

use common::{Must, TestDb};
use serde_json::Value;
use stagehand::store::{Completion, FinalStatus, ProcessStatus, TaskRecord};
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

/// Runs with `--json`: the exit code and the one JSON document printed.
fn json(db: &TestDb, args: &[&str]) -> (Option<i32>, Value) {
    let mut with = args.to_vec();
    with.push("--json");
    let out = stagehand(db, &with);
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{db}: {args:?} --json printed no single JSON document ({e}): {}{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code(), value)
}

async fn save(db: &TestDb, name: &str, enabled: bool) {
    let task = TaskRecord {
        enabled,
        ..TaskRecord::new(name, "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
}

conformance!(task_run_prints_the_process_and_exits_3_when_refused);
async fn task_run_prints_the_process_and_exits_3_when_refused(db: &TestDb) {
    save(db, "nightly", true).await;
    let out = stagehand(db, &["task", "run", "nightly"]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    let id = db
        .query_i64("SELECT MAX(ProcessID) FROM stage.FileControl")
        .await
        .must(db, "id")
        .expect("a run");
    assert_eq!(
        stdout(&out).trim(),
        format!("registered process {id} (nightly)"),
        "{db}"
    );

    let out = stagehand(db, &["task", "run", "nightly"]);
    assert_eq!(out.status.code(), Some(3), "{db}: a duplicate is refused");
    assert_eq!(
        stdout(&out).trim(),
        format!("refused: process {id} of nightly is already Pending"),
        "{db}"
    );
    let (code, doc) = json(db, &["task", "run", "nightly"]);
    assert_eq!(code, Some(3), "{db}: {doc}");
    assert_eq!(
        (&doc["processId"], &doc["registered"]),
        (&Value::from(id), &Value::from(false)),
        "{db}: {doc}"
    );
    assert!(
        doc["refused"]
            .as_str()
            .is_some_and(|r| r.contains("already Pending")),
        "{db}: {doc}"
    );

    save(db, "paused", false).await;
    let out = stagehand(db, &["task", "run", "paused"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{db}: a disabled task is refused"
    );
    assert!(
        stdout(&out).contains("paused is disabled") && stdout(&out).contains("--force"),
        "{db}: says why and what to do: {}",
        stdout(&out)
    );
    let (code, doc) = json(db, &["task", "run", "paused", "--force"]);
    assert_eq!(code, Some(0), "{db}: {doc}");
    assert_eq!(doc["registered"], true, "{db}: {doc}");
    assert_eq!(doc["processName"], "paused", "{db}: {doc}");
    assert!(doc.get("refused").is_none(), "{db}: {doc}");

    let out = stagehand(db, &["task", "run", "missing"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{db}: an unknown task is an error"
    );
    assert!(
        stderr(&out).contains("TaskName missing: no such task"),
        "{db}: {}",
        stderr(&out)
    );
}

conformance!(task_enable_and_disable_report_what_changed);
async fn task_enable_and_disable_report_what_changed(db: &TestDb) {
    save(db, "switch", true).await;
    let out = stagehand(db, &["task", "disable", "switch"]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "disabled task switch", "{db}");
    let tasks = db.tasks().await.must(db, "read tasks");
    assert!(!tasks[0].record.enabled, "{db}: disabled in the database");

    let (code, doc) = json(db, &["task", "disable", "switch"]);
    assert_eq!(code, Some(0), "{db}: {doc}");
    assert_eq!(
        (&doc["taskName"], &doc["enabled"], &doc["changed"]),
        (
            &Value::from("switch"),
            &Value::from(false),
            &Value::from(false)
        ),
        "{db}: {doc}"
    );
    let out = stagehand(db, &["task", "enable", "switch"]);
    assert_eq!(
        stdout(&out).trim(),
        "enabled task switch",
        "{db}: {}",
        stderr(&out)
    );

    let out = stagehand(db, &["task", "disable", "switch", "--trigger", "0"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{db}: the task has no trigger 0"
    );
    assert!(
        stderr(&out).contains("TriggerIndex 0: task switch has no such trigger"),
        "{db}: {}",
        stderr(&out)
    );
    let out = stagehand(db, &["task", "enable", "switch", "--trigger", "x"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{db}: not a number is a usage error"
    );
}

conformance!(cancel_and_retry_print_the_outcome_and_exit_3_when_refused);
async fn cancel_and_retry_print_the_outcome_and_exit_3_when_refused(db: &TestDb) {
    save(db, "job", true).await;
    let pending = db.register_new("job").await;
    let out = stagehand(db, &["cancel", &pending.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{db}: {}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("cancelled process {pending} (job)"),
        "{db}"
    );
    assert_eq!(db.row(pending).await.status, ProcessStatus::Cancelled);

    let (code, doc) = json(db, &["cancel", &pending.to_string()]);
    assert_eq!(code, Some(3), "{db}: a finished process is refused: {doc}");
    assert_eq!(doc["processId"], pending, "{db}: {doc}");
    assert!(
        doc["refused"]
            .as_str()
            .is_some_and(|r| r.contains("is Cancelled")),
        "{db}: {doc}"
    );

    let running = db.register_new("job").await;
    assert_eq!(db.claim_as("w1", 1).await.len(), 1);
    let (code, doc) = json(db, &["cancel", &running.to_string()]);
    assert_eq!(code, Some(0), "{db}: {doc}");
    assert_eq!(
        (&doc["status"], &doc["cancelRequested"]),
        (&Value::from("InProgress"), &Value::from(true)),
        "{db}: a running one is asked to stop: {doc}"
    );

    // The cancelled one is retried; a second retry meets the pending run (skip).
    let out = stagehand(db, &["retry", &pending.to_string()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{db}: job is still running (skip): {}",
        stdout(&out)
    );
    db.complete(&[Completion::new(running, "w1", None, FinalStatus::Cancelled)])
        .await
        .must(db, "CompleteProcesses");
    let (code, doc) = json(db, &["retry", &pending.to_string()]);
    assert_eq!(code, Some(0), "{db}: {doc}");
    assert_eq!(
        (&doc["retryOf"], &doc["registered"], &doc["status"]),
        (
            &Value::from(pending),
            &Value::from(true),
            &Value::from("Pending")
        ),
        "{db}: {doc}"
    );
    let retry = doc["processId"].as_i64().expect("processId");
    assert_eq!(db.row(retry).await.process_name, "job");
    let out = stagehand(db, &["retry", &running.to_string()]);
    assert_eq!(out.status.code(), Some(3), "{db}: one is pending already");
    assert_eq!(
        stdout(&out).trim(),
        format!("refused: process {retry} of job is already Pending"),
        "{db}"
    );

    let out = stagehand(db, &["retry", &retry.to_string()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{db}: a pending one is not retried"
    );
    assert!(
        stdout(&out).contains("only a Failed or Cancelled process can be retried"),
        "{db}: {}",
        stdout(&out)
    );
    let out = stagehand(db, &["cancel", "999999"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{db}: an unknown process is an error"
    );
    assert!(
        stderr(&out).contains("ProcessID 999999: no such process"),
        "{db}: {}",
        stderr(&out)
    );
    let out = stagehand(db, &["retry", "abc"]);
    assert_eq!(out.status.code(), Some(2), "{db}: a usage error");
}
