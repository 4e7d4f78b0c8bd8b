-- Failure notifications (V70..V78). A task's `notify` settings live in its Definition JSON
-- (the task as submitted; no column of stage.Task holds them). The Task trigger of V71
-- copies them into stage.TaskNotify and stage.TaskNotifyTarget, so the outcome trigger
-- (V72) finds a task's settings by key, parses no JSON, and finds nothing at all for a
-- task without them. Outstanding notifications are rows of stage.Notification, written in
-- the transaction that records the outcome, delivered by drivers (ClaimNotifications,
-- CompleteNotification) or by a Database Mail job on SQL Server.

-- One row per task with notify settings and at least one target.
CREATE TABLE IF NOT EXISTS stage.TaskNotify (
    TaskID                   integer NOT NULL CONSTRAINT PK_TaskNotify PRIMARY KEY
        CONSTRAINT FK_TaskNotify_Task REFERENCES stage.Task (TaskID) ON DELETE CASCADE,
    OnFailure                boolean NOT NULL,
    OnSuccess                boolean NOT NULL,
    OnMissed                 boolean NOT NULL,
    AfterConsecutiveFailures integer NULL
        CONSTRAINT CK_TaskNotify_AfterConsecutiveFailures CHECK (AfterConsecutiveFailures >= 1),
    -- Failed runs since the last Completed one, counted from when the settings appeared;
    -- kept only while AfterConsecutiveFailures is set.
    ConsecutiveFailures      integer NOT NULL DEFAULT 0
);

-- Where a task's notifications go: one row per webhook URL or email address.
CREATE TABLE IF NOT EXISTS stage.TaskNotifyTarget (
    TaskID  integer       NOT NULL
        CONSTRAINT FK_TaskNotifyTarget_Task REFERENCES stage.TaskNotify (TaskID) ON DELETE CASCADE,
    Channel varchar(10)   NOT NULL CONSTRAINT CK_TaskNotifyTarget_Channel CHECK (Channel IN ('webhook', 'email')),
    Target  varchar(2000) NOT NULL  -- distinct per task and channel (V71 writes them so)
);

-- Too wide for a key with the target in it; the task's targets are few.
CREATE INDEX IF NOT EXISTS IX_TaskNotifyTarget_Task ON stage.TaskNotifyTarget (TaskID);

-- One row per (event, target). Status: Pending (due at NextAttemptAt), Sending (claimed by
-- ClaimedBy; NextAttemptAt is the end of its lease, after which it is due again),
-- Delivered, Failed (given up).
CREATE TABLE IF NOT EXISTS stage.Notification (
    NotificationID      bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT PK_Notification PRIMARY KEY,
    TaskID              integer       NULL,  -- no FK: a notification outlives its task
    TaskName            varchar(255)  NOT NULL,
    ProcessID           bigint        NULL,  -- NULL for a missed occurrence that never ran
    Event               varchar(20)   NOT NULL
        CONSTRAINT CK_Notification_Event CHECK (Event IN ('failure', 'success', 'missed', 'consecutiveFailures')),
    Channel             varchar(10)   NOT NULL CONSTRAINT CK_Notification_Channel CHECK (Channel IN ('webhook', 'email')),
    Target              varchar(2000) NOT NULL,
    ProcessStatus       varchar(20)   NULL,
    ProcessAttempt      integer       NULL,
    ExitCode            integer       NULL,
    StartTime           timestamptz   NULL,
    EndTime             timestamptz   NULL,
    ScheduledFor        timestamptz   NULL,
    MissedCount         integer       NULL,
    ConsecutiveFailures integer       NULL,
    Status              varchar(20)   NOT NULL DEFAULT 'Pending'
        CONSTRAINT CK_Notification_Status CHECK (Status IN ('Pending', 'Sending', 'Delivered', 'Failed')),
    Attempt             integer       NOT NULL DEFAULT 0,  -- delivery attempts: +1 per claim
    CreatedAt           timestamptz   NOT NULL DEFAULT now(),
    NextAttemptAt       timestamptz   NOT NULL DEFAULT now(),
    ClaimedBy           varchar(255)  NULL,
    DeliveredAt         timestamptz   NULL,
    LastError           varchar(4000) NULL
);

-- The claim seek: outstanding rows by due time.
CREATE INDEX IF NOT EXISTS IX_Notification_Due
    ON stage.Notification (NextAttemptAt, NotificationID) INCLUDE (Channel)
    WHERE Status IN ('Pending', 'Sending');

REVOKE ALL ON stage.TaskNotify, stage.TaskNotifyTarget, stage.Notification FROM PUBLIC;

-- stage.TableSpace (V34) shows stagehand's tables as SQL Server spells them (the catalog
-- folds names to lower case): it learns the new tables here, with the tables. (SQL Server's
-- TableSpace lists sys.tables as they are and needs no change.)
CREATE OR REPLACE FUNCTION stage.TableSpace()
RETURNS TABLE (
    TableName  varchar,
    RowCount   bigint,
    TotalBytes bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT COALESCE(n.name, c.relname)::varchar,
           COALESCE(s.n_live_tup, 0)::bigint,
           pg_total_relation_size(c.oid)::bigint
    FROM pg_class AS c
    LEFT JOIN (VALUES ('Driver'), ('FileControl'), ('FileControl_History'), ('Notification'),
                      ('ProcessLog'), ('ProcessLog_History'), ('ScheduleVersion'), ('Task'),
                      ('TaskNotify'), ('TaskNotifyTarget'), ('TaskTrigger')) AS n(name)
           ON lower(n.name) = c.relname
    LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
    WHERE c.relnamespace = 'stage'::regnamespace
      AND c.relkind IN ('r', 'p')
    ORDER BY c.relname;
END;
$$;
