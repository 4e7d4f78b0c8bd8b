-- V163: the minimum log level (V154..V158): each log row (the outcome, stdout, stderr, a
-- refusal) is written only when stage.LogKept keeps it for the run's task. And the same
-- rules as V142, the accepting statement's plan fixed as V142 fixed the
-- refusals'. Its generic plans, made while the statistics said the table was nearly empty
-- (after a big delete and an autovacuum ANALYZE), joined the batch by hash to a whole
-- scan of IX_FileControl_InProgress or IX_FileControl_Active (every entry, dead ones
-- included), or updated the rows through a hash join over a sequential scan of the
-- table: 5-11 ms a 10-element batch at 20,000 rows, against 1.1-1.4 ms. Now each row is
-- read by its key, and nothing else is left to the planner:
-- * the lock is a LATERAL probe behind OFFSET 0 whose only conditions are the key, the
--   worker and the attempt: only the primary key serves it;
-- * the UPDATE matches its rows with = ANY (ARRAY[key]), not =: an equality would make
--   the key a join column, and the planner, believing the table empty, walked the whole
--   primary key with the batch rescanned for each row (155 ms in a test with such
--   statistics). It compares the status with the one the lock saw rather than with
--   'InProgress', so no partial index's predicate is proved either;
-- * hash and merge joins, sequential and bitmap scans are off for the function: the
--   joins left are nested loops over a batch's few elements.
-- Rows are still locked in ProcessID order; a row of this worker and attempt that is no
-- longer InProgress is now locked before it is left out (it was left out unlocked), for
-- the rest of the call: nothing else waits on a finished row.
-- SQL Server's V163 has the log change only: it reads each element's row by seek under
-- one locked read already.
-- stage.CompleteProcesses: the one completion implementation (CompleteProcess calls it
-- with a one-element array). Set-based so a driver can finish thousands of runs in a few
-- statements: validate all, lock and update the accepted rows, then log the refusals.
-- V54: an optional startedAt (when the command really started, as the driver saw it) is
-- stored in CommandStartedAt, brought into [StartTime, now] so clocks that disagree never
-- make a duration negative; the UPDATE checks again on the locked row that the run is
-- still this worker's attempt; a retry clears CommandStartedAt with StartTime.
CREATE OR REPLACE FUNCTION stage.CompleteProcesses(
    p_completions text)
