-- stagehand: stage.ProcessCounterKey (internal, granted to nobody): what one
-- stage.FileControl row counts for, the one rule TR_FileControl_Count (V132) and
-- stage.RecountCounters (V133) share: its key (PerWorker, WorkerAssigned), whether it has
-- a duration (Timed 0/1) and the duration in microseconds (0 when none or not PerWorker).
-- @DurationMicros is the row's computed DurationMicros (V130). Inline, so the optimizer
-- expands it into the caller's statement.
CREATE OR ALTER FUNCTION stage.ProcessCounterKey (
    @Status         varchar(20),
    @WorkerAssigned nvarchar(255),
    @DurationMicros bigint
)
RETURNS TABLE
AS
RETURN
    SELECT k.PerWorker,
           CAST(CASE WHEN k.PerWorker = 1 THEN @WorkerAssigned ELSE N'' END AS nvarchar(255)) AS WorkerAssigned,
           CAST(CASE WHEN k.PerWorker = 1 AND @DurationMicros IS NOT NULL THEN 1 ELSE 0 END AS bigint) AS Timed,
           CASE WHEN k.PerWorker = 1 THEN ISNULL(@DurationMicros, 0) ELSE CAST(0 AS bigint) END AS DurationMicros
    FROM (SELECT CAST(CASE WHEN @Status IN ('Completed', 'Failed', 'Cancelled') AND @WorkerAssigned IS NOT NULL
                           THEN 1 ELSE 0 END AS bit) AS PerWorker) AS k;
