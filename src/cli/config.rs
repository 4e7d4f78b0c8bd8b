//! `stagehand run --config FILE`: the driver's settings from a TOML file, so a service
//! starts with a short, fixed command line. The `[run]` table holds `run`'s own flags
//! (`grace_seconds = 60` for `--grace-seconds 60`); they are checked by the same clap
//! parsers as the flags, and a flag (or its environment variable) given on the command
//! line wins over the file. The top level says where the connection string comes from
//! and where the driver's own log goes.

use super::logging::{LogFormat, LogSettings};
use super::run::RunArgs;
use super::{Cli, Command};
use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser};
use serde::Deserialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// The connection string itself: for logins without a password (or a file only the
    /// service account reads); better one of the two below.
    database_url: Option<String>,
    /// The environment variable that holds the connection string.
    database_url_env: Option<String>,
    /// A file whose content is the connection string.
    database_url_file: Option<PathBuf>,
    /// The driver's own log, rotated daily (`stagehand.YYYY-MM-DD.log`).
    log_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    /// The flags of `stagehand run`, `_` for `-`.
    #[serde(default)]
    run: toml::Table,
}

/// The command line with the configuration file applied, and where the logs go.
#[derive(Debug)]
pub struct Parsed {
    pub cli: Cli,
    pub logging: LogSettings,
}

