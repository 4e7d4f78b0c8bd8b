//! The read pages (overview, tasks, processes, a process, failed, drivers) and the
//! one-button writes (run now, enable/disable, retry, cancel). Every write is a POST
//! checked by [`super::csrf`] and the user's role.

use super::layout::{self, action, page, Series};
use super::{csrf, log_level, AppState, Session, WebError};
use crate::store::{ProcessFilter, ProcessRow, ProcessStatus, StoreError, TableSpace};
use crate::web::auth::Role;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use std::str::FromStr;

/// Hours the overview's chart covers.
const CHART_HOURS: u32 = 24;
/// Rows a process list shows.
const LIST_LIMIT: i64 = 200;

#[derive(Deserialize, Default)]
pub struct Notice {
    pub notice: Option<String>,
}

/// The fields of a one-button form.
#[derive(Deserialize)]
pub struct ButtonForm {
    csrf: Option<String>,
    enabled: Option<String>,
    /// Where to go back to (a path of this server).
    back: Option<String>,
}

/// Refuses a POST without this session's CSRF token or from another origin.
pub fn check_post(
    headers: &HeaderMap,
    session: &Session,
    token: Option<&str>,
) -> Result<(), WebError> {
    let from_cookie = csrf::from_cookie(headers);
    csrf::check(
        headers,
        from_cookie.as_deref().filter(|c| *c == session.csrf),
        token,
    )
    .map_err(|why| WebError::Forbidden(why.to_string()))
}

/// A 303 to `back` (only a local path) with a notice for the next page.
pub fn back_to(back: Option<&str>, default: &str, notice: &str) -> Response {
    let path = back
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or(default);
    let path = path.split('?').next().unwrap_or(default);
    let notice: String = url::form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    Redirect::to(&format!("{path}?notice={notice}")).into_response()
}

pub async fn overview(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(notice): Query<Notice>,
) -> Result<Markup, WebError> {
    let db = &state.db;
    let now = Utc::now();
    let (counts, hourly, drivers, tables, overdue, levels) = tokio::try_join!(
        db.status_summary(),
        db.finished_per_hour(now, CHART_HOURS),
        db.drivers(),
        db.table_space(),
        db.overdue_processes(),
        db.log_levels(),
    )?;
    // The hours finished_per_hour covers, oldest first: the current one is the last.
    let last = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    let hours: Vec<DateTime<Utc>> = (0..CHART_HOURS)
        .rev()
        .map(|i| last - TimeDelta::hours(i64::from(i)))
        .collect();
    let per_hour = |status: ProcessStatus| -> Vec<f64> {
        hours
            .iter()
            .map(|h| {
                hourly
                    .iter()
                    .filter(|o| o.hour_start == *h && o.status == status)
                    .map(|o| o.process_count as f64)
                    .sum()
            })
            .collect()
    };
    let labels: Vec<String> = hours
        .iter()
        .map(|h| h.format("%H:00").to_string())
        .collect();
    let series = [
        Series {
            label: "completed",
            class: "ok",
            values: per_hour(ProcessStatus::Completed),
        },
        Series {
            label: "failed",
            class: "failed",
            values: per_hour(ProcessStatus::Failed),
        },
    ];
    let live: Vec<_> = drivers.iter().filter(|d| d.alive).collect();
    let body = html! {
        div.cards #status-counts {
            @for count in &counts {
                div.card data-status=(count.status) {
                    span.count { (count.process_count) }
                    (layout::status(&count.status))
                }
            }
        }
        h2 { "Finished per hour (last " (CHART_HOURS) " hours)" }
        (layout::bar_chart("Completed and failed runs per hour (UTC)", &labels, &series))
        h2 { "Live drivers (" (live.len()) ")" }
        @if live.is_empty() {
            p.alert #no-live-driver { "No live driver: nothing claims work or fires triggers." }
        } @else {
            table { tr { th { "Driver" } th { "Workers" } th { "Clock" } th { "Last seen" } }
                @for d in &live {
                    tr { td { (d.driver_name) } td { (d.workers) } td { (if d.clock_enabled { "yes" } else { "no" }) } td { (format!("{:.0} s ago", d.seconds_since_seen)) } }
                }
            }
        }
        @if !overdue.is_empty() {
            h2.alert { "Overdue (" (overdue.len()) ")" }
            table { tr { th { "Process" } th { "Task" } th { "Running" } th { "Timeout" } }
                @for o in &overdue {
                    tr { td { a href={ "/processes/" (o.process_id) } { (o.process_id) } } td { (o.process_name) } td { (o.running_minutes) " min" } td { (o.timeout_minutes) " min" } }
                }
            }
        }
        h2 { "Table sizes (alert above " (state.alert_mb) " MiB)" }
        (table_sizes(&tables, state.alert_mb))
        (log_level::section(&session, &levels))
    };
    Ok(page("Overview", &session, notice.notice.as_deref(), body))
}

