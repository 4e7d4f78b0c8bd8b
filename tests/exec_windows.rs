//! Running commands on Windows: cmd, exit codes, the job object, Ctrl-Break, output
//! code pages. The helper processes are this test binary itself (see windows_support).
#![cfg(windows)]

mod windows_support;

use std::time::Duration;

use stagehand::exec::{run, CommandSpec, OutcomeKind, OutputEncoding};
use tokio_util::sync::CancellationToken;
use windows_support::{alive, assert_gone_within, helper_command, helper_command_as, pids, ROLE};

#[test]
#[ignore = "a helper process the other tests start"]
fn helper() {
    windows_support::run_helper();
}

fn in_dir(dir: &std::path::Path, command: String) -> CommandSpec {
    let mut spec = CommandSpec::shell(command);
    spec.working_directory = Some(dir.to_path_buf());
    spec
}

#[tokio::test]
async fn success_captures_stdout_and_stderr() {
    let outcome = run(
        &CommandSpec::shell("echo hello& >&2 echo oops"),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.message, "exited with code 0");
    assert_eq!(outcome.stdout.text, "hello\r\n");
    assert_eq!(outcome.stderr.text, "oops\r\n");
}

#[tokio::test]
async fn non_zero_exit_is_a_failure_with_its_code() {
    let outcome = run(
        &CommandSpec::shell("echo partial& exit /b 3"),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(outcome.kind, OutcomeKind::Failed, "{outcome:?}");
    assert_eq!(outcome.message, "exited with code 3");
    assert_eq!(outcome.exit_code, Some(3));
    assert_eq!(outcome.stdout.text, "partial\r\n");
}

#[tokio::test]
async fn command_not_found_through_cmd() {
    let outcome = run(
        &CommandSpec::shell("stagehand-no-such-command-xyz --flag"),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(outcome.kind, OutcomeKind::Failed, "{outcome:?}");
    assert_eq!(outcome.exit_code, Some(9009), "{outcome:?}");
    assert_eq!(outcome.message, "exited with code 9009 (command not found)");
}

#[tokio::test]
async fn paths_with_spaces_and_quotes_reach_cmd_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let spaced = dir.path().join("with space");
    std::fs::create_dir(&spaced).unwrap();
    let spec = in_dir(&spaced, "echo \"a & b\"> \"out file.txt\"".to_owned());
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    let written = std::fs::read_to_string(spaced.join("out file.txt")).unwrap();
    assert_eq!(written, "\"a & b\"\r\n");
}

#[tokio::test]
async fn timeout_kills_a_grandchild_started_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    // cmd starts one helper in the background and waits on a second one.
    let mut spec = in_dir(
        dir.path(),
        format!(
            "set {ROLE}=sleeper&& start \"\" /b {} & {}",
            helper_command(),
            helper_command()
        ),
    );
    spec.timeout = Some(Duration::from_secs(3));
    spec.kill_grace = Duration::from_millis(500);
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::TimedOut, "{outcome:?}");
    assert_eq!(outcome.message, "timed out after 3 s");
    for pid in pids(dir.path(), 2).await {
        assert_gone_within(pid, Duration::from_secs(5)).await;
    }
}

// Ctrl-Break delivery itself is not tested: a test run under Wine from a pipe has no
// console, so no console event can be sent (the stop then terminates at once).
#[tokio::test]
async fn cancellation_ends_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = in_dir(dir.path(), helper_command_as("sleeper"));
    spec.kill_grace = Duration::from_secs(1);
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let cancel = cancel.clone();
        async move { run(&spec, cancel).await }
    });
    let pid = pids(dir.path(), 1).await[0];
    assert!(alive(pid));
    cancel.cancel();
    let outcome = running.await.unwrap();
    assert_eq!(outcome.kind, OutcomeKind::Cancelled, "{outcome:?}");
    assert_eq!(outcome.message, "cancelled");
    assert_gone_within(pid, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_tree_ignoring_ctrl_break_is_terminated_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = in_dir(dir.path(), helper_command_as("sleeper"));
    spec.timeout = Some(Duration::from_secs(2));
    spec.kill_grace = Duration::from_millis(500);
    let running = tokio::spawn(async move { run(&spec, CancellationToken::new()).await });
    let pid = pids(dir.path(), 1).await[0];
    let outcome = running.await.unwrap();
    assert_eq!(outcome.kind, OutcomeKind::TimedOut, "{outcome:?}");
    assert_gone_within(pid, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_parameter_with_cmd_metacharacters_stays_inert_when_read_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let parameters = r#"{"a":"x\" & echo pwned > pwned.txt & \"","b":"%PATH% ^& | > pwned2.txt"}"#;
    // The documented form: the program reads STAGEHAND_PARAMETERS itself.
    let mut spec = in_dir(dir.path(), helper_command_as("parameters"));
    spec.env = vec![("STAGEHAND_PARAMETERS".to_owned(), parameters.to_owned())];
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    let received = std::fs::read_to_string(dir.path().join("parameters.txt")).unwrap();
    assert_eq!(received, parameters, "the value arrives verbatim");
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["parameters.txt"], "nothing else ran");
}

#[tokio::test]
async fn output_in_the_oem_code_page_is_decoded() {
    // cmd writes to a pipe in the console's (OEM) code page; é is 0x82 in the common ones.
    let outcome = run(&CommandSpec::shell("echo Café"), CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.stdout.text, "Café\r\n");
}

#[tokio::test]
async fn a_code_page_can_be_chosen_and_the_output_file_keeps_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    // "São" in code page 850 (ã is 0xC6) and in 1252 (ã is 0xE3); `type` copies bytes.
    std::fs::write(dir.path().join("850.txt"), b"S\xC6o").unwrap();
    std::fs::write(dir.path().join("1252.txt"), b"S\xE3o").unwrap();
    for (file, encoding) in [
        ("850.txt", OutputEncoding::CodePage(850)),
        ("1252.txt", OutputEncoding::CodePage(1252)),
    ] {
        let mut spec = in_dir(dir.path(), format!("type {file}"));
        spec.output_encoding = encoding;
        spec.output_file = Some(dir.path().join(format!("{file}.log")));
        let outcome = run(&spec, CancellationToken::new()).await;
        assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
        assert_eq!(outcome.stdout.text, "São", "{encoding}");
        assert_eq!(
            std::fs::read(dir.path().join(format!("{file}.log"))).unwrap(),
            std::fs::read(dir.path().join(file)).unwrap(),
            "the output file keeps the raw bytes"
        );
    }
}
