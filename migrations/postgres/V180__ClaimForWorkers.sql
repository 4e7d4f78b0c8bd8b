-- V180: the same claim as V64, its plans no longer following the statistics of the moment.
-- The generic plans were built (per session, and again after every ANALYZE) from whatever
-- the statistics said: after a big delete and an autovacuum ANALYZE the table looks empty
-- until the next one, and a burst of runs registered meanwhile was claimed with plans made
-- for one row: V64's oldest-pending probe walking the primary key through every finished
-- row, or a bitmap scan of every row after it, sorted, then locked (50-100 ms a claim at
-- 20,000 pending, against 1.5-2 ms). Now the function leaves the planner one plan:
-- * the locking scan orders by (Executor, ProcessID) and bounds Executor from both sides,
--   not with =: an equality would make Executor a constant and let the primary key supply
--   the order. Only IX_FileControl_Pending supplies this order, and with sequential and
--   bitmap scans and sorts off, the ordered walk of it that stops after LIMIT rows is the
--   one plan left. The probe goes: this walk never passes a finished row, and as a plain
--   index scan (unlike a bitmap scan) it marks the dead entries it passes so the next
--   walk skips them without reading the table;
-- * the UPDATE is a statement of its own on the locked ids: a join to them could be
--   planned (it was, in a test with such statistics) as a walk of the whole primary key
--   with the ids rescanned for each row, 180 ms; alone, by key and with its status
--   check a parameter (so no partial index's predicate is proved), the primary key's
--   lookup of those ids is its one plan.
-- Nothing a caller sees changed. SQL Server needs no twin: its plans are not per-session
-- generic plans, and its rules are the same (V64 there).
-- Whoever redefines ClaimForWorkers later starts from this version.

-- stage.ClaimForWorkers: the one claim implementation (internal; ClaimProcesses and
-- AssignProcessToWorker call it). It locks runnable rows with FOR UPDATE SKIP LOCKED so
-- concurrent claimers never wait for or double-claim a row, then flips them in order.
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
-- ...and their shape must not depend on the statistics either (V180, above).
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_sort = off
-- The sort that remains (the result's order) carries the planner's cost for a disabled
-- step, which would put the plan over jit_above_cost: compiling it would take longer
-- than running it, at every call.
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_workers jsonb;
    v_ids     bigint[];
    v_pending varchar := 'Pending';
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

    -- Lock first, in one statement of its own: its one plan is the ordered walk of
    -- IX_FileControl_Pending (V180 above). The ids come back oldest first.
    SELECT array_agg(l.ProcessID ORDER BY l.ProcessID) INTO v_ids
    FROM (
        SELECT f.ProcessID
        FROM stage.FileControl AS f
        WHERE f.Status = 'Pending'
          AND f.Executor >= p_executor AND f.Executor <= p_executor  -- = (see V180 above)
          AND f.RunAfter <= now()
          -- serial policies: not while another run of the name is active or older
          AND (f.OverlapPolicy NOT IN ('queue', 'killPrevious')
               OR NOT EXISTS (
                   SELECT 1
                   FROM stage.FileControl AS o
                   WHERE o.ProcessName = f.ProcessName
                     AND o.Status IN ('Pending', 'InProgress')
                     AND (o.Status = 'InProgress' OR o.ProcessID < f.ProcessID)))
        ORDER BY f.Executor, f.ProcessID
        LIMIT jsonb_array_length(v_workers)
        FOR UPDATE OF f SKIP LOCKED
    ) AS l;
    IF v_ids IS NULL THEN
        RETURN;
    END IF;

    -- The k-th oldest locked row goes to the k-th worker. A statement on FileControl
    -- alone, by key: no join for the planner to turn into a scan of the table.
    RETURN QUERY
    WITH claimed AS (
        UPDATE stage.FileControl AS f
        SET Status         = 'InProgress',
            WorkerAssigned = v_workers ->> (array_position(v_ids, f.ProcessID) - 1),
            StartTime      = now(),
            EndTime        = NULL,
            Attempt        = f.Attempt + 1,
            HeartbeatAt    = now(),
            LeaseExpiresAt = now() + make_interval(secs => p_lease_seconds),
            CommandStartedAt = NULL
        WHERE f.ProcessID = ANY (v_ids)
          -- checked again on the row as locked, so the claim never rests on the lock
          -- clause alone. v_pending, not the literal: a parameter proves no partial
          -- index's predicate, so only the primary key can serve this statement.
          AND f.Status = v_pending
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
