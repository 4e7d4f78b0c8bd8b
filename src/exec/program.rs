//! Finding the program of the program form, the same way on every platform: a
//! relative name is looked up in the working directory first (the driver's current
//! directory when the task has none), then, when it is a bare name, in each PATH
//! directory. On Windows a name without an extension also matches the PATHEXT
//! extensions (`.exe`, `.cmd`, ...). Left to itself, Windows would look in the
//! driver's own directory first and Unix never in the working directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The path to start for `program`, or the outcome message when there is none.
/// `path` is the PATH the command gets.
pub(super) fn resolve(
    program: &str,
    working_directory: Option<&Path>,
    path: Option<OsString>,
) -> Result<PathBuf, String> {
    let name = Path::new(program);
    if name.is_absolute() {
        return Ok(name.to_path_buf());
    }
    let base = match working_directory {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir()
            .map_err(|err| format!("cannot read the current directory: {err}"))?,
    };
    let local = base.join(name);
    if let Some(found) = executable(&local) {
        return Ok(found);
    }
    if local.is_file() {
        return Err(format!("command not executable: {program}"));
    }
    let bare = name.components().count() == 1;
    if bare {
        let dirs = path.unwrap_or_default();
        if let Some(found) =
            std::env::split_paths(&dirs).find_map(|dir| executable(&dir.join(name)))
        {
            return Ok(found);
        }
    }
    Err(format!("command not found: {program}"))
}

/// `candidate` itself when it is an executable file (on Windows: or with one of
/// the PATHEXT extensions when it has none).
fn executable(candidate: &Path) -> Option<PathBuf> {
    #[cfg(windows)]
    {
        if candidate.extension().is_none() {
            let extensions =
                std::env::var("PATHEXT").unwrap_or_else(|_| ".COM;.EXE;.BAT;.CMD".to_owned());
            return extensions
                .split(';')
                .filter(|ext| !ext.is_empty())
                .map(|ext| candidate.with_extension(ext.trim_start_matches('.')))
                .find(|path| path.is_file());
        }
        candidate.is_file().then(|| candidate.to_path_buf())
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(candidate).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then(|| candidate.to_path_buf())
    }
}
