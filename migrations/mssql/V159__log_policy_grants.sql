-- stagehand: grants for the minimum log level (V154..V158): anyone who reads the queue may
-- see the level; only stage_admin sets it.
GRANT SELECT ON stage.LogPolicy TO stage_reader;
GRANT EXECUTE ON stage.SetMinLogLevel TO stage_admin;
