//! Running one command: through the platform shell or as a program with an
//! argument vector, in a working directory, with extra environment variables,
//! capturing a bounded tail of stdout and stderr, with a timeout and
//! cancellation that kill the whole process tree.
//!
//! ```no_run
//! # async fn example() {
//! use stagehand::exec::{run, CommandSpec, OutcomeKind};
//! use tokio_util::sync::CancellationToken;
//!
//! let mut spec = CommandSpec::shell("echo \"$STAGEHAND_PARAMETERS\"");
//! spec.env.push(("STAGEHAND_PARAMETERS".into(), r#"{"day":"2024-01-31"}"#.into()));
//! spec.timeout = Some(std::time::Duration::from_secs(60));
//! let outcome = run(&spec, CancellationToken::new()).await;
//! assert_eq!(outcome.kind, OutcomeKind::Succeeded, "{}", outcome.message);
//! # }
//! ```
//!
//! A command's tree is the command and every process it starts, and their
//! children, down to the last one. It lives only as long as the command: when the
//! command exits, descendants it left running are ended too (SIGTERM, then SIGKILL
//! after the grace period), as on timeout and cancellation. If the future returned
//! by [`run`] is dropped, the tree is killed at once; so it is when the driver is
//! killed outright (SIGKILL, the OOM killer, a crash), before another driver can run
//! the same process again.
//!
//! - Linux: each command runs under a small supervisor ([`supervisor`]: the
//!   `stagehand-exec-shim` program beside the stagehand binary, or `stagehand
//!   exec-shim`, or the binary set with [`set_supervisor`]). It is a child subreaper, so
//!   every process of the tree stays below it whatever session or process group it
//!   moves to (setsid, a double fork, a daemon), and it kills the whole tree when it
//!   is told to, when the command is done, or when the driver dies.
//! - Other Unixes: the tree is the command's process group: a process that leaves the
//!   group is out of reach, and nothing ends the group when the driver is killed.
//! - Windows: a Job Object that kills its processes when its last handle closes,
//!   which the death of the driver does.

mod encoding;
mod output;
mod program;
#[cfg(target_os = "linux")]
mod shim;
#[cfg(target_os = "linux")]
pub mod supervisor;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
use windows as platform;

use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

pub use encoding::OutputEncoding;
pub use output::Captured;
#[cfg(target_os = "linux")]
pub use shim::ShimArgs;
#[cfg(target_os = "linux")]
pub use supervisor::{set_supervisor, supervise_with_own_binaries};

/// Bytes of each output stream kept by default (the last ones).
pub const DEFAULT_OUTPUT_LIMIT: usize = 64 * 1024;

/// How long a tree gets between the request to stop and the kill by default.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// What to run and how. Build it with [`CommandSpec::shell`] or
/// [`CommandSpec::program`], then set the public fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// Without `arguments`: a command line for the platform shell (`sh -c` on
    /// Unix, `cmd /C` on Windows). With `arguments`: the program to start; a
    /// relative name is looked up in the working directory, then (a bare name)
    /// in PATH, on every platform.
    pub command: String,
    /// When set, `command` is started directly with these arguments; no shell.
    pub arguments: Option<Vec<String>>,
    /// Where the command runs; the driver's current directory when unset.
    pub working_directory: Option<PathBuf>,
    /// Variables added to the inherited environment. Values reach the command
    /// only through its environment, never through its command line.
    pub env: Vec<(String, String)>,
    /// Variables of the inherited environment the command must not get.
    pub env_remove: Vec<String>,
    /// The tree is killed and the run is [`OutcomeKind::TimedOut`] after this long.
    pub timeout: Option<Duration>,
    /// Bytes kept of each of stdout and stderr: the last ones.
    pub output_limit: usize,
    /// When set, all of stdout and stderr (as they arrive) is appended to this file.
    pub output_file: Option<PathBuf>,
    /// Time between asking the tree to stop (SIGTERM on Unix, Ctrl-Break on
    /// Windows) and killing it; also how long output is still read after the
    /// command ended.
    pub kill_grace: Duration,
    /// How the captured output is decoded (the output file keeps the raw bytes).
    pub output_encoding: OutputEncoding,
}

