-- stage.RecountCounters: the counters (V130) computed again from stage.FileControl itself:
-- the totals become the rows' counts and every pending delta is dropped, in one
-- transaction that holds a SHARE lock on stage.FileControl (writers wait; readers do not),
-- so no change can be counted twice or missed whatever the triggers wrote before. V134
-- runs it to count the rows a live database already holds; a DBA may run it at any time.
-- Cost: one scan of stage.FileControl, during which claims and completions wait.
CREATE OR REPLACE FUNCTION stage.RecountCounters()
RETURNS TABLE (
    Processes bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_processes bigint;
BEGIN
    -- Taken before anything is read: a writer still running finishes (its deltas
    -- committed) before the lock is granted, and no writer starts until we commit.
    LOCK TABLE stage.FileControl IN SHARE MODE;
    LOCK TABLE stage.ProcessCounterTotal, stage.ProcessCounter IN EXCLUSIVE MODE;
    DELETE FROM stage.ProcessCounter;
    DELETE FROM stage.ProcessCounterTotal;
    INSERT INTO stage.ProcessCounterTotal (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros)
    SELECT f.Status, k.PerWorker, k.WorkerAssigned, count(*), sum(k.Timed), sum(k.DurationMicros)
    FROM stage.FileControl AS f
    CROSS JOIN LATERAL stage.ProcessCounterKey(f.Status, f.WorkerAssigned, f.StartTime, f.EndTime,
                                               f.CommandStartedAt) AS k
    GROUP BY f.Status, k.PerWorker, k.WorkerAssigned;
    SELECT COALESCE(sum(t.Processes), 0)::bigint INTO v_processes FROM stage.ProcessCounterTotal AS t;
    RETURN QUERY SELECT v_processes;
END;
$$;
REVOKE ALL ON FUNCTION stage.RecountCounters() FROM PUBLIC;
