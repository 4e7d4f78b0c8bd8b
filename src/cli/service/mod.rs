//! `stagehand service install|uninstall|start|stop|status`: the driver as a service of
//! the platform's manager, systemd on Linux and the Service Control Manager on Windows,
//! running `stagehand run --config FILE`. A service stop is the driver's graceful
//! shutdown, and the stop timeout the manager allows is above the grace period.

#[cfg(target_os = "linux")]
mod systemd;
#[cfg(windows)]
mod windows;

#[cfg(windows)]
pub use windows::dispatch;

use anyhow::{bail, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The service's name when --name is not given.
const DEFAULT_NAME: &str = "stagehand";

#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Install the service and make it start at boot (Linux: --print shows the unit only).
    Install(InstallArgs),
    /// Stop the service and remove it.
    Uninstall(NameArgs),
    /// Start the installed service.
    Start(NameArgs),
    /// Stop the service: the driver's graceful shutdown.
    Stop(NameArgs),
    /// Whether the service is installed and running.
    Status(NameArgs),
    /// Internal: the program the Service Control Manager starts (Windows).
    #[cfg(windows)]
    #[command(hide = true)]
    Run {
        #[command(flatten)]
        name: NameArgs,
        /// The configuration file of `stagehand run --config`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct NameArgs {
    /// The service's name (several drivers on one machine need one name each).
    #[arg(long, default_value = DEFAULT_NAME)]
    pub name: String,
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub name: NameArgs,
    /// The configuration file the service runs with, an absolute path (see README,
    /// "Install as a service").
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The account the service runs as (Linux: User=, default root; Windows: for example
    /// `NT AUTHORITY\LocalService` or `DOMAIN\user`, default LocalSystem).
    #[arg(long)]
    pub user: Option<String>,
    /// Print the unit file instead of installing it.
    #[cfg(target_os = "linux")]
    #[arg(long)]
    pub print: bool,
    /// A file of VARIABLE=value lines for the service's environment (EnvironmentFile=),
    /// for example the variable that `database_url_env` names.
    #[cfg(target_os = "linux")]
    #[arg(long, value_name = "FILE")]
    pub environment_file: Option<PathBuf>,
    /// The password of --user (not needed for the NT AUTHORITY accounts).
    #[cfg(windows)]
    #[arg(long, env = "STAGEHAND_SERVICE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// When Windows starts the service: at boot, at boot after the other automatic
    /// services, or only when asked.
    #[cfg(windows)]
    #[arg(long, value_enum, default_value_t = StartType::Automatic)]
    pub start_type: StartType,
}

#[cfg(windows)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartType {
    Automatic,
    Delayed,
    Manual,
}

/// What an install needs to know from the configuration file, checked before anything
/// is written: a file the service would refuse at its first start is refused now.
struct Checked {
    config: PathBuf,
    /// The driver's grace period plus what the stop of its commands may take.
    stop_timeout: Duration,
    /// Without one a Windows service's log goes nowhere: the install says so.
    #[cfg(windows)]
    log_dir: Option<PathBuf>,
}

/// How long a driver may take to stop beyond its grace period: killing what is left
/// (the exec kill grace) and recording it in the database.
const STOP_MARGIN: Duration = Duration::from_secs(30);

impl InstallArgs {
    fn check(&self) -> Result<Checked> {
        check_name(&self.name.name)?;
        if !self.config.is_absolute() {
            bail!(
                "--config {}: give an absolute path (the service does not start in this directory)",
                self.config.display()
            );
        }
        let (run, _logging) = super::config::settings(&self.config)?;
        Ok(Checked {
            config: self.config.clone(),
            stop_timeout: Duration::from_secs(run.grace_seconds) + STOP_MARGIN,
            #[cfg(windows)]
            log_dir: _logging.dir,
        })
    }
}

/// A name every service manager accepts as a unit or service name.
fn check_name(name: &str) -> Result<()> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 200 || !name.chars().all(fine) {
        bail!("--name {name:?}: use letters, digits, '-', '_' and '.' only");
    }
    Ok(())
}

/// This program, as the service manager will start it (on Linux without symlinks, so
/// the unit keeps working when a link moves; Windows' canonical form is a `\\?\` path).
fn this_exe() -> Result<PathBuf> {
    use anyhow::Context;
    let exe = std::env::current_exe().context("finding this program's path")?;
    #[cfg(unix)]
    let exe =
        std::fs::canonicalize(&exe).with_context(|| format!("resolving {}", exe.display()))?;
    Ok(exe)
}

pub fn run(command: &ServiceCommand) -> Result<ExitCode> {
    #[cfg(target_os = "linux")]
    return systemd::run(command);
    #[cfg(windows)]
    return windows::run(command);
    #[cfg(not(any(target_os = "linux", windows)))]
    {
        let _ = command;
        bail!("stagehand service: only on Linux (systemd) and Windows")
    }
}
