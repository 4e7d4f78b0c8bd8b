//! The values that cross the store boundary: arguments of the `stage` procedures and
//! the rows they return. Field order follows the result sets in sql/API.md.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Which database engine a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Postgres,
    SqlServer,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Postgres => "PostgreSQL",
            BackendKind::SqlServer => "SQL Server",
        })
    }
}

/// `stage.FileControl.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ProcessStatus {
    Pending,
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

impl ProcessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessStatus::Pending => "Pending",
            ProcessStatus::InProgress => "InProgress",
            ProcessStatus::Completed => "Completed",
            ProcessStatus::Failed => "Failed",
            ProcessStatus::Cancelled => "Cancelled",
        }
    }
}

impl fmt::Display for ProcessStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProcessStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            ProcessStatus::Pending,
            ProcessStatus::InProgress,
            ProcessStatus::Completed,
            ProcessStatus::Failed,
            ProcessStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| format!("unknown process status {s:?}"))
    }
}

/// `stage.ProcessLog.LogLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LogLevel {
    Info,
    Warning,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "Info",
            LogLevel::Warning => "Warning",
            LogLevel::Error => "Error",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [LogLevel::Info, LogLevel::Warning, LogLevel::Error]
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown log level {s:?} (Info, Warning or Error)"))
    }
}

/// The row `stage.RegisterProcess` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    pub process_id: i64,
    pub process_name: String,
    pub status: ProcessStatus,
    /// false when refused (a duplicate under the skip policy or a known occurrence).
    pub registered: bool,
}

/// A `stage.ClaimProcesses` call.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    pub worker_name: &'a str,
    pub max_count: i32,
    pub lease_seconds: i32,
    /// Slot labels: the k-th claimed process runs as `worker_name/slots[k]`.
    pub slots: Option<&'a [String]>,
}

/// A row claimed by `stage.ClaimProcesses` or assigned by `stage.AssignProcessToWorker`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimedProcess {
    pub process_id: i64,
    pub process_name: String,
    pub worker_assigned: String,
    pub task_id: Option<i32>,
    pub command: Option<String>,
    /// JSON array of strings, when the task runs a program without a shell.
    pub arguments: Option<String>,
    pub working_directory: Option<String>,
    pub parameters: Option<String>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub timeout_minutes: Option<i32>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The task's `outputEncoding` as stored (checked by the driver); None: the default.
    pub output_encoding: Option<String>,
}

/// The single row of `stage.ProcessWorkerTask`: all `None` when the worker is idle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerTask {
    pub process_id: Option<i64>,
    pub process_name: Option<String>,
    pub parameters: Option<String>,
    pub attempt: Option<i32>,
}

/// How a run ended, as reported to `stage.CompleteProcesses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FinalStatus {
    Completed,
    Failed,
    Cancelled,
}

impl FinalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalStatus::Completed => "Completed",
            FinalStatus::Failed => "Failed",
            FinalStatus::Cancelled => "Cancelled",
        }
    }
}

/// One element of the `@Completions` JSON array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    pub process_id: i64,
    pub worker_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i32>,
    pub status: FinalStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// When the command started (the driver's clock): durations count from it, not from
    /// the claim. None when it never started or the caller does not know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
}

impl Completion {
    /// A completion with no exit code, message or output.
    pub fn new(
        process_id: i64,
        worker_name: &str,
        attempt: Option<i32>,
        status: FinalStatus,
    ) -> Self {
        Completion {
            process_id,
            worker_name: worker_name.to_string(),
            attempt,
            status,
            exit_code: None,
            message: None,
            stdout: None,
            stderr: None,
            started_at: None,
        }
    }
}

/// A row of `stage.CompleteProcesses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletionResult {
    pub process_id: i64,
    pub accepted: bool,
    /// The row's status afterwards (Pending when a failed run will be retried);
    /// `None` when there is no such process.
    pub status: Option<ProcessStatus>,
}

/// What `stage.CompleteAndClaim` returns: CompleteProcesses' verdicts, in element order,
/// and the rows ClaimProcesses claimed after them, by ProcessID.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletedAndClaimed {
    pub results: Vec<CompletionResult>,
    pub claimed: Vec<ClaimedProcess>,
}

/// A row of `stage.Heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatStatus {
    pub process_id: i64,
    pub held: bool,
    pub cancel_requested: bool,
}

/// A row of `stage.ResetStuckProcesses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetProcess {
    pub process_id: i64,
    pub process_name: String,
    pub previous_worker: Option<String>,
    pub attempt: i32,
    pub status: ProcessStatus,
}

/// The row of `stage.RotateHistory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationReport {
    pub processes_moved: i64,
    pub logs_moved: i64,
    pub done: bool,
}

/// What one `stage.PurgeNotifications` batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    pub deleted: i64,
    /// Nothing old is left to delete.
    pub done: bool,
}

/// What one `stage.RollUpCounters` batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollUpReport {
    pub rolled_up: i64,
    /// Fewer than the batch were left: call again at the next sweep.
    pub done: bool,
}

