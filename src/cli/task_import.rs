//! `stagehand task import --from schtasks|agent|agent-file` and `task export --format
//! agent`: the command-line side of [`crate::import`]. Mapped tasks are validated like
//! any task file and written with one stage.SaveTasks call (all or nothing).

use super::{exit, open_store};
use crate::import::{agent, agent_script, schtasks, Mapped};
use crate::schedule::{parse_tasks, Executor, TaskDefinition};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where `task import` reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ImportFrom {
    /// stagehand's task JSON (arrays or single tasks).
    #[default]
    Json,
    /// Task Scheduler task XML files or folders of them.
    Schtasks,
    /// SQL Server Agent jobs, read from msdb over the --database connection.
    Agent,
    /// A saved result of the Agent query (sql/mssql/agent_import_query.sql), as JSON.
    AgentFile,
}

/// The options of `task import` beyond its files.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ImportOptions {
    /// The source format.
    #[arg(long, value_enum, default_value_t = ImportFrom::Json)]
    pub from: ImportFrom,
    /// Import the tasks that can be mapped; report and skip the others.
    #[arg(long)]
    pub skip_unsupported: bool,
    /// The zone the source's wall-clock times are in (default: the machine's).
    #[arg(long)]
    pub time_zone: Option<String>,
    /// Print the task JSON that would be written; write nothing (no database needed for files).
    #[arg(long)]
    pub dry_run: bool,
    /// Agent: only this job.
    #[arg(long, conflicts_with_all = ["category", "all"])]
    pub job: Option<String>,
    /// Agent: only the jobs of this category.
    #[arg(long, conflicts_with = "all")]
    pub category: Option<String>,
    /// Agent: every job (the default).
    #[arg(long)]
    pub all: bool,
    /// Agent: run T-SQL steps with sqlcmd (a driver task) instead of keeping the job in
    /// Agent (an external task).
    #[arg(long)]
    pub tsql_as_sqlcmd: bool,
}

impl ImportOptions {
    /// Whether an option for a foreign source is given.
    pub fn foreign(&self) -> bool {
        self.from != ImportFrom::Json
            || self.skip_unsupported
            || self.time_zone.is_some()
            || self.dry_run
            || self.job.is_some()
            || self.category.is_some()
            || self.all
            || self.tsql_as_sqlcmd
    }
}

/// The formats of `task export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ExportFormat {
    /// stagehand's task JSON.
    #[default]
    Json,
    /// A T-SQL script creating a SQL Server Agent job per external task.
    Agent,
}

/// The options of `task export` beyond --output.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExportOptions {
    /// json: the tasks as `task import` reads them; agent: a SQL Server Agent job script.
    #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
    pub format: ExportFormat,
    /// --format agent: the database the job steps run in.
    #[arg(long, required_if_eq("format", "agent"))]
    pub step_database: Option<String>,
}

/// A wrong combination of arguments: said as clap says its own (exit code 2).
pub(super) fn usage(message: &str) -> Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(exit::USAGE))
}

