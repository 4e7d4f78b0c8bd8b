//! `stagehand dashboard --auth database`: basic-auth credentials are database logins,
//! their dashboard role the stage role they hold, on a non-loopback bind. The logins
//! have passwords the server checks (scripts/pg.sh sets the cluster up so).
#![cfg(unix)]

#[macro_use]
mod common;
mod web_support;

use base64::Engine as _;
use common::TestDb;
use stagehand::catalog;
use stagehand::schedule::parse_task;
use std::net::SocketAddr;
use web_support::{http, post_as, Server};

fn task_json(description: &str) -> String {
    format!(
        r#"{{"id": "quick", "command": "true", "description": "{description}", "timeZone": "UTC",
            "triggers": [{{"recurrence": "daily", "start": "2024-01-01T03:00:00"}}]}}"#
    )
}

fn basic(name: &str, password: &str) -> String {
    let pair = format!("{name}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn description(db: &TestDb) -> Option<String> {
    db.tasks()
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.record.task_name == "quick")
        .and_then(|t| t.record.description)
}

conformance!(database_logins_get_the_role_of_their_stage_role);
async fn database_logins_get_the_role_of_their_stage_role(db: &TestDb) {
    let task = parse_task(&task_json("before")).expect("a valid task");
    db.save_tasks(&[catalog::to_save(&task, chrono::Utc::now())])
        .await
        .expect("SaveTasks");
    let (reader, reader_pw) = db.password_login(&["stage_reader"]).await;
    let (submitter, submitter_pw) = db.password_login(&["stage_submitter"]).await;
    let (admin, admin_pw) = db.password_login(&["stage_admin"]).await;
    let (worker, worker_pw) = db.password_login(&["stage_worker"]).await;
    let (nobody, nobody_pw) = db.password_login(&[]).await;

    // Without any auth, a non-loopback bind is still refused.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["dashboard", "--listen", "0.0.0.0:0"])
        .env("STAGEHAND_DATABASE_URL", db.url())
        .output()
        .await
        .expect("run stagehand dashboard");
    assert!(!output.status.success(), "{db}: refused to start");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--auth database"),
        "{db}: names the option"
    );

    let server = Server::start(db.url(), "0.0.0.0:0", &["--auth", "database"]).await;
    let addr: SocketAddr = format!("127.0.0.1:{}", server.addr.port()).parse().unwrap();

    // No credentials, a wrong password, and a login that does not exist look alike.
    let none = http(addr, "GET", "/", &[], "").await;
    let wrong_auth = basic(&reader, "not-the-password");
    let wrong = http(addr, "GET", "/", &[("Authorization", &wrong_auth)], "").await;
    let ghost_auth = basic("sh_no_such_login", "whatever-it-is");
    let ghost = http(addr, "GET", "/", &[("Authorization", &ghost_auth)], "").await;
    for (what, response) in [
        ("no credentials", &none),
        ("a wrong password", &wrong),
        ("no such login", &ghost),
    ] {
        assert_eq!(response.status, 401, "{db}: {what}: {response:?}");
        assert!(
            response
                .header("www-authenticate")
                .is_some_and(|v| v.starts_with("Basic")),
            "{db}: {what}: a challenge"
        );
    }
    assert_eq!(
        wrong.body, ghost.body,
        "{db}: a wrong password and an unknown login get the same page"
    );

    // A valid login without a dashboard role is forbidden, not unauthorized.
    for (login, password) in [(&nobody, &nobody_pw), (&worker, &worker_pw)] {
        let credentials = basic(login, password);
        let page = http(addr, "GET", "/", &[("Authorization", &credentials)], "").await;
        assert_eq!(page.status, 403, "{db}: {login}: {page:?}");
        assert!(page.body.contains("stage_reader"), "{db}: {}", page.body);
    }

    // A reader sees but cannot run.
    let as_reader = basic(&reader, &reader_pw);
    let page = http(addr, "GET", "/tasks", &[("Authorization", &as_reader)], "").await;
    assert_eq!(page.status, 200, "{db}: a reader reads: {page:?}");
    assert!(page.body.contains("quick"), "{db}: the task is listed");
    let refused = post_as(addr, Some(&as_reader), "/tasks/quick/run", "").await;
    assert_eq!(
        refused.status, 403,
        "{db}: a reader cannot run: {refused:?}"
    );
    assert!(
        refused.body.contains("submitter role"),
        "{db}: {}",
        refused.body
    );
    assert_eq!(db.count("stage.FileControl").await, 0, "{db}: nothing run");

    // A submitter runs, but cannot edit.
    let as_submitter = basic(&submitter, &submitter_pw);
    let run = post_as(addr, Some(&as_submitter), "/tasks/quick/run", "").await;
    assert_eq!(run.status, 303, "{db}: a submitter runs: {run:?}");
    assert_eq!(db.count("stage.FileControl").await, 1, "{db}: one run");
    let edit = |json: String| {
        format!(
            "&json={}",
            url::form_urlencoded::byte_serialize(json.as_bytes()).collect::<String>()
        )
    };
    let denied = post_as(
        addr,
        Some(&as_submitter),
        "/tasks/quick/edit",
        &edit(task_json("by submitter")),
    )
    .await;
    assert_eq!(
        denied.status, 403,
        "{db}: a submitter cannot edit: {denied:?}"
    );
    assert_eq!(
        description(db).await.as_deref(),
        Some("before"),
        "{db}: unchanged"
    );

    // An admin edits.
    let as_admin = basic(&admin, &admin_pw);
    let edited = post_as(
        addr,
        Some(&as_admin),
        "/tasks/quick/edit",
        &edit(task_json("by admin")),
    )
    .await;
    assert_eq!(edited.status, 303, "{db}: an admin edits: {edited:?}");
    assert_eq!(
        description(db).await.as_deref(),
        Some("by admin"),
        "{db}: saved"
    );

    // A signed-in login is remembered briefly by a hash of its password: its role holds
    // after a revoke until the cache expires, but a wrong password is still refused.
    let revoke = match db.kind() {
        stagehand::store::BackendKind::Postgres => format!("REVOKE stage_reader FROM \"{reader}\""),
        stagehand::store::BackendKind::SqlServer => {
            format!("ALTER ROLE stage_reader DROP MEMBER [{reader}]")
        }
    };
    db.exec(&revoke).await;
    let cached = http(addr, "GET", "/", &[("Authorization", &as_reader)], "").await;
    assert_eq!(cached.status, 200, "{db}: remembered: {cached:?}");
    let wrong = http(addr, "GET", "/", &[("Authorization", &wrong_auth)], "").await;
    assert_eq!(
        wrong.status, 401,
        "{db}: a wrong password is not taken from the cache"
    );

    for page in [&run, &edited, &cached, &refused] {
        for secret in [&reader_pw, &submitter_pw, &admin_pw] {
            assert!(
                !page.body.contains(secret.as_str()),
                "{db}: no password in a page"
            );
        }
    }
}
