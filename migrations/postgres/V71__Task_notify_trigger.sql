-- The row trigger that copies a task's `notify` settings from its Definition JSON into
-- stage.TaskNotify / stage.TaskNotifyTarget whenever Definition is written (SaveTasks,
-- SaveTask, an UPDATE by hand). The JSON is read here, once per save, never when a run ends.
-- Rules (the same on SQL Server): `notify` must be an object with at least one target
-- (`webhooks`, `emails`: arrays; string items of 1..2000 characters count) or the task
-- has no settings. onFailure, onSuccess, onMissed: JSON true or false, else the default
-- (onFailure: true unless afterConsecutiveFailures is given; the others false);
-- afterConsecutiveFailures: a JSON integer of 1 or more, else none. A Definition that is
-- not JSON means no settings (it is not refused here). The consecutive-failure count is
-- kept across saves.
CREATE OR REPLACE FUNCTION stage.TaskNotifySettings()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_notify jsonb;
    v_after  integer;
BEGIN
    BEGIN
        v_notify := NEW.Definition::jsonb -> 'notify';
    EXCEPTION WHEN others THEN
        v_notify := NULL;
    END;
    IF v_notify IS NOT NULL AND jsonb_typeof(v_notify) <> 'object' THEN
        v_notify := NULL;
    END IF;

    DELETE FROM stage.TaskNotifyTarget AS t WHERE t.TaskID = NEW.TaskID;
    IF v_notify IS NULL OR NOT EXISTS (
        SELECT 1
        FROM (VALUES ('webhooks'), ('emails')) AS k (list)
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(v_notify -> k.list) = 'array' THEN v_notify -> k.list ELSE '[]'::jsonb END) AS e (item)
        WHERE jsonb_typeof(e.item) = 'string'
          AND char_length(e.item #>> '{}') BETWEEN 1 AND 2000)
    THEN
        DELETE FROM stage.TaskNotify AS n WHERE n.TaskID = NEW.TaskID;
        RETURN NULL;
    END IF;

    IF jsonb_typeof(v_notify -> 'afterConsecutiveFailures') = 'number'
       AND (v_notify ->> 'afterConsecutiveFailures') ~ '^[0-9]{1,9}$'
       AND (v_notify ->> 'afterConsecutiveFailures')::integer >= 1 THEN
        v_after := (v_notify ->> 'afterConsecutiveFailures')::integer;
    END IF;

    INSERT INTO stage.TaskNotify AS n (TaskID, OnFailure, OnSuccess, OnMissed, AfterConsecutiveFailures)
    VALUES (NEW.TaskID,
            CASE WHEN jsonb_typeof(v_notify -> 'onFailure') = 'boolean'
                 THEN (v_notify -> 'onFailure')::boolean ELSE v_after IS NULL END,
            CASE WHEN jsonb_typeof(v_notify -> 'onSuccess') = 'boolean'
                 THEN (v_notify -> 'onSuccess')::boolean ELSE false END,
            CASE WHEN jsonb_typeof(v_notify -> 'onMissed') = 'boolean'
                 THEN (v_notify -> 'onMissed')::boolean ELSE false END,
            v_after)
    ON CONFLICT (TaskID) DO UPDATE
    SET OnFailure                = EXCLUDED.OnFailure,
        OnSuccess                = EXCLUDED.OnSuccess,
        OnMissed                 = EXCLUDED.OnMissed,
        AfterConsecutiveFailures = EXCLUDED.AfterConsecutiveFailures,
        ConsecutiveFailures      = CASE WHEN EXCLUDED.AfterConsecutiveFailures IS NULL THEN 0
                                        ELSE n.ConsecutiveFailures END;

    INSERT INTO stage.TaskNotifyTarget (TaskID, Channel, Target)
    SELECT DISTINCT NEW.TaskID, k.channel, e.item #>> '{}'
    FROM (VALUES ('webhooks', 'webhook'), ('emails', 'email')) AS k (list, channel)
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(v_notify -> k.list) = 'array' THEN v_notify -> k.list ELSE '[]'::jsonb END) AS e (item)
    WHERE jsonb_typeof(e.item) = 'string'
      AND char_length(e.item #>> '{}') BETWEEN 1 AND 2000;
    RETURN NULL;
END;
$$;

REVOKE ALL ON FUNCTION stage.TaskNotifySettings() FROM PUBLIC;

CREATE OR REPLACE TRIGGER TR_Task_Notify
    AFTER INSERT OR UPDATE OF Definition ON stage.Task
    FOR EACH ROW
    EXECUTE FUNCTION stage.TaskNotifySettings();
