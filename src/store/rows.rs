//! Result rows to [`types`](super::types), written once for both engines: each backend
//! only says how to read one column of its own row type ([`ResultRow`]).
//! Columns are read by position, in the order sql/API.md fixes.

use super::error::{StoreError, StoreResult};
use super::types::*;
use chrono::{DateTime, Utc};
use std::str::FromStr;

/// Reads one column of a result row; `None` for NULL. Integer readers accept any
/// integer width, since the engines differ in what COUNT or a literal yields.
pub(super) trait ResultRow {
    fn int(&self, index: usize) -> StoreResult<Option<i64>>;
    fn text(&self, index: usize) -> StoreResult<Option<String>>;
    fn boolean(&self, index: usize) -> StoreResult<Option<bool>>;
    fn instant(&self, index: usize) -> StoreResult<Option<DateTime<Utc>>>;
    fn float(&self, index: usize) -> StoreResult<Option<f64>>;
}

/// A row read from column `.1` on: one routine's row standing beside another's in a
/// wider result set (`stage.CompleteAndClaim`).
pub(super) struct Shifted<'a, R: ?Sized>(pub &'a R, pub usize);

impl<R: ResultRow + ?Sized> ResultRow for Shifted<'_, R> {
    fn int(&self, index: usize) -> StoreResult<Option<i64>> {
        self.0.int(index + self.1)
    }
    fn text(&self, index: usize) -> StoreResult<Option<String>> {
        self.0.text(index + self.1)
    }
    fn boolean(&self, index: usize) -> StoreResult<Option<bool>> {
        self.0.boolean(index + self.1)
    }
    fn instant(&self, index: usize) -> StoreResult<Option<DateTime<Utc>>> {
        self.0.instant(index + self.1)
    }
    fn float(&self, index: usize) -> StoreResult<Option<f64>> {
        self.0.float(index + self.1)
    }
}

fn required<T>(value: Option<T>, index: usize) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::protocol("result row", format!("column {index} is NULL")))
}

fn int32(value: Option<i64>, index: usize) -> StoreResult<Option<i32>> {
    value
        .map(|v| {
            i32::try_from(v).map_err(|_| {
                StoreError::protocol("result row", format!("column {index} out of range: {v}"))
            })
        })
        .transpose()
}

/// Typed getters on top of [`ResultRow`].
pub(super) trait RowExt: ResultRow {
    fn i64_req(&self, i: usize) -> StoreResult<i64> {
        required(self.int(i)?, i)
    }
    fn i32_opt(&self, i: usize) -> StoreResult<Option<i32>> {
        int32(self.int(i)?, i)
    }
    fn i32_req(&self, i: usize) -> StoreResult<i32> {
        required(self.i32_opt(i)?, i)
    }
    fn text_req(&self, i: usize) -> StoreResult<String> {
        required(self.text(i)?, i)
    }
    fn bool_req(&self, i: usize) -> StoreResult<bool> {
        required(self.boolean(i)?, i)
    }
    fn instant_req(&self, i: usize) -> StoreResult<DateTime<Utc>> {
        required(self.instant(i)?, i)
    }
    fn log_level_req(&self, i: usize) -> StoreResult<LogLevel> {
        LogLevel::from_str(&self.text_req(i)?).map_err(|e| StoreError::protocol("result row", e))
    }
    fn status_opt(&self, i: usize) -> StoreResult<Option<ProcessStatus>> {
        self.text(i)?
            .map(|s| ProcessStatus::from_str(&s).map_err(|e| StoreError::protocol("result row", e)))
            .transpose()
    }
    fn status_req(&self, i: usize) -> StoreResult<ProcessStatus> {
        required(self.status_opt(i)?, i)
    }
}

impl<R: ResultRow + ?Sized> RowExt for R {}

pub(super) fn registered(row: &impl ResultRow) -> StoreResult<Registered> {
    Ok(Registered {
        process_id: row.i64_req(0)?,
        process_name: row.text_req(1)?,
        status: row.status_req(2)?,
        registered: row.bool_req(3)?,
    })
}

/// A `stage.RegisterProcesses` row: the element's 0-based ordinal, then RegisterProcess's row.
pub(super) fn registered_element(row: &impl ResultRow) -> StoreResult<(i32, Registered)> {
    Ok((
        row.i32_req(0)?,
        Registered {
            process_id: row.i64_req(1)?,
            process_name: row.text_req(2)?,
            status: row.status_req(3)?,
            registered: row.bool_req(4)?,
        },
    ))
}

