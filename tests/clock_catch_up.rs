//! The trigger clock inside `stagehand run`, against a real database: catch-up of
//! occurrences missed while no driver ran, exactly-once firing with two drivers, reloads
//! when tasks change, and no re-firing after a restart. Downtime is arranged by moving
//! the triggers' history back in time (CreatedAt, LastFiredFor): the clock under test is
//! the real one, the past is made with SQL.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use chrono::{DateTime, Duration as TimeDelta, DurationRound, Timelike, Utc};
use common::{TestDb, Unit};
use driver_support::Driver;
use nix::sys::signal::Signal;
use stagehand::catalog;
use stagehand::schedule::parse_task;
use std::time::Duration;

/// Saves a task (external executor: the clock enqueues, nothing runs) from JSON.
async fn save(db: &TestDb, json: &str) {
    let task = parse_task(json).unwrap_or_else(|e| panic!("test task: {e}"));
    db.save_tasks(&[catalog::to_save(&task, Utc::now())])
        .await
        .expect("SaveTasks");
}

fn external_task(id: &str, run_if_missed: bool, triggers: &str) -> String {
    format!(
        r#"{{"id":"{id}","command":"true","executor":"external","ifRunning":"parallel","timeZone":"UTC","runIfMissed":{run_if_missed},"triggers":{triggers}}}"#
    )
}

/// Makes the task's triggers look created, and last fired, `minutes` ago.
async fn pretend_down_for(db: &TestDb, task: &str, minutes: i64) {
    let ago = db.ago(minutes, Unit::Minute);
    let sql = format!(
        "UPDATE stage.TaskTrigger SET CreatedAt = {ago}, LastFiredFor = {ago} \
         WHERE TaskID = (SELECT TaskID FROM stage.Task WHERE TaskName = {})",
        db.text(task)
    );
    assert_eq!(db.exec(&sql).await, 1, "{db}: one trigger moved back");
}

async fn runs_of(db: &TestDb, task: &str) -> i64 {
    db.count(&format!(
        "stage.FileControl WHERE ProcessName = {}",
        db.text(task)
    ))
    .await
}

