//! catchUp read back from stored rows: the RunIfMissed column says whether missed runs
//! run, the saved JSON how many (`all`, with its limit), and a DBA's change of a column
//! (RunIfMissed off, OverlapPolicy skip) wins without making the task invalid.

use chrono::Utc;
use stagehand::catalog::{definition_from_rows, to_save};
use stagehand::schedule::{parse_task, CatchUpPolicy};
use stagehand::store::TriggerRow;

fn stored(text: &str) -> (stagehand::store::TaskRecord, Vec<TriggerRow>) {
    let save = to_save(&parse_task(text).unwrap(), Utc::now());
    let triggers = save
        .triggers
        .iter()
        .map(|t| TriggerRow {
            trigger_id: t.trigger_index + 1,
            task_id: 1,
            trigger_index: t.trigger_index,
            recurrence: t.recurrence.clone(),
            enabled: t.enabled,
            definition: t.definition.clone(),
            next_fire_at: t.next_fire_at,
            last_fired_for: None,
            created_at: Utc::now(),
        })
        .collect();
    (save.task, triggers)
}

#[test]
fn catch_up_survives_the_store_and_columns_win() {
    let (mut task, triggers) = stored(
        r#"{"id": "t", "command": "true", "timeZone": "UTC", "catchUp": "all",
            "catchUpLimit": 7, "ifRunning": "queue",
            "triggers": [{"recurrence": "driverStart"}]}"#,
    );
    assert!(task.run_if_missed, "the column says missed runs run");
    let read = definition_from_rows(&task, &triggers).unwrap();
    assert_eq!(read.catch_up, CatchUpPolicy::All { limit: 7 });

    task.overlap_policy = "skip".into();
    let read = definition_from_rows(&task, &triggers).unwrap();
    assert_eq!(
        read.catch_up,
        CatchUpPolicy::Once,
        "skip cannot run them all"
    );

    task.run_if_missed = false;
    let read = definition_from_rows(&task, &triggers).unwrap();
    assert_eq!(read.catch_up, CatchUpPolicy::None, "RunIfMissed off wins");
}
