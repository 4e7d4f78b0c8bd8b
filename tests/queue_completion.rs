//! CompleteProcesses / CompleteProcess: accepted only from the owner of the current
//! attempt, retries with exponential backoff, final statuses, output in the log.
//! Each scenario runs through both the batch and the single-row procedure.

#[macro_use]
mod common;

use common::{assert_invalid_argument, Must, TestDb, Unit};
use stagehand::store::{Completion, CompletionResult, FinalStatus, ProcessStatus, TaskRecord};

/// Which completion procedure a scenario goes through.
#[derive(Debug, Clone, Copy)]
enum Via {
    Batch,
    Single,
}

const BOTH: [Via; 2] = [Via::Batch, Via::Single];

async fn finish(db: &TestDb, via: Via, completion: Completion) -> CompletionResult {
    match via {
        Via::Batch => {
            let mut results = db
                .complete(&[completion])
                .await
                .must(db, "CompleteProcesses");
            assert_eq!(
                results.len(),
                1,
                "{db}: one result row per element: {results:?}"
            );
            results.remove(0)
        }
        Via::Single => db
            .complete_one(&completion)
            .await
            .must(db, "CompleteProcess"),
    }
}

/// Saves a driver task `name` (parallel) and claims one fresh run of it as `worker`.
async fn claimed_run(db: &TestDb, name: &str, worker: &str) -> i64 {
    let id = db.register_new(name).await;
    let claimed = db.claim_as(worker, 1).await;
    assert_eq!(claimed.len(), 1, "{db}: {claimed:?}");
    assert_eq!(claimed[0].process_id, id, "{db}: the fresh run is claimed");
    id
}

async fn expire_lease(db: &TestDb, process_id: i64) {
    db.exec(&format!(
        "UPDATE stage.FileControl SET LeaseExpiresAt = {} WHERE ProcessID = {process_id}",
        db.ago(1, Unit::Minute)
    ))
    .await;
}

conformance!(owner_completion_is_accepted);
async fn owner_completion_is_accepted(db: &TestDb) {
    db.driver_task("tidy", "parallel").await;
    for via in BOTH {
        let id = claimed_run(db, "tidy", "w1").await;
        let completion = Completion {
            exit_code: Some(0),
            message: Some(format!("tidied via {via:?}")),
            ..Completion::new(id, "w1", Some(1), FinalStatus::Completed)
        };
        let result = finish(db, via, completion).await;
        assert_eq!(
            result,
            CompletionResult {
                process_id: id,
                accepted: true,
                status: Some(ProcessStatus::Completed)
            },
            "{db}: {via:?}: the owner's completion is accepted"
        );
        let row = db.row(id).await;
        assert_eq!(
            row.status,
            ProcessStatus::Completed,
            "{db}: {via:?}: {row:?}"
        );
        assert_eq!(row.exit_code, Some(0), "{db}: {via:?}: ExitCode stored");
        assert!(
            row.end_time.is_some(),
            "{db}: {via:?}: EndTime set: {row:?}"
        );
        assert_eq!(
            db.instant(
                "LeaseExpiresAt",
                &format!("FROM stage.FileControl WHERE ProcessID = {id}")
            )
            .await,
            None
        );
        let logs = db.logs(id).await;
        assert!(
            logs.iter()
                .any(|l| l.log_level == "Info" && l.message == format!("tidied via {via:?}")),
            "{db}: {via:?}: an Info log row with the message: {logs:?}"
        );
    }
}

