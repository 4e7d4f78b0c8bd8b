//! Steering a running `stagehand run`: a run now is executed, disabling a task or a
//! trigger stops the clock firing it and enabling brings it back, a cancel stops a running
//! command (its whole tree) and records it Cancelled, and a retry of a failed run runs
//! again with the same parameters.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use chrono::{DateTime, Duration as TimeDelta, DurationRound, Utc};
use common::{Must, TestDb};
use driver_support::{alive, lines, scratch, task, wait_final, wait_for, wait_lines, Driver};
use nix::sys::signal::Signal;
use stagehand::catalog;
use stagehand::schedule::parse_task;
use stagehand::store::{ProcessStatus, TriggerRow};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

async fn stop(mut driver: Driver) {
    driver.signal(Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

/// Polls until `done` holds; panics with `what` after `limit`.
async fn until<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

conformance!(run_now_is_executed_by_the_driver);
async fn run_now_is_executed_by_the_driver(db: &TestDb) {
    let dir = scratch("run-now");
    let file = dir.join("ran");
    let command = format!("echo \"ran $STAGEHAND_PROCESS_ID\" >> '{}'", file.display());
    task(&**db, "on-demand", &command, |_| {}).await;
    let driver = Driver::start(db.url(), "run-now", 1, &[]);
    let run = db
        .run_task_now("on-demand", false)
        .await
        .must(db, "RunTaskNow");
    assert!(run.registered, "{db}: {run:?}");
    let row = wait_final(&**db, run.process_id, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Completed, "{db}: {row:?}");
    assert_eq!(
        lines(&file),
        vec![format!("ran {}", run.process_id)],
        "{db}: the command ran once, as that process"
    );
    stop(driver).await;
}

conformance!(cancel_stops_a_running_command_and_its_tree);
async fn cancel_stops_a_running_command_and_its_tree(db: &TestDb) {
    let dir = scratch("cancel");
    let file = dir.join("pids");
    // The shell and its background child: both must die.
    let command = format!(
        "echo $$ >> '{f}'; sleep 600 & echo $! >> '{f}'; wait",
        f = file.display()
    );
    task(&**db, "long-haul", &command, |_| {}).await;
    let driver = Driver::start(db.url(), "cancel", 1, &[]);
    let id = db.register_new("long-haul").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    let pids: Vec<i32> = wait_lines(&file, 2, LIMIT)
        .await
        .iter()
        .map(|l| l.trim().parse().expect("pid"))
        .collect();
    assert!(
        pids.iter().all(|p| alive(*p)),
        "{db}: the tree runs: {pids:?}"
    );

    let asked = db.cancel_process(id).await.must(db, "CancelProcess");
    assert_eq!(asked.status, ProcessStatus::InProgress, "{db}: {asked:?}");
    let row = wait_final(&**db, id, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Cancelled, "{db}: {row:?}");
    for pid in pids {
        until(
            &format!("{db}: process {pid} of the cancelled tree is gone"),
            Duration::from_secs(10),
            || async move { !alive(pid) },
        )
        .await;
    }
    let logs = db.logs(id).await;
    assert!(
        logs.iter().any(|l| l
            .message
            .starts_with("Cancellation requested by stage.CancelProcess")),
        "{db}: the request is logged: {logs:#?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.log_level == "Warning" && l.message.starts_with("cancelled on request")),
        "{db}: so is the driver's stop: {logs:#?}"
    );
    stop(driver).await;
}

conformance!(retry_of_a_failed_run_runs_again_with_the_same_parameters);
async fn retry_of_a_failed_run_runs_again_with_the_same_parameters(db: &TestDb) {
    let dir = scratch("retry-again");
    let (file, fixed) = (dir.join("runs"), dir.join("fixed"));
    // Fails until the file `fixed` exists; records each run's id and parameters.
    let command = format!(
        "echo \"$STAGEHAND_PROCESS_ID $STAGEHAND_PARAMETERS\" >> '{}'; [ -e '{}' ]",
        file.display(),
        fixed.display()
    );
    task(&**db, "fragile", &command, |_| {}).await;
    let driver = Driver::start(db.url(), "retry-again", 1, &[]);
    let parameters = r#"{"day":"2024-12-06"}"#;
    let first = db
        .register("fragile", Some(parameters), None)
        .await
        .must(db, "RegisterProcess")
        .process_id;
    let failed = wait_final(&**db, first, LIMIT).await;
    assert_eq!(failed.status, ProcessStatus::Failed, "{db}: {failed:?}");

    std::fs::write(&fixed, "").expect("fix the cause");
    let retry = db.retry_process(first).await.must(db, "RetryProcess");
    assert!(retry.registered, "{db}: {retry:?}");
    let row = wait_final(&**db, retry.process_id, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Completed, "{db}: {row:?}");
    assert_eq!(
        lines(&file),
        vec![
            format!("{first} {parameters}"),
            format!("{} {parameters}", retry.process_id)
        ],
        "{db}: the retry ran with the same parameters"
    );
    stop(driver).await;
}

/// A whole second `seconds` from now, as an instant and as a `once` trigger.
fn at(base: DateTime<Utc>, seconds: i64) -> (DateTime<Utc>, String) {
    let instant = base + TimeDelta::seconds(seconds);
    let trigger = format!(
        r#"{{"recurrence":"once","start":"{}"}}"#,
        instant.format("%Y-%m-%dT%H:%M:%SZ")
    );
    (instant, trigger)
}

/// Saves an external task (the clock enqueues, nothing runs it) from its triggers.
async fn save(db: &TestDb, id: &str, enabled: bool, triggers: &[&str]) {
    let json = format!(
        r#"{{"id":"{id}","command":"true","executor":"external","ifRunning":"parallel","timeZone":"UTC","enabled":{enabled},"triggers":[{}]}}"#,
        triggers.join(",")
    );
    let task = parse_task(&json).unwrap_or_else(|e| panic!("test task: {e}"));
    db.save_tasks(&[catalog::to_save(&task, Utc::now())])
        .await
        .must(db, "SaveTasks");
}

async fn trigger_of(db: &TestDb, task: &str, index: i32) -> TriggerRow {
    let tasks = db.tasks().await.must(db, "read tasks");
    let task_id = tasks
        .iter()
        .find(|t| t.record.task_name == task)
        .map(|t| t.task_id)
        .expect("task exists");
    let triggers = db.triggers().await.must(db, "read triggers");
    triggers
        .into_iter()
        .find(|t| t.task_id == task_id && t.trigger_index == index)
        .expect("trigger exists")
}

/// The occurrences the runs of `task` stand for.
async fn runs_of(db: &TestDb, task: &str) -> Vec<Option<DateTime<Utc>>> {
    let mut runs = Vec::new();
    let last = db
        .query_i64("SELECT MAX(ProcessID) FROM stage.FileControl")
        .await
        .must(db, "max id")
        .unwrap_or(0);
    for id in 1..=last {
        if let Some(row) = db.process(id).await.must(db, "read process") {
            if row.process_name == task {
                runs.push(row.scheduled_for);
            }
        }
    }
    runs
}

conformance!(disable_stops_the_clock_and_enable_resumes_it);
async fn disable_stops_the_clock_and_enable_resumes_it(db: &TestDb) {
    let driver = Driver::start(db.url(), "steered-clock", 1, &[]);
    let base = Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap();
    let (_, off) = at(base, 8);
    let (_, half_off) = at(base, 8);
    let (half_on_at, half_on) = at(base, 9);
    let (_, marker) = at(base, 10);
    let (later_at, later) = at(base, 12);
    save(db, "off", true, &[&off]).await;
    save(db, "half", true, &[&half_off, &half_on]).await;
    save(db, "marker", true, &[&marker]).await;
    save(db, "later", false, &[&later]).await;
    assert!(
        trigger_of(db, "off", 0).await.next_fire_at.is_some(),
        "{db}: saved with its next fire time"
    );

    db.set_task_enabled("off", false, None)
        .await
        .must(db, "SetTaskEnabled off");
    db.set_task_enabled("half", false, Some(0))
        .await
        .must(db, "SetTaskEnabled half trigger 0");
    // The clock reloaded when it writes back what it now waits for: nothing.
    for (task, index) in [("off", 0), ("half", 0)] {
        until(
            &format!("{db}: the clock drops {task} trigger {index}"),
            LIMIT,
            || async move { trigger_of(db, task, index).await.next_fire_at.is_none() },
        )
        .await;
    }
    db.set_task_enabled("later", true, None)
        .await
        .must(db, "SetTaskEnabled later");
    until(
        &format!("{db}: the clock watches the enabled task"),
        LIMIT,
        || async { trigger_of(db, "later", 0).await.next_fire_at == Some(later_at) },
    )
    .await;

    until(&format!("{db}: the enabled task fires"), LIMIT, || async {
        !runs_of(db, "later").await.is_empty()
    })
    .await;
    assert_eq!(runs_of(db, "later").await, vec![Some(later_at)], "{db}");
    // The marker fired before: the clock passed the disabled occurrences.
    assert_eq!(
        runs_of(db, "marker").await.len(),
        1,
        "{db}: the marker fired"
    );
    assert!(
        runs_of(db, "off").await.is_empty(),
        "{db}: a disabled task does not fire"
    );
    assert_eq!(
        runs_of(db, "half").await,
        vec![Some(half_on_at)],
        "{db}: only the enabled trigger of the task fires"
    );
    stop(driver).await;
}
