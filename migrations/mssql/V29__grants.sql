-- stagehand: grants for the trigger clock (V21..V28), in the manner of V20. Procedures
-- reach the tables through ownership chaining; the version triggers need no grant, and
-- the internal RegisterProcessCore (V30) and SaveTaskCore (V31) are granted to nobody.
GRANT EXECUTE ON stage.SaveTasks TO stage_admin;

-- The driver's clock runs as stage_worker: it fires triggers and records NextFireAt.
GRANT EXECUTE ON stage.FireTrigger      TO stage_worker;
GRANT EXECUTE ON stage.UpdateNextFire   TO stage_worker;
GRANT EXECUTE ON stage.ReleaseProcesses TO stage_worker;
GRANT SELECT ON stage.TaskTrigger       TO stage_worker;
GRANT SELECT ON stage.ScheduleVersion   TO stage_worker;

GRANT SELECT ON stage.TaskTrigger TO stage_reader;
