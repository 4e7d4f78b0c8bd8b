//! `stagehand task ...`: tasks as JSON in and out, and the next fire times.

use super::output::print_json;
use super::{open_store, task_status, text_file};
use crate::catalog::{self, StoredTask};
use crate::schedule::{parse_task, parse_tasks, Recurrence, Schedule, TaskDefinition};
use crate::store::Backend;
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Subcommand)]
pub enum TaskCommand {
    /// Add a task (or an array of tasks) from a JSON file, or - for standard input.
    Add {
        /// The task file (JSON), or - for standard input.
        file: PathBuf,
    },
    /// Replace existing task(s) from a JSON file, or - for standard input.
    Update {
        /// The task file (JSON), or - for standard input.
        file: PathBuf,
    },
    /// Delete a task (its pending processes are cancelled).
    Remove {
        /// The task's id.
        id: String,
    },
    /// List the tasks: next and last run, result, failures since the last success, validity.
    List,
    /// Print a task's JSON.
    Show {
        /// The task's id.
        id: String,
    },
    /// Print (or write) every task as a JSON array, the format `task import` reads
    /// (or, --format agent, a SQL Server Agent job script for the external tasks).
    Export {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        options: super::task_import::ExportOptions,
    },
    /// Add or replace every task of the given files (arrays or single tasks), in one
    /// transaction; --from reads Task Scheduler XML or SQL Server Agent jobs instead.
    Import {
        /// Task files (JSON: one task or an array), or - for standard input; with --from
        /// schtasks: Task Scheduler XML files or folders of them.
        files: Vec<PathBuf>,
        #[command(flatten)]
        options: super::task_import::ImportOptions,
    },
    /// The next fire times of a stored task (ID) or of a task file (--file, no database).
    Next {
        /// A stored task's id.
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        id: Option<String>,
        /// A task JSON file (or -): checked and predicted without a database.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Predict after this time (RFC 3339, or a wall-clock time in the task's zone); default now.
        #[arg(long)]
        after: Option<String>,
        /// How many fire times to print.
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// The last runs of a task (or of any process name), newest first, from the queue and its history.
    History {
        /// The task's id (or any process name).
        id: String,
        /// How many runs to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        limit: i64,
    },
    // run, enable, disable: src/cli/steer.rs
    #[command(flatten)]
    Steer(super::steer::TaskSteer),
}

/// One task object or an array of them; every mistake is reported, with its path.
fn read_tasks(file: &Path) -> Result<Vec<TaskDefinition>> {
    let text = text_file::read(file)?;
    let result = if text.trim_start().starts_with('[') {
        parse_tasks(&text)
    } else {
        parse_task(&text).map(|t| vec![t])
    };
    let source = if file.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        file.display().to_string()
    };
    result.map_err(|errors| anyhow!("{source} is not a valid task; nothing was written:\n{errors}"))
}

/// One stage.SaveTasks call, so all tasks are written or none; a spinner shows while a
/// large import runs (stderr, so the output stays clean when piped).
pub(super) async fn save(
    db: &Arc<dyn Backend>,
    tasks: &[TaskDefinition],
    json: bool,
) -> Result<()> {
    let now = Utc::now();
    let rows: Vec<_> = tasks.iter().map(|t| catalog::to_save(t, now)).collect();
    let progress = indicatif::ProgressBar::new_spinner();
    progress.set_message(format!("saving {} tasks in one transaction", rows.len()));
    progress.enable_steady_tick(std::time::Duration::from_millis(120));
    let saved = db.save_tasks(&rows).await.context("stage.SaveTasks");
    progress.finish_and_clear();
    let saved = saved?;
    let verb = |created: bool| if created { "added" } else { "updated" };
    if json {
        let tasks: Vec<_> = saved
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.task_name,
                    "taskId": s.task_id,
                    "action": verb(s.created),
                })
            })
            .collect();
        return print_json(&serde_json::json!({ "tasks": tasks }));
    }
    for saved in &saved {
        println!(
            "{} task {} (TaskID {})",
            verb(saved.created),
            saved.task_name,
            saved.task_id
        );
    }
    Ok(())
}

async fn stored(db: &Arc<dyn Backend>) -> Result<Vec<StoredTask>> {
    catalog::load(&**db).await.context("reading stage.Task")
}

fn definition(task: &StoredTask) -> Result<&TaskDefinition> {
    task.definition.as_ref().map_err(|why| {
        anyhow!(
            "task {} is stored but not valid: {why}",
            task.row.record.task_name
        )
    })
}

