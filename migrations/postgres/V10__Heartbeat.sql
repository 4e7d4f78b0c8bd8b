-- stage.Heartbeat: a worker renews the lease of the runs it still holds and learns of
-- cancellation requests (killPrevious). Held = false tells it a run is no longer its
-- own (reset after an expired lease, or finished elsewhere) and should be stopped.
CREATE OR REPLACE FUNCTION stage.Heartbeat(
    p_worker_name   text,
    p_process_ids   text,
    p_lease_seconds integer DEFAULT 60)
RETURNS TABLE (
    ProcessID       bigint,
    Held            boolean,
    CancelRequested boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_ids json;  -- not jsonb: numbers keep their text as written (1e2 is not an integer here)
BEGIN
    IF p_worker_name IS NULL OR btrim(p_worker_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'WorkerName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds < 1 THEN
        RAISE EXCEPTION 'LeaseSeconds must be at least 1' USING ERRCODE = '22023';
    END IF;
    BEGIN
        v_ids := p_process_ids::json;
    EXCEPTION WHEN data_exception THEN
        v_ids := NULL;
    END;
    IF v_ids IS NULL OR json_typeof(v_ids) <> 'array'
       OR EXISTS (SELECT 1 FROM json_array_elements(v_ids) AS e(id)
                  WHERE json_typeof(e.id) <> 'number' OR e.id #>> '{}' !~ '^-?[0-9]{1,18}$') THEN
        RAISE EXCEPTION 'ProcessIDs must be a JSON array of integers' USING ERRCODE = '22023';
    END IF;

    RETURN QUERY
    WITH req AS (
        SELECT (e.id #>> '{}')::bigint AS ProcessID, e.i
        FROM json_array_elements(v_ids) WITH ORDINALITY AS e(id, i)
    ),
    -- Locks in ProcessID order, the order CompleteProcesses locks in: a heartbeat and a
    -- completion of the same worker's processes never deadlock.
    locked AS (
        SELECT f.ProcessID
        FROM stage.FileControl AS f
        WHERE f.ProcessID IN (SELECT r.ProcessID FROM req AS r)
          AND f.Status = 'InProgress'
          -- the worker itself or one of its slots ("worker/slot")
          AND (f.WorkerAssigned = p_worker_name
               OR left(f.WorkerAssigned, length(p_worker_name) + 1) = p_worker_name || '/')
        ORDER BY f.ProcessID
        FOR UPDATE OF f
    ),
    renewed AS (
        UPDATE stage.FileControl AS f
        SET LeaseExpiresAt = now() + make_interval(secs => p_lease_seconds),
            HeartbeatAt    = now()
        FROM locked AS l
        WHERE f.ProcessID = l.ProcessID
        RETURNING f.ProcessID, f.CancelRequested
    )
    SELECT r.ProcessID, h.ProcessID IS NOT NULL, COALESCE(h.CancelRequested, false)
    FROM req AS r
    LEFT JOIN renewed AS h ON h.ProcessID = r.ProcessID
    ORDER BY r.i;
END;
$$;
