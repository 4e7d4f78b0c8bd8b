//! The program form finds a relative program the same way on every platform: in the
//! working directory first, then (a bare name) in PATH.

use std::path::Path;

mod exec_support;

use exec_support::run;
use stagehand::exec::{CommandSpec, OutcomeKind, RunOutcome};
use tokio_util::sync::CancellationToken;

/// Writes an executable script `dir/name` (`name.cmd` on Windows) printing `text`.
fn script(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho {text}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    #[cfg(windows)]
    std::fs::write(dir.join(format!("{name}.cmd")), format!("@echo {text}\r\n")).unwrap();
}

async fn run_in(dir: &Path, program: &str) -> RunOutcome {
    let mut spec = CommandSpec::program(program, Vec::<String>::new());
    spec.working_directory = Some(dir.to_path_buf());
    run(&spec, CancellationToken::new()).await
}

#[tokio::test]
async fn a_relative_path_is_found_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    script(&dir.path().join("bin"), "tool", "from-bin");
    let outcome = run_in(dir.path(), &format!("bin{}tool", std::path::MAIN_SEPARATOR)).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.stdout.text.trim_end(), "from-bin");
}

#[tokio::test]
async fn a_bare_name_is_found_in_the_working_directory_before_path() {
    let dir = tempfile::tempdir().unwrap();
    let on_path = tempfile::tempdir().unwrap();
    script(dir.path(), "stagehand-tool", "from-working-directory");
    script(on_path.path(), "stagehand-tool", "from-path");
    let mut spec = CommandSpec::program("stagehand-tool", Vec::<String>::new());
    spec.working_directory = Some(dir.path().to_path_buf());
    let path = std::env::join_paths(
        std::iter::once(on_path.path().to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    spec.env = vec![("PATH".into(), path.into_string().unwrap())];
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(
        outcome.stdout.text.trim_end(),
        "from-working-directory",
        "{outcome:?}"
    );

    std::fs::remove_dir_all(dir.path()).unwrap();
    std::fs::create_dir(dir.path()).unwrap();
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(
        outcome.stdout.text.trim_end(),
        "from-path",
        "then PATH: {outcome:?}"
    );
}

#[tokio::test]
async fn a_relative_path_is_not_looked_up_in_path() {
    let dir = tempfile::tempdir().unwrap();
    let program = format!("bin{}stagehand-missing", std::path::MAIN_SEPARATOR);
    let outcome = run_in(dir.path(), &program).await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(outcome.message, format!("command not found: {program}"));
}

#[cfg(unix)]
#[tokio::test]
async fn a_file_that_is_not_executable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain"), "echo hi\n").unwrap();
    let outcome = run_in(dir.path(), "./plain").await;
    assert_eq!(outcome.kind, OutcomeKind::Failed);
    assert_eq!(outcome.message, "command not executable: ./plain");
}
