-- stagehand: grants for stage.FireTriggers (V152): the driver's clock runs as stage_worker,
-- which may call FireTrigger. FireTriggerCore (V150) is internal and granted to nobody.
GRANT EXECUTE ON stage.FireTriggers TO stage_worker;
