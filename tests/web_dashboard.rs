//! The web dashboard in a real browser (Debian's Chromium through chromedriver) against
//! a test database with a running driver, plus plain HTTP checks of its security and of
//! `/metrics` served by `stagehand run --dashboard`.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;
mod web_support;

use base64::Engine as _;
use common::TestDb;
use driver_support::{wait_final, wait_for, Driver};
use fantoccini::{elements::Element, Locator};
use stagehand::catalog;
use stagehand::schedule::parse_task;
use stagehand::store::{Backend, LogLevel, ProcessStatus};
use std::time::Duration;
use web_support::{free_port, http, http_from, post_as, session, Browser, Server};

const LIMIT: Duration = Duration::from_secs(60);

/// A task with a daily trigger (the driver runs with --no-clock, so only the test
/// starts runs).
fn task_json(id: &str, command: &str, max_attempts: u32) -> String {
    format!(
        r#"{{"id": "{id}", "command": "{command}", "maxAttempts": {max_attempts}, "timeZone": "Europe/Berlin",
            "triggers": [{{"recurrence": "daily", "start": "2024-01-01T03:00:00"}}]}}"#
    )
}

async fn save(db: &dyn Backend, json: &str) {
    let task = parse_task(json).expect("a valid test task");
    db.save_tasks(&[catalog::to_save(&task, chrono::Utc::now())])
        .await
        .expect("SaveTasks");
}

