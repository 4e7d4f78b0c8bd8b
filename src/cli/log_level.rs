//! `stagehand logs level [LEVEL]`: the minimum log level, which rows the routines write to
//! stage.ProcessLog (stage.LogPolicy for the database, a task's `minLogLevel` over it).

use super::output::print_json;
use crate::store::{Backend, LogLevel};
use anyhow::{Context, Result};
use std::process::ExitCode;
use std::sync::Arc;

pub async fn run(db: &Arc<dyn Backend>, level: Option<LogLevel>, json: bool) -> Result<ExitCode> {
    if let Some(level) = level {
        let change = db
            .set_min_log_level(level)
            .await
            .context("setting the minimum log level (stage.SetMinLogLevel)")?;
        if json {
            print_json(&change)?;
        } else {
            println!(
                "minimum log level: {} (was {})",
                change.min_log_level.as_str(),
                change.previous_min_log_level.as_str()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let levels = db
        .log_levels()
        .await
        .context("reading the minimum log levels")?;
    if json {
        print_json(&levels)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("minimum log level: {}", levels.database.as_str());
    for task in &levels.tasks {
        println!(
            "  task {}: {} (its minLogLevel)",
            task.task_name,
            task.min_log_level.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}
