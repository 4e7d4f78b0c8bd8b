//! ClaimProcesses, the driver's pull model: concurrent claimers never share a process
//! and lose none; slots, MaxCount, the lease and RunAfter.

#[macro_use]
mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{Must, TestDb, Unit};
use stagehand::store::{ClaimRequest, Completion, FinalStatus, ProcessStatus, TaskRecord};

const PROCESSES: usize = 10_000;
const REGISTRARS: usize = 8;
const CLAIMERS: usize = 16;
const BATCH: i32 = 25;

conformance!(sixteen_claimers_over_ten_thousand_processes);
async fn sixteen_claimers_over_ten_thousand_processes(db: &TestDb) {
    db.driver_task("bulk", "parallel").await;
    let registrars: Vec<_> = (0..REGISTRARS)
        .map(|_| {
            let (store, label) = (db.store(), db.to_string());
            tokio::spawn(async move {
                for _ in 0..PROCESSES / REGISTRARS {
                    let r = store
                        .register("bulk", None, None)
                        .await
                        .must(&label, "RegisterProcess");
                    assert!(
                        r.registered,
                        "{label}: parallel registrations are all accepted: {r:?}"
                    );
                }
            })
        })
        .collect();
    for registrar in registrars {
        registrar
            .await
            .unwrap_or_else(|e| panic!("{db}: a registering task failed: {e}"));
    }
    assert_eq!(
        db.count("stage.FileControl WHERE Status = 'Pending'").await,
        PROCESSES as i64
    );

    let claimers: Vec<_> = (0..CLAIMERS)
        .map(|k| {
            let (store, label) = (db.store(), db.to_string());
            tokio::spawn(async move {
                let worker = format!("claimer_{k}");
                let mut mine = Vec::new();
                loop {
                    let request = ClaimRequest {
                        worker_name: &worker,
                        max_count: BATCH,
                        lease_seconds: 300,
                        slots: None,
                    };
                    let claimed = store.claim(&request).await.must(&label, "ClaimProcesses");
                    if claimed.is_empty() {
                        // Rows locked by other claimers are skipped, not waited for: stop
                        // only when nothing is Pending any more.
                        let pending = store
                            .query_i64(
                                "SELECT COUNT(*) FROM stage.FileControl WHERE Status = 'Pending'",
                            )
                            .await
                            .must(&label, "count pending");
                        if pending == Some(0) {
                            return mine;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    assert!(
                        claimed.len() <= BATCH as usize,
                        "{label}: MaxCount exceeded: {}",
                        claimed.len()
                    );
                    let completions: Vec<Completion> = claimed
                        .iter()
                        .map(|c| {
                            assert_eq!(
                                c.worker_assigned, worker,
                                "{label}: claimed for another worker: {c:?}"
                            );
                            assert_eq!(
                                c.attempt, 1,
                                "{label}: a process claimed a second time: {c:?}"
                            );
                            Completion::new(
                                c.process_id,
                                &worker,
                                Some(c.attempt),
                                FinalStatus::Completed,
                            )
                        })
                        .collect();
                    let results = store
                        .complete(&completions)
                        .await
                        .must(&label, "CompleteProcesses");
                    assert_eq!(
                        results.len(),
                        completions.len(),
                        "{label}: one result per completion"
                    );
                    assert!(
                        results
                            .iter()
                            .all(|r| r.accepted && r.status == Some(ProcessStatus::Completed)),
                        "{label}: the owner's completions are accepted: {results:?}"
                    );
                    mine.extend(claimed.iter().map(|c| c.process_id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(
            claimer
                .await
                .unwrap_or_else(|e| panic!("{db}: a claiming task failed: {e}")),
        );
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "{db}: {} claims were duplicates",
        all.len() - distinct.len()
    );
    assert_eq!(
        all.len(),
        PROCESSES,
        "{db}: every process claimed exactly once"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE Status = 'Completed'")
            .await,
        PROCESSES as i64,
        "{db}: none lost: all Completed"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE Status <> 'Completed'")
            .await,
        0
    );
}

conformance!(claimed_rows_carry_what_the_worker_needs);
async fn claimed_rows_carry_what_the_worker_needs(db: &TestDb) {
    let task = TaskRecord {
        working_directory: Some("/srv/jobs".into()),
        timeout_minutes: Some(15),
        max_attempts: 4,
        arguments: Some(r#"["--day","2024-05-01"]"#.into()),
        definition: Some(r#"{"id":"report","outputEncoding":850}"#.into()),
        ..TaskRecord::new("report", "/usr/bin/report")
    };
    let task_id = db.save_task(&task).await.must(db, "SaveTask").task_id;
    let registered = db
        .register("report", Some(r#"{"region":"north"}"#), None)
        .await
        .must(db, "register");
    let claimed = db.claim_as("w", 1).await;
    assert_eq!(claimed.len(), 1, "{db}: {claimed:?}");
    let c = &claimed[0];
    assert_eq!(c.process_id, registered.process_id);
    assert_eq!(c.process_name, "report");
    assert_eq!(c.task_id, Some(task_id), "{db}: {c:?}");
    assert_eq!(c.command.as_deref(), Some("/usr/bin/report"), "{db}: {c:?}");
    assert_eq!(
        c.arguments.as_deref(),
        Some(r#"["--day","2024-05-01"]"#),
        "{db}: {c:?}"
    );
    assert_eq!(
        c.working_directory.as_deref(),
        Some("/srv/jobs"),
        "{db}: {c:?}"
    );
    assert_eq!(
        c.parameters.as_deref(),
        Some(r#"{"region":"north"}"#),
        "{db}: {c:?}"
    );
    assert_eq!((c.attempt, c.max_attempts), (1, 4), "{db}: {c:?}");
    assert_eq!(c.timeout_minutes, Some(15), "{db}: {c:?}");
    assert_eq!(c.output_encoding.as_deref(), Some("850"), "{db}: {c:?}");
    let row = db.row(c.process_id).await;
    assert_eq!(row.status, ProcessStatus::InProgress, "{db}: {row:?}");
    assert_eq!(row.worker_assigned.as_deref(), Some("w"));
    assert!(
        row.start_time.is_some() && row.end_time.is_none(),
        "{db}: {row:?}"
    );
}

conformance!(output_encoding_follows_the_task_json);
async fn output_encoding_follows_the_task_json(db: &TestDb) {
    let mut task = TaskRecord {
        overlap_policy: "parallel".into(),
        ..TaskRecord::new("tool", "tool.exe")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    db.register("tool", None, None).await.must(db, "register");
    let claimed = db.claim_as("w", 1).await;
    assert_eq!(
        claimed[0].output_encoding, None,
        "{db}: no JSON, no encoding"
    );
    // A changed definition is what the next claim sees (the column is derived, not copied).
    task.definition = Some(r#"{"id":"tool","outputEncoding":"ansi"}"#.into());
    db.save_task(&task).await.must(db, "SaveTask again");
    db.register("tool", None, None).await.must(db, "register");
    let claimed = db.claim_as("w2", 1).await;
    assert_eq!(
        claimed[0].output_encoding.as_deref(),
        Some("ansi"),
        "{db}: {claimed:?}"
    );
    // A Definition broken by hand is no encoding, not a failed UPDATE or claim.
    db.exec(&format!(
        "UPDATE stage.Task SET Definition = {} WHERE TaskName = 'tool'",
        db.text("not json")
    ))
    .await;
    db.register("tool", None, None).await.must(db, "register");
    let claimed = db.claim_as("w3", 1).await;
    assert_eq!(claimed[0].output_encoding, None, "{db}: {claimed:?}");
}

conformance!(max_count_is_honoured_oldest_first);
async fn max_count_is_honoured_oldest_first(db: &TestDb) {
    db.driver_task("many", "parallel").await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(db.register_new("many").await);
    }
    for (round, expected) in [&ids[0..3], &ids[3..6], &ids[6..7], &[]]
        .into_iter()
        .enumerate()
    {
        let claimed: Vec<i64> = db
            .claim_as("w", 3)
            .await
            .iter()
            .map(|c| c.process_id)
            .collect();
        assert_eq!(
            claimed, expected,
            "{db}: claim {round} with MaxCount 3: the oldest, by ProcessID"
        );
    }
}

conformance!(slots_name_the_claimed_rows);
async fn slots_name_the_claimed_rows(db: &TestDb) {
    db.driver_task("slotted", "parallel").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(db.register_new("slotted").await);
    }
    let slots: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let request = ClaimRequest {
        worker_name: "host1",
        max_count: 5,
        lease_seconds: 60,
        slots: Some(&slots),
    };
    let claimed = db
        .claim(&request)
        .await
        .must(db, "ClaimProcesses with slots");
    let got: Vec<(i64, &str)> = claimed
        .iter()
        .map(|c| (c.process_id, c.worker_assigned.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (ids[0], "host1/a"),
            (ids[1], "host1/b"),
            (ids[2], "host1/c")
        ],
        "{db}: at most one row per slot, the k-th row gets WorkerName/slot k"
    );
    assert_eq!(
        db.row(ids[1]).await.worker_assigned.as_deref(),
        Some("host1/b")
    );

    let slots: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
    let request = ClaimRequest {
        worker_name: "host1",
        max_count: 1,
        lease_seconds: 60,
        slots: Some(&slots),
    };
    let claimed = db
        .claim(&request)
        .await
        .must(db, "ClaimProcesses with slots");
    let got: Vec<(i64, &str)> = claimed
        .iter()
        .map(|c| (c.process_id, c.worker_assigned.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(ids[3], "host1/x")],
        "{db}: min(MaxCount, slots) rows"
    );
}

conformance!(claim_sets_the_lease);
async fn claim_sets_the_lease(db: &TestDb) {
    db.driver_task("leased", "parallel").await;
    let id = db.register_new("leased").await;
    let request = ClaimRequest {
        worker_name: "w",
        max_count: 1,
        lease_seconds: 90,
        slots: None,
    };
    let claimed = db.claim(&request).await.must(db, "ClaimProcesses");
    let now = db.now().await;
    assert_eq!(claimed.len(), 1, "{db}: {claimed:?}");
    let lease = claimed[0]
        .lease_expires_at
        .unwrap_or_else(|| panic!("{db}: ClaimProcesses must return LeaseExpiresAt"));
    let ahead = (lease - now).num_seconds();
    assert!(
        (85..=91).contains(&ahead),
        "{db}: lease expires {ahead}s from now, expected about 90"
    );
    let from = format!("FROM stage.FileControl WHERE ProcessID = {id}");
    let stored = db.instant("LeaseExpiresAt", &from).await;
    assert!(
        stored.is_some_and(|s| (s - lease).num_milliseconds().abs() <= 1),
        "{db}: stored LeaseExpiresAt {stored:?} differs from the returned {lease}"
    );
    let heartbeat = db.instant("HeartbeatAt", &from).await;
    assert!(
        heartbeat.is_some_and(|h| (now - h).num_seconds().abs() <= 5),
        "{db}: HeartbeatAt set to now on claim, got {heartbeat:?} (now {now})"
    );
}

conformance!(run_after_in_the_future_is_not_claimable);
async fn run_after_in_the_future_is_not_claimable(db: &TestDb) {
    db.driver_task("later", "parallel").await;
    let id = db.register_new("later").await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET RunAfter = {} WHERE ProcessID = {id}",
        db.ahead(1, Unit::Hour)
    ))
    .await;
    assert!(
        db.claim_as("w", 5).await.is_empty(),
        "{db}: RunAfter in an hour: not claimable yet"
    );
    db.exec(&format!(
        "UPDATE stage.FileControl SET RunAfter = {} WHERE ProcessID = {id}",
        db.ago(1, Unit::Second)
    ))
    .await;
    let claimed: Vec<i64> = db
        .claim_as("w", 5)
        .await
        .iter()
        .map(|c| c.process_id)
        .collect();
    assert_eq!(claimed, vec![id], "{db}: RunAfter passed: claimable");
}

conformance!(a_burst_after_the_table_looked_empty_is_claimed_by_key);
async fn a_burst_after_the_table_looked_empty_is_claimed_by_key(db: &TestDb) {
    // PostgreSQL only: there the claim keeps a generic plan per session, made from the
    // statistics of the moment; SQL Server's plans are not made that way.
    if db.kind() != stagehand::store::BackendKind::Postgres {
        return;
    }
    db.driver_task("burst", "parallel").await;
    let burst = |n: usize| serde_json::json!(vec![serde_json::json!({ "name": "burst" }); n]);
    // Finished runs deleted, then analysed: the statistics say the table is empty.
    db.register_many(&burst(1000).to_string())
        .await
        .must(db, "RegisterProcesses");
    db.exec("UPDATE stage.FileControl SET Status = 'Completed', EndTime = now()")
        .await;
    db.exec("DELETE FROM stage.FileControl").await;
    db.exec("ANALYZE stage.FileControl").await;
    // Then a burst: 10,000 runs finished ahead of 10,000 pending ones.
    for _ in 0..20 {
        db.register_many(&burst(1000).to_string())
            .await
            .must(db, "RegisterProcesses");
    }
    db.exec(
        "UPDATE stage.FileControl SET Status = 'Completed', EndTime = now() \
         WHERE ProcessID < (SELECT min(ProcessID) + 10000 FROM stage.FileControl)",
    )
    .await;
    // The buffers a claim of ten reads, its nested statements included: twice in one
    // session, which plans the claim at its first call, from those statistics (the
    // store's sessions have not claimed yet); the second call runs the plans as they stay.
    db.exec(
        "CREATE FUNCTION public.claim_buffers() RETURNS bigint LANGUAGE plpgsql AS $$ \
         DECLARE v json; BEGIN \
         FOR i IN 1..2 LOOP \
             EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) \
                      SELECT * FROM stage.ClaimProcesses(''w'', 10, 60, NULL)' INTO v; \
         END LOOP; \
         RETURN (v -> 0 -> 'Plan' ->> 'Shared Hit Blocks')::bigint \
              + (v -> 0 -> 'Plan' ->> 'Shared Read Blocks')::bigint; END $$",
    )
    .await;
    let buffers = db
        .query_i64("SELECT public.claim_buffers()")
        .await
        .must(db, "claim twice")
        .unwrap_or(0);
    // By key: about 200 (locking walk, ten updates with their index entries, the
    // counters); V64's plans for such statistics read about 1,000, growing with the
    // backlog, and a walk past the finished runs reads 10,000 and more.
    assert!(
        buffers < 500,
        "{db}: a claim of ten read {buffers} buffers: it scans instead of seeking"
    );
    assert_eq!(
        db.count("stage.FileControl WHERE Status = 'InProgress'")
            .await,
        20,
        "{db}: each call claimed ten"
    );
}
