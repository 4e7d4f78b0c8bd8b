-- stage.RollUpCounters: folds up to p_batch_size deltas of stage.ProcessCounter into
-- stage.ProcessCounterTotal (one batch per call; the caller calls again until Done). The
-- driver's housekeeping calls it with each reset sweep, so readers sum a few rows. One
-- statement: it deletes the deltas and adds them to the totals atomically, and every
-- reader's statement sees either both or neither (its snapshot). Deltas another rollup
-- holds are skipped; an uncommitted delta is not seen, and waits for the next call.
CREATE OR REPLACE FUNCTION stage.RollUpCounters(
    p_batch_size integer DEFAULT 4000)
RETURNS TABLE (
    RolledUp bigint,
    Done     boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_rolled_up bigint;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 OR p_batch_size > 4000 THEN
        RAISE EXCEPTION 'BatchSize must be between 1 and 4000' USING ERRCODE = '22023';
    END IF;

    WITH taken AS (
        DELETE FROM stage.ProcessCounter AS d
        WHERE d.CounterID IN (SELECT c.CounterID
                              FROM stage.ProcessCounter AS c
                              ORDER BY c.CounterID
                              LIMIT p_batch_size
                              FOR UPDATE SKIP LOCKED)
        RETURNING d.Status, d.PerWorker, d.WorkerAssigned, d.Processes, d.Timed, d.DurationMicros
    ),
    added AS (
        INSERT INTO stage.ProcessCounterTotal AS t
            (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros)
        SELECT x.Status, x.PerWorker, x.WorkerAssigned, sum(x.Processes), sum(x.Timed), sum(x.DurationMicros)
        FROM taken AS x
        GROUP BY x.Status, x.PerWorker, x.WorkerAssigned
        ON CONFLICT (Status, PerWorker, WorkerAssigned) DO UPDATE
            SET Processes      = t.Processes + EXCLUDED.Processes,
                Timed          = t.Timed + EXCLUDED.Timed,
                DurationMicros = t.DurationMicros + EXCLUDED.DurationMicros
        RETURNING 1
    )
    SELECT count(*) INTO v_rolled_up FROM taken;

    RETURN QUERY SELECT v_rolled_up, v_rolled_up < p_batch_size;
END;
$$;
REVOKE ALL ON FUNCTION stage.RollUpCounters(integer) FROM PUBLIC;
