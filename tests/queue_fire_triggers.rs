//! FireTriggers: a batch fires exactly as FireTrigger would fire its elements one after
//! another (run, late, skip, the same or an earlier occurrence again, an overlap refusal,
//! a disabled trigger), two drivers firing the same batch at once fire each occurrence
//! once, and bad input names the element and writes nothing.

#[macro_use]
mod common;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use common::{assert_invalid_argument, Must, TestDb};
use stagehand::store::{
    Backend, FireMode, FireRequest, FireResult, TaskRecord, TaskSave, TriggerRow, TriggerSave,
};
use tokio::sync::Barrier;

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, hour, 0, 0)
        .single()
        .expect("a valid test instant")
}

/// An external task (nothing runs it) with `policy` and one daily trigger.
fn task(name: &str, policy: &str, trigger_enabled: bool) -> TaskSave {
    TaskSave {
        task: TaskRecord {
            overlap_policy: policy.into(),
            executor: "external".into(),
            ..TaskRecord::new(name, "true")
        },
        triggers: vec![TriggerSave {
            trigger_index: 0,
            recurrence: "daily".into(),
            enabled: trigger_enabled,
            definition: r#"{"at":"06:00"}"#.into(),
            next_fire_at: None,
        }],
    }
}

/// Saves `tasks`; their trigger ids, in order.
async fn trigger_ids(db: &TestDb, tasks: &[TaskSave]) -> Vec<i32> {
    let saved = db.save_tasks(tasks).await.must(db, "SaveTasks");
    let all: Vec<TriggerRow> = db.triggers().await.must(db, "read triggers");
    saved
        .iter()
        .map(|s| {
            all.iter()
                .find(|t| t.task_id == s.task_id)
                .map(|t| t.trigger_id)
                .unwrap_or_else(|| panic!("{db}: no trigger of {}", s.task_name))
        })
        .collect()
}

fn request(trigger_id: i32, occurrence: DateTime<Utc>, mode: FireMode, missed: i32) -> FireRequest {
    FireRequest {
        trigger_id,
        occurrence,
        next_fire_at: Some(at(23)),
        mode,
        missed_count: missed,
    }
}

/// What a firing says, process ids aside (the two sets of tasks get different ones).
fn shape(result: &FireResult) -> (bool, bool, Option<bool>, Option<String>) {
    (
        result.fired,
        result.process_id.is_some(),
        result.registered,
        result.status.map(|s| s.to_string()),
    )
}

/// The elements of the equivalence test over the triggers of tasks `t0..t3`.
fn elements(ids: &[i32]) -> Vec<FireRequest> {
    vec![
        request(ids[0], at(6), FireMode::Run, 0),
        // the same occurrence again, then an earlier one: not fired
        request(ids[0], at(6), FireMode::Run, 0),
        request(ids[0], at(5), FireMode::Run, 0),
        // skip policy, the run of 06:00 still Pending: fired, refused
        request(ids[0], at(7), FireMode::Late, 3),
        request(ids[1], at(8), FireMode::Late, 2),
        request(ids[2], at(9), FireMode::Skip, 4),
        // a disabled trigger never fires
        request(ids[3], at(6), FireMode::Run, 0),
    ]
}

fn tasks(prefix: &str) -> Vec<TaskSave> {
    vec![
        task(&format!("{prefix}_skip"), "skip", true),
        task(&format!("{prefix}_late"), "parallel", true),
        task(&format!("{prefix}_missed"), "parallel", true),
        task(&format!("{prefix}_off"), "parallel", false),
    ]
}

/// What the firings wrote for the tasks named `prefix_*`.
async fn written(db: &TestDb, prefix: &str) -> Vec<i64> {
    let like = format!("'{prefix}\\_%' ESCAPE '\\'");
    vec![
        db.count(&format!("stage.FileControl WHERE ProcessName LIKE {like}"))
            .await,
        db.count(&format!(
            "stage.ProcessLog AS l JOIN stage.FileControl AS f ON f.ProcessID = l.ProcessID \
             WHERE f.ProcessName LIKE {like}"
        ))
        .await,
        db.count(&format!(
            "stage.ProcessLog WHERE ProcessID IS NULL AND Message LIKE 'Task {prefix}\\_%' ESCAPE '\\'"
        ))
        .await,
    ]
}