pub(super) fn claimed(row: &impl ResultRow) -> StoreResult<ClaimedProcess> {
    Ok(ClaimedProcess {
        process_id: row.i64_req(0)?,
        process_name: row.text_req(1)?,
        worker_assigned: row.text_req(2)?,
        task_id: row.i32_opt(3)?,
        command: row.text(4)?,
        arguments: row.text(5)?,
        working_directory: row.text(6)?,
        parameters: row.text(7)?,
        attempt: row.i32_req(8)?,
        max_attempts: row.i32_req(9)?,
        timeout_minutes: row.i32_opt(10)?,
        scheduled_for: row.instant(11)?,
        lease_expires_at: row.instant(12)?,
        output_encoding: row.text(13)?,
    })
}

pub(super) fn worker_task(row: &impl ResultRow) -> StoreResult<WorkerTask> {
    Ok(WorkerTask {
        process_id: row.int(0)?,
        process_name: row.text(1)?,
        parameters: row.text(2)?,
        attempt: row.i32_opt(3)?,
    })
}

pub(super) fn completion_result(row: &impl ResultRow) -> StoreResult<CompletionResult> {
    Ok(CompletionResult {
        process_id: row.i64_req(0)?,
        accepted: row.bool_req(1)?,
        status: row.status_opt(2)?,
    })
}

pub(super) fn heartbeat_status(row: &impl ResultRow) -> StoreResult<HeartbeatStatus> {
    Ok(HeartbeatStatus {
        process_id: row.i64_req(0)?,
        held: row.bool_req(1)?,
        cancel_requested: row.bool_req(2)?,
    })
}

pub(super) fn reset_process(row: &impl ResultRow) -> StoreResult<ResetProcess> {
    Ok(ResetProcess {
        process_id: row.i64_req(0)?,
        process_name: row.text_req(1)?,
        previous_worker: row.text(2)?,
        attempt: row.i32_req(3)?,
        status: row.status_req(4)?,
    })
}

pub(super) fn rotation_report(row: &impl ResultRow) -> StoreResult<RotationReport> {
    Ok(RotationReport {
        processes_moved: row.i64_req(0)?,
        logs_moved: row.i64_req(1)?,
        done: row.bool_req(2)?,
    })
}

pub(super) fn purge_report(row: &impl ResultRow) -> StoreResult<PurgeReport> {
    Ok(PurgeReport {
        deleted: row.i64_req(0)?,
        done: row.bool_req(1)?,
    })
}

pub(super) fn roll_up_report(row: &impl ResultRow) -> StoreResult<RollUpReport> {
    Ok(RollUpReport {
        rolled_up: row.i64_req(0)?,
        done: row.bool_req(1)?,
    })
}

pub(super) fn table_space(row: &impl ResultRow) -> StoreResult<TableSpace> {
    Ok(TableSpace {
        table_name: row.text_req(0)?,
        row_count: row.int(1)?.unwrap_or(0),
        total_bytes: row.int(2)?.unwrap_or(0),
    })
}

pub(super) fn saved_task(row: &impl ResultRow) -> StoreResult<SavedTask> {
    Ok(SavedTask {
        task_id: row.i32_req(0)?,
        created: row.bool_req(1)?,
    })
}

pub(super) fn status_count(row: &impl ResultRow) -> StoreResult<StatusCount> {
    Ok(StatusCount {
        status: row.text_req(0)?,
        process_count: row.i64_req(1)?,
    })
}

pub(super) fn worker_statistic(row: &impl ResultRow) -> StoreResult<WorkerStatistic> {
    Ok(WorkerStatistic {
        worker_assigned: row.text_req(0)?,
        processes_done: row.i64_req(1)?,
        avg_duration_seconds: row.float(2)?.unwrap_or(0.0),
        max_duration_seconds: row.float(3)?.unwrap_or(0.0),
    })
}

pub(super) fn overdue_process(row: &impl ResultRow) -> StoreResult<OverdueProcess> {
    Ok(OverdueProcess {
        process_id: row.i64_req(0)?,
        process_name: row.text_req(1)?,
        worker_assigned: row.text(2)?,
        start_time: row.instant_req(3)?,
        running_minutes: row.i64_req(4)?,
        timeout_minutes: row.i32_req(5)?,
        lease_expired: row.bool_req(6)?,
    })
}

