//! The operator's procedures: RunTaskNow (the task's overlap policy through the shared
//! registration core, disabled tasks only with Force), SetTaskEnabled (task or trigger,
//! schedule version), CancelProcess (Pending at once, InProgress through CancelRequested
//! as killPrevious does, finished refused) and RetryProcess (Failed or Cancelled, from the
//! queue or its history, same name and parameters, duplicate rule of RegisterProcess).

#[macro_use]
mod common;

use chrono::{TimeZone, Utc};
use common::{assert_invalid_argument, Must, TestDb, Unit};
use stagehand::store::{
    Completion, FinalStatus, FireMode, ProcessStatus, StoreError, StoreResult, TaskRecord,
    TaskSave, TriggerSave,
};
use std::fmt::Debug;

/// The call must have been refused for the state of what it names, saying `words`.
fn assert_refused<T: Debug>(db: &TestDb, result: StoreResult<T>, words: &str, call: &str) {
    match result {
        Err(StoreError::Refused(message)) => assert!(
            message.contains(words),
            "{db}: {call}: expected a refusal saying {words:?}, got {message:?}"
        ),
        other => panic!("{db}: {call}: expected a refusal saying {words:?}, got {other:?}"),
    }
}

/// A driver task with `policy`, enabled or not, and `triggers` daily triggers.
async fn steer_task(db: &TestDb, name: &str, policy: &str, enabled: bool, triggers: i32) -> i32 {
    let triggers = (0..triggers)
        .map(|index| TriggerSave {
            trigger_index: index,
            recurrence: "daily".into(),
            enabled: true,
            definition: format!(r#"{{"recurrence":"daily","start":"2024-01-01T0{index}:00:00"}}"#),
            next_fire_at: None,
        })
        .collect();
    let task = TaskSave {
        task: TaskRecord {
            overlap_policy: policy.into(),
            enabled,
            ..TaskRecord::new(name, "true")
        },
        triggers,
    };
    db.save_tasks(&[task]).await.must(db, "SaveTasks")[0].task_id
}

/// Registers, claims and finishes a run of `name` with `status`; returns its id.
async fn finished(db: &TestDb, name: &str, parameters: Option<&str>, status: FinalStatus) -> i64 {
    let registered = db
        .register(name, parameters, None)
        .await
        .must(db, "RegisterProcess");
    let id = registered.process_id;
    let claimed = db.claim_as("w1", 1).await;
    assert_eq!(claimed.len(), 1, "{db}: {claimed:?}");
    let done = db
        .complete(&[Completion::new(id, "w1", None, status)])
        .await
        .must(db, "CompleteProcesses");
    assert!(done[0].accepted, "{db}: {done:?}");
    id
}

/// Moves every finished process into the history tables (backdated a day first, so the
/// cutoff of a zero-month retention is surely after them).
async fn to_history(db: &TestDb) {
    let day_ago = db.ago(1, Unit::Day);
    db.exec(&format!(
        "UPDATE stage.FileControl SET EndTime = {day_ago} WHERE Status IN ('Completed', 'Failed', 'Cancelled')"
    ))
    .await;
    db.rotate(0, 1000, None).await.must(db, "RotateHistory");
}

conformance!(run_now_registers_under_the_task_policy);
async fn run_now_registers_under_the_task_policy(db: &TestDb) {
    steer_task(db, "nightly", "skip", true, 1).await;
    let first = db
        .run_task_now("nightly", false)
        .await
        .must(db, "RunTaskNow");
    assert!(first.registered, "{db}: {first:?}");
    assert_eq!(
        (first.process_name.as_str(), first.status),
        ("nightly", ProcessStatus::Pending)
    );
    let row = db.row(first.process_id).await;
    assert_eq!(
        (row.scheduled_for, row.parameters),
        (None, None),
        "{db}: a run now stands for no occurrence and has no parameters"
    );
    let logs = db.logs(first.process_id).await;
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages[0], "Registered", "{db}: {messages:?}");
    assert!(
        messages[1].starts_with("Run now (stage.RunTaskNow"),
        "{db}: the log says it was a run now: {messages:?}"
    );

    let again = db
        .run_task_now("nightly", false)
        .await
        .must(db, "RunTaskNow again");
    assert_eq!(
        (again.registered, again.process_id, again.status),
        (false, first.process_id, ProcessStatus::Pending),
        "{db}: skip refuses while a run is pending and returns that run"
    );

    steer_task(db, "latest", "killPrevious", true, 0).await;
    let old = db
        .run_task_now("latest", false)
        .await
        .must(db, "RunTaskNow");
    let new = db
        .run_task_now("latest", false)
        .await
        .must(db, "RunTaskNow");
    assert!(old.registered && new.registered, "{db}: {old:?} {new:?}");
    assert_eq!(
        db.row(old.process_id).await.status,
        ProcessStatus::Cancelled,
        "{db}: killPrevious supersedes the pending run, as for a trigger"
    );

    steer_task(db, "wide", "parallel", true, 0).await;
    for _ in 0..2 {
        let run = db.run_task_now("wide", false).await.must(db, "RunTaskNow");
        assert!(run.registered, "{db}: parallel always inserts: {run:?}");
    }
    assert_eq!(
        db.count("stage.FileControl WHERE ProcessName = 'wide'")
            .await,
        2
    );
}

