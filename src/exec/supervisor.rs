//! Linux: which program supervises each command (see [`super::shim`]). Starting the
//! stagehand binary costs about 2 ms more than a small program (a large binary's
//! relocations and its TLS libraries), paid once per command; so the stagehand command
//! prefers `stagehand-exec-shim`, installed beside it, and falls back to itself
//! (`stagehand exec-shim`). Either way the program is pinned when first chosen: the
//! shim through an open descriptor (`/proc/self/fd/N`), this binary through
//! `/proc/self/exe`, so replacing the files during an upgrade does not mix versions.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The small program's file name, beside the stagehand binary.
pub const SHIM_PROGRAM: &str = "stagehand-exec-shim";

/// How a command is wrapped.
pub(super) struct Supervisor {
    /// What to execute.
    pub program: PathBuf,
    /// The arguments before the shim's own: `exec-shim` for a stagehand binary.
    pub subcommand: Option<&'static str>,
    /// What `ps` shows as the program.
    pub arg0: &'static str,
    /// Keeps the descriptor behind `/proc/self/fd/N` open.
    _pinned: Option<File>,
}

static CHOSEN: OnceLock<Supervisor> = OnceLock::new();
static OWN: AtomicBool = AtomicBool::new(false);

/// A program embedding [`crate::exec`] passes the path of an installed stagehand, run as
/// `PROGRAM exec-shim ...`. The first choice wins. Until one is made, commands fail to
/// start, since running them unsupervised could run them twice.
pub fn set_supervisor(program: impl Into<PathBuf>) {
    let _ = CHOSEN.set(stagehand_binary(program.into()));
}

/// The stagehand command: the small shim beside this binary when it is there and of
/// this version, else this binary. Chosen when the first command starts.
pub fn supervise_with_own_binaries() {
    OWN.store(true, Ordering::Relaxed);
}

pub(super) fn chosen() -> Option<&'static Supervisor> {
    if let Some(chosen) = CHOSEN.get() {
        return Some(chosen);
    }
    OWN.load(Ordering::Relaxed).then(|| {
        CHOSEN.get_or_init(|| {
            beside_this_binary()
                .unwrap_or_else(|| stagehand_binary(PathBuf::from("/proc/self/exe")))
        })
    })
}

/// A stagehand binary, run as `PROGRAM exec-shim ...`.
fn stagehand_binary(program: PathBuf) -> Supervisor {
    Supervisor {
        program,
        subcommand: Some("exec-shim"),
        arg0: "stagehand",
        _pinned: None,
    }
}

/// The shim beside this binary, if there is one that answers with this version (a
/// shim left from another release may speak another protocol).
fn beside_this_binary() -> Option<Supervisor> {
    let path = std::env::current_exe().ok()?.with_file_name(SHIM_PROGRAM);
    let file = File::open(&path).ok()?;
    let program = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    let answer = std::process::Command::new(&program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output();
    let expected = format!("{SHIM_PROGRAM} {}", env!("CARGO_PKG_VERSION"));
    match answer {
        Ok(out) if String::from_utf8_lossy(&out.stdout).trim() == expected => Some(Supervisor {
            program,
            subcommand: None,
            arg0: SHIM_PROGRAM,
            _pinned: Some(file),
        }),
        Ok(out) => {
            tracing::warn!(
                shim = %path.display(),
                answered = %String::from_utf8_lossy(&out.stdout).trim(),
                expected = %expected,
                "the command supervisor beside stagehand is of another version; using stagehand itself"
            );
            None
        }
        Err(error) => {
            tracing::warn!(shim = %path.display(), %error, "the command supervisor beside stagehand cannot run; using stagehand itself");
            None
        }
    }
}
