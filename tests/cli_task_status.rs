//! `stagehand task list`, `task show` of a task that is no longer valid, and
//! `task history`, as the real binary against a real database.

#[macro_use]
mod common;

use common::{TestDb, Unit};
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn stagehand(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env("STAGEHAND_DATABASE_URL", db.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stagehand");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait for stagehand")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}): {}", text(&out.stdout)))
}

const REPORT: &str = r#"{
  "id": "daily-report",
  "command": "true",
  "ifRunning": "parallel",
  "timeZone": "America/Sao_Paulo",
  "triggers": [ { "recurrence": "daily", "start": "2024-12-06T06:00:00" } ]
}"#;

/// Registers a run of `name` and finishes it as an external executor would.
async fn finished(db: &TestDb, name: &str, status: &str, minutes_ago: i64, exit_code: i32) -> i64 {
    let id = db.register_new(name).await;
    let end = db.ago(minutes_ago, Unit::Minute);
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = '{status}', EndTime = {end}, StartTime = {start}, \
         ExitCode = {exit_code} WHERE ProcessID = {id}",
        start = db.shifted(&end, -75, Unit::Second)
    ))
    .await;
    id
}

/// The cells of a table row (borders only: cells are apart by at least two spaces).
fn cells(line: &str) -> Vec<&str> {
    line.trim_matches(|c: char| c == '│' || c.is_whitespace())
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

conformance!(task_list_shows_next_last_result_and_failures);
async fn task_list_shows_next_last_result_and_failures(db: &TestDb) {
    let added = stagehand(db, &["task", "add", "-"], Some(REPORT));
    assert!(added.status.success(), "{db}: {}", text(&added.stderr));
    finished(db, "daily-report", "Completed", 180, 0).await;
    finished(db, "daily-report", "Failed", 120, 3).await;
    let last = finished(db, "daily-report", "Failed", 60, 4).await;
    db.register_new("daily-report").await;

    let out = stagehand(db, &["task", "list"], None);
    assert!(out.status.success(), "{db}: {}", text(&out.stderr));
    let table = text(&out.stdout);
    let header = table
        .lines()
        .find(|l| l.contains("ID"))
        .unwrap_or_else(|| panic!("{db}: no header: {table}"));
    let columns: Vec<&str> = header
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(
        columns,
        ["ID", "NEXT", "LEFT", "LAST", "PASSED", "RESULT", "FAILURES", "NOW", "VALID"],
        "{db}: {table}"
    );
    let line = table
        .lines()
        .find(|l| l.contains("daily-report"))
        .unwrap_or_else(|| panic!("{db}: no row: {table}"));
    let cells = cells(line);
    assert_eq!(cells.len(), 9, "{db}: {line}");
    assert!(
        cells[1].ends_with(" 06:00:00 -03"),
        "{db}: NEXT in the task's zone (06:00 in São Paulo): {line}"
    );
    assert!(
        cells[4].ends_with(" ago") && cells[4].starts_with("1h "),
        "{db}: PASSED since the last run started an hour ago: {line}"
    );
    assert_eq!(cells[5], "Failed (exit 4)", "{db}: RESULT: {line}");
    assert_eq!(
        cells[6], "2",
        "{db}: FAILURES since the last success: {line}"
    );
    assert_eq!(cells[7], "1 pending", "{db}: NOW: {line}");
    assert_eq!(cells[8], "yes", "{db}: VALID: {line}");

    let out = stagehand(db, &["--json", "task", "list"], None);
    assert!(out.status.success(), "{db}: {}", text(&out.stderr));
    let list = json(&out);
    let task = &list[0];
    assert_eq!(task["id"], "daily-report", "{db}: {list}");
    assert_eq!(task["lastRun"]["processId"], last, "{db}: {list}");
    assert_eq!(task["lastRun"]["status"], "Failed", "{db}: {list}");
    assert_eq!(task["lastRun"]["exitCode"], 4, "{db}: {list}");
    assert_eq!(task["lastRun"]["durationSeconds"], 75.0, "{db}: {list}");
    assert_eq!(task["consecutiveFailures"], 2, "{db}: {list}");
    assert_eq!(task["last24h"]["completed"], 1, "{db}: {list}");
    assert_eq!(task["last24h"]["failed"], 2, "{db}: {list}");
    assert_eq!(task["pending"], 1, "{db}: {list}");
    assert_eq!(task["valid"], true, "{db}: {list}");
    let local = task["nextFireAtLocal"].as_str().unwrap_or_default();
    assert!(
        local.ends_with("T06:00:00-03:00"),
        "{db}: the next fire time in the task's zone: {list}"
    );

    // A DBA breaks the task with SQL: it is listed as not valid, and `task show` prints
    // it with its problems.
    db.exec("UPDATE stage.Task SET TimeZone = 'Mars/Olympus_Mons' WHERE TaskName = 'daily-report'")
        .await;
    let out = stagehand(db, &["task", "list"], None);
    assert!(out.status.success(), "{db}: {}", text(&out.stderr));
    let listed = text(&out.stdout);
    let line = listed
        .lines()
        .find(|l| l.contains("daily-report") && l.contains('│'))
        .unwrap_or_else(|| panic!("{db}: no row: {listed}"));
    assert!(
        line.trim_end_matches('│').trim_end().ends_with("NO"),
        "{db}: {listed}"
    );
    assert!(
        listed.contains("task daily-report is stored but no longer valid"),
        "{db}: {listed}"
    );
    let out = stagehand(db, &["--json", "task", "list"], None);
    let list = json(&out);
    assert_eq!(list[0]["valid"], false, "{db}: {list}");
    assert!(
        list[0]["problems"][0]
            .as_str()
            .is_some_and(|p| p.starts_with("timeZone")),
        "{db}: {list}"
    );

    let shown = stagehand(db, &["task", "show", "daily-report"], None);
    assert!(
        shown.status.success(),
        "{db}: shown, not refused: {}",
        text(&shown.stderr)
    );
    let stored = json(&shown);
    assert_eq!(
        stored["timeZone"], "Mars/Olympus_Mons",
        "{db}: printed as stored"
    );
    assert_eq!(stored["command"], "true", "{db}: {stored}");
    let problems = text(&shown.stderr);
    assert!(
        problems.contains("no longer valid") && problems.contains("timeZone"),
        "{db}: its problems are named: {problems}"
    );
    let shown = stagehand(db, &["--json", "task", "show", "daily-report"], None);
    let document = json(&shown);
    assert_eq!(document["valid"], false, "{db}: {document}");
    assert_eq!(
        document["task"]["timeZone"], "Mars/Olympus_Mons",
        "{db}: {document}"
    );
    assert!(
        document["problems"][0]
            .as_str()
            .is_some_and(|p| p.starts_with("timeZone")),
        "{db}: {document}"
    );
}

conformance!(task_history_lists_runs_newest_first);
async fn task_history_lists_runs_newest_first(db: &TestDb) {
    let added = stagehand(db, &["task", "add", "-"], Some(REPORT));
    assert!(added.status.success(), "{db}: {}", text(&added.stderr));
    let old = finished(db, "daily-report", "Completed", 600, 0).await;
    let moved = db.rotate(0, 1000, None).await;
    assert!(
        moved.is_ok_and(|m| m.processes_moved == 1),
        "{db}: one run in history"
    );
    let failed = finished(db, "daily-report", "Failed", 60, 9).await;
    let pending = db.register_new("daily-report").await;

    let out = stagehand(db, &["--json", "task", "history", "daily-report"], None);
    assert!(out.status.success(), "{db}: {}", text(&out.stderr));
    let runs = json(&out);
    let got: Vec<(i64, &str, bool)> = runs
        .as_array()
        .expect("an array")
        .iter()
        .map(|r| {
            (
                r["processId"].as_i64().unwrap_or(0),
                r["status"].as_str().unwrap_or(""),
                r["inHistory"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (pending, "Pending", false),
            (failed, "Failed", false),
            (old, "Completed", true)
        ],
        "{db}: {runs}"
    );
    assert_eq!(runs[1]["exitCode"], 9, "{db}: {runs}");

    let out = stagehand(
        db,
        &["task", "history", "daily-report", "--limit", "2"],
        None,
    );
    assert!(out.status.success(), "{db}: {}", text(&out.stderr));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("Pending") || l.contains("Failed") || l.contains("Completed"))
        .collect();
    assert_eq!(rows.len(), 2, "{db}: --limit 2: {table}");
    assert!(
        rows[1].contains(&failed.to_string()) && rows[1].contains("1min 15s"),
        "{db}: the failed run with its duration: {table}"
    );

    let out = stagehand(db, &["task", "history", "nobody"], None);
    assert_eq!(out.status.code(), Some(1), "{db}");
    assert!(
        text(&out.stderr).contains("no task nobody"),
        "{db}: {}",
        text(&out.stderr)
    );
    let out = stagehand(
        db,
        &["task", "history", "daily-report", "--limit", "0"],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{db}: --limit 0 is a usage error"
    );
}
