//! `stagehand service install` on Linux: the unit it prints is one systemd accepts
//! (`systemd-analyze verify`), with a stop that is the driver's graceful shutdown; and a
//! driver started as the unit starts it, stopped as systemd stops it (SIGTERM to the
//! driver alone, KillMode=mixed), hands its running command back to the queue.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;
mod driver_support;

use common::TestDb;
use driver_support::{alive, scratch, task, wait_for, wait_lines, Driver};
use stagehand::store::ProcessStatus;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn stagehand(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(args)
        .env_remove("STAGEHAND_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("run stagehand")
}

/// A configuration file in a directory whose name needs quoting in a unit.
fn config(test: &str, body: &str) -> PathBuf {
    let dir = scratch(test).join("my configs %h");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stagehand.toml");
    std::fs::write(&path, body).unwrap();
    path
}

/// The unit's `Key=value` lines.
fn setting<'u>(unit: &'u str, key: &str) -> Vec<&'u str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn the_printed_unit_passes_systemd_analyze_verify() {
    let config = config(
        "unit",
        "database_url_env = \"ERP_STAGEHAND_URL\"\n[run]\ngrace_seconds = 45\nworkers = 2\n",
    );
    let user = "root".to_string();
    let out = stagehand(&[
        "service",
        "install",
        "--print",
        "--name",
        "stagehand-test",
        "--config",
        config.to_str().unwrap(),
        "--user",
        &user,
        "--environment-file",
        "/etc/stagehand-test.env",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let unit = String::from_utf8(out.stdout).unwrap();
    assert!(
        !Path::new("/etc/systemd/system/stagehand-test.service").exists(),
        "--print installs nothing"
    );

    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_stagehand")).unwrap();
    // `%` is doubled (a specifier otherwise) and the path quoted for its spaces.
    let quoted = config.display().to_string().replace('%', "%%");
    assert_eq!(
        setting(&unit, "ExecStart"),
        [format!("{} run --config \"{quoted}\"", exe.display()).as_str()],
        "{unit}"
    );
    assert_eq!(setting(&unit, "KillMode"), ["mixed"], "{unit}");
    assert_eq!(setting(&unit, "Restart"), ["on-failure"], "{unit}");
    assert_eq!(setting(&unit, "User"), [user.as_str()], "{unit}");
    assert_eq!(
        setting(&unit, "EnvironmentFile"),
        ["/etc/stagehand-test.env"],
        "{unit}"
    );
    let timeout: u64 = setting(&unit, "TimeoutStopSec")[0].parse().unwrap();
    assert!(timeout > 45, "the stop outlasts the grace period: {unit}");
    assert_eq!(setting(&unit, "WantedBy"), ["multi-user.target"], "{unit}");

    // systemd's own parser: it fails on a missing ExecStart program or a unit it
    // refuses, and warns (on stderr, exit 0) about anything it ignores.
    let dir = config.parent().unwrap().parent().unwrap().join("units");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("stagehand-test.service");
    std::fs::write(&file, &unit).unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .expect("systemd-analyze (Debian's systemd package; scripts/test.sh installs it)");
    let said = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success(),
        "systemd-analyze refuses the unit: {said}\n{unit}"
    );
    assert!(
        said.trim().is_empty(),
        "systemd-analyze warns: {said}\n{unit}"
    );
}

#[test]
fn install_refuses_what_the_service_would_refuse() {
    let refused = |args: &[&str], expected: &[&str]| {
        let out = stagehand(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        for part in expected {
            assert!(stderr.contains(part), "{args:?} says {part:?}: {stderr}");
        }
    };
    refused(
        &["service", "install", "--print", "--config", "relative.toml"],
        &["--config relative.toml", "absolute path"],
    );
    let bad = config("unit-bad", "[run]\ngrace_seconds = -1\n");
    refused(
        &[
            "service",
            "install",
            "--print",
            "--config",
            bad.to_str().unwrap(),
        ],
        &["key run.grace_seconds", bad.to_str().unwrap()],
    );
    let good = config("unit-name", "");
    refused(
        &[
            "service",
            "install",
            "--print",
            "--name",
            "../evil",
            "--config",
            good.to_str().unwrap(),
        ],
        &["--name \"../evil\""],
    );
}

conformance!(a_sigterm_to_the_driver_alone_hands_its_command_back);
async fn a_sigterm_to_the_driver_alone_hands_its_command_back(db: &TestDb) {
    let dir = scratch("systemd-stop");
    task(&**db, "long", "echo $$ >> pids; exec sleep 600", |t| {
        t.working_directory = Some(dir.display().to_string())
    })
    .await;
    let config = config(
        "systemd-stop-config",
        &format!(
            "database_url = \"{}\"\n[run]\nname = \"as-a-unit\"\nworkers = 1\ngrace_seconds = 1\n\
             heartbeat_ms = 300\npoll_max_ms = 200\nno_notify = true\n",
            db.url()
        ),
    );
    let out = stagehand(&[
        "service",
        "install",
        "--print",
        "--config",
        config.to_str().unwrap(),
    ]);
    let unit = String::from_utf8(out.stdout).unwrap();
    let timeout = Duration::from_secs(setting(&unit, "TimeoutStopSec")[0].parse().unwrap());
    // The ExecStart line's command, as systemd starts it: this program, no terminal.
    let mut driver = Driver {
        child: tokio::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
            .args(["run", "--config", config.to_str().unwrap()])
            .env_remove("STAGEHAND_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the driver"),
        name: "as-a-unit".into(),
    };
    let id = db.register_new("long").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    let command: i32 = wait_lines(&dir.join("pids"), 1, LIMIT).await[0]
        .trim()
        .parse()
        .unwrap();

    // KillMode=mixed: the stop's SIGTERM reaches the main process only.
    driver.signal(nix::sys::signal::Signal::SIGTERM);
    let status = driver.exit_within(timeout).await;
    assert!(
        status.success(),
        "{db}: a clean exit, so systemd sees no failure: {status}"
    );
    assert!(!alive(command), "{db}: the driver stopped its command");
    let row = db.row(id).await;
    assert_eq!(
        row.status,
        ProcessStatus::Pending,
        "{db}: handed back: {row:?}"
    );
    let logs = db.logs(id).await;
    assert!(
        logs.iter()
            .any(|l| l.message.contains("Released by driver shutdown")),
        "{db}: the release is logged: {logs:#?}"
    );
}
