//! Support for the driver tests: real `stagehand run` processes against a test database,
//! and waiting for what they do. Waits poll the database with a deadline; the deadline
//! is a bound on a failure, never a measurement.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use stagehand::store::{Backend, ProcessRow, ProcessStatus, TaskRecord};
use tokio::process::{Child, Command};

/// A `stagehand run` process.
pub struct Driver {
    pub child: Child,
    pub name: String,
}

impl Driver {
    /// Starts `stagehand run --workers N --name NAME` with short leases (3 s) and
    /// intervals so the tests see faults within seconds, plus any extra arguments.
    pub fn start(url: &str, name: &str, workers: usize, extra: &[&str]) -> Driver {
        Driver::start_with_lease(url, name, workers, 3, extra)
    }

    pub fn start_with_lease(
        url: &str,
        name: &str,
        workers: usize,
        lease_seconds: u32,
        extra: &[&str],
    ) -> Driver {
        Driver::start_with_env(url, name, workers, lease_seconds, extra, &[])
    }

    /// As [`Driver::start_with_lease`], with extra variables in the driver's environment.
    pub fn start_with_env(
        url: &str,
        name: &str,
        workers: usize,
        lease_seconds: u32,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Driver {
        Driver::spawn(
            Command::new(env!("CARGO_BIN_EXE_stagehand")),
            url,
            name,
            workers,
            lease_seconds,
            extra,
            env,
        )
    }

    /// As [`Driver::start`], from another stagehand binary (a copy elsewhere).
    pub fn start_program(
        program: &std::path::Path,
        url: &str,
        name: &str,
        workers: usize,
    ) -> Driver {
        Driver::spawn(Command::new(program), url, name, workers, 3, &[], &[])
    }

    /// Starts a driver in a console of its own (Windows), so that console events can
    /// reach it (see `windows_support::send_ctrl_c`) without reaching the tests.
    #[cfg(windows)]
    pub fn start_in_own_console(url: &str, name: &str, workers: usize, extra: &[&str]) -> Driver {
        use windows_sys::Win32::System::Threading::CREATE_NEW_CONSOLE;
        let mut command = Command::new(env!("CARGO_BIN_EXE_stagehand"));
        command.creation_flags(CREATE_NEW_CONSOLE);
        Driver::spawn(command, url, name, workers, 3, extra, &[])
    }

    fn spawn(
        mut command: Command,
        url: &str,
        name: &str,
        workers: usize,
        lease_seconds: u32,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Driver {
        let mut args: Vec<String> = vec![
            "run".into(),
            "--workers".into(),
            workers.to_string(),
            "--name".into(),
            name.into(),
            "--lease-seconds".into(),
            lease_seconds.to_string(),
            "--heartbeat-ms".into(),
            "300".into(),
            "--reset-every-seconds".into(),
            "1".into(),
            "--poll-max-ms".into(),
            "200".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = command
            .args(&args)
            .env("STAGEHAND_DATABASE_URL", url)
            .env("RUST_LOG", "stagehand=warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start stagehand run");
        Driver {
            child,
            name: name.to_string(),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id().expect("driver still running") as i32
    }

    #[cfg(unix)]
    #[cfg(unix)]
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal)
            .expect("signal the driver");
    }

    /// Waits for the driver to exit; panics after `limit`.
    pub async fn exit_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("driver {} did not exit within {limit:?}", self.name))
            .expect("wait for the driver")
    }
}

/// A driver task whose command is `command` (sh -c), saved with `configure` applied.
pub async fn task(
    db: &dyn Backend,
    name: &str,
    command: &str,
    configure: impl FnOnce(&mut TaskRecord),
) {
    let mut task = TaskRecord::new(name, command);
    configure(&mut task);
    db.save_task(&task).await.expect("SaveTask");
}

/// Polls the process until `done` holds; panics with the last row after `limit`.
pub async fn wait_for(
    db: &dyn Backend,
    process_id: i64,
    limit: Duration,
    done: impl Fn(&ProcessRow) -> bool,
) -> ProcessRow {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let row = db
            .process(process_id)
            .await
            .expect("read process")
            .expect("process exists");
        if done(&row) {
            return row;
        }
        if tokio::time::Instant::now() > deadline {
            let logs = db.process_logs(process_id).await.unwrap_or_default();
            panic!("process {process_id} did not reach the expected state within {limit:?}: {row:?}\nlogs: {logs:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the process is in one of the final states.
pub async fn wait_final(db: &dyn Backend, process_id: i64, limit: Duration) -> ProcessRow {
    wait_for(db, process_id, limit, |r| {
        matches!(
            r.status,
            ProcessStatus::Completed | ProcessStatus::Failed | ProcessStatus::Cancelled
        )
    })
    .await
}

/// A scratch directory for files the commands write.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stagehand-driver-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The lines of a file the commands append to (empty when it does not exist yet).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// True while a process with that pid exists and is not a zombie.
#[cfg(unix)]
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: "pid (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits until the file has at least `count` lines; returns them.
pub async fn wait_lines(path: &Path, count: usize, limit: Duration) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let found = lines(path);
        if found.len() >= count {
            return found;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{} has {} lines, expected {count} within {limit:?}: {found:?}",
                path.display(),
                found.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `body` of scripts/pg.sh commands (bash), panicking on failure.
pub fn pg_script(body: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; cd '{root}'; source scripts/pg.sh; pg_ensure_installed; {body}"
        ))
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "pg script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