conformance!(run_now_refuses_a_disabled_task_unless_forced);
async fn run_now_refuses_a_disabled_task_unless_forced(db: &TestDb) {
    steer_task(db, "paused", "skip", false, 1).await;
    assert_refused(
        db,
        db.run_task_now("paused", false).await,
        "paused is disabled",
        "RunTaskNow of a disabled task",
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        0,
        "{db}: nothing registered"
    );
    let forced = db
        .run_task_now("paused", true)
        .await
        .must(db, "RunTaskNow with Force");
    assert!(forced.registered, "{db}: {forced:?}");
    let logs = db.logs(forced.process_id).await;
    assert!(
        logs.iter()
            .any(|l| l.message.starts_with("Run now of a disabled task")),
        "{db}: the log says Force ran a disabled task: {logs:#?}"
    );
}

conformance!(run_now_names_bad_arguments);
async fn run_now_names_bad_arguments(db: &TestDb) {
    steer_task(db, "known", "skip", true, 0).await;
    for name in ["", "  \t", &"n".repeat(256), "unknown"] {
        assert_invalid_argument(
            db,
            db.run_task_now(name, false).await,
            "TaskName",
            &format!("RunTaskNow({:?}...)", name.chars().next()),
        );
    }
    let null_name = db.call_sql("RunTaskNow", &["NULL", db.boolean(false)]);
    assert_invalid_argument(
        db,
        db.query_i64(&null_name).await,
        "TaskName",
        "RunTaskNow(NULL)",
    );
    let null_force = db.call_sql("RunTaskNow", &[&db.text("known"), "NULL"]);
    assert_invalid_argument(
        db,
        db.query_i64(&null_force).await,
        "Force",
        "RunTaskNow(Force NULL)",
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        0,
        "{db}: nothing registered"
    );
}

conformance!(set_task_enabled_changes_the_task_or_one_trigger_and_the_version);
async fn set_task_enabled_changes_the_task_or_one_trigger_and_the_version(db: &TestDb) {
    let task_id = steer_task(db, "switch", "skip", true, 2).await;
    let version = db.schedule_version().await.must(db, "ScheduleVersion");

    let off = db
        .set_task_enabled("switch", false, None)
        .await
        .must(db, "SetTaskEnabled off");
    assert_eq!(
        (
            off.task_id,
            off.task_name.as_str(),
            off.trigger_index,
            off.enabled,
            off.changed
        ),
        (task_id, "switch", None, false, true),
        "{db}: {off:?}"
    );
    let tasks = db.tasks().await.must(db, "read tasks");
    assert!(!tasks[0].record.enabled, "{db}: the column is the truth");
    let after_off = db.schedule_version().await.must(db, "ScheduleVersion");
    assert!(
        after_off > version,
        "{db}: the clocks reload: {version} -> {after_off}"
    );

    let same = db
        .set_task_enabled("switch", false, None)
        .await
        .must(db, "SetTaskEnabled off again");
    assert!(!same.changed, "{db}: already disabled: {same:?}");
    assert_eq!(
        db.schedule_version().await.must(db, "ScheduleVersion"),
        after_off,
        "{db}: nothing written, no reload"
    );

    // Enabling brings the triggers back from now on: CreatedAt moves to now.
    db.exec("UPDATE stage.TaskTrigger SET CreatedAt = '2024-01-01T00:00:00'")
        .await;
    let on = db
        .set_task_enabled("switch", true, None)
        .await
        .must(db, "SetTaskEnabled on");
    assert!(on.enabled && on.changed, "{db}: {on:?}");
    let recent = db.now().await - chrono::Duration::minutes(5);
    let triggers = db.triggers().await.must(db, "read triggers");
    assert!(
        triggers.iter().all(|t| t.created_at > recent),
        "{db}: occurrences while disabled do not count: {triggers:?}"
    );

    let trigger_off = db
        .set_task_enabled("switch", false, Some(1))
        .await
        .must(db, "SetTaskEnabled trigger 1 off");
    assert_eq!(
        (
            trigger_off.trigger_index,
            trigger_off.enabled,
            trigger_off.changed
        ),
        (Some(1), false, true),
        "{db}: {trigger_off:?}"
    );
    let triggers = db.triggers().await.must(db, "read triggers");
    let enabled: Vec<(i32, bool)> = triggers
        .iter()
        .map(|t| (t.trigger_index, t.enabled))
        .collect();
    assert_eq!(enabled, vec![(0, true), (1, false)], "{db}: only trigger 1");
    let tasks = db.tasks().await.must(db, "read tasks");
    assert!(tasks[0].record.enabled, "{db}: the task stays enabled");
    assert!(
        db.schedule_version().await.must(db, "ScheduleVersion") > after_off,
        "{db}: a trigger change reloads too"
    );
    let trigger_on = db
        .set_task_enabled("switch", true, Some(1))
        .await
        .must(db, "SetTaskEnabled trigger 1 on");
    assert!(trigger_on.changed, "{db}: {trigger_on:?}");
}

