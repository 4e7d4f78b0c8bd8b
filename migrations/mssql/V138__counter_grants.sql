-- stagehand: RollUpCounters is the driver's housekeeping (stage_worker, as
-- ResetStuckProcesses); RecountCounters locks the queue while it counts: stage_admin's.
-- Readers may see the counters themselves, as they see the tables. The views, the
-- trigger and the procedures reach the counters by ownership chaining.
GRANT EXECUTE ON stage.RollUpCounters TO stage_worker;
GRANT EXECUTE ON stage.RecountCounters TO stage_admin;
GRANT SELECT ON stage.ProcessCounter TO stage_reader;
GRANT SELECT ON stage.ProcessCounterTotal TO stage_reader;
