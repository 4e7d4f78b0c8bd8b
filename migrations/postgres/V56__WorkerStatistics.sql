-- stage.WorkerStatistics: per worker, how many finished processes it ran and how long
-- they took, in seconds, to spot slow or overloaded workers.
-- V56: a duration counts from when the command started (CommandStartedAt, V50), not from
-- the claim, whenever the completion reported it: EndTime - COALESCE(CommandStartedAt, StartTime).
CREATE OR REPLACE VIEW stage.WorkerStatistics AS
SELECT f.WorkerAssigned,
       count(*) AS ProcessesDone,
       avg(EXTRACT(EPOCH FROM f.EndTime - COALESCE(f.CommandStartedAt, f.StartTime)))::double precision
           AS AvgDurationSeconds,
       max(EXTRACT(EPOCH FROM f.EndTime - COALESCE(f.CommandStartedAt, f.StartTime)))::double precision
           AS MaxDurationSeconds
FROM stage.FileControl AS f
WHERE f.Status IN ('Completed', 'Failed', 'Cancelled')
  AND f.WorkerAssigned IS NOT NULL
GROUP BY f.WorkerAssigned;
