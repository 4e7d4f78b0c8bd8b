//! Windows: the shell is `cmd /C`, and a command's tree is a Job Object
//! (child processes join their parent's job). The job kills its processes when
//! its last handle closes, so nothing outlives a run even if it is abandoned.
//!
//! The child is created suspended, put in the job, then resumed: nothing it
//! starts can escape the job. It is also the root of a process group of its
//! own, so a console Ctrl-C aimed at the driver does not reach it (Windows
//! disables Ctrl-C in a new group) and a graceful stop can send Ctrl-Break to
//! just this command's group.
//!
//! Consoles: Ctrl-Break only reaches processes attached to the sender's console.
//! When the driver has a console the command shares it (no window appears) and
//! receives Ctrl-Break directly. When the driver has none (a service), the
//! command gets a console without a window (CREATE_NO_WINDOW) and the driver
//! attaches to it for the moment it sends Ctrl-Break. When the event cannot be
//! sent (Wine 8's GenerateConsoleCtrlEvent fails), the job is terminated at once:
//! waiting the grace would only delay the same end.

use std::ffi::c_void;
use std::io;
use std::process::ExitStatus;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::System::Console::{
    AttachConsole, FreeConsole, GenerateConsoleCtrlEvent, GetConsoleProcessList, CTRL_BREAK_EVENT,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation,
    JobObjectExtendedLimitInformation, QueryInformationJobObject, SetInformationJobObject,
    TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    OpenThread, ResumeThread, CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, CREATE_SUSPENDED,
    THREAD_SUSPEND_RESUME,
};

/// Exit code given to processes ended by [`ProcessTree::terminate`].
const TERMINATED_EXIT_CODE: u32 = 1;

/// How often to look whether the job has emptied.
const POLL: Duration = Duration::from_millis(20);

/// Attaching to a command's console changes the whole driver's console: one at a time.
static CONSOLE: Mutex<()> = Mutex::new(());

/// A command through the platform shell.
pub(super) fn shell(command: &str) -> Command {
    let comspec = std::env::var_os("ComSpec").unwrap_or_else(|| "cmd.exe".into());
    let mut cmd = Command::new(comspec);
    // /S with one outer pair of quotes: cmd strips exactly that pair and runs the
    // rest verbatim (without /S its quote handling depends on the text). /D skips
    // AutoRun commands from the registry, which would make runs host-dependent.
    cmd.raw_arg(format!("/D /S /C \"{command}\""));
    cmd
}

/// What a shell exit code usually means.
pub(super) fn shell_exit_hint(code: i32) -> Option<&'static str> {
    match code {
        9009 => Some("command not found"),
        _ => None,
    }
}

/// Describes an exit without an exit code (never happens on Windows, where
/// every exit has a code).
pub(super) fn describe_abnormal_exit(status: ExitStatus) -> String {
    format!("ended abnormally ({status})")
}

/// Whether the driver has a console of its own. Read once, before any command
/// runs: while the driver is attached to a command's console for a Ctrl-Break, the
/// answer would be that console.
fn driver_has_console() -> bool {
    static HAS_CONSOLE: OnceLock<bool> = OnceLock::new();
    *HAS_CONSOLE.get_or_init(|| {
        // Neither a window nor a code page tells (a console may have neither: Wine's,
        // CREATE_NO_WINDOW's); the list of its processes, this one included, does.
        let mut first = 0u32;
        // SAFETY: a buffer of one process id, as the length says; 0 without a console.
        unsafe { GetConsoleProcessList(&mut first, 1) != 0 }
    })
}

/// A command's Job Object and process group.
pub(super) struct ProcessTree {
    job: HANDLE,
    /// The process group id: the root's process id, once started.
    group: Option<u32>,
    /// Whether the command got a console of its own (the driver has none).
    own_console: bool,
}

// SAFETY: a job handle is a kernel object reference; any thread may use it.
unsafe impl Send for ProcessTree {}
unsafe impl Sync for ProcessTree {}