conformance!(set_task_enabled_names_bad_arguments);
async fn set_task_enabled_names_bad_arguments(db: &TestDb) {
    steer_task(db, "switch", "skip", true, 1).await;
    for name in ["", " ", &"n".repeat(256), "unknown"] {
        assert_invalid_argument(
            db,
            db.set_task_enabled(name, false, None).await,
            "TaskName",
            "SetTaskEnabled(bad name)",
        );
    }
    for index in [1, -1] {
        assert_invalid_argument(
            db,
            db.set_task_enabled("switch", false, Some(index)).await,
            "TriggerIndex",
            &format!("SetTaskEnabled(trigger {index})"),
        );
    }
    let null = db.call_sql("SetTaskEnabled", &[&db.text("switch"), "NULL"]);
    assert_invalid_argument(
        db,
        db.query_i64(&null).await,
        "Enabled",
        "SetTaskEnabled(NULL)",
    );
    let tasks = db.tasks().await.must(db, "read tasks");
    let triggers = db.triggers().await.must(db, "read triggers");
    assert!(
        tasks[0].record.enabled && triggers[0].enabled,
        "{db}: nothing changed"
    );
}

conformance!(cancel_ends_pending_at_once_and_asks_running_to_stop);
async fn cancel_ends_pending_at_once_and_asks_running_to_stop(db: &TestDb) {
    db.driver_task("cancellable", "parallel").await;
    let pending = db.register_new("cancellable").await;
    let cancelled = db.cancel_process(pending).await.must(db, "CancelProcess");
    assert_eq!(
        (cancelled.status, cancelled.process_name.as_str()),
        (ProcessStatus::Cancelled, "cancellable"),
        "{db}: {cancelled:?}"
    );
    let row = db.row(pending).await;
    assert_eq!(row.status, ProcessStatus::Cancelled);
    assert!(row.end_time.is_some(), "{db}: EndTime set: {row:?}");
    let logs = db.logs(pending).await;
    assert!(
        logs.iter().any(|l| l.log_level == "Warning"
            && l.message.starts_with("Cancelled by stage.CancelProcess")),
        "{db}: {logs:#?}"
    );
    assert!(
        db.claim_as("w1", 10).await.is_empty(),
        "{db}: a cancelled run is never claimed"
    );

    let running = db.register_new("cancellable").await;
    assert_eq!(db.claim_as("w1", 1).await.len(), 1);
    let asked = db.cancel_process(running).await.must(db, "CancelProcess");
    assert_eq!(
        (asked.status, asked.cancel_requested),
        (ProcessStatus::InProgress, true),
        "{db}: a running one is asked to stop: {asked:?}"
    );
    let beat = db
        .heartbeat("w1", &[running], 60)
        .await
        .must(db, "Heartbeat");
    assert!(
        beat[0].held && beat[0].cancel_requested,
        "{db}: the driver learns it from its heartbeat, as for killPrevious: {beat:?}"
    );
    let twice = db
        .cancel_process(running)
        .await
        .must(db, "CancelProcess again");
    assert!(twice.cancel_requested, "{db}: {twice:?}");
    let requests = db
        .logs(running)
        .await
        .into_iter()
        .filter(|l| {
            l.message
                .starts_with("Cancellation requested by stage.CancelProcess")
        })
        .count();
    assert_eq!(requests, 1, "{db}: asked once, logged once");

    // The driver stops it and reports Cancelled; then it is finished.
    let done = db
        .complete(&[Completion::new(running, "w1", None, FinalStatus::Cancelled)])
        .await
        .must(db, "CompleteProcesses");
    assert!(done[0].accepted, "{db}: {done:?}");
    assert_refused(
        db,
        db.cancel_process(running).await,
        "is Cancelled",
        "CancelProcess of a cancelled process",
    );
    let completed = finished(db, "cancellable", None, FinalStatus::Completed).await;
    assert_refused(
        db,
        db.cancel_process(completed).await,
        "is Completed",
        "CancelProcess of a completed process",
    );
    assert_eq!(db.row(completed).await.status, ProcessStatus::Completed);
}

