//! `stagehand run --config FILE`: a TOML file drives a real driver (its name, workers,
//! lease and log as stage.Driver and the log file show them), flags override it, the
//! connection string comes from a variable or a file the configuration names and is
//! never printed, and a bad file is refused naming the key and the file.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use common::TestDb;
use driver_support::{scratch, task, wait_final};
use stagehand::store::{DatabaseUrl, DriverRow, ProcessStatus};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

const LIMIT: Duration = Duration::from_secs(30);

/// `stagehand ARGS` without STAGEHAND_DATABASE_URL, plus `env`; stdout and stderr piped.
fn stagehand(args: &[&str], env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env_remove("STAGEHAND_DATABASE_URL")
        .env("RUST_LOG", "stagehand=info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start stagehand")
}

/// Waits for the driver `host/name` in stage.DriverStatus.
async fn live_driver(db: &TestDb, name: &str) -> DriverRow {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let full = format!("{host}/{name}");
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let drivers = db.drivers().await.expect("read DriverStatus");
        if let Some(row) = drivers
            .into_iter()
            .find(|d| d.driver_name == full && d.alive)
        {
            return row;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: no live driver {full} within {LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM, then the driver's exit and output.
async fn stop(child: Child) -> Output {
    let pid = child.id().expect("driver running") as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .expect("the driver exits after SIGTERM")
        .expect("wait for the driver")
}

fn password_of(url: &str) -> String {
    DatabaseUrl::parse(url)
        .expect("a URL")
        .passwords()
        .into_iter()
        .next()
        .expect("the login's URL has a password")
}

fn assert_never_printed(db: &TestDb, out: &Output, secret: &str) {
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(secret),
            "{db}: the password is in {what}: {text}"
        );
    }
}

conformance!(a_config_file_drives_the_driver_and_flags_override_it);
async fn a_config_file_drives_the_driver_and_flags_override_it(db: &TestDb) {
    let url = db.url_as("stage_admin").await;
    let password = password_of(&url);
    let dir = scratch("config-file");
    let secret = dir.join("database.url");
    std::fs::write(&secret, format!("{url}\n")).unwrap();
    let logs = dir.join("logs");
    let output = dir.join("output");
    let config = dir.join("stagehand.toml");
    std::fs::write(
        &config,
        format!(
            r#"database_url_file = "{}"
log_dir = "{}"
log_format = "json"

[run]
name = "from-file"
workers = 3
lease_seconds = 7
heartbeat_ms = 300
poll_max_ms = 200
log_dir = "{}"
no_notify = true
"#,
            secret.display(),
            logs.display(),
            output.display()
        ),
    )
    .unwrap();
    task(&**db, "hello", "echo hello from the config", |_| {}).await;
    let driver = stagehand(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--workers",
            "2",
        ],
        &[],
    );
    let row = live_driver(db, "from-file").await;
    assert_eq!(
        (row.workers, row.lease_seconds),
        (2, 7),
        "{db}: the name and lease from the file, the workers from the flag: {row:?}"
    );
    let id = db.register_new("hello").await;
    assert_eq!(
        wait_final(&**db, id, LIMIT).await.status,
        ProcessStatus::Completed
    );
    // run.log_dir is `run --log-dir`: each process's output.
    let kept = std::fs::read_dir(&output)
        .expect("the output directory from the file")
        .count();
    assert_eq!(kept, 1, "{db}: one output file");

    let out = stop(driver).await;
    assert!(out.status.success(), "{db}: {out:?}");
    assert_never_printed(db, &out, &password);
    // The driver's own log: JSON lines in a daily file, no colours, no password.
    let files: Vec<_> = std::fs::read_dir(&logs)
        .expect("log_dir created")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{db}: one daily file: {files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("stagehand.") && name.ends_with(".log"),
        "{db}: {name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        !text.contains(&password),
        "{db}: the password is in the log"
    );
    assert!(!text.contains('\u{1b}'), "{db}: no ANSI escapes: {text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{db}: {e}: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "driver started"),
        "{db}: {text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "driver stopped"),
        "{db}: the log is complete at exit: {text}"
    );
    // Standard error is not a terminal here: no colours there either.
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains('\u{1b}'),
        "{db}: {out:?}"
    );
}

conformance!(the_connection_string_can_come_from_a_named_variable);
async fn the_connection_string_can_come_from_a_named_variable(db: &TestDb) {
    let url = db.url_as("stage_admin").await;
    let password = password_of(&url);
    let dir = scratch("config-env");
    let config = dir.join("stagehand.toml");
    std::fs::write(
        &config,
        "database_url_env = \"ERP_STAGEHAND_URL\"\n[run]\nname = \"from-env\"\nno_notify = true\n",
    )
    .unwrap();
    // A job printing its whole environment: the variable the file names is not in it.
    task(&**db, "env", "env", |_| {}).await;
    let driver = stagehand(
        &["run", "--config", config.to_str().unwrap()],
        &[("ERP_STAGEHAND_URL", &url)],
    );
    live_driver(db, "from-env").await;
    let id = db.register_new("env").await;
    assert_eq!(
        wait_final(&**db, id, LIMIT).await.status,
        ProcessStatus::Completed
    );
    let logs = db.logs(id).await;
    let stdout = logs
        .iter()
        .find(|l| l.message == "stdout")
        .and_then(|l| l.detail.clone())
        .unwrap_or_default();
    assert!(
        stdout.contains("PATH="),
        "{db}: the job printed its environment"
    );
    assert!(
        !stdout.contains("ERP_STAGEHAND_URL") && !stdout.contains(&password),
        "{db}: the job does not see the connection string: {stdout}"
    );
    let out = stop(driver).await;
    assert!(out.status.success(), "{db}: {out:?}");
    assert_never_printed(db, &out, &password);
}

