-- stagehand: stage.OverdueProcesses, second version: runs InProgress for longer than their
-- task's TimeoutMinutes (60 when the run has no task or the task has none), and now also
-- runs whose lease expired (their driver died or lost the database): those are not running
-- any more, and LeaseExpired says so until ResetStuckProcesses puts them back. The V19
-- columns are kept.
CREATE OR ALTER VIEW stage.OverdueProcesses
AS
SELECT fc.ProcessID,
       fc.ProcessName,
       fc.WorkerAssigned,
       fc.StartTime,
       -- whole minutes elapsed (DATEDIFF(MINUTE) would count minute boundaries instead), int
       -- as on PostgreSQL
       CAST(DATEDIFF_BIG(MILLISECOND, fc.StartTime, SYSUTCDATETIME()) / 60000 AS int) AS RunningMinutes,
       ISNULL(t.TimeoutMinutes, 60) AS TimeoutMinutes,
       CAST(CASE WHEN fc.LeaseExpiresAt < SYSUTCDATETIME() THEN 1 ELSE 0 END AS bit) AS LeaseExpired
FROM stage.FileControl AS fc
LEFT JOIN stage.Task AS t
       ON t.TaskID = fc.TaskID
WHERE fc.Status = 'InProgress'
  -- Added to StartTime, not taken from now: a TimeoutMinutes near the int limit (4,000
  -- years) would take now before year 1 and DATEADD would fail for the whole view.
  AND (   DATEADD(MINUTE, ISNULL(t.TimeoutMinutes, 60), fc.StartTime) < SYSUTCDATETIME()
       OR fc.LeaseExpiresAt < SYSUTCDATETIME());
