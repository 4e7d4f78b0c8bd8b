//! The `stagehand` command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = match stagehand::cli::config::parse(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        Err(error) => return report(error),
    };
    let cli = parsed.cli;
    #[cfg(target_os = "linux")]
    if let stagehand::cli::Command::ExecShim(shim) = &cli.command {
        // The supervisor of one command: no runtime, no logging, no database.
        return shim.run();
    }
    #[cfg(windows)]
    if let stagehand::cli::Command::Service(stagehand::cli::service::ServiceCommand::Run {
        name,
        config,
    }) = &cli.command
    {
        // The Service Control Manager's process: the service sets up its own logging
        // and runtime on the dispatcher's thread.
        return stagehand::cli::service::dispatch(&name.name, config);
    }
    #[cfg(target_os = "linux")]
    stagehand::exec::supervise_with_own_binaries();
    #[cfg(unix)]
    if !matches!(cli.command, stagehand::cli::Command::Run(_)) {
        // `stagehand task show x | head` should end quietly like any Unix tool, not panic
        // on a closed pipe. The driver keeps SIGPIPE ignored: it must outlive its stdout.
        // SAFETY: only restores the default disposition; no handler of ours is installed.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            );
        }
    }
    if let Err(error) = stagehand::cli::logging::init(&parsed.logging) {
        return report(error);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::from(stagehand::cli::exit::ERROR);
        }
    };
    match runtime.block_on(stagehand::cli::run(cli)) {
        Ok(code) => code,
        // Why the driver ended belongs in its log file too (standard error gets it
        // from the same logger).
        Err(error) if parsed.logging.dir.is_some() && !error.is::<clap::Error>() => {
            tracing::error!("{error:#}");
            ExitCode::from(stagehand::cli::exit::ERROR)
        }
        Err(error) => report(error),
    }
}

/// A usage error (also one found after parsing: flags that contradict each other) gets
/// clap's own report and exit code; anything else `error: ...` and exit code 1.
fn report(error: anyhow::Error) -> ExitCode {
    match error.downcast::<clap::Error>() {
        Ok(usage) => usage.exit(),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(stagehand::cli::exit::ERROR)
        }
    }
}
