-- stage.EnqueueMissedNotification (internal, granted to nobody): FireTrigger (V74) calls it
-- when an occurrence does not run: skipped as missed while no driver ran (@Mode 'skip'), or
-- refused by the task's overlap policy because an earlier run still goes. One `missed`
-- row per target when the task has OnMissed; nothing otherwise.
CREATE OR REPLACE FUNCTION stage.EnqueueMissedNotification(
    p_task_id      integer,
    p_occurrence   timestamptz,
    p_missed_count integer)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO stage.Notification (TaskID, TaskName, Event, Channel, Target, ScheduledFor, MissedCount)
    SELECT n.TaskID, k.TaskName, 'missed', t.Channel, t.Target, p_occurrence, p_missed_count
    FROM stage.TaskNotify AS n
    INNER JOIN stage.Task AS k ON k.TaskID = n.TaskID
    INNER JOIN stage.TaskNotifyTarget AS t ON t.TaskID = n.TaskID
    WHERE n.TaskID = p_task_id
      AND n.OnMissed
    ORDER BY t.Channel, t.Target;
END;
$$;

REVOKE ALL ON FUNCTION stage.EnqueueMissedNotification(integer, timestamptz, integer) FROM PUBLIC;
