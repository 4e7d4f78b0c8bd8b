-- stagehand: stage.TR_Task_Reenabled makes enabling a task mean "from now on": when Enabled
-- goes from 0 to 1 (stage.SetTaskEnabled, stage.SaveTasks, or an UPDATE by hand), the
-- task's enabled triggers get CreatedAt = now, as SaveTasks gives a changed trigger. The
-- clock never fires for occurrences before CreatedAt, so occurrences that passed while the
-- task was disabled neither run nor count as missed.
CREATE OR ALTER TRIGGER stage.TR_Task_Reenabled
ON stage.Task
AFTER UPDATE
AS
BEGIN
    -- First: every other statement resets @@ROWCOUNT.
    IF @@ROWCOUNT = 0
        RETURN;
    SET NOCOUNT ON;
    IF NOT UPDATE(Enabled)
        RETURN;

    UPDATE g
    SET    CreatedAt = SYSUTCDATETIME()
    FROM stage.TaskTrigger AS g
    INNER JOIN inserted AS i
            ON i.TaskID = g.TaskID
    INNER JOIN deleted AS d
            ON d.TaskID = i.TaskID
    WHERE i.Enabled = 1
      AND d.Enabled = 0
      AND g.Enabled = 1;
END;
