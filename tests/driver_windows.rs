//! `stagehand run` on Windows: outcomes through cmd, output in the OEM code page,
//! killPrevious ending the whole tree, parameters that stay inert.
#![cfg(windows)]

#[macro_use]
mod common;
mod driver_support;
mod windows_support;

use common::TestDb;
use driver_support::{scratch, task, wait_final, wait_for, Driver};
use stagehand::store::ProcessStatus;
use std::time::Duration;
use windows_support::{assert_gone_within, helper_command_as, pids};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
#[ignore = "a helper process the other tests start"]
fn helper() {
    windows_support::run_helper();
}

conformance!(commands_report_their_outcomes);
async fn commands_report_their_outcomes(db: &TestDb) {
    task(&**db, "ok", "echo hello& >&2 echo warn", |_| {}).await;
    task(&**db, "exit3", "echo partial& exit /b 3", |_| {}).await;
    task(&**db, "missing", "stagehand-no-such-command-xyz", |_| {}).await;
    task(&**db, "oem", "echo São Paulo? Café", |_| {}).await;
    task(&**db, "cp1252", &helper_command_as("cp1252"), |t| {
        t.definition = Some(r#"{"id":"cp1252","outputEncoding":1252}"#.into())
    })
    .await;
    let mut driver = Driver::start(db.url(), "win-outcomes", 4, &[]);
    let ok = db.register_new("ok").await;
    let exit3 = db.register_new("exit3").await;
    let missing = db.register_new("missing").await;
    let oem = db.register_new("oem").await;
    let cp1252 = db.register_new("cp1252").await;

    let row = wait_final(&**db, ok, LIMIT).await;
    assert_eq!(
        (row.status, row.exit_code),
        (ProcessStatus::Completed, Some(0))
    );
    let logs = db.logs(ok).await;
    assert!(
        logs.iter()
            .any(|l| l.message == "stdout" && l.detail.as_deref() == Some("hello\r\n")),
        "{db}: stdout kept: {logs:#?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.message == "stderr" && l.detail.as_deref() == Some("warn\r\n")),
        "{db}: stderr kept: {logs:#?}"
    );
    let row = wait_final(&**db, exit3, LIMIT).await;
    assert_eq!(
        (row.status, row.exit_code),
        (ProcessStatus::Failed, Some(3))
    );
    let row = wait_final(&**db, missing, LIMIT).await;
    assert_eq!(
        (row.status, row.exit_code),
        (ProcessStatus::Failed, Some(9009))
    );
    let logs = db.logs(missing).await;
    assert!(
        logs.iter().any(|l| l.message.contains("command not found")
            || l.detail
                .as_deref()
                .is_some_and(|d| d.contains("command not found"))),
        "{db}: says the command was not found: {logs:#?}"
    );
    assert_eq!(
        wait_final(&**db, oem, LIMIT).await.status,
        ProcessStatus::Completed
    );
    let logs = db.logs(oem).await;
    let stdout = logs.iter().find(|l| l.message == "stdout");
    // ã is not in every OEM code page (437 has none: cmd writes '?'); é is in all
    // the common ones. Either way nothing is a replacement character.
    let text = stdout.and_then(|l| l.detail.as_deref()).unwrap_or_default();
    assert!(
        text.ends_with("? Café\r\n"),
        "{db}: decoded from the OEM code page: {text:?}"
    );
    assert!(!text.contains('\u{FFFD}'), "{db}: {text:?}");
    // The task's own outputEncoding wins over the OEM default.
    assert_eq!(
        wait_final(&**db, cp1252, LIMIT).await.status,
        ProcessStatus::Completed
    );
    let logs = db.logs(cp1252).await;
    // The helper is a test binary: the harness writes its own lines around ours.
    let stdout = logs.iter().find(|l| l.message == "stdout");
    let text = stdout.and_then(|l| l.detail.as_deref()).unwrap_or_default();
    assert!(
        text.contains("Café São\r\n"),
        "{db}: decoded from code page 1252: {logs:#?}"
    );
    driver.child.kill().await.expect("stop the driver");
}

conformance!(kill_previous_ends_the_running_tree_then_runs_the_new_one);
async fn kill_previous_ends_the_running_tree_then_runs_the_new_one(db: &TestDb) {
    let dir = scratch("win-kill-previous");
    task(&**db, "latest-wins", &helper_command_as("sleeper"), |t| {
        t.overlap_policy = "killPrevious".into();
        t.working_directory = Some(dir.display().to_string());
    })
    .await;
    let mut driver = Driver::start(db.url(), "win-kill-previous", 2, &["--grace-seconds", "1"]);
    let first = db.register_new("latest-wins").await;
    let first_pid = pids(&dir, 1).await[0];
    let second = db.register_new("latest-wins").await;

    let cancelled = wait_final(&**db, first, LIMIT).await;
    assert_eq!(cancelled.status, ProcessStatus::Cancelled, "{db}");
    assert_gone_within(first_pid, Duration::from_secs(10)).await;
    wait_for(&**db, second, LIMIT, |r| {
        r.status == ProcessStatus::InProgress
    })
    .await;
    let second_pid = pids(&dir, 2).await[1];
    assert_ne!(first_pid, second_pid);
    driver.child.kill().await.expect("stop the driver");
}

conformance!(parameters_with_cmd_metacharacters_stay_inert);
async fn parameters_with_cmd_metacharacters_stay_inert(db: &TestDb) {
    let dir = scratch("win-params");
    // The documented form: the program reads STAGEHAND_PARAMETERS from its environment.
    task(&**db, "params", &helper_command_as("parameters"), |t| {
        t.working_directory = Some(dir.display().to_string());
    })
    .await;
    let parameters =
        r#"{"a":"x\" & echo pwned > pwned.txt & \"","b":"%PATH% ^& | echo pwned2 > pwned2.txt"}"#;
    let mut driver = Driver::start(db.url(), "win-params", 1, &[]);
    let id = db
        .register("params", Some(parameters), None)
        .await
        .expect("register")
        .process_id;
    assert_eq!(
        wait_final(&**db, id, LIMIT).await.status,
        ProcessStatus::Completed
    );
    let received = std::fs::read_to_string(dir.join("parameters.txt")).unwrap();
    assert_eq!(received, parameters, "{db}: the value arrives verbatim");
    assert!(!dir.join("pwned.txt").exists(), "{db}: nothing ran");
    assert!(!dir.join("pwned2.txt").exists(), "{db}: nothing ran");
    driver.child.kill().await.expect("stop the driver");
}

conformance!(a_console_ctrl_c_stops_the_driver_gracefully_and_not_the_commands);
async fn a_console_ctrl_c_stops_the_driver_gracefully_and_not_the_commands(db: &TestDb) {
    let dir = scratch("win-ctrl-c");
    task(&**db, "long", &helper_command_as("console-events"), |t| {
        t.working_directory = Some(dir.display().to_string());
    })
    .await;
    let mut driver =
        Driver::start_in_own_console(db.url(), "win-ctrl-c", 1, &["--grace-seconds", "2"]);
    let id = db.register_new("long").await;
    wait_for(&**db, id, LIMIT, |r| r.status == ProcessStatus::InProgress).await;
    let pid = pids(&dir, 1).await[0];
    windows_support::send_ctrl_c(driver.pid() as u32).await;
    assert!(
        driver.exit_within(Duration::from_secs(30)).await.success(),
        "{db}: the driver exits after the grace"
    );
    assert_gone_within(pid, Duration::from_secs(10)).await;
    // Only the Ctrl-C matters here: Wine 8 cannot send Ctrl-Break from a driver (its
    // GenerateConsoleCtrlEvent fails there), so the stop after the grace is the
    // job's termination.
    let events = std::fs::read_to_string(dir.join("events")).unwrap_or_default();
    assert!(
        !events.contains("ctrl-c"),
        "{db}: the Ctrl-C reached the driver only: {events:?}"
    );
    let row = db.row(id).await;
    assert_eq!(
        row.status,
        ProcessStatus::Pending,
        "{db}: handed back: {row:?}"
    );
    let logs = db.logs(id).await;
    assert!(
        logs.iter().any(|l| l.message.contains("Released")),
        "{db}: logged: {logs:#?}"
    );
}
