-- V170: the minimum log level (V154..V158) applies to its Warning rows: each is written
-- only when stage.LogKept keeps it for the run's task (the UPDATE also returns TaskID for
-- that). Otherwise as V28.
-- stage.ReleaseProcesses: a driver shutting down hands back the runs it could not finish.
-- Each one it (or one of its slots, "worker/slot") still holds goes back to Pending with
-- its attempt given back: the run was interrupted, not failed. A Warning log row each.
CREATE OR REPLACE FUNCTION stage.ReleaseProcesses(
    p_worker_name text,
    p_process_ids text,
    p_message     text DEFAULT NULL)
RETURNS TABLE (
    ProcessID bigint,
    Released  boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_ids     json;  -- not jsonb: numbers keep their text as written (1e2 is not an integer here)
    -- NULL or only blanks (space, tab, CR, LF): the default text; any other text as given
    v_message text := CASE WHEN btrim(p_message, E' \t\r\n') <> '' THEN p_message
                           ELSE 'Released by driver shutdown' END;
BEGIN
    IF p_worker_name IS NULL OR btrim(p_worker_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'WorkerName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_worker_name) > 255 THEN
        RAISE EXCEPTION 'WorkerName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF length(p_message) > 500 THEN
        RAISE EXCEPTION 'Message is longer than 500 characters' USING ERRCODE = '22023';
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
    -- Locks in ProcessID order, as Heartbeat and CompleteProcesses do: no deadlock with
    -- the driver's own heartbeats while it shuts down.
    locked AS (
        SELECT f.ProcessID
        FROM stage.FileControl AS f
        WHERE f.ProcessID IN (SELECT r.ProcessID FROM req AS r)
          AND f.Status = 'InProgress'
          -- the worker itself or one of its slots ("worker/slot"), as Heartbeat matches them
          AND (f.WorkerAssigned = p_worker_name
               OR left(f.WorkerAssigned, length(p_worker_name) + 1) = p_worker_name || '/')
        ORDER BY f.ProcessID
        FOR UPDATE OF f
    ),
    released AS (
        UPDATE stage.FileControl AS f
        SET Status         = 'Pending',
            WorkerAssigned = NULL,
            StartTime      = NULL,
            LeaseExpiresAt = NULL,
            HeartbeatAt    = NULL,
            Attempt        = GREATEST(f.Attempt - 1, 0)
        FROM locked AS l
        WHERE f.ProcessID = l.ProcessID
        RETURNING f.ProcessID, f.TaskID
    ),
    logged AS (
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT r.ProcessID, v_message, 'Warning'
        FROM released AS r
        CROSS JOIN LATERAL stage.LogKept('Warning', r.TaskID) AS k
        ORDER BY r.ProcessID
    )
    SELECT r.ProcessID, h.ProcessID IS NOT NULL
    FROM req AS r
    LEFT JOIN released AS h ON h.ProcessID = r.ProcessID
    ORDER BY r.i;
END;
$$;