/// A row of `stage.TableSpace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TableSpace {
    pub table_name: String,
    pub row_count: i64,
    pub total_bytes: i64,
}

/// A row of `stage.ProcessStatusSummary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCount {
    pub status: String,
    pub process_count: i64,
}

/// A row of `stage.WorkerStatistics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatistic {
    pub worker_assigned: String,
    pub processes_done: i64,
    pub avg_duration_seconds: f64,
    pub max_duration_seconds: f64,
}

/// A row of `stage.OverdueProcesses`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OverdueProcess {
    pub process_id: i64,
    pub process_name: String,
    pub worker_assigned: Option<String>,
    pub start_time: DateTime<Utc>,
    pub running_minutes: i64,
    pub timeout_minutes: i32,
    /// The lease ran out: its driver died (or lost the database); not running any more.
    pub lease_expired: bool,
}

/// A `stage.FileControl` row, as the CLI and the tests read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessRow {
    pub process_id: i64,
    pub process_name: String,
    pub status: ProcessStatus,
    pub worker_assigned: Option<String>,
    pub created_at: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub parameters: Option<String>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub exit_code: Option<i32>,
    pub cancel_requested: bool,
    pub run_after: DateTime<Utc>,
    pub scheduled_for: Option<DateTime<Utc>>,
    /// When the command started, as its completion reported it (None: not reported).
    pub command_started_at: Option<DateTime<Utc>>,
}

/// A `stage.ProcessLog` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRow {
    pub log_id: i64,
    pub process_id: Option<i64>,
    pub message: String,
    pub log_level: String,
    pub log_time: DateTime<Utc>,
    pub detail: Option<String>,
    /// The process's name (its task's id); `None` for rows of no process.
    pub process_name: Option<String>,
}

/// The arguments of `stage.SaveTask`, and a task's columns as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub task_name: String,
    pub command: String,
    pub working_directory: Option<String>,
    pub overlap_policy: String,
    pub timeout_minutes: Option<i32>,
    pub max_attempts: i32,
    pub retry_delay_seconds: i32,
    pub executor: String,
    pub enabled: bool,
    pub description: Option<String>,
    /// JSON array of strings.
    pub arguments: Option<String>,
    pub time_zone: Option<String>,
    pub run_if_missed: bool,
    /// The task's JSON as submitted.
    pub definition: Option<String>,
}

impl TaskRecord {
    /// A driver-executed task with the defaults of `stage.SaveTask`.
    pub fn new(task_name: &str, command: &str) -> Self {
        TaskRecord {
            task_name: task_name.to_string(),
            command: command.to_string(),
            working_directory: None,
            overlap_policy: "skip".to_string(),
            timeout_minutes: None,
            max_attempts: 1,
            retry_delay_seconds: 60,
            executor: "driver".to_string(),
            enabled: true,
            description: None,
            arguments: None,
            time_zone: None,
            run_if_missed: false,
            definition: None,
        }
    }
}

/// The row of `stage.SaveTask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedTask {
    pub task_id: i32,
    pub created: bool,
}

/// One element of `stage.SaveTasks`: a task and all its triggers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskSave {
    #[serde(flatten)]
    pub task: TaskRecord,
    pub triggers: Vec<TriggerSave>,
}

/// A trigger as `stage.SaveTasks` stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSave {
    pub trigger_index: i32,
    pub recurrence: String,
    pub enabled: bool,
    /// The trigger's JSON.
    pub definition: String,
    pub next_fire_at: Option<DateTime<Utc>>,
}

/// A row of `stage.SaveTasks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedTaskRow {
    pub task_id: i32,
    pub task_name: String,
    pub created: bool,
}

/// A `stage.Task` row with its id and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub task_id: i32,
    pub record: TaskRecord,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `stage.TaskTrigger` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerRow {
    pub trigger_id: i32,
    pub task_id: i32,
    pub trigger_index: i32,
    pub recurrence: String,
    pub enabled: bool,
    pub definition: String,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fired_for: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What `stage.FireTrigger` does with a due occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FireMode {
    /// On time: register a run.
    Run,
    /// Missed while no driver ran, and the task has runIfMissed: one late run.
    Late,
    /// Missed, runIfMissed off: log and move on.
    Skip,
}

impl FireMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FireMode::Run => "run",
            FireMode::Late => "late",
            FireMode::Skip => "skip",
        }
    }
}

/// One element of `stage.FireTriggers`: FireTrigger's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FireRequest {
    pub trigger_id: i32,
    pub occurrence: DateTime<Utc>,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub mode: FireMode,
    pub missed_count: i32,
}

/// The row of `stage.FireTrigger`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FireResult {
    /// false: another driver fired this occurrence already (or the trigger is gone).
    pub fired: bool,
    pub process_id: Option<i64>,
    pub registered: Option<bool>,
    pub status: Option<ProcessStatus>,
}

