//! Unix: the shell is `sh -c`, and a command's tree starts as its own process group
//! (the child is spawned as a group leader; its descendants inherit the group).
//!
//! Linux: the group's leader is the supervisor `stagehand exec-shim` (see `shim.rs`),
//! which starts the command and owns every process below it, whatever session or
//! group they move to: the driver asks it to stop the tree (SIGTERM), and its death,
//! or the end of the run, ends the tree at once. Other Unixes have no child subreaper
//! (FreeBSD's procctl(PROC_REAP_ACQUIRE) comes closest, and is not used): there the
//! tree is the group alone, a descendant that moves to another group or session
//! (setsid, a daemon) is out of reach, and nothing ends the tree when the driver is
//! killed outright.

use std::io;
#[cfg(target_os = "linux")]
use std::os::unix::net::UnixStream;
use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// How often to look whether the group has emptied.
const POLL: Duration = Duration::from_millis(20);

/// How long the kernel may take to end a group after SIGKILL.
const KILL_SETTLE: Duration = Duration::from_secs(1);

/// A command through the platform shell. `/bin/sh` by its POSIX path: no PATH search
/// on the way to every command.
pub(super) fn shell(command: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd
}

/// What a shell exit code usually means (POSIX reserves 126 and 127).
pub(super) fn shell_exit_hint(code: i32) -> Option<&'static str> {
    match code {
        126 => Some("command not executable"),
        127 => Some("command not found"),
        _ => None,
    }
}

/// Describes an exit without an exit code: the child was killed by a signal.
pub(super) fn describe_abnormal_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(number) => match Signal::try_from(number) {
            Ok(signal) => format!("killed by signal {number} ({})", signal.as_str()),
            Err(_) => format!("killed by signal {number}"),
        },
        None => format!("ended abnormally ({status})"),
    }
}

/// A command's process group (on Linux, led by the supervisor). Dropping it before
/// [`ProcessTree::terminate`] finished kills the tree, so an abandoned run leaves
/// nothing behind: on Linux by closing the control socket, elsewhere by SIGKILL to
/// the group.
pub(super) struct ProcessTree {
    group: Option<Pid>,
    /// The supervisor's end of the control socket, until it is handed over as its stdin.
    #[cfg(target_os = "linux")]
    supervisor_end: Option<UnixStream>,
    /// Our end: the supervisor reports the start on it and kills the tree when it closes.
    #[cfg(target_os = "linux")]
    control: Option<UnixStream>,
}