/// The columns [`process_row`] reads, for `SELECT ... FROM stage.FileControl`.
pub(super) const PROCESS_COLUMNS: &str =
    "ProcessID, ProcessName, Status, WorkerAssigned, CreatedAt, StartTime, EndTime, \
     Parameters, Attempt, MaxAttempts, ExitCode, CancelRequested, RunAfter, ScheduledFor, \
     CommandStartedAt";

pub(super) fn process_row(row: &impl ResultRow) -> StoreResult<ProcessRow> {
    Ok(ProcessRow {
        process_id: row.i64_req(0)?,
        process_name: row.text_req(1)?,
        status: row.status_req(2)?,
        worker_assigned: row.text(3)?,
        created_at: row.instant_req(4)?,
        start_time: row.instant(5)?,
        end_time: row.instant(6)?,
        parameters: row.text(7)?,
        attempt: row.i32_req(8)?,
        max_attempts: row.i32_req(9)?,
        exit_code: row.i32_opt(10)?,
        cancel_requested: row.bool_req(11)?,
        run_after: row.instant_req(12)?,
        scheduled_for: row.instant(13)?,
        command_started_at: row.instant(14)?,
    })
}

/// The columns [`log_row`] reads, for `SELECT ... FROM stage.ProcessLog`.
/// The columns [`log_row`] reads, from [`log_source`]: a log row with its process's
/// name, wherever the process is (a process outlives its logs in the live table, and
/// rotation may have moved either).
pub(super) const LOG_COLUMNS: &str =
    "l.LogID, l.ProcessID, l.Message, l.LogLevel, l.LogTime, l.Detail, \
     COALESCE(f.ProcessName, h.ProcessName)";

/// `FROM ...` for [`LOG_COLUMNS`]: the live log, or the history tables' copy.
pub(super) fn log_source(history: bool) -> String {
    let table = if history {
        "ProcessLog_History"
    } else {
        "ProcessLog"
    };
    format!(
        "stage.{table} l \
         LEFT JOIN stage.FileControl f ON f.ProcessID = l.ProcessID \
         LEFT JOIN stage.FileControl_History h ON h.ProcessID = l.ProcessID"
    )
}

pub(super) fn log_row(row: &impl ResultRow) -> StoreResult<LogRow> {
    Ok(LogRow {
        log_id: row.i64_req(0)?,
        process_id: row.int(1)?,
        message: row.text_req(2)?,
        log_level: row.text_req(3)?,
        log_time: row.instant_req(4)?,
        detail: row.text(5)?,
        process_name: row.text(6)?,
    })
}

/// The columns [`task_row`] reads, for `SELECT ... FROM` [`TASK_SOURCE`] with `$1` bound
/// to true. Definition only where RunIfMissed is set, for its `catchUp`/`catchUpLimit` (no
/// column holds how many missed runs to enqueue), where the task has notify settings
/// (stage.TaskNotify), which only the JSON holds, or an `outputEncoding` or `minLogLevel`
/// (their columns are derived from the JSON): the columns are the truth (see `catalog`),
/// and with many tasks the JSON copies would dominate what a reload holds.
pub(super) const TASK_COLUMNS: &str = "Task.TaskID, Task.TaskName, Task.Command, Task.WorkingDirectory, \
     Task.OverlapPolicy, Task.TimeoutMinutes, Task.MaxAttempts, Task.RetryDelaySeconds, Task.Executor, \
     Task.Enabled, Task.Description, Task.Arguments, Task.TimeZone, Task.RunIfMissed, Task.CreatedAt, \
     Task.UpdatedAt, CASE WHEN Task.RunIfMissed = $1 OR n.TaskID IS NOT NULL \
     OR Task.OutputEncoding IS NOT NULL OR Task.MinLogLevel IS NOT NULL THEN Task.Definition END";

/// Where [`TASK_COLUMNS`] come from. A join, not an EXISTS per row: PostgreSQL costs an
/// EXISTS probe of the (often empty, never analysed) TaskNotify at 100 000 tasks far
/// above `jit_above_cost`, and spent more compiling the query than running it.
pub(super) const TASK_SOURCE: &str =
    "stage.Task LEFT JOIN stage.TaskNotify AS n ON n.TaskID = Task.TaskID";

