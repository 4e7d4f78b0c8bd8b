//! The driver's own counters on `stagehand run --dashboard`'s /metrics: a real driver
//! claims, runs, retries, resets and fires a known set of processes, and /metrics shows
//! exactly those counts.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;
mod web_support;

use common::{TestDb, Unit};
use driver_support::{task, wait_for, Driver};
use stagehand::catalog;
use stagehand::schedule::parse_task;
use stagehand::store::ProcessStatus;
use std::net::SocketAddr;
use std::time::Duration;
use web_support::{free_port, http};

const LIMIT: Duration = Duration::from_secs(60);

/// The value of the sample `name` (labels included) in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn scrape(addr: SocketAddr) -> Option<String> {
    tokio::net::TcpStream::connect(addr).await.ok()?;
    let response = http(addr, "GET", "/metrics", &[], "").await;
    (response.status == 200).then_some(response.body)
}

conformance!(driver_counters_show_what_the_driver_did);
async fn driver_counters_show_what_the_driver_did(db: &TestDb) {
    task(&**db, "ok", "true", |t| {
        t.overlap_policy = "parallel".into()
    })
    .await;
    task(&**db, "slow", "sleep 1", |_| {}).await;
    task(&**db, "bad", "exit 3", |t| {
        t.overlap_policy = "parallel".into();
        t.max_attempts = 2;
        t.retry_delay_seconds = 0;
    })
    .await;
    task(&**db, "orphan", "true", |t| t.max_attempts = 2).await;
    // A crashed driver's process: claimed by a worker that is gone, its lease expired.
    let orphan = db.register_new("orphan").await;
    assert_eq!(
        db.claim_as("gone/driver/1", 1).await.len(),
        1,
        "{db}: claimed"
    );
    db.exec(&format!(
        "UPDATE stage.FileControl SET LeaseExpiresAt = {} WHERE ProcessID = {orphan}",
        db.ago(1, Unit::Second)
    ))
    .await;
    // One occurrence a few seconds from now: the clock fires it once.
    let due = (db.now().await + chrono::TimeDelta::seconds(3)).format("%Y-%m-%dT%H:%M:%S");
    let once = parse_task(&format!(
        r#"{{"id": "once", "command": "true", "timeZone": "UTC",
            "triggers": [{{"recurrence": "once", "start": "{due}"}}]}}"#
    ))
    .expect("a valid task");
    db.save_tasks(&[catalog::to_save(&once, chrono::Utc::now())])
        .await
        .expect("SaveTasks");

    let listen = format!("127.0.0.1:{}", free_port());
    let _driver = Driver::start(db.url(), "metrics", 2, &["--dashboard", &listen]);
    let addr: SocketAddr = listen.parse().unwrap();
    let mut ids = Vec::new();
    for name in ["ok", "ok", "ok", "bad", "bad", "slow"] {
        ids.push((name, db.register_new(name).await));
    }
    for (name, id) in &ids {
        wait_for(&**db, *id, LIMIT, |r| match *name {
            "bad" => r.status == ProcessStatus::Failed && r.attempt == 2,
            _ => r.status == ProcessStatus::Completed,
        })
        .await;
    }
    wait_for(&**db, orphan, LIMIT, |r| {
        r.status == ProcessStatus::Completed
    })
    .await;

    // Claims: 3 ok, 2 bad twice, 1 slow, the orphan again, the fired one = 10.
    let deadline = tokio::time::Instant::now() + LIMIT;
    let text = loop {
        if let Some(text) = scrape(addr).await {
            let done = |outcome: &str| {
                sample(
                    &text,
                    &format!("stagehand_driver_completions_total{{outcome=\"{outcome}\"}}"),
                )
                .unwrap_or(0.0)
            };
            if done("Completed") + done("Failed") >= 10.0 {
                break text;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: /metrics did not count 10 finished runs"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let has = |name: &str, value: f64| {
        assert_eq!(sample(&text, name), Some(value), "{db}: {name} in\n{text}");
    };
    has("stagehand_driver_claims_total", 10.0);
    has(
        "stagehand_driver_completions_total{outcome=\"Completed\"}",
        6.0,
    );
    has(
        "stagehand_driver_completions_total{outcome=\"Failed\"}",
        4.0,
    );
    has("stagehand_driver_retries_total", 2.0);
    has("stagehand_driver_lease_resets_total", 1.0);
    has("stagehand_driver_heartbeat_failures_total", 0.0);
    has("stagehand_driver_run_duration_seconds_count", 10.0);
    has("stagehand_driver_fire_lateness_seconds_count", 1.0);
    // The slow run (1 s) outlived several 300 ms heartbeats.
    let heartbeats = sample(&text, "stagehand_driver_heartbeats_total").unwrap_or(0.0);
    assert!(heartbeats >= 1.0, "{db}: heartbeats {heartbeats}\n{text}");
    // No database call failed: the family has no sample at all.
    assert!(
        !text.contains("stagehand_driver_database_errors_total{"),
        "{db}: no database errors\n{text}"
    );
    assert!(
        text.contains("# TYPE stagehand_driver_run_duration_seconds histogram"),
        "{db}: typed\n{text}"
    );
    let took = sample(&text, "stagehand_driver_run_duration_seconds_sum").unwrap_or(0.0);
    assert!(
        took >= 1.0,
        "{db}: the slow run alone took a second: {took}"
    );
    // The database-wide gauges are still there beside them.
    has("stagehand_processes{status=\"Failed\"}", 2.0);
}
