//! `/metrics`: Prometheus text built on each scrape from the same views the pages read
//! (so every dashboard and `run --dashboard` agree, and a restart loses nothing), plus,
//! inside `run --dashboard`, the driver's own counters (src/driver/metrics.rs). Labels
//! are statuses, task names, driver and table names, outcomes and calls: never a
//! connection string.

use super::{AppState, WebError};
use crate::store::{ProcessFilter, ProcessStatus};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::Utc;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

fn family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let family = Family::<Labels, Gauge>::default();
    registry.register(name, help, family.clone());
    family
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: f64) {
    let gauge = FloatGauge::default();
    gauge.set(value);
    registry.register(name, help, gauge);
}

pub async fn render(State(state): State<AppState>) -> Result<impl IntoResponse, WebError> {
    let db = &state.db;
    let oldest = ProcessFilter {
        status: Some(ProcessStatus::Pending),
        limit: 1,
        oldest_first: true,
        ..ProcessFilter::default()
    };
    let (counts, tasks, drivers, oldest, tables, version) = tokio::try_join!(
        db.status_summary(),
        db.task_status(),
        db.drivers(),
        db.processes(&oldest),
        db.table_space(),
        db.schedule_version(),
    )?;
    let now = Utc::now();
    let mut registry = Registry::with_prefix("stagehand");

    let processes = family(
        &mut registry,
        "processes",
        "Processes in stage.FileControl by status",
    );
    for status in ["Pending", "InProgress", "Completed", "Failed", "Cancelled"] {
        let count = counts
            .iter()
            .filter(|c| c.status == status)
            .map(|c| c.process_count)
            .sum();
        processes
            .get_or_create(&vec![("status", status.to_string())])
            .set(count);
    }
    let pending = counts
        .iter()
        .filter(|c| c.status == "Pending")
        .map(|c| c.process_count)
        .sum::<i64>();
    gauge(
        &mut registry,
        "queue_depth",
        "Pending processes (waiting for a worker or their run-after time)",
        pending as f64,
    );
    let age = oldest
        .first()
        .map(|p| (now - p.created_at).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    gauge(
        &mut registry,
        "oldest_pending_age_seconds",
        "Age of the oldest Pending process (0 when none)",
        age,
    );

    let failed = family(
        &mut registry,
        "task_failed_24h",
        "Failed runs of the task in the last 24 hours",
    );
    let completed = family(
        &mut registry,
        "task_completed_24h",
        "Completed runs of the task in the last 24 hours",
    );
    let consecutive = family(
        &mut registry,
        "task_consecutive_failures",
        "Failed runs of the task since its last Completed one",
    );
    let last = family(
        &mut registry,
        "task_last_result",
        "1 for the final status of the task's last finished run",
    );
    let enabled = family(&mut registry, "task_enabled", "1 when the task is enabled");
    for t in &tasks {
        let task = vec![("task", t.task_name.clone())];
        failed.get_or_create(&task).set(t.failed_24h);
        completed.get_or_create(&task).set(t.completed_24h);
        consecutive.get_or_create(&task).set(t.consecutive_failures);
        enabled.get_or_create(&task).set(i64::from(t.enabled));
        if let Some(run) = &t.last_run {
            let labels = vec![
                ("task", t.task_name.clone()),
                ("status", run.status.as_str().to_string()),
            ];
            last.get_or_create(&labels).set(1);
        }
    }
    let total_failed: i64 = tasks.iter().map(|t| t.failed_24h).sum();
    gauge(
        &mut registry,
        "failed_24h",
        "Failed runs of all tasks in the last 24 hours",
        total_failed as f64,
    );

    let up = family(
        &mut registry,
        "driver_up",
        "1 when the driver was seen within its lease",
    );
    for d in &drivers {
        up.get_or_create(&vec![("driver", d.driver_name.clone())])
            .set(i64::from(d.alive));
    }
    let live = drivers.iter().filter(|d| d.alive).count();
    gauge(
        &mut registry,
        "drivers_live",
        "Drivers seen within their lease",
        live as f64,
    );

    let bytes = family(
        &mut registry,
        "table_bytes",
        "Size of a stage table, in bytes",
    );
    for t in &tables {
        bytes
            .get_or_create(&vec![("table", t.table_name.clone())])
            .set(t.total_bytes);
    }
    gauge(
        &mut registry,
        "table_alert_bytes",
        "The dashboard's table-size alert threshold",
        (state.alert_mb * 1024 * 1024) as f64,
    );
    gauge(
        &mut registry,
        "schedule_version",
        "stage.ScheduleVersion: changes when a task or trigger changes",
        version as f64,
    );

    if let Some(driver) = &state.driver_metrics {
        driver.register(&mut registry);
    }
    let mut text = String::new();
    encode(&mut text, &registry)
        .map_err(|e| WebError::BadRequest(format!("encoding metrics: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}
