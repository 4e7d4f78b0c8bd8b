-- stagehand: stage.Driver, one row per running driver (`stagehand run`), kept fresh by its
-- presence heartbeat (stage.DriverHeartbeat, V35), so operators and stage.DriverStatus
-- (V36) can tell whether anything runs the clock and claims driver work. Instants are
-- datetime2(3) UTC.
CREATE TABLE stage.Driver
(
    DriverName   nvarchar(255) NOT NULL,  -- host/name, as in WorkerAssigned
    HostName     nvarchar(255) NULL,
    ProcessId    int           NULL,      -- the driver's operating-system process id
    Version      nvarchar(50)  NULL,
    StartedAt    datetime2(3)  NOT NULL CONSTRAINT DF_Driver_StartedAt    DEFAULT (SYSUTCDATETIME()),
    LastSeenAt   datetime2(3)  NOT NULL CONSTRAINT DF_Driver_LastSeenAt   DEFAULT (SYSUTCDATETIME()),
    Workers      int           NOT NULL CONSTRAINT DF_Driver_Workers      DEFAULT (0),
    ClockEnabled bit           NOT NULL CONSTRAINT DF_Driver_ClockEnabled DEFAULT (0),
    Stopping     bit           NOT NULL CONSTRAINT DF_Driver_Stopping     DEFAULT (0),  -- shutting down gracefully
    LeaseSeconds int           NOT NULL CONSTRAINT DF_Driver_LeaseSeconds DEFAULT (60),
    CONSTRAINT PK_Driver PRIMARY KEY CLUSTERED (DriverName),
    CONSTRAINT CK_Driver_Workers      CHECK (Workers >= 0),
    CONSTRAINT CK_Driver_LeaseSeconds CHECK (LeaseSeconds >= 1)
);