conformance!(stale_owner_completion_is_refused);
async fn stale_owner_completion_is_refused(db: &TestDb) {
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        max_attempts: 3,
        ..TaskRecord::new("slow", "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    for via in BOTH {
        let id = claimed_run(db, "slow", "w1").await;
        expire_lease(db, id).await;
        let reset = db.reset_stuck(60).await.must(db, "ResetStuckProcesses");
        assert_eq!(
            reset.len(),
            1,
            "{db}: {via:?}: the expired lease is reset: {reset:?}"
        );
        let reclaimed = db.claim_as("w2", 1).await;
        assert_eq!(reclaimed.len(), 1, "{db}: {via:?}: {reclaimed:?}");
        assert_eq!((reclaimed[0].process_id, reclaimed[0].attempt), (id, 2));

        let before = db.row(id).await;
        let logs_before = db.logs(id).await.len();
        let stale = Completion::new(id, "w1", Some(1), FinalStatus::Completed);
        let result = finish(db, via, stale).await;
        assert!(
            !result.accepted,
            "{db}: {via:?}: the stale owner's completion must be refused: {result:?}"
        );
        assert_eq!(
            result.status,
            Some(ProcessStatus::InProgress),
            "{db}: {via:?}: the row's status afterwards"
        );
        assert_eq!(
            db.row(id).await,
            before,
            "{db}: {via:?}: a refused completion changes nothing"
        );
        let logs = db.logs(id).await;
        assert_eq!(
            logs.len(),
            logs_before + 1,
            "{db}: {via:?}: one log row for the refusal: {logs:?}"
        );
        let refusal = &logs[logs_before];
        assert!(
            refusal.log_level == "Warning" && refusal.message.starts_with("Completion refused"),
            "{db}: {via:?}: a Warning 'Completion refused: ...', got {refusal:?}"
        );

        let current = finish(
            db,
            via,
            Completion::new(id, "w2", Some(2), FinalStatus::Completed),
        )
        .await;
        assert!(
            current.accepted,
            "{db}: {via:?}: the current owner's completion: {current:?}"
        );
    }
}

conformance!(wrong_attempt_is_refused);
async fn wrong_attempt_is_refused(db: &TestDb) {
    db.driver_task("attempts", "parallel").await;
    for via in BOTH {
        let id = claimed_run(db, "attempts", "w").await;
        let logs_before = db.logs(id).await.len();
        let result = finish(
            db,
            via,
            Completion::new(id, "w", Some(2), FinalStatus::Completed),
        )
        .await;
        assert!(
            !result.accepted,
            "{db}: {via:?}: attempt 2 is not the current attempt 1: {result:?}"
        );
        assert_eq!(db.row(id).await.status, ProcessStatus::InProgress);
        let logs = db.logs(id).await;
        assert!(
            logs[logs_before..]
                .iter()
                .any(|l| l.log_level == "Warning" && l.message.starts_with("Completion refused")),
            "{db}: {via:?}: the refusal is logged: {logs:?}"
        );
        let stranger = finish(
            db,
            via,
            Completion::new(id, "someone_else", None, FinalStatus::Completed),
        )
        .await;
        assert!(
            !stranger.accepted,
            "{db}: {via:?}: another worker's completion: {stranger:?}"
        );
        let right = finish(
            db,
            via,
            Completion::new(id, "w", Some(1), FinalStatus::Completed),
        )
        .await;
        assert!(
            right.accepted,
            "{db}: {via:?}: the right attempt is accepted: {right:?}"
        );
        let again = finish(
            db,
            via,
            Completion::new(id, "w", Some(1), FinalStatus::Failed),
        )
        .await;
        assert!(
            !again.accepted,
            "{db}: {via:?}: a finished process cannot be completed again: {again:?}"
        );
        assert_eq!(
            again.status,
            Some(ProcessStatus::Completed),
            "{db}: {via:?}: {again:?}"
        );
    }
}

