//! Notifications delivered by a real driver: a webhook receiver and an SMTP sink on
//! loopback in the test get the failure of a failing task; a receiver that answers 500
//! first shows the retry; a driver killed in the middle of a delivery leaves it to the
//! next driver; after-N-consecutive-failures sends on the Nth run only; invalid notify
//! settings are refused by `task add` with their paths and nothing is saved.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use axum::extract::State;
use axum::http::StatusCode;
use common::{Must, TestDb};
use driver_support::{wait_final, Driver};
use serde_json::Value;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(30);

/// What the receiver answers to each POST in turn (the last one from then on).
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// Never answers (the driver is killed meanwhile).
    Hang,
}

#[derive(Clone)]
struct Receiver {
    bodies: Arc<Mutex<Vec<Value>>>,
    answers: Arc<Vec<Answer>>,
}

impl Receiver {
    /// Serves POST /hook on a free loopback port; returns the receiver and its URL.
    async fn start(answers: Vec<Answer>) -> (Receiver, String) {
        let receiver = Receiver {
            bodies: Arc::default(),
            answers: Arc::new(answers),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(receiver.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits until `count` POSTs arrived; returns them.
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        wait_until(
            || (self.bodies().len() >= count).then(|| self.bodies()),
            "webhook POSTs",
        )
        .await
    }
}

async fn hook(State(receiver): State<Receiver>, axum::Json(body): axum::Json<Value>) -> StatusCode {
    let answer = {
        let mut bodies = receiver.bodies.lock().unwrap();
        bodies.push(body);
        let index = (bodies.len() - 1).min(receiver.answers.len() - 1);
        receiver.answers[index]
    };
    match answer {
        Answer::Status(code) => StatusCode::from_u16(code).expect("status"),
        Answer::Hang => std::future::pending().await,
    }
}

/// One message the sink took: its RCPT lines and its DATA.
type Mail = (Vec<String>, String);

/// A minimal SMTP server on loopback that keeps every message's DATA.
#[derive(Clone, Default)]
struct SmtpSink {
    messages: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    async fn start() -> (SmtpSink, u16) {
        let sink = SmtpSink::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let kept = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(kept.clone().session(stream));
            }
        });
        (sink, port)
    }

    async fn session(self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink ESMTP\r\n").await?;
        let mut recipients = Vec::new();
        while let Some(line) = lines.next_line().await? {
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 sink\r\n",
                "RCPT" => {
                    recipients.push(line.clone());
                    b"250 ok\r\n"
                }
                "DATA" => {
                    write.write_all(b"354 go on\r\n").await?;
                    let mut data = String::new();
                    while let Some(line) = lines.next_line().await? {
                        if line == "." {
                            break;
                        }
                        data.push_str(&line);
                        data.push('\n');
                    }
                    self.messages
                        .lock()
                        .unwrap()
                        .push((std::mem::take(&mut recipients), data));
                    b"250 queued\r\n"
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => b"250 ok\r\n",
            };
            write.write_all(reply).await?;
        }
        Ok(())
    }

    fn messages(&self) -> Vec<Mail> {
        self.messages.lock().unwrap().clone()
    }
}

