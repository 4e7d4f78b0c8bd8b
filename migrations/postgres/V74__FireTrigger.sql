-- stage.FireTrigger, as V47 plus missed-run notifications (V74): an occurrence that does not
-- run, because it was missed while no driver ran (@Mode 'skip') or because the task's overlap
-- policy refused its registration (an earlier run still goes), enqueues the task's `missed`
-- notifications through stage.EnqueueMissedNotification (V73), in the same transaction.
-- Everything else is V47's (and V55's note on log times holds).
CREATE OR REPLACE FUNCTION stage.FireTrigger(
    p_trigger_id   integer,
    p_occurrence   timestamptz,
    p_next_fire_at timestamptz DEFAULT NULL,
    p_mode         varchar DEFAULT 'run',
    p_missed_count integer DEFAULT 0)
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
    IF p_trigger_id IS NULL THEN
        RAISE EXCEPTION 'TriggerID must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_occurrence IS NULL THEN
        RAISE EXCEPTION 'Occurrence must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_mode IS NULL OR p_mode NOT IN ('run', 'late', 'skip') THEN
        RAISE EXCEPTION 'Mode must be one of run, late, skip' USING ERRCODE = '22023';
    END IF;
    IF p_missed_count IS NULL OR p_missed_count < 0 THEN
        RAISE EXCEPTION 'MissedCount must be 0 or more' USING ERRCODE = '22023';
    END IF;

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
        VALUES (NULL,
                format('Task %s: %s occurrence(s) missed while no driver was running, the latest %s; runIfMissed is off',
                       v_task_name, p_missed_count, v_occurrence),
                'Warning');
        PERFORM stage.EnqueueMissedNotification(v_task_id, p_occurrence, p_missed_count);
        RETURN QUERY SELECT true, NULL::bigint, NULL::boolean, NULL::varchar;
        RETURN;
    END IF;

    SELECT * INTO v_run
    FROM stage.RegisterProcessCore(v_task_name, NULL, p_occurrence);
    IF p_mode = 'late' AND v_run.p_registered THEN
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        VALUES (v_run.p_process_id,
                format('Late run for the occurrence of %s (%s missed while no driver was running)',
                       v_occurrence, p_missed_count),
                'Info');
    END IF;
    IF NOT v_run.p_registered THEN
        PERFORM stage.EnqueueMissedNotification(v_task_id, p_occurrence, GREATEST(p_missed_count, 1));
    END IF;
    RETURN QUERY SELECT true, v_run.p_process_id, v_run.p_registered, v_run.p_status;
END;
$$;
