//! `stagehand run` executing real commands: outcomes, output capture, environment.
#![cfg(unix)]

#[macro_use]
mod common;
mod driver_support;

use common::TestDb;
use driver_support::{scratch, task, wait_final, wait_for, Driver};
use stagehand::store::ProcessStatus;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

conformance!(commands_report_every_kind_of_outcome);
async fn commands_report_every_kind_of_outcome(db: &TestDb) {
    let dir = scratch("outcomes");
    let marker = dir.join("ran-here");
    task(&**db, "ok", "echo hello; echo warn >&2", |_| {}).await;
    task(&**db, "exit3", "echo partial; exit 3", |_| {}).await;
    task(
        &**db,
        "missing-cmd",
        "stagehand-no-such-command-xyz",
        |_| {},
    )
    .await;
    task(&**db, "missing-dir", "true", |t| {
        t.working_directory = Some("/nonexistent/stagehand".into())
    })
    .await;
    task(&**db, "in-dir", "pwd > ran-here", |t| {
        t.working_directory = Some(dir.display().to_string())
    })
    .await;
    task(&**db, "program", "printf", |t| {
        t.arguments = Some(r#"["%s|%s", "a b", "$HOME"]"#.into())
    })
    .await;
    // Saved past the CLI's check (a direct SaveTask): the driver refuses to guess.
    task(&**db, "bad-encoding", "echo never", |t| {
        t.definition = Some(r#"{"id":"bad-encoding","outputEncoding":"latin-1"}"#.into())
    })
    .await;
    let mut driver = Driver::start(db.url(), "outcomes", 3, &[]);

    let ok = db.register_new("ok").await;
    let exit3 = db.register_new("exit3").await;
    let missing_cmd = db.register_new("missing-cmd").await;
    let missing_dir = db.register_new("missing-dir").await;
    let in_dir = db.register_new("in-dir").await;
    let program = db.register_new("program").await;
    let bad_encoding = db.register_new("bad-encoding").await;

    let row = wait_final(&**db, ok, LIMIT).await;
    assert_eq!(
        row.status,
        ProcessStatus::Completed,
        "{db}: exit 0 is Completed"
    );
    assert_eq!(row.exit_code, Some(0));
    assert!(
        row.worker_assigned
            .as_deref()
            .is_some_and(|w| w.contains("/outcomes/")),
        "{db}: WorkerAssigned names host/driver/slot: {row:?}"
    );
    let logs = db.logs(ok).await;
    assert!(
        logs.iter()
            .any(|l| l.message == "stdout" && l.detail.as_deref() == Some("hello\n")),
        "{db}: stdout kept: {logs:#?}"
    );
    assert!(
        logs.iter().any(|l| l.message == "stderr"
            && l.log_level == "Warning"
            && l.detail.as_deref() == Some("warn\n")),
        "{db}: stderr kept as Warning: {logs:#?}"
    );

    let row = wait_final(&**db, exit3, LIMIT).await;
    assert_eq!(
        (row.status, row.exit_code),
        (ProcessStatus::Failed, Some(3)),
        "{db}: non-zero exit is Failed with its code"
    );
    let logs = db.logs(exit3).await;
    assert!(
        logs.iter()
            .any(|l| l.log_level == "Error" && l.message.contains("exited with code 3")),
        "{db}: {logs:#?}"
    );

    let row = wait_final(&**db, missing_cmd, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Failed);
    let logs = db.logs(missing_cmd).await;
    assert!(
        logs.iter().any(|l| l.message.contains("command not found")),
        "{db}: says the command was not found: {logs:#?}"
    );

    let row = wait_final(&**db, missing_dir, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Failed);
    let logs = db.logs(missing_dir).await;
    assert!(
        logs.iter()
            .any(|l| l.message.contains("working directory does not exist")),
        "{db}: {logs:#?}"
    );

    let row = wait_final(&**db, in_dir, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Completed);
    let pwd = std::fs::read_to_string(&marker).expect("the command wrote its working directory");
    assert_eq!(
        std::path::Path::new(pwd.trim()).canonicalize().ok(),
        dir.canonicalize().ok(),
        "{db}: ran in the task's working directory"
    );

    let row = wait_final(&**db, program, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Completed);
    let logs = db.logs(program).await;
    assert!(
        logs.iter()
            .any(|l| l.message == "stdout" && l.detail.as_deref() == Some("a b|$HOME")),
        "{db}: a program with arguments runs without a shell (no expansion): {logs:#?}"
    );

    let row = wait_final(&**db, bad_encoding, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Failed, "{db}: {row:?}");
    let logs = db.logs(bad_encoding).await;
    assert!(
        logs.iter().any(|l| l.log_level == "Error"
            && l.message.contains("outputEncoding of task bad-encoding")
            && l.message.contains("\"latin-1\" is not an output encoding")),
        "{db}: the run fails naming the setting: {logs:#?}"
    );

    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

conformance!(output_is_bounded_and_non_utf8_is_replaced);
async fn output_is_bounded_and_non_utf8_is_replaced(db: &TestDb) {
    task(
        &**db,
        "flood",
        "head -c 10000000 /dev/zero | tr '\\0' 'x'; printf END",
        |_| {},
    )
    .await;
    task(&**db, "binary", "printf 'ok\\377\\376done'", |_| {}).await;
    let log_dir = scratch("flood-logs");
    let mut driver = Driver::start(
        db.url(),
        "flood",
        2,
        &["--log-dir", log_dir.to_str().unwrap()],
    );
    let flood = db.register_new("flood").await;
    let binary = db.register_new("binary").await;

    assert_eq!(
        wait_final(&**db, flood, LIMIT).await.status,
        ProcessStatus::Completed
    );
    let logs = db.logs(flood).await;
    let stdout = logs
        .iter()
        .find(|l| l.message == "stdout")
        .expect("stdout logged");
    let text = stdout.detail.as_deref().unwrap_or("");
    assert!(
        text.len() <= 64 * 1024,
        "{db}: 10 MB of output is kept to 64 KiB, got {} bytes",
        text.len()
    );
    assert!(
        text.len() > 60 * 1024,
        "{db}: the last 64 KiB are kept, got {} bytes",
        text.len()
    );
    assert!(text.ends_with("END"), "{db}: the tail is the last bytes");
    let whole = std::fs::metadata(log_dir.join(format!("{flood}-1.log")))
        .expect("--log-dir keeps the whole output");
    assert_eq!(
        whole.len(),
        10_000_003,
        "{db}: all of it, in the log directory"
    );

    assert_eq!(
        wait_final(&**db, binary, LIMIT).await.status,
        ProcessStatus::Completed
    );
    let logs = db.logs(binary).await;
    let stdout = logs
        .iter()
        .find(|l| l.message == "stdout")
        .expect("stdout logged");
    assert_eq!(
        stdout.detail.as_deref(),
        Some("ok\u{FFFD}\u{FFFD}done"),
        "{db}: invalid UTF-8 replaced"
    );

    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

conformance!(parameters_reach_the_command_as_inert_environment);
async fn parameters_reach_the_command_as_inert_environment(db: &TestDb) {
    let dir = scratch("params");
    let out = dir.join("env.txt");
    let victim = dir.join("victim");
    std::fs::write(&victim, "still here").unwrap();
    let command = format!(
        "printf '%s\\n%s\\n%s\\n%s\\n' \"$STAGEHAND_PARAMETERS\" \"$STAGEHAND_PROCESS_ID\" \"$STAGEHAND_PROCESS_NAME\" \"$STAGEHAND_ATTEMPT\" > '{}'",
        out.display()
    );
    task(&**db, "params", &command, |_| {}).await;
    let parameters = format!(
        r#"{{"file":"'; rm -f {} #","other":"$(touch {}-pwned)`id`"}}"#,
        victim.display(),
        victim.display()
    );
    let mut driver = Driver::start(db.url(), "params", 1, &[]);
    let id = db
        .register("params", Some(&parameters), None)
        .await
        .expect("register")
        .process_id;

    assert_eq!(
        wait_final(&**db, id, LIMIT).await.status,
        ProcessStatus::Completed
    );
    let written = std::fs::read_to_string(&out).expect("the command wrote its environment");
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(
        lines,
        vec![parameters.as_str(), &id.to_string(), "params", "1"],
        "{db}: environment as registered"
    );
    assert!(
        victim.exists(),
        "{db}: shell metacharacters in parameters never ran"
    );
    assert!(
        !dir.join("victim-pwned").exists(),
        "{db}: command substitution in parameters never ran"
    );

    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

conformance!(jobs_never_see_the_connection_string);
async fn jobs_never_see_the_connection_string(db: &TestDb) {
    let url = db.url_as("stage_admin").await;
    let password = stagehand::store::DatabaseUrl::parse(&url)
        .expect("the login's URL")
        .passwords()
        .into_iter()
        .next()
        .expect("the login's URL has a password");
    let dir = scratch("secrets");
    // A job that found the password elsewhere and prints it: masked before it is stored.
    std::fs::write(dir.join("found.txt"), format!("found {password} on disk\n")).unwrap();
    task(
        &**db,
        "print-env",
        "env; set; cat found.txt; echo done >&2",
        |t| t.working_directory = Some(dir.display().to_string()),
    )
    .await;
    // The driver gets the URL from the environment, and the password under another name too.
    let mut driver = Driver::start_with_env(
        &url,
        "secrets",
        1,
        3,
        &[],
        &[("ERP_DB_PASSWORD", password.as_str())],
    );
    let id = db.register_new("print-env").await;
    let row = wait_final(&**db, id, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Completed, "{db}: {row:?}");

    let logs = db.logs(id).await;
    let stdout = logs
        .iter()
        .find(|l| l.message == "stdout")
        .and_then(|l| l.detail.clone())
        .unwrap_or_else(|| panic!("{db}: the environment was captured: {logs:#?}"));
    assert!(
        stdout.contains(&format!("STAGEHAND_PROCESS_ID={id}")),
        "{db}: the job printed its environment: {stdout}"
    );
    assert!(
        stdout.contains("found *** on disk"),
        "{db}: a printed password is masked: {stdout}"
    );
    for log in &logs {
        let text = format!("{} {}", log.message, log.detail.as_deref().unwrap_or(""));
        for secret in [
            password.as_str(),
            url.as_str(),
            "STAGEHAND_DATABASE_URL",
            "ERP_DB_PASSWORD",
        ] {
            assert!(
                !text.contains(secret),
                "{db}: log row {} holds {secret:?}: {text}",
                log.log_id
            );
        }
    }

    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

conformance!(a_run_counts_from_when_its_command_started);
async fn a_run_counts_from_when_its_command_started(db: &TestDb) {
    let dir = scratch("real-start");
    let started = dir.join("started");
    let go = dir.join("go");
    let command = format!(
        "date > '{}'; while [ ! -e '{}' ]; do sleep 0.05; done",
        started.display(),
        go.display()
    );
    task(&**db, "real-start", &command, |_| {}).await;
    let mut driver = Driver::start(db.url(), "real-start", 1, &[]);
    let id = db.register_new("real-start").await;
    let running = wait_for(&**db, id, LIMIT, |r| {
        r.status == ProcessStatus::InProgress && started.exists()
    })
    .await;
    let claimed_at = running.start_time.expect("a claimed run has a StartTime");
    // As if the claim had waited an hour before the command started.
    db.exec(&format!(
        "UPDATE stage.FileControl SET StartTime = {} WHERE ProcessID = {id}",
        db.shifted("StartTime", -1, common::Unit::Hour)
    ))
    .await;
    std::fs::write(&go, "").expect("release the command");

    let row = wait_final(&**db, id, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Completed, "{db}: {row:?}");
    let command_started = row
        .command_started_at
        .unwrap_or_else(|| panic!("{db}: the driver reports when the command started: {row:?}"));
    let end = row.end_time.expect("a finished run has an EndTime");
    // One clock here (driver and database on one machine); a millisecond of rounding.
    let slack = chrono::Duration::milliseconds(1);
    assert!(
        command_started + slack >= claimed_at && command_started <= end,
        "{db}: the command started after its claim ({claimed_at}) and before its end: {row:?}"
    );
    let stats = db.worker_statistics().await.expect("WorkerStatistics");
    assert_eq!(stats.len(), 1, "{db}: {stats:?}");
    assert!(
        stats[0].max_duration_seconds < 1800.0,
        "{db}: the run's duration counts from the command's start, not from the claim an hour earlier: {stats:?}"
    );

    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(Duration::from_secs(20)).await.success());
}

/// Which program supervised the command: its shell's parent's command line.
async fn supervisor_of_a_run(db: &TestDb, driver: &mut Driver, seen: &std::path::Path) -> String {
    let id = db.register_new("who-supervises").await;
    let row = wait_final(&**db, id, LIMIT).await;
    assert_eq!(row.status, ProcessStatus::Completed, "{db}: {row:?}");
    driver.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(driver.exit_within(LIMIT).await.success());
    let text = std::fs::read_to_string(seen).expect("the command wrote its parent");
    std::fs::remove_file(seen).unwrap();
    text
}

conformance!(commands_run_under_the_small_supervisor_or_the_binary_itself);
async fn commands_run_under_the_small_supervisor_or_the_binary_itself(db: &TestDb) {
    let dir = scratch("supervisor");
    let seen = dir.join("parent");
    task(
        &**db,
        "who-supervises",
        &format!("tr '\\0' ' ' < /proc/$PPID/cmdline > '{}'", seen.display()),
        |_| {},
    )
    .await;
    // Beside the stagehand binary, as cargo builds them: the small program.
    let mut driver = Driver::start(db.url(), "beside", 1, &[]);
    let parent = supervisor_of_a_run(db, &mut driver, &seen).await;
    assert!(
        parent.starts_with("stagehand-exec-shim --grace-ms"),
        "{db}: {parent:?}"
    );
    // A stagehand binary alone: itself.
    let alone = dir.join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    let binary = alone.join("stagehand");
    std::fs::copy(env!("CARGO_BIN_EXE_stagehand"), &binary).unwrap();
    let mut driver = Driver::start_program(&binary, db.url(), "alone", 1);
    let parent = supervisor_of_a_run(db, &mut driver, &seen).await;
    assert!(
        parent.starts_with("stagehand exec-shim --grace-ms"),
        "{db}: {parent:?}"
    );
    // A shim of another release beside it: not trusted with the protocol.
    let stale = alone.join("stagehand-exec-shim");
    std::fs::write(&stale, "#!/bin/sh\necho 'stagehand-exec-shim 0.0.0'\n").unwrap();
    std::fs::set_permissions(&stale, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut driver = Driver::start_program(&binary, db.url(), "stale", 1);
    let parent = supervisor_of_a_run(db, &mut driver, &seen).await;
    assert!(
        parent.starts_with("stagehand exec-shim --grace-ms"),
        "{db}: {parent:?}"
    );
}
