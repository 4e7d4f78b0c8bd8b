//! `stagehand service` on Windows, through the Service Control Manager (under Wine, its
//! services.exe): the real stagehand.exe is installed as a service, started, seen as a
//! live driver that claims work, stopped (the driver's graceful shutdown hands the
//! running command back), its status read and the service removed.
#![cfg(windows)]

#[macro_use]
mod common;
mod driver_support;
mod windows_support;

use common::TestDb;
use driver_support::{scratch, task, wait_for};
use stagehand::store::ProcessStatus;
use std::process::Output;
use std::time::Duration;
use windows_support::{assert_gone_within, helper_command_as, pids};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
#[ignore = "a helper process the other tests start"]
fn helper() {
    windows_support::run_helper();
}

async fn stagehand(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env_remove("STAGEHAND_DATABASE_URL")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .unwrap_or_else(|_| panic!("stagehand {args:?} did not exit"))
        .expect("run stagehand")
}

/// Runs `stagehand service ARGS`, asserts success, returns its stdout.
async fn service(db: &TestDb, args: &[&str]) -> String {
    let mut all = vec!["service"];
    all.extend(args);
    let out = stagehand(&all).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{db}: stagehand {all:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

conformance!(a_service_runs_the_driver_and_stops_it_gracefully);
async fn a_service_runs_the_driver_and_stops_it_gracefully(db: &TestDb) {
    let dir = scratch("win-service");
    let logs = dir.join("logs");
    let secret = dir.join("database.url");
    std::fs::write(&secret, db.url()).unwrap();
    let config = dir.join("stagehand.toml");
    // TOML literal strings: Windows paths keep their backslashes.
    std::fs::write(
        &config,
        format!(
            "database_url_file = '{}'\nlog_dir = '{}'\n[run]\nname = \"win-service\"\n\
             workers = 1\ngrace_seconds = 2\nheartbeat_ms = 300\npoll_max_ms = 200\n\
             no_notify = true\n",
            secret.display(),
            logs.display()
        ),
    )
    .unwrap();
    task(&**db, "long", &helper_command_as("sleeper"), |t| {
        t.working_directory = Some(dir.display().to_string());
    })
    .await;
    let name = format!("stagehand-test-{}", std::process::id());
    let config = config.to_str().unwrap();

    let installed = service(
        db,
        &[
            "install",
            "--name",
            &name,
            "--config",
            config,
            "--start-type",
            "manual",
        ],
    )
    .await;
    for said in [
        "binary path:",
        "service run --name",
        "account: LocalSystem",
        "start type: manual",
        "recovery:",
        "log:",
    ] {
        assert!(
            installed.contains(said),
            "{db}: the install says {said:?}: {installed}"
        );
    }
    let started = service(db, &["start", "--name", &name]).await;
    assert!(started.contains("running"), "{db}: {started}");

    // The driver of the service heartbeats and claims.
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let driver = format!("{host}/win-service");
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let drivers = db.drivers().await.expect("read DriverStatus");
        if drivers.iter().any(|d| d.driver_name == driver && d.alive) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{db}: no live {driver}: {drivers:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let id = db.register_new("long").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    let pid = pids(&dir, 1).await[0];
    let status = service(db, &["status", "--name", &name]).await;
    assert!(
        status.contains(&format!("{name}: running")),
        "{db}: {status}"
    );

    let stopped = service(db, &["stop", "--name", &name]).await;
    assert!(
        stopped.contains(&format!("{name}: stopped")),
        "{db}: {stopped}"
    );
    assert!(
        !stopped.contains("exit code"),
        "{db}: a clean stop: {stopped}"
    );
    assert_gone_within(pid, Duration::from_secs(10)).await;
    let row = db.row(id).await;
    assert_eq!(
        row.status,
        ProcessStatus::Pending,
        "{db}: handed back: {row:?}"
    );
    let logs_of = db.logs(id).await;
    assert!(
        logs_of
            .iter()
            .any(|l| l.message.contains("Released by driver shutdown")),
        "{db}: the release is logged: {logs_of:#?}"
    );
    // The service's own log, in log_dir: there is no console.
    let file = std::fs::read_dir(&logs)
        .expect("log_dir written")
        .next()
        .expect("a log file")
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    for said in [
        "service started",
        "asked the service to stop",
        "driver stopped",
    ] {
        assert!(text.contains(said), "{db}: the log says {said:?}: {text}");
    }

    service(db, &["uninstall", "--name", &name]).await;
    // A delayed start is a setting of its own, after the creation: refused (as Wine
    // refuses it), the install says so and still succeeds.
    let delayed = format!("{name}-delayed");
    let installed = service(
        db,
        &[
            "install",
            "--name",
            &delayed,
            "--config",
            config,
            "--start-type",
            "delayed",
        ],
    )
    .await;
    assert!(
        installed.contains("start type: automatic, delayed")
            || installed.contains("start type: NOT SET ("),
        "{db}: {installed}"
    );
    service(db, &["uninstall", "--name", &delayed]).await;
    let gone = stagehand(&["service", "status", "--name", &name]).await;
    assert_eq!(gone.status.code(), Some(1), "{db}: {gone:?}");
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("is it installed?"),
        "{db}: {gone:?}"
    );
}

conformance!(a_service_that_cannot_start_says_why_in_its_log);
async fn a_service_that_cannot_start_says_why_in_its_log(db: &TestDb) {
    let dir = scratch("win-service-fails");
    let logs = dir.join("logs");
    let config = dir.join("stagehand.toml");
    // The variable the file names is not in the service's environment.
    std::fs::write(
        &config,
        format!(
            "database_url_env = \"STAGEHAND_TEST_UNSET_URL\"\nlog_dir = '{}'\n",
            logs.display()
        ),
    )
    .unwrap();
    let name = format!("stagehand-test-fails-{}", std::process::id());
    let config = config.to_str().unwrap();
    service(
        db,
        &[
            "install",
            "--name",
            &name,
            "--config",
            config,
            "--start-type",
            "manual",
        ],
    )
    .await;
    let out = stagehand(&["service", "start", "--name", &name]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{db}: {stderr}");
    assert!(
        stderr.contains(&format!("{name}: stopped (failed with exit code 1")),
        "{db}: {stderr}"
    );
    let status = stagehand(&["service", "status", "--name", &name]).await;
    assert_eq!(
        status.status.code(),
        Some(1),
        "{db}: not running: {status:?}"
    );
    let file = std::fs::read_dir(&logs)
        .expect("log_dir written")
        .next()
        .expect("a log file")
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("STAGEHAND_TEST_UNSET_URL is not set"),
        "{db}: the log says why: {text}"
    );
    service(db, &["uninstall", "--name", &name]).await;
}
