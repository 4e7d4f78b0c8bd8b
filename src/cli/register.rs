//! `stagehand register`: one process, and a warning when no task of that name will run it;
//! or with `--file`, a JSON array of them in one `stage.RegisterProcesses` call.

use super::exit;
use super::output::print_json;
use super::text_file;
use crate::store::{Backend, Registered};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// The process name (a task's id, or any name for an external executor).
    #[arg(required_unless_present = "file")]
    name: Option<String>,
    /// Parameters as a JSON document, passed to the command as STAGEHAND_PARAMETERS.
    #[arg(long = "params", conflicts_with = "file")]
    params: Option<String>,
    /// The name is meant for an external executor (AssignProcessToWorker, SSIS, Agent):
    /// no warning that no task has it (with --file: for any of the file's names).
    #[arg(long)]
    external: bool,
    /// Registers every element of a JSON array of {"name", "parameters", "scheduledFor"}
    /// objects (`-`: standard input) in one transaction, each as if registered one after
    /// another; refused elements are reported, not an error.
    #[arg(long, value_name = "FILE", conflicts_with = "name")]
    file: Option<PathBuf>,
}

pub async fn run(db: &Arc<dyn Backend>, args: &RegisterArgs, json: bool) -> Result<ExitCode> {
    if let Some(file) = &args.file {
        return run_file(db, file, args.external, json).await;
    }
    // clap requires one of the two
    let name = args.name.as_deref().context("NAME or --file is required")?;
    run_one(db, name, args, json).await
}

async fn run_one(
    db: &Arc<dyn Backend>,
    name: &str,
    args: &RegisterArgs,
    json: bool,
) -> Result<ExitCode> {
    let row = db
        .register(name, args.params.as_deref(), None)
        .await
        .context("stage.RegisterProcess")?;
    if !args.external {
        warn_if_taskless(db, [name]).await;
    }
    if json {
        print_json(&row)?;
    } else {
        println!("{}", describe(&row));
    }
    Ok(ExitCode::from(if row.registered {
        exit::SUCCESS
    } else {
        exit::REFUSED
    }))
}

/// The `--json` document of `register --file`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileOutcome<'a> {
    registered: usize,
    refused: usize,
    /// One row per element, in the file's order.
    processes: &'a [Registered],
}

/// Warns about each name no task has. Called after registering, so a warning never
/// stands in for an error: a typo in a name otherwise queues work no driver will run.
async fn warn_if_taskless<'a>(db: &Arc<dyn Backend>, names: impl IntoIterator<Item = &'a str>) {
    let names: std::collections::BTreeSet<&str> = names.into_iter().collect();
    for name in names {
        match db.task_id(name).await {
            Ok(Some(_)) => {}
            Ok(None) => eprintln!(
                "warning: no task named {name}: it will wait for AssignProcessToWorker/an SSIS or Agent executor \
                 (--external silences this)"
            ),
            // A stage_submitter login may register but not read stage.Task: the
            // registration stands, only the check is skipped.
            Err(error) => {
                tracing::debug!(%error, "cannot check for a task of that name");
                return;
            }
        }
    }
}

async fn run_file(
    db: &Arc<dyn Backend>,
    file: &std::path::Path,
    external: bool,
    json: bool,
) -> Result<ExitCode> {
    let text = text_file::read(file)?;
    let source = if file.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        file.display().to_string()
    };
    let rows = db
        .register_many(&text)
        .await
        .with_context(|| format!("stage.RegisterProcesses with {source}"))?;
    if !external {
        warn_if_taskless(db, rows.iter().map(|row| row.process_name.as_str())).await;
    }
    let registered = rows.iter().filter(|row| row.registered).count();
    let refused = rows.len() - registered;
    if json {
        print_json(&FileOutcome {
            registered,
            refused,
            processes: &rows,
        })?;
    } else {
        for row in &rows {
            println!("{}", describe(row));
        }
        println!("{registered} registered, {refused} refused");
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

fn describe(row: &Registered) -> String {
    if row.registered {
        format!(
            "registered process {} ({})",
            row.process_id, row.process_name
        )
    } else {
        format!(
            "refused: process {} of {} is already {}",
            row.process_id, row.process_name, row.status
        )
    }
}
