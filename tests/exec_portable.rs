//! How a run ends, the same on every platform: start failures, bad specs, cancellation.

mod exec_support;

use exec_support::run;
use stagehand::exec::{CommandSpec, OutcomeKind, RunOutcome};
use tokio_util::sync::CancellationToken;

async fn run_spec(spec: &CommandSpec) -> RunOutcome {
    run(spec, CancellationToken::new()).await
}

#[tokio::test]
async fn command_not_found_as_a_program() {
    let spec = CommandSpec::program("stagehand-no-such-command-xyz", ["a"]);
    let outcome = run_spec(&spec).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(
        outcome.message,
        "command not found: stagehand-no-such-command-xyz"
    );
    assert_eq!(outcome.exit_code, None);
}

#[tokio::test]
async fn missing_working_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-there");
    let mut spec = CommandSpec::shell("echo should-not-run");
    spec.working_directory = Some(missing.clone());
    let outcome = run_spec(&spec).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(
        outcome.message,
        format!("working directory does not exist: {}", missing.display())
    );
    assert_eq!(outcome.stdout.text, "");
}

#[tokio::test]
async fn working_directory_that_is_a_file_is_named() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut spec = CommandSpec::shell("echo x");
    spec.working_directory = Some(file.path().to_path_buf());
    let outcome = run_spec(&spec).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(
        outcome.message,
        format!(
            "working directory is not a directory: {}",
            file.path().display()
        )
    );
}

#[tokio::test]
async fn invalid_specs_are_rejected_naming_the_field() {
    let outcome = run_spec(&CommandSpec::shell("  ")).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(outcome.message, "invalid command: command is empty");

    let mut spec = CommandSpec::shell("echo x");
    spec.env = vec![("A=B".to_owned(), "x".to_owned())];
    let outcome = run_spec(&spec).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(
        outcome.message,
        "invalid environment variable name: \"A=B\""
    );
}

#[tokio::test]
async fn a_cancelled_token_prevents_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = CommandSpec::shell("echo x > started");
    spec.working_directory = Some(dir.path().to_path_buf());
    let cancel = CancellationToken::new();
    cancel.cancel();
    let outcome = run(&spec, cancel).await;
    assert_eq!(outcome.kind, OutcomeKind::Cancelled);
    assert!(!dir.path().join("started").exists());
}
