-- stagehand: grants for stage.CompleteAndClaim (V140): workers, who may complete and claim,
-- may do both in one call.
GRANT EXECUTE ON stage.CompleteAndClaim TO stage_worker;
