//! Timeouts, cancellation and leftovers: the whole process tree goes.
#![cfg(unix)]

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::kill;
use nix::unistd::Pid;
mod exec_support;

use exec_support::run;
use stagehand::exec::{CommandSpec, OutcomeKind};
use tokio_util::sync::CancellationToken;

/// A shell that starts a long-running grandchild, records its pid in `pidfile`
/// (in the working directory) and then runs `then`.
fn tree_spec(dir: &Path, then: &str) -> CommandSpec {
    let mut spec = CommandSpec::shell(format!("sleep 300 & echo $! > pidfile; {then}"));
    spec.working_directory = Some(dir.to_path_buf());
    spec
}

/// Waits for the pidfile written by [`tree_spec`]'s command.
async fn grandchild_pid(dir: &Path) -> Pid {
    let path = dir.join("pidfile");
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(pid) = text.trim().parse() {
                return Pid::from_raw(pid);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no pidfile");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A process that exists and is not a zombie waiting to be reaped.
fn is_alive(pid: Pid) -> bool {
    if kill(pid, None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

async fn assert_gone_soon(pid: Pid) {
    let started = Instant::now();
    while is_alive(pid) {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "process {pid} survived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn timeout_kills_the_grandchild() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tree_spec(dir.path(), "echo waiting; wait");
    spec.timeout = Some(Duration::from_secs(1));
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::TimedOut, "{outcome:?}");
    assert_eq!(outcome.message, "timed out after 1 s");
    assert_eq!(
        outcome.stdout.text, "waiting\n",
        "output before the kill is kept"
    );
    assert!(
        outcome.duration < Duration::from_secs(3),
        "{:?}",
        outcome.duration
    );
    let pid = grandchild_pid(dir.path()).await;
    assert!(!is_alive(pid), "grandchild {pid} survived the timeout");
}

#[tokio::test]
async fn timeout_of_a_program_without_shell() {
    let mut spec = CommandSpec::program("sleep", ["300"]);
    spec.timeout = Some(Duration::from_millis(300));
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::TimedOut, "{outcome:?}");
    assert_eq!(outcome.message, "timed out after 0.3 s");
    assert!(
        outcome.duration < Duration::from_secs(3),
        "{:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn cancellation_kills_the_tree_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let spec = tree_spec(dir.path(), "wait");
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let cancel = cancel.clone();
        async move { run(&spec, cancel).await }
    });
    let pid = grandchild_pid(dir.path()).await;
    assert!(is_alive(pid));
    let cancelled_at = Instant::now();
    cancel.cancel();
    let outcome = running.await.unwrap();
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        cancelled_at.elapsed()
    );
    assert_eq!(outcome.kind, OutcomeKind::Cancelled, "{outcome:?}");
    assert_eq!(outcome.message, "cancelled");
    assert!(!is_alive(pid), "grandchild {pid} survived the cancellation");
}

#[tokio::test]
async fn a_tree_ignoring_sigterm_is_killed_after_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    // An ignored signal stays ignored in children, so the grandchild ignores it too.
    let mut spec = tree_spec(dir.path(), "wait");
    spec.command = format!("trap '' TERM; {}", spec.command);
    spec.timeout = Some(Duration::from_millis(300));
    spec.kill_grace = Duration::from_millis(300);
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::TimedOut, "{outcome:?}");
    assert!(
        outcome.duration >= Duration::from_millis(600),
        "the grace was given: {:?}",
        outcome.duration
    );
    assert!(
        outcome.duration < Duration::from_secs(3),
        "{:?}",
        outcome.duration
    );
    let pid = grandchild_pid(dir.path()).await;
    assert!(!is_alive(pid), "grandchild {pid} survived SIGKILL");
}

#[tokio::test]
async fn leftovers_holding_the_pipes_do_not_hold_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // The shell exits at once; its background sleep keeps stdout open.
    let spec = tree_spec(dir.path(), "echo done");
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.stdout.text, "done\n");
    assert!(
        outcome.duration < Duration::from_secs(3),
        "{:?}",
        outcome.duration
    );
    let pid = grandchild_pid(dir.path()).await;
    assert!(!is_alive(pid), "leftover {pid} survived the run");
}

#[tokio::test]
async fn dropping_the_run_kills_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let spec = tree_spec(dir.path(), "wait");
    let running = tokio::spawn(async move { run(&spec, CancellationToken::new()).await });
    let pid = grandchild_pid(dir.path()).await;
    assert!(is_alive(pid));
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    assert_gone_soon(pid).await;
}

/// Linux: a grandchild in a session (and process group) of its own is still in the tree.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn timeout_kills_a_grandchild_in_its_own_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = CommandSpec::shell("setsid sleep 300 & echo $! > pidfile; wait");
    spec.working_directory = Some(dir.path().to_path_buf());
    spec.timeout = Some(Duration::from_millis(500));
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::TimedOut, "{outcome:?}");
    let pid = grandchild_pid(dir.path()).await;
    assert!(
        !is_alive(pid),
        "grandchild {pid} in its own session survived"
    );
}

