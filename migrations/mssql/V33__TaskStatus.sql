-- stagehand: stage.TaskStatus, one row per task, what schtasks /query /v or systemctl
-- list-timers show: the next fire time, the last finished run and its outcome, the
-- failures since the last success, the last 24 hours by outcome, and what is running or
-- pending now. Runs belong to a task by name (ProcessName = TaskName), in stage.FileControl
-- and in stage.FileControl_History alike. Every lookup is a seek on the task's name
-- (IX_FileControl_NameFinished and its history twin, V32; IX_FileControl_Active) or on its
-- id (IX_TaskTrigger_Task).
CREATE OR ALTER VIEW stage.TaskStatus
AS
SELECT t.TaskID,
       t.TaskName,
       t.Enabled,
       t.TimeZone,
       nf.NextFireAt,
       lr.ProcessID AS LastProcessID,
       lr.Status AS LastStatus,
       lr.StartTime AS LastStartTime,
       lr.EndTime AS LastEndTime,
       lr.ExitCode AS LastExitCode,
       CAST(DATEDIFF_BIG(MILLISECOND, lr.StartTime, lr.EndTime) / 1000.0 AS float) AS LastDurationSeconds,
       cf.ConsecutiveFailures,
       d.Completed24h,
       d.Failed24h,
       d.Cancelled24h,
       a.RunningCount,
       a.PendingCount
FROM stage.Task AS t
-- The earliest next occurrence of an enabled trigger, as the clock recorded it; none for a
-- disabled task.
OUTER APPLY (
    SELECT MIN(tt.NextFireAt) AS NextFireAt
    FROM stage.TaskTrigger AS tt
    WHERE tt.TaskID = t.TaskID AND tt.Enabled = 1 AND t.Enabled = 1
) AS nf
-- The last finished run: latest EndTime, then highest ProcessID.
OUTER APPLY (
    SELECT TOP (1) x.ProcessID, x.Status, x.StartTime, x.EndTime, x.ExitCode
    FROM (SELECT q.ProcessID, q.Status, q.StartTime, q.EndTime, q.ExitCode
          FROM (SELECT TOP (1) f.ProcessID, f.Status, f.StartTime, f.EndTime, f.ExitCode
                FROM stage.FileControl AS f
                WHERE f.ProcessName = t.TaskName
                  AND f.Status IN ('Completed', 'Failed', 'Cancelled') AND f.EndTime IS NOT NULL
                ORDER BY f.EndTime DESC, f.ProcessID DESC) AS q
          UNION ALL
          SELECT r.ProcessID, r.Status, r.StartTime, r.EndTime, r.ExitCode
          FROM (SELECT TOP (1) h.ProcessID, h.Status, h.StartTime, h.EndTime, h.ExitCode
                FROM stage.FileControl_History AS h
                WHERE h.ProcessName = t.TaskName
                  AND h.Status IN ('Completed', 'Failed', 'Cancelled') AND h.EndTime IS NOT NULL
                ORDER BY h.EndTime DESC, h.ProcessID DESC) AS r) AS x
    ORDER BY x.EndTime DESC, x.ProcessID DESC
) AS lr
-- The last success, where the count of consecutive failures starts. (The IN list repeats
-- the filtered index's predicate so that the index matches.)
OUTER APPLY (
    SELECT TOP (1) x.ProcessID, x.EndTime
    FROM (SELECT q.ProcessID, q.EndTime
          FROM (SELECT TOP (1) f.ProcessID, f.EndTime
                FROM stage.FileControl AS f
                WHERE f.ProcessName = t.TaskName
                  AND f.Status IN ('Completed', 'Failed', 'Cancelled') AND f.Status = 'Completed'
                  AND f.EndTime IS NOT NULL
                ORDER BY f.EndTime DESC, f.ProcessID DESC) AS q
          UNION ALL
          SELECT r.ProcessID, r.EndTime
          FROM (SELECT TOP (1) h.ProcessID, h.EndTime
                FROM stage.FileControl_History AS h
                WHERE h.ProcessName = t.TaskName
                  AND h.Status IN ('Completed', 'Failed', 'Cancelled') AND h.Status = 'Completed'
                  AND h.EndTime IS NOT NULL
                ORDER BY h.EndTime DESC, h.ProcessID DESC) AS r) AS x
    ORDER BY x.EndTime DESC, x.ProcessID DESC
) AS ls
-- Failed runs that ended after the last success (all of them when there was none). The
-- EndTime bound is the index range; the rest only settles equal end times.
OUTER APPLY (
    SELECT COUNT(*) AS ConsecutiveFailures
    FROM (SELECT f.ProcessID
          FROM stage.FileControl AS f
          WHERE f.ProcessName = t.TaskName
            AND f.Status IN ('Completed', 'Failed', 'Cancelled') AND f.Status = 'Failed'
            AND f.EndTime >= ISNULL(ls.EndTime, CAST('00010101' AS datetime2(3)))
            AND (ls.ProcessID IS NULL OR f.EndTime > ls.EndTime OR f.ProcessID > ls.ProcessID)
          UNION ALL
          SELECT h.ProcessID
          FROM stage.FileControl_History AS h
          WHERE h.ProcessName = t.TaskName
            AND h.Status IN ('Completed', 'Failed', 'Cancelled') AND h.Status = 'Failed'
            AND h.EndTime >= ISNULL(ls.EndTime, CAST('00010101' AS datetime2(3)))
            AND (ls.ProcessID IS NULL OR h.EndTime > ls.EndTime OR h.ProcessID > ls.ProcessID)) AS x
) AS cf
-- Runs that ended in the last 24 hours, by outcome.
OUTER APPLY (
    SELECT ISNULL(SUM(CASE WHEN x.Status = 'Completed' THEN 1 ELSE 0 END), 0) AS Completed24h,
           ISNULL(SUM(CASE WHEN x.Status = 'Failed' THEN 1 ELSE 0 END), 0) AS Failed24h,
           ISNULL(SUM(CASE WHEN x.Status = 'Cancelled' THEN 1 ELSE 0 END), 0) AS Cancelled24h
    FROM (SELECT f.Status
          FROM stage.FileControl AS f
          WHERE f.ProcessName = t.TaskName
            AND f.Status IN ('Completed', 'Failed', 'Cancelled')
            AND f.EndTime >= DATEADD(HOUR, -24, SYSUTCDATETIME())
          UNION ALL
          SELECT h.Status
          FROM stage.FileControl_History AS h
          WHERE h.ProcessName = t.TaskName
            AND h.Status IN ('Completed', 'Failed', 'Cancelled')
            AND h.EndTime >= DATEADD(HOUR, -24, SYSUTCDATETIME())) AS x
) AS d
-- What is running or waiting now.
OUTER APPLY (
    SELECT ISNULL(SUM(CASE WHEN f.Status = 'InProgress' THEN 1 ELSE 0 END), 0) AS RunningCount,
           ISNULL(SUM(CASE WHEN f.Status = 'Pending' THEN 1 ELSE 0 END), 0) AS PendingCount
    FROM stage.FileControl AS f
    WHERE f.ProcessName = t.TaskName AND f.Status IN ('Pending', 'InProgress')
) AS a;
