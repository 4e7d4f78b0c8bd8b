-- The row trigger on stage.Task that makes enabling a task mean "from now on": when Enabled
-- goes from false to true (stage.SetTaskEnabled, stage.SaveTasks, or an UPDATE by hand), the
-- task's enabled triggers get CreatedAt = now, as SaveTasks gives a changed trigger. The
-- clock never fires for occurrences before CreatedAt, so occurrences that passed while the
-- task was disabled neither run nor count as missed.
-- SECURITY DEFINER: stage_admin may update stage.Task directly but not stage.TaskTrigger.
CREATE OR REPLACE FUNCTION stage.TaskReenabled()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE stage.TaskTrigger AS g
    SET CreatedAt = now()
    WHERE g.TaskID = NEW.TaskID
      AND g.Enabled;
    RETURN NULL;
END;
$$;

REVOKE ALL ON FUNCTION stage.TaskReenabled() FROM PUBLIC;

CREATE OR REPLACE TRIGGER TR_Task_Reenabled
    AFTER UPDATE OF Enabled ON stage.Task
    FOR EACH ROW
    WHEN (NOT OLD.Enabled AND NEW.Enabled)
    EXECUTE FUNCTION stage.TaskReenabled();
