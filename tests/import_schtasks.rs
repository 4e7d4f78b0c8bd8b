//! `task import --from schtasks`: the corpus in tests/data/schtasks (task XML written for
//! these tests, UTF-16 LE with a BOM as schtasks writes it), each file with the task JSON
//! it maps to and the next ten fire times (`../schtasks-expected/NAME.json`, reviewed by hand;
//! `STAGEHAND_BLESS=1` rewrites them after an intended change), the refusals, and the
//! command line end to end (dry run, and one transaction into a real database).

#[macro_use]
mod common;

use chrono::{DateTime, Utc};
use common::TestDb;
use serde_json::{json, Value};
use stagehand::import::schtasks::{decode, map_document};
use stagehand::schedule::{parse_tasks, Schedule};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ZONE: &str = "America/New_York";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schtasks")
}

fn after() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// What a file maps to: per task its JSON (validated, in zone ZONE) and next ten fire
/// times after `after()`, or the refusals.
fn mapped(file: &Path) -> Value {
    let bytes = std::fs::read(file).unwrap();
    assert_eq!(
        &bytes[..2],
        b"\xff\xfe",
        "{}: UTF-16 LE with a BOM",
        file.display()
    );
    let name = file.file_stem().unwrap().to_string_lossy().into_owned();
    let tasks = map_document(&decode(&bytes), &name).unwrap();
    let mut out = Vec::new();
    for task in tasks {
        match task.result {
            Ok(mut value) => {
                value["timeZone"] = ZONE.into();
                let definition = parse_tasks(&Value::Array(vec![value]).to_string())
                    .unwrap_or_else(|e| panic!("{}: {e}", task.source))
                    .remove(0);
                let next: Vec<String> = Schedule::new(&definition)
                    .upcoming(after(), 10)
                    .into_iter()
                    .map(|(at, _)| at.to_rfc3339())
                    .collect();
                out.push(
                    json!({"source": task.source, "task": definition.to_json(), "next": next}),
                );
            }
            Err(problems) => {
                let refused: Vec<String> = problems.iter().map(ToString::to_string).collect();
                out.push(json!({"source": task.source, "refused": refused}));
            }
        }
    }
    Value::Array(out)
}

#[test]
fn the_corpus_maps_as_expected() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    for file in files {
        let found = mapped(&file);
        let expected_path = corpus()
            .with_file_name("schtasks-expected")
            .join(file.with_extension("json").file_name().unwrap());
        if std::env::var_os("STAGEHAND_BLESS").is_some() {
            std::fs::write(
                &expected_path,
                serde_json::to_string_pretty(&found).unwrap() + "\n",
            )
            .unwrap();
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|_| panic!("{} is missing", expected_path.display())),
        )
        .unwrap();
        assert_eq!(found, expected, "{}", file.display());
    }
}

