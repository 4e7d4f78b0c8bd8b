-- stagehand: the trigger clock's tables. stage.TaskTrigger holds a task's triggers, one row
-- per element of its "triggers" array, with what the clock last did; stage.ScheduleVersion
-- is one counter the clock polls, raised by the triggers of V23 and V24 whenever a task or
-- trigger definition changes. Instants are datetime2(3) UTC.
CREATE TABLE stage.TaskTrigger
(
    TriggerID    int           IDENTITY(1, 1) NOT NULL,
    TaskID       int           NOT NULL,
    TriggerIndex int           NOT NULL,  -- position in the task's "triggers" array
    Recurrence   varchar(10)   NOT NULL,
    Enabled      bit           NOT NULL CONSTRAINT DF_TaskTrigger_Enabled   DEFAULT (1),
    [Definition] nvarchar(max) NOT NULL,  -- the trigger's JSON
    NextFireAt   datetime2(3)  NULL,      -- as the clock computed it, for DBAs to read
    LastFiredFor datetime2(3)  NULL,      -- the occurrence last enqueued (or skipped as missed)
    CreatedAt    datetime2(3)  NOT NULL CONSTRAINT DF_TaskTrigger_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_TaskTrigger PRIMARY KEY CLUSTERED (TriggerID),
    CONSTRAINT FK_TaskTrigger_Task FOREIGN KEY (TaskID) REFERENCES stage.Task (TaskID) ON DELETE CASCADE,
    CONSTRAINT UQ_TaskTrigger_Task_TriggerIndex UNIQUE (TaskID, TriggerIndex),
    CONSTRAINT CK_TaskTrigger_TriggerIndex CHECK (TriggerIndex >= 0),
    CONSTRAINT CK_TaskTrigger_Recurrence
        CHECK (Recurrence COLLATE Latin1_General_BIN2 IN ('once', 'minutely', 'daily', 'weekly', 'monthly', 'cron'))
);

CREATE NONCLUSTERED INDEX IX_TaskTrigger_Task ON stage.TaskTrigger (TaskID);

-- Exactly one row; nothing but the version triggers writes it.
CREATE TABLE stage.ScheduleVersion
(
    Version bigint NOT NULL
);

INSERT stage.ScheduleVersion (Version) VALUES (1);