/// Which `stage.ProcessLog` (or history) rows to read: all filters optional, rows after
/// `after_log_id` in LogID order, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub process_id: Option<i64>,
    /// Only the rows of processes of this name (a task's id).
    pub process_name: Option<String>,
    /// The levels to include (empty: all).
    pub levels: Vec<LogLevel>,
    pub since: Option<DateTime<Utc>>,
    pub after_log_id: Option<i64>,
    pub limit: i64,
    /// The newest `limit` rows, newest first (for a tail); otherwise oldest first.
    pub newest_first: bool,
    /// Read `stage.ProcessLog_History` instead of `stage.ProcessLog`.
    pub history: bool,
}

/// The row of `stage.SetTaskEnabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskEnabled {
    pub task_id: i32,
    pub task_name: String,
    /// The trigger changed, or `None` for the task itself.
    pub trigger_index: Option<i32>,
    pub enabled: bool,
    /// false when it was so already (nothing was written).
    pub changed: bool,
}

/// The minimum log levels: the database's (`stage.LogPolicy`) and the tasks' own
/// (`minLogLevel` in their JSON), which go over it for their runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLevels {
    pub database: LogLevel,
    pub tasks: Vec<TaskLogLevel>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskLogLevel {
    pub task_name: String,
    pub min_log_level: LogLevel,
}

/// The row of `stage.SetMinLogLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MinLogLevelChange {
    pub min_log_level: LogLevel,
    pub previous_min_log_level: LogLevel,
}

/// The row of `stage.CancelProcess`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    pub process_id: i64,
    pub process_name: String,
    /// Cancelled (it was Pending), or InProgress: its driver is asked to stop it.
    pub status: ProcessStatus,
    pub cancel_requested: bool,
}

// ---- Operator status: per-task status and history, live drivers ----

/// The last finished run of a task, as `stage.TaskStatus` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    pub process_id: i64,
    pub status: ProcessStatus,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: DateTime<Utc>,
    pub exit_code: Option<i32>,
    pub duration_seconds: Option<f64>,
}

/// A row of `stage.TaskStatus`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatusRow {
    pub task_id: i32,
    pub task_name: String,
    pub enabled: bool,
    pub time_zone: Option<String>,
    /// The earliest next occurrence of an enabled trigger, as the clock last recorded it.
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_run: Option<LastRun>,
    /// Failed runs since the last Completed one.
    pub consecutive_failures: i64,
    pub completed_24h: i64,
    pub failed_24h: i64,
    pub cancelled_24h: i64,
    /// InProgress now.
    pub running: i64,
    /// Pending now.
    pub pending: i64,
}

/// One run of a task, from `stage.FileControl` or `stage.FileControl_History`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    pub process_id: i64,
    pub status: ProcessStatus,
    pub created_at: DateTime<Utc>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub start_time: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub worker_assigned: Option<String>,
    /// Read from the history table (rotated).
    pub in_history: bool,
}

/// What a driver tells `stage.DriverHeartbeat` about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverPresence {
    /// `host/name`, the prefix of its workers' WorkerAssigned.
    pub driver_name: String,
    pub host_name: Option<String>,
    pub process_id: Option<i32>,
    pub version: Option<String>,
    pub workers: i32,
    pub clock_enabled: bool,
    pub lease_seconds: i32,
}

/// The `@State` of `stage.DriverHeartbeat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverState {
    /// Just started: a new StartedAt.
    Starting,
    Running,
    /// Graceful shutdown: claims nothing new.
    Stopping,
    /// A clean exit: the row goes.
    Stopped,
}

impl DriverState {
    pub fn as_str(self) -> &'static str {
        match self {
            DriverState::Starting => "starting",
            DriverState::Running => "running",
            DriverState::Stopping => "stopping",
            DriverState::Stopped => "stopped",
        }
    }
}

/// A row of `stage.DriverStatus`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverRow {
    pub driver_name: String,
    pub host_name: Option<String>,
    pub process_id: Option<i32>,
    pub version: Option<String>,
    pub started_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub workers: i32,
    pub clock_enabled: bool,
    pub stopping: bool,
    pub lease_seconds: i32,
    /// Seen within its lease.
    pub alive: bool,
    pub seconds_since_seen: f64,
}

// ---- Dashboard reads: process lists and finished runs per hour ----

/// Which `stage.FileControl` rows [`Backend::processes`](super::Backend::processes)
/// lists: every filter optional, newest first unless `oldest_first`, at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct ProcessFilter {
    pub status: Option<ProcessStatus>,
    /// Only processes of this name (a task's id).
    pub process_name: Option<String>,
    /// Created at or after.
    pub created_since: Option<DateTime<Utc>>,
    /// Created before.
    pub created_until: Option<DateTime<Utc>>,
    pub limit: i64,
    pub oldest_first: bool,
}

/// Processes that ended in one hour with one final status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HourlyOutcome {
    /// The hour's start; the hour is `[hour_start, hour_start + 1 h)`.
    pub hour_start: DateTime<Utc>,
    pub status: ProcessStatus,
    pub process_count: i64,
}

/// Which of the stage roles the connected login holds, directly or through a group
/// (PostgreSQL `pg_has_role`, SQL Server `IS_ROLEMEMBER`); the database's owners and
/// superusers hold every one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageRoles {
    pub reader: bool,
    pub submitter: bool,
    pub admin: bool,
}
