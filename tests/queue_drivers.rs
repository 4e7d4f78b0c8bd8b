//! stage.Driver, stage.DriverHeartbeat and stage.DriverStatus (which drivers are alive),
//! and stage.OverdueProcesses flagging runs whose lease expired.

#[macro_use]
mod common;

use common::{assert_invalid_argument, assert_permission_denied, Must, TestDb, Unit};
use stagehand::store::{DriverPresence, DriverRow, DriverState, TaskRecord};

fn presence(name: &str) -> DriverPresence {
    DriverPresence {
        driver_name: name.into(),
        host_name: Some("host-a".into()),
        process_id: Some(4242),
        version: Some("1.2.3".into()),
        workers: 4,
        clock_enabled: true,
        lease_seconds: 30,
    }
}

async fn driver(db: &TestDb, name: &str) -> Option<DriverRow> {
    let drivers = db.drivers().await.must(db, "DriverStatus");
    drivers.into_iter().find(|d| d.driver_name == name)
}

conformance!(driver_heartbeat_keeps_a_row_per_driver);
async fn driver_heartbeat_keeps_a_row_per_driver(db: &TestDb) {
    let a = presence("host-a/1");
    db.driver_heartbeat(&a, DriverState::Starting)
        .await
        .must(db, "DriverHeartbeat starting");
    let row = driver(db, "host-a/1").await.expect("a row for the driver");
    assert_eq!(
        (
            row.host_name.as_deref(),
            row.process_id,
            row.version.as_deref(),
            row.workers,
            row.clock_enabled,
            row.stopping,
            row.lease_seconds,
            row.alive
        ),
        (
            Some("host-a"),
            Some(4242),
            Some("1.2.3"),
            4,
            true,
            false,
            30,
            true
        ),
        "{db}: {row:?}"
    );
    assert!(row.seconds_since_seen < 30.0, "{db}: {row:?}");

    // Running heartbeats move LastSeenAt, not StartedAt; the rest follows the driver.
    db.exec(&format!(
        "UPDATE stage.Driver SET StartedAt = {ago}, LastSeenAt = {ago}",
        ago = db.ago(1, Unit::Hour)
    ))
    .await;
    let row = driver(db, "host-a/1").await.expect("row");
    assert!(!row.alive, "{db}: not seen within its lease: {row:?}");
    assert!(row.seconds_since_seen >= 3599.0, "{db}: {row:?}");
    let b = DriverPresence {
        workers: 8,
        clock_enabled: false,
        ..a.clone()
    };
    db.driver_heartbeat(&b, DriverState::Running)
        .await
        .must(db, "DriverHeartbeat running");
    let row = driver(db, "host-a/1").await.expect("row");
    assert!(row.alive, "{db}: seen again: {row:?}");
    assert_eq!(
        (row.workers, row.clock_enabled),
        (8, false),
        "{db}: {row:?}"
    );
    assert!(
        row.last_seen_at - row.started_at >= chrono::Duration::minutes(59),
        "{db}: StartedAt kept: {row:?}"
    );

    db.driver_heartbeat(&b, DriverState::Stopping)
        .await
        .must(db, "DriverHeartbeat stopping");
    assert!(
        driver(db, "host-a/1").await.expect("row").stopping,
        "{db}: marked stopping"
    );
    db.driver_heartbeat(&b, DriverState::Starting)
        .await
        .must(db, "DriverHeartbeat starting again");
    let row = driver(db, "host-a/1").await.expect("row");
    assert!(
        !row.stopping && row.last_seen_at - row.started_at < chrono::Duration::minutes(1),
        "{db}: a restart has a new StartedAt and is not stopping: {row:?}"
    );

    // A driver not seen for more than 7 days is purged when another starts; a younger
    // dead one stays (shown as not alive).
    let old = presence("host-b/old");
    let dead = presence("host-b/dead");
    for p in [&old, &dead] {
        db.driver_heartbeat(p, DriverState::Running)
            .await
            .must(db, "DriverHeartbeat");
    }
    db.exec(&format!(
        "UPDATE stage.Driver SET LastSeenAt = {} WHERE DriverName = 'host-b/old'",
        db.ago(8, Unit::Day)
    ))
    .await;
    db.exec(&format!(
        "UPDATE stage.Driver SET LastSeenAt = {} WHERE DriverName = 'host-b/dead'",
        db.ago(6, Unit::Day)
    ))
    .await;
    db.driver_heartbeat(&presence("host-c/new"), DriverState::Starting)
        .await
        .must(db, "DriverHeartbeat");
    let names: Vec<String> = db
        .drivers()
        .await
        .must(db, "DriverStatus")
        .into_iter()
        .map(|d| d.driver_name)
        .collect();
    assert_eq!(names, ["host-a/1", "host-b/dead", "host-c/new"], "{db}");

    db.driver_heartbeat(&b, DriverState::Stopped)
        .await
        .must(db, "DriverHeartbeat stopped");
    assert!(
        driver(db, "host-a/1").await.is_none(),
        "{db}: a clean exit removes the row"
    );
    assert_eq!(db.count("stage.Driver").await, 2, "{db}: the others stay");
}

