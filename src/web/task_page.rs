//! A task's page (its JSON, triggers with their next fire times, its runs) and editing
//! its JSON (admin): validated by the CLI's own parser, path by path, and saved with
//! stage.SaveTasks only when valid.

use super::layout::{self, page, Series};
use super::log_level;
use super::pages::{check_post, path_segment, Notice};
use super::{AppState, Session, WebError};
use crate::catalog::{self, StoredTask};
use crate::schedule::{parse_task, Schedule, ValidationError};
use crate::web::auth::Role;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

/// Fire times shown per task.
const NEXT_FIRES: usize = 10;
/// Runs shown in the history.
const HISTORY: i64 = 50;

async fn find(state: &AppState, name: &str) -> Result<StoredTask, WebError> {
    catalog::load(&*state.db)
        .await?
        .into_iter()
        .find(|t| t.row.record.task_name == name)
        .ok_or_else(|| WebError::NotFound(format!("no task {name}")))
}

/// The JSON a task is edited as: its definition, or the stored columns when it no
/// longer validates.
fn task_json(task: &StoredTask) -> String {
    match &task.definition {
        Ok(definition) => definition.to_json_string(),
        Err(_) => {
            let (stored, _) = catalog::check_rows(&task.row.record, &task.triggers);
            serde_json::to_string_pretty(&stored).unwrap_or_default()
        }
    }
}

pub async fn show(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Markup, WebError> {
    let task = find(&state, &name).await?;
    let (history, levels) =
        tokio::try_join!(state.db.task_history(&name, HISTORY), state.db.log_levels())?;
    let upcoming = match &task.definition {
        Ok(definition) => Schedule::new(definition).upcoming(Utc::now(), NEXT_FIRES),
        Err(_) => Vec::new(),
    };
    // Durations, oldest first, for the chart.
    let finished: Vec<_> = history
        .iter()
        .rev()
        .filter(|r| r.end_time.is_some())
        .collect();
    let durations = Series {
        label: "duration (s)",
        class: "duration",
        values: finished
            .iter()
            .map(|r| match (r.start_time, r.end_time) {
                (Some(s), Some(e)) => (e - s).num_milliseconds() as f64 / 1000.0,
                _ => 0.0,
            })
            .collect(),
    };
    let labels: Vec<String> = finished.iter().map(|r| r.process_id.to_string()).collect();
    let segment = path_segment(&name);
    let body = html! {
        p {
            @if session.principal.role >= Role::Submitter {
                (layout::action(&session, &format!("/tasks/{segment}/run"), "Run now", &[]))
            }
            @if session.principal.role >= Role::Admin {
                " " (layout::action(&session, &format!("/tasks/{segment}/enabled"),
                    if task.row.record.enabled { "Disable" } else { "Enable" },
                    &[("enabled", if task.row.record.enabled { "false" } else { "true" }), ("back", &format!("/tasks/{segment}"))]))
                " " a href={ "/tasks/" (segment) "/edit" } { "Edit JSON" }
            }
        }
        @if let Err(why) = &task.definition {
            p.error { "Stored but no longer valid: " (why) }
        }
        (log_level::of_task(&name, &levels))
        h2 { "Definition" }
        pre #task-json { (task_json(&task)) }
        h2 { "Triggers" }
        table #triggers {
            tr { th { "#" } th { "Recurrence" } th { "Enabled" } th { "Next fire (stored)" } th { "Last fired for" } }
            @for t in &task.triggers {
                tr { td { (t.trigger_index) } td { (t.recurrence) } td { (if t.enabled { "yes" } else { "no" }) } td { (layout::time(t.next_fire_at)) } td { (layout::time(t.last_fired_for)) } }
            }
        }
        h2 { "Next " (NEXT_FIRES) " fire times (" (task.row.record.time_zone.as_deref().unwrap_or("UTC")) ")" }
        ol #next-fires {
            @for (at, trigger) in &upcoming {
                li { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S %Z (%:z)")) } " — trigger " (trigger) }
            }
        }
        h2 { "History" }
        @if !finished.is_empty() {
            (layout::bar_chart("Run durations, oldest first (by process id)", &labels, &[durations]))
        }
        table #history {
            tr { th { "Process" } th { "Status" } th { "Attempt" } th { "Started" } th { "Ended" } th { "Duration" } th { "Exit code" } }
            @for r in &history {
                tr {
                    td { @if r.in_history { (r.process_id) " (history)" } @else { a href={ "/processes/" (r.process_id) } { (r.process_id) } } }
                    td { (layout::status(r.status.as_str())) }
                    td { (r.attempt) " / " (r.max_attempts) }
                    td { (layout::time(r.start_time)) }
                    td { (layout::time(r.end_time)) }
                    td { (layout::seconds(r.start_time.zip(r.end_time).map(|(s, e)| (e - s).num_milliseconds() as f64 / 1000.0))) }
                    td { (r.exit_code.map(|c| c.to_string()).unwrap_or_default()) }
                }
            }
        }
    };
    Ok(page(
        &format!("Task {name}"),
        &session,
        notice.notice.as_deref(),
        body,
    ))
}

fn edit_page(
    session: &Session,
    name: &str,
    json: &str,
    errors: &[ValidationError],
    message: Option<&str>,
) -> Markup {
    let body = html! {
        @if let Some(message) = message { p.error { (message) } }
        @if !errors.is_empty() {
            p.error { "The task is not valid; nothing was written:" }
            ul.errors #errors {
                @for e in errors { li { code { (e.path) } ": " (e.message) } }
            }
        }
        form method="post" action={ "/tasks/" (path_segment(name)) "/edit" } {
            (layout::csrf_field(session))
            textarea name="json" rows="28" spellcheck="false" { (json) }
            p { button type="submit" #save { "Save" } " " a href={ "/tasks/" (path_segment(name)) } { "Back" } }
        }
    };
    page(&format!("Edit task {name}"), session, None, body)
}

pub async fn edit_form(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
) -> Result<Markup, WebError> {
    session.require(Role::Admin)?;
    let task = find(&state, &name).await?;
    Ok(edit_page(&session, &name, &task_json(&task), &[], None))
}

#[derive(Deserialize)]
pub struct EditForm {
    csrf: Option<String>,
    json: String,
}

pub async fn edit(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<EditForm>,
) -> Result<Response, WebError> {
    check_post(&headers, &session, form.csrf.as_deref())?;
    session.require(Role::Admin)?;
    find(&state, &name).await?;
    let task = match parse_task(&form.json) {
        Ok(task) => task,
        Err(errors) => {
            let page = edit_page(&session, &name, &form.json, errors.errors(), None);
            return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    if task.id != name {
        let message = format!("id: the id is {:?}, not {name:?}: a task is renamed by adding it anew (nothing was written)", task.id);
        let page = edit_page(&session, &name, &form.json, &[], Some(&message));
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    state
        .db
        .save_tasks(&[catalog::to_save(&task, Utc::now())])
        .await?;
    tracing::info!(user = %session.principal.name, task = %name, "dashboard: task edited");
    Ok(Redirect::to(&format!("/tasks/{}?notice=saved", path_segment(&name))).into_response())
}
