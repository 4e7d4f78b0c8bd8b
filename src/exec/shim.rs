//! Linux: `stagehand exec-shim`, the supervisor between the driver and each command.
//!
//! A process group and PR_SET_PDEATHSIG on the command reach only part of its tree:
//! when the driver is killed outright, the running child of `sh -c "a; b"`, a
//! background job or a daemonised grandchild lives on, and overlaps the next run of
//! the same process once its lease expires. So the driver starts each command through
//! its own binary, `stagehand exec-shim --grace-ms N --driver-pid P -- PROGRAM ARGS...`: a small
//! process (no async runtime, no database) that starts the command and owns its tree.
//!
//! It is a child subreaper (PR_SET_CHILD_SUBREAPER): a process of the tree whose
//! parent exits is reparented to the shim, not to init. Nothing a process does to
//! itself leaves the tree: setsid and setpgid change its session and group, not its
//! parent; a double fork orphans the grandchild, which then becomes the shim's child.
//! What escapes is what the tree asks a process outside it to start (systemd-run, at,
//! a container daemon, or a process the tree may ptrace and make fork), and a
//! descendant that became another user (a setuid program) may refuse our signals.
//! A cgroup per command, ended through `cgroup.kill`, would not need the walk through
//! /proc, but it needs a cgroup subtree delegated to the driver, which a plain service
//! or a login shell does not have; the subreaper works everywhere.
//!
//! The protocol with the driver (its half: [`supervised`] and [`start_report`] here,
//! the rest in `unix.rs`):
//! - The shim's stdin is one end of a socket pair; the driver keeps the other. The shim
//!   writes one line: `started`, `errno N` (the OS error that kept the command from
//!   starting) or `error TEXT`. The command's stdin is /dev/null; stdout, stderr,
//!   working directory and environment are the shim's, as the driver set them.
//! - The end of that stream (the driver exited, or abandoned the run) and SIGHUP (the
//!   parent-death signal the shim arms first thing, for the `--driver-pid` it was given
//!   and checks is still its parent) mean: the driver is gone; kill
//!   the whole tree at once, because another driver may soon run the process again.
//! - SIGTERM (or SIGINT) means: stop; SIGTERM to every process of the tree, SIGKILL to
//!   what is left after the grace. The same happens when the command exits and leaves
//!   descendants running.
//! - Only the driver's signals are orders. The shim shares the command's process
//!   group, so the command's `kill 0` reaches it too: that is the command signalling
//!   itself, as it would without a shim.
//! - The shim exits once it has no child left, as the command did: with its exit
//!   code, or killed by the same signal.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use tokio::process::Command;

/// The parent-death signal of the shim: the driver is gone.
pub(super) const DRIVER_GONE: Signal = Signal::SIGHUP;

/// The signals the shim handles; SIGCHLD tells it a process of the tree ended.
const HANDLED: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    DRIVER_GONE,
    Signal::SIGCHLD,
];

/// The first pause between two sweeps of a tree being killed; it doubles up to
/// [`SWEEP_MAX`] while processes survive (ones we may not signal, or in the kernel).
const SWEEP: Duration = Duration::from_millis(10);
const SWEEP_MAX: Duration = Duration::from_secs(1);

/// Driver side: `command` (program and arguments only) wrapped in the shim.
pub(super) fn supervised(command: &Command, grace: Duration) -> Result<Command, String> {
    let supervisor = super::supervisor::chosen().ok_or_else(|| {
        "no command supervisor configured (stagehand::exec::set_supervisor)".to_owned()
    })?;
    let inner = command.as_std();
    let mut shim = Command::new(&supervisor.program);
    // What ps shows, rather than /proc/self/...
    shim.arg0(supervisor.arg0);
    shim.args(supervisor.subcommand)
        .arg("--grace-ms")
        .arg(grace.as_millis().to_string())
        .arg("--driver-pid")
        .arg(std::process::id().to_string())
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args());
    Ok(shim)
}

/// Driver side: reads the shim's start report. Ok once the command runs; otherwise why
/// it did not start, as the OS said when it could.
pub(super) async fn start_report(control: &mut tokio::net::UnixStream) -> io::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut line = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let read = control.read(&mut chunk).await?;
        if read == 0 {
            return Err(io::Error::other(
                "the supervisor ended before starting the command",
            ));
        }
        line.extend_from_slice(&chunk[..read]);
        if let Some(report) = parse_report(&line) {
            return report;
        }
    }
}

