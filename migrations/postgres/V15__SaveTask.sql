-- stage.SaveTask: creates or updates a task by TaskName (stage_admin). Every argument is
-- validated here so a bad value is reported by name instead of as a constraint violation.
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
    v_json jsonb;
BEGIN
    IF p_task_name IS NULL OR btrim(p_task_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'TaskName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_task_name) > 255 THEN
        RAISE EXCEPTION 'TaskName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF p_command IS NULL OR btrim(p_command, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'Command must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_command) > 4000 THEN
        RAISE EXCEPTION 'Command is longer than 4000 characters' USING ERRCODE = '22023';
    END IF;
    IF length(p_working_directory) > 1000 THEN
        RAISE EXCEPTION 'WorkingDirectory is longer than 1000 characters' USING ERRCODE = '22023';
    END IF;
    IF p_overlap_policy IS NULL OR p_overlap_policy NOT IN ('skip', 'parallel', 'queue', 'killPrevious') THEN
        RAISE EXCEPTION 'OverlapPolicy must be one of skip, parallel, queue, killPrevious' USING ERRCODE = '22023';
    END IF;
    IF p_timeout_minutes < 1 THEN
        RAISE EXCEPTION 'TimeoutMinutes must be NULL or greater than 0' USING ERRCODE = '22023';
    END IF;
    IF p_max_attempts IS NULL OR p_max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'MaxAttempts must be between 1 and 100' USING ERRCODE = '22023';
    END IF;
    IF p_retry_delay_seconds IS NULL OR p_retry_delay_seconds < 0 THEN
        RAISE EXCEPTION 'RetryDelaySeconds must be 0 or more' USING ERRCODE = '22023';
    END IF;
    IF p_executor IS NULL OR p_executor NOT IN ('driver', 'external') THEN
        RAISE EXCEPTION 'Executor must be one of driver, external' USING ERRCODE = '22023';
    END IF;
    IF p_enabled IS NULL THEN
        RAISE EXCEPTION 'Enabled must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF length(p_description) > 1000 THEN
        RAISE EXCEPTION 'Description is longer than 1000 characters' USING ERRCODE = '22023';
    END IF;
    IF p_arguments IS NOT NULL THEN
        BEGIN
            v_json := p_arguments::jsonb;
        EXCEPTION WHEN data_exception THEN
            v_json := NULL;
        END;
        IF v_json IS NULL OR jsonb_typeof(v_json) <> 'array'
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(v_json) AS a(arg) WHERE jsonb_typeof(a.arg) <> 'string') THEN
            RAISE EXCEPTION 'Arguments must be a JSON array of strings' USING ERRCODE = '22023';
        END IF;
    END IF;
    IF length(p_time_zone) > 64 THEN
        RAISE EXCEPTION 'TimeZone is longer than 64 characters' USING ERRCODE = '22023';
    END IF;
    IF p_run_if_missed IS NULL THEN
        RAISE EXCEPTION 'RunIfMissed must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_definition IS NOT NULL THEN
        BEGIN
            v_json := p_definition::jsonb;
        EXCEPTION WHEN data_exception THEN
            v_json := NULL;
        END;
        IF v_json IS NULL OR jsonb_typeof(v_json) NOT IN ('object', 'array') THEN
            RAISE EXCEPTION 'Definition is not valid JSON' USING ERRCODE = '22023';
        END IF;
    END IF;

    RETURN QUERY
    INSERT INTO stage.Task AS t
        (TaskName, Command, WorkingDirectory, OverlapPolicy, TimeoutMinutes, MaxAttempts,
         RetryDelaySeconds, Executor, Enabled, Description, Arguments, TimeZone, RunIfMissed, Definition)
    VALUES
        (p_task_name, p_command, p_working_directory, p_overlap_policy, p_timeout_minutes, p_max_attempts,
         p_retry_delay_seconds, p_executor, p_enabled, p_description, p_arguments, p_time_zone,
         p_run_if_missed, p_definition)
    ON CONFLICT (TaskName) DO UPDATE
    SET Command           = EXCLUDED.Command,
        WorkingDirectory  = EXCLUDED.WorkingDirectory,
        OverlapPolicy     = EXCLUDED.OverlapPolicy,
        TimeoutMinutes    = EXCLUDED.TimeoutMinutes,
        MaxAttempts       = EXCLUDED.MaxAttempts,
        RetryDelaySeconds = EXCLUDED.RetryDelaySeconds,
        Executor          = EXCLUDED.Executor,
        Enabled           = EXCLUDED.Enabled,
        Description       = EXCLUDED.Description,
        Arguments         = EXCLUDED.Arguments,
        TimeZone          = EXCLUDED.TimeZone,
        RunIfMissed       = EXCLUDED.RunIfMissed,
        Definition        = EXCLUDED.Definition,
        UpdatedAt         = now()
    -- xmax is 0 only on a row version this statement inserted (not on an updated one)
    RETURNING t.TaskID, (t.xmax = 0);
END;
$$;
