//! RegisterProcesses: a batch registers exactly as RegisterProcess would one element after
//! another (every policy, duplicates inside the batch, occurrences), bad input names the
//! element and writes nothing, concurrent bulk and single registrations of the same skip
//! names never make two active rows, and `stagehand register --file`.

#[macro_use]
mod common;

use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use common::{assert_invalid_argument, assert_permission_denied, Must, TestDb};
use stagehand::store::{ProcessStatus, Registered};
use tokio::sync::Barrier;

fn batch(elements: &[serde_json::Value]) -> String {
    serde_json::Value::Array(elements.to_vec()).to_string()
}

fn named(name: &str) -> serde_json::Value {
    serde_json::json!({ "name": name })
}

async fn register_batch(db: &TestDb, elements: &[serde_json::Value]) -> Vec<Registered> {
    let rows = db
        .register_many(&batch(elements))
        .await
        .must(db, "RegisterProcesses");
    assert_eq!(
        rows.len(),
        elements.len(),
        "{db}: one row per element: {rows:?}"
    );
    rows
}

conformance!(every_policy_registers_as_one_registration_after_another);
async fn every_policy_registers_as_one_registration_after_another(db: &TestDb) {
    db.driver_task("b_skip", "skip").await;
    db.driver_task("b_parallel", "parallel").await;
    db.driver_task("b_queue", "queue").await;
    db.driver_task("b_kill", "killPrevious").await;
    // killPrevious with a run in progress: the batch flags it, then cancels its own first row.
    let running = db.register_new("b_kill").await;
    assert_eq!(
        db.claim_as("w", 5).await.len(),
        1,
        "{db}: the running b_kill"
    );

    let rows = register_batch(
        db,
        &[
            named("b_skip"),
            named("b_parallel"),
            named("b_skip"),
            named("b_queue"),
            named("b_kill"),
            named("b_parallel"),
            named("b_queue"),
            named("b_kill"),
            named("b_external"),
        ],
    )
    .await;
    let registered: Vec<bool> = rows.iter().map(|r| r.registered).collect();
    assert_eq!(
        registered,
        [true, true, false, true, true, true, true, true, true],
        "{db}: only the second b_skip is refused: {rows:?}"
    );
    assert_eq!(
        rows[2].process_id, rows[0].process_id,
        "{db}: the second b_skip is refused by the first"
    );
    assert_eq!(rows[2].status, ProcessStatus::Pending, "{db}: {rows:?}");
    for (i, row) in rows.iter().enumerate() {
        let name = [
            "b_skip",
            "b_parallel",
            "b_skip",
            "b_queue",
            "b_kill",
            "b_parallel",
            "b_queue",
            "b_kill",
            "b_external",
        ][i];
        assert_eq!(row.process_name, name, "{db}: row {i} names its element");
    }
    for later in [5, 6, 7] {
        assert!(
            rows[later].process_id > rows[later - 4].process_id,
            "{db}: within a name, ids rise in array order: {rows:?}"
        );
    }
    for row in rows.iter().filter(|r| r.registered) {
        let logs = db.logs(row.process_id).await;
        assert_eq!(
            logs.first()
                .map(|l| (l.message.as_str(), l.log_level.as_str())),
            Some(("Registered", "Info")),
            "{db}: every new row is logged first as Registered: {logs:?}"
        );
    }

    // b_kill: the first flagged the running run, the second cancelled the first.
    let first_kill = db.row(rows[4].process_id).await;
    assert_eq!(
        first_kill.status,
        ProcessStatus::Cancelled,
        "{db}: {first_kill:?}"
    );
    let logs = db.logs(rows[4].process_id).await;
    let superseded = format!(
        "Cancelled by killPrevious: superseded by process {}",
        rows[7].process_id
    );
    assert!(
        logs.iter()
            .any(|l| l.message == superseded && l.log_level == "Warning"),
        "{db}: {superseded:?} expected in {logs:?}"
    );
    assert!(
        db.row(running).await.cancel_requested,
        "{db}: the running b_kill is asked to stop"
    );
    assert_eq!(
        db.row(rows[7].process_id).await.status,
        ProcessStatus::Pending,
        "{db}: the last b_kill stays"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE ProcessName = 'b_external' AND OverlapPolicy = 'skip' AND Executor = 'external' AND MaxAttempts = 3 AND TaskID IS NULL").await,
        1,
        "{db}: a name without a task gets the defaults"
    );

    // The same batch again: skip names are refused by the rows now active.
    let again = register_batch(db, &[named("b_skip"), named("b_external"), named("b_skip")]).await;
    assert!(
        again.iter().all(|r| !r.registered),
        "{db}: all refused: {again:?}"
    );
    assert_eq!(again[0].process_id, rows[0].process_id, "{db}: {again:?}");
    assert_eq!(again[1].process_id, rows[8].process_id, "{db}: {again:?}");
}

