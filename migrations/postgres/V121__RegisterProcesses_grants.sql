-- Grants for stage.RegisterProcesses (V120): submitters, who may call RegisterProcess, may
-- register many at once. PostgreSQL gives PUBLIC EXECUTE on every new function, so it is
-- taken back first.
REVOKE ALL ON FUNCTION stage.RegisterProcesses(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stage.RegisterProcesses(text) TO stage_submitter;