/// The rules behind some expected files, checked without them.
#[test]
fn mappings_follow_the_task_scheduler_rules() {
    let tasks = mapped(&corpus().join("monthly_weekdays.xml"));
    // The second and the last Tuesday of each month at 02:30.
    let next = tasks[0]["next"].as_array().unwrap();
    let dates: Vec<&str> = next.iter().map(|t| &t.as_str().unwrap()[..10]).collect();
    assert_eq!(
        &dates[..6],
        [
            "2025-03-11",
            "2025-03-25",
            "2025-04-08",
            "2025-04-29",
            "2025-05-13",
            "2025-05-27"
        ]
    );
    let task = &tasks[0]["task"];
    assert_eq!(task["triggers"][1]["enabled"], false, "a disabled trigger");
    assert!(
        task["triggers"][0].get("months").is_none(),
        "all twelve months: no filter"
    );

    let daily = &mapped(&corpus().join("daily_repetition.xml"))[0];
    let task = &daily["task"];
    assert_eq!(task["catchUp"], "once", "StartWhenAvailable");
    assert_eq!(task["timeoutMinutes"], 120, "ExecutionTimeLimit PT2H");
    assert_eq!(
        (
            task["maxAttempts"].clone(),
            task["retryDelaySeconds"].clone()
        ),
        (json!(4), json!(300))
    );
    assert_eq!(
        task["triggers"][0]["repetition"],
        json!({"everyMinutes": 30, "durationMinutes": 600, "stopAtEnd": true})
    );
    assert_eq!(task["command"], r"C:\ERP\run.exe");
    assert_eq!(
        task["arguments"],
        json!(["-job", "nightly", r"C:\My Files\out.txt"])
    );
    // Every 30 minutes from 08:00 until before 18:00: 20 a day.
    let next = daily["next"].as_array().unwrap();
    assert_eq!(next[0], "2025-03-01T08:00:00-05:00");
    assert_eq!(next[9], "2025-03-01T12:30:00-05:00");

    let once = &mapped(&corpus().join("time_once.xml"))[0]["task"];
    assert!(once.get("timeoutMinutes").is_none(), "PT0S: no time limit");
    assert_eq!(once["ifRunning"], "parallel");

    let boot = &mapped(&corpus().join("boot_and_interval.xml"))[0]["task"];
    assert_eq!(boot["triggers"][0]["recurrence"], "driverStart");
    assert_eq!(
        boot["triggers"][1]["recurrence"], "minutely",
        "a repeating time trigger"
    );
    assert_eq!(boot["enabled"], false, "Settings/Enabled");
    assert_eq!(
        boot["command"], r"C:\Program Files\ERP\watchdog.exe",
        "unquoted"
    );
    assert_eq!(
        boot["timeoutMinutes"],
        72 * 60,
        "the default limit is 72 hours"
    );
    // Repetition beyond a day (up to P31D): every day for five days from each Monday;
    // every 7 hours for two and a half days from every other day (windows overlap).
    let week = &mapped(&corpus().join("long_repetition.xml"))[0];
    assert_eq!(
        week["task"]["triggers"][0]["repetition"],
        json!({"everyMinutes": 1440, "durationMinutes": 7200})
    );
    assert_eq!(
        week["next"].as_array().unwrap()[..7],
        [
            "2025-03-03T07:00:00-05:00",
            "2025-03-04T07:00:00-05:00",
            "2025-03-05T07:00:00-05:00",
            "2025-03-06T07:00:00-05:00",
            "2025-03-07T07:00:00-05:00",
            "2025-03-07T22:00:00-05:00",
            "2025-03-08T05:00:00-05:00",
        ],
        "Monday to Friday, then the other trigger's first window"
    );
    // A BootTrigger Delay: the driverStart trigger fires that long after the start.
    let delayed = &mapped(&corpus().join("boot_delay.xml"))[0]["task"];
    assert_eq!(
        delayed["triggers"],
        json!([{"recurrence": "driverStart", "delaySeconds": 150},
               {"recurrence": "driverStart", "delaySeconds": 3600, "enabled": false}])
    );
}

#[test]
fn unsupported_elements_are_named_with_their_task() {
    let refused = mapped(&corpus().join("unsupported.xml"));
    let lines: Vec<&str> = refused[0]["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    for element in [
        "Triggers/LogonTrigger",
        "Triggers/EventTrigger",
        "Actions/ShowMessage",
        "Principals/Principal/LogonType",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!(r"\Desktop\Logon greeter: {element}: "))),
            "{element} in {lines:?}"
        );
    }
    let several = mapped(&corpus().join("several.xml"));
    assert_eq!(
        several[0]["source"], r"\ERP\Purge temp",
        "named by the comment before it"
    );
    assert!(several[1]["refused"][0]
        .as_str()
        .unwrap()
        .starts_with(r"\ERP\Idle defrag: "));
}

