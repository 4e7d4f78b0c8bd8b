-- stage.WorkerStatistics: per worker, how many finished processes it ran and how long
-- they took (EndTime - StartTime, in seconds), to spot slow or overloaded workers.
CREATE OR REPLACE VIEW stage.WorkerStatistics AS
SELECT f.WorkerAssigned,
       count(*) AS ProcessesDone,
       avg(EXTRACT(EPOCH FROM f.EndTime - f.StartTime))::double precision AS AvgDurationSeconds,
       max(EXTRACT(EPOCH FROM f.EndTime - f.StartTime))::double precision AS MaxDurationSeconds
FROM stage.FileControl AS f
WHERE f.Status IN ('Completed', 'Failed', 'Cancelled')
  AND f.WorkerAssigned IS NOT NULL
GROUP BY f.WorkerAssigned;
