//! `stagehand status`: the monitoring views, readable in a terminal or as JSON.

use super::drivers;
use crate::store::{
    Backend, DriverRow, OverdueProcess, ProcessRow, StatusCount, TableSpace, WorkerStatistic,
};
use anyhow::{Context, Result};
use chrono::Utc;
use comfy_table::{presets::UTF8_BORDERS_ONLY, Cell, CellAlignment, Table};
use serde::Serialize;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Flag stage tables larger than this many MiB.
    #[arg(long, env = "STAGEHAND_ALERT_MB", default_value_t = 5120)]
    alert_mb: i64,
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
    /// stage.DriverStatus: every known driver, alive or not.
    drivers: Vec<DriverRow>,
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
    let (counts, running, workers, overdue, tables, drivers) = tokio::try_join!(
        db.status_summary(),
        db.running_processes(),
        db.worker_statistics(),
        db.overdue_processes(),
        db.table_space(),
        db.drivers(),
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
    alerts.extend(drivers::no_live_driver(&drivers));
    let running = running
        .into_iter()
        .map(|process| Running {
            lease_expired: overdue
                .iter()
                .any(|o| o.process_id == process.process_id && o.lease_expired),
            process,
        })
        .collect();
    let status = Status {
        counts,
        running,
        workers,
        overdue,
        tables,
        alerts,
        drivers,
    };
    if args.json || json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", render(&status));
    }
    Ok(ExitCode::SUCCESS)
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
