//! `stopAtEnd`: the driver stops a run still going when the repetition window of its
//! occurrence ends (through the same kill path as killPrevious), and leaves alone a run
//! that started after its window had ended (a late or queued run).
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use chrono::{DurationRound, TimeDelta, Utc};
use common::TestDb;
use driver_support::{wait_final, Driver};
use nix::sys::signal::Signal;
use stagehand::catalog;
use stagehand::schedule::parse_task;
use stagehand::store::ProcessStatus;
use std::time::Duration;

conformance!(a_run_still_going_at_the_end_of_its_window_is_stopped);
async fn a_run_still_going_at_the_end_of_its_window_is_stopped(db: &TestDb) {
    // A window opened a minute ago, lasting two: it ends in about a minute.
    let opened = Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap() - TimeDelta::seconds(60);
    let task = parse_task(&format!(
        r#"{{"id": "windowed", "command": "sleep $(echo \"$STAGEHAND_PARAMETERS\" | tr -dc 0-9)", "timeZone": "UTC",
            "ifRunning": "parallel",
            "triggers": [{{"recurrence": "daily", "start": "{}",
              "repetition": {{"everyMinutes": 1, "durationMinutes": 2, "stopAtEnd": true}}}}]}}"#,
        opened.format("%Y-%m-%dT%H:%M:%S")
    ))
    .unwrap();
    db.save_tasks(&[catalog::to_save(&task, Utc::now())])
        .await
        .expect("SaveTasks");
    let store = db.store();
    // The window's opening, running far longer than the window.
    let going = store
        .register("windowed", Some(r#"{"sleep": 300}"#), Some(opened))
        .await
        .unwrap()
        .process_id;
    // Yesterday's opening: its window ended before it started, so it runs to its end.
    let late = store
        .register(
            "windowed",
            Some(r#"{"sleep": 2}"#),
            Some(opened - TimeDelta::days(1)),
        )
        .await
        .unwrap()
        .process_id;
    let mut driver = Driver::start(db.url(), "windows", 2, &[]);
    let finished = wait_final(&*store, late, Duration::from_secs(30)).await;
    assert_eq!(
        finished.status,
        ProcessStatus::Completed,
        "{db}: {:?}",
        db.logs(late).await
    );
    let stopped = wait_final(&*store, going, Duration::from_secs(120)).await;
    let logs = db.logs(going).await;
    assert_eq!(stopped.status, ProcessStatus::Cancelled, "{db}: {logs:?}");
    assert!(
        logs.iter().any(|l| l.message.contains("stopAtEnd")),
        "{db}: the reason is recorded: {logs:?}"
    );
    let ended = stopped.end_time.expect("an end time");
    assert!(
        ended >= opened + TimeDelta::seconds(120),
        "{db}: not before the window's end: {ended}"
    );
    driver.signal(Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}
