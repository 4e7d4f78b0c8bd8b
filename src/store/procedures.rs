//! [`Backend`] for every [`Engine`]: each method is one `stage` procedure, view or read,
//! its rows mapped by `rows.rs`. Written once, so both engines behave alike by construction.

use super::engine::{Arg, Engine};
use super::error::{StoreError, StoreResult};
use super::notifications::{
    self, NotificationClaim, NotificationCompleted, NotificationOutcome, PendingNotification,
};
use super::rows::{
    self, log_source, ResultRow, RowExt, Shifted, DRIVER_COLUMNS, LOG_COLUMNS, PROCESS_COLUMNS,
    TASK_COLUMNS, TASK_RUN_COLUMNS, TASK_SOURCE, TASK_STATUS_COLUMNS, TRIGGER_COLUMNS,
};
use super::types::*;
use super::Backend;
use async_trait::async_trait;
use chrono::{DateTime, DurationRound, Utc};
use std::time::Duration;

fn first<T>(rows: Vec<T>, context: &str) -> StoreResult<T> {
    rows.into_iter()
        .next()
        .ok_or_else(|| StoreError::protocol(context, "no row returned"))
}

/// The rows of a batch procedure, `(ordinal, row)`, checked to be one per element in
/// array order.
fn in_array_order<T>(context: &str, elements: Vec<(i32, T)>) -> StoreResult<Vec<T>> {
    elements
        .into_iter()
        .enumerate()
        .map(|(index, (ordinal, row))| match usize::try_from(ordinal) {
            Ok(ordinal) if ordinal == index => Ok(row),
            _ => Err(StoreError::protocol(
                context,
                format!("row {index} has ordinal {ordinal}"),
            )),
        })
        .collect()
}

