-- Grants for the trigger clock (V21..V28), in the manner of V20: functions run as their
-- owner and only the roles below may call them. PostgreSQL gives PUBLIC EXECUTE on every
-- new function, so it is taken back here first.
REVOKE ALL ON FUNCTION
    stage.BumpScheduleVersion(),
    stage.SaveTasks(text),
    stage.FireTrigger(integer, timestamptz, timestamptz, varchar, integer),
    stage.UpdateNextFire(text),
    stage.ReleaseProcesses(text, text, text)
    FROM PUBLIC;
REVOKE ALL ON stage.TaskTrigger, stage.ScheduleVersion FROM PUBLIC;

GRANT SELECT ON stage.TaskTrigger TO stage_reader;

-- The driver's clock runs as stage_worker: it fires triggers and records NextFireAt.
GRANT EXECUTE ON FUNCTION
    stage.FireTrigger(integer, timestamptz, timestamptz, varchar, integer),
    stage.UpdateNextFire(text),
    stage.ReleaseProcesses(text, text, text)
    TO stage_worker;
GRANT SELECT ON stage.TaskTrigger, stage.ScheduleVersion TO stage_worker;

GRANT EXECUTE ON FUNCTION stage.SaveTasks(text) TO stage_admin;