conformance!(cancel_names_unknown_processes_and_refuses_history);
async fn cancel_names_unknown_processes_and_refuses_history(db: &TestDb) {
    db.driver_task("old", "parallel").await;
    let id = finished(db, "old", None, FinalStatus::Failed).await;
    to_history(db).await;
    assert!(
        db.process(id).await.must(db, "read").is_none(),
        "{db}: in history"
    );
    assert_refused(
        db,
        db.cancel_process(id).await,
        "is Failed",
        "CancelProcess of history",
    );
    assert_invalid_argument(
        db,
        db.cancel_process(id + 1000).await,
        "ProcessID",
        "CancelProcess(unknown)",
    );
    let null = db.call_sql("CancelProcess", &["NULL"]);
    assert_invalid_argument(
        db,
        db.query_i64(&null).await,
        "ProcessID",
        "CancelProcess(NULL)",
    );
}

conformance!(retry_registers_a_failed_or_cancelled_process_again);
async fn retry_registers_a_failed_or_cancelled_process_again(db: &TestDb) {
    db.driver_task("import", "skip").await;
    let parameters = r#"{"day":"2024-12-06","files":[1,2]}"#;
    let failed = finished(db, "import", Some(parameters), FinalStatus::Failed).await;

    let retry = db.retry_process(failed).await.must(db, "RetryProcess");
    assert!(retry.registered, "{db}: {retry:?}");
    assert_ne!(retry.process_id, failed);
    let row = db.row(retry.process_id).await;
    assert_eq!(
        (
            row.process_name.as_str(),
            row.parameters.as_deref(),
            row.status
        ),
        ("import", Some(parameters), ProcessStatus::Pending),
        "{db}: same name and parameters: {row:?}"
    );
    let logs = db.logs(retry.process_id).await;
    assert!(
        logs.iter().any(|l| l
            .message
            .starts_with(&format!("Retry of process {failed} "))),
        "{db}: the new run points at the original: {logs:#?}"
    );

    let refused = db
        .retry_process(failed)
        .await
        .must(db, "RetryProcess again");
    assert_eq!(
        (refused.registered, refused.process_id),
        (false, retry.process_id),
        "{db}: refused while a run is pending (skip), as RegisterProcess: {refused:?}"
    );

    // A cancelled one, after rotation into history, still retries with its parameters.
    db.cancel_process(retry.process_id)
        .await
        .must(db, "CancelProcess");
    to_history(db).await;
    assert!(db
        .process(retry.process_id)
        .await
        .must(db, "read")
        .is_none());
    let from_history = db
        .retry_process(retry.process_id)
        .await
        .must(db, "RetryProcess from history");
    assert!(from_history.registered, "{db}: {from_history:?}");
    assert_eq!(
        db.row(from_history.process_id).await.parameters.as_deref(),
        Some(parameters),
        "{db}: parameters kept across history"
    );
}

