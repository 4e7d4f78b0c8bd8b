-- The row trigger that enqueues a run's notifications in the transaction that records its
-- outcome, whatever records it: CompleteProcesses, ResetStuckProcesses (no attempts left),
-- the seed's `UPDATE stage.FileControl SET Status = 'Completed' ...`. It fires only when
-- Status changes to Completed or Failed on a run with a task (the WHEN clause is evaluated
-- without calling the function); then one primary-key probe of stage.TaskNotify finds
-- nothing for a task without notify settings.
-- Events: Failed is `failure` when OnFailure, else `consecutiveFailures` when it makes the
-- task's count of failures in a row equal AfterConsecutiveFailures (the Nth only);
-- Completed resets that count and is `success` when OnSuccess. Cancelled is no outcome to
-- notify of. One stage.Notification row per target, with the run's facts at that moment.
CREATE OR REPLACE FUNCTION stage.NotifyOutcome()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_settings stage.TaskNotify%ROWTYPE;
    v_count    integer;
    v_event    varchar(20);
BEGIN
    SELECT * INTO v_settings FROM stage.TaskNotify AS n WHERE n.TaskID = NEW.TaskID;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF v_settings.AfterConsecutiveFailures IS NOT NULL THEN
        -- The row lock serialises concurrent outcomes of one task.
        UPDATE stage.TaskNotify AS n
        SET ConsecutiveFailures = CASE WHEN NEW.Status = 'Failed' THEN n.ConsecutiveFailures + 1 ELSE 0 END
        WHERE n.TaskID = NEW.TaskID
        RETURNING n.ConsecutiveFailures INTO v_count;
    END IF;

    IF NEW.Status = 'Failed' THEN
        IF v_settings.OnFailure THEN
            v_event := 'failure';
        ELSIF v_count = v_settings.AfterConsecutiveFailures THEN
            v_event := 'consecutiveFailures';
        END IF;
    ELSIF v_settings.OnSuccess THEN
        v_event := 'success';
    END IF;
    IF v_event IS NULL THEN
        RETURN NULL;
    END IF;

    INSERT INTO stage.Notification (TaskID, TaskName, ProcessID, Event, Channel, Target, ProcessStatus,
                                    ProcessAttempt, ExitCode, StartTime, EndTime, ScheduledFor,
                                    ConsecutiveFailures)
    SELECT NEW.TaskID, NEW.ProcessName, NEW.ProcessID, v_event, t.Channel, t.Target, NEW.Status,
           NEW.Attempt, NEW.ExitCode, COALESCE(NEW.CommandStartedAt, NEW.StartTime), NEW.EndTime,
           NEW.ScheduledFor, v_count
    FROM stage.TaskNotifyTarget AS t
    WHERE t.TaskID = NEW.TaskID
    ORDER BY t.Channel, t.Target;
    RETURN NULL;
END;
$$;

REVOKE ALL ON FUNCTION stage.NotifyOutcome() FROM PUBLIC;

CREATE OR REPLACE TRIGGER TR_FileControl_Notify
    AFTER UPDATE OF Status ON stage.FileControl
    FOR EACH ROW
    WHEN (NEW.Status IN ('Completed', 'Failed')
          AND OLD.Status IS DISTINCT FROM NEW.Status
          AND NEW.TaskID IS NOT NULL)
    EXECUTE FUNCTION stage.NotifyOutcome();