/// Parses `argv` (program name first); `run --config FILE` gets the file's settings
/// for whatever the command line leaves at its default. Usage errors are clap's.
pub fn parse(argv: Vec<OsString>) -> Result<Parsed> {
    let matches = Cli::command().try_get_matches_from(&argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let path = match &cli.command {
        Command::Run(args) => args.config.clone(),
        _ => None,
    };
    let (Some(path), Some(run_matches)) = (path, matches.subcommand_matches("run")) else {
        return Ok(Parsed {
            cli,
            logging: LogSettings::default(),
        });
    };
    let (mut cli, file) = apply(argv, run_matches, &path)?;
    if let Command::Run(args) = &cli.command {
        // Checked here, where it is known which value came from the file.
        args.check().map_err(|message| {
            super::run_conflict(from_file(message, &file.run, run_matches, &path))
        })?;
    }
    if cli.database.is_none() {
        cli.database = database_url(&path, &file)?;
    }
    Ok(Parsed {
        cli,
        logging: file.logging(),
    })
}

/// The `run` settings and log settings of `run --config FILE` alone, checked as the
/// driver would check them but without reading the connection string (a service
/// installer's check: the secret may exist only in the service's environment).
pub fn settings(path: &Path) -> Result<(RunArgs, LogSettings)> {
    let argv: Vec<OsString> = vec![
        "stagehand".into(),
        "run".into(),
        "--config".into(),
        path.into(),
    ];
    let matches = Cli::command().try_get_matches_from(&argv)?;
    let Some(run_matches) = matches.subcommand_matches("run") else {
        bail!("no run subcommand")
    };
    let (cli, file) = apply(argv.clone(), run_matches, path)?;
    let Command::Run(args) = cli.command else {
        bail!("no run subcommand")
    };
    args.check().map_err(|message| {
        anyhow::anyhow!(
            "in the configuration file {}: {}",
            path.display(),
            from_file(message, &file.run, run_matches, path)
        )
    })?;
    Ok((*args, file.logging()))
}

/// A contradiction's message with each flag whose value came from the file named as the
/// file's key: `--lease-seconds 1` becomes `run.lease_seconds 1 (in FILE)`.
fn from_file(message: String, table: &toml::Table, given: &ArgMatches, path: &Path) -> String {
    let mut message = message;
    for key in table.keys() {
        let flag = format!("--{} ", key.replace('_', "-"));
        let from_command_line = matches!(
            given.value_source(key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if !from_command_line && message.contains(&flag) {
            message = message.replace(&flag, &format!("run.{key} (in {}) ", path.display()));
        }
    }
    message
}

/// `argv` parsed again with the file's `[run]` keys added where it has no flag.
fn apply(argv: Vec<OsString>, run_matches: &ArgMatches, path: &Path) -> Result<(Cli, ConfigFile)> {
    let file = read(path)?;
    let mut argv = argv;
    argv.extend(run_flags(path, &file.run, run_matches)?);
    // Every key passed its flag's parser: what is left is clap's to report.
    Ok((Cli::try_parse_from(argv)?, file))
}

impl ConfigFile {
    fn logging(&self) -> LogSettings {
        LogSettings {
            dir: self.log_dir.clone(),
            format: self.log_format.unwrap_or_default(),
        }
    }
}

fn read(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    toml::from_str(&text).map_err(|error| {
        // Not toml's own rendering: it quotes the line, which may hold a connection string.
        let at = error.span().map_or(0, |span| span.start);
        let line = text[..at.min(text.len())].matches('\n').count();
        let key = text
            .lines()
            .nth(line)
            .and_then(|l| l.split_once('='))
            .map(|(key, _)| format!(", key {}", key.trim()))
            .unwrap_or_default();
        anyhow::anyhow!(
            "in the configuration file {}, line {}{key}: {}",
            path.display(),
            line + 1,
            error.message()
        )
    })
}

/// The connection string from wherever the file says; never shown in an error.
fn database_url(path: &Path, file: &ConfigFile) -> Result<Option<String>> {
    let file_name = path.display();
    match (&file.database_url, &file.database_url_env, &file.database_url_file) {
        (None, None, None) => Ok(None),
        (Some(url), None, None) => Ok(Some(url.clone())),
        (None, Some(name), None) => match std::env::var(name) {
            Ok(url) => Ok(Some(url)),
            Err(_) => bail!(
                "in the configuration file {file_name}, key database_url_env: the environment variable {name} is not set"
            ),
        },
        (None, None, Some(secret)) => std::fs::read_to_string(secret)
            .map(|text| Some(text.trim().to_string()))
            .with_context(|| {
                format!(
                    "in the configuration file {file_name}, key database_url_file: reading {}",
                    secret.display()
                )
            }),
        _ => bail!(
            "in the configuration file {file_name}: give at most one of database_url, database_url_env and database_url_file"
        ),
    }
}

/// The `[run]` table as `run` flags, each checked alone by clap so that an error names
/// the key; keys whose flag the command line gave are left out.
fn run_flags(path: &Path, table: &toml::Table, given: &ArgMatches) -> Result<Vec<OsString>> {
    let mut cli = Cli::command();
    cli.build();
    let Some(run) = cli.find_subcommand("run") else {
        bail!("no run subcommand")
    };
    let mut flags = Vec::new();
    for (key, value) in table {
        let bad = |why: String| {
            anyhow::anyhow!(
                "in the configuration file {}, key run.{key}: {why}",
                path.display()
            )
        };
        let long = key.replace('_', "-");
        let Some(arg) = run.get_arguments().find(|a| {
            a.get_long() == Some(long.as_str()) && !a.is_global_set() && long != "config"
        }) else {
            let known: Vec<String> = run
                .get_arguments()
                .filter_map(|a| a.get_long())
                .filter(|l| !matches!(*l, "config" | "help" | "database" | "json"))
                .map(|l| l.replace('-', "_"))
                .collect();
            return Err(bad(format!(
                "unknown key (the keys are the flags of `stagehand run`: {})",
                known.join(", ")
            )));
        };
        if matches!(
            given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let mut these = Vec::new();
        if arg.get_action().takes_values() {
            let values = match value {
                toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
                    items.iter().collect()
                }
                toml::Value::Array(_) => return Err(bad("takes one value, not a list".into())),
                single => vec![single],
            };
            for value in values {
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                        value.to_string()
                    }
                    // Not quoted: the value may be a secret (smtp_password).
                    _ => return Err(bad(format!("a {} is not a value", value.type_str()))),
                };
                these.push(OsString::from(format!("--{long}={text}")));
            }
        } else {
            match value {
                toml::Value::Boolean(true) => these.push(OsString::from(format!("--{long}"))),
                toml::Value::Boolean(false) => {}
                _ => return Err(bad(format!("{value} is not true or false"))),
            }
        }
        // The flag's own parser and range, on its own so the error is about this key.
        let alone = std::iter::once(OsString::from("run")).chain(these.iter().cloned());
        if let Err(error) = run.clone().try_get_matches_from(alone) {
            let rendered = error.render().to_string();
            let first = rendered.lines().next().unwrap_or_default();
            return Err(bad(first.trim_start_matches("error: ").to_string()));
        }
        flags.extend(these);
    }
    Ok(flags)
}
