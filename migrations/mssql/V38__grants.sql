-- stagehand: grants for the operator views and the drivers' presence (V32..V37), in the
-- manner of V29.
GRANT SELECT ON stage.TaskStatus TO stage_reader;
