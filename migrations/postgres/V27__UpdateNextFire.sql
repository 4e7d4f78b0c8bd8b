-- stage.UpdateNextFire: the clock records the next occurrence of each trigger after it
-- (re)loaded the schedule, for DBAs to read. Only NextFireAt is written, so
-- stage.ScheduleVersion does not move; unknown trigger ids (deleted meanwhile) are ignored.
CREATE OR REPLACE FUNCTION stage.UpdateNextFire(
    p_triggers text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_items json;  -- not jsonb: numbers keep their text as written (1e2 is not an integer here)
    v_item  record;
    v_error text;
BEGIN
    BEGIN
        v_items := p_triggers::json;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'Triggers is not valid JSON' USING ERRCODE = '22023';
    END;
    -- Valid JSON is an object or an array (what ISJSON accepts on SQL Server); a scalar is not.
    IF json_typeof(v_items) NOT IN ('object', 'array') THEN
        RAISE EXCEPTION 'Triggers is not valid JSON' USING ERRCODE = '22023';
    END IF;
    IF v_items IS NULL OR json_typeof(v_items) = 'object' THEN
        RAISE EXCEPTION 'Triggers must be a JSON array of {triggerId, nextFireAt} objects' USING ERRCODE = '22023';
    END IF;

    -- One by one: whether a text is an instant is only known by parsing it.
    FOR v_item IN
        SELECT e.i - 1 AS no, e.item
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
        ORDER BY e.i
    LOOP
        v_error := CASE
            WHEN json_typeof(v_item.item) <> 'object'
                THEN ' must be a JSON object'
            WHEN json_typeof(v_item.item -> 'triggerId') IS DISTINCT FROM 'number'
                 OR (v_item.item ->> 'triggerId') !~ '^-?[0-9]{1,10}$'
                 OR (v_item.item ->> 'triggerId')::bigint NOT BETWEEN -2147483648 AND 2147483647
                THEN '.triggerId is missing or not an integer'
            -- An offset is required (without one the session's time zone would decide);
            -- the ranges are those SQL Server's datetimeoffset accepts.
            WHEN json_typeof(v_item.item -> 'nextFireAt') NOT IN ('string', 'null')
                 OR (v_item.item ->> 'nextFireAt')
                    !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$'
                THEN '.nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
        END;
        IF v_error IS NULL THEN
            BEGIN
                PERFORM (v_item.item ->> 'nextFireAt')::timestamptz;
            EXCEPTION WHEN data_exception THEN
                v_error := '.nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z';
            END;
        END IF;
        IF v_error IS NOT NULL THEN
            RAISE EXCEPTION 'Triggers[%]%', v_item.no, v_error USING ERRCODE = '22023';
        END IF;
    END LOOP;
    SELECT format('Triggers[%s].triggerId %s appears more than once', d.i - 1, d.id) INTO v_error
    FROM (SELECT e.i, (e.item ->> 'triggerId')::integer AS id,
                 row_number() OVER (PARTITION BY (e.item ->> 'triggerId')::integer ORDER BY e.i) AS n
          FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)) AS d
    WHERE d.n > 1
    ORDER BY d.i
    LIMIT 1;
    IF v_error IS NOT NULL THEN
        RAISE EXCEPTION '%', v_error USING ERRCODE = '22023';
    END IF;

    -- Rows locked in TriggerID order, so two drivers reloading at once cannot deadlock;
    -- rows already right are not rewritten (no lock, no dead row left behind).
    WITH requested AS (
        SELECT (e.item ->> 'triggerId')::integer AS TriggerID,
               (e.item ->> 'nextFireAt')::timestamptz AS NextFireAt
        FROM json_array_elements(v_items) AS e(item)
    ),
    locked AS (
        SELECT g.TriggerID, r.NextFireAt
        FROM stage.TaskTrigger AS g
        JOIN requested AS r ON r.TriggerID = g.TriggerID
        WHERE g.NextFireAt IS DISTINCT FROM r.NextFireAt
        ORDER BY g.TriggerID
        FOR UPDATE OF g
    )
    UPDATE stage.TaskTrigger AS g
    SET NextFireAt = l.NextFireAt
    FROM locked AS l
    WHERE g.TriggerID = l.TriggerID;
END;
$$;
