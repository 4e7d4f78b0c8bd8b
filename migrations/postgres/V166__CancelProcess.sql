-- V166: the minimum log level (V154..V158) applies to its two log rows (Cancelled, a
-- Warning; Cancellation requested, Info): each is written only when stage.LogKept keeps it
-- for the run's task. Otherwise as V42.
-- stage.CancelProcess: an operator's cancel (stagehand cancel). A Pending process becomes
-- Cancelled at once; an InProgress one is asked to stop the way killPrevious asks
-- (CancelRequested, which stage.Heartbeat hands to the driver holding it: the driver kills
-- the command and completes it as Cancelled). A finished process is refused (SQLSTATE 55000).
-- The row lock is taken first: a claimer (FOR UPDATE SKIP LOCKED) then passes the row by,
-- or, when it holds the row already, this waits and finds it InProgress.
CREATE OR REPLACE FUNCTION stage.CancelProcess(
    p_process_id bigint)
RETURNS TABLE (
    ProcessID       bigint,
    ProcessName     varchar,
    Status          varchar,
    CancelRequested boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_name      varchar(255);
    v_status    varchar(20);
    v_requested boolean;
BEGIN
    IF p_process_id IS NULL THEN
        RAISE EXCEPTION 'ProcessID must not be NULL' USING ERRCODE = '22023';
    END IF;

    SELECT f.ProcessName, f.Status, f.CancelRequested
    INTO v_name, v_status, v_requested
    FROM stage.FileControl AS f
    WHERE f.ProcessID = p_process_id
    FOR UPDATE;
    IF NOT FOUND THEN
        SELECT h.Status INTO v_status
        FROM stage.FileControl_History AS h
        WHERE h.ProcessID = p_process_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ProcessID %: no such process', p_process_id USING ERRCODE = '22023';
        END IF;
    END IF;

    IF v_status = 'Pending' THEN
        UPDATE stage.FileControl AS f
        SET Status = 'Cancelled', EndTime = now()
        WHERE f.ProcessID = p_process_id;
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT p_process_id, format('Cancelled by stage.CancelProcess (requested by %s)', session_user), 'Warning'
        FROM stage.FileControl AS x
        CROSS JOIN LATERAL stage.LogKept('Warning', x.TaskID) AS k
        WHERE x.ProcessID = p_process_id;
        v_status := 'Cancelled';
    ELSIF v_status = 'InProgress' THEN
        IF NOT v_requested THEN
            UPDATE stage.FileControl AS f
            SET CancelRequested = true
            WHERE f.ProcessID = p_process_id;
            INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
            SELECT p_process_id, format('Cancellation requested by stage.CancelProcess (requested by %s)', session_user), 'Info'
            FROM stage.FileControl AS x
            CROSS JOIN LATERAL stage.LogKept('Info', x.TaskID) AS k
            WHERE x.ProcessID = p_process_id;
            v_requested := true;
        END IF;
    ELSE
        RAISE EXCEPTION 'ProcessID % is %: only a Pending or InProgress process can be cancelled', p_process_id, v_status
            USING ERRCODE = '55000';
    END IF;

    RETURN QUERY SELECT p_process_id, v_name, v_status, v_requested;
END;
$$;

REVOKE ALL ON FUNCTION stage.CancelProcess(bigint) FROM PUBLIC;