/// Driver side, once the shim has exited: the start report it left in the socket, if it
/// wrote one (a fast command can start, end and take its supervisor with it before the
/// report is read). Does not wait.
pub(super) fn report_left(control: &std::os::unix::net::UnixStream) -> Option<io::Result<()>> {
    use std::io::Read;
    let mut line = Vec::new();
    let mut chunk = [0u8; 512];
    let mut reader = control;
    loop {
        match reader.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(read) => line.extend_from_slice(&chunk[..read]),
        }
        if let Some(report) = parse_report(&line) {
            return Some(report);
        }
    }
}

/// The report in `line` once it holds a whole line: `started`, `errno N` or `error TEXT`.
fn parse_report(line: &[u8]) -> Option<io::Result<()>> {
    let Some(end) = line.iter().position(|&b| b == b'\n') else {
        return (line.len() > 4096)
            .then(|| Err(io::Error::other("the supervisor's report is not one line")));
    };
    let line = String::from_utf8_lossy(&line[..end]);
    Some(match line.split_once(' ') {
        None if line == "started" => Ok(()),
        Some(("errno", number)) => match number.parse() {
            Ok(number) => Err(io::Error::from_raw_os_error(number)),
            Err(_) => Err(io::Error::other(format!("supervisor said {line:?}"))),
        },
        Some(("error", text)) => Err(io::Error::other(text.to_owned())),
        _ => Err(io::Error::other(format!("supervisor said {line:?}"))),
    })
}

/// `stagehand exec-shim`: supervises one command for the driver (internal; see
/// [`crate::exec`]).
#[derive(Debug, clap::Args)]
pub struct ShimArgs {
    /// Time between SIGTERM and SIGKILL when the tree is stopped, in milliseconds.
    #[arg(long = "grace-ms")]
    grace_ms: u64,
    /// The driver that starts the shim: its parent, whose death ends the tree.
    #[arg(long = "driver-pid")]
    driver_pid: i32,
    /// The program to run and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<OsString>,
}

impl ShimArgs {
    /// Runs the command to its end and returns (or dies) as it did. Expects the
    /// driver's control socket as stdin, and no async runtime.
    pub fn run(&self) -> ExitCode {
        // SAFETY: fd 0 is the control socket the driver passed as stdin, and nothing
        // else in this process reads or closes it.
        let control = unsafe { UnixStream::from_raw_fd(0) };
        let grace = Duration::from_millis(self.grace_ms);
        match supervise(
            &self.command,
            grace,
            Pid::from_raw(self.driver_pid),
            control,
        ) {
            Ok(Some(status)) => exit_like(status),
            // The driver was told why.
            Ok(None) => ExitCode::FAILURE,
            Err(err) => {
                eprintln!("stagehand exec-shim: {err}");
                ExitCode::FAILURE
            }
        }
    }
}

/// Starts the command, reports to the driver and watches the tree to its end; None
/// when the command did not start.
fn supervise(
    command: &[OsString],
    grace: Duration,
    driver: Pid,
    mut control: UnixStream,
) -> io::Result<Option<ExitStatus>> {
    // Armed first, and before the handled signals are blocked: from here the driver's
    // death (even by SIGKILL) ends the shim at once. Had it died before, we were
    // reparented: its pid is no longer our parent's, and nothing is started, since
    // another driver may soon run the process. "Dies" means the thread that spawned us
    // ends: the driver's runtime worker threads live as long as it does, and the
    // control socket's end covers the rest.
    nix::sys::prctl::set_pdeathsig(DRIVER_GONE)?;
    if nix::unistd::getppid() != driver {
        return Err(io::Error::other(
            "the driver exited while the command was starting",
        ));
    }
    if control.local_addr().is_err() {
        return Err(io::Error::other(
            "stdin is not the driver's control socket (exec-shim is started by `stagehand run`)",
        ));
    }
    // Not an OS error of the command's start: reported as text, not as an errno.
    let setup = setup().map_err(|err| io::Error::other(format!("supervisor setup failed: {err}")));
    let started = setup.and_then(|signals| {
        let (program, arguments) = command
            .split_first()
            .ok_or_else(|| io::Error::other("no command given"))?;
        let mut child = std::process::Command::new(program);
        child.args(arguments).stdin(Stdio::null());
        let shim = Pid::this();
        // SAFETY: runs in the forked child before exec and only makes async-signal-safe
        // system calls (sigprocmask, prctl, getppid).
        unsafe {
            child.pre_exec(move || {
                // The command must not inherit our blocked signals (std leaves the mask).
                sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
                // Should the shim itself be killed outright (`killall -9` of every
                // stagehand process), the command at least goes with it.
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                if nix::unistd::getppid() != shim {
                    return Err(io::Error::other("the supervisor ended meanwhile"));
                }
                Ok(())
            });
        }
        let child = child.spawn()?;
        Ok((signals, child.id()))
    });
    let report = match &started {
        Ok(_) => "started\n".to_owned(),
        Err(err) => match err.raw_os_error() {
            Some(number) => format!("errno {number}\n"),
            None => format!("error {}\n", err.to_string().replace('\n', " ")),
        },
    };
    // A failed write means the driver is gone: the watch sees the closed socket too.
    let _ = control.write_all(report.as_bytes());
    let Ok((signals, command)) = started else {
        return Ok(None);
    };
    let mut tree = Tree {
        driver,
        // Lossless: pid_max is at most 2^22.
        command: Pid::from_raw(command as i32),
        status: None,
        phase: Phase::Running,
        grace,
    };
    match tree.watch(&signals, &mut control) {
        Ok(status) => Ok(Some(status)),
        Err(err) => {
            tree.kill_blocking();
            Err(err)
        }
    }
}