pub async fn import(
    database: &Option<String>,
    files: &[PathBuf],
    options: &ImportOptions,
    json: bool,
) -> Result<ExitCode> {
    let agent_only = options.job.is_some()
        || options.category.is_some()
        || options.all
        || options.tsql_as_sqlcmd;
    let mapped = match options.from {
        ImportFrom::Json => {
            return usage(
                "--skip-unsupported, --time-zone, --dry-run, --job, --category, --all and \
                 --tsql-as-sqlcmd need --from schtasks, agent or agent-file",
            )
        }
        ImportFrom::Schtasks => {
            if agent_only {
                return usage(
                    "--job, --category, --all and --tsql-as-sqlcmd are for --from agent and agent-file",
                );
            }
            if files.is_empty() {
                return usage("--from schtasks: give task XML files or folders");
            }
            let mut mapped = Vec::new();
            for file in files {
                mapped.extend(schtasks_files(file)?);
            }
            mapped
        }
        ImportFrom::AgentFile => {
            let [file] = files else {
                return usage(
                    "--from agent-file: give one file (the saved result of the Agent query)",
                );
            };
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            agent::map_jobs(&text, &agent_options(options))
                .map_err(|why| anyhow!("{}: {why}", file.display()))?
        }
        ImportFrom::Agent => {
            if !files.is_empty() {
                return usage("--from agent reads msdb over --database; it takes no files");
            }
            let db = open_store(database, 1).await?;
            let text = db.agent_jobs().await.context("reading msdb")?;
            agent::map_jobs(&text, &agent_options(options)).map_err(|why| anyhow!("msdb: {why}"))?
        }
    };
    let tasks = accept(mapped, options)?;
    if options.dry_run {
        let values: Vec<Value> = tasks.iter().map(TaskDefinition::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(ExitCode::SUCCESS);
    }
    if tasks.is_empty() {
        if json {
            super::output::print_json(&serde_json::json!({ "tasks": [] }))?;
        } else {
            println!("nothing to import");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let db = open_store(database, 2).await?;
    super::task::save(&db, &tasks, json).await?;
    if !json {
        println!("imported {} tasks", tasks.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn agent_options(options: &ImportOptions) -> agent::Options {
    agent::Options {
        job: options.job.clone(),
        category: options.category.clone(),
        tsql_as_sqlcmd: options.tsql_as_sqlcmd,
    }
}

/// Every task of a task XML file, or of every file under a folder (named by their path
/// below it, as Task Scheduler's own folder C:\Windows\System32\Tasks is laid out).
fn schtasks_files(path: &Path) -> Result<Vec<Mapped>> {
    let mut files = Vec::new();
    collect_files(path, &mut files)?;
    let mut mapped = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let relative = file.strip_prefix(path).unwrap_or(&file);
        let relative = if relative.as_os_str().is_empty() {
            file.file_name().map(Path::new).unwrap_or(&file)
        } else {
            relative
        };
        let name = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("\\");
        let text = schtasks::decode(&bytes);
        mapped.extend(
            schtasks::map_document(&text, &name)
                .map_err(|why| anyhow!("{}: {why}; nothing was written", file.display()))?,
        );
    }
    Ok(mapped)
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading folder {}", path.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading folder {}", path.display()))?;
    entries.sort();
    for entry in entries {
        collect_files(&entry, files)?;
    }
    Ok(())
}

/// Unsupported tasks refused (or, with --skip-unsupported, reported and left out), the
/// zone applied, and every task validated; errors name the source task.
fn accept(mapped: Vec<Mapped>, options: &ImportOptions) -> Result<Vec<TaskDefinition>> {
    let mut values = Vec::new();
    let mut sources = Vec::new();
    let mut refused = Vec::new();
    for task in mapped {
        match task.result {
            Ok(mut value) => {
                if let Some(zone) = &options.time_zone {
                    value["timeZone"] = Value::from(zone.as_str());
                }
                values.push(value);
                sources.push(task.source);
            }
            Err(problems) => refused.extend(problems),
        }
    }
    if !refused.is_empty() {
        let list: Vec<String> = refused.iter().map(|p| format!("  {p}")).collect();
        if !options.skip_unsupported {
            bail!(
                "nothing was written: these cannot be imported (--skip-unsupported imports the others):\n{}",
                list.join("\n")
            );
        }
        eprintln!("skipped, cannot be imported:\n{}", list.join("\n"));
    }
    parse_tasks(&Value::Array(values).to_string()).map_err(|errors| {
        let lines: Vec<String> = errors
            .errors()
            .iter()
            .map(|error| {
                let index = error
                    .path
                    .strip_prefix('[')
                    .and_then(|rest| rest.split(']').next())
                    .and_then(|n| n.parse::<usize>().ok());
                match index.and_then(|i| sources.get(i)) {
                    Some(source) => format!("  {source}: {error}"),
                    None => format!("  {error}"),
                }
            })
            .collect();
        anyhow!(
            "nothing was written: the imported tasks are not valid:\n{}",
            lines.join("\n")
        )
    })
}

/// `task export --format agent`: the script for every external task.
pub fn export_agent(tasks: &[&TaskDefinition], options: &ExportOptions) -> Result<String> {
    let database = options
        .step_database
        .as_deref()
        .ok_or_else(|| anyhow!("--format agent needs --step-database"))?;
    let external: Vec<&TaskDefinition> = tasks
        .iter()
        .copied()
        .filter(|t| t.executor == Executor::External)
        .collect();
    agent_script::script(&external, database).map_err(|why| anyhow!("{why}"))
}
