//! `stagehand task ...` end to end: the real binary against a real database.

#[macro_use]
mod common;

use common::TestDb;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn stagehand(db: Option<&TestDb>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagehand"));
    command.args(args).env_remove("STAGEHAND_DATABASE_URL");
    if let Some(db) = db {
        command.env("STAGEHAND_DATABASE_URL", db.url());
    }
    let mut child = command
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

const BACKUP: &str = r#"{
  "id": "nightly-backup",
  "description": "Full backup of the ERP database",
  "command": "/opt/erp/backup.sh --full",
  "workingDirectory": "/opt/erp",
  "runIfMissed": true,
  "ifRunning": "skip",
  "timeZone": "America/Sao_Paulo",
  "timeoutMinutes": 120,
  "triggers": [
    { "recurrence": "daily", "start": "2024-12-06T15:00:00" },
    { "recurrence": "monthly", "start": "2024-12-06T23:00:00", "monthDays": ["last"] }
  ]
}"#;

fn write_temp(name: &str, content: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("stagehand-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, content).expect("write temp file");
    path
}

conformance!(tasks_round_trip_through_the_command_line);
async fn tasks_round_trip_through_the_command_line(db: &TestDb) {
    let added = stagehand(Some(db), &["task", "add", "-"], Some(BACKUP));
    assert!(
        added.status.success(),
        "{db}: task add: {}",
        text(&added.stderr)
    );
    assert!(text(&added.stdout).contains("added task nightly-backup"));

    let again = stagehand(Some(db), &["task", "add", "-"], Some(BACKUP));
    assert!(
        !again.status.success(),
        "{db}: adding an existing task is refused"
    );
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );

    let shown = stagehand(Some(db), &["task", "show", "nightly-backup"], None);
    assert!(
        shown.status.success(),
        "{db}: task show: {}",
        text(&shown.stderr)
    );
    let shown_json: serde_json::Value =
        serde_json::from_slice(&shown.stdout).expect("show prints JSON");
    let expected = stagehand::schedule::parse_task(BACKUP).unwrap().to_json();
    assert_eq!(
        shown_json, expected,
        "{db}: the stored task reads back as it was given"
    );

    let listed = stagehand(Some(db), &["task", "list", "--json"], None);
    let list: serde_json::Value =
        serde_json::from_slice(&listed.stdout).expect("list --json prints JSON");
    assert_eq!(list[0]["id"], "nightly-backup");
    assert_eq!(list[0]["triggers"], 2);
    assert!(
        list[0]["nextFireAt"].is_string(),
        "{db}: each task shows its next fire time: {list}"
    );

    let next = stagehand(
        Some(db),
        &[
            "task",
            "next",
            "nightly-backup",
            "--after",
            "2024-12-30T16:00",
            "--count",
            "3",
        ],
        None,
    );
    assert_eq!(
        text(&next.stdout).lines().collect::<Vec<_>>(),
        vec![
            "2024-12-31T15:00:00-03:00",
            "2024-12-31T23:00:00-03:00",
            "2025-01-01T15:00:00-03:00"
        ],
        "{db}: merged next fire times in the task's zone: {}",
        text(&next.stderr)
    );

    let mut changed = expected.clone();
    changed["command"] = "/opt/erp/backup.sh --incremental".into();
    let updated = stagehand(
        Some(db),
        &["task", "update", "-"],
        Some(&changed.to_string()),
    );
    assert!(
        updated.status.success(),
        "{db}: task update: {}",
        text(&updated.stderr)
    );
    let command = db
        .query_i64("SELECT COUNT(*) FROM stage.Task WHERE Command LIKE '%--incremental'")
        .await
        .unwrap();
    assert_eq!(command, Some(1), "{db}: the update reached stage.Task");

    let exported = stagehand(Some(db), &["task", "export"], None);
    let export_file = write_temp("export.json", &text(&exported.stdout));
    let removed = stagehand(Some(db), &["task", "remove", "nightly-backup"], None);
    assert!(
        removed.status.success(),
        "{db}: task remove: {}",
        text(&removed.stderr)
    );
    assert_eq!(db.count("stage.Task").await, 0, "{db}: removed");
    assert_eq!(
        db.count("stage.TaskTrigger").await,
        0,
        "{db}: its triggers too"
    );

    let imported = stagehand(
        Some(db),
        &["task", "import", export_file.to_str().unwrap()],
        None,
    );
    assert!(
        imported.status.success(),
        "{db}: task import: {}",
        text(&imported.stderr)
    );
    let shown = stagehand(Some(db), &["task", "show", "nightly-backup"], None);
    let reimported: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(
        reimported, changed,
        "{db}: export then import gives the same task"
    );
}