conformance!(retry_refuses_other_statuses_and_names_unknown_processes);
async fn retry_refuses_other_statuses_and_names_unknown_processes(db: &TestDb) {
    db.driver_task("job", "parallel").await;
    let completed = finished(db, "job", None, FinalStatus::Completed).await;
    assert_refused(
        db,
        db.retry_process(completed).await,
        "is Completed",
        "RetryProcess of a completed process",
    );
    let pending = db.register_new("job").await;
    assert_refused(
        db,
        db.retry_process(pending).await,
        "is Pending",
        "RetryProcess of a pending process",
    );
    assert_invalid_argument(
        db,
        db.retry_process(pending + 1000).await,
        "ProcessID",
        "RetryProcess(unknown)",
    );
    let null = db.call_sql("RetryProcess", &["NULL"]);
    assert_invalid_argument(
        db,
        db.query_i64(&null).await,
        "ProcessID",
        "RetryProcess(NULL)",
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        2,
        "{db}: nothing registered"
    );
}

conformance!(enabling_by_any_path_starts_the_triggers_from_now);
async fn enabling_by_any_path_starts_the_triggers_from_now(db: &TestDb) {
    steer_task(db, "by-hand", "skip", true, 2).await;
    let (on, off) = (db.boolean(true), db.boolean(false));
    let long_ago = "'2024-01-01T00:00:00'";
    let created = || async {
        let triggers = db.triggers().await.must(db, "read triggers");
        let recent = db.now().await - chrono::Duration::minutes(5);
        triggers
            .iter()
            .map(|t| t.created_at > recent)
            .collect::<Vec<bool>>()
    };
    db.exec(&format!(
        "UPDATE stage.TaskTrigger SET Enabled = {off} WHERE TriggerIndex = 1"
    ))
    .await;
    db.exec(&format!(
        "UPDATE stage.TaskTrigger SET CreatedAt = {long_ago}"
    ))
    .await;

    // Updates that enable nothing leave the history alone.
    db.exec(&format!(
        "UPDATE stage.Task SET Enabled = {on}, Command = 'false'"
    ))
    .await;
    db.exec(&format!("UPDATE stage.Task SET Enabled = {off}"))
        .await;
    assert_eq!(created().await, vec![false, false], "{db}: nothing enabled");

    // An UPDATE by hand, as a DBA would: the task's enabled trigger starts from now.
    db.exec(&format!("UPDATE stage.Task SET Enabled = {on}"))
        .await;
    assert_eq!(
        created().await,
        vec![true, false],
        "{db}: the enabled trigger starts from now, the disabled one is untouched"
    );
    db.exec(&format!(
        "UPDATE stage.TaskTrigger SET Enabled = {on} WHERE TriggerIndex = 1"
    ))
    .await;
    assert_eq!(
        created().await,
        vec![true, true],
        "{db}: so does an enabled trigger"
    );
}

conformance!(fire_trigger_fires_only_while_the_trigger_and_its_task_are_enabled);
async fn fire_trigger_fires_only_while_the_trigger_and_its_task_are_enabled(db: &TestDb) {
    steer_task(db, "gated", "parallel", true, 1).await;
    let trigger_id = db.triggers().await.must(db, "read triggers")[0].trigger_id;
    let occurrence = |hour: u32| {
        Utc.with_ymd_and_hms(2030, 1, 1, hour, 0, 0)
            .single()
            .expect("a valid test instant")
    };
    let fire = |hour: u32| async move {
        db.fire_trigger(trigger_id, occurrence(hour), None, FireMode::Run, 0)
            .await
            .must(db, "FireTrigger")
    };

    // A clock that has not reloaded yet still calls FireTrigger: the database says no.
    db.set_task_enabled("gated", false, None)
        .await
        .must(db, "SetTaskEnabled task off");
    assert!(!fire(1).await.fired, "{db}: a disabled task does not fire");
    db.set_task_enabled("gated", true, None)
        .await
        .must(db, "SetTaskEnabled task on");
    db.set_task_enabled("gated", false, Some(0))
        .await
        .must(db, "SetTaskEnabled trigger off");
    assert!(
        !fire(2).await.fired,
        "{db}: a disabled trigger does not fire"
    );
    assert_eq!(db.count("stage.FileControl").await, 0, "{db}: no run");
    let trigger = &db.triggers().await.must(db, "read triggers")[0];
    assert_eq!(
        trigger.last_fired_for, None,
        "{db}: nothing recorded as fired"
    );

    db.set_task_enabled("gated", true, Some(0))
        .await
        .must(db, "SetTaskEnabled trigger on");
    let fired = fire(3).await;
    assert!(
        fired.fired && fired.registered == Some(true),
        "{db}: enabled again, it fires: {fired:?}"
    );
}