/// Linux: a leftover orphaned by a double fork is ended with the run.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_double_forked_leftover_ends_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = CommandSpec::shell("(setsid sleep 300 & echo $! > pidfile); echo done");
    spec.working_directory = Some(dir.path().to_path_buf());
    let outcome = run(&spec, CancellationToken::new()).await;
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.stdout.text, "done\n");
    let pid = grandchild_pid(dir.path()).await;
    assert!(!is_alive(pid), "daemonised leftover {pid} survived the run");
}

/// A command signalling its own process group (`kill 0`) signals itself, as it would
/// without a supervisor: the run goes on.
#[tokio::test]
async fn a_command_signalling_its_own_group_runs_on() {
    for signal in ["TERM", "HUP", "INT"] {
        // Ignored signals stay ignored in children: the sleep ignores it too.
        let mut spec = CommandSpec::shell(format!(
            "trap '' {signal}; kill -{signal} 0; sleep 0.5; echo still-here"
        ));
        spec.kill_grace = Duration::from_millis(100);
        let outcome = run(&spec, CancellationToken::new()).await;
        assert_eq!(
            outcome.kind,
            OutcomeKind::Succeeded,
            "SIG{signal}: {outcome:?}"
        );
        assert_eq!(outcome.stdout.text, "still-here\n", "SIG{signal}");
    }
}

/// Linux: only the driver (here: this test) gives the supervisor orders; a SIGTERM from
/// anyone else, such as a service manager signalling every process, is for the command
/// to handle.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn only_the_driver_stops_the_supervisor() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = CommandSpec::shell("echo $PPID > pidfile; sleep 1; echo finished");
    spec.working_directory = Some(dir.path().to_path_buf());
    let running = tokio::spawn(async move { run(&spec, CancellationToken::new()).await });
    let supervisor = grandchild_pid(dir.path()).await;
    let status = tokio::process::Command::new("kill")
        .args(["-TERM", &supervisor.to_string()])
        .status()
        .await
        .unwrap();
    assert!(
        status.success(),
        "kill(1) signalled the supervisor {supervisor}"
    );
    let outcome = running.await.unwrap();
    assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{outcome:?}");
    assert_eq!(outcome.stdout.text, "finished\n");
}

/// Linux: should the supervisor itself be killed outright, the command goes with it,
/// even when it left the group the driver would fall back to.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_supervisor_killed_outright_takes_the_command_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec =
        CommandSpec::shell("echo $PPID > supervisor; echo $$ > pidfile; exec setsid sleep 300");
    spec.working_directory = Some(dir.path().to_path_buf());
    let running = tokio::spawn(async move { run(&spec, CancellationToken::new()).await });
    let command = grandchild_pid(dir.path()).await;
    let supervisor: i32 = std::fs::read_to_string(dir.path().join("supervisor"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(Pid::from_raw(supervisor), nix::sys::signal::Signal::SIGKILL).unwrap();
    assert_gone_soon(command).await;
    let outcome = running.await.unwrap();
    assert_eq!(outcome.kind, OutcomeKind::Failed, "{outcome:?}");
}

/// Linux: the supervisor arms its parent-death signal itself, then checks that its parent
/// is still the driver it was started for; a supervisor whose driver is already gone
/// (here: whose parent is not the pid it was given) starts nothing, since another driver
/// may soon run the process.
#[cfg(target_os = "linux")]
#[test]
fn a_supervisor_whose_driver_is_gone_starts_nothing() {
    use std::io::Read;
    use std::os::unix::net::UnixStream;
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let supervise = |driver: u32| {
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
            .args(["exec-shim", "--grace-ms", "100", "--driver-pid"])
            .arg(driver.to_string())
            .args(["--", "/bin/sh", "-c", "touch \"$0\""])
            .arg(&marker)
            .stdin(std::os::fd::OwnedFd::from(theirs))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let mut report = String::new();
        ours.read_to_string(&mut report).unwrap();
        (status, report)
    };
    // Our parent, not us: as if the driver had died and we were its reparented shim.
    let (output, report) = supervise(nix::unistd::getppid().as_raw() as u32);
    assert!(!output.status.success(), "{output:?}");
    assert_eq!(report, "", "no start report");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("the driver exited"),
        "{output:?}"
    );
    assert!(!marker.exists(), "the command did not run");
    // Started by the driver it names: the command runs.
    let (output, report) = supervise(std::process::id());
    assert!(output.status.success(), "{output:?}");
    assert_eq!(report, "started\n");
    assert!(marker.exists(), "the command ran");
}
