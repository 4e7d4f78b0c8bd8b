-- V161: the minimum log level (V154..V158): each log row is written only when
-- stage.LogKept keeps it for the task of the name (the database's level for a name without
-- a task). Otherwise as V30.
-- stage.RegisterProcessCore: the registration logic (internal; no role may call it), shared
-- by stage.RegisterProcess and stage.FireTrigger so both check and register alike. Its
-- result comes back in OUT parameters, as in the SQL Server twin (a procedure cannot hand
-- its result set to another one there without INSERT ... EXEC).
-- De-duplication (policy 'skip', one run per trigger occurrence) is race-free because
-- the insert is guarded by the partial unique indexes UX_FileControl_Exclusive and
-- UX_FileControl_Occurrence; a conflict becomes a refusal that returns the existing row.
CREATE OR REPLACE FUNCTION stage.RegisterProcessCore(
    p_process_name  text,
    p_parameters    text,
    p_scheduled_for timestamptz,
    OUT p_process_id bigint,
    OUT p_status     varchar,
    OUT p_registered boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_json_type    text;
    v_task_id      integer;
    v_policy       varchar(20) := 'skip';
    v_executor     varchar(10) := 'external';
    v_max_attempts integer := 3;
BEGIN
    IF p_process_name IS NULL OR btrim(p_process_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'ProcessName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_process_name) > 255 THEN
        RAISE EXCEPTION 'ProcessName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF p_parameters IS NOT NULL THEN
        BEGIN
            v_json_type := json_typeof(p_parameters::json);
        EXCEPTION WHEN data_exception THEN
            v_json_type := NULL;
        END;
        -- an object or an array, as ISJSON accepts on SQL Server
        IF v_json_type IS NULL OR v_json_type NOT IN ('object', 'array') THEN
            RAISE EXCEPTION 'Parameters is not valid JSON' USING ERRCODE = '22023';
        END IF;
    END IF;

    SELECT t.TaskID, t.OverlapPolicy, t.Executor, t.MaxAttempts
    INTO v_task_id, v_policy, v_executor, v_max_attempts
    FROM stage.Task AS t
    WHERE t.TaskName = p_process_name;
    IF NOT FOUND THEN
        v_task_id := NULL;
        v_policy := 'skip';
        v_executor := 'external';
        v_max_attempts := 3;
    END IF;

    -- Repeats only when a conflicting row vanished (finished) between the guarded insert
    -- and the look-up; then the name is free again and the next insert succeeds.
    LOOP
        p_process_id := NULL;
        IF p_scheduled_for IS NOT NULL THEN
            SELECT f.ProcessID, f.Status
            INTO p_process_id, p_status
            FROM stage.FileControl AS f
            WHERE f.ProcessName = p_process_name
              AND f.ScheduledFor = p_scheduled_for;
        END IF;
        IF p_process_id IS NULL AND v_policy = 'skip' THEN
            SELECT f.ProcessID, f.Status
            INTO p_process_id, p_status
            FROM stage.FileControl AS f
            WHERE f.ProcessName = p_process_name
              AND f.Status IN ('Pending', 'InProgress')
            ORDER BY f.ProcessID
            LIMIT 1;
        END IF;
        IF p_process_id IS NOT NULL THEN
            p_registered := false;
            RETURN;
        END IF;

        -- No conflict target: both partial unique indexes (exclusive name, occurrence)
        -- are arbiters, so either kind of concurrent duplicate turns into "nothing inserted".
        INSERT INTO stage.FileControl
            (ProcessName, Parameters, TaskID, ScheduledFor, MaxAttempts, OverlapPolicy, Executor)
        VALUES
            (p_process_name, p_parameters, v_task_id, p_scheduled_for, v_max_attempts, v_policy, v_executor)
        ON CONFLICT DO NOTHING
        RETURNING ProcessID INTO p_process_id;
        EXIT WHEN p_process_id IS NOT NULL;
    END LOOP;
    p_status := 'Pending';
    p_registered := true;

    INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
    SELECT p_process_id, 'Registered', 'Info'
    FROM stage.LogKept('Info', v_task_id) AS k;

    IF v_policy = 'killPrevious' THEN
        -- Pending first: a row a claimer takes meanwhile is then caught as InProgress below.
        WITH cancelled AS (
            UPDATE stage.FileControl AS f
            SET Status = 'Cancelled', EndTime = now()
            WHERE f.ProcessName = p_process_name
              AND f.Status = 'Pending'
              AND f.ProcessID < p_process_id
            RETURNING f.ProcessID
        )
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT c.ProcessID, format('Cancelled by killPrevious: superseded by process %s', p_process_id), 'Warning'
        FROM cancelled AS c
        CROSS JOIN LATERAL stage.LogKept('Warning', v_task_id) AS k
        ORDER BY c.ProcessID;

        WITH flagged AS (
            UPDATE stage.FileControl AS f
            SET CancelRequested = true
            WHERE f.ProcessName = p_process_name
              AND f.Status = 'InProgress'
              AND NOT f.CancelRequested
              AND f.ProcessID < p_process_id
            RETURNING f.ProcessID
        )
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT c.ProcessID, format('Cancellation requested by killPrevious: superseded by process %s', p_process_id), 'Info'
        FROM flagged AS c
        CROSS JOIN LATERAL stage.LogKept('Info', v_task_id) AS k
        ORDER BY c.ProcessID;
    END IF;

    IF v_executor = 'driver' THEN
        -- delivered at commit; wakes drivers that LISTEN instead of polling
        PERFORM pg_notify('stage_process', '');
    END IF;
END;
$$;
