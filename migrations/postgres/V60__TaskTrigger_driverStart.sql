-- Triggers that fire when a driver starts (recurrence "driverStart", issue 12: Task
-- Scheduler's BootTrigger, Agent's "start automatically when SQL Server Agent starts").
-- The name is 11 characters: the column widens, and the CHECK admits it. PostgreSQL
-- refuses to change the type of a column a trigger's UPDATE OF names, so V24's version
-- trigger is dropped around the change and created again exactly as V24 made it.
DROP TRIGGER TR_TaskTrigger_Version ON stage.TaskTrigger;
ALTER TABLE stage.TaskTrigger ALTER COLUMN Recurrence TYPE varchar(16);
ALTER TABLE stage.TaskTrigger DROP CONSTRAINT CK_TaskTrigger_Recurrence;
ALTER TABLE stage.TaskTrigger ADD CONSTRAINT CK_TaskTrigger_Recurrence
    CHECK (Recurrence IN ('once', 'minutely', 'daily', 'weekly', 'monthly', 'cron', 'driverStart'));
CREATE TRIGGER TR_TaskTrigger_Version
    AFTER INSERT OR DELETE
       OR UPDATE OF TaskID, TriggerIndex, Recurrence, Enabled, Definition, CreatedAt
    ON stage.TaskTrigger
    FOR EACH STATEMENT
    EXECUTE FUNCTION stage.BumpScheduleVersion();