pub(super) fn task_row(row: &impl ResultRow) -> StoreResult<TaskRow> {
    Ok(TaskRow {
        task_id: row.i32_req(0)?,
        record: TaskRecord {
            task_name: row.text_req(1)?,
            command: row.text_req(2)?,
            working_directory: row.text(3)?,
            overlap_policy: row.text_req(4)?,
            timeout_minutes: row.i32_opt(5)?,
            max_attempts: row.i32_req(6)?,
            retry_delay_seconds: row.i32_req(7)?,
            executor: row.text_req(8)?,
            enabled: row.bool_req(9)?,
            description: row.text(10)?,
            arguments: row.text(11)?,
            time_zone: row.text(12)?,
            run_if_missed: row.bool_req(13)?,
            definition: row.text(16)?,
        },
        created_at: row.instant_req(14)?,
        updated_at: row.instant_req(15)?,
    })
}

/// The columns [`trigger_row`] reads, for `SELECT ... FROM stage.TaskTrigger`.
pub(super) const TRIGGER_COLUMNS: &str =
    "TriggerID, TaskID, TriggerIndex, Recurrence, Enabled, Definition, NextFireAt, LastFiredFor, CreatedAt";

pub(super) fn trigger_row(row: &impl ResultRow) -> StoreResult<TriggerRow> {
    trigger_row_from(row, 0)
}

/// The number of [`TASK_COLUMNS`] and of [`TRIGGER_COLUMNS`].
pub(super) const TASK_COLUMN_COUNT: usize = 17;
pub(super) const TRIGGER_COLUMN_COUNT: usize = 9;

