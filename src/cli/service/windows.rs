//! The service on Windows, through the Service Control Manager. The installed binary
//! path is `stagehand service run --name NAME --config FILE`, which hands its thread to
//! the service dispatcher; the service reports START_PENDING, RUNNING, STOP_PENDING
//! (with wait hints for as long as the graceful shutdown takes) and STOPPED, and turns
//! a stop, a pre-shutdown or a shutdown into the driver's graceful shutdown.

use super::{Checked, InstallArgs, NameArgs, ServiceCommand, StartType};
use crate::cli::{config, logging, Command};
use crate::driver::Shutdown;
use anyhow::{bail, Context, Result};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

/// How long a pending state may last before the next report; reports come every
/// [`REPORT_EVERY`], each with a new checkpoint, for as long as the stop takes.
const WAIT_HINT: Duration = Duration::from_secs(10);
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// Recovery: restart after this long, on the first, second and later failures; the count
/// of failures starts again after a day without one.
const RESTART_AFTER: Duration = Duration::from_secs(30);
const FAILURE_RESET: Duration = Duration::from_secs(24 * 3600);

/// How long `stop`, `start` and `uninstall` wait for the service to get there.
const STATE_WAIT: Duration = Duration::from_secs(600);

/// The service's name and configuration file, from its binary path's arguments, for
/// the service's main function (the dispatcher passes it only the start parameters).
static SERVICE: OnceLock<(String, PathBuf)> = OnceLock::new();

pub fn run(command: &ServiceCommand) -> Result<ExitCode> {
    match command {
        ServiceCommand::Install(args) => install(args),
        ServiceCommand::Uninstall(name) => uninstall(name),
        ServiceCommand::Start(name) => start(name),
        ServiceCommand::Stop(name) => stop(name),
        ServiceCommand::Status(name) => status(name),
        ServiceCommand::Run { name, config } => Ok(dispatch(&name.name, config)),
    }
}

fn manager(access: ServiceManagerAccess) -> Result<ServiceManager> {
    ServiceManager::local_computer(None::<&str>, access)
        .context("connecting to the Service Control Manager (as an administrator?)")
}

fn open(name: &NameArgs, access: ServiceAccess) -> Result<windows_service::service::Service> {
    manager(ServiceManagerAccess::CONNECT)?
        .open_service(&name.name, access)
        .with_context(|| format!("opening the service {} (is it installed?)", name.name))
}

fn install(args: &InstallArgs) -> Result<ExitCode> {
    let checked = args.check()?;
    let name = &args.name.name;
    let exe = super::this_exe()?;
    let launch_arguments: Vec<OsString> = vec![
        "service".into(),
        "run".into(),
        "--name".into(),
        name.into(),
        "--config".into(),
        checked.config.clone().into(),
    ];
    let info = ServiceInfo {
        name: name.into(),
        display_name: format!("stagehand driver ({name})").into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: match args.start_type {
            StartType::Automatic | StartType::Delayed => ServiceStartType::AutoStart,
            StartType::Manual => ServiceStartType::OnDemand,
        },
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments,
        dependencies: vec![],
        account_name: args.user.as_ref().map(OsString::from),
        account_password: args.password.as_ref().map(OsString::from),
    };
    let service = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?
        .create_service(
            &info,
            ServiceAccess::CHANGE_CONFIG | ServiceAccess::QUERY_CONFIG,
        )
        .with_context(|| format!("creating the service {name}"))?;
    println!("installed the service {name}");
    // As the SCM stored it, quoted where a path needs it.
    let stored = service.query_config()?.executable_path;
    println!("  binary path: {}", stored.display());
    println!(
        "  account: {}",
        args.user.as_deref().unwrap_or("LocalSystem")
    );
    // What follows is set after the creation, each on its own: Wine, for one, refuses
    // some of these settings; a refused one is reported, the service stays installed.
    let start = match args.start_type {
        StartType::Automatic => "automatic (at boot)".to_string(),
        StartType::Manual => "manual".to_string(),
        StartType::Delayed => setting(
            service.set_delayed_auto_start(true),
            "automatic, delayed (after the other automatic services)",
        ),
    };
    println!("  start type: {start}");
    let description = setting(
        service.set_description(format!(
            "Runs the stagehand job engine's driver with {}",
            checked.config.display()
        )),
        "set",
    );
    println!("  description: {description}");
    let actions = ServiceFailureActions {
        reset_period: ServiceFailureResetPeriod::After(FAILURE_RESET),
        reboot_msg: None,
        command: None,
        actions: Some(vec![
            ServiceAction {
                action_type: ServiceActionType::Restart,
                delay: RESTART_AFTER,
            };
            3
        ]),
    };
    let recovery = setting(
        service.update_failure_actions(actions),
        &format!(
            "restart after {} s on every failure (count reset after a day)",
            RESTART_AFTER.as_secs()
        ),
    );
    println!("  recovery: {recovery}");
    // Without the flag, only a crash counts as a failure, not a stop with an error.
    let flag = setting(
        service.set_failure_actions_on_non_crash_failures(true),
        "also when the driver stops with an error",
    );
    println!("  recovery on errors: {flag}");
    let preshutdown = setting(
        service.set_preshutdown_timeout(stop_timeout(&checked)),
        &format!("{} s", stop_timeout(&checked).as_secs()),
    );
    println!("  pre-shutdown timeout (the graceful shutdown at system shutdown): {preshutdown}");
    match checked.log_dir {
        Some(dir) => println!("  log: {} (daily files)", dir.display()),
        None => println!(
            "  log: NOT SET (a service has no console: set log_dir in {})",
            checked.config.display()
        ),
    }
    println!("start it with `stagehand service start --name {name}`");
    Ok(ExitCode::SUCCESS)
}

