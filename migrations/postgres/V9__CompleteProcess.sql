-- stage.CompleteProcess: single completion for callers that finish one run at a time.
-- It checks its own arguments (so errors name them) and hands a one-element array to
-- stage.CompleteProcesses, where the completion logic lives.
CREATE OR REPLACE FUNCTION stage.CompleteProcess(
    p_process_id  bigint,
    p_worker_name text,
    p_status      varchar DEFAULT 'Completed',
    p_exit_code   integer DEFAULT NULL,
    p_message     text DEFAULT NULL,
    p_attempt     integer DEFAULT NULL)
RETURNS TABLE (
    ProcessID bigint,
    Accepted  boolean,
    Status    varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_process_id IS NULL THEN
        RAISE EXCEPTION 'ProcessID must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_worker_name IS NULL OR btrim(p_worker_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'WorkerName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF p_status IS NULL OR p_status NOT IN ('Completed', 'Failed', 'Cancelled') THEN
        RAISE EXCEPTION 'Status must be one of Completed, Failed, Cancelled' USING ERRCODE = '22023';
    END IF;

    RETURN QUERY
    SELECT * FROM stage.CompleteProcesses(
        jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
            'processId', p_process_id,
            'workerName', p_worker_name,
            'status', p_status,
            'exitCode', p_exit_code,
            'message', p_message,
            'attempt', p_attempt)))::text);
END;
$$;
