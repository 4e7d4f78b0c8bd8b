//! The JSON the embedded script polls for live updates (same reads as the pages).

use super::pages::ProcessQuery;
use super::{AppState, WebError};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};

/// The processes page's rows under its filters.
pub async fn processes(
    State(state): State<AppState>,
    Query(query): Query<ProcessQuery>,
) -> Result<Json<Value>, WebError> {
    let rows = state.db.processes(&query.filter()?).await?;
    Ok(Json(json!({ "processes": rows })))
}

/// One process's state.
pub async fn process(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, WebError> {
    let row = state
        .db
        .process(id)
        .await?
        .ok_or_else(|| WebError::NotFound(format!("no process {id}")))?;
    Ok(Json(json!({ "process": row })))
}
