-- V61 (issue 12): stage.SaveTasks as in V25, admitting recurrence 'driverStart' (V60);
-- nothing else changed. Whoever redefines SaveTasks later starts from this version.
-- stage.SaveTasks: creates or updates several tasks with their triggers in one transaction
-- (stagehand task import, task add/update). Each task goes through stage.SaveTaskCore (V31),
-- so SaveTask's rules check it; an error comes back naming the element (Tasks[2].overlapPolicy
-- ...) and writes nothing. Triggers are reconciled by TriggerIndex: an unchanged Definition
-- keeps its row and what the clock recorded on it (LastFiredFor, CreatedAt).
CREATE OR REPLACE FUNCTION stage.SaveTasks(
    p_tasks text)
RETURNS TABLE (
    TaskID   integer,
    TaskName varchar,
    Created  boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_tasks    json;  -- not jsonb: numbers keep their text as written (1e2 is not an integer here)
    v_error    text;
    v_trigger  record;
    v_task     record;
    v_saved    record;
    v_json     json;
    v_ordinals bigint[] := '{}';
    v_task_ids integer[] := '{}';
    v_created  boolean[] := '{}';
BEGIN
    BEGIN
        v_tasks := p_tasks::json;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'Tasks is not valid JSON' USING ERRCODE = '22023';
    END;
    -- Valid JSON is an object or an array (what ISJSON accepts on SQL Server); a scalar is not.
    IF json_typeof(v_tasks) NOT IN ('object', 'array') THEN
        RAISE EXCEPTION 'Tasks is not valid JSON' USING ERRCODE = '22023';
    END IF;
    IF v_tasks IS NULL OR json_typeof(v_tasks) = 'object' THEN
        RAISE EXCEPTION 'Tasks must be a JSON array of task objects' USING ERRCODE = '22023';
    END IF;

    -- 1. JSON types of the elements and their keys, a task's own before its triggers'
    -- (elements numbered from 0, as in JSON paths). A key that is absent or null takes
    -- SaveTask's default.
    SELECT el.subject || p.problem INTO v_error
    FROM (SELECT format('Tasks[%s]', e.i - 1) AS subject, 1 AS kind, e.item, e.i, 0::bigint AS j
          FROM json_array_elements(v_tasks) WITH ORDINALITY AS e(item, i)
          UNION ALL
          SELECT format('Tasks[%s].triggers[%s]', e.i - 1, g.j - 1), 2, g.item, e.i, g.j
          FROM json_array_elements(v_tasks) WITH ORDINALITY AS e(item, i)
          CROSS JOIN LATERAL json_array_elements(
              CASE WHEN json_typeof(e.item -> 'triggers') = 'array' THEN e.item -> 'triggers' ELSE '[]' END)
              WITH ORDINALITY AS g(item, j)) AS el
    CROSS JOIN LATERAL (
        SELECT 0 AS pos, ' must be a JSON object' AS problem
        WHERE json_typeof(el.item) <> 'object'
        UNION ALL
        SELECT k.pos, format('.%s must be %s', k.name, k.what)
        FROM (VALUES (1, 1, 'taskName', 'string', 'a string'), (1, 2, 'command', 'string', 'a string'),
                     (1, 3, 'workingDirectory', 'string', 'a string'), (1, 4, 'overlapPolicy', 'string', 'a string'),
                     (1, 5, 'timeoutMinutes', 'number', 'an integer'), (1, 6, 'maxAttempts', 'number', 'an integer'),
                     (1, 7, 'retryDelaySeconds', 'number', 'an integer'), (1, 8, 'executor', 'string', 'a string'),
                     (1, 9, 'enabled', 'boolean', 'true or false'), (1, 10, 'description', 'string', 'a string'),
                     (1, 11, 'arguments', 'string', 'a string'), (1, 12, 'timeZone', 'string', 'a string'),
                     (1, 13, 'runIfMissed', 'boolean', 'true or false'), (1, 14, 'definition', 'string', 'a string'),
                     (1, 15, 'triggers', 'array', 'an array'),
                     (2, 1, 'triggerIndex', 'number', 'an integer'), (2, 2, 'recurrence', 'string', 'a string'),
                     (2, 3, 'enabled', 'boolean', 'true or false'), (2, 4, 'definition', 'string', 'a string'),
                     (2, 5, 'nextFireAt', 'string', 'a string')) AS k(kind, pos, name, type, what)
        WHERE k.kind = el.kind
          AND json_typeof(el.item) = 'object'
          AND json_typeof(el.item -> k.name) <> 'null'
          -- CASE, not OR: the cast must only see integer text
          AND CASE WHEN json_typeof(el.item -> k.name) <> k.type THEN true
                   WHEN k.type <> 'number' THEN false
                   WHEN (el.item ->> k.name) !~ '^-?[0-9]{1,10}$' THEN true
                   ELSE (el.item ->> k.name)::bigint NOT BETWEEN -2147483648 AND 2147483647
              END
    ) AS p
    ORDER BY el.i, el.j, p.pos
    LIMIT 1;

    -- 2. What the triggers hold, one trigger per index (two would make the result depend on
    -- order). One by one: whether a text is JSON or an instant is only known by parsing it.
    IF v_error IS NULL THEN
        FOR v_trigger IN
            SELECT e.i - 1 AS task_no, g.j - 1 AS trigger_no, g.item,
                   row_number() OVER (PARTITION BY e.i, (g.item ->> 'triggerIndex')::integer ORDER BY g.j) AS seen
            FROM json_array_elements(v_tasks) WITH ORDINALITY AS e(item, i)
            CROSS JOIN LATERAL json_array_elements(
                CASE WHEN json_typeof(e.item -> 'triggers') = 'array' THEN e.item -> 'triggers' ELSE '[]' END)
                WITH ORDINALITY AS g(item, j)
            ORDER BY e.i, g.j
        LOOP
            v_json := NULL;
            BEGIN
                v_json := (v_trigger.item ->> 'definition')::json;
            EXCEPTION WHEN data_exception THEN
                NULL;  -- not JSON: reported below
            END;
            v_error := CASE
                WHEN (v_trigger.item ->> 'triggerIndex')::integer IS NULL
                     OR (v_trigger.item ->> 'triggerIndex')::integer < 0
                    THEN 'triggerIndex must be an integer of 0 or more'
                WHEN v_trigger.item ->> 'recurrence' IS NULL
                     OR v_trigger.item ->> 'recurrence' NOT IN ('once', 'minutely', 'daily', 'weekly', 'monthly', 'cron', 'driverStart')
                    THEN 'recurrence must be one of once, minutely, daily, weekly, monthly, cron, driverStart'
                WHEN json_typeof(v_json) IS DISTINCT FROM 'object'
                    THEN 'definition must be a string holding a JSON object'
                -- An offset is required (without one the session's time zone would decide);
                -- the ranges are those SQL Server's datetimeoffset accepts.
                WHEN (v_trigger.item ->> 'nextFireAt')
                     !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$'
                    THEN 'nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
            END;
            IF v_error IS NULL THEN
                BEGIN
                    PERFORM (v_trigger.item ->> 'nextFireAt')::timestamptz;
                EXCEPTION WHEN data_exception THEN
                    v_error := 'nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z';
                END;
            END IF;
            IF v_error IS NULL AND v_trigger.seen > 1 THEN
                v_error := format('triggerIndex %s appears more than once', v_trigger.item ->> 'triggerIndex');
            END IF;
            IF v_error IS NOT NULL THEN
                v_error := format('Tasks[%s].triggers[%s].%s', v_trigger.task_no, v_trigger.trigger_no, v_error);
                EXIT;
            END IF;
        END LOOP;
    END IF;

    -- 3. One element per task.
    IF v_error IS NULL THEN
        SELECT format('Tasks[%s].taskName %s appears more than once', d.i - 1, d.name) INTO v_error
        FROM (SELECT e.i, e.item ->> 'taskName' AS name,
                     row_number() OVER (PARTITION BY e.item ->> 'taskName' ORDER BY e.i) AS n
              FROM json_array_elements(v_tasks) WITH ORDINALITY AS e(item, i)) AS d
        WHERE d.n > 1 AND d.name IS NOT NULL
        ORDER BY d.i
        LIMIT 1;
    END IF;
    IF v_error IS NOT NULL THEN
        RAISE EXCEPTION '%', v_error USING ERRCODE = '22023';
    END IF;

    -- 4. The tasks, through SaveTaskCore. Its problems name SaveTask's parameter
    -- (OverlapPolicy ...); here they name the element's key (Tasks[2].overlapPolicy ...).
    -- The raise undoes the elements saved before. Their trigger rows are locked first, then
    -- the tasks: the order in which FireTrigger takes them (as DeleteTask does).
    PERFORM 1
    FROM stage.TaskTrigger AS g
    JOIN stage.Task AS t ON t.TaskID = g.TaskID
    WHERE t.TaskName IN (SELECT e.item ->> 'taskName' FROM json_array_elements(v_tasks) AS e(item))
    FOR UPDATE OF g;
    FOR v_task IN
        SELECT e.i, e.item
        FROM json_array_elements(v_tasks) WITH ORDINALITY AS e(item, i)
        ORDER BY e.i
    LOOP
        SELECT * INTO v_saved
        FROM stage.SaveTaskCore(
            v_task.item ->> 'taskName',
            v_task.item ->> 'command',
            v_task.item ->> 'workingDirectory',
            COALESCE(v_task.item ->> 'overlapPolicy', 'skip'),
            (v_task.item ->> 'timeoutMinutes')::integer,
            COALESCE((v_task.item ->> 'maxAttempts')::integer, 1),
            COALESCE((v_task.item ->> 'retryDelaySeconds')::integer, 60),
            COALESCE(v_task.item ->> 'executor', 'driver'),
            COALESCE((v_task.item ->> 'enabled')::boolean, true),
            v_task.item ->> 'description',
            v_task.item ->> 'arguments',
            v_task.item ->> 'timeZone',
            COALESCE((v_task.item ->> 'runIfMissed')::boolean, false),
            v_task.item ->> 'definition');
        IF v_saved.p_problem IS NOT NULL THEN
            RAISE EXCEPTION 'Tasks[%].%', v_task.i - 1, lower(left(v_saved.p_problem, 1)) || substr(v_saved.p_problem, 2)
                USING ERRCODE = '22023';
        END IF;
        v_ordinals := v_ordinals || v_task.i;
        v_task_ids := v_task_ids || v_saved.p_task_id;
        v_created  := v_created || v_saved.p_created;
    END LOOP;

    -- 5. Their triggers, all in one statement (the CTEs touch disjoint rows).
    WITH saved AS (
        SELECT s.i, s.TaskID
        FROM unnest(v_ordinals, v_task_ids) AS s(i, TaskID)
    ),
    submitted AS (
        SELECT s.TaskID,
               (g.item ->> 'triggerIndex')::integer AS TriggerIndex,
               g.item ->> 'recurrence' AS Recurrence,
               COALESCE((g.item ->> 'enabled')::boolean, true) AS Enabled,
               g.item ->> 'definition' AS Definition,
               (g.item ->> 'nextFireAt')::timestamptz AS NextFireAt
        FROM saved AS s
        JOIN json_array_elements(v_tasks) WITH ORDINALITY AS e(item, i) ON e.i = s.i
        CROSS JOIN LATERAL json_array_elements(
            CASE WHEN json_typeof(e.item -> 'triggers') = 'array' THEN e.item -> 'triggers' ELSE '[]' END) AS g(item)
    ),
    removed AS (
        DELETE FROM stage.TaskTrigger AS g
        USING saved AS s
        WHERE g.TaskID = s.TaskID
          AND NOT EXISTS (SELECT 1 FROM submitted AS n
                          WHERE n.TaskID = g.TaskID AND n.TriggerIndex = g.TriggerIndex)
    ),
    changed AS (
        UPDATE stage.TaskTrigger AS g
        SET Recurrence   = n.Recurrence,
            Enabled      = n.Enabled,
            NextFireAt   = n.NextFireAt,
            Definition   = n.Definition,
            -- a new definition is a new trigger: it fired for nothing yet, and nothing before now
            LastFiredFor = CASE WHEN g.Definition = n.Definition THEN g.LastFiredFor END,
            CreatedAt    = CASE WHEN g.Definition = n.Definition THEN g.CreatedAt ELSE now() END
        FROM submitted AS n
        WHERE g.TaskID = n.TaskID
          AND g.TriggerIndex = n.TriggerIndex
    )
    INSERT INTO stage.TaskTrigger (TaskID, TriggerIndex, Recurrence, Enabled, Definition, NextFireAt)
    SELECT n.TaskID, n.TriggerIndex, n.Recurrence, n.Enabled, n.Definition, n.NextFireAt
    FROM submitted AS n
    WHERE NOT EXISTS (SELECT 1 FROM stage.TaskTrigger AS g
                      WHERE g.TaskID = n.TaskID AND g.TriggerIndex = n.TriggerIndex)
    ORDER BY n.TaskID, n.TriggerIndex;

    RETURN QUERY
    SELECT s.TaskID, t.TaskName, s.Created
    FROM unnest(v_ordinals, v_task_ids, v_created) AS s(i, TaskID, Created)
    JOIN stage.Task AS t ON t.TaskID = s.TaskID
    ORDER BY s.i;
END;
$$;
