//! How a run ends: exit codes, start failures, working directory, environment.
#![cfg(unix)]

use std::time::Duration;

mod exec_support;

use exec_support::run;
use stagehand::exec::{CommandSpec, OutcomeKind, RunOutcome};
use tokio_util::sync::CancellationToken;

async fn run_spec(spec: &CommandSpec) -> RunOutcome {
    run(spec, CancellationToken::new()).await
}

#[tokio::test]
async fn success_captures_stdout_and_stderr() {
    let outcome = run_spec(&CommandSpec::shell("echo hello; echo oops >&2")).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.message, "exited with code 0");
    assert_eq!(outcome.exit_code, Some(0));
    assert_eq!(outcome.stdout.text, "hello\n");
    assert_eq!(outcome.stderr.text, "oops\n");
    assert!(!outcome.stdout.truncated);
    assert_eq!(outcome.stdout.total_bytes, 6);
}

#[tokio::test]
async fn non_zero_exit_is_a_failure_with_its_code() {
    let outcome = run_spec(&CommandSpec::shell("echo partial; exit 3")).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(outcome.message, "exited with code 3");
    assert_eq!(outcome.exit_code, Some(3));
    assert_eq!(outcome.stdout.text, "partial\n");
}

#[tokio::test]
async fn killed_by_a_signal_says_which() {
    let outcome = run_spec(&CommandSpec::shell("kill -9 $$")).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(outcome.message, "killed by signal 9 (SIGKILL)");
    assert_eq!(outcome.exit_code, None);
}

#[tokio::test]
async fn the_signal_and_the_exit_code_are_the_commands_own() {
    let outcome = run_spec(&CommandSpec::shell("kill -TERM $$")).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(outcome.message, "killed by signal 15 (SIGTERM)");
    let outcome = run_spec(&CommandSpec::shell("exit 255")).await;
    assert_eq!(outcome.message, "exited with code 255");
    assert_eq!(outcome.exit_code, Some(255));
}

#[tokio::test]
async fn stdin_is_empty() {
    // A command reading stdin sees its end at once.
    let mut spec = CommandSpec::program("cat", Vec::<String>::new());
    spec.timeout = Some(Duration::from_secs(10));
    let outcome = run_spec(&spec).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.stdout.total_bytes, 0);
}

#[tokio::test]
async fn command_not_found_through_the_shell() {
    let outcome = run_spec(&CommandSpec::shell("stagehand-no-such-command-xyz --flag")).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(outcome.message, "exited with code 127 (command not found)");
    assert_eq!(outcome.exit_code, Some(127));
    assert!(
        outcome
            .stderr
            .text
            .contains("stagehand-no-such-command-xyz"),
        "the shell's own message is kept: {:?}",
        outcome.stderr.text
    );
}

#[tokio::test]
async fn program_arguments_are_passed_verbatim_without_a_shell() {
    let spec = CommandSpec::program("printf", ["%s|%s", "two words", "$HOME;*"]);
    let outcome = run_spec(&spec).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.stdout.text, "two words|$HOME;*");
}

#[tokio::test]
async fn runs_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = CommandSpec::shell("pwd -P; touch made-here");
    spec.working_directory = Some(dir.path().to_path_buf());
    let outcome = run_spec(&spec).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    let expected = dir.path().canonicalize().unwrap();
    assert_eq!(outcome.stdout.text.trim_end(), expected.to_str().unwrap());
    assert!(dir.path().join("made-here").exists());
}

#[tokio::test]
async fn environment_variables_reach_shell_and_program() {
    let env = vec![
        ("STAGEHAND_PROCESS_ID".to_owned(), "42".to_owned()),
        (
            "STAGEHAND_PROCESS_NAME".to_owned(),
            "nightly backup".to_owned(),
        ),
    ];
    let mut shell =
        CommandSpec::shell("printf '%s|%s' \"$STAGEHAND_PROCESS_ID\" \"$STAGEHAND_PROCESS_NAME\"");
    shell.env = env.clone();
    let outcome = run_spec(&shell).await;
    assert_eq!(outcome.stdout.text, "42|nightly backup", "{outcome:?}");

    let mut program = CommandSpec::program("printenv", ["STAGEHAND_PROCESS_NAME"]);
    program.env = env;
    let outcome = run_spec(&program).await;
    assert_eq!(outcome.stdout.text, "nightly backup\n", "{outcome:?}");
    // The inherited environment is still there (PATH found printenv above).
}

#[tokio::test]
async fn shell_metacharacters_in_a_variable_stay_inert() {
    let dir = tempfile::tempdir().unwrap();
    let parameters = r#"{"a":"'; touch pwned1 #","b":"\"; touch pwned2 #","c":"$(touch pwned3)","d":"`touch pwned4`","e":"| touch pwned5 && touch pwned6"}"#;
    let mut spec = CommandSpec::shell("printf '%s' \"$STAGEHAND_PARAMETERS\"");
    spec.working_directory = Some(dir.path().to_path_buf());
    spec.env = vec![("STAGEHAND_PARAMETERS".to_owned(), parameters.to_owned())];
    let outcome = run_spec(&spec).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.stdout.text, parameters);
    let created: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(created.is_empty(), "nothing else ran: {created:?}");
}

#[tokio::test]
async fn duration_covers_the_run() {
    let outcome = run_spec(&CommandSpec::shell("sleep 0.2")).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert!(
        outcome.duration >= Duration::from_millis(200),
        "{:?}",
        outcome.duration
    );
    assert!(
        outcome.duration < Duration::from_secs(2),
        "{:?}",
        outcome.duration
    );
}