RETURNS TABLE (
    ProcessID bigint,
    Accepted  boolean,
    Status    varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Generic plans: run many times a second, the best plan does not depend on the
-- argument values, and re-planning these statements costs more than running them.
SET plan_cache_mode = force_generic_plan
-- ...and their shape must not depend on the statistics either (V163, above).
SET enable_hashjoin = off
SET enable_mergejoin = off
SET enable_seqscan = off
SET enable_bitmapscan = off
-- Disabled steps the planner must still take (none is expected) would put a plan over
-- jit_above_cost: compiling it would take longer than running it, at every call.
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_items    json;  -- not jsonb: numbers keep their text as written (1e2 is not an integer here)
    v_error    text;
    v_error_no bigint;  -- 1-based position of the element v_error names
    v_started  record;
    v_accepted bigint[];
    v_statuses varchar[];
BEGIN
    BEGIN
        v_items := p_completions::json;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'Completions is not valid JSON' USING ERRCODE = '22023';
    END;
    -- Valid JSON is an object or an array (what ISJSON accepts on SQL Server); a scalar is not.
    IF json_typeof(v_items) NOT IN ('object', 'array') THEN
        RAISE EXCEPTION 'Completions is not valid JSON' USING ERRCODE = '22023';
    END IF;
    IF v_items IS NULL OR json_typeof(v_items) = 'object' THEN
        RAISE EXCEPTION 'Completions must be a JSON array of completion objects' USING ERRCODE = '22023';
    END IF;

    -- The first bad element names itself (0-based, as in JSON paths): nothing is written.
    SELECT format('Completions[%s]%s', e.i - 1, v.problem), e.i INTO v_error, v_error_no
    FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
    CROSS JOIN LATERAL (SELECT CASE
        WHEN json_typeof(e.item) <> 'object'
            THEN ' must be a JSON object'
        WHEN json_typeof(e.item -> 'processId') IS DISTINCT FROM 'number'
             OR (e.item ->> 'processId') !~ '^-?[0-9]{1,18}$'
            THEN '.processId is missing or not an integer'
        WHEN json_typeof(e.item -> 'workerName') IS DISTINCT FROM 'string' OR e.item ->> 'workerName' = ''
            THEN '.workerName is missing or empty'
        WHEN e.item ->> 'status' IS NULL OR e.item ->> 'status' NOT IN ('Completed', 'Failed', 'Cancelled')
            THEN '.status must be one of Completed, Failed, Cancelled'
        WHEN json_typeof(e.item -> 'attempt') NOT IN ('number', 'null')
             OR (e.item ->> 'attempt') !~ '^-?[0-9]{1,9}$'
            THEN '.attempt must be an integer'
        WHEN json_typeof(e.item -> 'exitCode') NOT IN ('number', 'null')
             OR (e.item ->> 'exitCode') !~ '^-?[0-9]{1,10}$'
             OR (e.item ->> 'exitCode')::numeric NOT BETWEEN -2147483648 AND 2147483647
            THEN '.exitCode must be a 32-bit integer'
        WHEN json_typeof(e.item -> 'message') NOT IN ('string', 'null')
            THEN '.message must be a string'
        WHEN json_typeof(e.item -> 'stdout') NOT IN ('string', 'null')
            THEN '.stdout must be a string'
        WHEN json_typeof(e.item -> 'stderr') NOT IN ('string', 'null')
            THEN '.stderr must be a string'
        -- An offset is required; the ranges are those SQL Server's datetimeoffset accepts.
        WHEN json_typeof(e.item -> 'startedAt') NOT IN ('string', 'null')
             OR (e.item ->> 'startedAt') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$'
            THEN '.startedAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
        END AS problem) AS v
    WHERE v.problem IS NOT NULL
    ORDER BY e.i
    LIMIT 1;
    -- A startedAt of the right shape may still not be a date (2024-02-30): only parsing
    -- tells. All at once first; element by element only when that fails, to name the first.
    BEGIN
        PERFORM (e.item ->> 'startedAt')::timestamptz
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
        WHERE json_typeof(e.item) = 'object'
          AND (e.item ->> 'startedAt') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$'
          AND (v_error_no IS NULL OR e.i < v_error_no);
    EXCEPTION WHEN data_exception THEN
        FOR v_started IN
            SELECT e.i, e.item ->> 'startedAt' AS txt
            FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
            WHERE json_typeof(e.item) = 'object'
              AND (e.item ->> 'startedAt') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$'
              AND (v_error_no IS NULL OR e.i < v_error_no)
            ORDER BY e.i
        LOOP
            BEGIN
                PERFORM v_started.txt::timestamptz;
            EXCEPTION WHEN data_exception THEN
                v_error := format('Completions[%s].startedAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z',
                                  v_started.i - 1);
                EXIT;
            END;
        END LOOP;
    END;
    IF v_error IS NULL THEN
        -- One element per process: two verdicts for one row in a batch would be ambiguous.
        SELECT format('Completions[%s].processId %s appears more than once', d.i - 1, d.id) INTO v_error
        FROM (SELECT e.i, (e.item ->> 'processId')::bigint AS id,
                     row_number() OVER (PARTITION BY (e.item ->> 'processId')::bigint ORDER BY e.i) AS n
              FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)) AS d
        WHERE d.n > 1
        ORDER BY d.i
        LIMIT 1;
    END IF;
    IF v_error IS NOT NULL THEN
        RAISE EXCEPTION '%', v_error USING ERRCODE = '22023';
    END IF;

    -- Accepted completions. Rows are locked in ProcessID order (no deadlock between
    -- batches); a row changed meanwhile is re-checked by the lock and dropped if no
    -- longer this worker's attempt.
    WITH req AS (
        SELECT e.i AS Ord,
               (e.item ->> 'processId')::bigint AS ProcessID,
               e.item ->> 'workerName' AS WorkerName,
               (e.item ->> 'attempt')::integer AS Attempt,
               e.item ->> 'status' AS Status,
               (e.item ->> 'exitCode')::integer AS ExitCode,
               NULLIF(e.item ->> 'message', '') AS Message,
               NULLIF(e.item ->> 'stdout', '') AS Stdout,
               NULLIF(e.item ->> 'stderr', '') AS Stderr,
               (e.item ->> 'startedAt')::timestamptz AS StartedAt
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
    ),
    target AS (
        SELECT f.ProcessID, f.Status AS LockedStatus, r.Status, r.ExitCode, r.Message,
               r.Stdout, r.Stderr, f.Attempt, f.MaxAttempts, r.WorkerName, r.StartedAt,
               (r.Status = 'Failed' AND f.Attempt < f.MaxAttempts AND NOT f.CancelRequested) AS Retry,
               -- retry k waits RetryDelaySeconds * 2^(k-1), capped at 2^31-1 seconds
               now() + make_interval(secs => LEAST(
                   COALESCE(t.RetryDelaySeconds, 60) * power(2::numeric, f.Attempt - 1),
                   2147483647)::double precision) AS RetryAt
        -- elements in ProcessID order, each row read by its key and locked as it is read
        FROM (SELECT * FROM req ORDER BY ProcessID OFFSET 0) AS r
        CROSS JOIN LATERAL (
            SELECT p.ProcessID, p.Status, p.Attempt, p.MaxAttempts, p.CancelRequested, p.TaskID
            FROM stage.FileControl AS p
            WHERE p.ProcessID = r.ProcessID
              AND p.WorkerAssigned = r.WorkerName
              AND (r.Attempt IS NULL OR r.Attempt = p.Attempt)
            OFFSET 0
            FOR UPDATE) AS f
        LEFT JOIN stage.Task AS t ON t.TaskID = f.TaskID
        WHERE f.Status = 'InProgress'
    ),
    done AS (
        UPDATE stage.FileControl AS f
        SET Status         = CASE WHEN g.Retry THEN 'Pending' ELSE g.Status END,
            WorkerAssigned = CASE WHEN g.Retry THEN NULL ELSE f.WorkerAssigned END,
            StartTime      = CASE WHEN g.Retry THEN NULL ELSE f.StartTime END,
            EndTime        = CASE WHEN g.Retry THEN NULL ELSE now() END,
            RunAfter       = CASE WHEN g.Retry THEN g.RetryAt ELSE f.RunAfter END,
            LeaseExpiresAt = NULL,
            ExitCode       = g.ExitCode,
            -- the driver's clock, kept within [StartTime, now] (GREATEST/LEAST skip NULLs)
            CommandStartedAt = CASE WHEN g.Retry THEN NULL
                                    WHEN g.StartedAt IS NULL THEN f.CommandStartedAt
                                    ELSE GREATEST(f.StartTime, LEAST(g.StartedAt, now())) END
        FROM target AS g
        -- by key for each target row (V163 above: = ANY, not =)
        WHERE f.ProcessID = ANY (ARRAY[g.ProcessID])
          -- checked again on the row as locked: still this worker's attempt (InProgress:
          -- the status the lock saw, compared as a value so no partial index matches)
          AND f.Status = g.LockedStatus
          AND f.WorkerAssigned = g.WorkerName
          AND f.Attempt = g.Attempt
        RETURNING f.ProcessID, f.TaskID, f.Status, f.RunAfter, g.Retry, g.Attempt, g.MaxAttempts,
                  g.Message, g.Stdout, g.Stderr,
                  CASE WHEN g.Retry
                       THEN format('Attempt %s of %s failed; retry %s at %s',
                                   g.Attempt, g.MaxAttempts, g.Attempt,
                                   to_char(f.RunAfter AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                            || COALESCE(': ' || g.Message, '')
                       ELSE COALESCE(g.Message, g.Status) END AS LogText
    ),
    logged AS (
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel, Detail)
        SELECT l.ProcessID, l.Message, l.LogLevel, l.Detail
        FROM (
            SELECT d.ProcessID, d.TaskID, 1 AS Seq, left(d.LogText, 500) AS Message,
                   CASE WHEN d.Retry THEN 'Warning'
                        WHEN d.Status = 'Completed' THEN 'Info'
                        WHEN d.Status = 'Failed' THEN 'Error'
                        ELSE 'Warning' END AS LogLevel,
                   CASE WHEN length(d.LogText) > 500 THEN d.LogText END AS Detail
            FROM done AS d
            UNION ALL
            SELECT d.ProcessID, d.TaskID, 2, 'stdout', 'Info', d.Stdout FROM done AS d WHERE d.Stdout IS NOT NULL
            UNION ALL
            SELECT d.ProcessID, d.TaskID, 3, 'stderr', 'Warning', d.Stderr FROM done AS d WHERE d.Stderr IS NOT NULL
        ) AS l
        CROSS JOIN LATERAL stage.LogKept(l.LogLevel, l.TaskID) AS k
        ORDER BY l.ProcessID, l.Seq
    )
    SELECT array_agg(d.ProcessID), array_agg(d.Status)
    INTO v_accepted, v_statuses
    FROM done AS d;

    -- Every element accepted (ids are unique in a batch, so the counts tell): the
    -- verdicts are the accepted rows, in element order.
    IF COALESCE(array_length(v_accepted, 1), 0) = json_array_length(v_items) THEN
        RETURN QUERY
        SELECT a.ProcessID, true, a.Status
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
        JOIN unnest(v_accepted, v_statuses) AS a(ProcessID, Status)
          ON a.ProcessID = (e.item ->> 'processId')::bigint
        ORDER BY e.i;
        RETURN;
    END IF;

    -- Refusals, in a new statement so they see what made a row change hands meanwhile.
    RETURN QUERY
    WITH req AS (
        SELECT e.i AS Ord,
               (e.item ->> 'processId')::bigint AS ProcessID,
               e.item ->> 'workerName' AS WorkerName,
               (e.item ->> 'attempt')::integer AS Attempt
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
    ),
    accepted AS (
        SELECT a.ProcessID, a.Status
        FROM unnest(v_accepted, v_statuses) AS a(ProcessID, Status)
    ),
    refused AS (
        SELECT r.Ord, r.ProcessID, f.Status, f.TaskID,
               CASE WHEN f.Status <> 'InProgress'
                        THEN format('Completion refused: process is %s (completion from %s)', f.Status, r.WorkerName)
                    WHEN f.WorkerAssigned IS DISTINCT FROM r.WorkerName
                        THEN format('Completion refused: process is assigned to %s, not %s',
                                    COALESCE(f.WorkerAssigned, 'nobody'), r.WorkerName)
                    WHEN r.Attempt <> f.Attempt
                        THEN format('Completion refused: attempt %s from %s is not the current attempt %s',
                                    r.Attempt, r.WorkerName, f.Attempt)
                    ELSE format('Completion refused: process changed concurrently (completion from %s)', r.WorkerName)
               END AS Reason
        FROM req AS r
        -- one key probe per element: OFFSET 0 keeps the subquery from being flattened
        LEFT JOIN LATERAL (SELECT p.Status, p.WorkerAssigned, p.Attempt, p.TaskID
                           FROM stage.FileControl AS p
                           WHERE p.ProcessID = r.ProcessID
                           OFFSET 0) AS f ON true
        WHERE NOT EXISTS (SELECT 1 FROM accepted AS a WHERE a.ProcessID = r.ProcessID)
    ),
    logged AS (
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT x.ProcessID, left(x.Reason, 500), 'Warning'
        FROM refused AS x
        CROSS JOIN LATERAL stage.LogKept('Warning', x.TaskID) AS k
        WHERE x.Status IS NOT NULL
        ORDER BY x.Ord
    )
    SELECT r.ProcessID, a.ProcessID IS NOT NULL, COALESCE(a.Status, x.Status)::varchar
    FROM req AS r
    LEFT JOIN accepted AS a ON a.ProcessID = r.ProcessID
    LEFT JOIN refused AS x ON x.Ord = r.Ord
    ORDER BY r.Ord;
END;
$$;
