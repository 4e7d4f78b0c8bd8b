//! Notifications (V70..V78): settings read from stage.Task.Definition on save, rows
//! enqueued with the outcome (failure, success, the Nth failure in a row), missed runs
//! from FireTrigger, the lease of ClaimNotifications, retries and giving up in
//! CompleteNotification, the text of stage.PendingNotifications, and the roles.

#[macro_use]
mod common;

use common::{assert_invalid_argument, assert_permission_denied, Must, TestDb};
use stagehand::store::{
    Completion, FinalStatus, FireMode, NotificationClaim, NotificationOutcome, TaskRecord,
    TaskSave, TriggerSave,
};

const HOOK: &str = "http://127.0.0.1:9/hook";
const MAIL: &str = "ops@example.com";

/// Saves a driver task named `name` whose Definition holds `notify` (JSON text, or none).
async fn notify_task(db: &TestDb, name: &str, notify: Option<&str>) -> i32 {
    let definition = match notify {
        Some(notify) => format!(r#"{{"id":"{name}","notify":{notify}}}"#),
        None => format!(r#"{{"id":"{name}"}}"#),
    };
    let task = TaskRecord {
        definition: Some(definition),
        ..TaskRecord::new(name, "true")
    };
    db.save_task(&task).await.must(db, "SaveTask").task_id
}

/// Registers, claims and finishes one run of `name`; returns its id.
async fn run_once(db: &TestDb, name: &str, status: FinalStatus) -> i64 {
    let id = db.register_new(name).await;
    let claimed = db.claim_as("w1", 1).await;
    assert_eq!(claimed.len(), 1, "{db}: {claimed:?}");
    let mut completion = Completion::new(id, "w1", None, status);
    completion.exit_code = Some(if status == FinalStatus::Completed {
        0
    } else {
        3
    });
    completion.message = Some(format!("run of {name} ended {status:?}"));
    let done = db
        .complete(&[completion])
        .await
        .must(db, "CompleteProcesses");
    assert!(done[0].accepted, "{db}: {done:?}");
    id
}

/// `Event/Channel` of every notification of a task, in id order.
async fn events(db: &TestDb, name: &str) -> Vec<String> {
    let sql = format!(
        "SELECT NotificationID FROM stage.Notification WHERE TaskName = {} ORDER BY NotificationID",
        db.text(name)
    );
    let count = db
        .count(&format!(
            "stage.Notification WHERE TaskName = {}",
            db.text(name)
        ))
        .await;
    let mut found = Vec::new();
    for offset in 0..count {
        let event = db
            .query_i64(&format!(
                "SELECT CASE Event WHEN 'failure' THEN 1 WHEN 'success' THEN 2 WHEN 'missed' THEN 3 ELSE 4 END * 10 \
                 + CASE Channel WHEN 'webhook' THEN 1 ELSE 2 END FROM stage.Notification WHERE NotificationID = ({sql_nth})",
                sql_nth = nth(db, &sql, offset)
            ))
            .await
            .must(db, "read notification")
            .unwrap_or(0);
        let name = match event / 10 {
            1 => "failure",
            2 => "success",
            3 => "missed",
            _ => "consecutiveFailures",
        };
        let channel = if event % 10 == 1 { "webhook" } else { "email" };
        found.push(format!("{name}/{channel}"));
    }
    found
}

/// The `offset`-th value of a one-column query, as a scalar subquery.
fn nth(db: &TestDb, sql: &str, offset: i64) -> String {
    match db.kind() {
        stagehand::store::BackendKind::Postgres => format!("{sql} OFFSET {offset} LIMIT 1"),
        stagehand::store::BackendKind::SqlServer => {
            format!("{sql} OFFSET {offset} ROWS FETCH NEXT 1 ROWS ONLY")
        }
    }
}

fn claim<'a>(driver: &'a str, max_count: i32, lease_seconds: i32) -> NotificationClaim<'a> {
    NotificationClaim {
        driver_name: driver,
        max_count,
        lease_seconds,
        webhooks: true,
        emails: true,
    }
}

