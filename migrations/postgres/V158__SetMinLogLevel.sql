-- stage.SetMinLogLevel: the database's minimum log level (stage.LogPolicy, V154): Info
-- keeps every log row, Warning drops the Info rows, Error keeps errors only. A task's
-- `minLogLevel` (Task.MinLogLevel) still goes over it for that task's runs. Applies from
-- the next log row any routine writes. Returns the level before and after.
CREATE OR REPLACE FUNCTION stage.SetMinLogLevel(
    p_min_log_level varchar)
RETURNS TABLE (
    MinLogLevel         varchar,
    PreviousMinLogLevel varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_previous varchar(10);
BEGIN
    IF p_min_log_level IS NULL OR p_min_log_level NOT IN ('Info', 'Warning', 'Error') THEN
        RAISE EXCEPTION 'MinLogLevel must be one of Info, Warning, Error' USING ERRCODE = '22023';
    END IF;

    -- The row is locked first, so two concurrent calls each report the level they replaced.
    SELECT p.MinLogLevel INTO v_previous
    FROM stage.LogPolicy AS p
    WHERE p.PolicyID = 1
    FOR UPDATE;
    IF NOT FOUND THEN
        -- A DBA deleted the row: it meant Info; put it back with the new level.
        INSERT INTO stage.LogPolicy (PolicyID, MinLogLevel) VALUES (1, p_min_log_level)
        ON CONFLICT (PolicyID) DO UPDATE SET MinLogLevel = EXCLUDED.MinLogLevel, UpdatedAt = now();
        v_previous := 'Info';
    ELSIF v_previous <> p_min_log_level THEN
        UPDATE stage.LogPolicy AS p
        SET MinLogLevel = p_min_log_level,
            UpdatedAt   = now()
        WHERE p.PolicyID = 1;
    END IF;

    RETURN QUERY SELECT p_min_log_level, v_previous;
END;
$$;
