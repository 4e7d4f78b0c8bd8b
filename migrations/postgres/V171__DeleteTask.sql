-- V171: the minimum log level (V154..V158) applies to its 'Cancelled: task ... was
-- deleted' rows (Warning), through stage.LogKept with the runs' TaskID. The task is gone
-- by then, so its own minLogLevel went with it and the database's level applies (as on
-- SQL Server). Otherwise as V16.
-- stage.DeleteTask: removes a task (stage_admin). Its queued (Pending) runs are cancelled
-- and logged, since nothing could run them any more; runs already InProgress finish.
CREATE OR REPLACE FUNCTION stage.DeleteTask(
    p_task_name text)
RETURNS TABLE (
    Deleted boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_task_id integer;
BEGIN
    IF p_task_name IS NULL OR btrim(p_task_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'TaskName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;

    -- The task's trigger rows first, then the task: the order in which FireTrigger takes
    -- them (its trigger row, then the task), as the SQL Server twin must to avoid a deadlock.
    PERFORM 1
    FROM stage.TaskTrigger AS g
    JOIN stage.Task AS t ON t.TaskID = g.TaskID
    WHERE t.TaskName = p_task_name
    FOR UPDATE OF g;

    DELETE FROM stage.Task AS t
    WHERE t.TaskName = p_task_name
    RETURNING t.TaskID INTO v_task_id;
    IF v_task_id IS NULL THEN
        RETURN QUERY SELECT false;
        RETURN;
    END IF;

    WITH cancelled AS (
        UPDATE stage.FileControl AS f
        SET Status = 'Cancelled', EndTime = now()
        WHERE f.ProcessName = p_task_name   -- runs register under the task's name: IX_FileControl_Active
          AND f.Status = 'Pending'
          AND f.TaskID = v_task_id
        RETURNING f.ProcessID, f.TaskID
    )
    INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
    SELECT c.ProcessID, format('Cancelled: task %s was deleted', p_task_name), 'Warning'
    FROM cancelled AS c
    CROSS JOIN LATERAL stage.LogKept('Warning', c.TaskID) AS k
    ORDER BY c.ProcessID;

    RETURN QUERY SELECT true;
END;
$$;