/// Makes this process the reaper of the tree and turns the handled signals into a
/// file descriptor.
fn setup() -> io::Result<SignalFd> {
    nix::sys::prctl::set_child_subreaper(true)?;
    // Told apart from drivers in ps and top, and spared by `killall stagehand`, so that
    // it is still there to end the tree when the driver is killed that way.
    nix::sys::prctl::set_name(c"stagehand-shim")?;
    let mut mask = SigSet::empty();
    for handled in HANDLED {
        mask.add(handled);
    }
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
    for handled in HANDLED {
        // An ignored signal (`nohup`, a service manager) is discarded even while
        // blocked, and an ignored SIGCHLD would reap the command before we read its
        // status.
        // SAFETY: restores the default disposition; installs no handler.
        unsafe { signal(handled, SigHandler::SigDfl) }?;
    }
    Ok(SignalFd::with_flags(
        &mask,
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    )?)
}

enum Phase {
    /// The command runs.
    Running,
    /// SIGTERM was sent to the tree; SIGKILL follows at this instant.
    Stopping(Instant),
    /// SIGKILL to the tree, again after each pause, until nothing is left.
    Killing(Duration),
}

struct Tree {
    /// The parent that started the shim: the one process whose signals are orders.
    driver: Pid,
    command: Pid,
    status: Option<ExitStatus>,
    phase: Phase,
    grace: Duration,
}