fn outcome<'a>(
    id: i64,
    driver: &'a str,
    attempt: i32,
    result: Result<(), &'a str>,
) -> NotificationOutcome<'a> {
    NotificationOutcome {
        notification_id: id,
        driver_name: driver,
        attempt,
        result,
        max_attempts: 2,
        retry_delay_seconds: 0,
    }
}

conformance!(outcomes_enqueue_what_the_settings_ask_for);
async fn outcomes_enqueue_what_the_settings_ask_for(db: &TestDb) {
    let both = format!(
        r#"{{"onFailure":true,"onSuccess":true,"webhooks":["{HOOK}"],"emails":["{MAIL}"]}}"#
    );
    notify_task(db, "both", Some(&both)).await;
    notify_task(db, "silent", None).await;
    let failure_only = format!(r#"{{"webhooks":["{HOOK}"]}}"#);
    notify_task(db, "default", Some(&failure_only)).await;

    let failed = run_once(db, "both", FinalStatus::Failed).await;
    run_once(db, "both", FinalStatus::Completed).await;
    run_once(db, "both", FinalStatus::Cancelled).await;
    run_once(db, "silent", FinalStatus::Failed).await;
    run_once(db, "default", FinalStatus::Completed).await;
    run_once(db, "default", FinalStatus::Failed).await;

    assert_eq!(
        events(db, "both").await,
        [
            "failure/email",
            "failure/webhook",
            "success/email",
            "success/webhook"
        ],
        "{db}"
    );
    assert!(events(db, "silent").await.is_empty(), "{db}");
    assert_eq!(events(db, "default").await, ["failure/webhook"], "{db}");
    let facts = db
        .count(&format!(
            "stage.Notification WHERE ProcessID = {failed} AND ProcessStatus = 'Failed' \
             AND ExitCode = 3 AND ProcessAttempt = 1 AND EndTime IS NOT NULL AND Status = 'Pending'"
        ))
        .await;
    assert_eq!(
        facts, 2,
        "{db}: the run's facts are kept with its notifications"
    );

    // The seed's completion statement and ResetStuckProcesses record outcomes too.
    let id = db.register_new("both").await;
    db.claim_as("w1", 1).await;
    db.exec(&db.seed_completion_sql(id)).await;
    let stuck = db.register_new("default").await;
    db.claim_as("w1", 1).await;
    db.exec(&format!(
        "UPDATE stage.FileControl SET LeaseExpiresAt = {} WHERE ProcessID = {stuck}",
        db.ago(1, common::Unit::Minute)
    ))
    .await;
    db.reset_stuck(60).await.must(db, "ResetStuckProcesses");
    assert_eq!(events(db, "both").await.len(), 6, "{db}");
    assert_eq!(
        events(db, "default").await,
        ["failure/webhook", "failure/webhook"],
        "{db}"
    );
}

conformance!(consecutive_failures_notify_on_the_nth_only);
async fn consecutive_failures_notify_on_the_nth_only(db: &TestDb) {
    let settings = format!(r#"{{"afterConsecutiveFailures":3,"webhooks":["{HOOK}"]}}"#);
    notify_task(db, "flaky", Some(&settings)).await;
    let mut counted = Vec::new();
    for status in [
        FinalStatus::Failed,
        FinalStatus::Failed,
        FinalStatus::Cancelled,
        FinalStatus::Failed, // third in a row (Cancelled neither counts nor resets)
        FinalStatus::Failed, // fourth: nothing
        FinalStatus::Completed,
        FinalStatus::Failed,
        FinalStatus::Failed,
        FinalStatus::Failed, // third again
    ] {
        run_once(db, "flaky", status).await;
        counted.push(events(db, "flaky").await.len());
    }
    assert_eq!(counted, [0, 0, 0, 1, 1, 1, 1, 1, 2], "{db}");
    let threes = db
        .count("stage.Notification WHERE Event = 'consecutiveFailures' AND ConsecutiveFailures = 3")
        .await;
    assert_eq!(threes, 2, "{db}");

    // Saving the task again keeps the count; dropping the setting resets it.
    notify_task(db, "flaky", Some(&settings)).await;
    run_once(db, "flaky", FinalStatus::Failed).await;
    assert_eq!(
        db.query_i64("SELECT ConsecutiveFailures FROM stage.TaskNotify")
            .await
            .must(db, "count"),
        Some(4),
        "{db}"
    );
}

conformance!(settings_follow_the_definition);
async fn settings_follow_the_definition(db: &TestDb) {
    let id = notify_task(
        db,
        "t",
        Some(&format!(r#"{{"onSuccess":true,"onFailure":false,"webhooks":["{HOOK}","{HOOK}"],"emails":["{MAIL}", 5, ""]}}"#)),
    )
    .await;
    assert_eq!(
        db.count(&format!(
            "stage.TaskNotify WHERE TaskID = {id} AND OnSuccess = {} AND OnFailure = {}",
            db.boolean(true),
            db.boolean(false)
        ))
        .await,
        1,
        "{db}"
    );
    assert_eq!(
        db.count("stage.TaskNotifyTarget").await,
        2,
        "{db}: distinct string targets only"
    );

    // No target, not an object, not JSON: no settings.
    for definition in [
        r#"{"notify":{"onFailure":true}}"#,
        r#"{"notify":[1]}"#,
        "not json",
    ] {
        db.exec(&format!(
            "UPDATE stage.Task SET Definition = {} WHERE TaskID = {id}",
            db.text(definition)
        ))
        .await;
        assert_eq!(db.count("stage.TaskNotify").await, 0, "{db}: {definition}");
        assert_eq!(
            db.count("stage.TaskNotifyTarget").await,
            0,
            "{db}: {definition}"
        );
    }
    // A hand edit takes effect; deleting the task removes the settings.
    db.exec(&format!(
        "UPDATE stage.Task SET Definition = {} WHERE TaskID = {id}",
        db.text(&format!(
            r#"{{"notify":{{"onMissed":true,"emails":["{MAIL}"]}}}}"#
        ))
    ))
    .await;
    assert_eq!(
        db.count(&format!(
            "stage.TaskNotify WHERE OnMissed = {} AND OnFailure = {}",
            db.boolean(true),
            db.boolean(true)
        ))
        .await,
        1,
        "{db}"
    );
    db.delete_task("t").await.must(db, "DeleteTask");
    assert_eq!(
        db.count("stage.TaskNotify").await + db.count("stage.TaskNotifyTarget").await,
        0,
        "{db}"
    );
}

conformance!(missed_occurrences_are_notified);
async fn missed_occurrences_are_notified(db: &TestDb) {
    let task = TaskSave {
        task: TaskRecord {
            definition: Some(format!(
                r#"{{"notify":{{"onMissed":true,"onFailure":false,"emails":["{MAIL}"]}}}}"#
            )),
            ..TaskRecord::new("nightly", "true")
        },
        triggers: vec![TriggerSave {
            trigger_index: 0,
            recurrence: "daily".into(),
            enabled: true,
            definition: r#"{"recurrence":"daily","start":"2024-01-01T02:00:00"}"#.into(),
            next_fire_at: None,
        }],
    };
    db.save_tasks(&[task]).await.must(db, "SaveTasks");
    let trigger = db.triggers().await.must(db, "triggers")[0].trigger_id;
    let at =
        |day: u32| chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2030, 1, day, 2, 0, 0).unwrap();

    db.fire_trigger(trigger, at(1), None, FireMode::Skip, 4)
        .await
        .must(db, "FireTrigger skip");
    // A run, then an occurrence refused because that run still goes (skip policy).
    let run = db
        .fire_trigger(trigger, at(2), None, FireMode::Run, 0)
        .await
        .must(db, "FireTrigger");
    assert_eq!(run.registered, Some(true), "{db}");
    let refused = db
        .fire_trigger(trigger, at(3), None, FireMode::Run, 0)
        .await
        .must(db, "FireTrigger");
    assert_eq!(refused.registered, Some(false), "{db}");

    assert_eq!(
        events(db, "nightly").await,
        ["missed/email", "missed/email"],
        "{db}"
    );
    let claimed = db
        .claim_notifications(&claim("d1", 10, 60))
        .await
        .must(db, "ClaimNotifications");
    assert_eq!(claimed.len(), 2, "{db}");
    assert_eq!(
        (claimed[0].missed_count, claimed[0].scheduled_for),
        (Some(4), Some(at(1))),
        "{db}"
    );
    assert_eq!(
        (claimed[1].missed_count, claimed[1].process_id),
        (Some(1), None),
        "{db}"
    );
    assert_eq!(
        claimed[0].subject, "[stagehand] nightly missed a run",
        "{db}"
    );
    assert_eq!(
        claimed[0].body,
        "Task: nightly\nEvent: missed\nScheduled for: 2030-01-01T02:00:00Z\nMissed occurrences: 4\n",
        "{db}"
    );
}

conformance!(claims_are_leased_retried_and_given_up);
async fn claims_are_leased_retried_and_given_up(db: &TestDb) {
    notify_task(
        db,
        "t",
        Some(&format!(r#"{{"webhooks":["{HOOK}"],"emails":["{MAIL}"]}}"#)),
    )
    .await;
    let process = run_once(db, "t", FinalStatus::Failed).await;

    // Channels: a Database Mail job takes only the emails.
    let mut emails_only = claim("dbmail", 10, 60);
    emails_only.webhooks = false;
    let email = db
        .claim_notifications(&emails_only)
        .await
        .must(db, "claim emails");
    assert_eq!(email.len(), 1, "{db}");
    assert_eq!(
        (
            email[0].channel.as_str(),
            email[0].attempt,
            email[0].status.as_str()
        ),
        ("email", 1, "Sending"),
        "{db}"
    );
    assert_eq!(
        email[0].message.as_deref(),
        Some("run of t ended Failed"),
        "{db}"
    );
    assert!(
        email[0].body.contains("Status: Failed, exit code 3\n"),
        "{db}: {}",
        email[0].body
    );
    let done = db
        .complete_notification(&outcome(email[0].notification_id, "dbmail", 1, Ok(())))
        .await
        .must(db, "complete");
    assert!(
        done.accepted && done.status.as_deref() == Some("Delivered"),
        "{db}: {done:?}"
    );

    // A lease: nobody else takes the webhook until it runs out; then the attempt counts.
    let first = db
        .claim_notifications(&claim("d1", 10, 1))
        .await
        .must(db, "claim");
    assert_eq!(first.len(), 1, "{db}");
    let id = first[0].notification_id;
    assert!(
        db.claim_notifications(&claim("d2", 10, 60))
            .await
            .must(db, "claim")
            .is_empty(),
        "{db}"
    );
    db.exec(&format!(
        "UPDATE stage.Notification SET NextAttemptAt = {} WHERE NotificationID = {id}",
        db.ago(1, common::Unit::Second)
    ))
    .await;
    let second = db
        .claim_notifications(&claim("d2", 10, 60))
        .await
        .must(db, "claim");
    assert_eq!(
        (
            second.len(),
            second[0].attempt,
            second[0].claimed_by.as_deref()
        ),
        (1, 2, Some("d2")),
        "{db}"
    );
    // The first claimer's report is refused; the current one's failure is final at 2 of 2.
    let stale = db
        .complete_notification(&outcome(id, "d1", 1, Ok(())))
        .await
        .must(db, "complete");
    assert!(
        !stale.accepted && stale.status.as_deref() == Some("Sending"),
        "{db}: {stale:?}"
    );
    let given_up = db
        .complete_notification(&outcome(id, "d2", 2, Err("HTTP 500")))
        .await
        .must(db, "complete");
    assert!(
        given_up.accepted && given_up.status.as_deref() == Some("Failed"),
        "{db}: {given_up:?}"
    );
    let logs = db.logs(process).await;
    let last = logs.last().expect("log rows");
    assert_eq!(
        last.message,
        format!("Notification {id} (failure, webhook) given up after 2 attempts: HTTP 500"),
        "{db}"
    );

    // A retry waits: RetryDelaySeconds * 2^(attempt-1).
    run_once(db, "t", FinalStatus::Failed).await;
    let next = db
        .claim_notifications(&claim("d1", 1, 60))
        .await
        .must(db, "claim");
    let mut retry = outcome(next[0].notification_id, "d1", 1, Err("timed out"));
    retry.retry_delay_seconds = 600;
    let pending = db.complete_notification(&retry).await.must(db, "complete");
    assert_eq!(pending.status.as_deref(), Some("Pending"), "{db}");
    let waits = db.count(&format!(
        "stage.Notification WHERE NotificationID = {} AND LastError = 'timed out' AND NextAttemptAt > {}",
        next[0].notification_id,
        db.ahead(590, common::Unit::Second)
    )).await;
    assert_eq!(waits, 1, "{db}");
    let missing = db
        .complete_notification(&outcome(999_999, "d1", 1, Ok(())))
        .await
        .must(db, "complete");
    assert_eq!((missing.accepted, missing.status), (false, None), "{db}");
}

conformance!(concurrent_claimers_never_share_a_notification);
async fn concurrent_claimers_never_share_a_notification(db: &TestDb) {
    notify_task(
        db,
        "t",
        Some(&format!(r#"{{"onSuccess":true,"webhooks":["{HOOK}"]}}"#)),
    )
    .await;
    for _ in 0..30 {
        run_once(db, "t", FinalStatus::Completed).await;
    }
    let claims = (0..6).map(|i| {
        let store = db.store();
        async move {
            let name = format!("d{i}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_notifications(&claim(&name, 3, 60))
                    .await
                    .expect("claim");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|n| n.notification_id));
            }
        }
    });
    let mut all: Vec<i64> = futures_util::future::join_all(claims).await.concat();
    all.sort_unstable();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (30, 30), "{db}");
}

conformance!(invalid_arguments_are_refused);
async fn invalid_arguments_are_refused(db: &TestDb) {
    let cases: [(NotificationClaim, &str); 4] = [
        (claim(" ", 1, 60), "DriverName must not be NULL or empty"),
        (claim("d", 0, 60), "MaxCount must be between 1 and 1000"),
        (claim("d", 1001, 60), "MaxCount must be between 1 and 1000"),
        (claim("d", 1, 0), "LeaseSeconds must be at least 1"),
    ];
    for (request, message) in cases {
        assert_invalid_argument(
            db,
            db.claim_notifications(&request).await,
            message,
            "ClaimNotifications",
        );
    }
    let long = "x".repeat(256);
    assert_invalid_argument(
        db,
        db.claim_notifications(&claim(&long, 1, 60)).await,
        "DriverName is longer than 255 characters",
        "ClaimNotifications",
    );
    let mut bad = outcome(1, "", 1, Ok(()));
    assert_invalid_argument(
        db,
        db.complete_notification(&bad).await,
        "DriverName must not be NULL or empty",
        "CompleteNotification",
    );
    bad.driver_name = "d";
    bad.max_attempts = 0;
    assert_invalid_argument(
        db,
        db.complete_notification(&bad).await,
        "MaxAttempts must be between 1 and 100",
        "CompleteNotification",
    );
    bad.max_attempts = 1;
    bad.retry_delay_seconds = -1;
    assert_invalid_argument(
        db,
        db.complete_notification(&bad).await,
        "RetryDelaySeconds must be between 0 and 86400",
        "CompleteNotification",
    );
    let yes = db.boolean(true);
    for (args, message) in [
        (["NULL", "'d'", "1", yes], "NotificationID must not be NULL"),
        (["1", "'d'", "NULL", yes], "Attempt must not be NULL"),
        (["1", "'d'", "1", "NULL"], "Delivered must not be NULL"),
    ] {
        let sql = db.call_sql("CompleteNotification", &args);
        let result = db.execute_sql(&sql).await;
        match result {
            Err(error) => assert!(error.to_string().contains(message), "{db}: {sql}: {error}"),
            Ok(_) => panic!("{db}: {sql} was accepted"),
        }
    }
}

conformance!(old_finished_notifications_are_purged);
async fn old_finished_notifications_are_purged(db: &TestDb) {
    // Three old finished rows, an old outstanding one, a recent finished one.
    for (status, created) in [
        ("Delivered", Some("2020-01-01T00:00:00")),
        ("Failed", Some("2020-01-02T00:00:00")),
        ("Delivered", Some("2020-01-03T00:00:00")),
        ("Pending", Some("2020-01-01T00:00:00")),
        ("Delivered", None),
    ] {
        let created = created.map_or_else(|| "DEFAULT".to_string(), |at| db.text(at));
        db.exec(&format!(
            "INSERT INTO stage.Notification (TaskName, Event, Channel, Target, Status, CreatedAt) \
             VALUES ('t', 'failure', 'webhook', '{HOOK}', '{status}', {created})"
        ))
        .await;
    }
    let first = db
        .purge_notifications(6, 2)
        .await
        .must(db, "PurgeNotifications");
    assert_eq!((first.deleted, first.done), (2, false), "{db}: {first:?}");
    let second = db
        .purge_notifications(6, 2)
        .await
        .must(db, "PurgeNotifications");
    assert_eq!((second.deleted, second.done), (1, true), "{db}: {second:?}");
    assert_eq!(
        db.count("stage.Notification WHERE Status = 'Pending'")
            .await,
        1,
        "{db}: an outstanding notification is never purged, however old"
    );
    assert_eq!(
        db.count("stage.Notification WHERE Status = 'Delivered'")
            .await,
        1,
        "{db}: a recent one stays"
    );
    for (months, batch, message) in [
        (-1, 10, "RetentionMonths must be 0 or more"),
        (6, 0, "BatchSize must be between 1 and 4000"),
        (6, 4001, "BatchSize must be between 1 and 4000"),
    ] {
        assert_invalid_argument(
            db,
            db.purge_notifications(months, batch).await,
            message,
            "PurgeNotifications",
        );
    }
}

conformance!(roles_deliver_and_read_notifications);
async fn roles_deliver_and_read_notifications(db: &TestDb) {
    notify_task(db, "t", Some(&format!(r#"{{"webhooks":["{HOOK}"]}}"#))).await;
    run_once(db, "t", FinalStatus::Failed).await;
    let submitter = db.connect_as("stage_submitter").await;
    assert_permission_denied(
        db,
        submitter.claim_notifications(&claim("s", 1, 60)).await,
        "stage_submitter",
        "ClaimNotifications",
    );
    let worker = db.connect_as("stage_worker").await;
    let claimed = worker
        .claim_notifications(&claim("w", 1, 60))
        .await
        .must(db, "worker claims");
    assert_eq!(claimed.len(), 1, "{db}");
    let done = worker
        .complete_notification(&outcome(claimed[0].notification_id, "w", 1, Ok(())))
        .await
        .must(db, "worker completes");
    assert!(done.accepted, "{db}");
    let reader = db.connect_as("stage_reader").await;
    let seen = reader
        .query_i64("SELECT COUNT(*) FROM stage.Notification WHERE Status = 'Delivered'")
        .await
        .must(db, "reader reads");
    assert_eq!(seen, Some(1), "{db}");
    reader
        .query_i64("SELECT COUNT(*) FROM stage.PendingNotifications")
        .await
        .must(db, "reader reads the view");
    assert_permission_denied(
        db,
        reader.claim_notifications(&claim("r", 1, 60)).await,
        "stage_reader",
        "ClaimNotifications",
    );
}
