-- stage.SetTaskEnabled: enables or disables a task, or one of its triggers (p_trigger_index,
-- its position in the task's triggers array). The columns are what the clock reads, and the
-- version triggers (V23, V24) raise stage.ScheduleVersion on the change, as for SaveTasks,
-- so running clocks reload within a second. Nothing is written when nothing changes.
-- Enabling means "from now on": the row triggers of V45 and V46 set CreatedAt of the
-- triggers it brings back to now, so occurrences that passed while disabled never fire.
CREATE OR REPLACE FUNCTION stage.SetTaskEnabled(
    p_task_name     text,
    p_enabled       boolean,
    p_trigger_index integer DEFAULT NULL)
RETURNS TABLE (
    TaskID       integer,
    TaskName     varchar,
    TriggerIndex integer,
    Enabled      boolean,
    Changed      boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_task_id    integer;
    v_task_name  varchar(255);
    v_was        boolean;
    v_trigger_id integer;
BEGIN
    IF p_task_name IS NULL OR btrim(p_task_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'TaskName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_task_name) > 255 THEN
        RAISE EXCEPTION 'TaskName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF p_enabled IS NULL THEN
        RAISE EXCEPTION 'Enabled must not be NULL' USING ERRCODE = '22023';
    END IF;

    -- The task's trigger rows first, then the task: FireTrigger's order (as DeleteTask).
    PERFORM 1
    FROM stage.TaskTrigger AS g
    JOIN stage.Task AS t ON t.TaskID = g.TaskID
    WHERE t.TaskName = p_task_name
    ORDER BY g.TriggerID
    FOR UPDATE OF g;

    SELECT t.TaskID, t.TaskName, t.Enabled
    INTO v_task_id, v_task_name, v_was
    FROM stage.Task AS t
    WHERE t.TaskName = p_task_name
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'TaskName %: no such task', p_task_name USING ERRCODE = '22023';
    END IF;

    IF p_trigger_index IS NULL THEN
        IF v_was IS DISTINCT FROM p_enabled THEN
            UPDATE stage.Task AS t
            SET Enabled = p_enabled, UpdatedAt = now()
            WHERE t.TaskID = v_task_id;
        END IF;
    ELSE
        SELECT g.TriggerID, g.Enabled
        INTO v_trigger_id, v_was
        FROM stage.TaskTrigger AS g
        WHERE g.TaskID = v_task_id
          AND g.TriggerIndex = p_trigger_index;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'TriggerIndex %: task % has no such trigger', p_trigger_index, v_task_name
                USING ERRCODE = '22023';
        END IF;
        IF v_was IS DISTINCT FROM p_enabled THEN
            UPDATE stage.TaskTrigger AS g
            SET Enabled = p_enabled
            WHERE g.TriggerID = v_trigger_id;
        END IF;
    END IF;

    RETURN QUERY SELECT v_task_id, v_task_name, p_trigger_index, p_enabled, v_was IS DISTINCT FROM p_enabled;
END;
$$;

REVOKE ALL ON FUNCTION stage.SetTaskEnabled(text, boolean, integer) FROM PUBLIC;
