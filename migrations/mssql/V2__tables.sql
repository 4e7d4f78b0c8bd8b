-- stagehand: the tables (Task, the FileControl queue, ProcessLog and their history twins),
-- their CHECK constraints and the filtered indexes that keep claiming, assignment and the
-- timeout scan on seeks however large the tables grow. All instants are datetime2(3) UTC.
-- Code columns (Status, OverlapPolicy, Executor, LogLevel) are checked case-sensitively.

-- Filtered indexes need these ON (refinery's connection has them; run by hand, use sqlcmd -I,
-- or the procedures are created with QUOTED_IDENTIFIER OFF and fail on every write).
SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;

-- OPENJSON, which every JSON argument goes through, needs compatibility level 130. (Error
-- numbers above 50099: not an argument error.)
IF (SELECT d.compatibility_level FROM sys.databases AS d WHERE d.database_id = DB_ID()) < 130
    THROW 50101, N'stagehand needs database compatibility level 130 or higher (OPENJSON); run ALTER DATABASE ... SET COMPATIBILITY_LEVEL = 130 first', 1;

CREATE TABLE stage.Task
(
    TaskID            int            IDENTITY(1, 1) NOT NULL,
    TaskName          nvarchar(255)  NOT NULL,
    Description       nvarchar(1000) NULL,
    Command           nvarchar(4000) NOT NULL,
    Arguments         nvarchar(max)  NULL,  -- JSON array of strings: run Command without a shell
    WorkingDirectory  nvarchar(1000) NULL,
    OverlapPolicy     varchar(20)    NOT NULL CONSTRAINT DF_Task_OverlapPolicy     DEFAULT ('skip'),
    TimeoutMinutes    int            NULL,
    MaxAttempts       int            NOT NULL CONSTRAINT DF_Task_MaxAttempts       DEFAULT (1),
    RetryDelaySeconds int            NOT NULL CONSTRAINT DF_Task_RetryDelaySeconds DEFAULT (60),
    Executor          varchar(10)    NOT NULL CONSTRAINT DF_Task_Executor          DEFAULT ('driver'),
    Enabled           bit            NOT NULL CONSTRAINT DF_Task_Enabled           DEFAULT (1),
    TimeZone          varchar(64)    NULL,  -- IANA zone of the task's triggers
    RunIfMissed       bit            NOT NULL CONSTRAINT DF_Task_RunIfMissed       DEFAULT (0),
    [Definition]      nvarchar(max)  NULL,  -- the task's JSON as submitted
    CreatedAt         datetime2(3)   NOT NULL CONSTRAINT DF_Task_CreatedAt         DEFAULT (SYSUTCDATETIME()),
    UpdatedAt         datetime2(3)   NOT NULL CONSTRAINT DF_Task_UpdatedAt         DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_Task PRIMARY KEY CLUSTERED (TaskID),
    CONSTRAINT UQ_Task_TaskName UNIQUE (TaskName),
    CONSTRAINT CK_Task_OverlapPolicy
        CHECK (OverlapPolicy COLLATE Latin1_General_BIN2 IN ('skip', 'parallel', 'queue', 'killPrevious')),
    CONSTRAINT CK_Task_TimeoutMinutes    CHECK (TimeoutMinutes > 0),
    CONSTRAINT CK_Task_MaxAttempts       CHECK (MaxAttempts BETWEEN 1 AND 100),
    CONSTRAINT CK_Task_RetryDelaySeconds CHECK (RetryDelaySeconds >= 0),
    CONSTRAINT CK_Task_Executor
        CHECK (Executor COLLATE Latin1_General_BIN2 IN ('driver', 'external'))
);

-- The queue. One row per run; rows stay here until RotateHistory moves finished ones away.
CREATE TABLE stage.FileControl
(
    ProcessID       bigint        IDENTITY(1, 1) NOT NULL,
    ProcessName     nvarchar(255) NOT NULL,
    Status          varchar(20)   NOT NULL CONSTRAINT DF_FileControl_Status          DEFAULT ('Pending'),
    CreatedAt       datetime2(3)  NOT NULL CONSTRAINT DF_FileControl_CreatedAt       DEFAULT (SYSUTCDATETIME()),
    WorkerAssigned  nvarchar(255) NULL,
    StartTime       datetime2(3)  NULL,
    EndTime         datetime2(3)  NULL,
    Parameters      nvarchar(max) NULL,  -- JSON text, stored verbatim
    TaskID          int           NULL,  -- the task (by name) at registration; no FK on purpose
    ScheduledFor    datetime2(3)  NULL,  -- the trigger occurrence this run stands for
    Attempt         int           NOT NULL CONSTRAINT DF_FileControl_Attempt         DEFAULT (0),
    MaxAttempts     int           NOT NULL CONSTRAINT DF_FileControl_MaxAttempts     DEFAULT (1),
    RunAfter        datetime2(3)  NOT NULL CONSTRAINT DF_FileControl_RunAfter        DEFAULT (SYSUTCDATETIME()),
    LeaseExpiresAt  datetime2(3)  NULL,
    HeartbeatAt     datetime2(3)  NULL,
    ExitCode        int           NULL,
    CancelRequested bit           NOT NULL CONSTRAINT DF_FileControl_CancelRequested DEFAULT (0),
    OverlapPolicy   varchar(20)   NOT NULL,
    Executor        varchar(10)   NOT NULL,
    CONSTRAINT PK_FileControl PRIMARY KEY CLUSTERED (ProcessID),
    CONSTRAINT CK_FileControl_Status
        CHECK (Status COLLATE Latin1_General_BIN2 IN ('Pending', 'InProgress', 'Completed', 'Failed', 'Cancelled')),
    CONSTRAINT CK_FileControl_OverlapPolicy
        CHECK (OverlapPolicy COLLATE Latin1_General_BIN2 IN ('skip', 'parallel', 'queue', 'killPrevious')),
    CONSTRAINT CK_FileControl_Executor
        CHECK (Executor COLLATE Latin1_General_BIN2 IN ('driver', 'external'))
);