// outputEncoding and minLogLevel live in the task's JSON (their columns derive from it):
// a task with neither runIfMissed nor notify once read back without them.
conformance!(json_only_settings_read_back);
async fn json_only_settings_read_back(db: &TestDb) {
    let task = r#"{ "id": "quiet-export", "command": "export.cmd", "outputEncoding": "oem",
                    "minLogLevel": "Warning",
                    "triggers": [{ "recurrence": "daily", "start": "2024-12-06T02:00:00" }] }"#;
    let added = stagehand(Some(db), &["task", "add", "-"], Some(task));
    assert!(added.status.success(), "{db}: {}", text(&added.stderr));
    let shown = stagehand(Some(db), &["task", "show", "quiet-export"], None);
    let shown_json: serde_json::Value =
        serde_json::from_slice(&shown.stdout).expect("show prints JSON");
    assert_eq!(shown_json["outputEncoding"], "oem", "{db}: {shown_json}");
    assert_eq!(shown_json["minLogLevel"], "Warning", "{db}: {shown_json}");
    assert_eq!(
        shown_json,
        stagehand::schedule::parse_task(task).unwrap().to_json(),
        "{db}: the stored task reads back as it was given"
    );
}

conformance!(invalid_tasks_change_nothing);
async fn invalid_tasks_change_nothing(db: &TestDb) {
    let invalid = r#"{"id":"bad","command":"x","triggers":[{"recurrence":"monthly","start":"2024-01-01T00:00:00","monthDays":[1,32]},{"recurrence":"daily"}],"color":"red"}"#;
    let added = stagehand(Some(db), &["task", "add", "-"], Some(invalid));
    assert!(!added.status.success(), "{db}: an invalid task is refused");
    let errors = text(&added.stderr);
    for expected in [
        "triggers[0].monthDays[1]: 32 is not a day of the month",
        "triggers[1].start",
        "color: unknown field",
        "nothing was written",
    ] {
        assert!(
            errors.contains(expected),
            "{db}: every mistake is named ({expected}): {errors}"
        );
    }

    let array = format!("[{BACKUP}, {invalid}]");
    let file = write_temp("mixed.json", &array);
    let imported = stagehand(Some(db), &["task", "import", file.to_str().unwrap()], None);
    assert!(
        !imported.status.success(),
        "{db}: an import with one invalid task is refused"
    );
    assert!(
        text(&imported.stderr).contains("[1].triggers[0].monthDays[1]"),
        "{}",
        text(&imported.stderr)
    );
    assert_eq!(
        db.count("stage.Task").await,
        0,
        "{db}: a rejected import writes nothing"
    );
    assert_eq!(
        db.count("stage.TaskTrigger").await,
        0,
        "{db}: not even triggers"
    );
}

#[test]
fn task_next_from_a_file_needs_no_database() {
    let file = write_temp("next.json", BACKUP);
    let out = stagehand(
        None,
        &[
            "task",
            "next",
            "--file",
            file.to_str().unwrap(),
            "--after",
            "2024-12-06T14:00",
            "--count",
            "2",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "task next --file: {}",
        text(&out.stderr)
    );
    let times: Vec<String> = serde_json::from_slice(&out.stdout).expect("JSON array");
    assert_eq!(
        times,
        vec!["2024-12-06T15:00:00-03:00", "2024-12-07T15:00:00-03:00"]
    );
}
