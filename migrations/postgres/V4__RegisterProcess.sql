-- stage.RegisterProcess: queues one run of a process (the submitters' only entry point).
-- The checks, the task's policy and the race-free de-duplication live in
-- stage.RegisterProcessCore (V30), which stage.FireTrigger shares; this returns its row.
CREATE OR REPLACE FUNCTION stage.RegisterProcess(
    p_process_name  text,
    p_parameters    text DEFAULT NULL,
    p_scheduled_for timestamptz DEFAULT NULL)
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
BEGIN
    RETURN QUERY
    SELECT c.p_process_id, p_process_name::varchar, c.p_status, c.p_registered
    FROM stage.RegisterProcessCore(p_process_name, p_parameters, p_scheduled_for) AS c;
END;
$$;
