-- stagehand: stage.TR_TaskTrigger_Version. Inserts, deletes and updates of what defines a
-- trigger raise stage.ScheduleVersion. The clock's own writes (NextFireAt, LastFiredFor, by
-- FireTrigger and UpdateNextFire) are left out, or every firing would force a reload.
CREATE OR ALTER TRIGGER stage.TR_TaskTrigger_Version
ON stage.TaskTrigger
AFTER INSERT, UPDATE, DELETE
AS
BEGIN
    -- First: every other statement resets @@ROWCOUNT. A statement that changed nothing
    -- changed no schedule.
    IF @@ROWCOUNT = 0
        RETURN;
    SET NOCOUNT ON;

    -- Rows in inserted: an INSERT (every UPDATE() is true then) or an UPDATE; an UPDATE
    -- that set only NextFireAt and LastFiredFor changes no definition.
    IF EXISTS (SELECT 1 FROM inserted)
       AND NOT (UPDATE(TaskID) OR UPDATE(TriggerIndex) OR UPDATE(Recurrence) OR UPDATE(Enabled)
                OR UPDATE([Definition]) OR UPDATE(CreatedAt))
        RETURN;

    EXEC stage.BumpScheduleVersion;
END;
