//! The task catalog: task definitions (the JSON format of [`crate::schedule`]) to and
//! from `stage.Task` / `stage.TaskTrigger` rows.
//!
//! The columns are the truth: a DBA may change a task with SQL (disable it, change its
//! command), so a task read back is rebuilt from its columns and its triggers'
//! definitions, then validated like any submitted JSON.

use crate::schedule::{task_from_value, Occurrences, Schedule, TaskDefinition};
use crate::store::{Backend, StoreResult, TaskRecord, TaskRow, TaskSave, TriggerRow, TriggerSave};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// A stored task, its trigger rows (by index) and its definition rebuilt from them.
#[derive(Debug, Clone)]
pub struct StoredTask {
    pub row: TaskRow,
    pub triggers: Vec<TriggerRow>,
    /// Err: the rows do not make a valid task (edited by hand); says why.
    pub definition: Result<TaskDefinition, String>,
}

/// What `stage.SaveTasks` needs for a task; next fire times are computed from `now`.
pub fn to_save(task: &TaskDefinition, now: DateTime<Utc>) -> TaskSave {
    let json = task.to_json();
    let schedule = Schedule::new(task);
    let triggers = task
        .triggers
        .iter()
        .zip(schedule.triggers())
        .enumerate()
        .map(|(index, (definition, compiled))| TriggerSave {
            trigger_index: index as i32,
            recurrence: definition.recurrence.name().to_string(),
            enabled: definition.enabled,
            definition: json["triggers"][index].to_string(),
            next_fire_at: compiled.next_after(now),
        })
        .collect();
    TaskSave {
        task: TaskRecord {
            task_name: task.id.clone(),
            command: task.command.clone(),
            working_directory: task.working_directory.clone(),
            overlap_policy: task.if_running.as_str().to_string(),
            timeout_minutes: task.timeout_minutes.map(|m| m as i32),
            max_attempts: task.max_attempts as i32,
            retry_delay_seconds: task.retry_delay_seconds as i32,
            executor: task.executor.as_str().to_string(),
            enabled: task.enabled,
            description: task.description.clone(),
            arguments: task.arguments.as_ref().map(|a| json!(a).to_string()),
            time_zone: Some(task.time_zone.name().to_string()),
            run_if_missed: task.catch_up.runs_missed(),
            definition: Some(task.to_json_string()),
        },
        triggers,
    }
}

/// Rebuilds the task JSON from its columns and trigger rows, and validates it.
pub fn definition_from_rows(
    task: &TaskRecord,
    triggers: &[TriggerRow],
) -> Result<TaskDefinition, String> {
    check_rows(task, triggers)
        .1
        .map_err(|problems| problems.join("; "))
}

