-- V167: the minimum log level (V154..V158) applies to the new run's 'Retry of process'
-- row (Info): written only when stage.LogKept keeps it for the new run's task. Otherwise
-- as V43.
-- stage.RetryProcess: registers a Failed or Cancelled process (in stage.FileControl or
-- already rotated into stage.FileControl_History) again, with the same name and parameters,
-- through stage.RegisterProcessCore (V30): the task's current policy applies and, under
-- skip, a run that is Pending or InProgress refuses it (that row comes back, Registered
-- false). The new run's log says which process it retries. Other statuses are refused
-- (SQLSTATE 55000). ScheduledFor is not copied: a retry is not the trigger's occurrence.
CREATE OR REPLACE FUNCTION stage.RetryProcess(
    p_process_id bigint)
RETURNS TABLE (
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
    v_name       varchar(255);
    v_status     varchar(20);
    v_parameters text;
    v_run        record;
BEGIN
    IF p_process_id IS NULL THEN
        RAISE EXCEPTION 'ProcessID must not be NULL' USING ERRCODE = '22023';
    END IF;

    SELECT f.ProcessName, f.Status, f.Parameters
    INTO v_name, v_status, v_parameters
    FROM stage.FileControl AS f
    WHERE f.ProcessID = p_process_id;
    IF NOT FOUND THEN
        SELECT h.ProcessName, h.Status, h.Parameters
        INTO v_name, v_status, v_parameters
        FROM stage.FileControl_History AS h
        WHERE h.ProcessID = p_process_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ProcessID %: no such process', p_process_id USING ERRCODE = '22023';
        END IF;
    END IF;
    IF v_status NOT IN ('Failed', 'Cancelled') THEN
        RAISE EXCEPTION 'ProcessID % is %: only a Failed or Cancelled process can be retried', p_process_id, v_status
            USING ERRCODE = '55000';
    END IF;

    SELECT * INTO v_run
    FROM stage.RegisterProcessCore(v_name, v_parameters, NULL);
    IF v_run.p_registered THEN
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT v_run.p_process_id,
               format('Retry of process %s (stage.RetryProcess, requested by %s)', p_process_id, session_user),
               'Info'
        FROM stage.FileControl AS x
        CROSS JOIN LATERAL stage.LogKept('Info', x.TaskID) AS k
        WHERE x.ProcessID = v_run.p_process_id;
    END IF;
    RETURN QUERY SELECT v_run.p_process_id, v_name, v_run.p_status, v_run.p_registered;
END;
$$;

REVOKE ALL ON FUNCTION stage.RetryProcess(bigint) FROM PUBLIC;
