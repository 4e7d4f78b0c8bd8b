-- stage.FireTriggers (V152): many due occurrences in one call (the clock sends those due in
-- the same tick together), each fired exactly as stage.FireTrigger would fire it if the
-- elements came one after another in array order: every element goes through
-- stage.FireTriggerCore (V150), the same rules and the same row per element, with its
-- 0-based Ordinal. Every element is checked before anything is written; bad input names
-- the element (Occurrences[3].triggerId ...) and writes nothing. One transaction: all the
-- firings of a batch commit together.
CREATE OR REPLACE FUNCTION stage.FireTriggers(
    p_occurrences text)
RETURNS TABLE (
    Ordinal    integer,
    Fired      boolean,
    ProcessID  bigint,
    Registered boolean,
    Status     varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    -- YYYY-MM-DDThh:mm:ss[.digits](Z|+hh:mm|-hh:mm): an offset is required, the ranges are
    -- those SQL Server's datetimeoffset accepts (RegisterProcesses' scheduledFor, V120).
    c_instant constant text :=
        '^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$';
    v_items  json;
    v_error  text;
    v_item   record;
    v_parsed record;
BEGIN
    BEGIN
        v_items := p_occurrences::json;
    EXCEPTION WHEN data_exception THEN
        RAISE EXCEPTION 'Occurrences is not valid JSON' USING ERRCODE = '22023';
    END;
    IF json_typeof(v_items) NOT IN ('object', 'array') THEN
        RAISE EXCEPTION 'Occurrences is not valid JSON' USING ERRCODE = '22023';
    END IF;
    IF v_items IS NULL OR json_typeof(v_items) = 'object' THEN
        RAISE EXCEPTION 'Occurrences must be a JSON array of {triggerId, occurrence, nextFireAt, mode, missedCount} objects'
            USING ERRCODE = '22023';
    END IF;

    -- The first problem in array order, in FireTrigger's words for the argument. Absent
    -- keys take FireTrigger's defaults (nextFireAt null, mode run, missedCount 0).
    SELECT format('Occurrences[%s]%s', p.no, p.problem) INTO v_error
    FROM (
        SELECT e.i - 1 AS no,
               CASE
                   WHEN json_typeof(e.item) <> 'object'
                       THEN ' must be a JSON object'
                   WHEN k.unknown IS NOT NULL
                       THEN format('.%s is not a known key (triggerId, occurrence, nextFireAt, mode, missedCount)', k.unknown)
                   WHEN coalesce(json_typeof(e.item -> 'triggerId'), 'null') <> 'number'
                        OR (e.item ->> 'triggerId') !~ '^-?[0-9]{1,10}$'
                       THEN '.triggerId must be an integer'
                   -- a branch of its own: CASE, unlike OR, promises the pattern is checked first
                   WHEN (e.item ->> 'triggerId')::bigint NOT BETWEEN -2147483648 AND 2147483647
                       THEN '.triggerId must be an integer'
                   WHEN coalesce(json_typeof(e.item -> 'occurrence'), 'null') <> 'string'
                        OR (e.item ->> 'occurrence') !~ c_instant
                       THEN '.occurrence must be an RFC 3339 instant such as 2024-12-06T18:00:00Z'
                   WHEN json_typeof(e.item -> 'nextFireAt') NOT IN ('string', 'null')
                        OR (e.item ->> 'nextFireAt') !~ c_instant
                       THEN '.nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
                   WHEN e.item -> 'mode' IS NOT NULL
                        AND (json_typeof(e.item -> 'mode') <> 'string'
                             OR (e.item ->> 'mode') NOT IN ('run', 'late', 'skip'))
                       THEN '.mode must be one of run, late, skip'
                   WHEN e.item -> 'missedCount' IS NOT NULL
                        AND (json_typeof(e.item -> 'missedCount') <> 'number'
                             OR (e.item ->> 'missedCount') !~ '^[0-9]{1,10}$')
                       THEN '.missedCount must be an integer, 0 or more'
                   WHEN (e.item ->> 'missedCount')::bigint > 2147483647
                       THEN '.missedCount must be an integer, 0 or more'
               END AS problem
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
        -- keys compare exactly: a misspelt key is refused rather than ignored
        LEFT JOIN LATERAL (
            SELECT min(j.key) AS unknown
            FROM json_object_keys(CASE WHEN json_typeof(e.item) = 'object' THEN e.item END) AS j(key)
            WHERE j.key NOT IN ('triggerId', 'occurrence', 'nextFireAt', 'mode', 'missedCount')) AS k ON true
    ) AS p
    WHERE p.problem IS NOT NULL
    ORDER BY p.no
    LIMIT 1;
    IF v_error IS NOT NULL THEN
        RAISE EXCEPTION '%', v_error USING ERRCODE = '22023';
    END IF;

    -- The pattern passed; only the conversion knows a real date (no February 30th): an
    -- element that fails it is named before anything is fired.
    FOR v_item IN
        SELECT e.i - 1 AS no, e.item ->> 'occurrence' AS occurrence, e.item ->> 'nextFireAt' AS next
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
        ORDER BY e.i
    LOOP
        BEGIN
            PERFORM v_item.occurrence::timestamptz;
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'Occurrences[%].occurrence must be an RFC 3339 instant such as 2024-12-06T18:00:00Z', v_item.no
                USING ERRCODE = '22023';
        END;
        BEGIN
            PERFORM v_item.next::timestamptz;
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'Occurrences[%].nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z', v_item.no
                USING ERRCODE = '22023';
        END;
    END LOOP;

    FOR v_parsed IN
        SELECT (e.i - 1)::integer AS no,
               (e.item ->> 'triggerId')::integer AS trigger_id,
               (e.item ->> 'occurrence')::timestamptz AS occurrence,
               (e.item ->> 'nextFireAt')::timestamptz AS next_fire_at,
               coalesce(e.item ->> 'mode', 'run')::varchar AS mode,
               coalesce((e.item ->> 'missedCount')::integer, 0) AS missed_count
        FROM json_array_elements(v_items) WITH ORDINALITY AS e(item, i)
        ORDER BY e.i
    LOOP
        RETURN QUERY
        SELECT v_parsed.no, c.Fired, c.ProcessID, c.Registered, c.Status
        FROM stage.FireTriggerCore(v_parsed.trigger_id, v_parsed.occurrence, v_parsed.next_fire_at,
                                   v_parsed.mode, v_parsed.missed_count) AS c;
    END LOOP;
END;
$$;
