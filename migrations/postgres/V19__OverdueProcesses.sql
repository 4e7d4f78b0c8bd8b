-- stage.OverdueProcesses: runs InProgress for longer than their task's TimeoutMinutes
-- (60 when the task sets none or is gone): candidates for a look, or for a kill.
CREATE OR REPLACE VIEW stage.OverdueProcesses AS
SELECT f.ProcessID,
       f.ProcessName,
       f.WorkerAssigned,
       f.StartTime,
       floor(EXTRACT(EPOCH FROM now() - f.StartTime) / 60)::integer AS RunningMinutes,  -- whole minutes
       COALESCE(t.TimeoutMinutes, 60) AS TimeoutMinutes
FROM stage.FileControl AS f
LEFT JOIN stage.Task AS t ON t.TaskID = f.TaskID
WHERE f.Status = 'InProgress'
  AND f.StartTime < now() - make_interval(mins => COALESCE(t.TimeoutMinutes, 60));
