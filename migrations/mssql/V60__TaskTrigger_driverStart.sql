-- stagehand: triggers that fire when a driver starts (recurrence "driverStart", issue 12:
-- Task Scheduler's BootTrigger, Agent's "start automatically when SQL Server Agent
-- starts"). The name is 11 characters: the column widens (the CHECK that names it is
-- dropped first, then recreated admitting the new value).
ALTER TABLE stage.TaskTrigger DROP CONSTRAINT CK_TaskTrigger_Recurrence;

ALTER TABLE stage.TaskTrigger ALTER COLUMN Recurrence varchar(16) NOT NULL;

ALTER TABLE stage.TaskTrigger ADD CONSTRAINT CK_TaskTrigger_Recurrence
    CHECK (Recurrence COLLATE Latin1_General_BIN2
           IN ('once', 'minutely', 'daily', 'weekly', 'monthly', 'cron', 'driverStart'));