#[test]
fn other_encodings_and_bad_documents() {
    let utf8 = r#"<?xml version="1.0"?><Task xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task"><Triggers><BootTrigger/></Triggers><Actions><Exec><Command>a.exe</Command></Exec></Actions></Task>"#;
    let tasks = map_document(&decode(utf8.as_bytes()), "plain").unwrap();
    assert_eq!(tasks[0].source, r"\plain");
    assert_eq!(tasks[0].result.as_ref().unwrap()["id"], "plain");
    let mut be = vec![0xfe, 0xff];
    be.extend(utf8.encode_utf16().flat_map(|u| u.to_be_bytes()));
    assert_eq!(decode(&be), utf8);
    let foreign = map_document("<Task xmlns=\"urn:other\"/>", "x").unwrap_err();
    assert!(
        foreign.contains("not a Task Scheduler 2.0 task"),
        "{foreign}"
    );
    assert!(map_document("<Task", "x")
        .unwrap_err()
        .starts_with("not XML"));
}

fn stagehand(db: Option<&TestDb>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stagehand"));
    command.args(args).env_remove("STAGEHAND_DATABASE_URL");
    if let Some(db) = db {
        command.env("STAGEHAND_DATABASE_URL", db.url());
    }
    command.output().expect("run stagehand")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn dry_run_prints_the_json_and_refuses_unsupported_tasks() {
    let folder = corpus();
    let folder = folder.to_str().unwrap();
    let refused = stagehand(
        None,
        &[
            "task",
            "import",
            "--from",
            "schtasks",
            folder,
            "--dry-run",
            "--time-zone",
            ZONE,
        ],
    );
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(message.contains("nothing was written"), "{message}");
    assert!(
        message.contains(r"\Desktop\Logon greeter: Triggers/LogonTrigger"),
        "{message}"
    );

    let dry = stagehand(
        None,
        &[
            "task",
            "import",
            "--from",
            "schtasks",
            folder,
            "--dry-run",
            "--time-zone",
            ZONE,
            "--skip-unsupported",
        ],
    );
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stderr).contains(r"\ERP\Idle defrag"),
        "skips are reported"
    );
    let tasks: Vec<Value> = serde_json::from_slice(&dry.stdout).expect("JSON on stdout");
    let ids: Vec<&str> = tasks.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"folder-erp-nightly-backup"), "{ids:?}");
    assert!(ids.contains(&"erp-purge-temp"), "{ids:?}");
    assert!(!ids.contains(&"desktop-logon-greeter"));
    assert!(tasks.iter().all(|t| t["timeZone"] == ZONE));
}

conformance!(an_import_writes_every_task_in_one_transaction);
async fn an_import_writes_every_task_in_one_transaction(db: &TestDb) {
    let folder = corpus();
    let folder = folder.to_str().unwrap();
    let refused = stagehand(Some(db), &["task", "import", "--from", "schtasks", folder]);
    assert!(!refused.status.success());
    assert_eq!(
        db.count("stage.Task").await,
        0,
        "{db}: nothing written when a task is refused"
    );
    let imported = stagehand(
        Some(db),
        &[
            "task",
            "import",
            "--from",
            "schtasks",
            folder,
            "--skip-unsupported",
            "--time-zone",
            ZONE,
        ],
    );
    assert!(
        imported.status.success(),
        "{db}: {}",
        text(&imported.stderr)
    );
    assert!(
        text(&imported.stdout).contains("imported 11 tasks"),
        "{}",
        text(&imported.stdout)
    );
    assert_eq!(db.count("stage.Task").await, 11);
    assert_eq!(
        db.count("stage.TaskTrigger WHERE Recurrence = 'driverStart'")
            .await,
        3,
        "{db}: the boot triggers"
    );
    let shown = stagehand(Some(db), &["task", "show", "erp-warm-caches"]);
    let task: Value = serde_json::from_slice(&shown.stdout).expect("task show");
    assert_eq!(
        task["triggers"][0]["delaySeconds"], 150,
        "{db}: stored as imported"
    );
    let shown = stagehand(Some(db), &["task", "show", "erp-import-orders"]);
    let task: Value = serde_json::from_slice(&shown.stdout).expect("task show");
    assert_eq!(task["triggers"][0]["repetition"]["durationMinutes"], 600);
    assert_eq!(task["catchUp"], "once");
}
