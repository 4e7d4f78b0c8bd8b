//! `stagehand rotate` and `stagehand reset-stuck`: the housekeeping `run` also does on a schedule.

use super::output::print_json;
use crate::store::Backend;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// Finished processes older than this many months move to the history tables.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(i32).range(0..))]
    retention_months: i32,
    /// Rows per batch, 1 to 4000 (each batch is its own transaction; below lock escalation).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i32).range(1..=4000))]
    batch_size: i32,
}

#[derive(Debug, clap::Args)]
pub struct ResetArgs {
    /// Processes of executors that never heartbeat are reset after this many minutes.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(i32).range(1..))]
    timeout_minutes: i32,
}

/// Rotates batch by batch, one call per batch, so progress shows and an interrupted
/// rotation loses nothing: every batch already moved is committed.
pub async fn rotate(db: &Arc<dyn Backend>, args: &RotateArgs, json: bool) -> Result<ExitCode> {
    let progress = ProgressBar::new_spinner();
    progress.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {msg}").context("progress template")?,
    );
    progress.enable_steady_tick(Duration::from_millis(120));
    let (mut processes, mut logs) = (0_i64, 0_i64);
    loop {
        let report = db
            .rotate(args.retention_months, args.batch_size, Some(1))
            .await
            .context("stage.RotateHistory")?;
        processes += report.processes_moved;
        logs += report.logs_moved;
        progress.set_message(format!(
            "moved {processes} processes and {logs} log rows to history"
        ));
        if report.done {
            break;
        }
    }
    // Notifications have no history table: old finished ones are deleted, same retention.
    let mut notifications = 0_i64;
    loop {
        let report = db
            .purge_notifications(args.retention_months, args.batch_size)
            .await
            .context("stage.PurgeNotifications")?;
        notifications += report.deleted;
        if report.done {
            break;
        }
    }
    progress.finish_and_clear();
    if json {
        print_json(&serde_json::json!({
            "processesMoved": processes,
            "logsMoved": logs,
            "notificationsDeleted": notifications,
            "retentionMonths": args.retention_months,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "rotation done: {processes} processes and {logs} log rows older than {} months moved to history, {notifications} old notifications deleted",
        args.retention_months
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn reset_stuck(db: &Arc<dyn Backend>, args: &ResetArgs, json: bool) -> Result<ExitCode> {
    let reset = db
        .reset_stuck(args.timeout_minutes)
        .await
        .context("stage.ResetStuckProcesses")?;
    if json {
        print_json(&serde_json::json!({ "reset": reset }))?;
        return Ok(ExitCode::SUCCESS);
    }
    for r in &reset {
        println!(
            "process {} ({}) from {} attempt {} -> {}",
            r.process_id,
            r.process_name,
            r.previous_worker.as_deref().unwrap_or("-"),
            r.attempt,
            r.status
        );
    }
    println!("{} stuck processes reset", reset.len());
    Ok(ExitCode::SUCCESS)
}