fn table_sizes(tables: &[TableSpace], alert_mb: i64) -> Markup {
    let limit = alert_mb.saturating_mul(1024 * 1024);
    html! {
        table { tr { th { "Table" } th { "Rows" } th { "Size" } th { "Of threshold" } }
            @for t in tables {
                @let share = if limit > 0 { t.total_bytes as f64 * 100.0 / limit as f64 } else { 0.0 };
                tr class=(if t.total_bytes > limit { "alert" } else { "" }) {
                    td { (t.table_name) } td { (t.row_count) }
                    td { (format!("{:.1} MiB", t.total_bytes as f64 / 1_048_576.0)) }
                    td { meter min="0" max="100" value=(format!("{share:.1}")) {} " " (format!("{share:.1} %")) }
                }
            }
        }
    }
}

pub async fn tasks(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(notice): Query<Notice>,
) -> Result<Markup, WebError> {
    let rows = state.db.task_status().await?;
    let body = html! {
        table #tasks {
            tr { th { "Task" } th { "Enabled" } th { "Next" } th { "Last" } th { "Result" } th { "Failures in a row" } th { "Running / pending" } th { "24 h ok / failed" } th {} }
            @for t in &rows {
                tr data-task=(t.task_name) {
                    td { a href={ "/tasks/" (path_segment(&t.task_name)) } { (t.task_name) } }
                    td { (if t.enabled { "yes" } else { "no" }) }
                    td { (layout::time(t.next_fire_at)) }
                    td { (layout::time(t.last_run.as_ref().map(|r| r.end_time))) }
                    td { @if let Some(run) = &t.last_run { a href={ "/processes/" (run.process_id) } { (layout::status(run.status.as_str())) } } @else { "—" } }
                    td class=(if t.consecutive_failures > 0 { "alert" } else { "" }) { (t.consecutive_failures) }
                    td { (t.running) " / " (t.pending) }
                    td { (t.completed_24h) " / " (t.failed_24h) }
                    td {
                        @if session.principal.role >= Role::Submitter {
                            (action(&session, &format!("/tasks/{}/run", path_segment(&t.task_name)), "Run now", &[]))
                        }
                        @if session.principal.role >= Role::Admin {
                            " "
                            (action(&session, &format!("/tasks/{}/enabled", path_segment(&t.task_name)),
                                if t.enabled { "Disable" } else { "Enable" },
                                &[("enabled", if t.enabled { "false" } else { "true" }), ("back", "/tasks")]))
                        }
                    }
                }
            }
        }
    };
    Ok(page("Tasks", &session, notice.notice.as_deref(), body))
}

