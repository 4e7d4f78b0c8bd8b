-- stagehand: failure notifications (V70..V78). A task's `notify` settings live in its
-- Definition JSON (the task as submitted; no column of stage.Task holds them). The Task
-- trigger of V71 copies them into stage.TaskNotify and stage.TaskNotifyTarget, so the
-- outcome trigger (V72) finds a task's settings by key, parses no JSON, and finds nothing at
-- all for a task without them. Outstanding notifications are rows of stage.Notification,
-- written in the transaction that records the outcome, delivered by drivers
-- (ClaimNotifications, CompleteNotification) or by a Database Mail job
-- (sql/mssql/notifications_dbmail.sql).
SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;

-- One row per task with notify settings and at least one target.
CREATE TABLE stage.TaskNotify
(
    TaskID                   int NOT NULL,
    OnFailure                bit NOT NULL,
    OnSuccess                bit NOT NULL,
    OnMissed                 bit NOT NULL,
    AfterConsecutiveFailures int NULL,
    -- Failed runs since the last Completed one, counted from when the settings appeared;
    -- kept only while AfterConsecutiveFailures is set.
    ConsecutiveFailures      int NOT NULL CONSTRAINT DF_TaskNotify_ConsecutiveFailures DEFAULT (0),
    CONSTRAINT PK_TaskNotify PRIMARY KEY CLUSTERED (TaskID),
    CONSTRAINT FK_TaskNotify_Task FOREIGN KEY (TaskID) REFERENCES stage.Task (TaskID) ON DELETE CASCADE,
    CONSTRAINT CK_TaskNotify_AfterConsecutiveFailures CHECK (AfterConsecutiveFailures >= 1)
);

-- Where a task's notifications go: one row per webhook URL or email address.
CREATE TABLE stage.TaskNotifyTarget
(
    TaskID  int            NOT NULL,
    Channel varchar(10)    NOT NULL,
    Target  nvarchar(2000) NOT NULL,  -- distinct per task and channel (V71 writes them so)
    CONSTRAINT FK_TaskNotifyTarget_Task FOREIGN KEY (TaskID) REFERENCES stage.TaskNotify (TaskID) ON DELETE CASCADE,
    CONSTRAINT CK_TaskNotifyTarget_Channel CHECK (Channel COLLATE Latin1_General_BIN2 IN ('webhook', 'email'))
);

-- Too wide for a key with the target in it (1,700 bytes at most); the task's targets are few.
CREATE CLUSTERED INDEX IX_TaskNotifyTarget_Task ON stage.TaskNotifyTarget (TaskID);

-- One row per (event, target). Status: Pending (due at NextAttemptAt), Sending (claimed by
-- ClaimedBy; NextAttemptAt is the end of its lease, after which it is due again),
-- Delivered, Failed (given up).
CREATE TABLE stage.Notification
(
    NotificationID      bigint         IDENTITY(1, 1) NOT NULL,
    TaskID              int            NULL,  -- no FK: a notification outlives its task
    TaskName            nvarchar(255)  NOT NULL,
    ProcessID           bigint         NULL,  -- NULL for a missed occurrence that never ran
    Event               varchar(20)    NOT NULL,
    Channel             varchar(10)    NOT NULL,
    Target              nvarchar(2000) NOT NULL,
    ProcessStatus       varchar(20)    NULL,
    ProcessAttempt      int            NULL,
    ExitCode            int            NULL,
    StartTime           datetime2(3)   NULL,
    EndTime             datetime2(3)   NULL,
    ScheduledFor        datetime2(3)   NULL,
    MissedCount         int            NULL,
    ConsecutiveFailures int            NULL,
    Status              varchar(20)    NOT NULL CONSTRAINT DF_Notification_Status        DEFAULT ('Pending'),
    Attempt             int            NOT NULL CONSTRAINT DF_Notification_Attempt       DEFAULT (0),  -- +1 per claim
    CreatedAt           datetime2(3)   NOT NULL CONSTRAINT DF_Notification_CreatedAt     DEFAULT (SYSUTCDATETIME()),
    NextAttemptAt       datetime2(3)   NOT NULL CONSTRAINT DF_Notification_NextAttemptAt DEFAULT (SYSUTCDATETIME()),
    ClaimedBy           nvarchar(255)  NULL,
    DeliveredAt         datetime2(3)   NULL,
    LastError           nvarchar(4000) NULL,
    CONSTRAINT PK_Notification PRIMARY KEY CLUSTERED (NotificationID),
    CONSTRAINT CK_Notification_Event
        CHECK (Event COLLATE Latin1_General_BIN2 IN ('failure', 'success', 'missed', 'consecutiveFailures')),
    CONSTRAINT CK_Notification_Channel CHECK (Channel COLLATE Latin1_General_BIN2 IN ('webhook', 'email')),
    CONSTRAINT CK_Notification_Status
        CHECK (Status COLLATE Latin1_General_BIN2 IN ('Pending', 'Sending', 'Delivered', 'Failed'))
);

-- The claim seek: outstanding rows by due time.
CREATE NONCLUSTERED INDEX IX_Notification_Due
    ON stage.Notification (NextAttemptAt, NotificationID) INCLUDE (Channel, Status)
    WHERE Status IN ('Pending', 'Sending');
