-- stage.WorkerStatistics, third version: the same columns and meaning as V56, without a
-- scan of stage.FileControl. ProcessesDone and AvgDurationSeconds come from the counters
-- (V130): the count, and the total of the durations over the runs that have one (exact
-- microseconds, so the average is total / count, as avg() computed it).
-- MaxDurationSeconds is read per worker from IX_FileControl_WorkerDuration (V130), one
-- backward index seek each (a maximum cannot be a counter: rotation deletes the longest run).
CREATE OR REPLACE VIEW stage.WorkerStatistics AS
SELECT w.WorkerAssigned,
       w.ProcessesDone,
       w.AvgDurationSeconds,
       (SELECT EXTRACT(EPOCH FROM max(f.EndTime - COALESCE(f.CommandStartedAt, f.StartTime)))::double precision
        FROM stage.FileControl AS f
        WHERE f.WorkerAssigned = w.WorkerAssigned AND f.WorkerAssigned IS NOT NULL
          AND f.Status IN ('Completed', 'Failed', 'Cancelled')) AS MaxDurationSeconds
FROM (SELECT c.WorkerAssigned,
             sum(c.Processes)::bigint AS ProcessesDone,
             (sum(c.DurationMicros)::double precision / NULLIF(sum(c.Timed), 0)::double precision / 1000000.0)
                 AS AvgDurationSeconds
      FROM (SELECT t.WorkerAssigned, t.Processes, t.Timed, t.DurationMicros
            FROM stage.ProcessCounterTotal AS t
            WHERE t.PerWorker
            UNION ALL
            SELECT d.WorkerAssigned, d.Processes, d.Timed, d.DurationMicros
            FROM stage.ProcessCounter AS d
            WHERE d.PerWorker) AS c
      GROUP BY c.WorkerAssigned
      HAVING sum(c.Processes) > 0) AS w;