/// Every trigger row with its task's row ([`TASK_COLUMNS`], then [`TRIGGER_COLUMNS`]),
/// by task and index, `$1` bound to true: the clock's one read. The two column lists
/// share names, so each comes from a derived table with positional aliases.
pub(super) fn scheduled_triggers_sql() -> String {
    let aliases = |prefix: &str, count: usize| {
        (0..count)
            .map(|i| format!("{prefix}{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT t.*, g.* \
         FROM (SELECT {TASK_COLUMNS} FROM {TASK_SOURCE}) AS t ({}) \
         JOIN (SELECT {TRIGGER_COLUMNS} FROM stage.TaskTrigger) AS g ({}) ON g.g1 = t.t0 \
         ORDER BY t.t0, g.g2",
        aliases("t", TASK_COLUMN_COUNT),
        aliases("g", TRIGGER_COLUMN_COUNT)
    )
}

/// A row of [`scheduled_triggers_sql`]: the task's columns, then the trigger's.
pub(super) fn scheduled_trigger_row(row: &impl ResultRow) -> StoreResult<TriggerRow> {
    trigger_row_from(row, TASK_COLUMN_COUNT)
}

/// [`TRIGGER_COLUMNS`], the first at `first`.
fn trigger_row_from(row: &impl ResultRow, first: usize) -> StoreResult<TriggerRow> {
    Ok(TriggerRow {
        trigger_id: row.i32_req(first)?,
        task_id: row.i32_req(first + 1)?,
        trigger_index: row.i32_req(first + 2)?,
        recurrence: row.text_req(first + 3)?,
        enabled: row.bool_req(first + 4)?,
        definition: row.text_req(first + 5)?,
        next_fire_at: row.instant(first + 6)?,
        last_fired_for: row.instant(first + 7)?,
        created_at: row.instant_req(first + 8)?,
    })
}

pub(super) fn saved_task_row(row: &impl ResultRow) -> StoreResult<SavedTaskRow> {
    Ok(SavedTaskRow {
        task_id: row.i32_req(0)?,
        task_name: row.text_req(1)?,
        created: row.bool_req(2)?,
    })
}

pub(super) fn fire_result(row: &impl ResultRow) -> StoreResult<FireResult> {
    fire_result_from(row, 0)
}

/// A `stage.FireTriggers` row: the element's 0-based ordinal, then FireTrigger's row.
pub(super) fn fire_element(row: &impl ResultRow) -> StoreResult<(i32, FireResult)> {
    Ok((row.i32_req(0)?, fire_result_from(row, 1)?))
}

/// FireTrigger's four columns, the first at `first`.
fn fire_result_from(row: &impl ResultRow, first: usize) -> StoreResult<FireResult> {
    Ok(FireResult {
        fired: row.bool_req(first)?,
        process_id: row.int(first + 1)?,
        registered: row.boolean(first + 2)?,
        status: row.status_opt(first + 3)?,
    })
}

/// `@Completions` for `stage.CompleteProcesses`.
pub(super) fn completions_json(completions: &[Completion]) -> StoreResult<String> {
    serde_json::to_string(completions).map_err(|e| StoreError::protocol("CompleteProcesses", e))
}

/// A JSON array argument (`@ProcessIDs`, `@Slots`).
pub(super) fn json_array<T: serde::Serialize>(items: &[T]) -> StoreResult<String> {
    serde_json::to_string(items).map_err(|e| StoreError::protocol("JSON argument", e))
}

pub(super) fn task_enabled(row: &impl ResultRow) -> StoreResult<TaskEnabled> {
    Ok(TaskEnabled {
        task_id: row.i32_req(0)?,
        task_name: row.text_req(1)?,
        trigger_index: row.i32_opt(2)?,
        enabled: row.bool_req(3)?,
        changed: row.bool_req(4)?,
    })
}

pub(super) fn cancellation(row: &impl ResultRow) -> StoreResult<Cancellation> {
    Ok(Cancellation {
        process_id: row.i64_req(0)?,
        process_name: row.text_req(1)?,
        status: row.status_req(2)?,
        cancel_requested: row.bool_req(3)?,
    })
}

// ---- Operator status: per-task status and history, live drivers ----

/// The columns [`task_status_row`] reads, for `SELECT ... FROM stage.TaskStatus`.
pub(super) const TASK_STATUS_COLUMNS: &str =
    "TaskID, TaskName, Enabled, TimeZone, NextFireAt, LastProcessID, LastStatus, LastStartTime, \
     LastEndTime, LastExitCode, LastDurationSeconds, ConsecutiveFailures, Completed24h, Failed24h, \
     Cancelled24h, RunningCount, PendingCount";

pub(super) fn task_status_row(row: &impl ResultRow) -> StoreResult<TaskStatusRow> {
    let last_run = match row.int(5)? {
        Some(process_id) => Some(LastRun {
            process_id,
            status: row.status_req(6)?,
            start_time: row.instant(7)?,
            end_time: row.instant_req(8)?,
            exit_code: row.i32_opt(9)?,
            duration_seconds: row.float(10)?,
        }),
        None => None,
    };
    Ok(TaskStatusRow {
        task_id: row.i32_req(0)?,
        task_name: row.text_req(1)?,
        enabled: row.bool_req(2)?,
        time_zone: row.text(3)?,
        next_fire_at: row.instant(4)?,
        last_run,
        consecutive_failures: row.i64_req(11)?,
        completed_24h: row.i64_req(12)?,
        failed_24h: row.i64_req(13)?,
        cancelled_24h: row.i64_req(14)?,
        running: row.i64_req(15)?,
        pending: row.i64_req(16)?,
    })
}

/// The columns [`task_run`] reads (the last, InHistory, is added by the query).
pub(super) const TASK_RUN_COLUMNS: &str = "ProcessID, Status, CreatedAt, ScheduledFor, StartTime, \
     EndTime, ExitCode, Attempt, MaxAttempts, WorkerAssigned";

pub(super) fn task_run(row: &impl ResultRow) -> StoreResult<TaskRun> {
    Ok(TaskRun {
        process_id: row.i64_req(0)?,
        status: row.status_req(1)?,
        created_at: row.instant_req(2)?,
        scheduled_for: row.instant(3)?,
        start_time: row.instant(4)?,
        end_time: row.instant(5)?,
        exit_code: row.i32_opt(6)?,
        attempt: row.i32_req(7)?,
        max_attempts: row.i32_req(8)?,
        worker_assigned: row.text(9)?,
        in_history: row.i64_req(10)? != 0,
    })
}

/// The columns [`driver_row`] reads, for `SELECT ... FROM stage.DriverStatus`.
pub(super) const DRIVER_COLUMNS: &str = "DriverName, HostName, ProcessId, Version, StartedAt, \
     LastSeenAt, Workers, ClockEnabled, Stopping, LeaseSeconds, Alive, SecondsSinceSeen";

pub(super) fn driver_row(row: &impl ResultRow) -> StoreResult<DriverRow> {
    Ok(DriverRow {
        driver_name: row.text_req(0)?,
        host_name: row.text(1)?,
        process_id: row.i32_opt(2)?,
        version: row.text(3)?,
        started_at: row.instant_req(4)?,
        last_seen_at: row.instant_req(5)?,
        workers: row.i32_req(6)?,
        clock_enabled: row.bool_req(7)?,
        stopping: row.bool_req(8)?,
        lease_seconds: row.i32_req(9)?,
        alive: row.bool_req(10)?,
        seconds_since_seen: row.float(11)?.unwrap_or(0.0),
    })
}
