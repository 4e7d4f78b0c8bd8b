-- stage.LogMessage: adds one row to stage.ProcessLog for a process (or none). Message is
-- capped at 500 characters to keep the log table narrow; a longer text is kept whole in
-- Detail when the caller gave no Detail of its own.
CREATE OR REPLACE FUNCTION stage.LogMessage(
    p_process_id bigint,
    p_message    text,
    p_log_level  varchar DEFAULT 'Info',
    p_detail     text DEFAULT NULL)
RETURNS TABLE (
    LogID bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_message IS NULL OR btrim(p_message, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'Message must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF p_log_level IS NULL OR p_log_level NOT IN ('Info', 'Warning', 'Error') THEN
        RAISE EXCEPTION 'LogLevel must be one of Info, Warning, Error' USING ERRCODE = '22023';
    END IF;

    RETURN QUERY
    INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel, Detail)
    VALUES (p_process_id,
            left(p_message, 500),
            p_log_level,
            COALESCE(p_detail, CASE WHEN length(p_message) > 500 THEN p_message END))
    RETURNING ProcessLog.LogID;
END;
$$;
