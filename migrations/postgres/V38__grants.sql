-- Grants for the operator views and the drivers' presence (V32..V37), in the manner of V29.
-- (V35 took PUBLIC's default EXECUTE on DriverHeartbeat; V34 revoked PUBLIC on Driver.)
GRANT SELECT ON stage.TaskStatus, stage.DriverStatus, stage.Driver TO stage_reader;

-- Every driver runs as stage_worker: it keeps its own stage.Driver row fresh.
GRANT EXECUTE ON FUNCTION
    stage.DriverHeartbeat(text, text, integer, text, integer, boolean, integer, text)
    TO stage_worker;