impl CommandSpec {
    /// A command line run through the platform shell.
    pub fn shell(command: impl Into<String>) -> Self {
        CommandSpec {
            command: command.into(),
            arguments: None,
            working_directory: None,
            env: Vec::new(),
            env_remove: Vec::new(),
            timeout: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            output_file: None,
            kill_grace: DEFAULT_KILL_GRACE,
            output_encoding: OutputEncoding::default(),
        }
    }

    /// A program started directly with an argument vector.
    pub fn program<I, S>(program: impl Into<String>, arguments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandSpec {
            arguments: Some(arguments.into_iter().map(Into::into).collect()),
            ..CommandSpec::shell(program)
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Exit code 0.
    Succeeded,
    /// Did not start, exited with another code, or was killed by a signal
    /// we did not send.
    Failed,
    /// Killed because the spec's timeout elapsed.
    TimedOut,
    /// Killed because the cancellation token fired.
    Cancelled,
}

/// The result of [`run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub kind: OutcomeKind,
    /// One line saying how it ended, e.g. `exited with code 3`,
    /// `killed by signal 9 (SIGKILL)`, `command not found: foo`,
    /// `working directory does not exist: /x`, `timed out after 5 s`, `cancelled`.
    pub message: String,
    /// The exit code, when the command exited by itself with one.
    pub exit_code: Option<i32>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// From the call to [`run`] until everything was collected.
    pub duration: Duration,
}

/// Runs one command to its end; never fails: problems are in the outcome.
/// stdin is null. Firing `cancel` kills the tree and ends the run as
/// [`OutcomeKind::Cancelled`].
pub async fn run(spec: &CommandSpec, cancel: CancellationToken) -> RunOutcome {
    let started = Instant::now();
    if cancel.is_cancelled() {
        return RunOutcome {
            kind: OutcomeKind::Cancelled,
            ..not_started("cancelled before it started".to_owned(), started)
        };
    }
    let mut tree = match platform::ProcessTree::new() {
        Ok(tree) => tree,
        Err(err) => return not_started(format!("cannot track processes: {err}"), started),
    };
    let (mut child, capture) = match start(spec, &mut tree).await {
        Ok(running) => running,
        Err(message) => return not_started(message, started),
    };

    let timeout = async {
        match spec.timeout {
            Some(limit) => tokio::time::sleep(limit).await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        biased;
        status = child.wait() => Ended::Exited(status),
        () = timeout => Ended::TimedOut,
        () = cancel.cancelled() => Ended::Cancelled,
    };
    // Also after a normal exit: descendants left behind belong to this run.
    tree.terminate(&mut child, spec.kill_grace).await;
    let (stdout, stderr) = capture.finish(spec.kill_grace).await;

    let (kind, message, exit_code) = match ended {
        Ended::Exited(Ok(status)) => describe_exit(status, spec.arguments.is_none()),
        Ended::Exited(Err(err)) => (
            OutcomeKind::Failed,
            format!("waiting for the command failed: {err}"),
            None,
        ),
        Ended::TimedOut => {
            let secs = spec.timeout.unwrap_or_default().as_secs_f64();
            (
                OutcomeKind::TimedOut,
                format!("timed out after {secs} s"),
                None,
            )
        }
        Ended::Cancelled => (OutcomeKind::Cancelled, "cancelled".to_owned(), None),
    };
    tracing::debug!(command = %spec.command, ?kind, %message, "command ended");
    RunOutcome {
        kind,
        message,
        exit_code,
        stdout,
        stderr,
        duration: started.elapsed(),
    }
}

enum Ended {
    Exited(io::Result<ExitStatus>),
    TimedOut,
    Cancelled,
}

/// Checks the spec, spawns the child in `tree` and starts reading its output.
/// The error is the outcome message.
async fn start(
    spec: &CommandSpec,
    tree: &mut platform::ProcessTree,
) -> Result<(Child, output::Capture), String> {
    validate(spec)?;
    if let Some(dir) = &spec.working_directory {
        match tokio::fs::metadata(dir).await {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "working directory is not a directory: {}",
                    dir.display()
                ))
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(format!(
                    "working directory does not exist: {}",
                    dir.display()
                ))
            }
            Err(err) => {
                return Err(format!(
                    "working directory {} is not usable: {err}",
                    dir.display()
                ))
            }
        }
    }
    let files = match &spec.output_file {
        Some(path) => match output::open_output_file(path).await {
            Ok(handles) => Some((handles, path.clone())),
            Err(err) => return Err(format!("cannot open output file {}: {err}", path.display())),
        },
        None => None,
    };

    let mut command = match &spec.arguments {
        None => platform::shell(&spec.command),
        Some(arguments) => {
            let mut command = Command::new(program::resolve(
                &spec.command,
                spec.working_directory.as_deref(),
                command_path(spec),
            )?);
            command.args(arguments);
            command
        }
    };
    #[cfg(target_os = "linux")]
    {
        command = shim::supervised(&command, spec.kill_grace)?;
    }
    if let Some(dir) = &spec.working_directory {
        command.current_dir(dir);
    }
    for name in &spec.env_remove {
        command.env_remove(name);
    }
    command
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tree.prepare(&mut command);

    let mut child = command.spawn().map_err(|err| spawn_error(spec, &err))?;
    if let Err(err) = tree.adopt(&child) {
        // Best effort: the child is not in the tree, so only it can be stopped.
        let _ = child.start_kill();
        return Err(format!("cannot track the command's processes: {err}"));
    }
    #[cfg(target_os = "linux")]
    if let Err(err) = tree.started(&mut child).await {
        tree.terminate(&mut child, spec.kill_grace).await;
        return Err(spawn_error(spec, &err));
    }
    tracing::debug!(command = %spec.command, pid = child.id(), "command started");
    let capture = output::Capture::start(
        child.stdout.take(),
        child.stderr.take(),
        spec.output_limit,
        spec.output_encoding,
        files,
    );
    Ok((child, capture))
}

