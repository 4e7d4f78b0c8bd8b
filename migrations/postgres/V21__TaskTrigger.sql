-- Trigger clock tables: stage.TaskTrigger (a task's triggers, one row per element of its
-- "triggers" array, with what the clock last did) and stage.ScheduleVersion (one counter
-- the clock polls; the triggers of V23 and V24 raise it whenever a definition changes).

CREATE TABLE IF NOT EXISTS stage.TaskTrigger (
    TriggerID    integer GENERATED ALWAYS AS IDENTITY CONSTRAINT PK_TaskTrigger PRIMARY KEY,
    TaskID       integer      NOT NULL
        CONSTRAINT FK_TaskTrigger_Task REFERENCES stage.Task (TaskID) ON DELETE CASCADE,
    TriggerIndex integer      NOT NULL CONSTRAINT CK_TaskTrigger_TriggerIndex CHECK (TriggerIndex >= 0),
    Recurrence   varchar(10)  NOT NULL
        CONSTRAINT CK_TaskTrigger_Recurrence
        CHECK (Recurrence IN ('once', 'minutely', 'daily', 'weekly', 'monthly', 'cron')),
    Enabled      boolean      NOT NULL DEFAULT true,
    Definition   text         NOT NULL,
    NextFireAt   timestamptz  NULL,  -- as the clock computed it, for DBAs to read
    LastFiredFor timestamptz  NULL,  -- the occurrence last enqueued (or skipped as missed)
    CreatedAt    timestamptz  NOT NULL DEFAULT now(),  -- no firing for occurrences before it
    CONSTRAINT UQ_TaskTrigger_Task_TriggerIndex UNIQUE (TaskID, TriggerIndex)
);
CREATE INDEX IF NOT EXISTS IX_TaskTrigger_Task ON stage.TaskTrigger (TaskID);

-- Exactly one row; nothing but the version triggers writes it.
CREATE TABLE IF NOT EXISTS stage.ScheduleVersion (
    Version bigint NOT NULL
);
INSERT INTO stage.ScheduleVersion (Version)
SELECT 1
WHERE NOT EXISTS (SELECT 1 FROM stage.ScheduleVersion);
