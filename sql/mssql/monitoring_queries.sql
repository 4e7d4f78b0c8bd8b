-- stagehand: example queries for a DBA watching the queue (read-only; stage_reader is
-- enough, TableSpace needs stage_admin). Run them one at a time in SSMS or sqlcmd.
-- All times are UTC.

-- 1. How many runs per status.
SELECT s.Status, s.ProcessCount
FROM stage.ProcessStatusSummary AS s
ORDER BY s.Status;

-- 2. The queue: Pending runs per executor, runnable now or waiting for a retry.
SELECT fc.Executor,
       SUM(CASE WHEN fc.RunAfter <= SYSUTCDATETIME() THEN 1 ELSE 0 END) AS RunnableNow,
       SUM(CASE WHEN fc.RunAfter >  SYSUTCDATETIME() THEN 1 ELSE 0 END) AS WaitingForRetry,
       MIN(fc.CreatedAt) AS OldestCreatedAt
FROM stage.FileControl AS fc
WHERE fc.Status = 'Pending'
GROUP BY fc.Executor;

-- 3. What runs now, longest first, with the state of its lease.
SELECT fc.ProcessID,
       fc.ProcessName,
       fc.WorkerAssigned,
       fc.Attempt,
       fc.MaxAttempts,
       fc.StartTime,
       DATEDIFF_BIG(SECOND, fc.StartTime, SYSUTCDATETIME()) / 60 AS RunningMinutes,
       fc.HeartbeatAt,
       fc.LeaseExpiresAt,
       CASE WHEN fc.LeaseExpiresAt < SYSUTCDATETIME() THEN 'expired'
            WHEN fc.LeaseExpiresAt IS NULL THEN 'no lease (external executor)'
            ELSE 'held'
       END AS Lease,
       fc.CancelRequested
FROM stage.FileControl AS fc
WHERE fc.Status = 'InProgress'
ORDER BY fc.StartTime;

-- 4. Runs over their task's timeout (60 minutes when it has none).
SELECT o.ProcessID, o.ProcessName, o.WorkerAssigned, o.StartTime, o.RunningMinutes, o.TimeoutMinutes
FROM stage.OverdueProcesses AS o
ORDER BY o.RunningMinutes DESC;

-- 5. The last 50 errors and warnings, with the run they belong to.
SELECT TOP (50)
       pl.LogTime,
       pl.LogLevel,
       pl.ProcessID,
       fc.ProcessName,
       fc.Status,
       pl.Message,
       LEFT(pl.Detail, 2000) AS DetailStart
FROM stage.ProcessLog AS pl
LEFT JOIN stage.FileControl AS fc
       ON fc.ProcessID = pl.ProcessID
WHERE pl.LogLevel IN ('Error', 'Warning')
ORDER BY pl.LogID DESC;

-- 6. The whole log of one run (set the id).
DECLARE @ProcessID bigint = 1;
SELECT pl.LogID, pl.LogTime, pl.LogLevel, pl.Message, pl.Detail
FROM stage.ProcessLog AS pl
WHERE pl.ProcessID = @ProcessID
ORDER BY pl.LogID;

-- 7. Failure rate per process name over the last 7 days; durations from the command's
--    start when its completion reported it (CommandStartedAt), else from the claim.
SELECT fc.ProcessName,
       COUNT_BIG(*) AS Finished,
       SUM(CASE WHEN fc.Status = 'Failed' THEN 1 ELSE 0 END) AS Failed,
       AVG(CAST(DATEDIFF_BIG(MILLISECOND, COALESCE(fc.CommandStartedAt, fc.StartTime), fc.EndTime) AS float)) / 1000.0
           AS AvgDurationSeconds
FROM stage.FileControl AS fc
WHERE fc.Status IN ('Completed', 'Failed')
  AND fc.EndTime >= DATEADD(DAY, -7, SYSUTCDATETIME())
GROUP BY fc.ProcessName
ORDER BY Failed DESC, fc.ProcessName;

-- 8. Worker throughput and durations.
SELECT w.WorkerAssigned, w.ProcessesDone, w.AvgDurationSeconds, w.MaxDurationSeconds
FROM stage.WorkerStatistics AS w
ORDER BY w.ProcessesDone DESC;

-- 9. Rows and space per stage table (history tables included).
EXEC stage.TableSpace;

-- 10. Per task, as schtasks /query /v shows it: next run, last run and result, failures
-- since the last success, the last 24 hours, what runs now (stage.TaskStatus, V33).
SELECT ts.TaskName, ts.Enabled, ts.NextFireAt, ts.LastStartTime, ts.LastStatus, ts.LastExitCode,
       ts.LastDurationSeconds, ts.ConsecutiveFailures, ts.Completed24h, ts.Failed24h,
       ts.Cancelled24h, ts.RunningCount, ts.PendingCount
FROM stage.TaskStatus AS ts
ORDER BY ts.ConsecutiveFailures DESC, ts.TaskName;

-- 11. The drivers, and whether each is alive (stage.DriverStatus, V36). No live row: no
-- driver work is claimed and no trigger fires.
SELECT ds.DriverName, ds.ProcessId, ds.Version, ds.Workers, ds.ClockEnabled, ds.Stopping,
       ds.Alive, ds.SecondsSinceSeen, ds.StartedAt
FROM stage.DriverStatus AS ds
ORDER BY ds.Alive DESC, ds.DriverName;

-- 12. Runs InProgress only on paper: their lease expired, their driver is gone (V37).
SELECT op.ProcessID, op.ProcessName, op.WorkerAssigned, op.StartTime, op.RunningMinutes
FROM stage.OverdueProcesses AS op
WHERE op.LeaseExpired = 1
ORDER BY op.ProcessID;
