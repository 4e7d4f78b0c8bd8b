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

-- stage.TableSpace (V130) shows stagehand's tables as SQL Server spells them (the catalog
-- folds names to lower case): it learns LogPolicy here, with the table. (SQL Server's
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
                      ('LogPolicy'), ('ProcessCounter'), ('ProcessCounterTotal'), ('ProcessLog'),
                      ('ProcessLog_History'), ('ScheduleVersion'), ('Task'), ('TaskNotify'),
                      ('TaskNotifyTarget'), ('TaskTrigger')) AS n(name)
           ON lower(n.name) = c.relname
    LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
    WHERE c.relnamespace = 'stage'::regnamespace
      AND c.relkind IN ('r', 'p')
    ORDER BY c.relname;
END;
$$;
