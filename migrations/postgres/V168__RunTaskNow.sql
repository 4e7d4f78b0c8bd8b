-- V168: the minimum log level (V154..V158) applies to the new run's 'Run now' row (Info):
-- written only when stage.LogKept keeps it for the run's task. Otherwise as V40.
-- stage.RunTaskNow: registers a run of a task now, as an operator's "run now" (stagehand
-- task run). The registration is stage.RegisterProcessCore (V30), the path FireTrigger and
-- RegisterProcess take, so the task's overlap policy applies exactly as for a trigger: skip
-- refuses while a run is active (that row comes back with Registered false), killPrevious
-- supersedes it, queue and parallel insert. A disabled task is refused (SQLSTATE 55000)
-- unless p_force: disabling stops the clock, and a run now must say it means it.
CREATE OR REPLACE FUNCTION stage.RunTaskNow(
    p_task_name text,
    p_force     boolean DEFAULT false)
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
    v_task_name varchar(255);
    v_enabled   boolean;
    v_run       record;
BEGIN
    IF p_task_name IS NULL OR btrim(p_task_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'TaskName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_task_name) > 255 THEN
        RAISE EXCEPTION 'TaskName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF p_force IS NULL THEN
        RAISE EXCEPTION 'Force must not be NULL' USING ERRCODE = '22023';
    END IF;

    SELECT t.TaskName, t.Enabled
    INTO v_task_name, v_enabled
    FROM stage.Task AS t
    WHERE t.TaskName = p_task_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'TaskName %: no such task', p_task_name USING ERRCODE = '22023';
    END IF;
    IF NOT v_enabled AND NOT p_force THEN
        RAISE EXCEPTION 'Task % is disabled: Force runs it anyway', v_task_name USING ERRCODE = '55000';
    END IF;

    -- The stored name, so the run carries the task's name exactly as the clock's do.
    SELECT * INTO v_run
    FROM stage.RegisterProcessCore(v_task_name, NULL, NULL);
    IF v_run.p_registered THEN
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT v_run.p_process_id,
               CASE WHEN v_enabled
                    THEN format('Run now (stage.RunTaskNow, requested by %s)', session_user)
                    ELSE format('Run now of a disabled task (stage.RunTaskNow with Force, requested by %s)', session_user)
               END,
               'Info'
        FROM stage.FileControl AS x
        CROSS JOIN LATERAL stage.LogKept('Info', x.TaskID) AS k
        WHERE x.ProcessID = v_run.p_process_id;
    END IF;
    RETURN QUERY SELECT v_run.p_process_id, v_task_name, v_run.p_status, v_run.p_registered;
END;
$$;

REVOKE ALL ON FUNCTION stage.RunTaskNow(text, boolean) FROM PUBLIC;