conformance!(driver_heartbeat_refuses_bad_arguments);
async fn driver_heartbeat_refuses_bad_arguments(db: &TestDb) {
    let ok = [
        db.text("h/1"),
        db.text("h"),
        "1".into(),
        db.text("1.0"),
        "2".into(),
        db.boolean(true).into(),
        "30".into(),
        db.text("running"),
    ];
    let long = db.text(&"x".repeat(256));
    let cases: Vec<(usize, String, &str)> = vec![
        (0, "NULL".into(), "DriverName must not be NULL or empty"),
        (0, db.text(" \t"), "DriverName must not be NULL or empty"),
        (0, long.clone(), "DriverName is longer than 255 characters"),
        (1, long, "HostName is longer than 255 characters"),
        (
            3,
            db.text(&"v".repeat(51)),
            "Version is longer than 50 characters",
        ),
        (4, "-1".into(), "Workers must be 0 or more"),
        (4, "NULL".into(), "Workers must be 0 or more"),
        (5, "NULL".into(), "ClockEnabled must not be NULL"),
        (6, "0".into(), "LeaseSeconds must be at least 1"),
        (
            7,
            db.text("Running"),
            "State must be one of starting, running, stopping, stopped",
        ),
        (7, db.text("running "), "State must be one of"),
        (7, "NULL".into(), "State must be one of"),
    ];
    for (index, value, expected) in cases {
        let mut args: Vec<&str> = ok.iter().map(String::as_str).collect();
        args[index] = &value;
        let sql = db.call_sql("DriverHeartbeat", &args);
        assert_invalid_argument(db, db.execute_sql(&sql).await, expected, &sql);
    }
    assert_eq!(db.count("stage.Driver").await, 0, "{db}: nothing written");
    let args: Vec<&str> = ok.iter().map(String::as_str).collect();
    db.exec(&db.call_sql("DriverHeartbeat", &args)).await;
    assert_eq!(db.count("stage.Driver").await, 1, "{db}");
}

conformance!(drivers_roles);
async fn drivers_roles(db: &TestDb) {
    let worker = db.connect_as("stage_worker").await;
    worker
        .driver_heartbeat(&presence("w/1"), DriverState::Starting)
        .await
        .must(db, "stage_worker runs DriverHeartbeat");
    let reader = db.connect_as("stage_reader").await;
    let drivers = reader
        .drivers()
        .await
        .must(db, "stage_reader reads DriverStatus");
    assert_eq!(drivers.len(), 1, "{db}: {drivers:?}");
    assert_permission_denied(
        db,
        reader
            .driver_heartbeat(&presence("r/1"), DriverState::Running)
            .await,
        "stage_reader",
        "run DriverHeartbeat",
    );
    let submitter = db.connect_as("stage_submitter").await;
    assert_permission_denied(
        db,
        submitter
            .driver_heartbeat(&presence("s/1"), DriverState::Running)
            .await,
        "stage_submitter",
        "run DriverHeartbeat",
    );
}

conformance!(overdue_processes_flag_expired_leases);
async fn overdue_processes_flag_expired_leases(db: &TestDb) {
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        timeout_minutes: Some(10),
        ..TaskRecord::new("leased", "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(db.register_new("leased").await);
    }
    assert_eq!(db.claim_as("w", 3).await.len(), 3, "{db}: all claimed");
    let (dead, slow, fine) = (ids[0], ids[1], ids[2]);
    // dead: its lease ran out a second ago, well within its timeout. slow: over its
    // timeout with a live lease. fine: neither.
    db.exec(&format!(
        "UPDATE stage.FileControl SET LeaseExpiresAt = {} WHERE ProcessID = {dead}",
        db.ago(1, Unit::Second)
    ))
    .await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET StartTime = {} WHERE ProcessID = {slow}",
        db.ago(11, Unit::Minute)
    ))
    .await;
    let overdue = db.overdue_processes().await.must(db, "OverdueProcesses");
    let got: Vec<(i64, bool, i32)> = overdue
        .iter()
        .map(|o| (o.process_id, o.lease_expired, o.timeout_minutes))
        .collect();
    assert_eq!(
        got,
        vec![(dead, true, 10), (slow, false, 10)],
        "{db}: an expired lease is flagged even within the timeout; {fine} is running"
    );
    assert_eq!(overdue[0].running_minutes, 0, "{db}: {overdue:?}");
    assert_eq!(overdue[1].running_minutes, 11, "{db}: {overdue:?}");
    // External executors hold no lease (NULL): never flagged for it.
    let external = db.register_new("external_job").await;
    assert_eq!(db.assign(1).await.must(db, "assign").len(), 1, "{db}");
    let overdue = db.overdue_processes().await.must(db, "OverdueProcesses");
    assert!(
        overdue.iter().all(|o| o.process_id != external),
        "{db}: {overdue:?}"
    );
}