/// A task name as one URL path segment.
pub fn path_segment(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

pub async fn run_now(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ButtonForm>,
) -> Result<Response, WebError> {
    check_post(&headers, &session, form.csrf.as_deref())?;
    session.require(Role::Submitter)?;
    let registered = match state.db.run_task_now(&name, false).await {
        Err(StoreError::Refused(why)) => return Ok(back_to(form.back.as_deref(), "/tasks", &why)),
        other => other?,
    };
    tracing::info!(user = %session.principal.name, task = %name, "dashboard: run now");
    if registered.registered {
        return Ok(Redirect::to(&format!("/processes/{}", registered.process_id)).into_response());
    }
    Ok(back_to(
        form.back.as_deref(),
        "/tasks",
        &format!(
            "{name} was not started: its process {} is {} (overlap policy)",
            registered.process_id, registered.status
        ),
    ))
}

pub async fn set_enabled(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ButtonForm>,
) -> Result<Response, WebError> {
    check_post(&headers, &session, form.csrf.as_deref())?;
    session.require(Role::Admin)?;
    let enabled = match form.enabled.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(WebError::BadRequest("enabled must be true or false".into())),
    };
    let changed = state.db.set_task_enabled(&name, enabled, None).await?;
    tracing::info!(user = %session.principal.name, task = %name, enabled, "dashboard: set enabled");
    let verb = if enabled { "enabled" } else { "disabled" };
    let notice = if changed.changed {
        format!("{name} {verb}")
    } else {
        format!("{name} was already {verb}")
    };
    Ok(back_to(form.back.as_deref(), "/tasks", &notice))
}

pub async fn retry(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<ButtonForm>,
) -> Result<Response, WebError> {
    check_post(&headers, &session, form.csrf.as_deref())?;
    session.require(Role::Submitter)?;
    let registered = match state.db.retry_process(id).await {
        Err(StoreError::Refused(why)) => return Ok(back_to(form.back.as_deref(), "/failed", &why)),
        other => other?,
    };
    tracing::info!(user = %session.principal.name, process = id, "dashboard: retry");
    Ok(back_to(
        form.back.as_deref(),
        "/failed",
        &format!(
            "process {id} registered again as process {}",
            registered.process_id
        ),
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<ButtonForm>,
) -> Result<Response, WebError> {
    check_post(&headers, &session, form.csrf.as_deref())?;
    session.require(Role::Admin)?;
    let cancelled = match state.db.cancel_process(id).await {
        Err(StoreError::Refused(why)) => return Ok(back_to(form.back.as_deref(), "/failed", &why)),
        other => other?,
    };
    tracing::info!(user = %session.principal.name, process = id, "dashboard: cancel");
    let notice = match cancelled.status {
        ProcessStatus::Cancelled => format!("process {id} cancelled"),
        _ => format!("process {id} is asked to stop (its driver stops the command)"),
    };
    Ok(back_to(form.back.as_deref(), "/failed", &notice))
}

/// The processes page's filters (all optional; times in UTC).
#[derive(Deserialize, Default, Clone)]
pub struct ProcessQuery {
    pub status: Option<String>,
    pub task: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    notice: Option<String>,
}

impl ProcessQuery {
    pub fn filter(&self) -> Result<ProcessFilter, WebError> {
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let status = blank(&self.status)
            .map(|s| {
                ProcessStatus::from_str(&s)
                    .map_err(|e| WebError::BadRequest(format!("status: {e}")))
            })
            .transpose()?;
        let time = |field: &str, v: &Option<String>| {
            blank(v)
                .map(|t| {
                    parse_time(&t).ok_or_else(|| {
                        WebError::BadRequest(format!(
                            "{field}: {t:?} is not a time (YYYY-MM-DDTHH:MM, UTC)"
                        ))
                    })
                })
                .transpose()
        };
        Ok(ProcessFilter {
            status,
            process_name: blank(&self.task),
            created_since: time("since", &self.since)?,
            created_until: time("until", &self.until)?,
            limit: LIST_LIMIT,
            oldest_first: false,
        })
    }

    /// The filters as a query string, for the live endpoint.
    fn query_string(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("status", &self.status),
            ("task", &self.task),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                query.append_pair(name, v);
            }
        }
        query.finish()
    }
}

/// RFC 3339, or the `datetime-local` form `YYYY-MM-DDTHH:MM[:SS]` read as UTC.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

pub fn process_rows(rows: &[ProcessRow]) -> Markup {
    html! {
        @for p in rows {
            tr data-process=(p.process_id) {
                td { a href={ "/processes/" (p.process_id) } { (p.process_id) } }
                td { (p.process_name) }
                td { (layout::status(p.status.as_str())) }
                td { (p.attempt) " / " (p.max_attempts) }
                td { (p.worker_assigned.as_deref().unwrap_or("—")) }
                td { (layout::time(Some(p.created_at))) }
                td { (layout::time(p.start_time)) }
                td { (layout::time(p.end_time)) }
                td { (p.exit_code.map(|c| c.to_string()).unwrap_or_default()) }
            }
        }
    }
}

