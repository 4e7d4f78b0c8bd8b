-- stage.SaveTask: creates or updates a task by TaskName (stage_admin). The rules and the
-- upsert are stage.SaveTaskCore's (V31), shared with stage.SaveTasks: a bad argument is
-- reported by name instead of as a constraint violation, and nothing is written.
-- Existing queued runs keep the settings they were registered with.
CREATE OR REPLACE FUNCTION stage.SaveTask(
    p_task_name           text,
    p_command             text,
    p_working_directory   text DEFAULT NULL,
    p_overlap_policy      varchar DEFAULT 'skip',
    p_timeout_minutes     integer DEFAULT NULL,
    p_max_attempts        integer DEFAULT 1,
    p_retry_delay_seconds integer DEFAULT 60,
    p_executor            varchar DEFAULT 'driver',
    p_enabled             boolean DEFAULT true,
    p_description         text DEFAULT NULL,
    p_arguments           text DEFAULT NULL,
    p_time_zone           varchar DEFAULT NULL,
    p_run_if_missed       boolean DEFAULT false,
    p_definition          text DEFAULT NULL)
RETURNS TABLE (
    TaskID  integer,
    Created boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_saved record;
BEGIN
    SELECT * INTO v_saved
    FROM stage.SaveTaskCore(p_task_name, p_command, p_working_directory, p_overlap_policy, p_timeout_minutes,
                            p_max_attempts, p_retry_delay_seconds, p_executor, p_enabled, p_description,
                            p_arguments, p_time_zone, p_run_if_missed, p_definition);
    IF v_saved.p_problem IS NOT NULL THEN
        RAISE EXCEPTION '%', v_saved.p_problem USING ERRCODE = '22023';
    END IF;
    RETURN QUERY SELECT v_saved.p_task_id, v_saved.p_created;
END;
$$;
