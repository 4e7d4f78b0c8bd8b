-- stagehand: the minimum log level, which rows the procedures write to stage.ProcessLog.
-- The seed design asks to keep logging to the important events; at Info (the default, as
-- before) every row is kept, at Warning the Info rows (Registered, Completed, a run's
-- stdout...) are not written, at Error only errors are. One level for the whole database
-- (stage.LogPolicy, set with stage.SetMinLogLevel, V158), and a task's own in its JSON
-- (`minLogLevel`, Task.MinLogLevel, V156) over it. Every procedure that writes log rows
-- asks stage.LogKept (V157) at the moment it writes, so a change applies at once, also to
-- runs already queued. A row that is not kept is not written at all (nothing to purge).
CREATE TABLE stage.LogPolicy
(
    PolicyID    smallint     NOT NULL CONSTRAINT DF_LogPolicy_PolicyID    DEFAULT (1),
    MinLogLevel varchar(10)  NOT NULL CONSTRAINT DF_LogPolicy_MinLogLevel DEFAULT ('Info'),
    UpdatedAt   datetime2(3) NOT NULL CONSTRAINT DF_LogPolicy_UpdatedAt   DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_LogPolicy PRIMARY KEY CLUSTERED (PolicyID),
    CONSTRAINT CK_LogPolicy_One CHECK (PolicyID = 1),
    -- Code columns compare case-sensitively (as V2's).
    CONSTRAINT CK_LogPolicy_MinLogLevel
        CHECK (MinLogLevel COLLATE Latin1_General_BIN2 IN ('Info', 'Warning', 'Error'))
);

INSERT stage.LogPolicy (PolicyID) VALUES (1);
