-- stagehand: stage.EnqueueMissedNotification (internal, granted to nobody): FireTrigger (V74)
-- calls it when an occurrence does not run: skipped as missed while no driver ran (@Mode
-- 'skip'), or refused by the task's overlap policy because an earlier run still goes. One
-- `missed` row per target when the task has OnMissed; nothing otherwise. Runs inside the
-- caller's transaction.
CREATE OR ALTER PROCEDURE stage.EnqueueMissedNotification
    @TaskID      int,
    @Occurrence  datetime2(3),  -- UTC
    @MissedCount int
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;

    INSERT stage.Notification (TaskID, TaskName, Event, Channel, Target, ScheduledFor, MissedCount)
    SELECT n.TaskID, k.TaskName, 'missed', t.Channel, t.Target, @Occurrence, @MissedCount
    FROM stage.TaskNotify AS n
    INNER JOIN stage.Task AS k
            ON k.TaskID = n.TaskID
    INNER JOIN stage.TaskNotifyTarget AS t
            ON t.TaskID = n.TaskID
    WHERE n.TaskID = @TaskID
      AND n.OnMissed = 1
    ORDER BY t.Channel, t.Target;
END;
