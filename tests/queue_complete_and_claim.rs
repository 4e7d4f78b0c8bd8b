//! CompleteAndClaim: a batch's outcomes and the next claim in one call give exactly what
//! CompleteProcesses then ClaimProcesses give, and an error in either writes nothing.

#[macro_use]
mod common;

use common::{assert_invalid_argument, Must, TestDb};
use stagehand::store::{ClaimRequest, Completion, FinalStatus, StoreResult, TaskRecord};

/// How a scenario records its batch and claims the next.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Via {
    TwoCalls,
    OneCall,
}

/// What a scenario saw, with ProcessIDs replaced by their position among the scenario's
/// runs (so two scenarios on different rows compare): the verdicts, the claimed rows and
/// every log row of the scenario's runs.
type Seen = (
    Vec<(Option<usize>, bool, Option<String>)>,
    Vec<(usize, String, i32, i32)>,
    Vec<(usize, String, String)>,
);

/// Five runs of a task allowing two attempts with no retry delay: three claimed by `w1`,
/// two left Pending. The batch completes the first (accepted), completes the second as
/// another worker (refused), names a process that does not exist, and fails the third
/// (back to Pending at once, so the claim that follows may take it again); the claim then
/// asks for two rows for the slots of worker `d`.
async fn scenario(db: &TestDb, name: &str, via: Via) -> Seen {
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        max_attempts: 2,
        retry_delay_seconds: 0,
        ..TaskRecord::new(name, "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(db.register_new(name).await);
    }
    let claimed = db.claim_as("w1", 3).await;
    assert_eq!(
        claimed.iter().map(|p| p.process_id).collect::<Vec<_>>(),
        ids[..3],
        "{db}: the three oldest are claimed"
    );
    let batch = [
        Completion::new(ids[0], "w1", Some(1), FinalStatus::Completed),
        Completion::new(ids[1], "w2", Some(1), FinalStatus::Completed),
        Completion::new(-5, "w1", None, FinalStatus::Completed),
        Completion {
            exit_code: Some(3),
            message: Some("exit 3".into()),
            ..Completion::new(ids[2], "w1", Some(1), FinalStatus::Failed)
        },
    ];
    let slots = ["1".to_string(), "2".to_string()];
    let request = ClaimRequest {
        worker_name: "d",
        max_count: 5,
        lease_seconds: 60,
        slots: Some(&slots),
    };
    let (results, claimed) = match via {
        Via::TwoCalls => {
            let results = db.complete(&batch).await.must(db, "CompleteProcesses");
            (results, db.claim(&request).await.must(db, "ClaimProcesses"))
        }
        Via::OneCall => {
            let both = db
                .complete_and_claim(&batch, &request)
                .await
                .must(db, "CompleteAndClaim");
            (both.results, both.claimed)
        }
    };
    let position = |id: i64| ids.iter().position(|&i| i == id);
    let verdicts = results
        .iter()
        .map(|r| {
            (
                position(r.process_id),
                r.accepted,
                r.status.map(|s| s.as_str().to_string()),
            )
        })
        .collect();
    let claims = claimed
        .iter()
        .map(|p| {
            (
                position(p.process_id).expect("a run of the scenario"),
                p.worker_assigned.clone(),
                p.attempt,
                p.max_attempts,
            )
        })
        .collect();
    let mut logs = Vec::new();
    for (k, &id) in ids.iter().enumerate() {
        for row in db.logs(id).await {
            logs.push((k, row.log_level, without_instant(&row.message)));
        }
    }
    (verdicts, claims, logs)
}

/// A retry's log row names the instant it is due (`retry 1 at 2026-12-04T01:20:10.250Z`),
/// which differs between two scenarios; the rest must not.
fn without_instant(message: &str) -> String {
    match message.find(" at ") {
        Some(at) if message.len() >= at + 4 + 24 => {
            format!("{} at <instant>{}", &message[..at], &message[at + 4 + 24..])
        }
        _ => message.to_string(),
    }
}

/// Finishes whatever a scenario left Pending or InProgress, so the next one starts alone.
async fn drain(db: &TestDb, name: &str) {
    db.exec(&format!(
        "UPDATE stage.FileControl SET Status = 'Cancelled', EndTime = {} \
         WHERE ProcessName = {} AND Status IN ('Pending', 'InProgress')",
        db.now_sql(),
        db.text(name)
    ))
    .await;
}

