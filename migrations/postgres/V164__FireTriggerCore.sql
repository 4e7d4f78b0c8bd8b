-- V164: the minimum log level (V154..V158): the missed-occurrence warning and the late-run
-- row are written only when stage.LogKept keeps them for the task. Otherwise as V150.
-- stage.FireTriggerCore (V150, internal): the firing of one occurrence, V74's rules moved
-- out of stage.FireTrigger unchanged so that stage.FireTriggers (V152) fires each element
-- of a batch by the very same rules. It checks nothing (its callers check their input and
-- name it) and takes no transaction of its own: it runs in its caller's.
-- Exactly once: the conditional UPDATE moves LastFiredFor forwards only; a concurrent
-- firing of the same occurrence waits on the row lock, then finds the condition false.
CREATE OR REPLACE FUNCTION stage.FireTriggerCore(
    p_trigger_id   integer,
    p_occurrence   timestamptz,
    p_next_fire_at timestamptz,
    p_mode         varchar,
    p_missed_count integer)
RETURNS TABLE (
    Fired      boolean,
    ProcessID  bigint,
    Registered boolean,
    Status     varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_task_id    integer;
    v_task_name  varchar(255);
    v_occurrence text := to_char(p_occurrence AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    v_run        record;
BEGIN
    UPDATE stage.TaskTrigger AS g
    SET LastFiredFor = p_occurrence,
        NextFireAt   = p_next_fire_at
    WHERE g.TriggerID = p_trigger_id
      AND (g.LastFiredFor IS NULL OR g.LastFiredFor < p_occurrence)
      AND g.Enabled
      AND EXISTS (SELECT 1 FROM stage.Task AS t WHERE t.TaskID = g.TaskID AND t.Enabled)
    RETURNING g.TaskID INTO v_task_id;
    IF v_task_id IS NULL THEN
        RETURN QUERY SELECT false, NULL::bigint, NULL::boolean, NULL::varchar;
        RETURN;
    END IF;

    SELECT t.TaskName INTO v_task_name
    FROM stage.Task AS t
    WHERE t.TaskID = v_task_id;

    IF p_mode = 'skip' THEN
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT NULL,
               format('Task %s: %s occurrence(s) missed while no driver was running, the latest %s; runIfMissed is off',
                      v_task_name, p_missed_count, v_occurrence),
               'Warning'
        FROM stage.LogKept('Warning', v_task_id) AS k;
        PERFORM stage.EnqueueMissedNotification(v_task_id, p_occurrence, p_missed_count);
        RETURN QUERY SELECT true, NULL::bigint, NULL::boolean, NULL::varchar;
        RETURN;
    END IF;

    SELECT * INTO v_run
    FROM stage.RegisterProcessCore(v_task_name, NULL, p_occurrence);
    IF p_mode = 'late' AND v_run.p_registered THEN
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT v_run.p_process_id,
               format('Late run for the occurrence of %s (%s missed while no driver was running)',
                      v_occurrence, p_missed_count),
               'Info'
        FROM stage.LogKept('Info', v_task_id) AS k;
    END IF;
    IF NOT v_run.p_registered THEN
        PERFORM stage.EnqueueMissedNotification(v_task_id, p_occurrence, GREATEST(p_missed_count, 1));
    END IF;
    RETURN QUERY SELECT true, v_run.p_process_id, v_run.p_registered, v_run.p_status;
END;
$$;