/// Waits until `count` runs of `task` exist; panics after `limit`.
async fn wait_runs(db: &TestDb, task: &str, count: i64, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while runs_of(db, task).await < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: {task} has fewer than {count} runs after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `once` start a few seconds ahead, on a whole second.
fn soon(seconds: i64) -> (DateTime<Utc>, String) {
    let at =
        Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap() + TimeDelta::seconds(seconds);
    (at, at.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

async fn stop(mut driver: Driver) {
    driver.signal(Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

conformance!(missed_occurrences_give_one_late_run_with_run_if_missed);
async fn missed_occurrences_give_one_late_run_with_run_if_missed(db: &TestDb) {
    let every_minute =
        r#"[{"recurrence":"minutely","start":"2024-01-01T00:00:00","intervalMinutes":1}]"#;
    save(db, &external_task("catch-up", true, every_minute)).await;
    pretend_down_for(db, "catch-up", 10).await;
    let driver = Driver::start(db.url(), "catching-up", 1, &[]);
    wait_runs(db, "catch-up", 1, Duration::from_secs(20)).await;
    // The next minute's on-time run may follow; the catch-up itself is one run.
    let first = db
        .query_i64("SELECT MIN(ProcessID) FROM stage.FileControl")
        .await
        .unwrap()
        .unwrap();
    let row = db.row(first).await;
    let scheduled = row
        .scheduled_for
        .expect("a late run stands for an occurrence");
    let now = db.now().await;
    assert!(
        scheduled <= now && now - scheduled < TimeDelta::seconds(70),
        "{db}: it stands for the latest missed occurrence: {scheduled}"
    );
    assert_eq!(
        scheduled.timestamp() % 60,
        0,
        "{db}: occurrences fall on whole minutes"
    );
    let logs = db.logs(first).await;
    assert!(
        logs.iter()
            .any(|l| l.message.starts_with("Late run") && l.message.contains("missed")),
        "{db}: logged as late with the number missed: {logs:#?}"
    );
    let late_runs = db
        .count("stage.ProcessLog WHERE Message LIKE 'Late run%'")
        .await;
    assert_eq!(
        late_runs, 1,
        "{db}: one late run, not one per missed occurrence"
    );
    stop(driver).await;
}

conformance!(missed_occurrences_are_skipped_and_logged_without_run_if_missed);
async fn missed_occurrences_are_skipped_and_logged_without_run_if_missed(db: &TestDb) {
    let hourly =
        r#"[{"recurrence":"minutely","start":"2024-01-01T00:00:00","intervalMinutes":60}]"#;
    save(db, &external_task("no-catch-up", false, hourly)).await;
    // Down since just after the top of the hour three hours ago: exactly three hourly
    // occurrences passed, whatever the minute now (taken from the database's clock).
    let mut now = db.now().await;
    if now.second() >= 55 {
        tokio::time::sleep(Duration::from_secs(6)).await;
        now = db.now().await;
    }
    pretend_down_for(db, "no-catch-up", 3 * 60 + i64::from(now.minute())).await;
    let driver = Driver::start(db.url(), "skipping", 1, &[]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let skipped =
        "stage.ProcessLog WHERE ProcessID IS NULL AND Message LIKE '%no-catch-up%missed%'";
    while db.count(skipped).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: the skipped occurrences are logged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let message = db
        .query_i64(&format!(
            "SELECT COUNT(*) FROM {skipped} AND Message LIKE '%3 occurrence%'"
        ))
        .await
        .unwrap();
    assert_eq!(
        message,
        Some(1),
        "{db}: the log says how many were missed (3 hourly occurrences)"
    );
    assert_eq!(
        runs_of(db, "no-catch-up").await,
        0,
        "{db}: nothing enqueued for missed occurrences"
    );
    stop(driver).await;
}

conformance!(a_task_added_now_never_fires_for_the_past);
async fn a_task_added_now_never_fires_for_the_past(db: &TestDb) {
    let daily = r#"[{"recurrence":"daily","start":"2024-01-01T00:00:00"}]"#;
    save(db, &external_task("fresh", true, daily)).await;
    let driver = Driver::start(db.url(), "fresh", 1, &[]);
    // Give the clock time to load and act (it reloads every second).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        runs_of(db, "fresh").await,
        0,
        "{db}: no run for occurrences before the task existed"
    );
    let next = db
        .instant("NextFireAt", "FROM stage.TaskTrigger")
        .await
        .expect("the clock wrote the next fire time");
    assert!(
        next > Utc::now(),
        "{db}: the next fire is in the future: {next}"
    );
    stop(driver).await;
}

conformance!(two_drivers_enqueue_each_occurrence_once);
async fn two_drivers_enqueue_each_occurrence_once(db: &TestDb) {
    let (at, start) = soon(4);
    save(
        db,
        &external_task(
            "raced",
            false,
            &format!(r#"[{{"recurrence":"once","start":"{start}"}}]"#),
        ),
    )
    .await;
    let every_minute =
        r#"[{"recurrence":"minutely","start":"2024-01-01T00:00:00","intervalMinutes":1}]"#;
    save(db, &external_task("raced-catch-up", true, every_minute)).await;
    pretend_down_for(db, "raced-catch-up", 5).await;
    let first = Driver::start(db.url(), "racer-a", 1, &[]);
    let second = Driver::start(db.url(), "racer-b", 1, &[]);
    wait_runs(db, "raced", 1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        runs_of(db, "raced").await,
        1,
        "{db}: one run for one occurrence, two drivers"
    );
    let late = db
        .count("stage.ProcessLog WHERE Message LIKE 'Late run%'")
        .await;
    assert_eq!(
        late, 1,
        "{db}: one catch-up run, two drivers starting together"
    );
    let scheduled = db
        .instant(
            "ScheduledFor",
            &format!(
                "FROM stage.FileControl WHERE ProcessName = {}",
                db.text("raced")
            ),
        )
        .await;
    assert_eq!(scheduled, Some(at), "{db}: the run carries its occurrence");
    stop(first).await;
    stop(second).await;

    // A restart never fires an occurrence again.
    let again = Driver::start(db.url(), "restarted", 1, &[]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        runs_of(db, "raced").await,
        1,
        "{db}: a restart does not re-fire"
    );
    stop(again).await;
}

conformance!(changes_are_picked_up_without_a_restart);
async fn changes_are_picked_up_without_a_restart(db: &TestDb) {
    let driver = Driver::start(db.url(), "watching", 1, &[]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, start) = soon(4);
    let once = format!(r#"[{{"recurrence":"once","start":"{start}"}}]"#);
    save(db, &external_task("added-later", false, &once)).await;
    save(db, &external_task("disabled-by-sql", false, &once)).await;
    db.exec(&format!(
        "UPDATE stage.Task SET Enabled = {} WHERE TaskName = {}",
        db.boolean(false),
        db.text("disabled-by-sql")
    ))
    .await;
    wait_runs(db, "added-later", 1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        runs_of(db, "disabled-by-sql").await,
        0,
        "{db}: a task disabled with SQL does not fire"
    );
    stop(driver).await;
}

conformance!(catch_up_all_gives_one_late_run_per_missed_occurrence_up_to_the_limit);
async fn catch_up_all_gives_one_late_run_per_missed_occurrence_up_to_the_limit(db: &TestDb) {
    let every_minute =
        r#"[{"recurrence":"minutely","start":"2024-01-01T00:00:00","intervalMinutes":1}]"#;
    let task = format!(
        r#"{{"id":"catch-up-all","command":"true","executor":"external","ifRunning":"parallel","timeZone":"UTC","catchUp":"all","catchUpLimit":3,"triggers":{every_minute}}}"#
    );
    save(db, &task).await;
    // Ten minutes down: nine or ten whole minutes passed, more than the limit.
    pretend_down_for(db, "catch-up-all", 10).await;
    let driver = Driver::start(db.url(), "catching-up-all", 1, &[]);
    let late = "stage.ProcessLog WHERE Message LIKE 'Late run%'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.count(late).await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: three late runs after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The three late runs stand for the three latest missed minutes, in order.
    let mut scheduled = Vec::new();
    for rank in 0..3 {
        let id = db
            .query_i64(&format!(
                "SELECT MIN(ProcessID) FROM stage.FileControl WHERE ProcessID > {}",
                scheduled.last().map_or(0, |(id, _)| *id)
            ))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{db}: late run {rank}"));
        let at = db.row(id).await.scheduled_for.expect("an occurrence");
        scheduled.push((id, at));
    }
    let minutes: Vec<i64> = scheduled
        .iter()
        .map(|(_, at)| at.timestamp() / 60)
        .collect();
    assert_eq!(
        minutes,
        [minutes[0], minutes[0] + 1, minutes[0] + 2],
        "{db}: consecutive minutes: {scheduled:?}"
    );
    let now = db.now().await;
    assert!(
        now - scheduled[2].1 < TimeDelta::seconds(70),
        "{db}: the latest missed minute is the last late run: {scheduled:?}"
    );
    let skipped = db
        .count("stage.ProcessLog WHERE ProcessID IS NULL AND Message LIKE '%catch-up-all%missed%'")
        .await;
    assert_eq!(
        skipped, 1,
        "{db}: the older ones beyond the limit are logged as skipped"
    );
    assert_eq!(
        db.count(late).await,
        3,
        "{db}: no more late runs than the limit"
    );
    stop(driver).await;
}

conformance!(a_driver_start_trigger_fires_once_per_start);
async fn a_driver_start_trigger_fires_once_per_start(db: &TestDb) {
    save(
        db,
        &external_task("at-start", false, r#"[{"recurrence":"driverStart"}]"#),
    )
    .await;
    // Saved before the driver starts (CreatedAt a minute back: clocks may differ a bit).
    pretend_down_for(db, "at-start", 1).await;
    let driver = Driver::start(db.url(), "starting", 1, &[]);
    wait_runs(db, "at-start", 1, Duration::from_secs(20)).await;
    // A reload (another task saved; its run proves the clock reloaded) fires nothing more.
    let (_, start) = soon(3);
    let once = format!(r#"[{{"recurrence":"once","start":"{start}"}}]"#);
    save(db, &external_task("proves-reload", false, &once)).await;
    wait_runs(db, "proves-reload", 1, Duration::from_secs(20)).await;
    assert_eq!(
        runs_of(db, "at-start").await,
        1,
        "{db}: a reload does not fire it again"
    );
    let next = db
        .instant(
            "NextFireAt",
            "FROM stage.TaskTrigger WHERE Recurrence = 'driverStart'",
        )
        .await;
    assert_eq!(
        next, None,
        "{db}: a driverStart trigger has no next fire time"
    );
    stop(driver).await;
    // The next start fires it again, once.
    let again = Driver::start(db.url(), "restarting", 1, &[]);
    wait_runs(db, "at-start", 2, Duration::from_secs(20)).await;
    stop(again).await;
    assert_eq!(runs_of(db, "at-start").await, 2, "{db}: once per start");
}

conformance!(a_delayed_driver_start_trigger_fires_that_long_after_the_start);
async fn a_delayed_driver_start_trigger_fires_that_long_after_the_start(db: &TestDb) {
    save(
        db,
        &external_task(
            "after-start",
            false,
            r#"[{"recurrence":"driverStart","delaySeconds":4}]"#,
        ),
    )
    .await;
    pretend_down_for(db, "after-start", 1).await;
    let before = db
        .now()
        .await
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let driver = Driver::start(db.url(), "delayed", 1, &[]);
    wait_runs(db, "after-start", 1, Duration::from_secs(30)).await;
    let when = |column: &'static str| async move {
        db.instant(
            column,
            &format!(
                "FROM stage.FileControl WHERE ProcessName = {}",
                db.text("after-start")
            ),
        )
        .await
        .expect(column)
    };
    let (scheduled, created) = (when("ScheduledFor").await, when("CreatedAt").await);
    // The occurrence is the driver's start plus the delay, and it fired no earlier.
    assert!(
        scheduled >= before + TimeDelta::seconds(4) && scheduled <= before + TimeDelta::seconds(24),
        "{db}: occurrence {scheduled}, driver started after {before}"
    );
    assert!(
        created >= scheduled,
        "{db}: enqueued at {created}, due {scheduled}"
    );
    // A reload meanwhile (another task saved, its run proves it) fires nothing more.
    let (_, start) = soon(3);
    let once = format!(r#"[{{"recurrence":"once","start":"{start}"}}]"#);
    save(db, &external_task("reload-after-delay", false, &once)).await;
    wait_runs(db, "reload-after-delay", 1, Duration::from_secs(20)).await;
    assert_eq!(runs_of(db, "after-start").await, 1, "{db}: once per start");
    stop(driver).await;
}
