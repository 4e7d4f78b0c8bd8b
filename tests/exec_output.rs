//! Output capture: bounded tails, decoding, the optional output file.
#![cfg(unix)]

mod exec_support;

use exec_support::run;
use stagehand::exec::{CommandSpec, OutcomeKind, DEFAULT_OUTPUT_LIMIT};
use tokio_util::sync::CancellationToken;

const TEN_MB: usize = 10 * 1024 * 1024;

#[tokio::test]
async fn ten_megabytes_on_both_streams_keep_only_the_tail() {
    // Both streams at once: a reader that blocked on one would stall the child.
    let spec = CommandSpec::shell(format!(
        "(yes out | head -c {TEN_MB}; printf OUT-END) & \
         (yes err | head -c {TEN_MB}; printf ERR-END) >&2; wait"
    ));
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{}", outcome.message);
    for (captured, end) in [(&outcome.stdout, "OUT-END"), (&outcome.stderr, "ERR-END")] {
        assert_eq!(captured.total_bytes, (TEN_MB + end.len()) as u64);
        assert!(captured.truncated);
        assert_eq!(captured.text.len(), DEFAULT_OUTPUT_LIMIT);
        assert!(captured.text.ends_with(end), "the tail is the last bytes");
    }
    assert!(outcome.stdout.text.contains("out\nout\n"));
}

#[tokio::test]
async fn invalid_utf8_is_replaced() {
    let outcome = run(
        &CommandSpec::shell(r"printf 'ok \377\376 end'"),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{}", outcome.message);
    assert_eq!(outcome.stdout.text, "ok \u{FFFD}\u{FFFD} end");
    assert_eq!(outcome.stdout.total_bytes, 9);
}

#[tokio::test]
async fn a_cut_inside_a_character_drops_the_broken_bytes() {
    // "ééé" is 6 bytes; keeping 5 cuts the first character in half.
    let mut spec = CommandSpec::program("printf", ["ééé"]);
    spec.output_limit = 5;
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.stdout.text, "éé");
    assert!(outcome.stdout.truncated);
    assert_eq!(outcome.stdout.total_bytes, 6);
}

#[tokio::test]
async fn output_file_receives_everything_appended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.log");
    std::fs::write(&path, "previous run\n").unwrap();
    let mut spec =
        CommandSpec::shell("echo first; echo warning >&2; yes line | head -n 50000; echo last");
    spec.output_limit = 1024;
    spec.output_file = Some(path.clone());
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{}", outcome.message);
    assert!(outcome.stdout.truncated);
    assert_eq!(outcome.stdout.text.len(), 1024);

    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.starts_with("previous run\n"),
        "appended, not replaced"
    );
    assert!(written.contains("first\n"));
    assert!(written.contains("warning\n"));
    assert!(written.ends_with("last\n") || written.contains("last\n"));
    let expected_len =
        "previous run\n".len() as u64 + outcome.stdout.total_bytes + outcome.stderr.total_bytes;
    assert_eq!(written.len() as u64, expected_len);
}

#[tokio::test]
async fn an_unusable_output_file_fails_before_starting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("run.log");
    let mut spec = CommandSpec::shell("touch started");
    spec.working_directory = Some(dir.path().to_path_buf());
    spec.output_file = Some(path.clone());
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert!(
        outcome
            .message
            .starts_with(&format!("cannot open output file {}:", path.display())),
        "{}",
        outcome.message
    );
    assert!(!dir.path().join("started").exists());
}
