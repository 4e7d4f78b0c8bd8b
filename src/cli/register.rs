//! `stagehand register`: one process, and a warning when no task of that name will run it.

use super::exit;
use super::output::print_json;
use crate::store::Backend;
use anyhow::{Context, Result};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// The process name (a task's id, or any name for an external executor).
    name: String,
    /// Parameters as a JSON document, passed to the command as STAGEHAND_PARAMETERS.
    #[arg(long = "params")]
    params: Option<String>,
    /// The name is meant for an external executor (AssignProcessToWorker, SSIS, Agent):
    /// no warning that no task has it.
    #[arg(long)]
    external: bool,
}

pub async fn run(db: &Arc<dyn Backend>, args: &RegisterArgs, json: bool) -> Result<ExitCode> {
    let row = db
        .register(&args.name, args.params.as_deref(), None)
        .await
        .context("stage.RegisterProcess")?;
    // After registering, so a warning never stands in for an error: a typo in the
    // name otherwise queues work that no driver will ever run.
    if !args.external {
        match db.task_id(&args.name).await {
            Ok(Some(_)) => {}
            Ok(None) => eprintln!(
                "warning: no task named {}: it will wait for AssignProcessToWorker/an SSIS or Agent executor \
                 (--external silences this)",
                args.name
            ),
            // A stage_submitter login may register but not read stage.Task: the
            // registration stands, only the check is skipped.
            Err(error) => tracing::debug!(%error, "cannot check for a task of that name"),
        }
    }
    if json {
        print_json(&row)?;
    } else if row.registered {
        println!(
            "registered process {} ({})",
            row.process_id, row.process_name
        );
    } else {
        println!(
            "refused: process {} of {} is already {}",
            row.process_id, row.process_name, row.status
        );
    }
    Ok(ExitCode::from(if row.registered {
        exit::SUCCESS
    } else {
        exit::REFUSED
    }))
}
