-- stage.OverdueProcesses, second version: runs InProgress for longer than their task's
-- TimeoutMinutes (60 when the task sets none or is gone), and now also runs whose lease
-- expired (their driver died or lost the database): those are not running any more, and
-- LeaseExpired says so until ResetStuckProcesses puts them back. The V19 columns are kept.
CREATE OR REPLACE VIEW stage.OverdueProcesses AS
SELECT f.ProcessID,
       f.ProcessName,
       f.WorkerAssigned,
       f.StartTime,
       floor(EXTRACT(EPOCH FROM now() - f.StartTime) / 60)::integer AS RunningMinutes,  -- whole minutes
       COALESCE(t.TimeoutMinutes, 60) AS TimeoutMinutes,
       COALESCE(f.LeaseExpiresAt < now(), false) AS LeaseExpired
FROM stage.FileControl AS f
LEFT JOIN stage.Task AS t ON t.TaskID = f.TaskID
WHERE f.Status = 'InProgress'
  AND (f.StartTime < now() - make_interval(mins => COALESCE(t.TimeoutMinutes, 60))
       OR f.LeaseExpiresAt < now());