/// The stop timeout as the SCM takes it (milliseconds in a u32).
fn stop_timeout(checked: &Checked) -> Duration {
    checked
        .stop_timeout
        .min(Duration::from_millis(u64::from(u32::MAX)))
}

/// `done` when the setting took, `NOT SET (reason)` when the SCM refused it.
fn setting(result: windows_service::Result<()>, done: &str) -> String {
    match result {
        Ok(()) => done.to_string(),
        Err(error) => format!("NOT SET ({})", reason(&error)),
    }
}

fn reason(error: &windows_service::Error) -> String {
    match error {
        windows_service::Error::Winapi(io) => io.to_string(),
        other => other.to_string(),
    }
}

fn uninstall(name: &NameArgs) -> Result<ExitCode> {
    let service = open(
        name,
        ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
    )?;
    if service.query_status()?.current_state != ServiceState::Stopped {
        println!("stopping {} (the driver's graceful shutdown)", name.name);
        stop_and_wait(&service, name)?;
    }
    service
        .delete()
        .with_context(|| format!("removing the service {}", name.name))?;
    println!("removed the service {}", name.name);
    Ok(ExitCode::SUCCESS)
}

fn start(name: &NameArgs) -> Result<ExitCode> {
    let service = open(name, ServiceAccess::START | ServiceAccess::QUERY_STATUS)?;
    service
        .start(&[] as &[&OsStr])
        .with_context(|| format!("starting the service {}", name.name))?;
    let status = wait_for(&service, name, ServiceState::Running)?;
    println!("{}", describe(name, &status));
    Ok(ExitCode::SUCCESS)
}

fn stop(name: &NameArgs) -> Result<ExitCode> {
    let service = open(name, ServiceAccess::STOP | ServiceAccess::QUERY_STATUS)?;
    stop_and_wait(&service, name)?;
    println!("{}", describe(name, &service.query_status()?));
    Ok(ExitCode::SUCCESS)
}

fn stop_and_wait(service: &windows_service::service::Service, name: &NameArgs) -> Result<()> {
    service
        .stop()
        .with_context(|| format!("stopping the service {}", name.name))?;
    wait_for(service, name, ServiceState::Stopped).map(|_| ())
}

/// Exit code 0 while the service runs, 1 when it does not (or is not installed).
fn status(name: &NameArgs) -> Result<ExitCode> {
    let service = open(
        name,
        ServiceAccess::QUERY_STATUS | ServiceAccess::QUERY_CONFIG,
    )?;
    let status = service.query_status()?;
    println!("{}", describe(name, &status));
    let config = service.query_config()?;
    println!("  binary path: {}", config.executable_path.display());
    println!("  start type: {:?}", config.start_type);
    if let Some(account) = &config.account_name {
        println!("  account: {}", account.to_string_lossy());
    }
    Ok(ExitCode::from(
        if status.current_state == ServiceState::Running {
            crate::cli::exit::SUCCESS
        } else {
            crate::cli::exit::ERROR
        },
    ))
}

fn describe(name: &NameArgs, status: &ServiceStatus) -> String {
    let state = match status.current_state {
        ServiceState::Stopped => "stopped",
        ServiceState::StartPending => "starting",
        ServiceState::StopPending => "stopping",
        ServiceState::Running => "running",
        _ => "paused",
    };
    let mut line = format!("{}: {state}", name.name);
    if let Some(pid) = status.process_id.filter(|&pid| pid != 0) {
        line.push_str(&format!(" (process {pid})"));
    }
    if status.current_state == ServiceState::Stopped {
        match status.exit_code {
            ServiceExitCode::Win32(0) => {}
            ServiceExitCode::Win32(code) => line.push_str(&format!(" (Windows error {code})")),
            ServiceExitCode::ServiceSpecific(code) => {
                line.push_str(&format!(" (failed with exit code {code}: see its log)"))
            }
        }
    }
    line
}

