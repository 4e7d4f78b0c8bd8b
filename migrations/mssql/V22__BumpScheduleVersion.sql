-- stagehand: stage.BumpScheduleVersion raises stage.ScheduleVersion, so the clock reloads.
-- Called by the triggers of V23 (stage.Task) and V24 (stage.TaskTrigger); granted to
-- nobody: the triggers reach it through ownership chaining.
CREATE OR ALTER PROCEDURE stage.BumpScheduleVersion
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    BEGIN TRY
        UPDATE stage.ScheduleVersion
        SET    Version = Version + 1;
    END TRY
    BEGIN CATCH
        THROW;
    END CATCH;
END;
