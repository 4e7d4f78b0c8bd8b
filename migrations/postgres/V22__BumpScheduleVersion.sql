-- stage.BumpScheduleVersion: raises stage.ScheduleVersion, so the clock reloads. Called
-- by the statement triggers of V23 (stage.Task) and V24 (stage.TaskTrigger): any change
-- to a task or a trigger's definition, by stagehand or by hand in SQL, is seen.
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