#[tokio::test]
async fn why_a_driver_could_not_start_is_in_its_log_file() {
    let base = std::env::var("STAGEHAND_TEST_POSTGRES").expect("STAGEHAND_TEST_POSTGRES");
    let mut url = url::Url::parse(&base).expect("a URL");
    url.set_path("stagehand_no_such_database");
    let dir = scratch("config-cannot-start");
    let logs = dir.join("logs");
    let config = dir.join("stagehand.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{url}\"\nlog_dir = \"{}\"\n",
            logs.display()
        ),
    )
    .unwrap();
    let out = tokio::time::timeout(
        LIMIT,
        stagehand(&["run", "--config", config.to_str().unwrap()], &[]).wait_with_output(),
    )
    .await
    .expect("the driver ends at once")
    .expect("run stagehand");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("database does not exist"), "{stderr}");
    let file = std::fs::read_dir(&logs)
        .expect("log_dir created")
        .next()
        .expect("a log file")
        .unwrap()
        .path();
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("ERROR") && text.contains("database does not exist"),
        "the log file says why: {text}"
    );
}

/// `stagehand run --config FILE` with `body` as the file: fails with exit code 1 saying
/// `expected` and the file's path, or with clap's usage error (2) about the flags;
/// never says `hidden`.
async fn refused(name: &str, body: &str, code: i32, expected: &[&str], hidden: &str) {
    let dir = scratch(&format!("config-bad-{name}"));
    let config = dir.join("bad.toml");
    std::fs::write(&config, body).unwrap();
    let out = tokio::time::timeout(
        LIMIT,
        stagehand(&["run", "--config", config.to_str().unwrap()], &[]).wait_with_output(),
    )
    .await
    .expect("a bad file is refused at once")
    .expect("run stagehand");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
    let path = config.to_str().unwrap();
    let file = (code == 1).then_some(&path);
    for part in expected.iter().chain(file) {
        assert!(stderr.contains(part), "{name}: says {part:?}: {stderr}");
    }
    assert!(
        !stderr.contains(hidden),
        "{name}: never shows {hidden:?}: {stderr}"
    );
}

#[tokio::test]
async fn a_bad_file_is_refused_naming_the_key_and_the_file() {
    let none = "\u{0}";
    refused(
        "top",
        "wrokers = 3\n",
        1,
        &["key wrokers", "unknown field"],
        none,
    )
    .await;
    refused(
        "run-key",
        "[run]\nwrokers = 3\n",
        1,
        &["key run.wrokers", "unknown key", "grace_seconds"],
        none,
    )
    .await;
    refused(
        "range",
        "[run]\nworkers = 0\n",
        1,
        &["key run.workers", "0 is not in 1..=1000"],
        none,
    )
    .await;
    refused(
        "type",
        "[run]\ngrace_seconds = \"soon\"\n",
        1,
        &["key run.grace_seconds", "invalid value 'soon'"],
        none,
    )
    .await;
    refused(
        "flag",
        "[run]\nno_clock = \"yes\"\n",
        1,
        &["key run.no_clock", "is not true or false"],
        none,
    )
    .await;
    refused(
        "format",
        "log_format = \"xml\"\n",
        1,
        &["key log_format", "`xml`"],
        none,
    )
    .await;
    refused(
        "variable",
        "database_url_env = \"STAGEHAND_NO_SUCH_VARIABLE\"\n",
        1,
        &[
            "key database_url_env",
            "STAGEHAND_NO_SUCH_VARIABLE is not set",
        ],
        none,
    )
    .await;
    refused(
        "secret-file",
        "database_url_file = \"/nonexistent/stagehand.url\"\n",
        1,
        &["key database_url_file", "/nonexistent/stagehand.url"],
        none,
    )
    .await;
    refused(
        "two-sources",
        "database_url = \"postgres://x@h/d\"\ndatabase_url_env = \"X\"\n",
        1,
        &["at most one of database_url"],
        none,
    )
    .await;
    // A syntax error on the line of a connection string: the line is not quoted.
    refused(
        "syntax",
        "database_url = \"postgres://app:Sup3r-Secret-Pw@db/erp\n",
        1,
        &["line 1", "key database_url"],
        "Sup3r-Secret-Pw",
    )
    .await;
    // What only the whole set shows is clap's usage error, as for flags.
    refused(
        "combination",
        "[run]\nlease_seconds = 1\nheartbeat_ms = 1000\n",
        2,
        &[
            "shorter than two heartbeats",
            "run.lease_seconds (in ",
            "run.heartbeat_ms (in ",
        ],
        none,
    )
    .await;
    let missing = Path::new("/nonexistent/stagehand.toml");
    let out = stagehand(&["run", "--config", missing.to_str().unwrap()], &[])
        .wait_with_output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1) && stderr.contains("/nonexistent/stagehand.toml"),
        "{stderr}"
    );
}
