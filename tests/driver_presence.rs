//! Live drivers: a real `stagehand run` keeps its stage.Driver row fresh, goes not-alive
//! when killed outright, is marked stopping during a graceful shutdown and removed at a
//! clean exit; `stagehand status` and `task list` say when no driver is alive.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use common::TestDb;
use driver_support::{task, wait_for, Driver};
use nix::sys::signal::Signal;
use stagehand::store::{DriverRow, ProcessStatus};
use std::process::{Command, Output};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn stagehand(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env("STAGEHAND_DATABASE_URL", db.url())
        .output()
        .expect("run stagehand")
}

fn status_json(db: &TestDb) -> serde_json::Value {
    let out = stagehand(db, &["--json", "status"]);
    assert!(
        out.status.success(),
        "{db}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
}

fn warns_no_live_driver(status: &serde_json::Value) -> bool {
    status["alerts"].as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x.as_str().unwrap_or("").starts_with("no live driver"))
    })
}

/// Polls stage.DriverStatus until the driver named `name` satisfies `done` (None: no row).
async fn wait_driver(
    db: &TestDb,
    name: &str,
    what: &str,
    done: impl Fn(Option<&DriverRow>) -> bool,
) -> Option<DriverRow> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let drivers = db.drivers().await.expect("read DriverStatus");
        let row = drivers.into_iter().find(|d| d.driver_name == name);
        if done(row.as_ref()) {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: driver {name} is not {what} within {LIMIT:?}: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

conformance!(a_driver_is_alive_until_killed);
async fn a_driver_is_alive_until_killed(db: &TestDb) {
    assert!(
        !warns_no_live_driver(&status_json(db)),
        "{db}: no task, no schedule: no driver is needed"
    );
    task(&**db, "orphaned", "exec sleep 60", |_| {}).await;
    assert!(
        warns_no_live_driver(&status_json(db)),
        "{db}: a task and no driver yet: status warns"
    );
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let name = format!("{host}/seen");
    let mut driver = Driver::start(db.url(), "seen", 2, &[]);
    let row = wait_driver(db, &name, "alive", |d| d.is_some_and(|d| d.alive))
        .await
        .expect("a row");
    assert_eq!(
        (
            row.host_name.as_deref(),
            row.process_id,
            row.workers,
            row.clock_enabled,
            row.stopping,
            row.lease_seconds,
            row.version.as_deref()
        ),
        (
            Some(host.as_str()),
            Some(driver.pid()),
            2,
            true,
            false,
            3,
            Some(env!("CARGO_PKG_VERSION"))
        ),
        "{db}: {row:?}"
    );
    let status = status_json(db);
    assert!(!warns_no_live_driver(&status), "{db}: {status}");
    let out = stagehand(db, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Drivers (1 alive)")
            && text.contains(&name)
            && !text.contains("no live driver"),
        "{db}: status lists the live driver:\n{text}"
    );

    let id = db.register_new("orphaned").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    let status = status_json(db);
    assert_eq!(
        status["overdue"].as_array().map(Vec::len),
        Some(0),
        "{db}: a run with a live lease is not overdue: {status}"
    );
    assert_eq!(
        status["running"][0]["leaseExpired"], false,
        "{db}: {status}"
    );

    driver.signal(Signal::SIGKILL);
    driver.exit_within(Duration::from_secs(5)).await;
    let row = wait_driver(db, &name, "dead", |d| d.is_some_and(|d| !d.alive))
        .await
        .expect("the row stays");
    assert!(
        row.seconds_since_seen >= 3.0,
        "{db}: not seen within its lease: {row:?}"
    );
    let status = status_json(db);
    assert!(
        warns_no_live_driver(&status),
        "{db}: the killed driver is not alive: {status}"
    );
    assert_eq!(status["drivers"][0]["alive"], false, "{db}: {status}");
    // Its run is InProgress only on paper: flagged, not shown as running, once its lease
    // (renewed by the run's own heartbeats, a little after the driver's last presence)
    // has run out too.
    let deadline = tokio::time::Instant::now() + LIMIT;
    let status = loop {
        let status = status_json(db);
        if status["overdue"][0]["processId"] == id {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: the orphaned run is not flagged within {LIMIT:?}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["overdue"][0]["leaseExpired"], true, "{db}: {status}");
    assert_eq!(status["running"][0]["processId"], id, "{db}: {status}");
    assert_eq!(status["running"][0]["leaseExpired"], true, "{db}: {status}");
    let out = stagehand(db, &["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("NOT ALIVE") && text.contains("no live driver"),
        "{db}: {text}"
    );
    let running = text
        .lines()
        .find(|l| l.contains("orphaned") && l.contains("/seen/"))
        .unwrap_or_else(|| panic!("{db}: the orphaned run is listed:\n{text}"));
    assert!(
        running.contains("LEASE EXPIRED") && !running.contains("running"),
        "{db}: {running}"
    );
    let out = stagehand(db, &["task", "list"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no live driver"),
        "{db}: task list warns too: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

conformance!(a_graceful_stop_is_marked_and_a_clean_exit_removes_the_driver);
async fn a_graceful_stop_is_marked_and_a_clean_exit_removes_the_driver(db: &TestDb) {
    task(&**db, "long", "exec sleep 60", |_| {}).await;
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let name = format!("{host}/polite");
    let mut driver = Driver::start(db.url(), "polite", 1, &["--grace-seconds", "30"]);
    wait_driver(db, &name, "alive", |d| {
        d.is_some_and(|d| d.alive && !d.stopping)
    })
    .await;
    let id = db.register_new("long").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;

    driver.signal(Signal::SIGTERM);
    let row = wait_driver(db, &name, "stopping", |d| d.is_some_and(|d| d.stopping))
        .await
        .expect("row");
    assert!(
        row.alive,
        "{db}: still alive while it waits for its command: {row:?}"
    );
    let out = stagehand(db, &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("stopping"),
        "{db}: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A live driver without the clock: the trigger clock is missing all the same.
    let mut workers_only = Driver::start(
        db.url(),
        "no-clock",
        1,
        &["--no-clock", "--grace-seconds", "1"],
    );
    let lone = format!("{host}/no-clock");
    wait_driver(db, &lone, "alive", |d| d.is_some_and(|d| d.alive)).await;

    // The second signal stops at once; the exit is still clean.
    driver.signal(Signal::SIGTERM);
    assert!(
        driver.exit_within(LIMIT).await.success(),
        "{db}: a clean exit"
    );
    let status = status_json(db);
    assert!(
        status["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x
                .as_str()
                .unwrap_or("")
                .starts_with("no live driver runs the trigger clock"))),
        "{db}: {status}"
    );
    workers_only.signal(Signal::SIGTERM);
    assert!(workers_only.exit_within(LIMIT).await.success(), "{db}");
    let drivers = db.drivers().await.expect("read DriverStatus");
    assert!(
        drivers.iter().all(|d| d.driver_name != name),
        "{db}: a clean exit removes the driver's row: {drivers:?}"
    );
}
