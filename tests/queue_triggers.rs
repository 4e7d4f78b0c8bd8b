//! The trigger clock's procedures: SaveTasks (SaveTask's rules per element, the JSON and
//! trigger rules, reconciliation by TriggerIndex), FireTrigger (exactly once, run / late /
//! skip), UpdateNextFire, and DeleteTask of a task that has triggers.

#[macro_use]
mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{assert_invalid_argument, Must, TestDb};
use stagehand::store::{
    BackendKind, FireMode, ProcessStatus, TaskRecord, TaskSave, TriggerRow, TriggerSave,
};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, hour, 0, 0)
        .single()
        .expect("a valid test instant")
}

fn trigger(index: i32, definition: &str) -> TriggerSave {
    TriggerSave {
        trigger_index: index,
        recurrence: "daily".into(),
        enabled: true,
        definition: definition.into(),
        next_fire_at: None,
    }
}

/// An external task (nothing runs it) with `policy` and `triggers`.
fn task(name: &str, policy: &str, triggers: Vec<TriggerSave>) -> TaskSave {
    TaskSave {
        task: TaskRecord {
            overlap_policy: policy.into(),
            executor: "external".into(),
            ..TaskRecord::new(name, "true")
        },
        triggers,
    }
}

async fn triggers_of(db: &TestDb, task_id: i32) -> Vec<TriggerRow> {
    let all = db.triggers().await.must(db, "read triggers");
    all.into_iter().filter(|t| t.task_id == task_id).collect()
}

/// Rows SaveTasks writes.
async fn written(db: &TestDb) -> [i64; 2] {
    [
        db.count("stage.Task").await,
        db.count("stage.TaskTrigger").await,
    ]
}