conformance!(fire_triggers_fires_as_fire_trigger_one_after_another);
async fn fire_triggers_fires_as_fire_trigger_one_after_another(db: &TestDb) {
    let single_ids = trigger_ids(db, &tasks("single")).await;
    let batch_ids = trigger_ids(db, &tasks("batch")).await;

    let mut singles = Vec::new();
    for e in elements(&single_ids) {
        singles.push(
            db.fire_trigger(
                e.trigger_id,
                e.occurrence,
                e.next_fire_at,
                e.mode,
                e.missed_count,
            )
            .await
            .must(db, "FireTrigger"),
        );
    }
    let batch = db
        .fire_triggers(&elements(&batch_ids))
        .await
        .must(db, "FireTriggers");

    assert_eq!(
        batch.iter().map(shape).collect::<Vec<_>>(),
        singles.iter().map(shape).collect::<Vec<_>>(),
        "{db}: the batch answers as the single calls did"
    );
    assert_eq!(
        shape(&batch[3]),
        (true, true, Some(false), Some("Pending".into())),
        "{db}: the refused occurrence returns the run still going: {batch:?}"
    );
    assert_eq!(
        batch[3].process_id, batch[0].process_id,
        "{db}: the run still going is the batch's first"
    );
    assert_eq!(
        written(db, "batch").await,
        written(db, "single").await,
        "{db}: the batch writes what the single calls wrote"
    );
    let all = db.triggers().await.must(db, "read triggers");
    let marks = |ids: &[i32]| -> Vec<_> {
        ids.iter()
            .map(|id| {
                let row = all.iter().find(|t| t.trigger_id == *id).expect("trigger");
                (row.last_fired_for, row.next_fire_at)
            })
            .collect()
    };
    assert_eq!(
        marks(&batch_ids),
        marks(&single_ids),
        "{db}: LastFiredFor and NextFireAt as the single calls left them"
    );
    assert_eq!(
        db.fire_triggers(&[])
            .await
            .must(db, "FireTriggers of nothing"),
        [],
        "{db}: an empty batch is fine"
    );
}

conformance!(two_drivers_firing_the_same_batch_fire_each_occurrence_once);
async fn two_drivers_firing_the_same_batch_fire_each_occurrence_once(db: &TestDb) {
    const TASKS: usize = 20;
    // parallel: no overlap rule refuses a second run, only the exactly-once rule can.
    let saved: Vec<TaskSave> = (0..TASKS)
        .map(|i| task(&format!("race_{i}"), "parallel", true))
        .collect();
    let ids = trigger_ids(db, &saved).await;
    // The driver's clock runs as stage_worker.
    let drivers: Vec<Arc<dyn Backend>> = vec![
        db.connect_as("stage_worker").await,
        db.connect_as("stage_worker").await,
        db.connect_as("stage_worker").await,
    ];
    for hour in 1..6 {
        let batch: Vec<FireRequest> = ids
            .iter()
            .map(|id| request(*id, at(hour), FireMode::Run, 0))
            .collect();
        let barrier = Arc::new(Barrier::new(drivers.len()));
        let mut callers = Vec::new();
        for driver in &drivers {
            let (driver, barrier, batch, label) = (
                driver.clone(),
                barrier.clone(),
                batch.clone(),
                db.to_string(),
            );
            callers.push(tokio::spawn(async move {
                barrier.wait().await;
                driver
                    .fire_triggers(&batch)
                    .await
                    .must(&label, "concurrent FireTriggers")
            }));
        }
        let mut results = Vec::new();
        for caller in callers {
            results.push(caller.await.expect("caller panicked"));
        }
        for (element, id) in ids.iter().enumerate() {
            let fired = results.iter().filter(|r| r[element].fired).count();
            assert_eq!(
                fired, 1,
                "{db}: {hour}:00 of trigger {id} fired by exactly one driver"
            );
        }
        for i in 0..TASKS {
            assert_eq!(
                db.count(&format!(
                    "stage.FileControl WHERE ProcessName = 'race_{i}' AND ScheduledFor IS NOT NULL"
                ))
                .await,
                i64::from(hour),
                "{db}: one run of race_{i} per occurrence"
            );
        }
    }
}