conformance!(one_call_gives_what_the_two_calls_give);
async fn one_call_gives_what_the_two_calls_give(db: &TestDb) {
    let two = scenario(db, "twice", Via::TwoCalls).await;
    drain(db, "twice").await;
    let one = scenario(db, "once", Via::OneCall).await;
    // The scenario itself, so that equal results cannot be two empty ones.
    assert_eq!(
        two.0,
        vec![
            (Some(0), true, Some("Completed".into())),
            (Some(1), false, Some("InProgress".into())),
            (None, false, None),
            (Some(2), true, Some("Pending".into())),
        ],
        "{db}: the verdicts of the two calls"
    );
    assert_eq!(
        two.1,
        vec![(2, "d/1".into(), 2, 2), (3, "d/2".into(), 1, 2)],
        "{db}: the retried run and the oldest Pending one are claimed into the slots"
    );
    assert_eq!(
        one, two,
        "{db}: one call gives exactly what the two calls give"
    );
}

/// Counts of the rows a failed call must not have touched.
async fn untouched(db: &TestDb) -> (i64, i64, i64) {
    (
        db.count("stage.FileControl WHERE Status = 'InProgress'")
            .await,
        db.count("stage.FileControl WHERE Status = 'Pending'").await,
        db.count("stage.ProcessLog").await,
    )
}

conformance!(an_error_writes_nothing_and_claims_nothing);
async fn an_error_writes_nothing_and_claims_nothing(db: &TestDb) {
    db.driver_task("job", "parallel").await;
    let running = db.register_new("job").await;
    db.claim_as("w1", 1).await;
    db.register_new("job").await;
    let before = untouched(db).await;
    assert_eq!(
        (before.0, before.1),
        (1, 1),
        "{db}: one running, one pending"
    );
    let good = Completion::new(running, "w1", Some(1), FinalStatus::Completed);
    let request = ClaimRequest {
        worker_name: "w1",
        max_count: 10,
        lease_seconds: 60,
        slots: None,
    };

    let bad_element = [
        good.clone(),
        Completion::new(running + 1, "", None, FinalStatus::Completed),
    ];
    let result = db.complete_and_claim(&bad_element, &request).await;
    assert_invalid_argument(db, result, "Completions[1].workerName", "CompleteAndClaim");
    assert_eq!(
        untouched(db).await,
        before,
        "{db}: a bad element: nothing written or claimed"
    );

    let duplicate = [good.clone(), good.clone()];
    let result = db.complete_and_claim(&duplicate, &request).await;
    assert_invalid_argument(db, result, "Completions[1].processId", "CompleteAndClaim");
    assert_eq!(
        untouched(db).await,
        before,
        "{db}: a duplicate: nothing written or claimed"
    );

    // The completions are valid and would be accepted; the claim's argument is not.
    let bad_claim = ClaimRequest {
        max_count: 0,
        ..request
    };
    let result = db
        .complete_and_claim(std::slice::from_ref(&good), &bad_claim)
        .await;
    assert_invalid_argument(db, result, "MaxCount", "CompleteAndClaim");
    assert_eq!(
        untouched(db).await,
        before,
        "{db}: a bad claim argument: the completion is not written either"
    );

    let both = db
        .complete_and_claim(&[good], &request)
        .await
        .must(db, "CompleteAndClaim");
    assert!(both.results[0].accepted, "{db}: {both:?}");
    assert_eq!(
        both.claimed.len(),
        1,
        "{db}: the pending run is claimed: {both:?}"
    );
}

conformance!(workers_may_call_it);
async fn workers_may_call_it(db: &TestDb) {
    db.driver_task("job", "parallel").await;
    db.register_new("job").await;
    let worker = db.connect_as("stage_worker").await;
    let request = ClaimRequest {
        worker_name: "w1",
        max_count: 1,
        lease_seconds: 60,
        slots: None,
    };
    let result: StoreResult<_> = worker.complete_and_claim(&[], &request).await;
    let both = result.must(db, "CompleteAndClaim as stage_worker");
    assert!(both.results.is_empty(), "{db}: {both:?}");
    assert_eq!(both.claimed.len(), 1, "{db}: {both:?}");
}
