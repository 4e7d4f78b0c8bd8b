-- Triggers that fire when a driver starts (recurrence "driverStart", issue 12: Task
-- Scheduler's BootTrigger, Agent's "start automatically when SQL Server Agent starts").
-- The name is 11 characters: the column widens, and the CHECK admits it.
ALTER TABLE stage.TaskTrigger ALTER COLUMN Recurrence TYPE varchar(16);
ALTER TABLE stage.TaskTrigger DROP CONSTRAINT CK_TaskTrigger_Recurrence;
ALTER TABLE stage.TaskTrigger ADD CONSTRAINT CK_TaskTrigger_Recurrence
    CHECK (Recurrence IN ('once', 'minutely', 'daily', 'weekly', 'monthly', 'cron', 'driverStart'));