/// The task JSON as stored (rebuilt from its columns and trigger rows, whether valid or
/// not) and the task it makes, or every problem that stops it from being one. A column
/// that should hold JSON and does not is shown as its text.
pub fn check_rows(
    task: &TaskRecord,
    triggers: &[TriggerRow],
) -> (Value, Result<TaskDefinition, Vec<String>>) {
    let mut problems = Vec::new();
    let mut object = Map::new();
    object.insert("id".into(), json!(task.task_name));
    if let Some(description) = &task.description {
        object.insert("description".into(), json!(description));
    }
    object.insert("command".into(), json!(task.command));
    if let Some(arguments) = &task.arguments {
        let parsed = serde_json::from_str(arguments).unwrap_or_else(|e| {
            problems.push(format!("Arguments column is not JSON: {e}"));
            json!(arguments)
        });
        object.insert("arguments".into(), parsed);
    }
    if let Some(directory) = &task.working_directory {
        object.insert("workingDirectory".into(), json!(directory));
    }
    object.insert("runIfMissed".into(), json!(task.run_if_missed));
    // The column says whether missed runs run; the saved JSON says how many (`all`),
    // while the overlap policy (a column a DBA may change) still allows it.
    // Settings with no column of their own come from the JSON as submitted.
    let saved = task
        .definition
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    let overlap_allows_all = ["queue", "parallel"].contains(&task.overlap_policy.as_str());
    if task.run_if_missed && overlap_allows_all {
        if let Some(saved) = saved.as_ref().filter(|saved| saved["catchUp"] == "all") {
            object.insert("catchUp".into(), json!("all"));
            if let Some(limit) = saved.get("catchUpLimit").filter(|limit| limit.is_u64()) {
                object.insert("catchUpLimit".into(), limit.clone());
            }
        }
    }
    object.insert("ifRunning".into(), json!(task.overlap_policy));
    object.insert("enabled".into(), json!(task.enabled));
    if let Some(zone) = &task.time_zone {
        object.insert("timeZone".into(), json!(zone));
    }
    if let Some(timeout) = task.timeout_minutes {
        object.insert("timeoutMinutes".into(), json!(timeout));
    }
    object.insert("maxAttempts".into(), json!(task.max_attempts));
    object.insert("retryDelaySeconds".into(), json!(task.retry_delay_seconds));
    object.insert("executor".into(), json!(task.executor));
    for key in ["outputEncoding", "minLogLevel"] {
        if let Some(value) = saved.as_ref().and_then(|saved| saved.get(key)) {
            object.insert(key.into(), value.clone());
        }
    }
    // No column holds the notify settings: the saved JSON is their truth (the database
    // reads them from it into stage.TaskNotify).
    if let Some(notify) = saved.as_ref().and_then(|saved| saved.get("notify")) {
        object.insert("notify".into(), notify.clone());
    }
    let mut trigger_values = Vec::with_capacity(triggers.len());
    for trigger in triggers {
        let mut value: Value = serde_json::from_str(&trigger.definition).unwrap_or_else(|e| {
            problems.push(format!(
                "trigger {} definition is not JSON: {e}",
                trigger.trigger_index
            ));
            json!(trigger.definition)
        });
        if let Some(map) = value.as_object_mut() {
            // The column wins over the JSON: disabling a trigger with SQL must work.
            map.insert("enabled".into(), json!(trigger.enabled));
        }
        trigger_values.push(value);
    }
    object.insert("triggers".into(), Value::Array(trigger_values));
    let stored = Value::Object(object);
    let definition = if problems.is_empty() {
        task_from_value(&stored)
            .map_err(|errors| errors.errors().iter().map(ToString::to_string).collect())
    } else {
        Err(problems)
    };
    (stored, definition)
}

/// Every task that has triggers, its definition rebuilt from its rows, handed to `each`
/// one at a time as one query streams them (by TaskID): a reader that keeps only what it
/// needs of each task stays small however many there are.
pub async fn each_scheduled(
    db: &dyn Backend,
    mut each: impl FnMut(StoredTask) + Send,
) -> StoreResult<()> {
    db.each_scheduled_task(&mut |row, triggers| {
        let definition = definition_from_rows(&row.record, &triggers);
        each(StoredTask {
            row,
            triggers,
            definition,
        });
    })
    .await
}

/// Every stored task with its triggers, by name.
pub async fn load(db: &dyn Backend) -> StoreResult<Vec<StoredTask>> {
    let (tasks, mut triggers) = tokio::try_join!(db.tasks(), db.triggers())?;
    // Triggers come ordered by TaskID, TriggerIndex: group them without a map per task.
    triggers.sort_by_key(|t| (t.task_id, t.trigger_index));
    Ok(tasks
        .into_iter()
        .map(|row| {
            let start = triggers.partition_point(|t| t.task_id < row.task_id);
            let end = triggers.partition_point(|t| t.task_id <= row.task_id);
            let own = triggers[start..end].to_vec();
            let definition = definition_from_rows(&row.record, &own);
            StoredTask {
                row,
                triggers: own,
                definition,
            }
        })
        .collect())
}
