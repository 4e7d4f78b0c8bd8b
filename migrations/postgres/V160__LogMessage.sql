-- V160: the minimum log level (V154..V158) applies to LogMessage too: a row below the
-- level of the process's task (the database's level for none, or a process without a task)
-- is not written, and LogID comes back NULL. Otherwise as V11.
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
DECLARE
    v_log_id bigint;
BEGIN
    IF p_message IS NULL OR btrim(p_message, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'Message must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF p_log_level IS NULL OR p_log_level NOT IN ('Info', 'Warning', 'Error') THEN
        RAISE EXCEPTION 'LogLevel must be one of Info, Warning, Error' USING ERRCODE = '22023';
    END IF;

    INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel, Detail)
    SELECT p_process_id,
           left(p_message, 500),
           p_log_level,
           COALESCE(p_detail, CASE WHEN length(p_message) > 500 THEN p_message END)
    FROM stage.LogKept(p_log_level,
                       (SELECT f.TaskID FROM stage.FileControl AS f WHERE f.ProcessID = p_process_id)) AS k
    RETURNING ProcessLog.LogID INTO v_log_id;

    RETURN QUERY SELECT v_log_id;
END;
$$;
