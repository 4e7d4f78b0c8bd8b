-- stagehand: counters behind the monitoring views (ProcessStatusSummary, WorkerStatistics),
-- so that they read a few dozen rows instead of scanning stage.FileControl (26 M finished
-- rows at six months of retention). Hangfire's design (Counter / AggregatedCounter):
-- - stage.ProcessCounter: insert-only deltas. TR_FileControl_Count (V132) adds one
--   set-based INSERT per statement that changes FileControl, in that statement's
--   transaction, so no hot counter row serialises concurrent claims and completions.
-- - stage.ProcessCounterTotal: the deltas rolled up (stage.RollUpCounters, V135) by
--   (Status, PerWorker, WorkerAssigned).
-- A reader sums the totals and the pending deltas: exact with or without rollups.
-- Key: Status for every row; finished rows with a worker (what WorkerStatistics counts)
-- also by worker (PerWorker 1, WorkerAssigned the worker), the others under (PerWorker 0,
-- WorkerAssigned N''). Timed and DurationMicros: the rows with a duration and their total
-- in whole microseconds (exact sums, so the average is total / count); PerWorker rows only.
-- Lock escalation is off on both: a reader holds a row lock on each row it sums (V136),
-- and a table lock there would stop every writer of stage.FileControl.

-- Filtered indexes and indexed computed columns need these ON (as V2).
SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;

CREATE TABLE stage.ProcessCounter (
    CounterID      bigint        IDENTITY(1, 1) NOT NULL CONSTRAINT PK_ProcessCounter PRIMARY KEY CLUSTERED,
    Status         varchar(20)   NOT NULL,
    PerWorker      bit           NOT NULL,
    WorkerAssigned nvarchar(255) NOT NULL,
    Processes      bigint        NOT NULL,
    Timed          bigint        NOT NULL,
    DurationMicros bigint        NOT NULL
);

CREATE TABLE stage.ProcessCounterTotal (
    Status         varchar(20)   NOT NULL,
    PerWorker      bit           NOT NULL,
    WorkerAssigned nvarchar(255) NOT NULL,
    Processes      bigint        NOT NULL,
    Timed          bigint        NOT NULL,
    DurationMicros bigint        NOT NULL,
    CONSTRAINT PK_ProcessCounterTotal PRIMARY KEY CLUSTERED (Status, PerWorker, WorkerAssigned)
);
-- A constant statement through EXEC only because sqlfluff's tsql dialect (scripts/parse-tsql.sh)
-- cannot parse the LOCK_ESCALATION option; nothing in it comes from input.
EXEC (N'ALTER TABLE stage.ProcessCounter SET (LOCK_ESCALATION = DISABLE);
        ALTER TABLE stage.ProcessCounterTotal SET (LOCK_ESCALATION = DISABLE);');

-- The duration WorkerStatistics reports, of a finished run with a worker (NULL for any
-- other row): EndTime - COALESCE(CommandStartedAt, StartTime), in microseconds (exact for
-- datetime2(3)). Not persisted (adding it rewrites nothing); the index below stores it.
ALTER TABLE stage.FileControl ADD DurationMicros AS (
    CASE WHEN Status IN ('Completed', 'Failed', 'Cancelled') AND WorkerAssigned IS NOT NULL
         THEN DATEDIFF_BIG(MICROSECOND, COALESCE(CommandStartedAt, StartTime), EndTime)
    END);

-- MaxDurationSeconds cannot be a counter (rotation deletes the longest run and a maximum
-- cannot be decremented): this index makes each worker's maximum one backward seek. Not
-- filtered: a filtered index cannot hold a computed column; DurationMicros is NULL outside
-- the rows it serves.
CREATE NONCLUSTERED INDEX IX_FileControl_WorkerDuration
    ON stage.FileControl (WorkerAssigned, DurationMicros);
