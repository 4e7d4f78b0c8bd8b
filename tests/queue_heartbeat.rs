//! Heartbeat: renews the leases a worker (or one of its slots) holds, tells it which
//! runs are no longer its own, and passes cancellation requests back.

#[macro_use]
mod common;

use common::{Must, TestDb, Unit};
use stagehand::store::{ClaimRequest, Completion, FinalStatus, HeartbeatStatus};

fn status(process_id: i64, held: bool) -> HeartbeatStatus {
    HeartbeatStatus {
        process_id,
        held,
        cancel_requested: false,
    }
}

conformance!(heartbeat_renews_the_lease);
async fn heartbeat_renews_the_lease(db: &TestDb) {
    db.driver_task("long_job", "parallel").await;
    let id = db.register_new("long_job").await;
    assert_eq!(db.claim_as("w1", 1).await.len(), 1, "{db}: claimed");
    db.exec(&format!(
        "UPDATE stage.FileControl SET LeaseExpiresAt = {}, HeartbeatAt = {} WHERE ProcessID = {id}",
        db.ahead(5, Unit::Second),
        db.ago(1, Unit::Hour)
    ))
    .await;

    let beat = db.heartbeat("w1", &[id], 600).await.must(db, "Heartbeat");
    let now = db.now().await;
    assert_eq!(
        beat,
        vec![status(id, true)],
        "{db}: the owner holds its run"
    );
    let from = format!("FROM stage.FileControl WHERE ProcessID = {id}");
    let lease = db.instant("LeaseExpiresAt", &from).await;
    assert!(
        lease.is_some_and(|l| ((l - now).num_seconds() - 600).abs() <= 5),
        "{db}: the lease is renewed to now + 600 s, got {lease:?} (now {now})"
    );
    let heartbeat = db.instant("HeartbeatAt", &from).await;
    assert!(
        heartbeat.is_some_and(|h| (now - h).num_seconds().abs() <= 5),
        "{db}: HeartbeatAt is now, got {heartbeat:?} (now {now})"
    );
}

conformance!(heartbeat_tells_a_worker_what_it_no_longer_holds);
async fn heartbeat_tells_a_worker_what_it_no_longer_holds(db: &TestDb) {
    db.driver_task("shared", "parallel").await;
    let mine = db.register_new("shared").await;
    let other = db.register_new("shared").await;
    let slotted = db.register_new("shared").await;
    assert_eq!(db.claim_as("w1", 1).await.len(), 1, "{db}: w1 claims one");
    // "w10" starts with "w1": the prefix must not make it w1's.
    assert_eq!(db.claim_as("w10", 1).await.len(), 1, "{db}: w10 claims one");
    let slots = vec!["s0".to_string()];
    let request = ClaimRequest {
        worker_name: "w1",
        max_count: 1,
        lease_seconds: 60,
        slots: Some(&slots),
    };
    let claimed = db
        .claim(&request)
        .await
        .must(db, "ClaimProcesses with a slot");
    assert_eq!(claimed[0].worker_assigned, "w1/s0", "{db}: {claimed:?}");
    let missing = slotted + 1_000_000;
    let other_lease = db
        .instant(
            "LeaseExpiresAt",
            &format!("FROM stage.FileControl WHERE ProcessID = {other}"),
        )
        .await;

    let beat = db
        .heartbeat("w1", &[mine, other, slotted, missing], 300)
        .await
        .must(db, "Heartbeat");
    assert_eq!(
        beat,
        vec![status(mine, true), status(other, false), status(slotted, true), status(missing, false)],
        "{db}: one row per requested id: own and own slot's runs held; another worker's and a missing one not"
    );
    assert_eq!(
        db.instant(
            "LeaseExpiresAt",
            &format!("FROM stage.FileControl WHERE ProcessID = {other}")
        )
        .await,
        other_lease,
        "{db}: another worker's lease is not renewed"
    );

    let done = db
        .complete(&[Completion::new(mine, "w1", Some(1), FinalStatus::Completed)])
        .await
        .must(db, "complete");
    assert!(done[0].accepted, "{db}: {done:?}");
    let beat = db.heartbeat("w1", &[mine], 300).await.must(db, "Heartbeat");
    assert_eq!(
        beat,
        vec![status(mine, false)],
        "{db}: a finished run is no longer held"
    );
}