pub const PROCESS_HEADER: [&str; 9] = [
    "Process",
    "Task",
    "Status",
    "Attempt",
    "Worker",
    "Created",
    "Started",
    "Ended",
    "Exit code",
];

pub async fn processes(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(query): Query<ProcessQuery>,
) -> Result<Markup, WebError> {
    let rows = state.db.processes(&query.filter()?).await?;
    let selected = query.status.clone().unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/processes" {
            label { "Status " select name="status" {
                option value="" { "any" }
                @for s in ["Pending", "InProgress", "Completed", "Failed", "Cancelled"] {
                    option value=(s) selected[selected == s] { (s) }
                }
            } }
            label { "Task " input name="task" value=(query.task.clone().unwrap_or_default()); }
            label { "Created since " input type="datetime-local" name="since" value=(query.since.clone().unwrap_or_default()); }
            label { "until " input type="datetime-local" name="until" value=(query.until.clone().unwrap_or_default()); }
            button type="submit" { "Filter" }
        }
        p { "Newest " (LIST_LIMIT) " at most, of stage.FileControl; times in UTC. Updates live." }
        table {
            thead { tr { @for h in PROCESS_HEADER { th { (h) } } } }
            tbody #process-rows data-live={ "/live/processes?" (query.query_string()) } { (process_rows(&rows)) }
        }
    };
    Ok(page("Processes", &session, query.notice.as_deref(), body))
}

