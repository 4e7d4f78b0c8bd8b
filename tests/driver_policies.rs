//! `stagehand run` applying the overlap policies and retries with sleeping commands.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use common::TestDb;
use driver_support::{lines, scratch, task, wait_final, wait_for, wait_lines, Driver};
use stagehand::store::ProcessStatus;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// A command that appends `start <id>` and `end <id>` around a sleep.
fn bracketed(file: &std::path::Path, sleep: &str) -> String {
    let f = file.display();
    format!("echo \"start $STAGEHAND_PROCESS_ID\" >> '{f}'; sleep {sleep}; echo \"end $STAGEHAND_PROCESS_ID\" >> '{f}'")
}

conformance!(queue_runs_one_at_a_time_in_order_and_parallel_overlaps);
async fn queue_runs_one_at_a_time_in_order_and_parallel_overlaps(db: &TestDb) {
    let dir = scratch("queue-parallel");
    let (queued_file, parallel_file) = (dir.join("queue"), dir.join("parallel"));
    task(&**db, "queued", &bracketed(&queued_file, "0.3"), |t| {
        t.overlap_policy = "queue".into()
    })
    .await;
    task(&**db, "parallel", &bracketed(&parallel_file, "1"), |t| {
        t.overlap_policy = "parallel".into()
    })
    .await;
    let mut queued = Vec::new();
    let mut parallel = Vec::new();
    for _ in 0..3 {
        queued.push(db.register_new("queued").await);
        parallel.push(db.register_new("parallel").await);
    }
    let mut driver = Driver::start(db.url(), "queue-parallel", 6, &[]);
    for id in queued.iter().chain(&parallel) {
        assert_eq!(
            wait_final(&**db, *id, LIMIT).await.status,
            ProcessStatus::Completed
        );
    }
    let expected: Vec<String> = queued
        .iter()
        .flat_map(|id| [format!("start {id}"), format!("end {id}")])
        .collect();
    assert_eq!(
        lines(&queued_file),
        expected,
        "{db}: queue runs one at a time, in creation order"
    );

    let events = lines(&parallel_file);
    let first_end = events
        .iter()
        .position(|l| l.starts_with("end"))
        .expect("parallel runs ended");
    assert_eq!(
        first_end, 3,
        "{db}: parallel runs overlap (three starts before the first end): {events:?}"
    );

    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

conformance!(kill_previous_cancels_the_running_instance_then_runs_the_new_one);
async fn kill_previous_cancels_the_running_instance_then_runs_the_new_one(db: &TestDb) {
    let dir = scratch("kill-previous");
    let file = dir.join("events");
    task(&**db, "latest-wins", &bracketed(&file, "30"), |t| {
        t.overlap_policy = "killPrevious".into()
    })
    .await;
    let mut driver = Driver::start(db.url(), "kill-previous", 2, &["--grace-seconds", "1"]);
    let first = db.register_new("latest-wins").await;
    wait_for(&**db, first, LIMIT, |r| {
        r.status == ProcessStatus::InProgress
    })
    .await;
    let second = db.register_new("latest-wins").await;

    let cancelled = wait_final(&**db, first, Duration::from_secs(10)).await;
    assert_eq!(
        cancelled.status,
        ProcessStatus::Cancelled,
        "{db}: the running instance is cancelled"
    );
    let logs = db.logs(first).await;
    assert!(
        logs.iter().any(|l| l.message.contains("killPrevious")),
        "{db}: says why: {logs:#?}"
    );
    let running = wait_for(&**db, second, LIMIT, |r| {
        r.status == ProcessStatus::InProgress
    })
    .await;
    assert!(
        running.start_time >= cancelled.end_time,
        "{db}: the new instance starts only after the old one ended: {running:?} vs {cancelled:?}"
    );
    assert_eq!(
        wait_lines(&file, 2, LIMIT).await,
        vec![format!("start {first}"), format!("start {second}")],
        "{db}: the old one never finished"
    );

    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

conformance!(failed_runs_are_retried_with_growing_backoff);
async fn failed_runs_are_retried_with_growing_backoff(db: &TestDb) {
    let dir = scratch("retry");
    let file = dir.join("attempts");
    let f = file.display();
    // Fails twice, then succeeds; each attempt records when it started (ms).
    let command = format!(
        "echo \"$STAGEHAND_ATTEMPT $(date +%s%3N)\" >> '{f}'; [ \"$STAGEHAND_ATTEMPT\" -ge 3 ]"
    );
    task(&**db, "flaky", &command, |t| {
        t.max_attempts = 3;
        t.retry_delay_seconds = 1;
    })
    .await;
    let mut driver = Driver::start(db.url(), "retry", 1, &[]);
    let id = db.register_new("flaky").await;
    let row = wait_final(&**db, id, LIMIT).await;
    assert_eq!(
        (row.status, row.attempt),
        (ProcessStatus::Completed, 3),
        "{db}: completed on the third attempt"
    );

    let starts: Vec<i64> = lines(&file)
        .iter()
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|t| t.parse().ok())
                .expect("timestamp")
        })
        .collect();
    assert_eq!(starts.len(), 3, "{db}: three attempts ran");
    let (first_gap, second_gap) = (starts[1] - starts[0], starts[2] - starts[1]);
    assert!(
        first_gap >= 1000,
        "{db}: first retry waits the retry delay (1 s), waited {first_gap} ms"
    );
    assert!(
        second_gap >= 2000,
        "{db}: second retry waits twice as long, waited {second_gap} ms"
    );
    let logs = db.logs(id).await;
    let retries = logs
        .iter()
        .filter(|l| l.log_level == "Warning" && l.message.contains("retry"))
        .count();
    assert_eq!(retries, 2, "{db}: each retry is logged: {logs:#?}");

    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}