conformance!(bad_input_names_the_element_and_writes_nothing);
async fn bad_input_names_the_element_and_writes_nothing(db: &TestDb) {
    let ids = trigger_ids(db, &[task("bad", "parallel", true)]).await;
    let good = format!(
        r#"{{"triggerId":{},"occurrence":"2030-01-01T06:00:00Z"}}"#,
        ids[0]
    );
    let with = |second: &str| format!("[{good}, {second}]");
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "Occurrences is not valid JSON"),
        ("5".into(), "Occurrences is not valid JSON"),
        (good.clone(), "Occurrences must be a JSON array"),
        (with("5"), "Occurrences[1] must be a JSON object"),
        (
            with(r#"{"triggerID":1,"occurrence":"2030-01-01T06:00:00Z"}"#),
            "Occurrences[1].triggerID is not a known key",
        ),
        (
            with(r#"{"triggerId":"1","occurrence":"2030-01-01T06:00:00Z"}"#),
            "Occurrences[1].triggerId must be an integer",
        ),
        (
            with(r#"{"triggerId":1.5,"occurrence":"2030-01-01T06:00:00Z"}"#),
            "Occurrences[1].triggerId must be an integer",
        ),
        (
            with(r#"{"triggerId":null,"occurrence":"2030-01-01T06:00:00Z"}"#),
            "Occurrences[1].triggerId must be an integer",
        ),
        (
            with(r#"{"triggerId":1}"#),
            "Occurrences[1].occurrence must be an RFC 3339 instant",
        ),
        (
            with(r#"{"triggerId":1,"occurrence":"2030-01-01T06:00:00"}"#),
            "Occurrences[1].occurrence must be an RFC 3339 instant",
        ),
        (
            with(r#"{"triggerId":1,"occurrence":"2030-02-30T06:00:00Z"}"#),
            "Occurrences[1].occurrence must be an RFC 3339 instant",
        ),
        (
            with(r#"{"triggerId":1,"occurrence":"2030-01-01T06:00:00Z","nextFireAt":"tomorrow"}"#),
            "Occurrences[1].nextFireAt must be null or an RFC 3339 instant",
        ),
        (
            with(r#"{"triggerId":1,"occurrence":"2030-01-01T06:00:00Z","mode":"Run"}"#),
            "Occurrences[1].mode must be one of run, late, skip",
        ),
        (
            with(r#"{"triggerId":1,"occurrence":"2030-01-01T06:00:00Z","mode":null}"#),
            "Occurrences[1].mode must be one of run, late, skip",
        ),
        (
            with(r#"{"triggerId":1,"occurrence":"2030-01-01T06:00:00Z","missedCount":-1}"#),
            "Occurrences[1].missedCount must be an integer, 0 or more",
        ),
    ];
    for (input, error) in cases {
        let sql = db.call_sql("FireTriggers", &[&db.text(&input)]);
        assert_invalid_argument(db, db.query_i64(&sql).await, error, &input);
    }
    assert_eq!(
        db.count("stage.FileControl").await,
        0,
        "{db}: nothing registered"
    );
    assert_eq!(
        db.count("stage.ProcessLog").await,
        0,
        "{db}: nothing logged"
    );
    assert_eq!(
        db.count("stage.TaskTrigger WHERE LastFiredFor IS NOT NULL")
            .await,
        0,
        "{db}: no trigger moved"
    );
    // Absent keys take FireTrigger's defaults: mode run, no next fire, no missed count.
    let sql = db.call_sql("FireTriggers", &[&db.text(&format!("[{good}]"))]);
    assert_eq!(
        db.query_i64(&sql)
            .await
            .must(db, "FireTriggers with defaults"),
        Some(0),
        "{db}: one row, ordinal 0"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE ProcessName = 'bad'")
            .await,
        1,
        "{db}: the good element alone registers"
    );
}