pub async fn process(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
    Query(notice): Query<Notice>,
) -> Result<Markup, WebError> {
    let (row, logs) = tokio::try_join!(state.db.process(id), state.db.process_logs(id))?;
    let p = row.ok_or_else(|| {
        WebError::NotFound(format!(
            "no process {id} in stage.FileControl (rotated processes are in the history tables)"
        ))
    })?;
    let back = format!("/processes/{id}");
    let body = html! {
        table.fields {
            tr { th { "Task" } td { a href={ "/tasks/" (path_segment(&p.process_name)) } { (p.process_name) } } }
            tr { th { "Status" } td { span #process-status data-live={ "/live/process/" (id) } data-status=(p.status.as_str()) { (layout::status(p.status.as_str())) } } }
            tr { th { "Attempt" } td #process-attempt { (p.attempt) " of " (p.max_attempts) } }
            tr { th { "Worker" } td { (p.worker_assigned.as_deref().unwrap_or("—")) } }
            tr { th { "Created" } td { (layout::time(Some(p.created_at))) } }
            tr { th { "Scheduled for" } td { (layout::time(p.scheduled_for)) } }
            tr { th { "Run after" } td { (layout::time(Some(p.run_after))) } }
            tr { th { "Started" } td { (layout::time(p.start_time)) } }
            tr { th { "Ended" } td #process-ended { (layout::time(p.end_time)) } }
            tr { th { "Exit code" } td #process-exit { (p.exit_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())) } }
            tr { th { "Cancel requested" } td { (if p.cancel_requested { "yes" } else { "no" }) } }
        }
        p {
            @if matches!(p.status, ProcessStatus::Failed | ProcessStatus::Cancelled) && session.principal.role >= Role::Submitter {
                (action(&session, &format!("/processes/{id}/retry"), "Retry", &[("back", "/failed")]))
            }
            @if matches!(p.status, ProcessStatus::Pending | ProcessStatus::InProgress) && session.principal.role >= Role::Admin {
                " " (action(&session, &format!("/processes/{id}/cancel"), "Cancel", &[("back", &back)]))
            }
        }
        h2 { "Status changes seen on this page" }
        ol #status-history { li { (p.status.as_str()) } }
        h2 { "Parameters" }
        pre { (p.parameters.as_deref().unwrap_or("(none)")) }
        h2 { "Log (" (logs.len()) " rows)" }
        table #process-log {
            tr { th { "Time" } th { "Level" } th { "Message" } }
            @for l in &logs {
                tr {
                    td { (layout::time(Some(l.log_time))) }
                    td { (l.log_level) }
                    td { (l.message) @if let Some(detail) = &l.detail { pre { (detail) } } }
                }
            }
        }
    };
    Ok(page(
        &format!("Process {id}"),
        &session,
        notice.notice.as_deref(),
        body,
    ))
}

pub async fn failed(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(notice): Query<Notice>,
) -> Result<Markup, WebError> {
    let since = Utc::now() - TimeDelta::days(7);
    let waiting = ProcessFilter {
        status: Some(ProcessStatus::Pending),
        limit: LIST_LIMIT,
        ..ProcessFilter::default()
    };
    let (failed, pending) = tokio::try_join!(
        state.db.failed_processes(since, LIST_LIMIT),
        state.db.processes(&waiting)
    )?;
    let retrying: Vec<_> = pending.into_iter().filter(|p| p.attempt > 1).collect();
    let body = html! {
        h2 { "Failed in the last 7 days (" (failed.len()) ")" }
        table #failed {
            tr { th { "Process" } th { "Task" } th { "Ended" } th { "Attempt" } th { "Exit code" } th {} }
            @for p in &failed {
                tr data-process=(p.process_id) {
                    td { a href={ "/processes/" (p.process_id) } { (p.process_id) } }
                    td { (p.process_name) }
                    td { (layout::time(p.end_time)) }
                    td { (p.attempt) " / " (p.max_attempts) }
                    td { (p.exit_code.map(|c| c.to_string()).unwrap_or_default()) }
                    td { @if session.principal.role >= Role::Submitter { (action(&session, &format!("/processes/{}/retry", p.process_id), "Retry", &[("back", "/failed")])) } }
                }
            }
        }
        h2 { "Waiting to retry (" (retrying.len()) ")" }
        table #retrying {
            tr { th { "Process" } th { "Task" } th { "Attempt" } th { "Runs after" } th {} }
            @for p in &retrying {
                tr data-process=(p.process_id) {
                    td { a href={ "/processes/" (p.process_id) } { (p.process_id) } }
                    td { (p.process_name) }
                    td { (p.attempt) " / " (p.max_attempts) }
                    td { (layout::time(Some(p.run_after))) }
                    td { @if session.principal.role >= Role::Admin { (action(&session, &format!("/processes/{}/cancel", p.process_id), "Cancel", &[("back", "/failed")])) } }
                }
            }
        }
    };
    Ok(page(
        "Failed processes",
        &session,
        notice.notice.as_deref(),
        body,
    ))
}

pub async fn drivers(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Result<Markup, WebError> {
    let (drivers, workers) = tokio::try_join!(state.db.drivers(), state.db.worker_statistics())?;
    let body = html! {
        table #drivers {
            tr { th { "Driver" } th { "Alive" } th { "Host" } th { "PID" } th { "Version" } th { "Workers" } th { "Clock" } th { "Started" } th { "Last seen" } }
            @for d in &drivers {
                tr class=(if d.alive { "" } else { "alert" }) {
                    td { (d.driver_name) }
                    td { (if d.alive { if d.stopping { "stopping" } else { "yes" } } else { "no" }) }
                    td { (d.host_name.as_deref().unwrap_or("—")) }
                    td { (d.process_id.map(|p| p.to_string()).unwrap_or_default()) }
                    td { (d.version.as_deref().unwrap_or("—")) }
                    td { (d.workers) }
                    td { (if d.clock_enabled { "yes" } else { "no" }) }
                    td { (layout::time(Some(d.started_at))) }
                    td { (format!("{:.0} s ago", d.seconds_since_seen)) }
                }
            }
        }
        h2 { "Workers (stage.WorkerStatistics)" }
        table {
            tr { th { "Worker" } th { "Done" } th { "Average" } th { "Longest" } }
            @for w in &workers {
                tr { td { (w.worker_assigned) } td { (w.processes_done) } td { (layout::seconds(Some(w.avg_duration_seconds))) } td { (layout::seconds(Some(w.max_duration_seconds))) } }
            }
        }
    };
    Ok(page("Drivers", &session, None, body))
}
