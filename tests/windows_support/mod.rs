//! Support for the Windows tests: this test binary doubles as the helper program the
//! commands start (Windows has no `sleep` or `printenv` to rely on), and processes are
//! looked up by id.
//!
//! The helper is the ignored test `helper`, started as `<this exe> --ignored --exact
//! helper` with STAGEHAND_TEST_ROLE saying what to do; without the variable it does
//! nothing, so `cargo test -- --ignored` is harmless.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
use windows_sys::Win32::System::Console::{
    AttachConsole, FreeConsole, GenerateConsoleCtrlEvent, SetConsoleCtrlHandler, CTRL_BREAK_EVENT,
    CTRL_C_EVENT,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
};

pub const ROLE: &str = "STAGEHAND_TEST_ROLE";
/// The process a `send-ctrl-c` helper sends to.
const TARGET: &str = "STAGEHAND_TEST_TARGET";

/// A cmd command line starting the helper in the foreground.
pub fn helper_command() -> String {
    let exe = std::env::current_exe().expect("the test executable");
    format!("\"{}\" --ignored --exact helper --quiet", exe.display())
}

/// A cmd command line that sets the role, then starts the helper.
pub fn helper_command_as(role: &str) -> String {
    format!("set {ROLE}={role}&& {}", helper_command())
}

/// What the helper does, by role; the files are in its working directory.
/// - `sleeper`: appends its pid to `pids`, then sleeps 300 s.
/// - `parameters`: writes STAGEHAND_PARAMETERS to `parameters.txt`.
/// - `cp1252`: writes "Café São" in Windows-1252 bytes to stdout.
/// - `console-events`: appends its pid to `pids` and each console event it gets to
///   `events` (`ctrl-c`, `break`); exits with code 7 on Ctrl-Break; sleeps 300 s.
pub fn run_helper() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    match role.as_str() {
        "sleeper" => {
            append("pids", &std::process::id().to_string());
            std::thread::sleep(Duration::from_secs(300));
        }
        "parameters" => {
            let value = std::env::var("STAGEHAND_PARAMETERS").unwrap_or_default();
            std::fs::write("parameters.txt", value).expect("write parameters.txt");
        }
        "cp1252" => {
            use std::io::Write;
            let mut out = std::io::stdout();
            out.write_all(b"Caf\xe9 S\xe3o\r\n").expect("write stdout");
            out.flush().expect("flush stdout");
        }
        "send-ctrl-c" => {
            let pid = std::env::var(TARGET).expect("the target pid");
            ctrl_c_to_console_of(pid.parse().expect("a pid"));
        }
        "console-events" => {
            // SAFETY: registers a handler function valid for the whole process.
            unsafe { SetConsoleCtrlHandler(Some(record_event), 1) };
            append("pids", &std::process::id().to_string());
            std::thread::sleep(Duration::from_secs(300));
        }
        other => panic!("unknown {ROLE} {other:?}"),
    }
}

unsafe extern "system" fn record_event(event: u32) -> i32 {
    match event {
        CTRL_C_EVENT => append("events", "ctrl-c"),
        CTRL_BREAK_EVENT => {
            append("events", "break");
            std::process::exit(7);
        }
        _ => {}
    }
    1
}

unsafe extern "system" fn swallow(_event: u32) -> i32 {
    1
}

/// Sends Ctrl-C to every process of the console of `pid` (a driver started with
/// `Driver::start_in_own_console`), as a user typing it there. A helper process does
/// it: joining another console would cut this test process from its own output.
pub async fn send_ctrl_c(pid: u32) {
    let exe = std::env::current_exe().expect("the test executable");
    let status = tokio::process::Command::new(exe)
        .args(["--ignored", "--exact", "helper", "--quiet"])
        .env(ROLE, "send-ctrl-c")
        .env(TARGET, pid.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .expect("start the helper");
    assert!(
        status.success(),
        "the helper could not send Ctrl-C: {status}"
    );
}

/// The helper's half of [`send_ctrl_c`]; it swallows the event itself.
fn ctrl_c_to_console_of(pid: u32) {
    // SAFETY: console calls with a process id; the handler is a plain function.
    unsafe {
        SetConsoleCtrlHandler(Some(swallow), 1);
        FreeConsole();
        assert!(
            AttachConsole(pid) != 0,
            "attach to the driver's console: {}",
            std::io::Error::last_os_error()
        );
        assert!(
            GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0) != 0,
            "send Ctrl-C: {}",
            std::io::Error::last_os_error()
        );
        // The event is delivered on a thread of its own: leave it time to arrive.
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn append(file: &str, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("open helper file");
    writeln!(f, "{line}").expect("write helper file");
}

/// Waits until `file` has `count` lines; returns them.
pub async fn wait_lines(file: &Path, count: usize, limit: Duration) -> Vec<String> {
    let started = Instant::now();
    loop {
        let lines: Vec<String> = std::fs::read_to_string(file)
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            started.elapsed() < limit,
            "{} has {lines:?}, expected {count} lines",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The process ids the helpers wrote to `pids` in `dir`.
pub async fn pids(dir: &Path, count: usize) -> Vec<u32> {
    wait_lines(&dir.join("pids"), count, Duration::from_secs(20))
        .await
        .iter()
        .map(|line| line.trim().parse().expect("a pid"))
        .collect()
}

/// Whether a process with that id runs.
pub fn alive(pid: u32) -> bool {
    // SAFETY: opening by id; the handle is closed below.
    unsafe {
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if process.is_null() {
            return false;
        }
        let mut code = 0;
        let ok = GetExitCodeProcess(process, &mut code);
        CloseHandle(process);
        ok != 0 && code == STILL_ACTIVE as u32
    }
}

/// Waits until the process no longer runs; panics after `limit`.
pub async fn assert_gone_within(pid: u32, limit: Duration) {
    let started = Instant::now();
    while alive(pid) {
        assert!(started.elapsed() < limit, "process {pid} survived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