/// The PATH the command gets: its own when the spec sets one, else the driver's.
fn command_path(spec: &CommandSpec) -> Option<std::ffi::OsString> {
    let own = spec.env.iter().find(|(name, _)| {
        if cfg!(windows) {
            name.eq_ignore_ascii_case("PATH")
        } else {
            name == "PATH"
        }
    });
    match own {
        Some((_, value)) => Some(value.into()),
        None => std::env::var_os("PATH"),
    }
}

/// Rejects what the OS would reject with an unclear message.
fn validate(spec: &CommandSpec) -> Result<(), String> {
    if spec.command.trim().is_empty() {
        return Err("invalid command: command is empty".to_owned());
    }
    for (name, value) in &spec.env {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(format!("invalid environment variable name: {name:?}"));
        }
        if value.contains('\0') {
            return Err(format!(
                "invalid value of environment variable {name}: contains a NUL byte"
            ));
        }
    }
    Ok(())
}

fn spawn_error(spec: &CommandSpec, err: &io::Error) -> String {
    match (&spec.arguments, err.kind()) {
        (Some(_), io::ErrorKind::NotFound) => format!("command not found: {}", spec.command),
        (Some(_), io::ErrorKind::PermissionDenied) => {
            format!("command not executable: {}", spec.command)
        }
        (Some(_), _) => format!("cannot start {}: {err}", spec.command),
        (None, _) => format!("cannot start the shell: {err}"),
    }
}

fn describe_exit(status: ExitStatus, via_shell: bool) -> (OutcomeKind, String, Option<i32>) {
    match status.code() {
        Some(0) => (
            OutcomeKind::Succeeded,
            "exited with code 0".to_owned(),
            Some(0),
        ),
        Some(code) => {
            let hint = via_shell.then(|| platform::shell_exit_hint(code)).flatten();
            let message = match hint {
                Some(hint) => format!("exited with code {code} ({hint})"),
                None => format!("exited with code {code}"),
            };
            (OutcomeKind::Failed, message, Some(code))
        }
        None => (
            OutcomeKind::Failed,
            platform::describe_abnormal_exit(status),
            None,
        ),
    }
}

fn not_started(message: String, started: Instant) -> RunOutcome {
    tracing::debug!(%message, "command not started");
    RunOutcome {
        kind: OutcomeKind::Failed,
        message,
        exit_code: None,
        stdout: Captured::default(),
        stderr: Captured::default(),
        duration: started.elapsed(),
    }
}
