-- Grants for the minimum log level (V154..V158): anyone who reads the queue may see the
-- level; only stage_admin sets it. PostgreSQL gives PUBLIC EXECUTE on every new function,
-- so it is taken back first.
GRANT SELECT ON stage.LogPolicy TO stage_reader;
REVOKE ALL ON FUNCTION stage.SetMinLogLevel(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stage.SetMinLogLevel(varchar) TO stage_admin;
