-- V65: returns ClaimForWorkers' new OutputEncoding column (V63, V64); dropped and
-- created again because its result type changed, with V20's grant; nothing else changed.
-- SQL Server needs no twin: its procedure hands ClaimForWorkers' result set on as it is.
DROP FUNCTION stage.ClaimProcesses(text, integer, integer, text);
-- stage.ClaimProcesses: the driver's pull model. Validates the request, turns it into a
-- list of worker names (the worker, or worker/slot per free slot) and lets
-- stage.ClaimForWorkers claim 'driver' processes with a lease.
CREATE OR REPLACE FUNCTION stage.ClaimProcesses(
    p_worker_name   text,
    p_max_count     integer DEFAULT 1,
    p_lease_seconds integer DEFAULT 60,
    p_slots         text DEFAULT NULL)
RETURNS TABLE (
    ProcessID        bigint,
    ProcessName      varchar,
    WorkerAssigned   varchar,
    TaskID           integer,
    Command          varchar,
    Arguments        text,
    WorkingDirectory varchar,
    Parameters       text,
    Attempt          integer,
    MaxAttempts      integer,
    TimeoutMinutes   integer,
    ScheduledFor     timestamptz,
    LeaseExpiresAt   timestamptz,
    OutputEncoding   varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_slots   json;  -- json, not jsonb: a number label keeps its text as written (1e2, 1.50)
    v_workers jsonb;
BEGIN
    IF p_worker_name IS NULL OR btrim(p_worker_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'WorkerName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_worker_name) > 255 THEN
        RAISE EXCEPTION 'WorkerName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF p_max_count IS NULL OR p_max_count < 1 OR p_max_count > 1000 THEN
        RAISE EXCEPTION 'MaxCount must be between 1 and 1000' USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds < 1 THEN
        RAISE EXCEPTION 'LeaseSeconds must be at least 1' USING ERRCODE = '22023';
    END IF;

    IF p_slots IS NULL THEN
        SELECT jsonb_agg(p_worker_name) INTO v_workers
        FROM generate_series(1, p_max_count);
    ELSE
        BEGIN
            v_slots := p_slots::json;
        EXCEPTION WHEN data_exception THEN
            v_slots := NULL;
        END;
        IF v_slots IS NULL OR json_typeof(v_slots) <> 'array'
           OR EXISTS (SELECT 1 FROM json_array_elements(v_slots) AS s(label)
                      WHERE json_typeof(s.label) NOT IN ('string', 'number') OR s.label #>> '{}' = '') THEN
            RAISE EXCEPTION 'Slots must be a JSON array of slot labels (non-empty strings or numbers)' USING ERRCODE = '22023';
        END IF;
        SELECT jsonb_agg(p_worker_name || '/' || s.label ORDER BY s.k) INTO v_workers
        FROM json_array_elements_text(v_slots) WITH ORDINALITY AS s(label, k)
        WHERE s.k <= p_max_count;
        IF EXISTS (SELECT 1 FROM jsonb_array_elements_text(v_workers) AS w(name) WHERE length(w.name) > 255) THEN
            RAISE EXCEPTION 'Slots: WorkerName/slot is longer than 255 characters' USING ERRCODE = '22023';
        END IF;
    END IF;

    RETURN QUERY
    SELECT * FROM stage.ClaimForWorkers('driver', COALESCE(v_workers, '[]'::jsonb)::text, p_lease_seconds);
END;
$$;
REVOKE ALL ON FUNCTION stage.ClaimProcesses(text, integer, integer, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stage.ClaimProcesses(text, integer, integer, text) TO stage_worker;