conformance!(batch_with_mixed_verdicts);
async fn batch_with_mixed_verdicts(db: &TestDb) {
    db.driver_task("mixed", "parallel").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(db.register_new("mixed").await);
    }
    assert_eq!(
        db.claim_as("w", 3).await.len(),
        3,
        "{db}: three runs claimed"
    );
    let missing = ids[2] + 1_000_000;
    let results = db
        .complete(&[
            Completion::new(ids[0], "w", Some(1), FinalStatus::Completed),
            Completion::new(ids[1], "intruder", Some(1), FinalStatus::Completed),
            Completion::new(ids[2], "w", None, FinalStatus::Cancelled),
            Completion::new(missing, "w", Some(1), FinalStatus::Completed),
        ])
        .await
        .must(db, "CompleteProcesses");
    let verdict = |id: i64| {
        results
            .iter()
            .find(|r| r.process_id == id)
            .map(|r| (r.accepted, r.status))
            .unwrap_or_else(|| panic!("{db}: no result row for process {id}: {results:?}"))
    };
    assert_eq!(results.len(), 4, "{db}: one row per element: {results:?}");
    assert_eq!(
        verdict(ids[0]),
        (true, Some(ProcessStatus::Completed)),
        "{db}: owner, right attempt"
    );
    assert_eq!(
        verdict(ids[1]),
        (false, Some(ProcessStatus::InProgress)),
        "{db}: not the owner"
    );
    assert_eq!(
        verdict(ids[2]),
        (true, Some(ProcessStatus::Cancelled)),
        "{db}: owner, no attempt given"
    );
    assert_eq!(
        verdict(missing),
        (false, None),
        "{db}: no such process: Status NULL"
    );
    assert_eq!(db.row(ids[1]).await.status, ProcessStatus::InProgress);
    assert!(
        db.logs(ids[2])
            .await
            .iter()
            .any(|l| l.log_level == "Warning" && l.message == "Cancelled"),
        "{db}: a Cancelled run gets a Warning row with the default message"
    );
    assert_eq!(
        db.count(&format!("stage.ProcessLog WHERE ProcessID = {missing}"))
            .await,
        0,
        "{db}: no log row for a process that does not exist"
    );
}

conformance!(failures_retry_with_growing_backoff_then_fail);
async fn failures_retry_with_growing_backoff_then_fail(db: &TestDb) {
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        max_attempts: 3,
        retry_delay_seconds: 100,
        ..TaskRecord::new("flaky", "false")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    for via in BOTH {
        let id = db.register_new("flaky").await;
        let mut delays = Vec::new();
        for attempt in 1..=3 {
            let claimed = db.claim_as("w", 1).await;
            assert_eq!(
                claimed.len(),
                1,
                "{db}: {via:?}: attempt {attempt} claimable: {claimed:?}"
            );
            assert_eq!((claimed[0].process_id, claimed[0].attempt), (id, attempt));
            let failure = Completion {
                exit_code: Some(3),
                message: Some(format!("boom {attempt}")),
                ..Completion::new(id, "w", Some(attempt), FinalStatus::Failed)
            };
            let result = finish(db, via, failure).await;
            let now = db.now().await;
            let row = db.row(id).await;
            assert!(
                result.accepted,
                "{db}: {via:?}: attempt {attempt}: {result:?}"
            );
            assert_eq!(
                row.exit_code,
                Some(3),
                "{db}: {via:?}: ExitCode kept: {row:?}"
            );
            let logs = db.logs(id).await;
            let last = logs.last().unwrap_or_else(|| panic!("{db}: no log rows"));
            if attempt < 3 {
                assert_eq!(
                    result.status,
                    Some(ProcessStatus::Pending),
                    "{db}: {via:?}: attempt {attempt} retries"
                );
                assert_eq!(row.status, ProcessStatus::Pending, "{db}: {via:?}: {row:?}");
                assert_eq!(
                    (row.worker_assigned.as_deref(), row.start_time),
                    (None, None),
                    "{db}: {via:?}: {row:?}"
                );
                assert_eq!(
                    row.attempt, attempt,
                    "{db}: {via:?}: the attempt is counted: {row:?}"
                );
                assert_eq!(
                    last.log_level, "Warning",
                    "{db}: {via:?}: the retry is a Warning: {last:?}"
                );
                delays.push((row.run_after - now).num_milliseconds());
                assert!(
                    db.claim_as("w", 1).await.is_empty(),
                    "{db}: {via:?}: not claimable before RunAfter"
                );
                db.exec(&format!(
                    "UPDATE stage.FileControl SET RunAfter = {} WHERE ProcessID = {id}",
                    db.ago(1, Unit::Second)
                ))
                .await;
            } else {
                assert_eq!(
                    result.status,
                    Some(ProcessStatus::Failed),
                    "{db}: {via:?}: attempts exhausted"
                );
                assert_eq!(row.status, ProcessStatus::Failed, "{db}: {via:?}: {row:?}");
                assert!(
                    row.end_time.is_some(),
                    "{db}: {via:?}: a final failure has an EndTime: {row:?}"
                );
                assert!(
                    last.log_level == "Error" && last.message == "boom 3",
                    "{db}: {via:?}: a final failure logs an Error with the message: {last:?}"
                );
            }
        }
        // RetryDelaySeconds * 2^(k-1): 100 s, then 200 s.
        assert!(
            (95_000..=100_500).contains(&delays[0]),
            "{db}: {via:?}: first retry waits ~100 s: {delays:?}"
        );
        assert!(
            (delays[1] - 2 * delays[0]).abs() <= 5_000,
            "{db}: {via:?}: the second retry waits about twice as long: {delays:?}"
        );
        assert!(
            db.claim_as("w", 1).await.is_empty(),
            "{db}: {via:?}: a failed process is not retried"
        );
    }
}

