//! `stagehand status`: the monitoring views, readable in a terminal or as JSON.

use super::drivers;
use super::exit;
use super::output::print_json;
use crate::store::{
    Backend, DriverRow, OverdueProcess, ProcessRow, StatusCount, TableSpace, WorkerStatistic,
};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use comfy_table::{presets::UTF8_BORDERS_ONLY, Cell, CellAlignment, Table};
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Arc;

/// Failed processes listed (the check counts them all the same).
const FAILED_SHOWN: i64 = 100;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Flag stage tables larger than this many MiB.
    #[arg(long, env = "STAGEHAND_ALERT_MB", default_value_t = 5120)]
    alert_mb: i64,
    /// Failed processes that ended since this time count as problems: an age (24h, 2d)
    /// or a time, as for `logs --since`.
    #[arg(long, default_value = "24h", value_parser = super::logs::parse_since)]
    failed_since: DateTime<Utc>,
    /// A monitoring check (Nagios style): one summary line, then exit 4 when there are
    /// table alerts, overdue processes or failed ones; 0 when all is well.
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    counts: Vec<StatusCount>,
    running: Vec<Running>,
    workers: Vec<WorkerStatistic>,
    overdue: Vec<OverdueProcess>,
    tables: Vec<TableSpace>,
    /// Tables over the alert threshold; no live driver.
    alerts: Vec<String>,
    /// Processes that failed since `failedSince`, latest first.
    failed: Vec<ProcessRow>,
    failed_since: DateTime<Utc>,
    /// stage.DriverStatus: every known driver, alive or not.
    drivers: Vec<DriverRow>,
    /// What `--check` alerts on: table alerts, no live driver, overdue and failed processes.
    problems: Vec<String>,
}

/// An InProgress process, and whether its lease expired (its driver is gone: it is not
/// really running).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Running {
    #[serde(flatten)]
    process: ProcessRow,
    lease_expired: bool,
}

pub async fn run(db: &Arc<dyn Backend>, args: &StatusArgs, json: bool) -> Result<ExitCode> {
    let (counts, running, workers, overdue, tables, failed, drivers, tasks) = tokio::try_join!(
        db.status_summary(),
        db.running_processes(),
        db.worker_statistics(),
        db.overdue_processes(),
        db.table_space(),
        db.failed_processes(args.failed_since, FAILED_SHOWN),
        db.drivers(),
        db.task_status(),
    )
    .context("reading the monitoring views")?;
    let limit = args.alert_mb.saturating_mul(1024 * 1024);
    let mut alerts: Vec<String> = tables
        .iter()
        .filter(|t| t.total_bytes > limit)
        .map(|t| {
            format!(
                "{} is {} MiB (alert at {} MiB)",
                t.table_name,
                t.total_bytes / 1024 / 1024,
                args.alert_mb
            )
        })
        .collect();
    // Only a schedule needs a clock: a queue fed by applications for external executors
    // runs without any driver.
    if tasks.iter().any(|t| t.enabled) {
        alerts.extend(drivers::no_live_driver(&drivers));
    }
    let running = running
        .into_iter()
        .map(|process| Running {
            lease_expired: overdue
                .iter()
                .any(|o| o.process_id == process.process_id && o.lease_expired),
            process,
        })
        .collect();
    let mut status = Status {
        counts,
        running,
        workers,
        overdue,
        tables,
        alerts,
        failed,
        failed_since: args.failed_since,
        drivers,
        problems: Vec::new(),
    };
    status.problems = problems(&status);
    if json {
        print_json(&status)?;
    } else if args.check {
        println!("{}", summary(&status));
        for problem in &status.problems {
            println!("{problem}");
        }
    } else {
        print!("{}", render(&status));
    }
    Ok(ExitCode::from(
        if args.check && !status.problems.is_empty() {
            exit::ALERTS
        } else {
            exit::SUCCESS
        },
    ))
}

/// One line per thing `--check` alerts on.
fn problems(status: &Status) -> Vec<String> {
    let mut problems = status.alerts.clone();
    for o in &status.overdue {
        problems.push(format!(
            "overdue: process {} ({}) running {} min, timeout {} min",
            o.process_id, o.process_name, o.running_minutes, o.timeout_minutes
        ));
    }
    for p in &status.failed {
        problems.push(format!(
            "failed: process {} ({}) at {}{}",
            p.process_id,
            p.process_name,
            p.end_time
                .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
                .unwrap_or_default(),
            p.exit_code
                .map(|c| format!(", exit code {c}"))
                .unwrap_or_default()
        ));
    }
    problems
}

