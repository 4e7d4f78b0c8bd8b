//! The reads the dashboard added to the store: process lists under filters, and finished
//! runs per hour (the overview's chart), on every configured backend.

#[macro_use]
mod common;

use chrono::{DurationRound, TimeDelta, Utc};
use common::{TestDb, Unit};
use stagehand::store::{HourlyOutcome, ProcessFilter, ProcessStatus};

/// Ends a process with `status`, `hours` ago.
async fn finish(db: &TestDb, process_id: i64, status: &str, hours: i64) {
    let at = db.ago(hours, Unit::Hour);
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = '{status}', StartTime = {at}, EndTime = {at} \
         WHERE ProcessID = {process_id}"
    ))
    .await;
}

conformance!(processes_are_listed_under_filters);
async fn processes_are_listed_under_filters(db: &TestDb) {
    let a1 = db.register_new("alpha").await;
    finish(db, a1, "Failed", 1).await;
    let b1 = db.register_new("beta").await;
    let a2 = db.register_new("alpha").await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET CreatedAt = {} WHERE ProcessID = {b1}",
        db.ago(3, Unit::Day)
    ))
    .await;
    let ids = |rows: Vec<stagehand::store::ProcessRow>| {
        rows.iter().map(|r| r.process_id).collect::<Vec<_>>()
    };
    let all = ProcessFilter {
        limit: 100,
        ..ProcessFilter::default()
    };
    assert_eq!(
        ids(db.processes(&all).await.unwrap()),
        [a2, b1, a1],
        "{db}: newest first"
    );
    let oldest = ProcessFilter {
        limit: 1,
        oldest_first: true,
        ..all.clone()
    };
    assert_eq!(
        ids(db.processes(&oldest).await.unwrap()),
        [a1],
        "{db}: oldest first, limited"
    );
    let alpha = ProcessFilter {
        process_name: Some("alpha".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(db.processes(&alpha).await.unwrap()),
        [a2, a1],
        "{db}: by task"
    );
    let failed = ProcessFilter {
        status: Some(ProcessStatus::Failed),
        ..all.clone()
    };
    assert_eq!(
        ids(db.processes(&failed).await.unwrap()),
        [a1],
        "{db}: by status"
    );
    let pending_alpha = ProcessFilter {
        status: Some(ProcessStatus::Pending),
        ..alpha.clone()
    };
    assert_eq!(
        ids(db.processes(&pending_alpha).await.unwrap()),
        [a2],
        "{db}: both"
    );
    let now = db.now().await;
    let recent = ProcessFilter {
        created_since: Some(now - TimeDelta::days(1)),
        ..all.clone()
    };
    assert_eq!(
        ids(db.processes(&recent).await.unwrap()),
        [a2, a1],
        "{db}: created since"
    );
    let old = ProcessFilter {
        created_until: Some(now - TimeDelta::days(1)),
        ..all.clone()
    };
    assert_eq!(
        ids(db.processes(&old).await.unwrap()),
        [b1],
        "{db}: created before"
    );
}

conformance!(finished_runs_are_counted_per_hour);
async fn finished_runs_are_counted_per_hour(db: &TestDb) {
    let mut ids = Vec::new();
    for (status, hours) in [
        ("Completed", 0),
        ("Completed", 0),
        ("Failed", 0),
        ("Completed", 5),
        ("Failed", 30),
    ] {
        let id = db.register_new("hourly").await;
        finish(db, id, status, hours).await;
        ids.push(id);
    }
    db.register_new("still-pending").await;
    let hour = |id: i64| async move {
        db.row(id)
            .await
            .end_time
            .expect("ended")
            .duration_trunc(TimeDelta::hours(1))
            .unwrap()
    };
    let (now_hour, five_ago) = (hour(ids[0]).await, hour(ids[3]).await);
    let mut found = db
        .finished_per_hour(Utc::now(), 24)
        .await
        .expect("finished per hour");
    found.sort_by_key(|o| (o.hour_start, o.status.as_str()));
    let outcome = |hour_start, status, process_count| HourlyOutcome {
        hour_start,
        status,
        process_count,
    };
    assert_eq!(
        found,
        [
            outcome(five_ago, ProcessStatus::Completed, 1),
            outcome(now_hour, ProcessStatus::Completed, 2),
            outcome(now_hour, ProcessStatus::Failed, 1),
        ],
        "{db}: the run 30 hours ago is outside the 24 hours; Pending ones are not counted"
    );
}
