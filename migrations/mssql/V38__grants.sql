-- stagehand: grants for the operator views and the drivers' presence (V32..V37), in the
-- manner of V29. Procedures reach the tables through ownership chaining.
GRANT SELECT ON stage.TaskStatus   TO stage_reader;
GRANT SELECT ON stage.DriverStatus TO stage_reader;
GRANT SELECT ON stage.Driver       TO stage_reader;

-- Every driver runs as stage_worker: it keeps its own stage.Driver row fresh.
GRANT EXECUTE ON stage.DriverHeartbeat TO stage_worker;
