-- stagehand: stage.TR_TaskTrigger_Reenabled makes enabling a trigger mean "from now on":
-- when Enabled goes from 0 to 1 (stage.SetTaskEnabled, stage.SaveTasks, or an UPDATE by
-- hand), CreatedAt becomes now, so occurrences that passed while it was disabled neither run
-- nor count as missed (V45 does the same for a task). Its own update sets only CreatedAt,
-- so it never acts on itself, whatever RECURSIVE_TRIGGERS says.
CREATE OR ALTER TRIGGER stage.TR_TaskTrigger_Reenabled
ON stage.TaskTrigger
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
            ON i.TriggerID = g.TriggerID
    INNER JOIN deleted AS d
            ON d.TriggerID = i.TriggerID
    WHERE i.Enabled = 1
      AND d.Enabled = 0;
END;
