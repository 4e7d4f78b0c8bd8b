//! Steering work from the command line: `task run|enable|disable`, `cancel` and `retry`.
//! Each is one `stage` procedure (RunTaskNow, SetTaskEnabled, CancelProcess,
//! RetryProcess), so the command line does nothing a DBA could not do from SSMS.
//! A refusal by the queue's rules prints why and exits with [`exit::REFUSED`].

use super::exit;
use crate::store::{Backend, ProcessStatus, Registered, StoreError, StoreResult};
use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Subcommand)]
pub enum TaskSteer {
    /// Register a run of the task now; its ifRunning policy applies (exit 3 when refused).
    Run {
        /// The task's id.
        id: String,
        /// Run it even though the task is disabled.
        #[arg(long)]
        force: bool,
    },
    /// Enable the task (or one of its triggers); running clocks reload within a second.
    Enable {
        /// The task's id.
        id: String,
        /// Only this trigger: its position in the task's triggers array, from 0.
        #[arg(long = "trigger", value_name = "N")]
        trigger: Option<i32>,
    },
    /// Disable the task (or one of its triggers): the clock stops firing it.
    Disable {
        /// The task's id.
        id: String,
        /// Only this trigger: its position in the task's triggers array, from 0.
        #[arg(long = "trigger", value_name = "N")]
        trigger: Option<i32>,
    },
}

/// What a steering command reports: a row, a line of text, and a refusal if there was one.
struct Report {
    value: Value,
    text: String,
    refused: Option<String>,
}

impl Report {
    fn of(row: &impl Serialize, text: String) -> Result<Report> {
        Ok(Report {
            value: serde_json::to_value(row).context("encoding the result")?,
            text,
            refused: None,
        })
    }

    /// A refusal with no row: the procedure said why.
    fn refusal(value: Value, why: String) -> Report {
        Report {
            value,
            text: String::new(),
            refused: Some(why),
        }
    }

    /// Prints one JSON document (with `refused` holding the reason, if any) or text.
    fn print(mut self, json: bool) -> Result<ExitCode> {
        if json {
            if let (Some(why), Some(object)) = (&self.refused, self.value.as_object_mut()) {
                object.insert("refused".into(), json!(why));
            }
            println!("{}", serde_json::to_string_pretty(&self.value)?);
        } else {
            match &self.refused {
                Some(why) => println!("refused: {why}"),
                None => println!("{}", self.text),
            }
        }
        Ok(ExitCode::from(if self.refused.is_some() {
            exit::REFUSED
        } else {
            exit::SUCCESS
        }))
    }
}

/// A registration: the new run, or the refusal of a duplicate (its existing run).
fn registration(row: &Registered, what: &str) -> Result<Report> {
    let mut report = Report::of(
        row,
        format!(
            "registered process {} ({}){what}",
            row.process_id, row.process_name
        ),
    )?;
    if !row.registered {
        report.refused = Some(format!(
            "process {} of {} is already {}",
            row.process_id, row.process_name, row.status
        ));
    }
    Ok(report)
}

/// The row, or the queue's refusal of the request as a report.
fn or_refusal<T>(
    result: StoreResult<T>,
    procedure: &str,
    subject: Value,
    hint: &str,
    report: impl FnOnce(T) -> Result<Report>,
) -> Result<Report> {
    match result {
        Ok(row) => report(row),
        Err(StoreError::Refused(why)) => Ok(Report::refusal(subject, format!("{why}{hint}"))),
        Err(error) => Err(error).context(format!("stage.{procedure}")),
    }
}

pub async fn task(db: &Arc<dyn Backend>, command: &TaskSteer, json: bool) -> Result<ExitCode> {
    let report = match command {
        TaskSteer::Run { id, force } => or_refusal(
            db.run_task_now(id, *force).await,
            "RunTaskNow",
            json!({ "processName": id, "registered": false }),
            &format!(" (stagehand task run {id} --force)"),
            |row| registration(&row, ""),
        )?,
        TaskSteer::Enable { id, trigger } | TaskSteer::Disable { id, trigger } => {
            let enable = matches!(command, TaskSteer::Enable { .. });
            let row = db
                .set_task_enabled(id, enable, *trigger)
                .await
                .context("stage.SetTaskEnabled")?;
            let what = match row.trigger_index {
                Some(index) => format!("trigger {index} of task {}", row.task_name),
                None => format!("task {}", row.task_name),
            };
            let state = if enable { "enabled" } else { "disabled" };
            let text = if row.changed {
                format!("{state} {what}")
            } else {
                format!("{what} was {state} already")
            };
            Report::of(&row, text)?
        }
    };
    report.print(json)
}

pub async fn cancel(db: &Arc<dyn Backend>, process_id: i64, json: bool) -> Result<ExitCode> {
    or_refusal(
        db.cancel_process(process_id).await,
        "CancelProcess",
        json!({ "processId": process_id }),
        "",
        |row| {
            let text = if row.status == ProcessStatus::Cancelled {
                format!("cancelled process {} ({})", row.process_id, row.process_name)
            } else {
                format!(
                    "asked process {} ({}) to stop: the driver running it stops it at its next heartbeat and records it as Cancelled",
                    row.process_id, row.process_name
                )
            };
            Report::of(&row, text)
        },
    )?
    .print(json)
}

pub async fn retry(db: &Arc<dyn Backend>, process_id: i64, json: bool) -> Result<ExitCode> {
    or_refusal(
        db.retry_process(process_id).await,
        "RetryProcess",
        json!({ "retryOf": process_id, "registered": false }),
        "",
        |row| {
            let mut report = registration(&row, &format!(", a retry of process {process_id}"))?;
            if let Some(object) = report.value.as_object_mut() {
                object.insert("retryOf".into(), json!(process_id));
            }
            Ok(report)
        },
    )?
    .print(json)
}