/// The first line of `--check`: a verdict a monitoring system shows as is.
fn summary(status: &Status) -> String {
    if status.problems.is_empty() {
        return "STAGEHAND OK - no overdue or failed processes, no table alerts".to_string();
    }
    let failed = if status.failed.len() as i64 == FAILED_SHOWN {
        format!("{FAILED_SHOWN} or more")
    } else {
        status.failed.len().to_string()
    };
    format!(
        "STAGEHAND ALERT - {} overdue, {failed} failed since {}, {} table alerts",
        status.overdue.len(),
        status.failed_since.format("%Y-%m-%d %H:%M:%SZ"),
        status.alerts.len()
    )
}

/// How `status` marks an InProgress run whose lease ran out.
const LEASE_EXPIRED: &str = "LEASE EXPIRED (driver gone?)";

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_header(header.to_vec());
    table
}

fn right(value: impl ToString) -> Cell {
    Cell::new(value.to_string()).set_alignment(CellAlignment::Right)
}

/// A titled section: the table, or "(none)" when it has no rows.
fn section(out: &mut String, title: &str, table: &Table) {
    if table.row_iter().next().is_none() {
        out.push_str(&format!("{title}: (none)\n\n"));
    } else {
        out.push_str(&format!("{title}\n{table}\n\n"));
    }
}

fn render(status: &Status) -> String {
    let now = Utc::now();
    let mut out = String::new();

    let mut counts = table(&["Status", "Processes"]);
    for c in &status.counts {
        counts.add_row(vec![Cell::new(&c.status), right(c.process_count)]);
    }
    section(&mut out, "Processes by status", &counts);

    let mut running = table(&["ID", "Name", "Worker", "Running for", "Attempt", "State"]);
    for Running {
        process: p,
        lease_expired,
    } in &status.running
    {
        let seconds = p.start_time.map(|s| (now - s).num_seconds()).unwrap_or(0);
        running.add_row(vec![
            right(p.process_id),
            Cell::new(&p.process_name),
            Cell::new(p.worker_assigned.as_deref().unwrap_or("")),
            right(format!("{seconds} s")),
            right(format!("{}/{}", p.attempt, p.max_attempts)),
            // InProgress only on paper: its driver is gone.
            Cell::new(if *lease_expired {
                LEASE_EXPIRED
            } else {
                "running"
            }),
        ]);
    }
    section(
        &mut out,
        &format!("Running now ({})", status.running.len()),
        &running,
    );

    let mut workers = table(&["Worker", "Done", "Avg s", "Max s"]);
    for w in &status.workers {
        workers.add_row(vec![
            Cell::new(&w.worker_assigned),
            right(w.processes_done),
            right(format!("{:.1}", w.avg_duration_seconds)),
            right(format!("{:.1}", w.max_duration_seconds)),
        ]);
    }
    section(&mut out, "Workers", &workers);

    let mut overdue = table(&[
        "ID",
        "Name",
        "Worker",
        "Running min",
        "Timeout min",
        "Lease",
    ]);
    for o in &status.overdue {
        overdue.add_row(vec![
            right(o.process_id),
            Cell::new(&o.process_name),
            Cell::new(o.worker_assigned.as_deref().unwrap_or("")),
            right(o.running_minutes),
            right(o.timeout_minutes),
            Cell::new(if o.lease_expired { LEASE_EXPIRED } else { "" }),
        ]);
    }
    section(
        &mut out,
        &format!("Overdue ({})", status.overdue.len()),
        &overdue,
    );

    let mut tables = table(&["Table", "Rows", "Size"]);
    for t in &status.tables {
        tables.add_row(vec![
            Cell::new(&t.table_name),
            right(t.row_count),
            right(human_bytes(t.total_bytes)),
        ]);
    }
    section(&mut out, "Tables", &tables);

    let mut failed = table(&["ID", "Name", "Ended (UTC)", "Exit code", "Attempt"]);
    for p in &status.failed {
        failed.add_row(vec![
            right(p.process_id),
            Cell::new(&p.process_name),
            Cell::new(
                p.end_time
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
            ),
            right(p.exit_code.map(|c| c.to_string()).unwrap_or_default()),
            right(format!("{}/{}", p.attempt, p.max_attempts)),
        ]);
    }
    section(
        &mut out,
        &format!(
            "Failed since {} ({})",
            status.failed_since.format("%Y-%m-%d %H:%M:%SZ"),
            status.failed.len()
        ),
        &failed,
    );
    let alive = status.drivers.iter().filter(|d| d.alive).count();
    section(
        &mut out,
        &format!("Drivers ({alive} alive)"),
        &drivers::table(&status.drivers),
    );
    for alert in &status.alerts {
        out.push_str(&format!("ALERT: {alert}\n"));
    }
    out
}

fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
