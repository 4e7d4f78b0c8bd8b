-- stagehand: stage.TR_FileControl_Notify enqueues a run's notifications in the transaction
-- that records its outcome, whatever records it: CompleteProcesses, ResetStuckProcesses (no
-- attempts left), the seed's `UPDATE stage.FileControl SET Status = 'Completed' ...`.
-- Cost: an UPDATE that does not set Status (Heartbeat) returns at the UPDATE() test; one
-- that sets it reads inserted/deleted, and only runs ending Completed or Failed of a task
-- with notify settings (a key seek on stage.TaskNotify) go further.
-- Events: Failed is `failure` when OnFailure, else `consecutiveFailures` when it makes the
-- task's count of failures in a row equal AfterConsecutiveFailures (the Nth only);
-- Completed resets that count and is `success` when OnSuccess. Cancelled is no outcome to
-- notify of. Several outcomes of one task in one statement count in ProcessID order. One
-- stage.Notification row per target, with the run's facts at that moment.
CREATE OR ALTER TRIGGER stage.TR_FileControl_Notify
ON stage.FileControl
AFTER UPDATE
AS
BEGIN
    -- First: every other statement resets @@ROWCOUNT.
    IF @@ROWCOUNT = 0
        RETURN;
    SET NOCOUNT ON;
    IF NOT UPDATE(Status)
        RETURN;

    DECLARE @Outcome TABLE (
        ProcessID    bigint        NOT NULL PRIMARY KEY,
        TaskID       int           NOT NULL,
        ProcessName  nvarchar(255) NOT NULL,
        Status       varchar(20)   NOT NULL,
        Attempt      int           NOT NULL,
        ExitCode     int           NULL,
        StartTime    datetime2(3)  NULL,
        EndTime      datetime2(3)  NULL,
        ScheduledFor datetime2(3)  NULL,
        Position     int           NOT NULL,
        Consecutive  int           NULL,
        Event        varchar(20)   NULL);
    DECLARE @Counts TABLE (TaskID int NOT NULL PRIMARY KEY, Before int NOT NULL);

    INSERT @Outcome (ProcessID, TaskID, ProcessName, Status, Attempt, ExitCode, StartTime, EndTime,
                     ScheduledFor, Position)
    SELECT i.ProcessID, i.TaskID, i.ProcessName, i.Status, i.Attempt, i.ExitCode,
           COALESCE(i.CommandStartedAt, i.StartTime), i.EndTime, i.ScheduledFor,
           ROW_NUMBER() OVER (PARTITION BY i.TaskID ORDER BY i.ProcessID)
    FROM inserted AS i
    INNER JOIN deleted AS d
            ON d.ProcessID = i.ProcessID
    WHERE i.Status IN ('Completed', 'Failed')
      AND d.Status <> i.Status
      AND i.TaskID IS NOT NULL
      AND EXISTS (SELECT 1 FROM stage.TaskNotify AS n WHERE n.TaskID = i.TaskID);
    IF @@ROWCOUNT = 0
        RETURN;

    -- The count of tasks that keep one, locked until the end of the transaction so that
    -- concurrent outcomes of one task count one after the other.
    INSERT @Counts (TaskID, Before)
    SELECT n.TaskID, n.ConsecutiveFailures
    FROM stage.TaskNotify AS n WITH (UPDLOCK, ROWLOCK)
    WHERE n.AfterConsecutiveFailures IS NOT NULL
      AND n.TaskID IN (SELECT o.TaskID FROM @Outcome AS o);

    IF @@ROWCOUNT > 0
    BEGIN
        -- After each outcome: failures since the last Completed one of this statement, or
        -- the stored count plus this statement's failures when none completed.
        WITH Running AS (
            SELECT o.ProcessID, o.TaskID, o.Status, o.Position,
                   SUM(CASE WHEN o.Status = 'Failed' THEN 1 ELSE 0 END)
                       OVER (PARTITION BY o.TaskID ORDER BY o.Position ROWS UNBOUNDED PRECEDING) AS RunFails
            FROM @Outcome AS o
            WHERE o.TaskID IN (SELECT c.TaskID FROM @Counts AS c)),
        Reset AS (
            SELECT r.ProcessID, r.TaskID, r.RunFails,
                   MAX(CASE WHEN r.Status = 'Completed' THEN r.RunFails END)
                       OVER (PARTITION BY r.TaskID ORDER BY r.Position ROWS UNBOUNDED PRECEDING) AS FailsAtReset
            FROM Running AS r)
        UPDATE o
        SET    Consecutive = CASE WHEN s.FailsAtReset IS NULL THEN c.Before + s.RunFails
                                  ELSE s.RunFails - s.FailsAtReset END
        FROM @Outcome AS o
        INNER JOIN Reset AS s
                ON s.ProcessID = o.ProcessID
        INNER JOIN @Counts AS c
                ON c.TaskID = o.TaskID;

        UPDATE n
        SET    ConsecutiveFailures = o.Consecutive
        FROM stage.TaskNotify AS n
        INNER JOIN @Outcome AS o
                ON o.TaskID = n.TaskID
        WHERE o.Consecutive IS NOT NULL
          AND o.Position = (SELECT MAX(x.Position) FROM @Outcome AS x WHERE x.TaskID = o.TaskID);
    END;

    UPDATE o
    SET    Event = CASE
                       WHEN o.Status = 'Failed' AND n.OnFailure = 1 THEN 'failure'
                       WHEN o.Status = 'Failed' AND o.Consecutive = n.AfterConsecutiveFailures THEN 'consecutiveFailures'
                       WHEN o.Status = 'Completed' AND n.OnSuccess = 1 THEN 'success'
                   END
    FROM @Outcome AS o
    INNER JOIN stage.TaskNotify AS n
            ON n.TaskID = o.TaskID;

    INSERT stage.Notification (TaskID, TaskName, ProcessID, Event, Channel, Target, ProcessStatus,
                               ProcessAttempt, ExitCode, StartTime, EndTime, ScheduledFor,
                               ConsecutiveFailures)
    SELECT o.TaskID, o.ProcessName, o.ProcessID, o.Event, t.Channel, t.Target, o.Status,
           o.Attempt, o.ExitCode, o.StartTime, o.EndTime, o.ScheduledFor, o.Consecutive
    FROM @Outcome AS o
    INNER JOIN stage.TaskNotifyTarget AS t
            ON t.TaskID = o.TaskID
    WHERE o.Event IS NOT NULL
    ORDER BY o.ProcessID, t.Channel, t.Target;
END;