pub async fn run(database: &Option<String>, command: &TaskCommand, json: bool) -> Result<ExitCode> {
    if let TaskCommand::Next {
        file: Some(file),
        after,
        count,
        ..
    } = command
    {
        // No database: a user checks a task before adding it.
        let tasks = read_tasks(file)?;
        let [task] = tasks.as_slice() else {
            bail!("--file must hold one task, not an array");
        };
        print_next(task, after.as_deref(), *count, json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let TaskCommand::Import { files, options } = command {
        if options.foreign() {
            return super::task_import::import(database, files, options, json).await;
        }
        if files.is_empty() {
            return super::task_import::usage(
                "give task JSON files (or --from schtasks|agent|agent-file)",
            );
        }
    }
    let db = open_store(database, 2).await?;
    match command {
        TaskCommand::Add { file } | TaskCommand::Update { file } => {
            let tasks = read_tasks(file)?;
            let existing: Vec<String> = db
                .tasks()
                .await?
                .into_iter()
                .map(|t| t.record.task_name)
                .collect();
            let adding = matches!(command, TaskCommand::Add { .. });
            for task in &tasks {
                let exists = existing.contains(&task.id);
                if adding && exists {
                    bail!(
                        "task {} already exists (use `stagehand task update`); nothing was written",
                        task.id
                    );
                }
                if !adding && !exists {
                    bail!(
                        "task {} does not exist (use `stagehand task add`); nothing was written",
                        task.id
                    );
                }
            }
            save(&db, &tasks, json).await?;
        }
        TaskCommand::Import { files, .. } => {
            let mut tasks = Vec::new();
            for file in files {
                tasks.extend(read_tasks(file)?);
            }
            save(&db, &tasks, json).await?;
            if !json {
                println!("imported {} tasks", tasks.len());
            }
        }
        TaskCommand::Remove { id } => {
            if !db.delete_task(id).await.context("stage.DeleteTask")? {
                bail!("no task {id}");
            }
            if json {
                print_json(&serde_json::json!({ "removed": id }))?;
            } else {
                println!("removed task {id}");
            }
        }
        TaskCommand::List => {
            let (tasks, status, drivers) = tokio::try_join!(
                stored(&db),
                async { db.task_status().await.context("reading stage.TaskStatus") },
                async { db.drivers().await.context("reading stage.DriverStatus") },
            )?;
            task_status::list(&tasks, &status, json)?;
            if let Some(warning) = super::drivers::no_live_driver(&drivers) {
                eprintln!("warning: {warning}");
            }
        }
        TaskCommand::Show { id } => {
            let tasks = stored(&db).await?;
            let task = tasks
                .iter()
                .find(|t| &t.row.record.task_name == id)
                .ok_or_else(|| anyhow!("no task {id}"))?;
            if task.definition.is_err() {
                return show_invalid(task, json);
            }
            println!("{}", definition(task)?.to_json_string());
        }
        TaskCommand::Export { output, options } => {
            let tasks = stored(&db).await?;
            let definitions = tasks.iter().map(definition).collect::<Result<Vec<_>>>()?;
            let values: Vec<_> = definitions.iter().map(|d| d.to_json()).collect();
            let text = match options.format {
                super::task_import::ExportFormat::Json => {
                    serde_json::to_string_pretty(&values)? + "\n"
                }
                super::task_import::ExportFormat::Agent => {
                    super::task_import::export_agent(&definitions, options)?
                }
            };
            match output {
                Some(path) => {
                    std::fs::write(path, text)
                        .with_context(|| format!("--output {}", path.display()))?;
                    eprintln!("exported {} tasks to {}", values.len(), path.display());
                }
                None => print!("{text}"),
            }
        }
        TaskCommand::Next {
            id: Some(id),
            after,
            count,
            ..
        } => {
            let tasks = stored(&db).await?;
            let task = tasks
                .iter()
                .find(|t| &t.row.record.task_name == id)
                .ok_or_else(|| anyhow!("no task {id}"))?;
            print_next(definition(task)?, after.as_deref(), *count, json)?;
        }
        TaskCommand::Next { .. } => bail!("give a task id or --file"),
        TaskCommand::Steer(command) => return super::steer::task(&db, command, json).await,
        TaskCommand::History { id, limit } => task_status::history(&db, id, *limit, json).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A stored task that no longer validates (edited by SQL, or stored by an older
/// version): printed as stored, with its problems, instead of being refused.
fn show_invalid(task: &StoredTask, json: bool) -> Result<ExitCode> {
    let (stored, checked) = catalog::check_rows(&task.row.record, &task.triggers);
    let problems = checked.err().unwrap_or_default();
    if json {
        let document = serde_json::json!({ "task": stored, "valid": false, "problems": problems });
        print_json(&document)?;
    } else {
        println!("{}", serde_json::to_string_pretty(&stored)?);
        eprintln!(
            "task {} is stored but no longer valid:",
            task.row.record.task_name
        );
        for problem in &problems {
            eprintln!("  {problem}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// RFC 3339, or a wall-clock time read in the task's zone.
fn parse_after(text: &str, task: &TaskDefinition) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .ok_or_else(|| {
        anyhow!("--after: {text:?} is not a time (RFC 3339 or YYYY-MM-DDTHH:MM[:SS])")
    })?;
    Ok(crate::schedule::wall_clock::resolve(task.time_zone, local))
}

fn print_next(task: &TaskDefinition, after: Option<&str>, count: usize, json: bool) -> Result<()> {
    let after = after
        .map(|a| parse_after(a, task))
        .transpose()?
        .unwrap_or_else(Utc::now);
    let schedule = Schedule::new(task);
    // Not times: said on stderr so the list (or its JSON) stays clean.
    for (index, (trigger, definition)) in schedule.triggers().iter().zip(&task.triggers).enumerate()
    {
        match definition.recurrence {
            _ if !(trigger.is_driver_start() && trigger.is_enabled()) => {}
            Recurrence::DriverStart {
                delay_seconds: delay @ 1..,
            } => eprintln!(
                "trigger {index} also fires once at every driver start, {delay} s after it"
            ),
            _ => eprintln!("trigger {index} also fires once at every driver start"),
        }
    }
    let times: Vec<String> = schedule
        .upcoming(after, count)
        .into_iter()
        .map(|(at, _)| at.to_rfc3339())
        .collect();
    if json {
        print_json(&times)?;
    } else {
        for t in &times {
            println!("{t}");
        }
    }
    Ok(())
}
