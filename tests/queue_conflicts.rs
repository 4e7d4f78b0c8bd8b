//! Lock conflicts: a call chosen as a deadlock victim is made again by the store and
//! succeeds; pooled sessions never wait forever for a lock.

#[macro_use]
mod common;

use common::{Must, TestDb};
use stagehand::store::{BackendKind, Completion, FinalStatus};
use std::time::Duration;

conformance!(pooled_sessions_wait_a_bounded_time_for_locks);
async fn pooled_sessions_wait_a_bounded_time_for_locks(db: &TestDb) {
    let sql = match db.kind() {
        BackendKind::Postgres => {
            "SELECT CAST(EXTRACT(EPOCH FROM CAST(current_setting('lock_timeout') AS interval)) * 1000 AS bigint)"
        }
        BackendKind::SqlServer => "SELECT CAST(@@LOCK_TIMEOUT AS bigint)",
    };
    assert_eq!(
        db.query_i64(sql).await.must(db, sql),
        Some(10_000),
        "{db}: lock waits end after 10 s"
    );
}

conformance!(a_deadlock_victim_is_called_again);
async fn a_deadlock_victim_is_called_again(db: &TestDb) {
    db.driver_task("crossed", "parallel").await;
    let a = db.register_new("crossed").await;
    let b = db.register_new("crossed").await;
    assert_eq!(db.claim_as("w", 2).await.len(), 2, "{db}: claimed");
    // Another session locks b, then (0.8 s later) asks for a while the completion below
    // (0.3 s in) holds a and waits for b: a deadlock, which the database resolves against
    // the completion (PostgreSQL: the completion looks for deadlocks after waiting 1 s, the
    // other session only after 60 s; SQL Server: the other session's priority is higher).
    // The completion's transaction is rolled back; the store makes the call again.
    let touch = |id: i64| {
        format!("UPDATE stage.FileControl SET HeartbeatAt = HeartbeatAt WHERE ProcessID = {id}")
    };
    let other = match db.kind() {
        BackendKind::Postgres => format!(
            "DO $$ BEGIN PERFORM set_config('deadlock_timeout', '60s', true); {}; \
             PERFORM pg_sleep(0.8); {}; END $$",
            touch(b),
            touch(a)
        ),
        BackendKind::SqlServer => format!(
            "SET DEADLOCK_PRIORITY HIGH; SET XACT_ABORT ON; BEGIN TRANSACTION; {}; \
             WAITFOR DELAY '00:00:00.800'; {}; COMMIT TRANSACTION;",
            touch(b),
            touch(a)
        ),
    };
    let store = db.store();
    let other = tokio::spawn(async move { store.execute_sql(&other).await });
    // Arranging the order of the two sessions, not measuring anything.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let results = db
        .complete(&[
            Completion::new(a, "w", None, FinalStatus::Completed),
            Completion::new(b, "w", None, FinalStatus::Completed),
        ])
        .await
        .must(db, "CompleteProcesses caught in a deadlock");
    assert!(results.iter().all(|r| r.accepted), "{db}: {results:?}");
    other
        .await
        .expect("the other session's task")
        .must(db, "the other session, which won the deadlock");
    assert_eq!(
        db.count("stage.FileControl WHERE Status = 'Completed'")
            .await,
        2,
        "{db}: both completed once"
    );
}