fn map_all<R, T>(rows: Vec<R>, map: impl Fn(&R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(map).collect()
}

#[async_trait]
impl<E: Engine> Backend for E {
    fn kind(&self) -> BackendKind {
        Engine::kind(self)
    }

    async fn migrate(&self) -> StoreResult<Vec<String>> {
        Engine::migrate(self, false).await
    }

    async fn pending_migrations(&self) -> StoreResult<Vec<String>> {
        Engine::migrate(self, true).await
    }

    async fn register(
        &self,
        process_name: &str,
        parameters: Option<&str>,
        scheduled_for: Option<DateTime<Utc>>,
    ) -> StoreResult<Registered> {
        let args = [
            Arg::Text(Some(process_name)),
            Arg::Text(parameters),
            Arg::Instant(scheduled_for),
        ];
        let found = self.call("RegisterProcess", &args).await?;
        rows::registered(&first(found, "RegisterProcess")?)
    }

    async fn register_many(&self, processes: &str) -> StoreResult<Vec<Registered>> {
        let found = self
            .call("RegisterProcesses", &[Arg::Text(Some(processes))])
            .await?;
        let elements = map_all(found, rows::registered_element)?;
        // One row per element in array order is the contract; the ordinal proves it.
        in_array_order("RegisterProcesses", elements)
    }

    async fn claim(&self, request: &ClaimRequest<'_>) -> StoreResult<Vec<ClaimedProcess>> {
        let slots = request.slots.map(rows::json_array).transpose()?;
        let args = [
            Arg::Text(Some(request.worker_name)),
            Arg::Int(Some(request.max_count)),
            Arg::Int(Some(request.lease_seconds)),
            Arg::Text(slots.as_deref()),
        ];
        map_all(self.call("ClaimProcesses", &args).await?, rows::claimed)
    }

    async fn assign(&self, number_of_workers: i32) -> StoreResult<Vec<ClaimedProcess>> {
        let found = self
            .call(
                "AssignProcessToWorker",
                &[Arg::Int(Some(number_of_workers))],
            )
            .await?;
        map_all(found, rows::claimed)
    }

    async fn worker_task(&self, worker_name: &str) -> StoreResult<WorkerTask> {
        let found = self
            .call("ProcessWorkerTask", &[Arg::Text(Some(worker_name))])
            .await?;
        rows::worker_task(&first(found, "ProcessWorkerTask")?)
    }

    async fn complete(&self, completions: &[Completion]) -> StoreResult<Vec<CompletionResult>> {
        let json = rows::completions_json(completions)?;
        let found = self
            .call("CompleteProcesses", &[Arg::Text(Some(&json))])
            .await?;
        map_all(found, rows::completion_result)
    }

    async fn complete_and_claim(
        &self,
        completions: &[Completion],
        request: &ClaimRequest<'_>,
    ) -> StoreResult<CompletedAndClaimed> {
        let json = rows::completions_json(completions)?;
        let slots = request.slots.map(rows::json_array).transpose()?;
        let args = [
            Arg::Text(Some(&json)),
            Arg::Text(Some(request.worker_name)),
            Arg::Int(Some(request.max_count)),
            Arg::Int(Some(request.lease_seconds)),
            Arg::Text(slots.as_deref()),
        ];
        let mut out = CompletedAndClaimed {
            results: Vec::new(),
            claimed: Vec::new(),
        };
        // Column 0 says whose row it is: CompleteProcesses' row from column 1, or
        // ClaimProcesses' row from column 4.
        for row in &self.call("CompleteAndClaim", &args).await? {
            if row.bool_req(0)? {
                out.claimed.push(rows::claimed(&Shifted(row, 4))?);
            } else {
                out.results.push(rows::completion_result(&Shifted(row, 1))?);
            }
        }
        Ok(out)
    }

    async fn complete_one(&self, c: &Completion) -> StoreResult<CompletionResult> {
        let args = [
            Arg::BigInt(Some(c.process_id)),
            Arg::Text(Some(&c.worker_name)),
            Arg::Text(Some(c.status.as_str())),
            Arg::Int(c.exit_code),
            Arg::Text(c.message.as_deref()),
            Arg::Int(c.attempt),
        ];
        let found = self.call("CompleteProcess", &args).await?;
        rows::completion_result(&first(found, "CompleteProcess")?)
    }

    async fn heartbeat(
        &self,
        worker_name: &str,
        process_ids: &[i64],
        lease_seconds: i32,
    ) -> StoreResult<Vec<HeartbeatStatus>> {
        let ids = rows::json_array(process_ids)?;
        let args = [
            Arg::Text(Some(worker_name)),
            Arg::Text(Some(&ids)),
            Arg::Int(Some(lease_seconds)),
        ];
        map_all(self.call("Heartbeat", &args).await?, rows::heartbeat_status)
    }

    async fn release(
        &self,
        worker_name: &str,
        process_ids: &[i64],
        message: Option<&str>,
    ) -> StoreResult<Vec<i64>> {
        let ids = rows::json_array(process_ids)?;
        let args = [
            Arg::Text(Some(worker_name)),
            Arg::Text(Some(&ids)),
            Arg::Text(message),
        ];
        let found = self.call("ReleaseProcesses", &args).await?;
        let mut released = Vec::new();
        for row in &found {
            if row.bool_req(1)? {
                released.push(row.i64_req(0)?);
            }
        }
        Ok(released)
    }

    async fn log_message(
        &self,
        process_id: Option<i64>,
        message: &str,
        level: LogLevel,
        detail: Option<&str>,
    ) -> StoreResult<Option<i64>> {
        let args = [
            Arg::BigInt(process_id),
            Arg::Text(Some(message)),
            Arg::Text(Some(level.as_str())),
            Arg::Text(detail),
        ];
        first(self.call("LogMessage", &args).await?, "LogMessage")?.int(0)
    }

    async fn reset_stuck(&self, timeout_minutes: i32) -> StoreResult<Vec<ResetProcess>> {
        let found = self
            .call("ResetStuckProcesses", &[Arg::Int(Some(timeout_minutes))])
            .await?;
        map_all(found, rows::reset_process)
    }

    async fn rotate(
        &self,
        retention_months: i32,
        batch_size: i32,
        max_batches: Option<i32>,
    ) -> StoreResult<RotationReport> {
        let args = [
            Arg::Int(Some(retention_months)),
            Arg::Int(Some(batch_size)),
            Arg::Int(max_batches),
        ];
        rows::rotation_report(&first(
            self.call("RotateHistory", &args).await?,
            "RotateHistory",
        )?)
    }

    async fn purge_notifications(
        &self,
        retention_months: i32,
        batch_size: i32,
    ) -> StoreResult<PurgeReport> {
        let args = [Arg::Int(Some(retention_months)), Arg::Int(Some(batch_size))];
        rows::purge_report(&first(
            self.call("PurgeNotifications", &args).await?,
            "PurgeNotifications",
        )?)
    }

    async fn roll_up_counters(&self, batch_size: i32) -> StoreResult<RollUpReport> {
        rows::roll_up_report(&first(
            self.call("RollUpCounters", &[Arg::Int(Some(batch_size))])
                .await?,
            "RollUpCounters",
        )?)
    }

    async fn table_space(&self) -> StoreResult<Vec<TableSpace>> {
        map_all(self.call("TableSpace", &[]).await?, rows::table_space)
    }

    async fn save_task(&self, t: &TaskRecord) -> StoreResult<SavedTask> {
        let args = [
            Arg::Text(Some(&t.task_name)),
            Arg::Text(Some(&t.command)),
            Arg::Text(t.working_directory.as_deref()),
            Arg::Text(Some(&t.overlap_policy)),
            Arg::Int(t.timeout_minutes),
            Arg::Int(Some(t.max_attempts)),
            Arg::Int(Some(t.retry_delay_seconds)),
            Arg::Text(Some(&t.executor)),
            Arg::Bool(t.enabled),
            Arg::Text(t.description.as_deref()),
            Arg::Text(t.arguments.as_deref()),
            Arg::Text(t.time_zone.as_deref()),
            Arg::Bool(t.run_if_missed),
            Arg::Text(t.definition.as_deref()),
        ];
        rows::saved_task(&first(self.call("SaveTask", &args).await?, "SaveTask")?)
    }

    async fn save_tasks(&self, tasks: &[TaskSave]) -> StoreResult<Vec<SavedTaskRow>> {
        let json = rows::json_array(tasks)?;
        map_all(
            self.call("SaveTasks", &[Arg::Text(Some(&json))]).await?,
            rows::saved_task_row,
        )
    }

    async fn tasks(&self) -> StoreResult<Vec<TaskRow>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM {TASK_SOURCE} ORDER BY Task.TaskName");
        map_all(
            self.query("read tasks", &sql, &[Arg::Bool(true)]).await?,
            rows::task_row,
        )
    }

    async fn triggers(&self) -> StoreResult<Vec<TriggerRow>> {
        let sql = format!(
            "SELECT {TRIGGER_COLUMNS} FROM stage.TaskTrigger ORDER BY TaskID, TriggerIndex"
        );
        map_all(
            self.query("read triggers", &sql, &[]).await?,
            rows::trigger_row,
        )
    }

    async fn each_scheduled_task(
        &self,
        each: &mut (dyn FnMut(TaskRow, Vec<TriggerRow>) + Send),
    ) -> StoreResult<()> {
        // The rows of the task being read; handed over when the next task's first row comes.
        let mut current: Option<(TaskRow, Vec<TriggerRow>)> = None;
        self.query_each(
            "read tasks and triggers",
            &rows::scheduled_triggers_sql(),
            &[Arg::Bool(true)],
            &mut |row| {
                let trigger = rows::scheduled_trigger_row(row)?;
                match &mut current {
                    Some((task, triggers)) if task.task_id == trigger.task_id => {
                        triggers.push(trigger)
                    }
                    _ => {
                        if let Some((task, triggers)) = current.take() {
                            each(task, triggers);
                        }
                        current = Some((rows::task_row(row)?, vec![trigger]));
                    }
                }
                Ok(())
            },
        )
        .await?;
        if let Some((task, triggers)) = current {
            each(task, triggers);
        }
        Ok(())
    }

    async fn task_id(&self, task_name: &str) -> StoreResult<Option<i32>> {
        let found = self
            .query(
                "read task",
                "SELECT TaskID FROM stage.Task WHERE TaskName = $1",
                &[Arg::Text(Some(task_name))],
            )
            .await?;
        match found.first() {
            Some(row) => Ok(Some(row.i32_req(0)?)),
            None => Ok(None),
        }
    }

    async fn agent_jobs(&self) -> StoreResult<String> {
        if Engine::kind(self) != BackendKind::SqlServer {
            return Err(StoreError::InvalidArgument(
                "SQL Server Agent jobs are read over a SQL Server connection (--database mssql://...)"
                    .to_string(),
            ));
        }
        let query = include_str!("../../sql/mssql/agent_import_query.sql");
        let found = self.query("read msdb's Agent jobs", query, &[]).await?;
        // FOR JSON of no rows is NULL.
        Ok(match found.first() {
            Some(row) => row.text(0)?.unwrap_or_else(|| "[]".to_string()),
            None => "[]".to_string(),
        })
    }

    async fn schedule_version(&self) -> StoreResult<i64> {
        let found = self
            .query(
                "ScheduleVersion",
                "SELECT Version FROM stage.ScheduleVersion",
                &[],
            )
            .await?;
        first(found, "ScheduleVersion")?.i64_req(0)
    }

    async fn fire_trigger(
        &self,
        trigger_id: i32,
        occurrence: DateTime<Utc>,
        next_fire_at: Option<DateTime<Utc>>,
        mode: FireMode,
        missed_count: i32,
    ) -> StoreResult<FireResult> {
        let args = [
            Arg::Int(Some(trigger_id)),
            Arg::Instant(Some(occurrence)),
            Arg::Instant(next_fire_at),
            Arg::Text(Some(mode.as_str())),
            Arg::Int(Some(missed_count)),
        ];
        rows::fire_result(&first(
            self.call("FireTrigger", &args).await?,
            "FireTrigger",
        )?)
    }

    async fn fire_triggers(&self, occurrences: &[FireRequest]) -> StoreResult<Vec<FireResult>> {
        let json = rows::json_array(occurrences)?;
        let found = self.call("FireTriggers", &[Arg::Text(Some(&json))]).await?;
        let elements = map_all(found, rows::fire_element)?;
        if elements.len() != occurrences.len() {
            return Err(StoreError::protocol(
                "FireTriggers",
                format!("{} rows for {} elements", elements.len(), occurrences.len()),
            ));
        }
        // One row per element in array order is the contract; the ordinal proves it.
        in_array_order("FireTriggers", elements)
    }

    async fn update_next_fire(&self, next: &[(i32, Option<DateTime<Utc>>)]) -> StoreResult<()> {
        let items: Vec<serde_json::Value> = next
            .iter()
            .map(|(id, at)| serde_json::json!({ "triggerId": id, "nextFireAt": at }))
            .collect();
        let json = rows::json_array(&items)?;
        self.call("UpdateNextFire", &[Arg::Text(Some(&json))])
            .await?;
        Ok(())
    }

    async fn delete_task(&self, task_name: &str) -> StoreResult<bool> {
        first(
            self.call("DeleteTask", &[Arg::Text(Some(task_name))])
                .await?,
            "DeleteTask",
        )?
        .bool_req(0)
    }

    async fn status_summary(&self) -> StoreResult<Vec<StatusCount>> {
        let sql = "SELECT Status, CAST(ProcessCount AS bigint) FROM stage.ProcessStatusSummary ORDER BY Status";
        map_all(
            self.query("ProcessStatusSummary", sql, &[]).await?,
            rows::status_count,
        )
    }

    async fn worker_statistics(&self) -> StoreResult<Vec<WorkerStatistic>> {
        let sql = "SELECT WorkerAssigned, CAST(ProcessesDone AS bigint), CAST(AvgDurationSeconds AS float), \
                   CAST(MaxDurationSeconds AS float) FROM stage.WorkerStatistics ORDER BY WorkerAssigned";
        map_all(
            self.query("WorkerStatistics", sql, &[]).await?,
            rows::worker_statistic,
        )
    }

    async fn overdue_processes(&self) -> StoreResult<Vec<OverdueProcess>> {
        let sql = "SELECT ProcessID, ProcessName, WorkerAssigned, StartTime, CAST(RunningMinutes AS bigint), \
                   CAST(TimeoutMinutes AS int), LeaseExpired FROM stage.OverdueProcesses ORDER BY ProcessID";
        map_all(
            self.query("OverdueProcesses", sql, &[]).await?,
            rows::overdue_process,
        )
    }

    async fn process(&self, process_id: i64) -> StoreResult<Option<ProcessRow>> {
        let sql = format!("SELECT {PROCESS_COLUMNS} FROM stage.FileControl WHERE ProcessID = $1");
        let found = self
            .query("read process", &sql, &[Arg::BigInt(Some(process_id))])
            .await?;
        found.first().map(rows::process_row).transpose()
    }

    async fn running_processes(&self) -> StoreResult<Vec<ProcessRow>> {
        let sql = format!("SELECT {PROCESS_COLUMNS} FROM stage.FileControl WHERE Status = 'InProgress' ORDER BY StartTime");
        map_all(
            self.query("running processes", &sql, &[]).await?,
            rows::process_row,
        )
    }

    async fn failed_processes(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ProcessRow>> {
        // Status IN (...) as in IX_FileControl_Finished's filter, so the EndTime range seeks.
        let sql = format!(
            "SELECT {PROCESS_COLUMNS} FROM stage.FileControl \
             WHERE Status IN ('Completed', 'Failed', 'Cancelled') AND Status = 'Failed' AND EndTime >= $1 \
             ORDER BY EndTime DESC OFFSET 0 ROWS FETCH NEXT {} ROWS ONLY",
            limit.max(1)
        );
        map_all(
            self.query("failed processes", &sql, &[Arg::Instant(Some(since))])
                .await?,
            rows::process_row,
        )
    }

    async fn process_logs(&self, process_id: i64) -> StoreResult<Vec<LogRow>> {
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM {} WHERE l.ProcessID = $1 ORDER BY l.LogID",
            log_source(false)
        );
        let found = self
            .query("read process log", &sql, &[Arg::BigInt(Some(process_id))])
            .await?;
        map_all(found, rows::log_row)
    }

    async fn logs(&self, filter: &LogFilter) -> StoreResult<Vec<LogRow>> {
        // Every filter is a parameter that may be NULL, so one statement serves all
        // combinations (and stays a prepared statement on both engines).
        let level = |i: usize| filter.levels.get(i).map(|l| l.as_str());
        let all_levels = filter.levels.is_empty();
        let sql = format!(
            "SELECT {LOG_COLUMNS} FROM {} \
             WHERE ($1 IS NULL OR l.ProcessID = $1) AND ($2 IS NULL OR l.LogTime >= $2) \
             AND ($3 IS NULL OR l.LogID > $3) AND ($4 = 1 OR l.LogLevel IN ($5, $6, $7)) \
             AND ($8 IS NULL OR COALESCE(f.ProcessName, h.ProcessName) = $8) \
             ORDER BY l.LogID {} OFFSET 0 ROWS FETCH NEXT {} ROWS ONLY",
            log_source(filter.history),
            if filter.newest_first { "DESC" } else { "ASC" },
            filter.limit.max(1)
        );
        let args = [
            Arg::BigInt(filter.process_id),
            Arg::Instant(filter.since),
            Arg::BigInt(filter.after_log_id),
            Arg::Int(Some(i32::from(all_levels))),
            Arg::Text(level(0)),
            Arg::Text(level(1)),
            Arg::Text(level(2)),
            Arg::Text(filter.process_name.as_deref()),
        ];
        map_all(self.query("read logs", &sql, &args).await?, rows::log_row)
    }

    async fn execute_sql(&self, sql: &str) -> StoreResult<u64> {
        self.execute(sql).await
    }

    async fn query_i64(&self, sql: &str) -> StoreResult<Option<i64>> {
        match self.query("query", sql, &[]).await?.first() {
            Some(row) => row.int(0),
            None => Ok(None),
        }
    }

    async fn wait_for_work(&self, timeout: Duration) -> StoreResult<()> {
        Engine::wait_for_work(self, timeout).await
    }

    // ---- steering (V40..V44) ----

    async fn run_task_now(&self, task_name: &str, force: bool) -> StoreResult<Registered> {
        let args = [Arg::Text(Some(task_name)), Arg::Bool(force)];
        rows::registered(&first(self.call("RunTaskNow", &args).await?, "RunTaskNow")?)
    }

    async fn set_task_enabled(
        &self,
        task_name: &str,
        enabled: bool,
        trigger_index: Option<i32>,
    ) -> StoreResult<TaskEnabled> {
        let args = [
            Arg::Text(Some(task_name)),
            Arg::Bool(enabled),
            Arg::Int(trigger_index),
        ];
        rows::task_enabled(&first(
            self.call("SetTaskEnabled", &args).await?,
            "SetTaskEnabled",
        )?)
    }

    async fn set_min_log_level(&self, level: LogLevel) -> StoreResult<MinLogLevelChange> {
        let args = [Arg::Text(Some(level.as_str()))];
        let row = first(self.call("SetMinLogLevel", &args).await?, "SetMinLogLevel")?;
        Ok(MinLogLevelChange {
            min_log_level: row.log_level_req(0)?,
            previous_min_log_level: row.log_level_req(1)?,
        })
    }

    async fn log_levels(&self) -> StoreResult<LogLevels> {
        // No row (a DBA deleted it) means Info, as stage.LogKept reads it.
        let database = match self
            .query(
                "read the minimum log level",
                "SELECT MinLogLevel FROM stage.LogPolicy WHERE PolicyID = 1",
                &[],
            )
            .await?
            .first()
        {
            Some(row) => row.log_level_req(0)?,
            None => LogLevel::Info,
        };
        let tasks = map_all(
            self.query(
                "read the tasks' log levels",
                "SELECT TaskName, MinLogLevel FROM stage.Task WHERE MinLogLevel IS NOT NULL ORDER BY TaskName",
                &[],
            )
            .await?,
            |row| {
                Ok(TaskLogLevel {
                    task_name: row.text_req(0)?,
                    min_log_level: row.log_level_req(1)?,
                })
            },
        )?;
        Ok(LogLevels { database, tasks })
    }

    async fn cancel_process(&self, process_id: i64) -> StoreResult<Cancellation> {
        let args = [Arg::BigInt(Some(process_id))];
        rows::cancellation(&first(
            self.call("CancelProcess", &args).await?,
            "CancelProcess",
        )?)
    }

    async fn retry_process(&self, process_id: i64) -> StoreResult<Registered> {
        let args = [Arg::BigInt(Some(process_id))];
        rows::registered(&first(
            self.call("RetryProcess", &args).await?,
            "RetryProcess",
        )?)
    }

    // ---- Operator status: per-task status and history, live drivers ----

    async fn task_status(&self) -> StoreResult<Vec<TaskStatusRow>> {
        let sql = format!("SELECT {TASK_STATUS_COLUMNS} FROM stage.TaskStatus ORDER BY TaskName");
        map_all(
            self.query("TaskStatus", &sql, &[]).await?,
            rows::task_status_row,
        )
    }

    async fn task_history(&self, task_name: &str, limit: i64) -> StoreResult<Vec<TaskRun>> {
        // Each part is limited before the union, so every part is a seek on the name that
        // stops after `limit` rows: active runs through IX_FileControl_Active, finished ones
        // through IX_FileControl_NameFinished and its history twin (V32).
        let limit = limit.max(1);
        let fetch = format!("OFFSET 0 ROWS FETCH NEXT {limit} ROWS ONLY");
        let finished = "Status IN ('Completed', 'Failed', 'Cancelled') AND EndTime IS NOT NULL";
        let sql = format!(
            "SELECT {TASK_RUN_COLUMNS}, InHistory FROM ( \
               SELECT * FROM (SELECT {TASK_RUN_COLUMNS}, 0 AS InHistory FROM stage.FileControl \
                 WHERE ProcessName = $1 AND Status IN ('Pending', 'InProgress') \
                 ORDER BY ProcessID DESC {fetch}) AS a \
               UNION ALL \
               SELECT * FROM (SELECT {TASK_RUN_COLUMNS}, 0 AS InHistory FROM stage.FileControl \
                 WHERE ProcessName = $1 AND {finished} ORDER BY EndTime DESC, ProcessID DESC {fetch}) AS b \
               UNION ALL \
               SELECT * FROM (SELECT {TASK_RUN_COLUMNS}, 1 AS InHistory FROM stage.FileControl_History \
                 WHERE ProcessName = $1 AND {finished} ORDER BY EndTime DESC, ProcessID DESC {fetch}) AS c \
             ) AS r \
             ORDER BY CASE WHEN EndTime IS NULL THEN 0 ELSE 1 END, EndTime DESC, ProcessID DESC {fetch}"
        );
        let found = self
            .query("task history", &sql, &[Arg::Text(Some(task_name))])
            .await?;
        map_all(found, rows::task_run)
    }

    async fn driver_heartbeat(&self, p: &DriverPresence, state: DriverState) -> StoreResult<()> {
        let args = [
            Arg::Text(Some(&p.driver_name)),
            Arg::Text(p.host_name.as_deref()),
            Arg::Int(p.process_id),
            Arg::Text(p.version.as_deref()),
            Arg::Int(Some(p.workers)),
            Arg::Bool(p.clock_enabled),
            Arg::Int(Some(p.lease_seconds)),
            Arg::Text(Some(state.as_str())),
        ];
        self.call("DriverHeartbeat", &args).await?;
        Ok(())
    }

    async fn drivers(&self) -> StoreResult<Vec<DriverRow>> {
        let sql = format!("SELECT {DRIVER_COLUMNS} FROM stage.DriverStatus ORDER BY DriverName");
        map_all(
            self.query("DriverStatus", &sql, &[]).await?,
            rows::driver_row,
        )
    }

    async fn processes(&self, filter: &ProcessFilter) -> StoreResult<Vec<ProcessRow>> {
        // Every filter is a parameter that may be NULL, as in `logs`: one prepared statement.
        let sql = format!(
            "SELECT {PROCESS_COLUMNS} FROM stage.FileControl \
             WHERE ($1 IS NULL OR Status = $1) AND ($2 IS NULL OR ProcessName = $2) \
             AND ($3 IS NULL OR CreatedAt >= $3) AND ($4 IS NULL OR CreatedAt < $4) \
             ORDER BY ProcessID {} OFFSET 0 ROWS FETCH NEXT {} ROWS ONLY",
            if filter.oldest_first { "ASC" } else { "DESC" },
            filter.limit.max(1)
        );
        let args = [
            Arg::Text(filter.status.map(ProcessStatus::as_str)),
            Arg::Text(filter.process_name.as_deref()),
            Arg::Instant(filter.created_since),
            Arg::Instant(filter.created_until),
        ];
        map_all(
            self.query("list processes", &sql, &args).await?,
            rows::process_row,
        )
    }

    async fn finished_per_hour(
        &self,
        until: DateTime<Utc>,
        hours: u32,
    ) -> StoreResult<Vec<HourlyOutcome>> {
        // One range per hour, bound as parameters: each part seeks IX_FileControl_Finished
        // (its Status filter is repeated), and no date arithmetic differs between engines.
        let end = until
            .duration_trunc(chrono::TimeDelta::hours(1))
            .map_err(|e| StoreError::protocol("finished per hour", e.to_string()))?
            + chrono::TimeDelta::hours(1);
        let hours = hours.clamp(1, 168) as usize;
        let bounds: Vec<DateTime<Utc>> = (0..=hours)
            .map(|i| end - chrono::TimeDelta::hours((hours - i) as i64))
            .collect();
        let parts: Vec<String> = (0..hours)
            .map(|i| {
                format!(
                    "SELECT {i} AS Bucket, Status, COUNT(*) AS N FROM stage.FileControl \
                     WHERE Status IN ('Completed', 'Failed', 'Cancelled') \
                     AND EndTime >= ${} AND EndTime < ${} GROUP BY Status",
                    i + 1,
                    i + 2
                )
            })
            .collect();
        let sql = parts.join(" UNION ALL ");
        let args: Vec<Arg> = bounds.iter().map(|b| Arg::Instant(Some(*b))).collect();
        let found = self.query("finished per hour", &sql, &args).await?;
        map_all(found, |row| {
            let bucket = usize::try_from(row.i64_req(0)?)
                .ok()
                .filter(|b| *b < hours)
                .ok_or_else(|| StoreError::protocol("finished per hour", "bucket out of range"))?;
            Ok(HourlyOutcome {
                hour_start: bounds[bucket],
                status: row.status_req(1)?,
                process_count: row.i64_req(2)?,
            })
        })
    }

    async fn claim_notifications(
        &self,
        claim: &NotificationClaim<'_>,
    ) -> StoreResult<Vec<PendingNotification>> {
        let args = [
            Arg::Text(Some(claim.driver_name)),
            Arg::Int(Some(claim.max_count)),
            Arg::Int(Some(claim.lease_seconds)),
            Arg::Bool(claim.webhooks),
            Arg::Bool(claim.emails),
        ];
        map_all(
            self.call("ClaimNotifications", &args).await?,
            notifications::pending_notification,
        )
    }

    async fn complete_notification(
        &self,
        outcome: &NotificationOutcome<'_>,
    ) -> StoreResult<NotificationCompleted> {
        let args = [
            Arg::BigInt(Some(outcome.notification_id)),
            Arg::Text(Some(outcome.driver_name)),
            Arg::Int(Some(outcome.attempt)),
            Arg::Bool(outcome.result.is_ok()),
            Arg::Text(outcome.result.err()),
            Arg::Int(Some(outcome.max_attempts)),
            Arg::Int(Some(outcome.retry_delay_seconds)),
        ];
        notifications::notification_completed(&first(
            self.call("CompleteNotification", &args).await?,
            "CompleteNotification",
        )?)
    }

    async fn stage_roles(&self) -> StoreResult<StageRoles> {
        // Built-in functions only: a login without a stage role has no right on the
        // schema, so a stage routine could not tell it apart from a missing schema.
        let sql = match Engine::kind(self) {
            BackendKind::Postgres => {
                "SELECT pg_has_role('stage_reader', 'MEMBER'), \
                 pg_has_role('stage_submitter', 'MEMBER'), pg_has_role('stage_admin', 'MEMBER')"
            }
            // IS_ROLEMEMBER counts Windows groups too; NULL (no such role) is not a member.
            BackendKind::SqlServer => {
                "SELECT CAST(CASE WHEN IS_ROLEMEMBER(N'stage_reader') = 1 THEN 1 ELSE 0 END AS bit), \
                 CAST(CASE WHEN IS_ROLEMEMBER(N'stage_submitter') = 1 THEN 1 ELSE 0 END AS bit), \
                 CAST(CASE WHEN IS_ROLEMEMBER(N'stage_admin') = 1 OR IS_ROLEMEMBER(N'db_owner') = 1 \
                 THEN 1 ELSE 0 END AS bit)"
            }
        };
        let row = first(self.query("stage roles", sql, &[]).await?, "stage roles")?;
        Ok(StageRoles {
            reader: row.bool_req(0)?,
            submitter: row.bool_req(1)?,
            admin: row.bool_req(2)?,
        })
    }
}
