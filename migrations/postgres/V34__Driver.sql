-- stage.Driver: one row per running driver (`stagehand run`), kept fresh by its presence
-- heartbeat (stage.DriverHeartbeat, V35), so operators and stage.DriverStatus (V36) can
-- tell whether anything runs the clock and claims driver work.
CREATE TABLE IF NOT EXISTS stage.Driver (
    DriverName   varchar(255) NOT NULL CONSTRAINT PK_Driver PRIMARY KEY,  -- host/name, as in WorkerAssigned
    HostName     varchar(255) NULL,
    ProcessId    integer      NULL,  -- the driver's operating-system process id
    Version      varchar(50)  NULL,
    StartedAt    timestamptz  NOT NULL DEFAULT now(),
    LastSeenAt   timestamptz  NOT NULL DEFAULT now(),
    Workers      integer      NOT NULL DEFAULT 0 CONSTRAINT CK_Driver_Workers CHECK (Workers >= 0),
    ClockEnabled boolean      NOT NULL DEFAULT false,
    Stopping     boolean      NOT NULL DEFAULT false,  -- shutting down gracefully: claims nothing new
    LeaseSeconds integer      NOT NULL DEFAULT 60 CONSTRAINT CK_Driver_LeaseSeconds CHECK (LeaseSeconds >= 1)
);
REVOKE ALL ON stage.Driver FROM PUBLIC;

-- stage.TableSpace (V14) shows stagehand's tables as SQL Server spells them (the catalog
-- folds names to lower case): it learns the new table here, with the table. (SQL Server's
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
    LEFT JOIN (VALUES ('Driver'), ('FileControl'), ('FileControl_History'), ('ProcessLog'),
                      ('ProcessLog_History'), ('ScheduleVersion'), ('Task'), ('TaskTrigger')) AS n(name)
           ON lower(n.name) = c.relname
    LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
    WHERE c.relnamespace = 'stage'::regnamespace
      AND c.relkind IN ('r', 'p')
    ORDER BY c.relname;
END;
$$;
