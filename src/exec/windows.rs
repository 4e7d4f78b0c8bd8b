//! Windows: the shell is `cmd /C`, and a command's tree is a Job Object
//! (child processes join their parent's job). The job kills its processes when
//! its last handle closes, so nothing outlives a run even if it is abandoned.
//!
//! The child is assigned to the job right after it is spawned; a grandchild it
//! starts in that instant would escape. Windows has no SIGTERM for arbitrary
//! processes, so terminating is immediate and the grace period is unused.

use std::ffi::c_void;
use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::{Child, Command};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};

/// Exit code given to processes ended by [`ProcessTree::terminate`].
const TERMINATED_EXIT_CODE: u32 = 1;

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

/// A command's Job Object.
pub(super) struct ProcessTree {
    job: HANDLE,
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
        let tree = ProcessTree { job };
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

    /// Nothing to do before spawning: the job is joined in [`ProcessTree::adopt`].
    pub(super) fn prepare(&self, _command: &mut Command) {}

    /// Puts the spawned child (and so its future descendants) in the job.
    pub(super) fn adopt(&mut self, child: &Child) -> io::Result<()> {
        let process = child
            .raw_handle()
            .ok_or_else(|| io::Error::other("the child exited before it could be tracked"))?;
        // SAFETY: both handles are valid and open for the duration of the call.
        let ok = unsafe { AssignProcessToJobObject(self.job, process as HANDLE) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Ends every process still in the job and reaps the child.
    pub(super) async fn terminate(&mut self, child: &mut Child, _grace: Duration) {
        // SAFETY: the job handle is valid until drop.
        if unsafe { TerminateJobObject(self.job, TERMINATED_EXIT_CODE) } == 0 {
            tracing::warn!(
                "terminating the job object failed: {}",
                io::Error::last_os_error()
            );
        }
        if let Err(err) = child.wait().await {
            tracing::warn!("waiting for the killed command failed: {err}");
        }
    }
}

impl Drop for ProcessTree {
    fn drop(&mut self) {
        // SAFETY: the handle is owned by this struct and closed exactly once;
        // KILL_ON_JOB_CLOSE ends anything still running in the job.
        unsafe { CloseHandle(self.job) };
    }
}