/// Polls until the service is in `state`; an error names the state it is stuck in.
fn wait_for(
    service: &windows_service::service::Service,
    name: &NameArgs,
    state: ServiceState,
) -> Result<ServiceStatus> {
    let deadline = Instant::now() + STATE_WAIT;
    loop {
        let status = service.query_status()?;
        if status.current_state == state {
            return Ok(status);
        }
        if status.current_state == ServiceState::Stopped {
            bail!("{}", describe(name, &status));
        }
        if Instant::now() > deadline {
            bail!(
                "the service is still {:?} after {} s",
                status.current_state,
                STATE_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The process the SCM started: blocks in the service dispatcher until the service
/// stopped. Run from a console it fails at once, saying so.
pub fn dispatch(name: &str, config: &Path) -> ExitCode {
    let _ = SERVICE.set((name.to_string(), config.to_path_buf()));
    match service_dispatcher::start(name, ffi_service_main) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "error: `stagehand service run` is started by the Service Control Manager \
                 ({}); in a console, run `stagehand run --config {}`",
                reason(&error),
                config.display()
            );
            ExitCode::from(crate::cli::exit::ERROR)
        }
    }
}

define_windows_service!(ffi_service_main, service_main);

fn service_main(_start_parameters: Vec<OsString>) {
    let Some((name, config)) = SERVICE.get() else {
        return;
    };
    let shutdown = Shutdown::default();
    let stop = shutdown.graceful.clone();
    // Set once registered: the handler needs the handle that registering it returns.
    let reporter: Arc<OnceLock<Arc<Reporter>>> = Arc::default();
    let handler_reporter = reporter.clone();
    let handler = move |control| match control {
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        ServiceControl::Stop | ServiceControl::Preshutdown | ServiceControl::Shutdown => {
            if !stop.is_cancelled() {
                tracing::info!(
                    "the Service Control Manager asked the service to stop ({control:?})"
                );
                stop.cancel();
                if let Some(reporter) = handler_reporter.get() {
                    report_stop_pending(reporter.clone());
                }
            }
            ServiceControlHandlerResult::NoError
        }
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    // Nothing can be reported without the handle: the SCM times the start out.
    let Ok(handle) = service_control_handler::register(name, handler) else {
        return;
    };
    let reporter = reporter.get_or_init(|| {
        Arc::new(Reporter {
            handle,
            progress: Mutex::default(),
        })
    });
    reporter.report(ServiceState::StartPending, ServiceExitCode::NO_ERROR);
    let exit = match serve(config, shutdown, reporter) {
        Ok(()) => ServiceExitCode::NO_ERROR,
        Err(error) => {
            // To the log when it is up; the exit code shows in `stagehand service status`.
            tracing::error!("{error:#}");
            ServiceExitCode::ServiceSpecific(u32::from(crate::cli::exit::ERROR))
        }
    };
    reporter.report(ServiceState::Stopped, exit);
}

/// `stagehand run --config FILE` until the service is stopped.
fn serve(config: &Path, shutdown: Shutdown, reporter: &Reporter) -> Result<()> {
    // The log first, so that what follows (a secret the service's account cannot
    // read, a database that refuses it) is in it: a service has no console.
    let (_, log) = config::settings(config)?;
    logging::init(&log)?;
    let argv = vec![
        "stagehand".into(),
        "run".into(),
        "--config".into(),
        config.into(),
    ];
    let parsed = config::parse(argv)?;
    let Command::Run(args) = &parsed.cli.command else {
        bail!("not a run command")
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // The driver waits for its database as a running service, as it does in a console.
    reporter.report(ServiceState::Running, ServiceExitCode::NO_ERROR);
    tracing::info!("service started with {}", config.display());
    runtime
        .block_on(crate::cli::run_driver(&parsed.cli.database, args, shutdown))
        .map(|_| ())
}

/// From the stop request until STOPPED: STOP_PENDING with a new checkpoint every few
/// seconds, so Windows waits for the whole graceful shutdown. A thread of its own, so
/// no busy runtime can delay a report.
fn report_stop_pending(reporter: Arc<Reporter>) {
    std::thread::spawn(move || {
        while reporter.report(ServiceState::StopPending, ServiceExitCode::NO_ERROR) {
            std::thread::sleep(REPORT_EVERY);
        }
    });
}

struct Reporter {
    handle: service_control_handler::ServiceStatusHandle,
    /// The last checkpoint, and whether STOPPED was reported (nothing may follow it).
    progress: Mutex<(u32, bool)>,
}

impl Reporter {
    /// Reports `state`; false once STOPPED was reported.
    fn report(&self, state: ServiceState, exit_code: ServiceExitCode) -> bool {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        if progress.1 {
            return false;
        }
        progress.1 = state == ServiceState::Stopped;
        let pending = matches!(
            state,
            ServiceState::StartPending | ServiceState::StopPending
        );
        progress.0 = if pending { progress.0 + 1 } else { 0 };
        let controls_accepted = if state == ServiceState::Running {
            ServiceControlAccept::STOP
                | ServiceControlAccept::PRESHUTDOWN
                | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        };
        let status = ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted,
            exit_code,
            checkpoint: progress.0,
            wait_hint: if pending { WAIT_HINT } else { Duration::ZERO },
            process_id: None,
        };
        if let Err(error) = self.handle.set_service_status(status) {
            tracing::warn!(
                "reporting {state:?} to the Service Control Manager: {}",
                reason(&error)
            );
        }
        true
    }
}
