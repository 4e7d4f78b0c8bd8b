-- Counters behind the monitoring views (ProcessStatusSummary, WorkerStatistics), so that
-- they read a few dozen rows instead of scanning stage.FileControl (26 M finished rows at
-- six months of retention). Hangfire's design (Counter / AggregatedCounter):
-- - stage.ProcessCounter: insert-only deltas. TR_FileControl_Count (V132) adds one
--   set-based INSERT per statement that changes FileControl, in that statement's
--   transaction, so no hot counter row serialises concurrent claims and completions.
-- - stage.ProcessCounterTotal: the deltas rolled up (stage.RollUpCounters, V135) by
--   (Status, PerWorker, WorkerAssigned).
-- A reader sums the totals and the pending deltas: exact with or without rollups.
-- Key: Status for every row; finished rows with a worker (what WorkerStatistics counts)
-- also by worker (PerWorker true, WorkerAssigned the worker), the others under
-- (PerWorker false, WorkerAssigned ''). Timed and DurationMicros: the rows with a duration
-- (EndTime - COALESCE(CommandStartedAt, StartTime), in whole microseconds: exact sums, so
-- the average is total / count) and their total; counted for PerWorker rows only.
CREATE TABLE IF NOT EXISTS stage.ProcessCounter (
    CounterID      bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT PK_ProcessCounter PRIMARY KEY,
    Status         varchar(20)  NOT NULL,
    PerWorker      boolean      NOT NULL,
    WorkerAssigned varchar(255) NOT NULL,
    Processes      bigint       NOT NULL,
    Timed          bigint       NOT NULL,
    DurationMicros bigint       NOT NULL
);

CREATE TABLE IF NOT EXISTS stage.ProcessCounterTotal (
    Status         varchar(20)  NOT NULL,
    PerWorker      boolean      NOT NULL,
    WorkerAssigned varchar(255) NOT NULL,
    Processes      bigint       NOT NULL,
    Timed          bigint       NOT NULL,
    DurationMicros bigint       NOT NULL,
    CONSTRAINT PK_ProcessCounterTotal PRIMARY KEY (Status, PerWorker, WorkerAssigned)
);

-- MaxDurationSeconds cannot be a counter (rotation deletes the longest run and a maximum
-- cannot be decremented): this index makes each worker's maximum one backward seek.
CREATE INDEX IF NOT EXISTS IX_FileControl_WorkerDuration
    ON stage.FileControl (WorkerAssigned, (EndTime - COALESCE(CommandStartedAt, StartTime)))
    WHERE Status IN ('Completed', 'Failed', 'Cancelled') AND WorkerAssigned IS NOT NULL;

-- stage.TableSpace (V70) shows stagehand's tables as SQL Server spells them (the catalog
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
                      ('ProcessCounter'), ('ProcessCounterTotal'), ('ProcessLog'),
                      ('ProcessLog_History'), ('ScheduleVersion'), ('Task'), ('TaskNotify'),
                      ('TaskNotifyTarget'), ('TaskTrigger')) AS n(name)
           ON lower(n.name) = c.relname
    LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
    WHERE c.relnamespace = 'stage'::regnamespace
      AND c.relkind IN ('r', 'p')
    ORDER BY c.relname;
END;
$$;
