//! `stagehand task list` and `stagehand task history`: what schtasks /query /v and
//! systemctl list-timers show (next and last run, result, failures), from stage.TaskStatus,
//! and the runs of one task from stage.FileControl and its history. Times are shown in
//! the task's zone.

use crate::catalog::{self, StoredTask};
use crate::store::{Backend, LastRun, TaskRun, TaskStatusRow};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use comfy_table::{presets::UTF8_BORDERS_ONLY, Cell, CellAlignment, Table};
use serde_json::json;
use std::sync::Arc;

/// The task's zone; UTC when it has none (or one this build does not know).
fn zone(name: Option<&str>) -> Tz {
    name.and_then(|n| n.parse().ok()).unwrap_or(Tz::UTC)
}

fn local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// A span as systemctl list-timers writes it: the two largest units.
fn span(d: Duration) -> String {
    let s = d.num_seconds().abs();
    let (days, hours, minutes, seconds) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}min")
    } else if minutes > 0 {
        format!("{minutes}min {seconds}s")
    } else {
        format!("{seconds}s")
    }
}

fn result(last: &LastRun) -> String {
    match last.exit_code {
        Some(code) if code != 0 => format!("{} (exit {code})", last.status),
        _ => last.status.to_string(),
    }
}

fn now_column(row: &TaskStatusRow) -> String {
    match (row.running, row.pending) {
        (0, 0) => String::new(),
        (r, 0) => format!("{r} running"),
        (0, p) => format!("{p} pending"),
        (r, p) => format!("{r} running, {p} pending"),
    }
}

fn right(value: impl ToString) -> Cell {
    Cell::new(value.to_string()).set_alignment(CellAlignment::Right)
}

/// Every problem of a stored task that is no longer valid (empty when it is).
fn problems(task: &StoredTask) -> Vec<String> {
    match &task.definition {
        Ok(_) => Vec::new(),
        Err(_) => catalog::check_rows(&task.row.record, &task.triggers)
            .1
            .err()
            .unwrap_or_default(),
    }
}

/// `stagehand task list`: one row per task, joined with its validity from the catalog.
pub fn list(tasks: &[StoredTask], status: &[TaskStatusRow], json: bool) -> Result<()> {
    let now = Utc::now();
    let status_of = |name: &str| status.iter().find(|s| s.task_name == name);
    if json {
        let values: Vec<_> = tasks
            .iter()
            .map(|t| {
                let r = &t.row.record;
                let s = status_of(&r.task_name);
                let next = s.and_then(|s| s.next_fire_at);
                let zone = zone(r.time_zone.as_deref());
                json!({
                    "id": r.task_name,
                    "enabled": r.enabled,
                    "executor": r.executor,
                    "ifRunning": r.overlap_policy,
                    "triggers": t.triggers.len(),
                    "timeZone": r.time_zone,
                    "nextFireAt": next,
                    "nextFireAtLocal": next.map(|n| n.with_timezone(&zone).to_rfc3339()),
                    "lastRun": s.and_then(|s| s.last_run.as_ref()),
                    "consecutiveFailures": s.map_or(0, |s| s.consecutive_failures),
                    "last24h": s.map(|s| json!({
                        "completed": s.completed_24h,
                        "failed": s.failed_24h,
                        "cancelled": s.cancelled_24h,
                    })),
                    "running": s.map_or(0, |s| s.running),
                    "pending": s.map_or(0, |s| s.pending),
                    "command": r.command,
                    "valid": t.definition.is_ok(),
                    "problems": problems(t),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "ID", "NEXT", "LEFT", "LAST", "PASSED", "RESULT", "FAILURES", "NOW", "VALID",
    ]);
    for t in tasks {
        let r = &t.row.record;
        let zone = zone(r.time_zone.as_deref());
        let s = status_of(&r.task_name);
        let next = s.and_then(|s| s.next_fire_at);
        let (next_text, left) = match next {
            _ if !r.enabled => ("disabled".to_string(), String::new()),
            None => ("-".to_string(), String::new()),
            Some(at) if at < now => (local(at, zone), format!("{} late", span(now - at))),
            Some(at) => (local(at, zone), span(at - now)),
        };
        let last = s.and_then(|s| s.last_run.as_ref());
        let last_start = last.map(|l| l.start_time.unwrap_or(l.end_time));
        table.add_row(vec![
            Cell::new(&r.task_name),
            Cell::new(next_text),
            right(left),
            Cell::new(last_start.map_or_else(|| "-".to_string(), |at| local(at, zone))),
            right(last_start.map_or_else(String::new, |at| format!("{} ago", span(now - at)))),
            Cell::new(last.map_or_else(|| "-".to_string(), result)),
            right(s.map_or(0, |s| s.consecutive_failures)),
            Cell::new(s.map_or_else(String::new, now_column)),
            Cell::new(if t.definition.is_ok() { "yes" } else { "NO" }),
        ]);
    }
    println!("{table}");
    for t in tasks.iter().filter(|t| t.definition.is_err()) {
        println!(
            "task {} is stored but no longer valid: see `stagehand task show {}`",
            t.row.record.task_name, t.row.record.task_name
        );
    }
    Ok(())
}

/// `stagehand task history ID`: the task's runs, newest first.
pub async fn history(db: &Arc<dyn Backend>, id: &str, limit: i64, json: bool) -> Result<()> {
    let (tasks, runs) = tokio::try_join!(db.tasks(), db.task_history(id, limit))
        .context("reading the task's runs")?;
    let task = tasks.iter().find(|t| t.record.task_name == id);
    if task.is_none() && runs.is_empty() {
        bail!("no task {id}, and no runs of that name");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(());
    }
    let zone = zone(task.and_then(|t| t.record.time_zone.as_deref()));
    let time = |at: Option<DateTime<Utc>>| at.map_or_else(String::new, |at| local(at, zone));
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header(vec![
        "PROCESS",
        "STATUS",
        "SCHEDULED",
        "STARTED",
        "ENDED",
        "DURATION",
        "EXIT",
        "ATTEMPT",
        "WORKER",
        "TABLE",
    ]);
    for run in &runs {
        table.add_row(vec![
            right(run.process_id),
            Cell::new(run.status),
            Cell::new(time(run.scheduled_for)),
            Cell::new(time(run.start_time)),
            Cell::new(time(run.end_time)),
            right(duration(run)),
            right(run.exit_code.map_or_else(String::new, |c| c.to_string())),
            right(format!("{}/{}", run.attempt, run.max_attempts)),
            Cell::new(run.worker_assigned.as_deref().unwrap_or("")),
            Cell::new(if run.in_history { "history" } else { "queue" }),
        ]);
    }
    if runs.is_empty() {
        println!("task {id} has no runs");
    } else {
        println!("{table}");
    }
    Ok(())
}

/// How long a run took (or has been running).
fn duration(run: &TaskRun) -> String {
    match (run.start_time, run.end_time) {
        (Some(start), Some(end)) => span(end - start),
        (Some(start), None) => format!("{} so far", span(Utc::now() - start)),
        _ => String::new(),
    }
}
