-- stagehand tables: stage.Task (what can run), stage.FileControl (the queue),
-- stage.ProcessLog, and the *_History tables RotateHistory moves finished rows into.
-- The partial indexes carry the queue's hot paths (claim seek, de-duplication, free
-- workers, rotation); their predicates must match the queries in the functions.

CREATE TABLE IF NOT EXISTS stage.Task (
    TaskID            integer GENERATED ALWAYS AS IDENTITY CONSTRAINT PK_Task PRIMARY KEY,
    TaskName          varchar(255)  NOT NULL CONSTRAINT UQ_Task_TaskName UNIQUE,
    Description       varchar(1000) NULL,
    Command           varchar(4000) NOT NULL,
    Arguments         text          NULL,
    WorkingDirectory  varchar(1000) NULL,
    OverlapPolicy     varchar(20)   NOT NULL DEFAULT 'skip'
        CONSTRAINT CK_Task_OverlapPolicy CHECK (OverlapPolicy IN ('skip', 'parallel', 'queue', 'killPrevious')),
    TimeoutMinutes    integer       NULL CONSTRAINT CK_Task_TimeoutMinutes CHECK (TimeoutMinutes > 0),
    MaxAttempts       integer       NOT NULL DEFAULT 1
        CONSTRAINT CK_Task_MaxAttempts CHECK (MaxAttempts BETWEEN 1 AND 100),
    RetryDelaySeconds integer       NOT NULL DEFAULT 60
        CONSTRAINT CK_Task_RetryDelaySeconds CHECK (RetryDelaySeconds >= 0),
    Executor          varchar(10)   NOT NULL DEFAULT 'driver'
        CONSTRAINT CK_Task_Executor CHECK (Executor IN ('driver', 'external')),
    Enabled           boolean       NOT NULL DEFAULT true,
    TimeZone          varchar(64)   NULL,
    RunIfMissed       boolean       NOT NULL DEFAULT false,
    Definition        text          NULL,
    CreatedAt         timestamptz   NOT NULL DEFAULT now(),
    UpdatedAt         timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS stage.FileControl (
    ProcessID       bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT PK_FileControl PRIMARY KEY,
    ProcessName     varchar(255) NOT NULL,
    Status          varchar(20)  NOT NULL DEFAULT 'Pending'
        CONSTRAINT CK_FileControl_Status
        CHECK (Status IN ('Pending', 'InProgress', 'Completed', 'Failed', 'Cancelled')),
    CreatedAt       timestamptz  NOT NULL DEFAULT now(),
    WorkerAssigned  varchar(255) NULL,
    StartTime       timestamptz  NULL,
    EndTime         timestamptz  NULL,
    Parameters      text         NULL,
    TaskID          integer      NULL,
    ScheduledFor    timestamptz  NULL,
    Attempt         integer      NOT NULL DEFAULT 0,
    MaxAttempts     integer      NOT NULL DEFAULT 1,
    RunAfter        timestamptz  NOT NULL DEFAULT now(),
    LeaseExpiresAt  timestamptz  NULL,
    HeartbeatAt     timestamptz  NULL,
    ExitCode        integer      NULL,
    CancelRequested boolean      NOT NULL DEFAULT false,
    OverlapPolicy   varchar(20)  NOT NULL
        CONSTRAINT CK_FileControl_OverlapPolicy CHECK (OverlapPolicy IN ('skip', 'parallel', 'queue', 'killPrevious')),
    Executor        varchar(10)  NOT NULL
        CONSTRAINT CK_FileControl_Executor CHECK (Executor IN ('driver', 'external'))
);

-- The claim and assignment seek: pending rows of one executor, oldest first.
CREATE INDEX IF NOT EXISTS IX_FileControl_Pending
    ON stage.FileControl (Executor, ProcessID) INCLUDE (RunAfter, OverlapPolicy, ProcessName)
    WHERE Status = 'Pending';
-- At most one active 'skip' run per name, even under concurrent RegisterProcess calls.
CREATE UNIQUE INDEX IF NOT EXISTS UX_FileControl_Exclusive
    ON stage.FileControl (ProcessName)
    WHERE OverlapPolicy = 'skip' AND Status IN ('Pending', 'InProgress');
-- Serial policies (queue, killPrevious) and duplicate checks look up active runs by name.
CREATE INDEX IF NOT EXISTS IX_FileControl_Active
    ON stage.FileControl (ProcessName, ProcessID) INCLUDE (Status)
    WHERE Status IN ('Pending', 'InProgress');
-- One run per trigger occurrence.
CREATE UNIQUE INDEX IF NOT EXISTS UX_FileControl_Occurrence
    ON stage.FileControl (ProcessName, ScheduledFor)
    WHERE ScheduledFor IS NOT NULL;
-- Free workers, heartbeats and the timeout scan.
CREATE INDEX IF NOT EXISTS IX_FileControl_InProgress
    ON stage.FileControl (WorkerAssigned) INCLUDE (LeaseExpiresAt, StartTime)
    WHERE Status = 'InProgress';
-- Rotation: finished rows by age.
CREATE INDEX IF NOT EXISTS IX_FileControl_Finished
    ON stage.FileControl (EndTime)
    WHERE Status IN ('Completed', 'Failed', 'Cancelled');

CREATE TABLE IF NOT EXISTS stage.ProcessLog (
    LogID     bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT PK_ProcessLog PRIMARY KEY,
    ProcessID bigint       NULL,
    Message   varchar(500) NOT NULL,
    LogLevel  varchar(10)  NOT NULL DEFAULT 'Info'
        CONSTRAINT CK_ProcessLog_LogLevel CHECK (LogLevel IN ('Info', 'Warning', 'Error')),
    LogTime   timestamptz  NOT NULL DEFAULT now(),
    Detail    text         NULL
);
CREATE INDEX IF NOT EXISTS IX_ProcessLog_Process ON stage.ProcessLog (ProcessID, LogID);
CREATE INDEX IF NOT EXISTS IX_ProcessLog_Time ON stage.ProcessLog (LogTime);

-- History: the same columns in the same order (RotateHistory copies them), plain keys.
CREATE TABLE IF NOT EXISTS stage.FileControl_History (
    ProcessID       bigint       NOT NULL CONSTRAINT PK_FileControl_History PRIMARY KEY,
    ProcessName     varchar(255) NOT NULL,
    Status          varchar(20)  NOT NULL
        CONSTRAINT CK_FileControl_History_Status
        CHECK (Status IN ('Pending', 'InProgress', 'Completed', 'Failed', 'Cancelled')),
    CreatedAt       timestamptz  NOT NULL,
    WorkerAssigned  varchar(255) NULL,
    StartTime       timestamptz  NULL,
    EndTime         timestamptz  NULL,
    Parameters      text         NULL,
    TaskID          integer      NULL,
    ScheduledFor    timestamptz  NULL,
    Attempt         integer      NOT NULL,
    MaxAttempts     integer      NOT NULL,
    RunAfter        timestamptz  NOT NULL,
    LeaseExpiresAt  timestamptz  NULL,
    HeartbeatAt     timestamptz  NULL,
    ExitCode        integer      NULL,
    CancelRequested boolean      NOT NULL,
    OverlapPolicy   varchar(20)  NOT NULL
        CONSTRAINT CK_FileControl_History_OverlapPolicy CHECK (OverlapPolicy IN ('skip', 'parallel', 'queue', 'killPrevious')),
    Executor        varchar(10)  NOT NULL
        CONSTRAINT CK_FileControl_History_Executor CHECK (Executor IN ('driver', 'external'))
);
CREATE INDEX IF NOT EXISTS IX_FileControl_History_EndTime ON stage.FileControl_History (EndTime);

CREATE TABLE IF NOT EXISTS stage.ProcessLog_History (
    LogID     bigint       NOT NULL CONSTRAINT PK_ProcessLog_History PRIMARY KEY,
    ProcessID bigint       NULL,
    Message   varchar(500) NOT NULL,
    LogLevel  varchar(10)  NOT NULL
        CONSTRAINT CK_ProcessLog_History_LogLevel CHECK (LogLevel IN ('Info', 'Warning', 'Error')),
    LogTime   timestamptz  NOT NULL,
    Detail    text         NULL
);
CREATE INDEX IF NOT EXISTS IX_ProcessLog_History_Process ON stage.ProcessLog_History (ProcessID, LogID);
CREATE INDEX IF NOT EXISTS IX_ProcessLog_History_Time ON stage.ProcessLog_History (LogTime);