conformance!(skip_is_refused_by_an_active_row_of_any_policy);
async fn skip_is_refused_by_an_active_row_of_any_policy(db: &TestDb) {
    // Registered while the task was parallel, refused once it is skip (as RegisterProcess).
    db.driver_task("changed", "parallel").await;
    let earlier = db.register_new("changed").await;
    db.driver_task("changed", "skip").await;
    let rows = register_batch(db, &[named("changed"), named("changed")]).await;
    for row in &rows {
        assert!(!row.registered, "{db}: refused: {rows:?}");
        assert_eq!(row.process_id, earlier, "{db}: by the active row: {rows:?}");
    }
    let single = db
        .register("changed", None, None)
        .await
        .must(db, "RegisterProcess");
    assert_eq!(single.process_id, earlier, "{db}: the single path agrees");
    assert_eq!(db.count("stage.FileControl").await, 1, "{db}: nothing new");
}

conformance!(occurrences_register_once_and_parameters_are_stored_as_written);
async fn occurrences_register_once_and_parameters_are_stored_as_written(db: &TestDb) {
    db.driver_task("hourly", "parallel").await;
    let at = |hour| serde_json::json!(format!("2024-12-06T{hour:02}:00:00Z"));
    // Written by hand: the parameters' text (key order, blanks) must come back as written.
    let input = r#"[{"name": "hourly", "scheduledFor": "2024-12-06T10:00:00Z", "parameters": {"b": 1, "a": [2]}},
        {"name": "hourly", "scheduledFor": "2024-12-06T10:00:00.000Z"},
        {"name": "hourly", "scheduledFor": "2024-12-06T12:00:00+01:00", "parameters": null},
        {"name": "hourly"}]"#;
    let rows = db.register_many(input).await.must(db, "RegisterProcesses");
    assert!(
        rows[0].registered && rows[2].registered && rows[3].registered,
        "{db}: {rows:?}"
    );
    assert!(
        !rows[1].registered,
        "{db}: a known occurrence is refused: {rows:?}"
    );
    assert_eq!(rows[1].process_id, rows[0].process_id, "{db}: by the first");
    let first = db.row(rows[0].process_id).await;
    assert_eq!(
        first.scheduled_for,
        Some(Utc.with_ymd_and_hms(2024, 12, 6, 10, 0, 0).unwrap()),
        "{db}: ScheduledFor stored"
    );
    assert_eq!(
        first.parameters.as_deref(),
        Some(r#"{"b": 1, "a": [2]}"#),
        "{db}: parameters stored as written"
    );
    assert_eq!(
        db.row(rows[2].process_id).await.parameters,
        None,
        "{db}: null parameters are NULL"
    );

    // Finished occurrences still refuse, in bulk as singly; the single path sees the bulk's rows.
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Completed' WHERE ProcessID = {}",
        rows[0].process_id
    ))
    .await;
    let again = register_batch(
        db,
        &[serde_json::json!({ "name": "hourly", "scheduledFor": at(10) })],
    )
    .await;
    assert!(!again[0].registered, "{db}: {again:?}");
    assert_eq!(again[0].process_id, rows[0].process_id, "{db}: {again:?}");
    assert_eq!(
        again[0].status,
        ProcessStatus::Completed,
        "{db}: its status"
    );
    let single = db
        .register(
            "hourly",
            None,
            Some(Utc.with_ymd_and_hms(2024, 12, 6, 11, 0, 0).unwrap()),
        )
        .await
        .must(db, "RegisterProcess");
    assert_eq!(
        single.process_id, rows[2].process_id,
        "{db}: 12:00+01:00 is 11:00Z, registered by the batch"
    );
}

/// Element `i` of the long batch below, its names under `prefix`: skip names (no task)
/// that recur every 300 elements, a parallel task's occurrences that recur every 350, a
/// skip name with occurrences, and a queue task; so duplicates meet across the chunks of
/// 1,000 elements SQL Server decides at a time.
fn long_batch_element(prefix: &str, i: usize) -> serde_json::Value {
    let at = |minute: usize| format!("2026-01-01T{:02}:{:02}:00Z", minute / 60, minute % 60);
    if i % 13 == 0 {
        serde_json::json!({ "name": format!("{prefix}_occ"), "scheduledFor": at((i / 13) % 20) })
    } else if i % 11 == 0 {
        named(&format!("{prefix}_queue"))
    } else if i % 7 == 0 {
        serde_json::json!({ "name": format!("{prefix}_par"), "scheduledFor": at((i / 7) % 50) })
    } else {
        named(&format!("{prefix}_fill_{}", i % 300))
    }
}