impl ProcessTree {
    #[cfg(target_os = "linux")]
    pub(super) fn new() -> io::Result<Self> {
        // Close-on-exec: no other child of the driver inherits our end.
        let (control, supervisor_end) = UnixStream::pair()?;
        Ok(ProcessTree {
            group: None,
            supervisor_end: Some(supervisor_end),
            control: Some(control),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn new() -> io::Result<Self> {
        Ok(ProcessTree { group: None })
    }

    /// Makes the command start its own process group; on Linux the command is the
    /// supervisor, whose stdin becomes the control socket (the supervisor gives the
    /// real command a null stdin).
    pub(super) fn prepare(&mut self, command: &mut Command) {
        command.process_group(0);
        // Nothing runs in the child between fork and exec (the supervisor arms its own
        // parent-death signal): so the standard library starts it with posix_spawn, a
        // vfork, rather than a fork that copies the driver's whole address space.
        #[cfg(target_os = "linux")]
        if let Some(end) = self.supervisor_end.take() {
            command.stdin(std::os::fd::OwnedFd::from(end));
        }
    }

    /// Waits for the supervisor's start report: Ok once the command runs, else why it
    /// did not start.
    #[cfg(target_os = "linux")]
    pub(super) async fn started(&mut self, child: &mut Child) -> io::Result<()> {
        let control = self
            .control
            .take()
            .ok_or_else(|| io::Error::other("the control socket is gone"))?;
        control.set_nonblocking(true)?;
        let mut control = tokio::net::UnixStream::from_std(control)?;
        let exited = tokio::select! {
            biased;
            report = super::shim::start_report(&mut control) => Ok(report),
            status = child.wait() => Err(status),
        };
        let control = control.into_std()?;
        let report = match exited {
            Ok(report) => report,
            // Its report may still be in the socket, unread when the exit was seen.
            Err(status) => super::shim::report_left(&control).unwrap_or_else(|| {
                Err(io::Error::other(match status {
                    Ok(status) => {
                        format!("the supervisor ended before starting the command ({status})")
                    }
                    Err(err) => format!("waiting for the supervisor failed: {err}"),
                }))
            }),
        };
        self.control = Some(control);
        report
    }

    /// Records the spawned child as the tree's root.
    pub(super) fn adopt(&mut self, child: &Child) -> io::Result<()> {
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the child exited before it could be tracked"))?;
        let pid = i32::try_from(pid)
            .map_err(|_| io::Error::other(format!("process id {pid} out of range")))?;
        self.group = Some(Pid::from_raw(pid));
        Ok(())
    }

    /// Ends whatever is left of the tree and reaps the child: SIGTERM to the
    /// group, SIGKILL to what is still there after `grace`. Returns once no
    /// member runs any more, at once when the child has exited and left nothing.
    /// On Linux the supervisor gets the SIGTERM and does the rest for its whole
    /// tree; the group gets SIGKILL only if it has not ended soon after the grace.
    pub(super) async fn terminate(&mut self, child: &mut Child, grace: Duration) {
        // The group stays recorded until the end, so that dropping this future
        // midway still leaves the tree to Drop.
        let Some(group) = self.group else {
            return;
        };
        // A group id stays reserved while any member (even a zombie) exists, so
        // signalling a group that still has members cannot hit a stranger.
        let child_exited = matches!(child.try_wait(), Ok(Some(_)));
        if child_exited && !group_alive(group) {
            self.group = None;
            return;
        }
        // The supervisor exits only once its tree is gone, so while it runs it is the
        // one to ask. SIGKILL to its group would end it first and orphan the rest.
        let supervised = cfg!(target_os = "linux") && !child_exited;
        let deadline = if supervised {
            signal_process(group, Signal::SIGTERM);
            Instant::now() + grace + KILL_SETTLE
        } else {
            signal_group(group, Signal::SIGTERM);
            Instant::now() + grace
        };
        let _ = tokio::time::timeout_at(deadline, child.wait()).await;
        if !group_gone_by(group, deadline).await {
            if supervised {
                tracing::warn!(
                    group = group.as_raw(),
                    "the command's supervisor did not end its tree in time; killing its group"
                );
            } else {
                tracing::debug!(group = group.as_raw(), "grace over, sending SIGKILL");
            }
            signal_group(group, Signal::SIGKILL);
        }
        // The child itself too, should the group be unreachable: wait() must end.
        let _ = child.start_kill();
        if let Err(err) = child.wait().await {
            tracing::warn!("waiting for the killed command failed: {err}");
        }
        if !group_gone_by(group, Instant::now() + KILL_SETTLE).await {
            tracing::warn!(
                group = group.as_raw(),
                "processes of the command's group survived SIGKILL"
            );
        }
        self.group = None;
    }
}

impl Drop for ProcessTree {
    fn drop(&mut self) {
        // Linux: dropping `control` tells the supervisor to kill its tree at once.
        #[cfg(not(target_os = "linux"))]
        if let Some(group) = self.group.take() {
            signal_group(group, Signal::SIGKILL);
        }
    }
}

/// Waits until no member of the group runs, or `deadline`; true when none runs.
async fn group_gone_by(group: Pid, deadline: Instant) -> bool {
    loop {
        if !group_alive(group) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

fn signal_process(pid: Pid, signal: Signal) {
    match nix::sys::signal::kill(pid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(err) => tracing::warn!(
            pid = pid.as_raw(),
            "sending {} to the supervisor failed: {err}",
            signal.as_str()
        ),
    }
}

fn signal_group(group: Pid, signal: Signal) {
    match killpg(group, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(err) => tracing::warn!(
            group = group.as_raw(),
            "sending {} to the process group failed: {err}",
            signal.as_str()
        ),
    }
}

/// Whether any process of the group still runs. A group we may not signal
/// (EPERM: a member changed user) counts as gone: waiting for it is pointless.
fn group_alive(group: Pid) -> bool {
    killpg(group, None).is_ok() && has_running_member(group)
}

/// Exited descendants stay zombies in the group until their new parent reaps
/// them, and some inits (a container's PID 1) never do: only count members that
/// are not zombies, or every kill would wait out the whole grace period.
#[cfg(target_os = "linux")]
fn has_running_member(group: Pid) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    let group = group.as_raw().to_string();
    entries.flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let mut fields = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1);
        state != Some("Z") && pgrp == Some(group.as_str())
    })
}

#[cfg(not(target_os = "linux"))]
fn has_running_member(_group: Pid) -> bool {
    true
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_start_report_left_by_a_supervisor_that_already_ended_counts() {
        // A command as fast as `true` can start, end and take its supervisor with it
        // before the driver reads the report; the exit is then seen first.
        let mut tree = ProcessTree::new().expect("control socket");
        let mut command = Command::new("sh");
        command.args(["-c", "echo started >&0"]);
        tree.prepare(&mut command);
        let mut child = command.spawn().expect("spawn sh");
        assert!(child.wait().await.expect("wait").success());
        tree.started(&mut child)
            .await
            .expect("the report left in the socket is read");

        let mut tree = ProcessTree::new().expect("control socket");
        let mut command = Command::new("true");
        tree.prepare(&mut command);
        let mut child = command.spawn().expect("spawn true");
        child.wait().await.expect("wait");
        let error = tree.started(&mut child).await.expect_err("no report");
        assert!(
            error
                .to_string()
                .contains("ended before starting the command"),
            "{error}"
        );
    }
}
