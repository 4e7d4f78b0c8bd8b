-- Grants for stage.CompleteAndClaim (V140): workers, who may complete and claim, may do
-- both in one call. PostgreSQL gives PUBLIC EXECUTE on every new function, so it is taken
-- back first.
REVOKE ALL ON FUNCTION stage.CompleteAndClaim(text, text, integer, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stage.CompleteAndClaim(text, text, integer, integer, text) TO stage_worker;
