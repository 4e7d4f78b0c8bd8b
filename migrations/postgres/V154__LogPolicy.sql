-- The minimum log level: which rows the routines write to stage.ProcessLog. The seed
-- design asks to keep logging to the important events; at Info (the default, as before)
-- every row is kept, at Warning the Info rows (Registered, Completed, a run's stdout...)
-- are not written, at Error only errors are. One level for the whole database
-- (stage.LogPolicy, set with stage.SetMinLogLevel, V158), and a task's own in its JSON
-- (`minLogLevel`, Task.MinLogLevel, V156) over it. Every routine that writes log rows asks
-- stage.LogKept (V157) at the moment it writes, so a change applies at once, also to
-- runs already queued. A row that is not kept is not written at all (nothing to purge).

CREATE TABLE IF NOT EXISTS stage.LogPolicy (
    PolicyID    smallint    NOT NULL DEFAULT 1
        CONSTRAINT PK_LogPolicy PRIMARY KEY
        CONSTRAINT CK_LogPolicy_One CHECK (PolicyID = 1),
    MinLogLevel varchar(10) NOT NULL DEFAULT 'Info'
        CONSTRAINT CK_LogPolicy_MinLogLevel CHECK (MinLogLevel IN ('Info', 'Warning', 'Error')),
    UpdatedAt   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO stage.LogPolicy (PolicyID) VALUES (1) ON CONFLICT DO NOTHING;

