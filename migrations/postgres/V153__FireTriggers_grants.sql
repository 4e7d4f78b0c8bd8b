-- Grants for stage.FireTriggers (V152): the driver's clock runs as stage_worker, which may
-- call FireTrigger. FireTriggerCore (V150) is internal: no role calls it. PostgreSQL gives
-- PUBLIC EXECUTE on every new function, so it is taken back first.
REVOKE ALL ON FUNCTION stage.FireTriggers(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stage.FireTriggers(text) TO stage_worker;
