-- stage.FireTrigger (V151): V74's checks, then stage.FireTriggerCore (V150), which holds
-- V74's firing rules unchanged. Same arguments, same row, same errors.
CREATE OR REPLACE FUNCTION stage.FireTrigger(
    p_trigger_id   integer,
    p_occurrence   timestamptz,
    p_next_fire_at timestamptz DEFAULT NULL,
    p_mode         varchar DEFAULT 'run',
    p_missed_count integer DEFAULT 0)
RETURNS TABLE (
    Fired      boolean,
    ProcessID  bigint,
    Registered boolean,
    Status     varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_trigger_id IS NULL THEN
        RAISE EXCEPTION 'TriggerID must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_occurrence IS NULL THEN
        RAISE EXCEPTION 'Occurrence must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_mode IS NULL OR p_mode NOT IN ('run', 'late', 'skip') THEN
        RAISE EXCEPTION 'Mode must be one of run, late, skip' USING ERRCODE = '22023';
    END IF;
    IF p_missed_count IS NULL OR p_missed_count < 0 THEN
        RAISE EXCEPTION 'MissedCount must be 0 or more' USING ERRCODE = '22023';
    END IF;

    RETURN QUERY
    SELECT c.Fired, c.ProcessID, c.Registered, c.Status
    FROM stage.FireTriggerCore(p_trigger_id, p_occurrence, p_next_fire_at, p_mode, p_missed_count) AS c;
END;
$$;
