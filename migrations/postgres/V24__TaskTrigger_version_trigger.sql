-- The statement trigger on stage.TaskTrigger: inserts, deletes and updates of what defines
-- a trigger raise stage.ScheduleVersion. The clock's own writes (NextFireAt, LastFiredFor,
-- by FireTrigger and UpdateNextFire) are left out, or every firing would force a reload.
CREATE OR REPLACE TRIGGER TR_TaskTrigger_Version
    AFTER INSERT OR DELETE
       OR UPDATE OF TaskID, TriggerIndex, Recurrence, Enabled, Definition, CreatedAt
    ON stage.TaskTrigger
    FOR EACH STATEMENT
    EXECUTE FUNCTION stage.BumpScheduleVersion();
