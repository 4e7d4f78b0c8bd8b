//! `stagehand-exec-shim`: the supervisor of one command (`stagehand exec-shim`) as a
//! program of its own, installed beside `stagehand`: it starts in a fraction of the
//! time the whole stagehand binary takes, once per command (see
//! `stagehand::exec::supervisor`).

#[cfg(target_os = "linux")]
#[derive(clap::Parser)]
#[command(name = "stagehand-exec-shim", version)]
struct Cli {
    #[command(flatten)]
    shim: stagehand::exec::ShimArgs,
}

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    use clap::Parser;
    Cli::parse().shim.run()
}

/// Commands are supervised this way on Linux only (a Job Object does it on Windows).
#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("stagehand-exec-shim: only used on Linux");
    std::process::ExitCode::from(2)
}
