-- stage.TaskStatus: one row per task, what schtasks /query /v or systemctl list-timers
-- show: the next fire time, the last finished run and its outcome, the failures since the
-- last success, the last 24 hours by outcome, and what is running or pending now. Runs
-- belong to a task by name (ProcessName = TaskName), in stage.FileControl and in
-- stage.FileControl_History alike. Every lookup is a seek on the task's name
-- (IX_FileControl_NameFinished and its history twin, V32; IX_FileControl_Active) or on its
-- id (IX_TaskTrigger_Task).
CREATE OR REPLACE VIEW stage.TaskStatus AS
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
       EXTRACT(EPOCH FROM lr.EndTime - lr.StartTime)::float8 AS LastDurationSeconds,
       cf.ConsecutiveFailures,
       d.Completed24h,
       d.Failed24h,
       d.Cancelled24h,
       a.RunningCount,
       a.PendingCount
FROM stage.Task AS t
-- The earliest next occurrence of an enabled trigger, as the clock recorded it; none for a
-- disabled task.
LEFT JOIN LATERAL (
    SELECT min(tt.NextFireAt) AS NextFireAt
    FROM stage.TaskTrigger AS tt
    WHERE tt.TaskID = t.TaskID AND tt.Enabled AND t.Enabled
) AS nf ON true
-- The last finished run: latest EndTime, then highest ProcessID.
LEFT JOIN LATERAL (
    SELECT x.ProcessID, x.Status, x.StartTime, x.EndTime, x.ExitCode
    FROM ((SELECT f.ProcessID, f.Status, f.StartTime, f.EndTime, f.ExitCode
           FROM stage.FileControl AS f
           WHERE f.ProcessName = t.TaskName
             AND f.Status IN ('Completed', 'Failed', 'Cancelled') AND f.EndTime IS NOT NULL
           ORDER BY f.EndTime DESC, f.ProcessID DESC
           LIMIT 1)
          UNION ALL
          (SELECT h.ProcessID, h.Status, h.StartTime, h.EndTime, h.ExitCode
           FROM stage.FileControl_History AS h
           WHERE h.ProcessName = t.TaskName
             AND h.Status IN ('Completed', 'Failed', 'Cancelled') AND h.EndTime IS NOT NULL
           ORDER BY h.EndTime DESC, h.ProcessID DESC
           LIMIT 1)) AS x
    ORDER BY x.EndTime DESC, x.ProcessID DESC
    LIMIT 1
) AS lr ON true
-- The last success, where the count of consecutive failures starts.
LEFT JOIN LATERAL (
    SELECT x.ProcessID, x.EndTime
    FROM ((SELECT f.ProcessID, f.EndTime
           FROM stage.FileControl AS f
           WHERE f.ProcessName = t.TaskName AND f.Status = 'Completed' AND f.EndTime IS NOT NULL
           ORDER BY f.EndTime DESC, f.ProcessID DESC
           LIMIT 1)
          UNION ALL
          (SELECT h.ProcessID, h.EndTime
           FROM stage.FileControl_History AS h
           WHERE h.ProcessName = t.TaskName AND h.Status = 'Completed' AND h.EndTime IS NOT NULL
           ORDER BY h.EndTime DESC, h.ProcessID DESC
           LIMIT 1)) AS x
    ORDER BY x.EndTime DESC, x.ProcessID DESC
    LIMIT 1
) AS ls ON true
-- Failed runs that ended after the last success (all of them when there was none). The
-- EndTime bound is the index range; the row comparison only settles equal end times.
CROSS JOIN LATERAL (
    SELECT count(*)::integer AS ConsecutiveFailures
    FROM (SELECT f.ProcessID
          FROM stage.FileControl AS f
          WHERE f.ProcessName = t.TaskName AND f.Status = 'Failed'
            AND f.EndTime >= COALESCE(ls.EndTime, '-infinity'::timestamptz)
            AND (ls.ProcessID IS NULL OR (f.EndTime, f.ProcessID) > (ls.EndTime, ls.ProcessID))
          UNION ALL
          SELECT h.ProcessID
          FROM stage.FileControl_History AS h
          WHERE h.ProcessName = t.TaskName AND h.Status = 'Failed'
            AND h.EndTime >= COALESCE(ls.EndTime, '-infinity'::timestamptz)
            AND (ls.ProcessID IS NULL OR (h.EndTime, h.ProcessID) > (ls.EndTime, ls.ProcessID))) AS x
) AS cf
-- Runs that ended in the last 24 hours, by outcome.
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(CASE WHEN x.Status = 'Completed' THEN 1 ELSE 0 END), 0)::integer AS Completed24h,
           COALESCE(sum(CASE WHEN x.Status = 'Failed' THEN 1 ELSE 0 END), 0)::integer AS Failed24h,
           COALESCE(sum(CASE WHEN x.Status = 'Cancelled' THEN 1 ELSE 0 END), 0)::integer AS Cancelled24h
    FROM (SELECT f.Status
          FROM stage.FileControl AS f
          WHERE f.ProcessName = t.TaskName
            AND f.Status IN ('Completed', 'Failed', 'Cancelled')
            AND f.EndTime >= now() - interval '24 hours'
          UNION ALL
          SELECT h.Status
          FROM stage.FileControl_History AS h
          WHERE h.ProcessName = t.TaskName
            AND h.Status IN ('Completed', 'Failed', 'Cancelled')
            AND h.EndTime >= now() - interval '24 hours') AS x
) AS d
-- What is running or waiting now.
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE f.Status = 'InProgress')::integer AS RunningCount,
           count(*) FILTER (WHERE f.Status = 'Pending')::integer AS PendingCount
    FROM stage.FileControl AS f
    WHERE f.ProcessName = t.TaskName AND f.Status IN ('Pending', 'InProgress')
) AS a;
