-- stagehand: stage.ProcessCounterKey (internal, granted to nobody).
-- What one stage.FileControl row counts for, the one rule TR_FileControl_Count (V132) and
-- stage.RecountCounters (V133) share: its key (PerWorker, WorkerAssigned), whether it has
-- a duration (Timed 0/1) and the duration in microseconds (0 when none or not PerWorker).
CREATE OR REPLACE FUNCTION stage.ProcessCounterKey(
    p_status             varchar,
    p_worker_assigned    varchar,
    p_start_time         timestamptz,
    p_end_time           timestamptz,
    p_command_started_at timestamptz)
RETURNS TABLE (
    PerWorker      boolean,
    WorkerAssigned varchar,
    Timed          integer,
    DurationMicros bigint)
LANGUAGE sql
IMMUTABLE  -- and no SET clause, so that the planner inlines it into the trigger's INSERT
AS $$
    SELECT k.PerWorker,
           CASE WHEN k.PerWorker THEN p_worker_assigned ELSE '' END,
           CASE WHEN k.PerWorker AND d.Micros IS NOT NULL THEN 1 ELSE 0 END,
           CASE WHEN k.PerWorker THEN COALESCE(d.Micros, 0) ELSE 0 END
    FROM (SELECT p_status IN ('Completed', 'Failed', 'Cancelled') AND p_worker_assigned IS NOT NULL AS PerWorker) AS k,
         (SELECT (EXTRACT(EPOCH FROM p_end_time - COALESCE(p_command_started_at, p_start_time)) * 1000000)::bigint
                 AS Micros) AS d
$$;
REVOKE ALL ON FUNCTION stage.ProcessCounterKey(varchar, varchar, timestamptz, timestamptz, timestamptz) FROM PUBLIC;
