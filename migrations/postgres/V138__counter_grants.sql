-- Created after V20's REVOKE ... ON ALL FUNCTIONS: PUBLIC's default EXECUTE is taken in
-- V132..V135. RollUpCounters is the driver's housekeeping (stage_worker, as
-- ResetStuckProcesses); RecountCounters locks the queue while it counts: stage_admin's.
-- Readers may see the counters themselves, as they see the tables.
GRANT EXECUTE ON FUNCTION stage.RollUpCounters(integer) TO stage_worker;
GRANT EXECUTE ON FUNCTION stage.RecountCounters() TO stage_admin;
GRANT SELECT ON stage.ProcessCounter, stage.ProcessCounterTotal TO stage_reader;