conformance!(a_long_batch_registers_as_the_same_registrations_one_by_one);
async fn a_long_batch_registers_as_the_same_registrations_one_by_one(db: &TestDb) {
    const ELEMENTS: usize = 1300;
    let elements = |prefix: &str| -> Vec<serde_json::Value> {
        (0..ELEMENTS)
            .map(|i| long_batch_element(prefix, i))
            .collect()
    };
    // The same world under two prefixes: tasks, an active run and a finished occurrence.
    let mut before = Vec::new();
    for prefix in ["bulk", "single"] {
        db.driver_task(&format!("{prefix}_par"), "parallel").await;
        db.driver_task(&format!("{prefix}_queue"), "queue").await;
        let active = db.register_new(&format!("{prefix}_fill_7")).await;
        let finished = db
            .register(
                &format!("{prefix}_occ"),
                None,
                Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 5, 0).unwrap()),
            )
            .await
            .must(db, "RegisterProcess")
            .process_id;
        db.exec(&db.seed_completion_sql(finished)).await;
        before.push((active, finished));
    }

    let bulk = register_batch(db, &elements("bulk")).await;
    let mut single = Vec::new();
    for element in elements("single") {
        let at = element["scheduledFor"]
            .as_str()
            .map(|t| t.parse::<chrono::DateTime<Utc>>().unwrap());
        let name = element["name"].as_str().unwrap();
        single.push(
            db.register(name, None, at)
                .await
                .must(db, "RegisterProcess"),
        );
    }

    // Each row as (registered, status, the element whose registration made the row that
    // answers, or the row that was there before).
    let described = |rows: &[Registered],
                     (active, finished): (i64, i64)|
     -> Vec<(bool, ProcessStatus, String)> {
        let made: std::collections::HashMap<i64, usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.registered)
            .map(|(i, r)| (r.process_id, i))
            .collect();
        rows.iter()
            .map(|r| {
                let origin = match made.get(&r.process_id) {
                    Some(i) => format!("element {i}"),
                    None if r.process_id == active => "the active run".to_string(),
                    None if r.process_id == finished => "the finished occurrence".to_string(),
                    None => format!("unknown row {}", r.process_id),
                };
                (r.registered, r.status, origin)
            })
            .collect()
    };
    let bulk_described = described(&bulk, before[0]);
    let single_described = described(&single, before[1]);
    for (i, (b, s)) in bulk_described.iter().zip(&single_described).enumerate() {
        assert_eq!(
            b,
            s,
            "{db}: element {i} ({})",
            long_batch_element("bulk", i)
        );
    }
    // The batch holds every kind of answer, and refusals across the 1,000th element.
    let refused_by = |origin: &str| {
        bulk_described
            .iter()
            .filter(|(registered, _, o)| !registered && o == origin)
            .count()
    };
    assert!(
        refused_by("the active run") > 0 && refused_by("the finished occurrence") > 0,
        "{db}: refusals by the rows there before: {bulk_described:?}"
    );
    let across = bulk_described
        .iter()
        .enumerate()
        .filter(|(i, (registered, _, origin))| {
            *i >= 1000
                && !registered
                && origin
                    .strip_prefix("element ")
                    .and_then(|j| j.parse::<usize>().ok())
                    .is_some_and(|j| j < 1000)
        })
        .count();
    let registered = bulk.iter().filter(|r| r.registered).count();
    assert!(
        across > 0 && (300..ELEMENTS).contains(&registered),
        "{db}: {across} refused across the 1,000th element, {registered} registered"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE ProcessName LIKE 'bulk%'")
            .await,
        db.count("stage.FileControl WHERE ProcessName LIKE 'single%'")
            .await,
        "{db}: as many rows either way"
    );
}

