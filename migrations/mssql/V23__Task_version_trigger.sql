-- stagehand: stage.TR_Task_Version. Any change to a task, by stagehand or by hand in SQL,
-- raises stage.ScheduleVersion so the clock reloads the schedule.
CREATE OR ALTER TRIGGER stage.TR_Task_Version
ON stage.Task
AFTER INSERT, UPDATE, DELETE
AS
BEGIN
    -- First: every other statement resets @@ROWCOUNT. A statement that changed nothing
    -- changed no schedule.
    IF @@ROWCOUNT = 0
        RETURN;
    SET NOCOUNT ON;

    EXEC stage.BumpScheduleVersion;
END;
