//! The database layer: one small interface ([`Backend`]), one implementation per engine.
//!
//! Queue semantics live in the `stage` procedures (sql/API.md); a backend only calls them
//! and maps rows to [`types`]. A backend is done when the shared conformance suite in
//! `tests/` passes on it.

mod conflict;
mod connection;
mod engine;
mod error;
pub mod migrations;
mod mssql;
mod mssql_pool;
mod notifications;
mod postgres;
mod procedures;
mod rows;
pub mod types;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

pub use connection::{DatabaseUrl, DATABASE_URL_ENV};
pub use error::{ConnectionCause, StoreError, StoreResult};
pub use notifications::{
    NotificationClaim, NotificationCompleted, NotificationOutcome, PendingNotification,
};
pub use types::*;

/// Everything stagehand asks of a database. Methods map one to one onto `stage` objects.
#[async_trait]
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// Deploys or upgrades the schema (refinery); returns the migrations it applied.
    async fn migrate(&self) -> StoreResult<Vec<String>>;

    /// The migrations [`Backend::migrate`] would apply now (`V<n>__<name>`).
    async fn pending_migrations(&self) -> StoreResult<Vec<String>>;

    /// `stage.RegisterProcess`.
    async fn register(
        &self,
        process_name: &str,
        parameters: Option<&str>,
        scheduled_for: Option<DateTime<Utc>>,
    ) -> StoreResult<Registered>;

    /// `stage.RegisterProcesses`: `processes` is its JSON array of `{name, parameters,
    /// scheduledFor}` objects, which the procedure alone judges; one row per element, in
    /// array order.
    async fn register_many(&self, processes: &str) -> StoreResult<Vec<Registered>>;

    /// `stage.ClaimProcesses`.
    async fn claim(&self, request: &ClaimRequest<'_>) -> StoreResult<Vec<ClaimedProcess>>;

    /// `stage.AssignProcessToWorker`.
    async fn assign(&self, number_of_workers: i32) -> StoreResult<Vec<ClaimedProcess>>;

    /// `stage.ProcessWorkerTask`.
    async fn worker_task(&self, worker_name: &str) -> StoreResult<WorkerTask>;

    /// `stage.CompleteProcesses` (one round trip for the whole batch).
    async fn complete(&self, completions: &[Completion]) -> StoreResult<Vec<CompletionResult>>;

    /// `stage.CompleteAndClaim`: [`Backend::complete`] then [`Backend::claim`] in one
    /// round trip and one transaction (an error in either writes nothing).
    async fn complete_and_claim(
        &self,
        completions: &[Completion],
        request: &ClaimRequest<'_>,
    ) -> StoreResult<CompletedAndClaimed>;

    /// `stage.CompleteProcess` (the single-row form callers outside stagehand use).
    async fn complete_one(&self, completion: &Completion) -> StoreResult<CompletionResult>;

    /// `stage.Heartbeat`.
    async fn heartbeat(
        &self,
        worker_name: &str,
        process_ids: &[i64],
        lease_seconds: i32,
    ) -> StoreResult<Vec<HeartbeatStatus>>;

    /// `stage.ReleaseProcesses`: hands unfinished processes back to the queue; returns
    /// the ids actually released.
    async fn release(
        &self,
        worker_name: &str,
        process_ids: &[i64],
        message: Option<&str>,
    ) -> StoreResult<Vec<i64>>;

    /// `stage.LogMessage`; returns the LogID, None when the row is below the minimum log
    /// level (stage.SetMinLogLevel, the task's `minLogLevel`) and was not written.
    async fn log_message(
        &self,
        process_id: Option<i64>,
        message: &str,
        level: LogLevel,
        detail: Option<&str>,
    ) -> StoreResult<Option<i64>>;

    /// `stage.ResetStuckProcesses`.
    async fn reset_stuck(&self, timeout_minutes: i32) -> StoreResult<Vec<ResetProcess>>;

    /// `stage.RotateHistory`.
    async fn rotate(
        &self,
        retention_months: i32,
        batch_size: i32,
        max_batches: Option<i32>,
    ) -> StoreResult<RotationReport>;

    /// `stage.PurgeNotifications`: one batch of old delivered or given-up notifications.
    async fn purge_notifications(
        &self,
        retention_months: i32,
        batch_size: i32,
    ) -> StoreResult<PurgeReport>;

    /// `stage.RollUpCounters`: one batch of the monitoring counters' deltas folded into
    /// their totals (the views are exact either way; this keeps them a few rows to read).
    async fn roll_up_counters(&self, batch_size: i32) -> StoreResult<RollUpReport>;

    /// `stage.TableSpace`.
    async fn table_space(&self) -> StoreResult<Vec<TableSpace>>;

    /// `stage.SaveTask`.
    async fn save_task(&self, task: &TaskRecord) -> StoreResult<SavedTask>;

    /// `stage.SaveTasks`: several tasks with their triggers in one transaction.
    async fn save_tasks(&self, tasks: &[TaskSave]) -> StoreResult<Vec<SavedTaskRow>>;

    /// Every `stage.Task` row, by name.
    async fn tasks(&self) -> StoreResult<Vec<TaskRow>>;

    /// Every `stage.TaskTrigger` row, by task and index.
    async fn triggers(&self) -> StoreResult<Vec<TriggerRow>>;

    /// Every task that has triggers, with its trigger rows (by index), handed to `each`
    /// one task at a time, by TaskID, as one query streams them: the clock's read, which
    /// holds no more than one task's rows at a time.
    async fn each_scheduled_task(
        &self,
        each: &mut (dyn FnMut(TaskRow, Vec<TriggerRow>) + Send),
    ) -> StoreResult<()>;

    /// The `stage.Task` row's id for a name (matched as stage.RegisterProcess matches it).
    async fn task_id(&self, task_name: &str) -> StoreResult<Option<i32>>;

    /// `stage.ScheduleVersion`: changes whenever a task or trigger definition changes.
    async fn schedule_version(&self) -> StoreResult<i64>;

    /// `stage.FireTrigger`.
    async fn fire_trigger(
        &self,
        trigger_id: i32,
        occurrence: DateTime<Utc>,
        next_fire_at: Option<DateTime<Utc>>,
        mode: FireMode,
        missed_count: i32,
    ) -> StoreResult<FireResult>;

    /// `stage.FireTriggers`: many occurrences in one call, each fired as
    /// [`Backend::fire_trigger`] fires it in slice order; one result per element, in order.
    async fn fire_triggers(&self, occurrences: &[FireRequest]) -> StoreResult<Vec<FireResult>>;

    /// `stage.UpdateNextFire`.
    async fn update_next_fire(&self, next: &[(i32, Option<DateTime<Utc>>)]) -> StoreResult<()>;

    /// `stage.DeleteTask`; false when there was no such task.
    async fn delete_task(&self, task_name: &str) -> StoreResult<bool>;

    /// `stage.ProcessStatusSummary`.
    async fn status_summary(&self) -> StoreResult<Vec<StatusCount>>;

    /// `stage.WorkerStatistics`.
    async fn worker_statistics(&self) -> StoreResult<Vec<WorkerStatistic>>;

    /// `stage.OverdueProcesses`.
    async fn overdue_processes(&self) -> StoreResult<Vec<OverdueProcess>>;

    /// One `stage.FileControl` row.
    async fn process(&self, process_id: i64) -> StoreResult<Option<ProcessRow>>;

    /// The InProgress processes, longest running first.
    async fn running_processes(&self) -> StoreResult<Vec<ProcessRow>>;

    /// Processes that ended Failed at or after `since`, latest first, at most `limit`.
    async fn failed_processes(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ProcessRow>>;

    /// The `stage.ProcessLog` rows of one process, oldest first.
    async fn process_logs(&self, process_id: i64) -> StoreResult<Vec<LogRow>>;

    /// `stage.ProcessLog` rows matching a filter, by LogID.
    async fn logs(&self, filter: &LogFilter) -> StoreResult<Vec<LogRow>>;

    /// SQL Server Agent's jobs, with their steps and schedules, as the JSON text of
    /// `sql/mssql/agent_import_query.sql` (`task import --from agent`); SQL Server only.
    async fn agent_jobs(&self) -> StoreResult<String>;

    /// Runs SQL text with no parameters and no result (administration and tests);
    /// returns the rows affected. Never called with text built from user input.
    async fn execute_sql(&self, sql: &str) -> StoreResult<u64>;

    /// The first column of the first row of a query, as i64 (tests and status).
    async fn query_i64(&self, sql: &str) -> StoreResult<Option<i64>>;

    /// Waits until new driver work may be there or `timeout` passes. PostgreSQL
    /// listens for `stage_process` notifications; SQL Server just sleeps (callers poll).
    async fn wait_for_work(&self, timeout: Duration) -> StoreResult<()>;

    // ---- steering (V40..V44): run now, enable/disable, cancel, retry ----

    /// `stage.RunTaskNow`: a run of the task now, under its overlap policy (a refused
    /// duplicate comes back with `registered` false); a disabled task is
    /// [`StoreError::Refused`] unless `force`.
    async fn run_task_now(&self, task_name: &str, force: bool) -> StoreResult<Registered>;

    /// `stage.SetTaskEnabled`: the task (`trigger_index` None) or one of its triggers.
    async fn set_task_enabled(
        &self,
        task_name: &str,
        enabled: bool,
        trigger_index: Option<i32>,
    ) -> StoreResult<TaskEnabled>;

    /// `stage.SetMinLogLevel`: the database's minimum log level.
    async fn set_min_log_level(&self, level: LogLevel) -> StoreResult<MinLogLevelChange>;

    /// The database's minimum log level and the tasks that set their own.
    async fn log_levels(&self) -> StoreResult<LogLevels>;

    /// `stage.CancelProcess`: Pending is cancelled at once, InProgress is asked to stop;
    /// a finished process is [`StoreError::Refused`].
    async fn cancel_process(&self, process_id: i64) -> StoreResult<Cancellation>;

    /// `stage.RetryProcess`: a Failed or Cancelled process registered again with its name
    /// and parameters; any other status is [`StoreError::Refused`].
    async fn retry_process(&self, process_id: i64) -> StoreResult<Registered>;

    // ---- Operator status: per-task status and history, live drivers ----

    /// `stage.TaskStatus`, by task name.
    async fn task_status(&self) -> StoreResult<Vec<TaskStatusRow>>;

    /// The runs of the task named `task_name` from `stage.FileControl` and
    /// `stage.FileControl_History`: Pending and InProgress first (newest first), then
    /// finished runs by EndTime, newest first; at most `limit`.
    async fn task_history(&self, task_name: &str, limit: i64) -> StoreResult<Vec<TaskRun>>;

    /// `stage.DriverHeartbeat`.
    async fn driver_heartbeat(
        &self,
        presence: &DriverPresence,
        state: DriverState,
    ) -> StoreResult<()>;

    /// `stage.DriverStatus`, by name.
    async fn drivers(&self) -> StoreResult<Vec<DriverRow>>;

    // ---- Dashboard reads ----

    /// `stage.FileControl` rows matching a filter (the live table, not its history).
    async fn processes(&self, filter: &ProcessFilter) -> StoreResult<Vec<ProcessRow>>;

    /// Processes of `stage.FileControl` that ended in each of the `hours` whole hours
    /// before `until` (truncated to the hour, plus the current partial hour), per final
    /// status; hours with none are left out.
    async fn finished_per_hour(
        &self,
        until: DateTime<Utc>,
        hours: u32,
    ) -> StoreResult<Vec<HourlyOutcome>>;

    // ---- Notifications (V70..V78) ----

    /// `stage.ClaimNotifications`: due notifications of the channels asked for, leased.
    async fn claim_notifications(
        &self,
        claim: &NotificationClaim<'_>,
    ) -> StoreResult<Vec<PendingNotification>>;

    /// `stage.CompleteNotification`: delivered, or failed (retried with backoff, or given
    /// up after `max_attempts`).
    async fn complete_notification(
        &self,
        outcome: &NotificationOutcome<'_>,
    ) -> StoreResult<NotificationCompleted>;
    /// The stage roles of the login this store is connected as (the dashboard's
    /// database logins).
    async fn stage_roles(&self) -> StoreResult<StageRoles>;
}

/// Pool sizes and timeouts a backend is built with.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            max_connections: 16,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// Opens a pooled store for the URL's engine. Connections are made lazily, so an
/// unreachable database shows up as [`StoreError::Connection`] on first use.
pub async fn connect(url: &DatabaseUrl, options: &ConnectOptions) -> StoreResult<Arc<dyn Backend>> {
    Ok(match url.kind() {
        BackendKind::Postgres => Arc::new(postgres::PostgresStore::new(url, options)?),
        BackendKind::SqlServer => Arc::new(mssql::SqlServerStore::new(url, options).await?),
    })
}
