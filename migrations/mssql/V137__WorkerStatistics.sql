-- stagehand: stage.WorkerStatistics, third version: the same columns and meaning as V56,
-- without a scan of stage.FileControl. ProcessesDone and AvgDurationSeconds come from the
-- counters (V130): the count, and the total of the durations over the runs that have one
-- (exact microseconds, so the average is total / count, as AVG computed it).
-- MaxDurationSeconds is read per worker from IX_FileControl_WorkerDuration (V130), one
-- backward seek each (a maximum cannot be a counter: rotation deletes the longest run).
-- REPEATABLEREAD on the counters: see stage.RollUpCounters (V135).
CREATE OR ALTER VIEW stage.WorkerStatistics
AS
SELECT w.WorkerAssigned,
       w.ProcessesDone,
       w.AvgDurationSeconds,
       m.MaxDurationSeconds
FROM (SELECT c.WorkerAssigned,
             SUM(c.Processes) AS ProcessesDone,
             CAST(SUM(c.DurationMicros) AS float) / NULLIF(SUM(c.Timed), 0) / 1000000.0 AS AvgDurationSeconds
      FROM (SELECT t.WorkerAssigned, t.Processes, t.Timed, t.DurationMicros
            FROM stage.ProcessCounterTotal AS t WITH (REPEATABLEREAD)
            WHERE t.PerWorker = 1
            UNION ALL
            SELECT d.WorkerAssigned, d.Processes, d.Timed, d.DurationMicros
            FROM stage.ProcessCounter AS d WITH (REPEATABLEREAD)
            WHERE d.PerWorker = 1) AS c
      GROUP BY c.WorkerAssigned
      HAVING SUM(c.Processes) > 0) AS w
OUTER APPLY (
    SELECT TOP (1) CAST(f.DurationMicros AS float) / 1000000.0 AS MaxDurationSeconds
    FROM stage.FileControl AS f
    WHERE f.WorkerAssigned = w.WorkerAssigned
      AND f.DurationMicros IS NOT NULL
    ORDER BY f.DurationMicros DESC
) AS m;
