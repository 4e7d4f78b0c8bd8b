//! The minimum log level on the dashboard: the overview shows the database's level and
//! the tasks that set their own (`minLogLevel`), an admin changes the database's level
//! (stage.SetMinLogLevel, as `stagehand logs level LEVEL` does), and a task's page says
//! which level its runs log at.

use super::layout;
use super::pages::{back_to, check_post, path_segment};
use super::{AppState, Session, WebError};
use crate::store::{LogLevel, LogLevels};
use crate::web::auth::Role;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use maud::{html, Markup};
use serde::Deserialize;

const LEVELS: [LogLevel; 3] = [LogLevel::Info, LogLevel::Warning, LogLevel::Error];

/// The overview's section: the database's level, the tasks over it, the admin's form.
pub fn section(session: &Session, levels: &LogLevels) -> Markup {
    html! {
        h2 { "Logging" }
        p #log-level {
            "Minimum log level: " strong { (levels.database.as_str()) }
            " (rows below it are not written to stage.ProcessLog)"
        }
        @if !levels.tasks.is_empty() {
            table #task-log-levels { tr { th { "Task with its own level" } th { "minLogLevel" } }
                @for t in &levels.tasks {
                    tr { td { a href={ "/tasks/" (path_segment(&t.task_name)) } { (t.task_name) } } td { (t.min_log_level.as_str()) } }
                }
            }
        }
        @if session.principal.role >= Role::Admin {
            form.inline #set-log-level method="post" action="/log-level" {
                (layout::csrf_field(session))
                label { "Set to " select name="level" {
                    @for level in LEVELS {
                        option value=(level.as_str()) selected[level == levels.database] { (level.as_str()) }
                    }
                } }
                " " button type="submit" { "Set" }
            }
        }
    }
}

/// What a task's page says of its level: its own (stage.Task.MinLogLevel, which the
/// routines read), or the database's it falls back to.
pub fn of_task(task_name: &str, levels: &LogLevels) -> Markup {
    let own = levels
        .tasks
        .iter()
        .find(|t| t.task_name == task_name)
        .map(|t| t.min_log_level);
    html! {
        p #task-log-level {
            "Log level: "
            @match own {
                Some(level) => { strong { (level.as_str()) } " (its own minLogLevel)" }
                None => { strong { (levels.database.as_str()) } " (the database's)" }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct LevelForm {
    csrf: Option<String>,
    level: Option<String>,
}

pub async fn set(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Form(form): Form<LevelForm>,
) -> Result<Response, WebError> {
    check_post(&headers, &session, form.csrf.as_deref())?;
    session.require(Role::Admin)?;
    let level: LogLevel = form
        .level
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|why| WebError::BadRequest(format!("level: {why}")))?;
    let change = state.db.set_min_log_level(level).await?;
    tracing::info!(user = %session.principal.name, level = level.as_str(), "dashboard: set the minimum log level");
    let notice = format!(
        "minimum log level: {} (was {})",
        change.min_log_level.as_str(),
        change.previous_min_log_level.as_str()
    );
    Ok(back_to(None, "/", &notice))
}