conformance!(bad_input_names_the_element_and_writes_nothing);
async fn bad_input_names_the_element_and_writes_nothing(db: &TestDb) {
    let long = "x".repeat(256);
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "Processes is not valid JSON"),
        ("5".into(), "Processes is not valid JSON"),
        (r#"{"name":"a"}"#.into(), "Processes must be a JSON array"),
        (
            r#"[{"name":"a"}, 5]"#.into(),
            "Processes[1] must be a JSON object",
        ),
        (
            r#"[{"name":"a"}, {}]"#.into(),
            "Processes[1].name must not be NULL or empty",
        ),
        (
            r#"[{"name":"a"}, {"name":null}]"#.into(),
            "Processes[1].name must not be NULL or empty",
        ),
        (
            r#"[{"name":"a"}, {"name":" \t"}]"#.into(),
            "Processes[1].name must not be NULL or empty",
        ),
        (
            r#"[{"name":"a"}, {"name":7}]"#.into(),
            "Processes[1].name must be a JSON string",
        ),
        (
            format!(r#"[{{"name":"a"}}, {{"name":"{long}"}}]"#),
            "Processes[1].name is longer than 255 characters",
        ),
        (
            r#"[{"name":"a"}, {"name":"b","parameters":"x"}]"#.into(),
            "Processes[1].parameters is not valid JSON",
        ),
        (
            r#"[{"name":"a"}, {"name":"b","parameters":5}]"#.into(),
            "Processes[1].parameters is not valid JSON",
        ),
        (
            r#"[{"name":"a"}, {"name":"b","scheduledFor":"2024-12-06 10:00:00"}]"#.into(),
            "Processes[1].scheduledFor must be null or an RFC 3339 instant",
        ),
        (
            r#"[{"name":"a"}, {"name":"b","scheduledFor":"2024-02-30T10:00:00Z"}]"#.into(),
            "Processes[1].scheduledFor must be null or an RFC 3339 instant",
        ),
        (
            r#"[{"name":"a"}, {"name":"b","scheduledFor":1}]"#.into(),
            "Processes[1].scheduledFor must be null or an RFC 3339 instant",
        ),
        (
            r#"[{"name":"a"}, {"name":"b","scheduled_for":null}]"#.into(),
            "Processes[1].scheduled_for is not a known key",
        ),
        (
            r#"[{"name":"a"}, {"Name":"b"}]"#.into(),
            "Processes[1].Name is not a known key",
        ),
    ];
    for (input, error) in cases {
        assert_invalid_argument(db, db.register_many(&input).await, error, &input);
    }
    assert_eq!(
        db.count("stage.FileControl").await,
        0,
        "{db}: nothing written"
    );
    assert_eq!(
        db.count("stage.ProcessLog").await,
        0,
        "{db}: nothing logged"
    );
    assert_eq!(
        register_batch(db, &[]).await,
        [],
        "{db}: an empty batch is fine"
    );
}

conformance!(submitters_may_register_many_and_readers_may_not);
async fn submitters_may_register_many_and_readers_may_not(db: &TestDb) {
    let submitter = db.connect_as("stage_submitter").await;
    let rows = submitter
        .register_many(&batch(&[named("s1"), named("s2")]))
        .await
        .must(db, "RegisterProcesses as submitter");
    assert!(rows.iter().all(|r| r.registered), "{db}: {rows:?}");
    let reader = db.connect_as("stage_reader").await;
    assert_permission_denied(
        db,
        reader.register_many(&batch(&[named("s3")])).await,
        "stage_reader",
        "RegisterProcesses",
    );
}

conformance!(concurrent_bulk_and_single_registrations_never_make_two_active_rows);
async fn concurrent_bulk_and_single_registrations_never_make_two_active_rows(db: &TestDb) {
    const NAMES: usize = 20;
    let stores: Vec<Arc<dyn stagehand::store::Backend>> = vec![
        db.store(),
        db.connect_as("stage_submitter").await,
        db.connect_as("stage_submitter").await,
        db.connect_as("stage_submitter").await,
    ];
    for round in 0..5 {
        let names: Vec<String> = (0..NAMES).map(|i| format!("race_{round}_{i}")).collect();
        if round % 2 == 1 {
            for name in &names {
                db.driver_task(name, "skip").await;
            }
        }
        let elements: Vec<serde_json::Value> =
            names.iter().flat_map(|n| [named(n), named(n)]).collect();
        let barrier = Arc::new(Barrier::new(stores.len() * 2));
        let mut callers = Vec::new();
        for store in &stores {
            // On every connection: a bulk call with every name twice, and singles one by one.
            let (bulk_store, barrier_bulk, json, label) = (
                store.clone(),
                barrier.clone(),
                batch(&elements),
                db.to_string(),
            );
            callers.push(tokio::spawn(async move {
                barrier_bulk.wait().await;
                bulk_store
                    .register_many(&json)
                    .await
                    .must(&label, "concurrent RegisterProcesses")
            }));
            let (single_store, barrier_single, names, label) = (
                store.clone(),
                barrier.clone(),
                names.clone(),
                db.to_string(),
            );
            callers.push(tokio::spawn(async move {
                barrier_single.wait().await;
                let mut rows = Vec::new();
                for name in names.iter().rev() {
                    rows.push(
                        single_store
                            .register(name, None, None)
                            .await
                            .must(&label, "concurrent RegisterProcess"),
                    );
                }
                rows
            }));
        }
        let mut all = Vec::new();
        for caller in callers {
            all.extend(caller.await.expect("caller panicked"));
        }
        for name in &names {
            let active = db
                .count(&format!(
                    "stage.FileControl WHERE ProcessName = '{name}' AND Status IN ('Pending', 'InProgress')"
                ))
                .await;
            assert_eq!(active, 1, "{db}: round {round}: one active row of {name}");
            let ids: std::collections::BTreeSet<i64> = all
                .iter()
                .filter(|r| &r.process_name == name)
                .map(|r| r.process_id)
                .collect();
            assert_eq!(
                ids.len(),
                1,
                "{db}: every caller got the same row of {name}: {ids:?}"
            );
            let accepted = all
                .iter()
                .filter(|r| &r.process_name == name && r.registered)
                .count();
            assert_eq!(accepted, 1, "{db}: exactly one caller registered {name}");
        }
    }
}

