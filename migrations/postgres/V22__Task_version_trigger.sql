-- stage.BumpScheduleVersion and the statement trigger on stage.Task: any change to a task,
-- by stagehand or by hand in SQL, raises stage.ScheduleVersion so the clock reloads.
-- SECURITY DEFINER: stage_admin may write stage.Task directly but not the counter.
CREATE OR REPLACE FUNCTION stage.BumpScheduleVersion()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE stage.ScheduleVersion SET Version = Version + 1;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER TR_Task_Version
    AFTER INSERT OR UPDATE OR DELETE ON stage.Task
    FOR EACH STATEMENT
    EXECUTE FUNCTION stage.BumpScheduleVersion();