impl ProcessTree {
    pub(super) fn new() -> io::Result<Self> {
        // SAFETY: null attributes and name are allowed (default security, unnamed).
        let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if job.is_null() {
            return Err(io::Error::last_os_error());
        }
        let tree = ProcessTree {
            job,
            group: None,
            own_console: !driver_has_console(),
        };
        // SAFETY: the struct is plain data for which all-zero is valid.
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: `limits` is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION of the size given.
        let ok = unsafe {
            SetInformationJobObject(
                tree.job,
                JobObjectExtendedLimitInformation,
                &limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION as *const c_void,
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(tree)
    }

    /// The child starts suspended, as the root of its own process group.
    pub(super) fn prepare(&self, command: &mut Command) {
        let mut flags = CREATE_SUSPENDED | CREATE_NEW_PROCESS_GROUP;
        if self.own_console {
            flags |= CREATE_NO_WINDOW;
        }
        command.creation_flags(flags);
    }

    /// Puts the suspended child in the job, then lets it run: its descendants
    /// are all born in the job.
    pub(super) fn adopt(&mut self, child: &Child) -> io::Result<()> {
        let process = child
            .raw_handle()
            .ok_or_else(|| io::Error::other("the child exited before it could be tracked"))?;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the child exited before it could be tracked"))?;
        // SAFETY: both handles are valid and open for the duration of the call.
        let ok = unsafe { AssignProcessToJobObject(self.job, process as HANDLE) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        self.group = Some(pid);
        resume_threads(pid)
    }

    /// Ends whatever is left of the tree and reaps the child: Ctrl-Break to the
    /// group, then the whole job is terminated when something still runs after
    /// `grace`. Returns at once when the child has exited and left nothing.
    pub(super) async fn terminate(&mut self, child: &mut Child, grace: Duration) {
        let child_exited = matches!(child.try_wait(), Ok(Some(_)));
        if !(child_exited && self.active_processes() == 0) {
            let asked = self.group.is_some_and(|group| self.send_ctrl_break(group));
            // Without Ctrl-Break the grace would only be a delay.
            let deadline = Instant::now() + if asked { grace } else { Duration::ZERO };
            while self.active_processes() > 0 && Instant::now() < deadline {
                tokio::time::sleep(POLL).await;
            }
            if asked && self.active_processes() > 0 {
                tracing::debug!("grace over, terminating the job");
            }
            // SAFETY: the job handle is valid until drop.
            if unsafe { TerminateJobObject(self.job, TERMINATED_EXIT_CODE) } == 0 {
                tracing::warn!(
                    "terminating the job object failed: {}",
                    io::Error::last_os_error()
                );
            }
        }
        if let Err(err) = child.wait().await {
            tracing::warn!("waiting for the killed command failed: {err}");
        }
    }

    /// How many processes of the job still run (0 when that cannot be read: the
    /// job is terminated anyway).
    fn active_processes(&self) -> u32 {
        // SAFETY: plain data for which all-zero is valid.
        let mut info: JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is writable and of the size given; the job handle is valid.
        let ok = unsafe {
            QueryInformationJobObject(
                self.job,
                JobObjectBasicAccountingInformation,
                &mut info as *mut JOBOBJECT_BASIC_ACCOUNTING_INFORMATION as *mut c_void,
                std::mem::size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            0
        } else {
            info.ActiveProcesses
        }
    }

    /// Asks the command's group to stop, the way a console user would; false when
    /// the event could not be sent. The driver is not in the group, so it does not
    /// receive the event itself.
    fn send_ctrl_break(&self, group: u32) -> bool {
        let _console = CONSOLE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // SAFETY: plain calls with a process id; attaching only when the driver has
        // no console of its own, which it then gives back.
        unsafe {
            if self.own_console && AttachConsole(group) == 0 {
                tracing::debug!(
                    "cannot reach the command's console: {}",
                    io::Error::last_os_error()
                );
                return false;
            }
            let sent = GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, group) != 0;
            if !sent {
                tracing::debug!("sending Ctrl-Break failed: {}", io::Error::last_os_error());
            }
            if self.own_console {
                FreeConsole();
            }
            sent
        }
    }
}

/// Resumes the threads of a process created suspended (it has one).
fn resume_threads(pid: u32) -> io::Result<()> {
    // SAFETY: a snapshot of all threads; the handle is closed below.
    let snapshot = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if snapshot == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: plain data for which all-zero is valid; dwSize is set as required.
    let mut entry: THREADENTRY32 = unsafe { std::mem::zeroed() };
    entry.dwSize = std::mem::size_of::<THREADENTRY32>() as u32;
    let mut resumed = 0;
    // SAFETY: the snapshot is valid and `entry` is a THREADENTRY32 with dwSize set.
    let mut more = unsafe { Thread32First(snapshot, &mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid {
            // SAFETY: opening by id; the handle is closed right after use.
            unsafe {
                let thread = OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID);
                if !thread.is_null() {
                    if ResumeThread(thread) != u32::MAX {
                        resumed += 1;
                    }
                    CloseHandle(thread);
                }
            }
        }
        // SAFETY: as for Thread32First.
        more = unsafe { Thread32Next(snapshot, &mut entry) } != 0;
    }
    // SAFETY: the snapshot handle is owned here and closed once.
    unsafe { CloseHandle(snapshot) };
    if resumed == 0 {
        return Err(io::Error::other("cannot resume the command's main thread"));
    }
    Ok(())
}

impl Drop for ProcessTree {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this struct and closed exactly once;
        // KILL_ON_JOB_CLOSE ends anything still running in the job.
        unsafe { CloseHandle(self.job) };
    }
}