fn stagehand(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env("STAGEHAND_DATABASE_URL", db.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stagehand");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        std::io::Write::write_all(&mut input, text.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("wait for stagehand")
}

conformance!(cli_register_file_reports_refusals_and_bad_elements);
async fn cli_register_file_reports_refusals_and_bad_elements(db: &TestDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("batch.json");
    std::fs::write(
        &file,
        r#"[{"name": "f1", "parameters": {"day": "2024-12-06"}}, {"name": "f1"}, {"name": "f2"}]"#,
    )
    .expect("write batch");
    let path = file.to_str().expect("utf-8 path");
    let out = stagehand(db, &["register", "--file", path], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{db}: refused elements are not an error: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("refused: process")
            && stdout.trim_end().ends_with("2 registered, 1 refused"),
        "{db}: {stdout}"
    );
    // No task has these names: one warning per name, none with --external.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        (
            stderr.matches("warning: no task named f1").count(),
            stderr.matches("warning: no task named f2").count()
        ),
        (1, 1),
        "{db}: {stderr}"
    );
    let out = stagehand(db, &["register", "--file", path, "--external"], None);
    assert!(
        out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("warning"),
        "{db}: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = stagehand(
        db,
        &["--json", "register", "--file", "-"],
        Some(r#"[{"name": "f2"}, {"name": "f3"}]"#),
    );
    assert!(
        out.status.success(),
        "{db}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(doc["registered"], 1, "{db}: {doc}");
    assert_eq!(doc["refused"], 1, "{db}: {doc}");
    assert_eq!(doc["processes"][0]["registered"], false, "{db}: {doc}");
    assert_eq!(doc["processes"][1]["processName"], "f3", "{db}: {doc}");

    let out = stagehand(
        db,
        &["register", "--file", "-"],
        Some(r#"[{"name": "f4"}, {"name": ""}]"#),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{db}: a bad element fails the call");
    assert!(
        stderr.contains("Processes[1].name must not be NULL or empty")
            && stderr.contains("standard input"),
        "{db}: {stderr}"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE ProcessName = 'f4'").await,
        0,
        "{db}: nothing of the bad file was written"
    );
}

conformance!(new_driver_work_wakes_listening_drivers);
async fn new_driver_work_wakes_listening_drivers(db: &TestDb) {
    // SQL Server has no LISTEN: its drivers poll, so there is nothing to wake.
    if db.kind() != stagehand::store::BackendKind::Postgres {
        return;
    }
    db.driver_task("woken", "parallel").await;
    let listener = db.connect_as("stage_worker").await;
    // The first wait starts the listener; the second takes any permit left from it.
    listener
        .wait_for_work(std::time::Duration::from_millis(10))
        .await
        .must(db, "start listening");
    listener
        .wait_for_work(std::time::Duration::from_millis(100))
        .await
        .must(db, "drain");

    register_batch(db, &[named("external_only")]).await;
    let started = std::time::Instant::now();
    listener
        .wait_for_work(std::time::Duration::from_millis(700))
        .await
        .must(db, "wait");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(600),
        "{db}: a batch of external work wakes no driver"
    );

    register_batch(db, &[named("external_only_2"), named("woken")]).await;
    let started = std::time::Instant::now();
    listener
        .wait_for_work(std::time::Duration::from_secs(20))
        .await
        .must(db, "wait");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{db}: a batch with driver work wakes the listening driver (NOTIFY stage_process)"
    );
}
