-- The statement trigger on stage.Task: any change to a task, by stagehand or by hand in
-- SQL, raises stage.ScheduleVersion (stage.BumpScheduleVersion, V22) so the clock reloads.
CREATE OR REPLACE TRIGGER TR_Task_Version
    AFTER INSERT OR UPDATE OR DELETE ON stage.Task
    FOR EACH STATEMENT
    EXECUTE FUNCTION stage.BumpScheduleVersion();