/// Polls `probe` until it gives a value (Ok), for at most LIMIT; Err says what it saw.
async fn eventually<T, Fut>(what: &str, mut probe: impl FnMut() -> Fut) -> T
where
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) if tokio::time::Instant::now() > deadline => {
                panic!("{what} within {LIMIT:?}; it shows {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn wait_text(browser: &Browser, css: &str, done: impl Fn(&str) -> bool) -> String {
    eventually(&format!("{css} did not show what was expected"), || async {
        let text = match browser.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if done(&text) {
            Ok(text)
        } else {
            Err(format!("{text:?}"))
        }
    })
    .await
}

/// The page's URL once its path starts with `prefix` (a click's navigation may not
/// have ended when the click returns).
async fn wait_path(browser: &Browser, prefix: &str) -> url::Url {
    eventually(&format!("no page under {prefix}"), || async {
        let url = browser
            .client
            .current_url()
            .await
            .map_err(|e| e.to_string())?;
        if url.path().starts_with(prefix) {
            Ok(url)
        } else {
            Err(url.to_string())
        }
    })
    .await
}

async fn find(browser: &Browser, css: &str) -> Element {
    browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

conformance!(the_dashboard_shows_and_steers_the_queue_in_a_browser);
async fn the_dashboard_shows_and_steers_the_queue_in_a_browser(db: &TestDb) {
    save(&**db, &task_json("quick", "echo quick output", 1)).await;
    save(&**db, &task_json("broken", "echo about to fail; exit 3", 1)).await;
    save(&**db, &task_json("slow", "sleep 3", 1)).await;
    save(&**db, &task_json("blocker", "sleep 4", 1)).await;
    let _driver = Driver::start(db.url(), "web", 1, &["--no-clock"]);
    let server = Server::start(db.url(), "127.0.0.1:0", &[]).await;
    let base = server.base();

    let broken = db.register_new("broken").await;
    let quick = db.register_new("quick").await;
    assert_eq!(
        wait_final(&**db, broken, LIMIT).await.status,
        ProcessStatus::Failed
    );
    assert_eq!(
        wait_final(&**db, quick, LIMIT).await.status,
        ProcessStatus::Completed
    );

    let browser = Browser::start().await;
    let b = &browser.client;

    // The overview shows the counts the database has (nothing runs now).
    b.goto(&format!("{base}/")).await.expect("overview");
    let summary = db.status_summary().await.expect("status summary");
    assert!(!summary.is_empty(), "{db}: the database has processes");
    for count in &summary {
        let card = find(
            &browser,
            &format!("#status-counts [data-status='{}'] .count", count.status),
        )
        .await;
        assert_eq!(
            card.text().await.expect("card text"),
            count.process_count.to_string(),
            "{db}: the overview's {} count",
            count.status
        );
    }
    let cards = b
        .find_all(Locator::Css("#status-counts .card"))
        .await
        .expect("cards");
    assert_eq!(cards.len(), summary.len(), "{db}: one card per status");
    wait_text(&browser, "main", |t| t.contains("Live drivers (1)")).await;
    browser.screenshot("overview").await;

    // Run now: the only worker is busy, so the run waits Pending, then runs, then ends;
    // the process page follows it without a reload.
    let blocker = db.register_new("blocker").await;
    wait_for(&**db, blocker, LIMIT, |r| {
        r.status == ProcessStatus::InProgress
    })
    .await;
    b.goto(&format!("{base}/tasks")).await.expect("tasks");
    browser.screenshot("tasks").await;
    find(
        &browser,
        "tr[data-task='slow'] form[action='/tasks/slow/run'] button",
    )
    .await
    .click()
    .await
    .expect("run now");
    // Run now shows the new process.
    let url = wait_path(&browser, "/processes/").await;
    let slow: i64 = url.path()["/processes/".len()..]
        .parse()
        .expect("a process id");
    b.execute("window.stagehandMarker = 'same page';", vec![])
        .await
        .expect("mark the page");
    let history = wait_text(&browser, "#status-history", |t| t.contains("Completed")).await;
    let seen: Vec<&str> = history.lines().map(str::trim).collect();
    assert_eq!(
        seen,
        ["Pending", "InProgress", "Completed"],
        "{db}: the status changes the page saw"
    );
    let marker = b
        .execute("return window.stagehandMarker || null;", vec![])
        .await
        .expect("read the mark");
    assert_eq!(
        marker,
        serde_json::json!("same page"),
        "{db}: no reload happened"
    );
    assert_eq!(db.row(slow).await.status, ProcessStatus::Completed);
    b.goto(&format!("{base}/processes/{quick}"))
        .await
        .expect("process page");
    wait_text(&browser, "#process-log", |t| t.contains("quick output")).await;
    browser.screenshot("process").await;

    // A retried failure appears as a new process, and live on the processes page.
    b.goto(&format!("{base}/processes?task=broken"))
        .await
        .expect("processes");
    b.goto(&format!("{base}/failed")).await.expect("failed");
    browser.screenshot("failed").await;
    find(
        &browser,
        &format!("#failed tr[data-process='{broken}'] button"),
    )
    .await
    .click()
    .await
    .expect("retry");
    let notice = wait_text(&browser, ".notice", |t| t.contains("registered again")).await;
    let retried: i64 = notice
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{db}: the notice names the new process: {notice:?}"));
    assert_eq!(
        db.row(retried).await.process_name,
        "broken",
        "{db}: the retry is a run of broken"
    );
    b.goto(&format!("{base}/processes?task=broken"))
        .await
        .expect("processes");
    wait_text(&browser, "#process-rows", |t| {
        t.contains(&retried.to_string())
    })
    .await;
    wait_final(&**db, retried, LIMIT).await;
    browser.screenshot("processes").await;

    // An invalid edit shows the CLI's path-level errors and changes nothing.
    let version = db.schedule_version().await.expect("schedule version");
    let before = db.tasks().await.expect("tasks");
    b.goto(&format!("{base}/tasks/quick"))
        .await
        .expect("task page");
    wait_text(&browser, "#next-fires", |t| t.lines().count() == 10).await;
    browser.screenshot("task").await;
    b.goto(&format!("{base}/tasks/quick/edit"))
        .await
        .expect("edit page");
    let invalid = r#"{"id": "quick", "command": "", "maxAttempts": 0,
        "triggers": [{"recurrence": "weekly", "start": "2024-13-01T03:00:00"}]}"#;
    let expected: Vec<String> = parse_task(invalid)
        .expect_err("the edit is invalid")
        .errors()
        .iter()
        .map(|e| format!("{}: {}", e.path, e.message))
        .collect();
    assert!(expected.len() >= 3, "{db}: several mistakes: {expected:?}");
    b.execute(
        "document.querySelector('textarea[name=json]').value = arguments[0];",
        vec![serde_json::json!(invalid)],
    )
    .await
    .expect("type the JSON");
    find(&browser, "#save").await.click().await.expect("save");
    let shown = wait_text(&browser, "#errors", |t| !t.is_empty()).await;
    let shown: Vec<&str> = shown.lines().map(str::trim).collect();
    assert_eq!(
        shown, expected,
        "{db}: the errors the CLI gives, path by path"
    );
    browser.screenshot("edit-errors").await;
    assert_eq!(
        db.schedule_version().await.expect("schedule version"),
        version,
        "{db}: nothing was written"
    );
    assert_eq!(
        db.tasks().await.expect("tasks"),
        before,
        "{db}: the tasks are unchanged"
    );

    // The drivers page lists the running driver.
    b.goto(&format!("{base}/drivers")).await.expect("drivers");
    wait_text(&browser, "#drivers", |t| t.contains("/web")).await;
    browser.screenshot("drivers").await;
    browser.close().await;

    // A POST without the CSRF token is refused, even from this origin, and does nothing.
    let pending_before = db.status_summary().await.expect("summary");
    let origin = base.clone();
    let refused = http(
        server.addr,
        "POST",
        "/tasks/quick/run",
        &[
            ("Origin", &origin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "",
    )
    .await;
    assert_eq!(refused.status, 403, "{db}: {refused:?}");
    assert!(
        refused.body.contains("CSRF"),
        "{db}: says why: {}",
        refused.body
    );
    // A right token from another origin is refused too.
    let (cookie, token) = session(server.addr, &[]).await;
    let foreign = http(
        server.addr,
        "POST",
        "/tasks/quick/run",
        &[
            ("Origin", "http://evil.example"),
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(foreign.status, 403, "{db}: {foreign:?}");
    assert_eq!(
        db.status_summary().await.expect("summary"),
        pending_before,
        "{db}: no run was registered"
    );
    // The same token from this origin works (so the refusals were for the token and origin).
    let accepted = http(
        server.addr,
        "POST",
        "/tasks/quick/run",
        &[
            ("Origin", &origin),
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(accepted.status, 303, "{db}: {accepted:?}");
}

conformance!(the_minimum_log_level_is_shown_and_set_in_a_browser);
async fn the_minimum_log_level_is_shown_and_set_in_a_browser(db: &TestDb) {
    save(&**db, &task_json("plain", "true", 1)).await;
    let quiet = task_json("quiet", "true", 1).replacen('{', r#"{"minLogLevel": "Warning", "#, 1);
    save(&**db, &quiet).await;
    let server = Server::start(db.url(), "127.0.0.1:0", &[]).await;
    let base = server.base();
    let browser = Browser::start().await;
    let b = &browser.client;

    b.goto(&format!("{base}/")).await.expect("overview");
    wait_text(&browser, "#log-level", |t| {
        t == "Minimum log level: Info (rows below it are not written to stage.ProcessLog)"
    })
    .await;
    let own = wait_text(&browser, "#task-log-levels", |t| t.contains("quiet")).await;
    assert!(
        own.contains("quiet Warning") && !own.contains("plain"),
        "{db}: only the task with its own level, with it: {own:?}"
    );
    b.execute(
        "document.querySelector('#set-log-level select').value = 'Error';",
        vec![],
    )
    .await
    .expect("choose Error");
    find(&browser, "#set-log-level button")
        .await
        .click()
        .await
        .expect("set");
    wait_text(&browser, ".notice", |t| {
        t.contains("minimum log level: Error (was Info)")
    })
    .await;
    assert_eq!(
        db.log_levels().await.expect("log levels").database,
        LogLevel::Error,
        "{db}: the database's level changed"
    );
    wait_text(&browser, "#log-level", |t| t.contains("level: Error")).await;
    b.execute(
        "document.querySelector('#log-level').scrollIntoView();",
        vec![],
    )
    .await
    .expect("scroll to the section");
    browser.screenshot("log-level").await;

    b.goto(&format!("{base}/tasks/plain")).await.expect("plain");
    wait_text(&browser, "#task-log-level", |t| {
        t == "Log level: Error (the database's)"
    })
    .await;
    b.goto(&format!("{base}/tasks/quiet")).await.expect("quiet");
    wait_text(&browser, "#task-log-level", |t| {
        t == "Log level: Warning (its own minLogLevel)"
    })
    .await;
    browser.close().await;

    // A level that is not one is refused, naming the field, and changes nothing.
    let refused = post_as(server.addr, None, "/log-level", "&level=Loud").await;
    assert_eq!(refused.status, 400, "{db}: {refused:?}");
    assert!(
        refused.body.contains("level: unknown log level") && refused.body.contains("Loud"),
        "{db}: names the field: {}",
        refused.body
    );
    assert_eq!(
        db.log_levels().await.expect("log levels").database,
        LogLevel::Error,
        "{db}: unchanged"
    );
}

conformance!(a_non_loopback_dashboard_requires_authentication);
async fn a_non_loopback_dashboard_requires_authentication(db: &TestDb) {
    save(&**db, &task_json("quick", "true", 1)).await;
    // Without credentials it does not start at all.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["dashboard", "--listen", "0.0.0.0:0"])
        .env("STAGEHAND_DATABASE_URL", db.url())
        .output()
        .await
        .expect("run stagehand dashboard");
    assert!(!output.status.success(), "{db}: refused to start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("without authentication"),
        "{db}: says why: {stderr}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let token = "a-long-enough-admin-token-1234";
    std::fs::write(dir.path().join("token"), format!("{token}\n")).unwrap();
    std::fs::write(
        dir.path().join("users"),
        "rita:reader:read-only-pw\nsam:submitter:submit-pw\n",
    )
    .unwrap();
    let token_file = dir.path().join("token").display().to_string();
    let users_file = dir.path().join("users").display().to_string();
    let server = Server::start(
        db.url(),
        "0.0.0.0:0",
        &[
            "--auth-token-file",
            &token_file,
            "--users-file",
            &users_file,
        ],
    )
    .await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", server.addr.port()).parse().unwrap();
    for path in ["/", "/tasks", "/metrics", "/live/processes"] {
        let response = http(addr, "GET", path, &[], "").await;
        assert_eq!(
            response.status, 401,
            "{db}: {path} without credentials: {response:?}"
        );
        assert!(response
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic")));
    }
    // `run --dashboard` on a non-loopback address without credentials refuses too.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["run", "--workers", "1", "--dashboard", "0.0.0.0:0"])
        .env("STAGEHAND_DATABASE_URL", db.url())
        .output()
        .await
        .expect("run stagehand run");
    assert!(
        !output.status.success(),
        "{db}: the driver refused to start"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("without authentication"),
        "{db}: says why: {stderr}"
    );
    assert!(
        db.drivers().await.unwrap().is_empty(),
        "{db}: no driver started"
    );

    let wrong = http(
        addr,
        "GET",
        "/",
        &[("Authorization", "Bearer not-the-token")],
        "",
    )
    .await;
    assert_eq!(wrong.status, 401, "{db}: a wrong token");
    let bearer = format!("Bearer {token}");
    let ok = http(addr, "GET", "/", &[("Authorization", &bearer)], "").await;
    assert_eq!(ok.status, 200, "{db}: the token: {ok:?}");
    assert!(
        !ok.body.contains(db.url()),
        "{db}: no connection string in a page"
    );
    // What the database holds is shown as text, never as markup.
    let hostile = db
        .register("quick", Some(r#"{"x": "<script>alert(1)</script>"}"#), None)
        .await
        .expect("register");
    let path = format!("/processes/{}", hostile.process_id);
    let page = http(addr, "GET", &path, &[("Authorization", &bearer)], "").await;
    assert_eq!(page.status, 200, "{db}: {page:?}");
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !page.body.contains("<script>alert"),
        "{db}: parameters are escaped: {}",
        page.body
    );
    db.exec("DELETE FROM stage.FileControl").await;

    // A reader sees but cannot run; a submitter can.
    use base64::Engine as _;
    let basic = |pair: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let post_as = |credentials: String, path: &'static str, fields: &'static str| async move {
        post_as(addr, Some(&credentials), path, fields).await
    };
    let reader = post_as(basic("rita:read-only-pw"), "/tasks/quick/run", "").await;
    assert_eq!(reader.status, 403, "{db}: a reader cannot run: {reader:?}");
    assert!(
        reader.body.contains("submitter role"),
        "{db}: {}",
        reader.body
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        0,
        "{db}: nothing registered"
    );
    let submitter = post_as(basic("sam:submit-pw"), "/tasks/quick/run", "").await;
    assert_eq!(
        submitter.status, 303,
        "{db}: a submitter can run: {submitter:?}"
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        1,
        "{db}: one run registered"
    );
    let disable = post_as(
        basic("sam:submit-pw"),
        "/tasks/quick/enabled",
        "&enabled=false",
    )
    .await;
    assert_eq!(
        disable.status, 403,
        "{db}: disabling needs admin: {disable:?}"
    );
    let level = post_as(basic("sam:submit-pw"), "/log-level", "&level=Error").await;
    assert_eq!(
        level.status, 403,
        "{db}: the log level needs admin: {level:?}"
    );
    assert_eq!(
        db.log_levels().await.expect("log levels").database,
        LogLevel::Info,
        "{db}: the level is unchanged"
    );

    // The admin disables it; run now is then refused with the procedure's reason.
    let disabled = post_as(bearer.clone(), "/tasks/quick/enabled", "&enabled=false").await;
    assert_eq!(disabled.status, 303, "{db}: {disabled:?}");
    let task = db
        .tasks()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.record.task_name == "quick")
        .unwrap();
    assert!(!task.record.enabled, "{db}: disabled");
    db.exec("DELETE FROM stage.FileControl").await;
    let refused = post_as(bearer.clone(), "/tasks/quick/run", "").await;
    assert_eq!(refused.status, 303, "{db}: {refused:?}");
    let location = refused.header("location").expect("back to the tasks");
    assert!(
        location.starts_with("/tasks?notice=") && location.contains("disabled"),
        "{db}: {location}"
    );
    assert_eq!(
        db.count("stage.FileControl").await,
        0,
        "{db}: nothing registered"
    );
}

conformance!(failed_sign_ins_are_throttled_per_address);
async fn failed_sign_ins_are_throttled_per_address(db: &TestDb) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("users"), "rita:reader:read-only-pw\n").unwrap();
    let users_file = dir.path().join("users").display().to_string();
    let server = Server::start(db.url(), "0.0.0.0:0", &["--users-file", &users_file]).await;
    let port = server.addr.port();
    let guesser: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let basic = |password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("rita:{password}"))
        )
    };
    let (wrong, right) = (basic("guess"), basic("read-only-pw"));
    // Requests without credentials (a browser's first) are not guesses.
    for _ in 0..20 {
        assert_eq!(http(guesser, "GET", "/", &[], "").await.status, 401);
    }
    assert_eq!(
        http(guesser, "GET", "/", &[("Authorization", &right)], "")
            .await
            .status,
        200,
        "{db}: still let in"
    );
    for attempt in 1..=10 {
        let response = http(guesser, "GET", "/", &[("Authorization", &wrong)], "").await;
        assert_eq!(response.status, 401, "{db}: guess {attempt}");
    }
    let refused = http(guesser, "GET", "/", &[("Authorization", &right)], "").await;
    assert_eq!(
        refused.status, 429,
        "{db}: refused after 10 failures, even with the right password: {refused:?}"
    );
    let wait: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=60).contains(&wait), "{db}: Retry-After {wait}");
    // Another client is not locked out.
    let other = http_from(
        std::net::Ipv4Addr::new(127, 0, 0, 2),
        guesser,
        "GET",
        "/",
        &[("Authorization", &right)],
    )
    .await;
    assert_eq!(
        other.status, 200,
        "{db}: another address signs in: {other:?}"
    );
}

/// A metric's value from Prometheus text: the line `NAME VALUE` (labels included in NAME).
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

conformance!(metrics_come_from_run_dashboard);
async fn metrics_come_from_run_dashboard(db: &TestDb) {
    save(&**db, &task_json("broken", "exit 3", 1)).await;
    save(&**db, &task_json("quick", "true", 1)).await;
    save(&**db, &task_json("busy", "sleep 60", 1)).await;
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _driver = Driver::start(
        db.url(),
        "metrics",
        1,
        &["--no-clock", "--dashboard", &listen],
    );
    let addr: std::net::SocketAddr = listen.parse().unwrap();
    let failed = db.register_new("broken").await;
    wait_final(&**db, failed, LIMIT).await;
    let again = db.register_new("broken").await;
    wait_final(&**db, again, LIMIT).await;
    let ok = db.register_new("quick").await;
    wait_final(&**db, ok, LIMIT).await;
    // The only worker busy, so the next run stays Pending.
    let busy = db.register_new("busy").await;
    wait_for(&**db, busy, LIMIT, |r| {
        r.status == ProcessStatus::InProgress
    })
    .await;
    db.register_new("quick").await;

    let deadline = tokio::time::Instant::now() + LIMIT;
    let text = loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let metrics = http(addr, "GET", "/metrics", &[], "").await;
            if metrics.status == 200 && metric(&metrics.body, "stagehand_drivers_live") == Some(1.0)
            {
                break metrics.body;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: /metrics did not show a live driver"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let has = |name: &str, value: f64| {
        assert_eq!(metric(&text, name), Some(value), "{db}: {name} in\n{text}");
    };
    has("stagehand_processes{status=\"Failed\"}", 2.0);
    has("stagehand_processes{status=\"Completed\"}", 1.0);
    has("stagehand_processes{status=\"Pending\"}", 1.0);
    has("stagehand_queue_depth", 1.0);
    has("stagehand_task_consecutive_failures{task=\"broken\"}", 2.0);
    has("stagehand_task_consecutive_failures{task=\"quick\"}", 0.0);
    has(
        "stagehand_task_last_result{task=\"broken\",status=\"Failed\"}",
        1.0,
    );
    has("stagehand_task_failed_24h{task=\"broken\"}", 2.0);
    has("stagehand_failed_24h", 2.0);
    has("stagehand_processes{status=\"InProgress\"}", 1.0);
    assert!(
        text.lines()
            .any(|l| l.starts_with("stagehand_driver_up{driver=\"")
                && l.contains("/metrics\"}")
                && l.ends_with(" 1")),
        "{db}: the driver is up:\n{text}"
    );
    let age = metric(&text, "stagehand_oldest_pending_age_seconds").expect("oldest pending age");
    assert!(age >= 0.0, "{db}: {age}");
    assert!(
        text.contains("# TYPE stagehand_processes gauge"),
        "{db}: typed:\n{text}"
    );
    assert!(
        !text.contains(db.url()) && !text.contains("postgres://"),
        "{db}: no connection string"
    );
}
