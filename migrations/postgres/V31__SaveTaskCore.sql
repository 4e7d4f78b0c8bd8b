-- stage.SaveTaskCore: the one implementation of SaveTask's rules and of the upsert by
-- TaskName (internal; no role may call it), shared by stage.SaveTask and stage.SaveTasks.
-- A bad argument writes nothing and comes back in p_problem, named as SaveTask's parameter
-- (OverlapPolicy must be ...): SaveTask raises it as it is, SaveTasks names the element
-- (Tasks[2].overlapPolicy must be ...). The SQL Server twin works the same way, with OUTPUT
-- parameters, since a procedure cannot catch another's error there without losing it.
CREATE OR REPLACE FUNCTION stage.SaveTaskCore(
    p_task_name           text,
    p_command             text,
    p_working_directory   text,
    p_overlap_policy      varchar,
    p_timeout_minutes     integer,
    p_max_attempts        integer,
    p_retry_delay_seconds integer,
    p_executor            varchar,
    p_enabled             boolean,
    p_description         text,
    p_arguments           text,
    p_time_zone           varchar,
    p_run_if_missed       boolean,
    p_definition          text,
    OUT p_task_id integer,
    OUT p_created boolean,
    OUT p_problem text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_json          json;
    v_arguments_bad boolean := false;
BEGIN
    -- Parsed first: whether a text is JSON is only known by parsing it.
    IF p_arguments IS NOT NULL THEN
        BEGIN
            v_json := p_arguments::json;
        EXCEPTION WHEN data_exception THEN
            v_json := NULL;
        END;
        v_arguments_bad := v_json IS NULL OR json_typeof(v_json) <> 'array';
        IF NOT v_arguments_bad THEN
            v_arguments_bad := EXISTS (SELECT 1 FROM json_array_elements(v_json) AS a(arg)
                                       WHERE json_typeof(a.arg) <> 'string');
        END IF;
    END IF;

    p_problem := CASE
        WHEN p_task_name IS NULL OR btrim(p_task_name, E' \t\r\n') = ''
            THEN 'TaskName must not be NULL or empty'
        WHEN length(p_task_name) > 255
            THEN 'TaskName is longer than 255 characters'
        WHEN p_command IS NULL OR btrim(p_command, E' \t\r\n') = ''
            THEN 'Command must not be NULL or empty'
        WHEN length(p_command) > 4000
            THEN 'Command is longer than 4000 characters'
        WHEN length(p_working_directory) > 1000
            THEN 'WorkingDirectory is longer than 1000 characters'
        WHEN p_overlap_policy IS NULL OR p_overlap_policy NOT IN ('skip', 'parallel', 'queue', 'killPrevious')
            THEN 'OverlapPolicy must be one of skip, parallel, queue, killPrevious'
        WHEN p_timeout_minutes < 1
            THEN 'TimeoutMinutes must be NULL or greater than 0'
        WHEN p_max_attempts IS NULL OR p_max_attempts NOT BETWEEN 1 AND 100
            THEN 'MaxAttempts must be between 1 and 100'
        WHEN p_retry_delay_seconds IS NULL OR p_retry_delay_seconds < 0
            THEN 'RetryDelaySeconds must be 0 or more'
        WHEN p_executor IS NULL OR p_executor NOT IN ('driver', 'external')
            THEN 'Executor must be one of driver, external'
        WHEN p_enabled IS NULL
            THEN 'Enabled must not be NULL'
        WHEN length(p_description) > 1000
            THEN 'Description is longer than 1000 characters'
        WHEN v_arguments_bad
            THEN 'Arguments must be a JSON array of strings'
        WHEN length(p_time_zone) > 64
            THEN 'TimeZone is longer than 64 characters'
        WHEN p_run_if_missed IS NULL
            THEN 'RunIfMissed must not be NULL'
    END;
    IF p_problem IS NULL AND p_definition IS NOT NULL THEN
        BEGIN
            v_json := p_definition::json;
        EXCEPTION WHEN data_exception THEN
            v_json := NULL;
        END;
        -- an object or an array, as ISJSON accepts on SQL Server
        IF v_json IS NULL OR json_typeof(v_json) NOT IN ('object', 'array') THEN
            p_problem := 'Definition is not valid JSON';
        END IF;
    END IF;
    IF p_problem IS NOT NULL THEN
        RETURN;
    END IF;

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
    RETURNING t.TaskID, (t.xmax = 0) INTO p_task_id, p_created;
END;
$$;

-- Created after V20's REVOKE ... ON ALL FUNCTIONS: PUBLIC's default EXECUTE is taken here.
REVOKE ALL ON FUNCTION stage.SaveTaskCore(text, text, text, varchar, integer, integer, integer, varchar,
                                          boolean, text, text, varchar, boolean, text)
    FROM PUBLIC;
