-- The row trigger on stage.TaskTrigger that makes enabling a trigger mean "from now on":
-- when Enabled goes from false to true (stage.SetTaskEnabled, stage.SaveTasks, or an UPDATE
-- by hand), CreatedAt becomes now, so occurrences that passed while it was disabled neither
-- run nor count as missed (V45 does the same for a task).
CREATE OR REPLACE FUNCTION stage.TaskTriggerReenabled()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.CreatedAt := now();
    RETURN NEW;
END;
$$;

REVOKE ALL ON FUNCTION stage.TaskTriggerReenabled() FROM PUBLIC;

CREATE OR REPLACE TRIGGER TR_TaskTrigger_Reenabled
    BEFORE UPDATE OF Enabled ON stage.TaskTrigger
    FOR EACH ROW
    WHEN (NOT OLD.Enabled AND NEW.Enabled)
    EXECUTE FUNCTION stage.TaskTriggerReenabled();