impl Tree {
    /// Until no child is left: reaps, signals the tree as the phase says, waits for
    /// a signal, the driver's socket or the next deadline.
    fn watch(&mut self, signals: &SignalFd, control: &mut UnixStream) -> io::Result<ExitStatus> {
        let mut driver_connected = true;
        loop {
            if !self.reap()? {
                return self
                    .status
                    .ok_or_else(|| io::Error::other("the command ended unseen"));
            }
            if self.status.is_some() {
                // The command is gone but left descendants: they belong to its run.
                self.stop();
            }
            let timeout = match self.phase {
                Phase::Running => PollTimeout::NONE,
                Phase::Stopping(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        self.phase = Phase::Killing(SWEEP);
                        continue;
                    }
                    poll_timeout(left)
                }
                Phase::Killing(pause) => {
                    self.signal_tree(Signal::SIGKILL);
                    self.phase = Phase::Killing((pause * 2).min(SWEEP_MAX));
                    poll_timeout(pause)
                }
            };
            let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            if driver_connected {
                fds.push(PollFd::new(control.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(err) => return Err(err.into()),
            }
            let driver_spoke = fds
                .get(1)
                .and_then(|fd| fd.revents())
                .is_some_and(|events| !events.is_empty());
            drop(fds);
            while let Some(info) = signals.read_signal()? {
                // Orders come from the driver alone (its parent-death signal too is sent
                // in its name). The command's `kill 0` reaches the shim as a member of
                // its group, and a service manager stopping everything signals the
                // command itself: the command decides, as it would without a shim, and
                // the driver stops it after its own grace.
                if info.ssi_pid as i32 != self.driver.as_raw() {
                    continue;
                }
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGTERM | Signal::SIGINT) => self.stop(),
                    Ok(DRIVER_GONE) => self.kill(),
                    _ => {}
                }
            }
            if driver_spoke && driver_gone(control) {
                driver_connected = false;
                self.kill();
            }
        }
    }

    /// SIGTERM to the tree and SIGKILL after the grace, unless already stopping.
    fn stop(&mut self) {
        if matches!(self.phase, Phase::Running) {
            self.signal_tree(Signal::SIGTERM);
            self.phase = Phase::Stopping(Instant::now() + self.grace);
        }
    }

    /// SIGKILL to the tree from now on.
    fn kill(&mut self) {
        if !matches!(self.phase, Phase::Killing(_)) {
            self.phase = Phase::Killing(SWEEP);
        }
    }

    /// After a failure of the watch itself: kills the tree and waits until it is gone.
    fn kill_blocking(&mut self) {
        let mut pause = SWEEP;
        while self.reap().unwrap_or(false) {
            self.signal_tree(Signal::SIGKILL);
            std::thread::sleep(pause);
            pause = (pause * 2).min(SWEEP_MAX);
        }
    }

    /// Reaps every ended child, keeping the command's status; false once no child is left.
    fn reap(&mut self) -> io::Result<bool> {
        loop {
            let mut raw = 0;
            // SAFETY: waitpid only writes the status into `raw`.
            let reaped = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
            match Errno::result(reaped) {
                Ok(0) => return Ok(true),
                Ok(pid) if pid == self.command.as_raw() => {
                    self.status = Some(ExitStatus::from_raw(raw));
                }
                Ok(_) => {}
                Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => return Ok(false),
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Sends `signal` to every process below the shim.
    fn signal_tree(&self, signal: Signal) {
        let targets = descendants(Pid::this()).unwrap_or_else(|_| vec![self.command]);
        for pid in targets {
            // ESRCH: it ended meanwhile. EPERM: it became another user; nothing to do.
            let _ = kill(pid, signal);
        }
    }
}

/// Every process below `root`, from the parent links in /proc. A process forked after
/// the scan is found by the next one: killing stops only when no child is left. A pid
/// seen here could in theory be freed and reused before it is signalled, but pids are
/// handed out in sequence, so that takes a wrap of the whole pid space in microseconds.
fn descendants(root: Pid) -> io::Result<Vec<Pid>> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // Gone meanwhile, or not readable: either way not ours to signal.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(parent) = parent_of(&stat) {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut pending = vec![root.as_raw()];
    while let Some(parent) = pending.pop() {
        for child in children.remove(&parent).unwrap_or_default() {
            found.push(Pid::from_raw(child));
            pending.push(child);
        }
    }
    Ok(found)
}

/// The parent pid from /proc/PID/stat: "pid (comm) state ppid ...", where comm may
/// hold spaces and parentheses.
fn parent_of(stat: &str) -> Option<i32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// True when the driver closed its end (it exited, or abandoned the run).
fn driver_gone(control: &mut UnixStream) -> bool {
    let mut buffer = [0u8; 64];
    // Poll said readable, so this does not block. The driver never writes: data is
    // ignored.
    !matches!(control.read(&mut buffer), Ok(read) if read > 0)
}

fn poll_timeout(duration: Duration) -> PollTimeout {
    // Rounded up: waking before the deadline would only spin.
    let millis = duration.as_micros().div_ceil(1000);
    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
}

/// Ends this process as the command ended: same exit code, or same signal.
fn exit_like(status: ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX));
    }
    let Some(number) = status.signal() else {
        return ExitCode::FAILURE;
    };
    // No core file of the shim (nor a report of one by a core_pattern pipe): the
    // command's own one, if any, is already written.
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    let _ = nix::sys::prctl::set_dumpable(false);
    // Raw libc: nix's Signal has no real-time signals.
    // SAFETY: plain system calls on a local signal set; the default disposition
    // installs no handler.
    unsafe {
        libc::signal(number, libc::SIG_DFL);
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, number);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(number);
    }
    // Only reached for a signal whose default action is not to end the process,
    // which cannot have ended the command; the shell's convention then.
    ExitCode::from(128u8.saturating_add(u8::try_from(number).unwrap_or(u8::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_past_a_command_name_with_spaces_and_parentheses() {
        assert_eq!(parent_of("4321 (a) b (c) S 77 4321 4321 0 -1"), Some(77));
        assert_eq!(parent_of("1 (init) S 0 1 1 0 -1"), Some(0));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn the_tree_below_a_process_holds_its_children_and_theirs() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let shell = Pid::from_raw(child.id() as i32);
        // The grandchild appears once the shell forked it.
        let deadline = Instant::now() + Duration::from_secs(10);
        let below_shell = loop {
            let below = descendants(shell).unwrap();
            if !below.is_empty() || Instant::now() > deadline {
                break below;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let below_us = descendants(Pid::this()).unwrap();
        for pid in below_shell.iter().chain([&shell]) {
            let _ = kill(*pid, Signal::SIGKILL);
        }
        let _ = child.wait();
        assert_eq!(below_shell.len(), 1, "the shell's sleep: {below_shell:?}");
        assert!(
            below_us.contains(&shell) && below_us.contains(&below_shell[0]),
            "{below_us:?} holds the shell {shell} and its sleep"
        );
    }
}
