-- V64: also returns the task's OutputEncoding (V63), how the driver decodes the command's
-- output. A new result column changes the function's type, so it is dropped and created
-- again (ClaimProcesses and AssignProcessToWorker follow in V65, V66); nothing else changed.
-- Whoever redefines ClaimForWorkers later starts from this version.
DROP FUNCTION stage.ClaimForWorkers(varchar, text, integer);
-- stage.ClaimForWorkers: the one claim implementation (internal; ClaimProcesses and
-- AssignProcessToWorker call it). It locks runnable rows with FOR UPDATE SKIP LOCKED so
-- concurrent claimers never wait for or double-claim a row, then numbers and flips them.
-- V51: the UPDATE checks again that each row is still Pending (and runnable), so a changed
-- plan can never claim a row twice; CommandStartedAt is cleared at every claim.
CREATE OR REPLACE FUNCTION stage.ClaimForWorkers(
    p_executor      varchar,
    p_workers       text,
    p_lease_seconds integer DEFAULT NULL)
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
-- Generic plans: run many times a second, the best plan does not depend on the
-- argument values, and re-planning these statements costs more than running them.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    v_workers jsonb;
BEGIN
    IF p_executor IS NULL OR p_executor NOT IN ('driver', 'external') THEN
        RAISE EXCEPTION 'Executor must be one of driver, external' USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds < 1 THEN
        RAISE EXCEPTION 'LeaseSeconds must be NULL or at least 1' USING ERRCODE = '22023';
    END IF;
    BEGIN
        v_workers := p_workers::jsonb;
    EXCEPTION WHEN data_exception THEN
        v_workers := NULL;
    END;
    IF v_workers IS NULL OR jsonb_typeof(v_workers) <> 'array'
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_workers) AS w(name)
                  WHERE jsonb_typeof(w.name) <> 'string' OR w.name #>> '{}' = ''
                     OR length(w.name #>> '{}') > 255) THEN
        RAISE EXCEPTION 'Workers must be a JSON array of non-empty worker names' USING ERRCODE = '22023';
    END IF;
    IF jsonb_array_length(v_workers) = 0 THEN
        RETURN;
    END IF;

    -- Lock first, number after: window functions are not allowed beside FOR UPDATE.
    -- The locking scan walks IX_FileControl_Pending (Executor, ProcessID) oldest first.
    -- The lower bound (an index-only probe of the same index) keeps the scan off the
    -- finished rows in front of the oldest runnable one even when the planner, seeing a
    -- large backlog, prefers walking the primary key.
    RETURN QUERY
    WITH locked AS (
        SELECT f.ProcessID
        FROM stage.FileControl AS f
        WHERE f.Status = 'Pending'
          AND f.Executor = p_executor
          AND f.RunAfter <= now()
          AND f.ProcessID >= (SELECT min(p.ProcessID)
                              FROM stage.FileControl AS p
                              WHERE p.Status = 'Pending'
                                AND p.Executor = p_executor
                                AND p.RunAfter <= now())
          -- serial policies: not while another run of the name is active or older
          AND (f.OverlapPolicy NOT IN ('queue', 'killPrevious')
               OR NOT EXISTS (
                   SELECT 1
                   FROM stage.FileControl AS o
                   WHERE o.ProcessName = f.ProcessName
                     AND o.Status IN ('Pending', 'InProgress')
                     AND (o.Status = 'InProgress' OR o.ProcessID < f.ProcessID)))
        ORDER BY f.ProcessID
        LIMIT jsonb_array_length(v_workers)
        FOR UPDATE OF f SKIP LOCKED
    ),
    numbered AS (
        SELECT l.ProcessID, row_number() OVER (ORDER BY l.ProcessID) AS k
        FROM locked AS l
    ),
    workers AS (
        SELECT w.name, w.k
        FROM jsonb_array_elements_text(v_workers) WITH ORDINALITY AS w(name, k)
    ),
    claimed AS (
        UPDATE stage.FileControl AS f
        SET Status         = 'InProgress',
            WorkerAssigned = w.name,
            StartTime      = now(),
            EndTime        = NULL,
            Attempt        = f.Attempt + 1,
            HeartbeatAt    = now(),
            LeaseExpiresAt = now() + make_interval(secs => p_lease_seconds),
            CommandStartedAt = NULL
        FROM numbered AS n
        JOIN workers AS w ON w.k = n.k
        WHERE f.ProcessID = n.ProcessID
          -- checked again on the row as locked: the claim never rests on the lock clause alone
          AND f.Status = 'Pending'
          AND f.Executor = p_executor
          AND f.RunAfter <= now()
        RETURNING f.ProcessID, f.ProcessName, f.WorkerAssigned, f.TaskID, f.Parameters,
                  f.Attempt, f.MaxAttempts, f.ScheduledFor, f.LeaseExpiresAt
    )
    SELECT c.ProcessID, c.ProcessName, c.WorkerAssigned, c.TaskID, t.Command, t.Arguments,
           t.WorkingDirectory, c.Parameters, c.Attempt, c.MaxAttempts, t.TimeoutMinutes,
           c.ScheduledFor, c.LeaseExpiresAt, t.OutputEncoding
    FROM claimed AS c
    LEFT JOIN stage.Task AS t ON t.TaskID = c.TaskID
    ORDER BY c.ProcessID;
END;
$$;
-- A new function: PUBLIC's default EXECUTE is taken again, as V20 did for the first one.
REVOKE ALL ON FUNCTION stage.ClaimForWorkers(varchar, text, integer) FROM PUBLIC;
