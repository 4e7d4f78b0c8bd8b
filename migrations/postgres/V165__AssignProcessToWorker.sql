-- V165: the minimum log level (V154..V158) applies to the 'Assigned to' rows: each is
-- written only when stage.LogKept keeps an Info row for the run's task. Otherwise as V66
-- (same signature and result, so replaced in place and its grants stay).
-- stage.AssignProcessToWorker: the seed's push model for SSIS / SQL Agent executors.
-- Serialised by pg_advisory_xact_lock(495873779557) (the ASCII bytes of 'stage' read
-- as an integer) so two concurrent runs never hand one free worker two processes.
CREATE OR REPLACE FUNCTION stage.AssignProcessToWorker(
    p_number_of_workers integer)
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
SET lock_timeout = '10s'
AS $$
#variable_conflict use_column
DECLARE
    v_free jsonb;
BEGIN
    IF p_number_of_workers IS NULL OR p_number_of_workers < 0 OR p_number_of_workers > 1000 THEN
        RAISE EXCEPTION 'NumberOfWorkers must be between 0 and 1000' USING ERRCODE = '22023';
    END IF;

    -- Held until the transaction ends, so the next caller sees these assignments.
    PERFORM pg_advisory_xact_lock(495873779557);

    SELECT jsonb_agg('Worker_' || g.n ORDER BY g.n) INTO v_free
    FROM generate_series(1, p_number_of_workers) AS g(n)
    WHERE NOT EXISTS (
        SELECT 1
        FROM stage.FileControl AS f
        WHERE f.Status = 'InProgress'
          AND f.WorkerAssigned = 'Worker_' || g.n);
    IF v_free IS NULL THEN
        RETURN;
    END IF;

    RETURN QUERY
    WITH assigned AS (
        SELECT * FROM stage.ClaimForWorkers('external', v_free::text, NULL)
    ),
    logged AS (
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT a.ProcessID,
               format('Assigned to %s (attempt %s of %s)', a.WorkerAssigned, a.Attempt, a.MaxAttempts),
               'Info'
        FROM assigned AS a
        CROSS JOIN LATERAL stage.LogKept('Info', a.TaskID) AS k
        ORDER BY a.ProcessID
    )
    SELECT a.* FROM assigned AS a ORDER BY a.ProcessID;
END;
$$;
REVOKE ALL ON FUNCTION stage.AssignProcessToWorker(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION stage.AssignProcessToWorker(integer) TO stage_worker;