conformance!(retry_delay_defaults_to_sixty_seconds_without_a_task);
async fn retry_delay_defaults_to_sixty_seconds_without_a_task(db: &TestDb) {
    let id = db.register_new("ssis_extract").await;
    db.assign(1).await.must(db, "AssignProcessToWorker");
    let result = finish(
        db,
        Via::Batch,
        Completion::new(id, "Worker_1", Some(1), FinalStatus::Failed),
    )
    .await;
    let now = db.now().await;
    assert_eq!(
        result.status,
        Some(ProcessStatus::Pending),
        "{db}: no task: 3 attempts, so it retries"
    );
    let wait = (db.row(id).await.run_after - now).num_milliseconds();
    assert!(
        (55_000..=60_500).contains(&wait),
        "{db}: the default retry delay is 60 s, got {wait} ms"
    );
}

conformance!(failure_after_cancel_request_is_final);
async fn failure_after_cancel_request_is_final(db: &TestDb) {
    let task = TaskRecord {
        overlap_policy: "killPrevious".into(),
        max_attempts: 3,
        ..TaskRecord::new("replaced", "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    let id = claimed_run(db, "replaced", "w").await;
    db.register_new("replaced").await;
    assert!(
        db.row(id).await.cancel_requested,
        "{db}: the newer run requests cancellation"
    );
    let result = finish(
        db,
        Via::Batch,
        Completion::new(id, "w", Some(1), FinalStatus::Failed),
    )
    .await;
    assert_eq!(
        result.status,
        Some(ProcessStatus::Failed),
        "{db}: a run whose cancellation was requested is not retried"
    );
}

conformance!(long_messages_are_cut_and_kept_whole_in_detail);
async fn long_messages_are_cut_and_kept_whole_in_detail(db: &TestDb) {
    db.driver_task("verbose", "parallel").await;
    for via in BOTH {
        let id = claimed_run(db, "verbose", "w").await;
        // Multi-byte characters: the cut counts characters, not bytes.
        let long = format!("{}{}", "é".repeat(450), "x".repeat(150));
        let completion = Completion {
            message: Some(long.clone()),
            ..Completion::new(id, "w", Some(1), FinalStatus::Completed)
        };
        assert!(finish(db, via, completion).await.accepted, "{db}: {via:?}");
        let logs = db.logs(id).await;
        let summary = logs
            .iter()
            .find(|l| l.detail.as_deref() == Some(long.as_str()))
            .unwrap_or_else(|| {
                panic!("{db}: {via:?}: the whole long message must be in a Detail: {logs:?}")
            });
        assert_eq!(
            summary.message.chars().count(),
            500,
            "{db}: {via:?}: the message is cut to 500 characters"
        );
        assert!(
            long.starts_with(&summary.message),
            "{db}: {via:?}: the cut message is the start of the text"
        );
        assert_eq!(summary.log_level, "Info", "{db}: {via:?}: {summary:?}");
    }
}

conformance!(output_goes_to_the_log);
async fn output_goes_to_the_log(db: &TestDb) {
    db.driver_task("chatty", "parallel").await;
    let id = claimed_run(db, "chatty", "w").await;
    let completion = Completion {
        stdout: Some("line 1\nline 2 'quoted'\n".into()),
        stderr: Some("warning: disk 91% full".into()),
        ..Completion::new(id, "w", Some(1), FinalStatus::Completed)
    };
    assert!(finish(db, Via::Batch, completion).await.accepted, "{db}");
    let logs = db.logs(id).await;
    let stdout = logs.iter().find(|l| l.message == "stdout");
    assert!(
        stdout
            .is_some_and(|l| l.log_level == "Info"
                && l.detail.as_deref() == Some("line 1\nline 2 'quoted'\n")),
        "{db}: stdout is an Info row with the text in Detail: {logs:?}"
    );
    let stderr = logs.iter().find(|l| l.message == "stderr");
    assert!(
        stderr
            .is_some_and(|l| l.log_level == "Warning"
                && l.detail.as_deref() == Some("warning: disk 91% full")),
        "{db}: stderr is a Warning row with the text in Detail: {logs:?}"
    );

    let quiet = claimed_run(db, "chatty", "w").await;
    let completion = Completion {
        stdout: Some(String::new()),
        ..Completion::new(quiet, "w", Some(1), FinalStatus::Completed)
    };
    assert!(finish(db, Via::Batch, completion).await.accepted, "{db}");
    assert!(
        !db.logs(quiet)
            .await
            .iter()
            .any(|l| l.message == "stdout" || l.message == "stderr"),
        "{db}: empty or absent output adds no log row"
    );
}

conformance!(completions_record_when_the_command_started);
async fn completions_record_when_the_command_started(db: &TestDb) {
    let task = TaskRecord {
        overlap_policy: "parallel".into(),
        max_attempts: 2,
        retry_delay_seconds: 0,
        ..TaskRecord::new("started", "true")
    };
    db.save_task(&task).await.must(db, "SaveTask");
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(db.register_new("started").await);
    }
    // A stale value from an earlier attempt must not survive the claim.
    db.exec(&format!(
        "UPDATE stage.FileControl SET CommandStartedAt = {} WHERE ProcessID = {}",
        db.ago(1, Unit::Hour),
        ids[0]
    ))
    .await;
    assert_eq!(db.claim_as("w", 5).await.len(), 5, "{db}: all claimed");
    assert_eq!(
        db.row(ids[0]).await.command_started_at,
        None,
        "{db}: the claim clears CommandStartedAt"
    );
    // The claims happened ten minutes ago, as if each had waited that long to start.
    db.exec(&format!(
        "UPDATE stage.FileControl SET StartTime = {} WHERE Status = 'InProgress'",
        db.ago(10, Unit::Minute)
    ))
    .await;
    let start_time = db
        .row(ids[0])
        .await
        .start_time
        .expect("claimed rows have a StartTime");
    let now = db.now().await;
    // Whole seconds, so both engines store it exactly.
    let real_start = chrono::DateTime::from_timestamp(now.timestamp() - 2, 0).expect("an instant");
    let started =
        |id: i64, status: FinalStatus, at: Option<chrono::DateTime<chrono::Utc>>| Completion {
            started_at: at,
            ..Completion::new(id, "w", None, status)
        };
    let results = db
        .complete(&[
            started(ids[0], FinalStatus::Completed, Some(real_start)),
            // a driver clock behind the server's: never before the claim
            started(
                ids[1],
                FinalStatus::Completed,
                Some(start_time - chrono::Duration::hours(1)),
            ),
            // a driver clock ahead: never after the end
            started(
                ids[2],
                FinalStatus::Completed,
                Some(now + chrono::Duration::hours(1)),
            ),
            started(ids[3], FinalStatus::Completed, None),
            // failed with an attempt left: back to Pending, nothing kept
            started(ids[4], FinalStatus::Failed, Some(real_start)),
        ])
        .await
        .must(db, "CompleteProcesses");
    assert!(results.iter().all(|r| r.accepted), "{db}: {results:?}");

    let row = db.row(ids[0]).await;
    assert_eq!(row.command_started_at, Some(real_start), "{db}: {row:?}");
    assert_eq!(
        row.start_time,
        Some(start_time),
        "{db}: StartTime stays the claim's"
    );
    let row = db.row(ids[1]).await;
    assert_eq!(row.command_started_at, row.start_time, "{db}: {row:?}");
    let row = db.row(ids[2]).await;
    assert_eq!(row.command_started_at, row.end_time, "{db}: {row:?}");
    assert_eq!(
        db.row(ids[3]).await.command_started_at,
        None,
        "{db}: not reported"
    );
    let row = db.row(ids[4]).await;
    assert_eq!(
        (row.status, row.start_time, row.command_started_at),
        (ProcessStatus::Pending, None, None),
        "{db}: a retry clears it with StartTime"
    );
}

conformance!(bad_started_at_is_refused_whole);
async fn bad_started_at_is_refused_whole(db: &TestDb) {
    db.driver_task("bad-start", "parallel").await;
    let a = db.register_new("bad-start").await;
    let b = db.register_new("bad-start").await;
    assert_eq!(db.claim_as("w", 2).await.len(), 2, "{db}: claimed");
    let element = |id: i64, status: &str, started: &str| {
        format!(
            r#"{{"processId": {id}, "workerName": "w", "status": "{status}", "startedAt": {started}}}"#
        )
    };
    let ok = r#""2030-01-01T00:00:00.123456789+02:00""#;
    for (json, argument) in [
        (
            format!("[{}]", element(a, "Completed", "5")),
            "Completions[0].startedAt",
        ),
        (
            format!("[{}]", element(a, "Completed", r#""2030-01-01T00:00:00""#)),
            "Completions[0].startedAt",
        ),
        (
            format!("[{}]", element(a, "Completed", r#""2030-01-01 00:00:00Z""#)),
            "Completions[0].startedAt",
        ),
        (
            format!("[{}]", element(a, "Completed", r#""2030-02-30T00:00:00Z""#)),
            "Completions[0].startedAt",
        ),
        (
            format!(
                "[{}]",
                element(a, "Completed", r#""2030-01-01T00:00:00+15:00""#)
            ),
            "Completions[0].startedAt",
        ),
        // the first bad element is named, whichever rule it breaks
        (
            format!(
                "[{}, {}]",
                element(a, "Completed", ok),
                element(b, "Completed", r#""2030-02-30T00:00:00Z""#)
            ),
            "Completions[1].startedAt",
        ),
        (
            format!(
                "[{}, {}]",
                element(a, "Completed", r#""2030-02-30T00:00:00Z""#),
                element(b, "Done", ok)
            ),
            "Completions[0].startedAt",
        ),
        (
            format!(
                "[{}, {}]",
                element(a, "Done", r#""2030-02-30T00:00:00Z""#),
                element(b, "Completed", ok)
            ),
            "Completions[0].status",
        ),
        (
            format!(
                "[{}, {}]",
                element(a, "Done", ok),
                element(b, "Completed", r#""2030-02-30T00:00:00Z""#)
            ),
            "Completions[0].status",
        ),
    ] {
        let sql = db.call_sql("CompleteProcesses", &[&db.text(&json)]);
        assert_invalid_argument(
            db,
            db.query_i64(&sql).await,
            argument,
            &format!("CompleteProcesses({json})"),
        );
    }
    assert_eq!(
        db.count("stage.FileControl WHERE Status = 'InProgress'")
            .await,
        2,
        "{db}: nothing completed"
    );
    let sql = db.call_sql(
        "CompleteProcesses",
        &[&db.text(&format!(
            "[{}, {}]",
            element(a, "Completed", ok),
            element(b, "Completed", "null")
        ))],
    );
    db.query_i64(&sql).await.must(
        db,
        "CompleteProcesses with a fraction of 9 digits and a null",
    );
    assert_eq!(
        db.count("stage.FileControl WHERE Status = 'Completed'")
            .await,
        2,
        "{db}: both completed"
    );
}