/// Polls `found` until it gives a value; panics naming `what` after [`LIMIT`].
async fn wait_until<T>(mut found: impl FnMut() -> Option<T>, what: &str) -> T {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls a count of the database until it is `expected`.
async fn wait_count(db: &TestDb, from_where: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let count = db.count(from_where).await;
        if count == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: {from_where}: {count}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn stagehand(db: &TestDb, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env("STAGEHAND_DATABASE_URL", db.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run stagehand");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for stagehand")
}

/// Adds a task through `stagehand task add` (the validator's path) with `notify`.
fn add_task(db: &TestDb, id: &str, command: &str, notify: Value) {
    let task = serde_json::json!({
        "id": id,
        "command": command,
        "timeZone": "UTC",
        "notify": notify,
        "triggers": [{"recurrence": "once", "start": "2099-01-01T00:00:00"}],
    });
    let added = stagehand(db, &["task", "add", "-"], &task.to_string());
    assert!(
        added.status.success(),
        "{db}: task add: {}",
        String::from_utf8_lossy(&added.stderr)
    );
}

/// Runs the task now and waits for the run to finish; returns its id.
async fn run_now(db: &TestDb, id: &str) -> i64 {
    let run = db.run_task_now(id, false).await.must(db, "RunTaskNow");
    wait_final(&**db, run.process_id, LIMIT).await;
    run.process_id
}

fn notify_flags(extra: &[&str]) -> Vec<String> {
    let mut flags = vec![
        "--notify-poll-ms".to_string(),
        "100".to_string(),
        "--notify-retry-seconds".into(),
        "0".into(),
    ];
    flags.extend(extra.iter().map(|s| s.to_string()));
    flags
}

fn start(db: &TestDb, name: &str, flags: &[String]) -> Driver {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Driver::start(db.url(), name, 2, &flags)
}

conformance!(a_failure_reaches_the_webhook_and_the_mailbox);
async fn a_failure_reaches_the_webhook_and_the_mailbox(db: &TestDb) {
    let (receiver, url) = Receiver::start(vec![Answer::Status(200)]).await;
    let (sink, port) = SmtpSink::start().await;
    add_task(
        db,
        "nightly-load",
        "echo loading; echo 'disk full' >&2; exit 3",
        serde_json::json!({"webhooks": [url], "emails": ["ops@example.com"]}),
    );
    let smtp = format!("127.0.0.1:{port}");
    let flags = notify_flags(&[
        "--smtp-server",
        &smtp,
        "--smtp-tls",
        "none",
        "--smtp-from",
        "stagehand@example.com",
    ]);
    let _driver = start(db, "notify-a", &flags);
    let process = run_now(db, "nightly-load").await;

    let body = receiver.wait_for(1).await.remove(0);
    assert_eq!(body["event"], "failure", "{db}: {body}");
    assert_eq!(body["task"], "nightly-load", "{db}: {body}");
    assert_eq!(body["processId"], process, "{db}: {body}");
    assert_eq!(body["status"], "Failed", "{db}: {body}");
    assert_eq!(body["exitCode"], 3, "{db}: {body}");
    assert_eq!(body["attempt"], 1, "{db}: {body}");
    assert_eq!(body["deliveryAttempt"], 1, "{db}: {body}");
    assert!(
        body["startedAt"].is_string() && body["endedAt"].is_string(),
        "{db}: {body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{db}: {body}"
    );
    assert!(
        !body.to_string().contains(db.url()),
        "{db}: the payload holds the connection string"
    );

    let (recipients, data) = wait_until(|| sink.messages().into_iter().next(), "email").await;
    assert!(
        recipients.iter().any(|r| r.contains("ops@example.com")),
        "{db}: {recipients:?}"
    );
    assert!(
        data.contains("Subject: [stagehand] nightly-load failed"),
        "{db}: {data}"
    );
    assert!(
        data.contains(&format!("Process: {process}, attempt 1")),
        "{db}: {data}"
    );
    assert!(
        !data.contains(db.url()),
        "{db}: the email holds the connection string"
    );
    wait_count(db, "stage.Notification WHERE Status = 'Delivered'", 2).await;
}

conformance!(a_webhook_that_answers_500_is_retried);
async fn a_webhook_that_answers_500_is_retried(db: &TestDb) {
    let (receiver, url) = Receiver::start(vec![Answer::Status(500), Answer::Status(200)]).await;
    add_task(
        db,
        "flaky-hook",
        "exit 1",
        serde_json::json!({"webhooks": [url]}),
    );
    let _driver = start(db, "notify-b", &notify_flags(&[]));
    run_now(db, "flaky-hook").await;
    let bodies = receiver.wait_for(2).await;
    let attempts: Vec<&Value> = bodies.iter().map(|b| &b["deliveryAttempt"]).collect();
    assert_eq!(attempts, [1, 2], "{db}");
    wait_count(
        db,
        "stage.Notification WHERE Status = 'Delivered' AND Attempt = 2 AND DeliveredAt IS NOT NULL",
        1,
    )
    .await;
}

conformance!(a_driver_killed_mid_delivery_leaves_it_to_the_next);
async fn a_driver_killed_mid_delivery_leaves_it_to_the_next(db: &TestDb) {
    let (receiver, url) = Receiver::start(vec![Answer::Hang, Answer::Status(200)]).await;
    add_task(
        db,
        "killed-hook",
        "exit 1",
        serde_json::json!({"webhooks": [url]}),
    );
    let mut first = start(
        db,
        "notify-c1",
        &notify_flags(&["--notify-timeout-seconds", "600"]),
    );
    run_now(db, "killed-hook").await;
    receiver.wait_for(1).await;
    first.child.kill().await.expect("kill the driver");
    assert_eq!(
        db.count("stage.Notification WHERE Status = 'Sending' AND Attempt = 1")
            .await,
        1,
        "{db}"
    );

    // The row outlives the driver: the next one delivers it once the lease (3 s) ends.
    let _second = start(db, "notify-c2", &notify_flags(&[]));
    let bodies = receiver.wait_for(2).await;
    assert_eq!(bodies[1]["deliveryAttempt"], 2, "{db}");
    assert_eq!(
        bodies[0]["notificationId"], bodies[1]["notificationId"],
        "{db}"
    );
    wait_count(
        db,
        "stage.Notification WHERE Status = 'Delivered' AND ClaimedBy LIKE '%notify-c2'",
        1,
    )
    .await;
}

conformance!(consecutive_failures_notify_on_the_nth_run_only);
async fn consecutive_failures_notify_on_the_nth_run_only(db: &TestDb) {
    let (receiver, url) = Receiver::start(vec![Answer::Status(200)]).await;
    add_task(
        db,
        "streak",
        "exit 2",
        serde_json::json!({"afterConsecutiveFailures": 2, "webhooks": [url]}),
    );
    let _driver = start(db, "notify-d", &notify_flags(&[]));
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(run_now(db, "streak").await);
    }
    wait_count(db, "stage.Notification WHERE Status = 'Delivered'", 1).await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{db}: {bodies:?}");
    assert_eq!(bodies[0]["event"], "consecutiveFailures", "{db}");
    assert_eq!(bodies[0]["consecutiveFailures"], 2, "{db}");
    assert_eq!(
        bodies[0]["processId"], runs[1],
        "{db}: the second failure in a row"
    );
    assert_eq!(db.count("stage.Notification").await, 1, "{db}");
}

conformance!(invalid_notify_settings_are_refused_with_their_paths);
async fn invalid_notify_settings_are_refused_with_their_paths(db: &TestDb) {
    let task = serde_json::json!({
        "id": "bad-notify",
        "command": "true",
        "timeZone": "UTC",
        "notify": {
            "onFailure": true,
            "afterConsecutiveFailures": 0,
            "webhooks": ["ftp://example.com/x", "not a url"],
            "emails": ["ops at example.com"],
            "onSucess": true
        },
        "triggers": [{"recurrence": "once", "start": "2099-01-01T00:00:00"}],
    });
    let added = stagehand(db, &["task", "add", "-"], &task.to_string());
    let stderr = String::from_utf8_lossy(&added.stderr);
    assert!(!added.status.success(), "{db}: accepted: {stderr}");
    for path in [
        "notify.afterConsecutiveFailures: must be a whole number from 1 to 1000",
        "notify.webhooks[0]: \"ftp://example.com/x\" is not an http or https URL",
        "notify.webhooks[1]:",
        "notify.emails[0]:",
        "notify.onSucess: unknown field",
    ] {
        assert!(stderr.contains(path), "{db}: no {path:?} in {stderr}");
    }
    let nothing = serde_json::json!({"id": "no-target", "command": "true", "timeZone": "UTC",
        "notify": {"onFailure": false},
        "triggers": [{"recurrence": "once", "start": "2099-01-01T00:00:00"}]});
    let added = stagehand(db, &["task", "add", "-"], &nothing.to_string());
    let stderr = String::from_utf8_lossy(&added.stderr);
    assert!(
        stderr.contains("notify: notifies of nothing") && stderr.contains("notify: has no target"),
        "{db}: {stderr}"
    );
    assert_eq!(db.count("stage.Task").await, 0, "{db}: nothing is saved");
    assert_eq!(db.count("stage.TaskNotify").await, 0, "{db}");

    // A valid one round-trips through `task show`, with every flag written out.
    add_task(
        db,
        "good",
        "true",
        serde_json::json!({"onMissed": true, "emails": ["ops@example.com"]}),
    );
    let shown = stagehand(db, &["task", "show", "good"], "");
    let json: Value = serde_json::from_slice(&shown.stdout).expect("task show prints JSON");
    assert_eq!(
        json["notify"],
        serde_json::json!({"onFailure": true, "onSuccess": false, "onMissed": true, "emails": ["ops@example.com"]}),
        "{db}"
    );
}
