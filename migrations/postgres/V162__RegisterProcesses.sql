-- V162: the minimum log level (V154..V158): the 'Registered' rows are written only when
-- stage.LogKept keeps them for the element's task (a level above Info writes none, and
-- the set-based insert then costs one table less). Otherwise as V120. (SQL Server's
-- RegisterProcesses goes through RegisterProcessCore, V161, and needs no new version.)
-- stage.RegisterProcesses: many registrations in one call, each exactly as
-- stage.RegisterProcess would register it if the elements came one after another in array
-- order. Most elements go through one set-based INSERT; the few whose rule needs
-- statements of its own (killPrevious, a refusing row gone before it could be read) go
-- through stage.RegisterProcessCore one by one, after it.
CREATE OR REPLACE FUNCTION stage.RegisterProcesses(
    p_processes text)
RETURNS TABLE (
    Ordinal     integer,
    ProcessID   bigint,
    ProcessName varchar,
    Status      varchar,
    Registered  boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_items      json;  -- not jsonb: parameters are stored as written
    v_error      text;
    v_item       record;
    v_names      text[];
    v_params     text[];
    v_sched      timestamptz[];
    v_policy     text[];
    v_id         bigint[];
    v_status     varchar[];
    v_registered boolean[];
    v_notify     boolean;
    v_refused    boolean;  -- the set-based path refused an element
    v_k          integer;
    v_one_id         bigint;
    v_one_status     varchar;
    v_one_registered boolean;
BEGIN
    BEGIN
        v_items := p_processes::json;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'Processes is not valid JSON' USING ERRCODE = '22023';
    END;
    -- Valid JSON is an object or an array (what ISJSON accepts on SQL Server); a scalar is not.
    IF json_typeof(v_items) NOT IN ('object', 'array') THEN
        RAISE EXCEPTION 'Processes is not valid JSON' USING ERRCODE = '22023';
    END IF;
    IF v_items IS NULL OR json_typeof(v_items) = 'object' THEN
        RAISE EXCEPTION 'Processes must be a JSON array of {name, parameters, scheduledFor} objects'
            USING ERRCODE = '22023';
    END IF;

    -- Every element is checked before anything is written; the first problem in array
    -- order is raised, naming the element (0-based) as RegisterProcess names its argument.
    SELECT format('Processes[%s]%s', p.no, p.problem) INTO v_error
    FROM (
        SELECT e.i - 1 AS no,
               CASE
                   WHEN json_typeof(e.item) <> 'object'
                       THEN ' must be a JSON object'
                   WHEN k.unknown IS NOT NULL
                       THEN format('.%s is not a known key (name, parameters, scheduledFor)', k.unknown)
                   WHEN json_typeof(e.item -> 'name') NOT IN ('string', 'null')
                       THEN '.name must be a JSON string'
                   WHEN coalesce(btrim(e.item ->> 'name', E' \t\r\n'), '') = ''
                       THEN '.name must not be NULL or empty'
                   WHEN length(e.item ->> 'name') > 255
                       THEN '.name is longer than 255 characters'
                   WHEN json_typeof(e.item -> 'parameters') NOT IN ('object', 'array', 'null')
                       THEN '.parameters is not valid JSON'
                   -- An offset is required (without one the session's time zone would decide);
                   -- the ranges are those SQL Server's datetimeoffset accepts.
                   WHEN json_typeof(e.item -> 'scheduledFor') NOT IN ('string', 'null')
                        OR (e.item ->> 'scheduledFor')
                           !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$'
                       THEN '.scheduledFor must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
               END AS problem
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
        -- keys compare exactly: a misspelt key is refused rather than ignored
        LEFT JOIN LATERAL (
            SELECT min(j.key) AS unknown
            FROM json_object_keys(CASE WHEN json_typeof(e.item) = 'object' THEN e.item END) AS j(key)
            WHERE j.key NOT IN ('name', 'parameters', 'scheduledFor')) AS k ON true
    ) AS p
    WHERE p.problem IS NOT NULL
    ORDER BY p.no
    LIMIT 1;
    IF v_error IS NOT NULL THEN
        RAISE EXCEPTION '%', v_error USING ERRCODE = '22023';
    END IF;

    -- The pattern passed; only the conversion knows a real date (no February 30th). When it
    -- fails, the elements are converted one by one to name the one that failed.
    BEGIN
        SELECT coalesce(array_agg(e.item ->> 'name' ORDER BY e.i), '{}'),
               coalesce(array_agg(CASE WHEN json_typeof(e.item -> 'parameters') <> 'null'
                                       THEN (e.item -> 'parameters')::text END ORDER BY e.i), '{}'),
               coalesce(array_agg((e.item ->> 'scheduledFor')::timestamptz ORDER BY e.i), '{}')
        INTO v_names, v_params, v_sched
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i);
    EXCEPTION WHEN data_exception THEN
        FOR v_item IN
            SELECT e.i - 1 AS no, e.item ->> 'scheduledFor' AS sched
            FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
            ORDER BY e.i
        LOOP
            BEGIN
                PERFORM v_item.sched::timestamptz;
            EXCEPTION WHEN data_exception THEN
                v_error := format('Processes[%s].scheduledFor must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z', v_item.no);
                EXIT;
            END;
        END LOOP;
        RAISE EXCEPTION '%', coalesce(v_error, SQLERRM) USING ERRCODE = '22023';
    END;

    -- The set-based path: every element whose policy is not killPrevious, inserted in array
    -- order with ProcessIDs drawn in that order, so ids rise with the array and each new row
    -- can be matched to its element. The rules are RegisterProcessCore's, in the same order:
    -- an existing occurrence (ProcessName, ScheduledFor) refuses (UX_FileControl_Occurrence),
    -- then for skip an active row of the name (the NOT EXISTS finds one of any policy, as the
    -- core's look-up does; UX_FileControl_Exclusive catches a concurrent one and an earlier
    -- element of this batch). ON CONFLICT DO NOTHING has both indexes as arbiters, waits for
    -- a concurrent inserter of the same key and then refuses, as the core's insert does.
    WITH req AS (
        SELECT r.ord, r.name, r.params, r.sched, t.TaskID,
               coalesce(t.OverlapPolicy, 'skip')    AS policy,
               coalesce(t.Executor, 'external')     AS executor,
               coalesce(t.MaxAttempts, 3)           AS max_attempts
        FROM unnest(v_names, v_params, v_sched) WITH ORDINALITY AS r(name, params, sched, ord)
        LEFT JOIN stage.Task AS t ON t.TaskName = r.name
    ),
    fresh AS (
        -- ORDER BY in the subquery keeps it from being flattened: nextval runs in array order
        SELECT s.*, nextval('stage.filecontrol_processid_seq'::regclass) AS new_id
        FROM (
            SELECT q.*
            FROM req AS q
            WHERE q.policy <> 'killPrevious'
              AND NOT (q.policy = 'skip'
                       AND EXISTS (SELECT 1
                                   FROM stage.FileControl AS f
                                   WHERE f.ProcessName = q.name
                                     AND f.Status IN ('Pending', 'InProgress')))
            ORDER BY q.ord
        ) AS s
    ),
    -- Rows no unique index can refuse (parallel or queue, no ScheduledFor) skip the
    -- speculative insertion, which costs a fifth more.
    plain AS (
        INSERT INTO stage.FileControl
            (ProcessID, ProcessName, Parameters, TaskID, ScheduledFor, MaxAttempts, OverlapPolicy, Executor)
        OVERRIDING SYSTEM VALUE
        SELECT f.new_id, f.name, f.params, f.TaskID, f.sched, f.max_attempts, f.policy, f.executor
        FROM fresh AS f
        WHERE f.policy IN ('parallel', 'queue') AND f.sched IS NULL
        ORDER BY f.ord
        RETURNING ProcessID, Executor, TaskID
    ),
    guarded AS (
        INSERT INTO stage.FileControl
            (ProcessID, ProcessName, Parameters, TaskID, ScheduledFor, MaxAttempts, OverlapPolicy, Executor)
        OVERRIDING SYSTEM VALUE
        SELECT f.new_id, f.name, f.params, f.TaskID, f.sched, f.max_attempts, f.policy, f.executor
        FROM fresh AS f
        WHERE NOT (f.policy IN ('parallel', 'queue') AND f.sched IS NULL)
        ORDER BY f.ord
        ON CONFLICT DO NOTHING
        RETURNING ProcessID, Executor, TaskID
    ),
    ins AS (
        SELECT p.ProcessID, p.Executor, p.TaskID FROM plain AS p
        UNION ALL
        SELECT g.ProcessID, g.Executor, g.TaskID FROM guarded AS g
    ),
    logged AS (
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT i.ProcessID, 'Registered', 'Info'
        FROM ins AS i
        CROSS JOIN LATERAL stage.LogKept('Info', i.TaskID) AS k
        ORDER BY i.ProcessID
    )
    SELECT array_agg(q.policy ORDER BY q.ord),
           array_agg(i.ProcessID ORDER BY q.ord),
           array_agg(i.ProcessID IS NOT NULL ORDER BY q.ord),
           coalesce(bool_or(i.Executor = 'driver'), false),
           coalesce(bool_or(i.ProcessID IS NULL AND q.policy <> 'killPrevious'), false)
    INTO v_policy, v_id, v_registered, v_notify, v_refused
    FROM req AS q
    LEFT JOIN fresh AS f ON f.ord = q.ord
    LEFT JOIN ins AS i ON i.ProcessID = f.new_id;

    -- The rows that refused the others, read now that this batch's own rows are visible:
    -- the occurrence first, then for skip the oldest active row of the name (the core's
    -- order and choice).
    IF v_refused THEN
        SELECT array_agg(coalesce(u.id, x.ProcessID) ORDER BY u.ord),
               array_agg(CASE WHEN u.id IS NOT NULL THEN 'Pending' ELSE x.Status END ORDER BY u.ord)
        INTO v_id, v_status
        FROM unnest(v_names, v_sched, v_policy, v_id) WITH ORDINALITY AS u(name, sched, policy, id, ord)
        LEFT JOIN LATERAL (
            SELECT c.ProcessID, c.Status
            FROM (
                SELECT 1 AS rank, f.ProcessID, f.Status
                FROM stage.FileControl AS f
                WHERE f.ProcessName = u.name
                  AND f.ScheduledFor = u.sched
                UNION ALL
                (SELECT 2, f.ProcessID, f.Status
                 FROM stage.FileControl AS f
                 WHERE u.policy = 'skip'
                   AND f.ProcessName = u.name
                   AND f.Status IN ('Pending', 'InProgress')
                 ORDER BY f.ProcessID
                 LIMIT 1)
            ) AS c
            ORDER BY c.rank
            LIMIT 1
        ) AS x ON u.id IS NULL AND u.policy <> 'killPrevious';
    ELSE
        v_status := array_fill('Pending'::varchar, ARRAY[cardinality(v_names)]);
    END IF;

    IF v_notify THEN
        -- delivered at commit; wakes drivers that LISTEN instead of polling
        PERFORM pg_notify('stage_process', '');
    END IF;

    -- The rest, one by one through the core in array order: killPrevious elements, and a
    -- refused element whose refusing row finished before it was read (the core then
    -- registers it, as its own retry loop does).
    FOREACH v_k IN ARRAY coalesce(array_positions(v_id, NULL), '{}')
    LOOP
        SELECT c.p_process_id, c.p_status, c.p_registered
        INTO v_one_id, v_one_status, v_one_registered
        FROM stage.RegisterProcessCore(v_names[v_k], v_params[v_k], v_sched[v_k]) AS c;
        v_id[v_k] := v_one_id;
        v_status[v_k] := v_one_status;
        v_registered[v_k] := v_one_registered;
    END LOOP;

    RETURN QUERY
    SELECT (u.ord - 1)::integer, u.id, u.name::varchar, u.status, u.registered
    FROM unnest(v_names, v_id, v_status, v_registered) WITH ORDINALITY AS u(name, id, status, registered, ord)
    ORDER BY u.ord;
END;
$$;