conformance!(save_tasks_applies_save_task_rules_per_element);
async fn save_tasks_applies_save_task_rules_per_element(db: &TestDb) {
    let good = task("good", "skip", vec![trigger(0, r#"{"at":"06:00"}"#)]);
    let with = |change: fn(&mut TaskRecord)| {
        let mut bad = task("bad", "skip", vec![]);
        change(&mut bad.task);
        bad
    };
    let cases: Vec<(TaskSave, &str)> = vec![
        (
            with(|t| t.task_name = "\t\r\n".into()),
            "Tasks[1].taskName must not be NULL or empty",
        ),
        (
            with(|t| t.command = " \t".into()),
            "Tasks[1].command must not be NULL or empty",
        ),
        (
            with(|t| t.overlap_policy = "Skip".into()),
            "Tasks[1].overlapPolicy must be one of",
        ),
        (
            with(|t| t.overlap_policy = "skip ".into()),
            "Tasks[1].overlapPolicy must be one of",
        ),
        (
            with(|t| t.executor = "External".into()),
            "Tasks[1].executor must be one of",
        ),
        (
            with(|t| t.max_attempts = 0),
            "Tasks[1].maxAttempts must be between 1 and 100",
        ),
        (
            with(|t| t.arguments = Some("[1]".into())),
            "Tasks[1].arguments must be a JSON array of strings",
        ),
        (
            with(|t| t.definition = Some("5".into())),
            "Tasks[1].definition is not valid JSON",
        ),
        (
            with(|t| t.definition = Some("{".into())),
            "Tasks[1].definition is not valid JSON",
        ),
        (
            with(|t| t.task_name = "good".into()),
            "Tasks[1].taskName good appears more than once",
        ),
    ];
    for (bad, expected) in cases {
        let result = db.save_tasks(&[good.clone(), bad.clone()]).await;
        assert_invalid_argument(db, result, expected, &format!("SaveTasks({:?})", bad.task));
    }
    assert_eq!(
        written(db).await,
        [0, 0],
        "{db}: nothing written, the valid element included"
    );

    let saved = db.save_tasks(&[good]).await.must(db, "SaveTasks");
    assert_eq!(saved.len(), 1, "{db}: {saved:?}");
    assert!(saved[0].created, "{db}: {saved:?}");
    assert_eq!(written(db).await, [1, 1], "{db}: the task and its trigger");
}

conformance!(save_tasks_json_and_trigger_rules);
async fn save_tasks_json_and_trigger_rules(db: &TestDb) {
    let call = |json: &str| db.call_sql("SaveTasks", &[&db.text(json)]);
    for (argument, expected) in [
        (
            "NULL".to_string(),
            "Tasks must be a JSON array of task objects",
        ),
        (db.text("{}"), "Tasks must be a JSON array of task objects"),
        (db.text("5"), "Tasks is not valid JSON"),
        (db.text("[{"), "Tasks is not valid JSON"),
    ] {
        let sql = db.call_sql("SaveTasks", &[&argument]);
        let shown = format!("SaveTasks({argument})");
        assert_invalid_argument(db, db.query_i64(&sql).await, expected, &shown);
    }

    let with_trigger = |trigger: &str| {
        format!(r#"[{{"taskName": "timed", "command": "true", "triggers": [{trigger}]}}]"#)
    };
    let object = r#""definition": "{\"at\": \"06:00\"}""#;
    let next = |at: &str| {
        with_trigger(&format!(
            r#"{{"triggerIndex": 0, "recurrence": "daily", {object}, "nextFireAt": "{at}"}}"#
        ))
    };
    let mut cases = vec![
        (
            r#"[{"taskName": "timed", "command": "true", "maxAttempts": 1e0}]"#.to_string(),
            "Tasks[0].maxAttempts must be an integer",
        ),
        (
            with_trigger(&format!(
                r#"{{"triggerIndex": 1e0, "recurrence": "daily", {object}}}"#
            )),
            "Tasks[0].triggers[0].triggerIndex must be an integer",
        ),
        (
            with_trigger(&format!(
                r#"{{"triggerIndex": 0, "recurrence": "Daily", {object}}}"#
            )),
            "Tasks[0].triggers[0].recurrence must be one of",
        ),
        (
            with_trigger(&format!(
                r#"{{"triggerIndex": 0, "recurrence": "daily ", {object}}}"#
            )),
            "Tasks[0].triggers[0].recurrence must be one of",
        ),
        (
            with_trigger(r#"{"triggerIndex": 0, "recurrence": "daily", "definition": "[1]"}"#),
            "Tasks[0].triggers[0].definition must be a string holding a JSON object",
        ),
    ];
    for bad in [
        "2030-01-01t06:00:00Z",
        "2030-01-01T06:00:00z",
        "2030-01-01T24:00:00Z",
        "2030-01-01T06:00:60Z",
        "2030-01-01T06:00:00+15:00",
        "2030-01-01T06:00:00",
        "2030-01-01T06:00:00Z ",
        "2030-01-01T06:00:00.Z",
        "2030-02-30T06:00:00Z",
    ] {
        cases.push((
            next(bad),
            "Tasks[0].triggers[0].nextFireAt must be null or an RFC 3339 instant",
        ));
    }
    for (json, expected) in cases {
        let shown = format!("SaveTasks({json})");
        assert_invalid_argument(db, db.query_i64(&call(&json)).await, expected, &shown);
    }
    assert_eq!(written(db).await, [0, 0], "{db}: nothing written");

    // Any number of fraction digits, Z or an offset up to 14 hours.
    for (text, utc) in [
        ("2030-01-01T06:00:00.250000000Z", "2030-01-01T06:00:00.25Z"),
        ("2030-01-01T18:00:00+14:00", "2030-01-01T04:00:00Z"),
        ("2030-01-01T06:00:00-05:30", "2030-01-01T11:30:00Z"),
    ] {
        db.exec(&call(&next(text))).await;
        let task_id = db.tasks().await.must(db, "read tasks")[0].task_id;
        let stored = triggers_of(db, task_id).await[0].next_fire_at;
        let expected = DateTime::parse_from_rfc3339(utc)
            .map(|t| t.with_timezone(&Utc))
            .ok();
        assert_eq!(
            stored, expected,
            "{db}: nextFireAt {text} is stored as {utc}"
        );
    }
}

conformance!(triggers_are_reconciled_by_index);
async fn triggers_are_reconciled_by_index(db: &TestDb) {
    let kept = r#"{"at":"06:00"}"#;
    let changed = r#"{"at":"07:00"}"#;
    let saved = db
        .save_tasks(&[task(
            "reconciled",
            "parallel",
            vec![trigger(0, kept), trigger(1, changed)],
        )])
        .await
        .must(db, "SaveTasks");
    let task_id = saved[0].task_id;
    for t in triggers_of(db, task_id).await {
        let fired = db
            .fire_trigger(t.trigger_id, at(6), None, FireMode::Run, 0)
            .await
            .must(db, "FireTrigger");
        assert!(fired.fired, "{db}: {fired:?}");
    }

    // A definition that differs by a trailing blank is a new definition.
    let resaved = db
        .save_tasks(&[task(
            "reconciled",
            "parallel",
            vec![
                trigger(0, kept),
                trigger(1, &format!("{changed} ")),
                trigger(2, kept),
            ],
        )])
        .await
        .must(db, "SaveTasks");
    assert_eq!(resaved[0].task_id, task_id, "{db}: the same task");
    assert!(!resaved[0].created, "{db}: updated, not created");
    let rows = triggers_of(db, task_id).await;
    let last_fired: Vec<(i32, Option<DateTime<Utc>>)> = rows
        .iter()
        .map(|t| (t.trigger_index, t.last_fired_for))
        .collect();
    assert_eq!(
        last_fired,
        [(0, Some(at(6))), (1, None), (2, None)],
        "{db}: the unchanged trigger keeps what it fired for, the changed and the new start afresh"
    );

    db.save_tasks(&[task("reconciled", "parallel", vec![trigger(2, kept)])])
        .await
        .must(db, "SaveTasks");
    let indexes: Vec<i32> = triggers_of(db, task_id)
        .await
        .iter()
        .map(|t| t.trigger_index)
        .collect();
    assert_eq!(indexes, [2], "{db}: triggers no longer listed are deleted");
}

conformance!(fire_trigger_runs_late_runs_and_skips_once);
async fn fire_trigger_runs_late_runs_and_skips_once(db: &TestDb) {
    let saved = db
        .save_tasks(&[task("fired", "skip", vec![trigger(0, r#"{"at":"06:00"}"#)])])
        .await
        .must(db, "SaveTasks");
    let trigger_id = triggers_of(db, saved[0].task_id).await[0].trigger_id;
    let fire = |occurrence, mode, missed| {
        db.fire_trigger(trigger_id, occurrence, Some(at(23)), mode, missed)
    };

    let first = fire(at(6), FireMode::Run, 0).await.must(db, "FireTrigger");
    assert!(
        first.fired && first.registered == Some(true),
        "{db}: {first:?}"
    );
    assert_eq!(
        first.status,
        Some(ProcessStatus::Pending),
        "{db}: {first:?}"
    );
    let id = first
        .process_id
        .unwrap_or_else(|| panic!("{db}: no process: {first:?}"));
    assert_eq!(
        db.row(id).await.scheduled_for,
        Some(at(6)),
        "{db}: the occurrence is recorded"
    );
    for (occurrence, what) in [
        (at(6), "the same occurrence"),
        (at(5), "an earlier occurrence"),
    ] {
        let again = fire(occurrence, FireMode::Run, 0)
            .await
            .must(db, "FireTrigger");
        assert!(
            !again.fired && again.process_id.is_none(),
            "{db}: {what} fires once: {again:?}"
        );
    }

    // skip policy and a run still Pending: fired, not registered, the active run returned.
    let refused = fire(at(7), FireMode::Late, 3).await.must(db, "FireTrigger");
    assert_eq!(
        (
            refused.fired,
            refused.process_id,
            refused.registered,
            refused.status
        ),
        (true, Some(id), Some(false), Some(ProcessStatus::Pending)),
        "{db}: {refused:?}"
    );
    db.exec(&db.seed_completion_sql(id)).await;

    let late = fire(at(8), FireMode::Late, 3).await.must(db, "FireTrigger");
    let late_id = late
        .process_id
        .unwrap_or_else(|| panic!("{db}: no late run: {late:?}"));
    let messages: Vec<(String, String)> = db
        .logs(late_id)
        .await
        .into_iter()
        .map(|l| (l.message, l.log_level))
        .collect();
    assert_eq!(
        messages,
        [
            ("Registered".to_string(), "Info".to_string()),
            (
                "Late run for the occurrence of 2030-01-01T08:00:00Z (3 missed while no driver was running)".to_string(),
                "Info".to_string()
            ),
        ],
        "{db}: the late run says so"
    );

    let skipped = fire(at(9), FireMode::Skip, 2).await.must(db, "FireTrigger");
    assert_eq!(
        (
            skipped.fired,
            skipped.process_id,
            skipped.registered,
            skipped.status
        ),
        (true, None, None, None),
        "{db}: {skipped:?}"
    );
    let warning = "Task fired: 2 occurrence(s) missed while no driver was running, the latest \
                   2030-01-01T09:00:00Z; runIfMissed is off";
    assert_eq!(
        db.count(&format!(
            "stage.ProcessLog WHERE ProcessID IS NULL AND LogLevel = 'Warning' AND Message = {}",
            db.text(warning)
        ))
        .await,
        1,
        "{db}: one warning about the missed occurrences"
    );
    let rows = triggers_of(db, saved[0].task_id).await;
    assert_eq!(
        (rows[0].last_fired_for, rows[0].next_fire_at),
        (Some(at(9)), Some(at(23))),
        "{db}: the trigger remembers the occurrence and the next one"
    );

    for mode in ["Run", "run ", "later"] {
        let sql = db.call_sql(
            "FireTrigger",
            &[
                &trigger_id.to_string(),
                &db.text("2030-01-02 06:00:00"),
                "NULL",
                &db.text(mode),
            ],
        );
        assert_invalid_argument(
            db,
            db.query_i64(&sql).await,
            "Mode",
            &format!("FireTrigger(mode {mode:?})"),
        );
    }
}

conformance!(update_next_fire_sets_only_next_fire_at);
async fn update_next_fire_sets_only_next_fire_at(db: &TestDb) {
    let saved = db
        .save_tasks(&[task(
            "planned",
            "skip",
            vec![trigger(0, r#"{"at":"06:00"}"#)],
        )])
        .await
        .must(db, "SaveTasks");
    let trigger_id = triggers_of(db, saved[0].task_id).await[0].trigger_id;
    let version = db.schedule_version().await.must(db, "ScheduleVersion");

    db.update_next_fire(&[(trigger_id, Some(at(6))), (trigger_id + 1000, Some(at(7)))])
        .await
        .must(db, "UpdateNextFire");
    assert_eq!(
        triggers_of(db, saved[0].task_id).await[0].next_fire_at,
        Some(at(6)),
        "{db}: set; an unknown trigger id is ignored"
    );
    assert_eq!(
        db.schedule_version().await.must(db, "ScheduleVersion"),
        version,
        "{db}: NextFireAt alone does not move the schedule version"
    );

    for (argument, expected) in [
        ("NULL".to_string(), "Triggers must be a JSON array"),
        (db.text("{}"), "Triggers must be a JSON array"),
        (db.text("\"x\""), "Triggers is not valid JSON"),
        (
            db.text(r#"[{"triggerId": 1e2}]"#),
            "Triggers[0].triggerId is missing or not an integer",
        ),
        (
            db.text(r#"[{"triggerId": 2147483648}]"#),
            "Triggers[0].triggerId is missing or not an integer",
        ),
        (
            db.text(&format!(
                r#"[{{"triggerId": {trigger_id}, "nextFireAt": "2030-01-01T06:00:00z"}}]"#
            )),
            "Triggers[0].nextFireAt must be null or an RFC 3339 instant",
        ),
        (
            db.text(&format!(
                r#"[{{"triggerId": {trigger_id}}}, {{"triggerId": {trigger_id}}}]"#
            )),
            "Triggers[1].triggerId",
        ),
    ] {
        let sql = db.call_sql("UpdateNextFire", &[&argument]);
        let shown = format!("UpdateNextFire({argument})");
        assert_invalid_argument(db, db.execute_sql(&sql).await, expected, &shown);
    }
    assert_eq!(
        triggers_of(db, saved[0].task_id).await[0].next_fire_at,
        Some(at(6)),
        "{db}: refused calls change nothing"
    );
}

conformance!(deleting_a_task_takes_its_triggers_and_cancels_its_pending_runs);
async fn deleting_a_task_takes_its_triggers_and_cancels_its_pending_runs(db: &TestDb) {
    let saved = db
        .save_tasks(&[task(
            "retired",
            "parallel",
            vec![
                trigger(0, r#"{"at":"06:00"}"#),
                trigger(1, r#"{"at":"07:00"}"#),
            ],
        )])
        .await
        .must(db, "SaveTasks");
    let trigger_id = triggers_of(db, saved[0].task_id).await[0].trigger_id;
    let fired = db
        .fire_trigger(trigger_id, at(6), None, FireMode::Run, 0)
        .await
        .must(db, "FireTrigger");
    let id = fired
        .process_id
        .unwrap_or_else(|| panic!("{db}: no run: {fired:?}"));

    assert!(
        db.delete_task("retired").await.must(db, "DeleteTask"),
        "{db}: deleted"
    );
    assert_eq!(
        db.count("stage.TaskTrigger").await,
        0,
        "{db}: its triggers went with it"
    );
    assert_eq!(
        db.row(id).await.status,
        ProcessStatus::Cancelled,
        "{db}: its pending run is cancelled"
    );
    let last = db
        .logs(id)
        .await
        .pop()
        .unwrap_or_else(|| panic!("{db}: no log row"));
    assert_eq!(
        (last.message.as_str(), last.log_level.as_str()),
        ("Cancelled: task retired was deleted", "Warning"),
        "{db}: and says why"
    );
    assert!(
        !db.delete_task("retired").await.must(db, "DeleteTask"),
        "{db}: gone already"
    );
}

conformance!(a_late_run_logs_in_time_order);
async fn a_late_run_logs_in_time_order(db: &TestDb) {
    let saved = db
        .save_tasks(&[task(
            "late-order",
            "queue",
            vec![trigger(0, r#"{"at":"06:00"}"#)],
        )])
        .await
        .must(db, "SaveTasks");
    let trigger_id = triggers_of(db, saved[0].task_id).await[0].trigger_id;
    // Another session holds the trigger row for a moment, so FireTrigger waits between
    // its start and the registration: a time taken at the start would then be visibly
    // earlier than the 'Registered' row.
    let hold = match db.kind() {
        BackendKind::Postgres => format!(
            "DO $$ BEGIN PERFORM 1 FROM stage.TaskTrigger WHERE TriggerID = {trigger_id} FOR UPDATE; \
             PERFORM pg_sleep(0.5); END $$"
        ),
        BackendKind::SqlServer => format!(
            "SET XACT_ABORT ON; BEGIN TRANSACTION; DECLARE @held int; \
             SELECT @held = TriggerID FROM stage.TaskTrigger WITH (UPDLOCK, ROWLOCK) WHERE TriggerID = {trigger_id}; \
             WAITFOR DELAY '00:00:00.500'; COMMIT TRANSACTION;"
        ),
    };
    let store = db.store();
    let holder = tokio::spawn(async move { store.execute_sql(&hold).await });
    // Arranging the order of the two sessions, not measuring anything.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let late = db
        .fire_trigger(trigger_id, at(6), Some(at(23)), FireMode::Late, 4)
        .await
        .must(db, "FireTrigger");
    holder
        .await
        .expect("the holding session's task")
        .must(db, "the session holding the trigger row");
    let id = late
        .process_id
        .unwrap_or_else(|| panic!("{db}: no late run: {late:?}"));
    let mut logs = db.logs(id).await;
    logs.sort_by_key(|l| l.log_id);
    assert_eq!(
        logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        [
            "Registered",
            "Late run for the occurrence of 2030-01-01T06:00:00Z (4 missed while no driver was running)"
        ],
        "{db}: {logs:?}"
    );
    assert!(
        logs.windows(2).all(|w| w[0].log_time <= w[1].log_time),
        "{db}: log rows in LogID order must have non-decreasing LogTime: {logs:?}"
    );
}
