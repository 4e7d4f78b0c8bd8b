//! The service on Linux: a systemd unit that runs `stagehand run --config FILE`.
//! KillMode=mixed sends the stop's SIGTERM to the driver alone, whose graceful shutdown
//! stops its commands; only what is left after TimeoutStopSec is killed by systemd.

use super::{Checked, InstallArgs, NameArgs, ServiceCommand};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The first line of every unit this writes: uninstall removes only such a unit.
const MARKER: &str = "# Written by `stagehand service install`";

const UNIT_DIR: &str = "/etc/systemd/system";

pub fn run(command: &ServiceCommand) -> Result<ExitCode> {
    match command {
        ServiceCommand::Install(args) => install(args),
        ServiceCommand::Uninstall(name) => uninstall(name),
        ServiceCommand::Start(name) => systemctl(&["start", &unit_name(name)]),
        ServiceCommand::Stop(name) => systemctl(&["stop", &unit_name(name)]),
        ServiceCommand::Status(name) => systemctl(&["status", "--no-pager", &unit_name(name)]),
    }
}

fn unit_name(name: &NameArgs) -> String {
    format!("{}.service", name.name)
}

fn install(args: &InstallArgs) -> Result<ExitCode> {
    let checked = args.check()?;
    if let Some(file) = &args.environment_file {
        if !file.is_absolute() {
            bail!(
                "--environment-file {}: give an absolute path",
                file.display()
            );
        }
    }
    let unit = unit(args, &checked, &super::this_exe()?)?;
    if args.print {
        print!("{unit}");
        return Ok(ExitCode::SUCCESS);
    }
    // sd_booted(3)'s test: without a running systemd nothing would start the unit.
    if !Path::new("/run/systemd/system").is_dir() {
        bail!(
            "systemd is not running here (no /run/systemd/system): nothing was installed; \
             `stagehand service install --print` shows the unit"
        );
    }
    let name = unit_name(&args.name);
    let path = Path::new(UNIT_DIR).join(&name);
    let replaced = path.exists();
    write_atomically(&path, &unit)?;
    println!(
        "{} {}",
        if replaced { "replaced" } else { "wrote" },
        path.display()
    );
    for line in unit.lines().filter(|l| l.contains('=')) {
        println!("  {line}");
    }
    run_systemctl(&["daemon-reload"])?;
    run_systemctl(&["enable", &name])?;
    println!(
        "enabled {name}: it starts at boot; start it now with `stagehand service start --name {}`",
        args.name.name
    );
    Ok(ExitCode::SUCCESS)
}

fn unit(args: &InstallArgs, checked: &Checked, exe: &Path) -> Result<String> {
    let mut service = vec![
        "Type=simple".to_string(),
        format!(
            "ExecStart={} run --config {}",
            quote(exe)?,
            quote(&checked.config)?
        ),
    ];
    if let Some(user) = &args.user {
        if user.is_empty() || user.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("--user {user:?} is not an account name");
        }
        service.push(format!("User={user}"));
    }
    if let Some(file) = &args.environment_file {
        service.push(format!("EnvironmentFile={}", quote(file)?));
    }
    service.extend([
        "# SIGTERM to the driver only: its graceful shutdown stops its commands.".to_string(),
        "KillMode=mixed".to_string(),
        "KillSignal=SIGTERM".to_string(),
        format!(
            "# The grace period ({} s in the configuration) and the time to record the stop.",
            checked
                .stop_timeout
                .saturating_sub(super::STOP_MARGIN)
                .as_secs()
        ),
        format!("TimeoutStopSec={}", checked.stop_timeout.as_secs()),
        "Restart=on-failure".to_string(),
        "RestartSec=30".to_string(),
    ]);
    Ok(format!(
        "{MARKER}; `stagehand service uninstall --name {name}` removes it.\n\
         [Unit]\n\
         Description=stagehand driver ({name})\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         {service}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        name = args.name.name,
        service = service.join("\n"),
    ))
}

/// A path as one word of a systemd command line: `%` and `$` are systemd's own
/// specifiers and variables, so doubled; quoted when it holds a space or a quote.
fn quote(path: &Path) -> Result<String> {
    let Some(text) = path.to_str() else {
        bail!(
            "{}: not valid UTF-8, which a unit file cannot hold",
            path.display()
        );
    };
    if text.chars().any(char::is_control) {
        bail!("{text:?}: a path with control characters cannot be in a unit file");
    }
    let escaped = text.replace('%', "%%").replace('$', "$$");
    if escaped.contains([' ', '"', '\'', '\\', ';']) {
        Ok(format!(
            "\"{}\"",
            escaped.replace('\\', "\\\\").replace('"', "\\\"")
        ))
    } else {
        Ok(escaped)
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let temporary = PathBuf::from(format!("{}.new", path.display()));
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .with_context(|| format!("writing {} (as root?)", path.display()))
}

fn uninstall(name: &NameArgs) -> Result<ExitCode> {
    let unit = unit_name(name);
    let path = Path::new(UNIT_DIR).join(&unit);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {}: is the service installed?", path.display()))?;
    if !text.starts_with(MARKER) {
        bail!(
            "{} was not written by `stagehand service install`: left alone",
            path.display()
        );
    }
    // Stops it first: the driver's graceful shutdown, within TimeoutStopSec.
    run_systemctl(&["disable", "--now", &unit])?;
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    run_systemctl(&["daemon-reload"])?;
    println!("stopped and disabled {unit}, removed {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// systemctl with its own output; its failure is this command's error (exit code 1,
/// also for `status` of a unit that does not run).
fn systemctl(args: &[&str]) -> Result<ExitCode> {
    run_systemctl(args).map(|()| ExitCode::SUCCESS)
}

fn run_systemctl(args: &[&str]) -> Result<()> {
    let status = std::process::Command::new("systemctl")
        .args(args)
        .status()
        .context("running systemctl")?;
    if !status.success() {
        bail!("systemctl {} failed ({status})", args.join(" "));
    }
    Ok(())
}