-- The claim and assignment seek: Pending rows of one executor, oldest first.
CREATE NONCLUSTERED INDEX IX_FileControl_Pending
    ON stage.FileControl (Executor, ProcessID)
    INCLUDE (RunAfter, OverlapPolicy, ProcessName)
    WHERE Status = 'Pending';

-- Race-free de-duplication for the skip policy: one active run per name.
CREATE UNIQUE NONCLUSTERED INDEX UX_FileControl_Exclusive
    ON stage.FileControl (ProcessName)
    WHERE OverlapPolicy = 'skip' AND Status IN ('Pending', 'InProgress');

-- Serial-policy (queue, killPrevious) and duplicate checks: the active runs of a name.
CREATE NONCLUSTERED INDEX IX_FileControl_Active
    ON stage.FileControl (ProcessName, ProcessID)
    INCLUDE (Status)
    WHERE Status IN ('Pending', 'InProgress');

-- One run per trigger occurrence.
CREATE UNIQUE NONCLUSTERED INDEX UX_FileControl_Occurrence
    ON stage.FileControl (ProcessName, ScheduledFor)
    WHERE ScheduledFor IS NOT NULL;

-- Free workers, heartbeats and the timeout scan read only the running rows.
CREATE NONCLUSTERED INDEX IX_FileControl_InProgress
    ON stage.FileControl (WorkerAssigned)
    INCLUDE (LeaseExpiresAt, StartTime)
    WHERE Status = 'InProgress';

-- Rotation: finished rows by age.
CREATE NONCLUSTERED INDEX IX_FileControl_Finished
    ON stage.FileControl (EndTime)
    WHERE Status IN ('Completed', 'Failed', 'Cancelled');

CREATE TABLE stage.ProcessLog
(
    LogID     bigint        IDENTITY(1, 1) NOT NULL,
    ProcessID bigint        NULL,  -- no FK: log rows outlive their process until rotation
    Message   nvarchar(500) NOT NULL,
    LogLevel  varchar(10)   NOT NULL CONSTRAINT DF_ProcessLog_LogLevel DEFAULT ('Info'),
    LogTime   datetime2(3)  NOT NULL CONSTRAINT DF_ProcessLog_LogTime  DEFAULT (SYSUTCDATETIME()),
    Detail    nvarchar(max) NULL,  -- long text: captured output, a message longer than 500
    CONSTRAINT PK_ProcessLog PRIMARY KEY CLUSTERED (LogID),
    CONSTRAINT CK_ProcessLog_LogLevel
        CHECK (LogLevel COLLATE Latin1_General_BIN2 IN ('Info', 'Warning', 'Error'))
);

CREATE NONCLUSTERED INDEX IX_ProcessLog_Process ON stage.ProcessLog (ProcessID, LogID);
CREATE NONCLUSTERED INDEX IX_ProcessLog_Time    ON stage.ProcessLog (LogTime);

-- History twins: the same columns, plain keys, no identity, defaults, CHECKs, FKs or
-- triggers, because RotateHistory fills them with DELETE ... OUTPUT INTO, which allows
-- none of those on its target. PAGE compression: written once, read rarely.
CREATE TABLE stage.FileControl_History
(
    ProcessID       bigint        NOT NULL,
    ProcessName     nvarchar(255) NOT NULL,
    Status          varchar(20)   NOT NULL,
    CreatedAt       datetime2(3)  NOT NULL,
    WorkerAssigned  nvarchar(255) NULL,
    StartTime       datetime2(3)  NULL,
    EndTime         datetime2(3)  NULL,
    Parameters      nvarchar(max) NULL,
    TaskID          int           NULL,
    ScheduledFor    datetime2(3)  NULL,
    Attempt         int           NOT NULL,
    MaxAttempts     int           NOT NULL,
    RunAfter        datetime2(3)  NOT NULL,
    LeaseExpiresAt  datetime2(3)  NULL,
    HeartbeatAt     datetime2(3)  NULL,
    ExitCode        int           NULL,
    CancelRequested bit           NOT NULL,
    OverlapPolicy   varchar(20)   NOT NULL,
    Executor        varchar(10)   NOT NULL,
    CONSTRAINT PK_FileControl_History PRIMARY KEY CLUSTERED (ProcessID)
        WITH (DATA_COMPRESSION = PAGE)
);

CREATE NONCLUSTERED INDEX IX_FileControl_History_EndTime
    ON stage.FileControl_History (EndTime)
    WITH (DATA_COMPRESSION = PAGE);

CREATE TABLE stage.ProcessLog_History
(
    LogID     bigint        NOT NULL,
    ProcessID bigint        NULL,
    Message   nvarchar(500) NOT NULL,
    LogLevel  varchar(10)   NOT NULL,
    LogTime   datetime2(3)  NOT NULL,
    Detail    nvarchar(max) NULL,
    CONSTRAINT PK_ProcessLog_History PRIMARY KEY CLUSTERED (LogID)
        WITH (DATA_COMPRESSION = PAGE)
);

CREATE NONCLUSTERED INDEX IX_ProcessLog_History_Process
    ON stage.ProcessLog_History (ProcessID, LogID)
    WITH (DATA_COMPRESSION = PAGE);

CREATE NONCLUSTERED INDEX IX_ProcessLog_History_Time
    ON stage.ProcessLog_History (LogTime)
    WITH (DATA_COMPRESSION = PAGE);
