-- stagehand: stage.WorkerStatistics, per worker name, how many runs it finished and how
-- long they took, in seconds. Finished runs still in stage.FileControl only: rotation
-- moves older ones to history.
-- V56: a duration counts from when the command started (CommandStartedAt, V50), not from
-- the claim, whenever the completion reported it: EndTime - COALESCE(CommandStartedAt, StartTime).
CREATE OR ALTER VIEW stage.WorkerStatistics
AS
SELECT fc.WorkerAssigned,
       COUNT_BIG(*) AS ProcessesDone,
       -- milliseconds as float: datetime2(3) precision, no integer rounding of the average
       AVG(CAST(DATEDIFF_BIG(MILLISECOND, COALESCE(fc.CommandStartedAt, fc.StartTime), fc.EndTime) AS float)) / 1000.0
           AS AvgDurationSeconds,
       MAX(CAST(DATEDIFF_BIG(MILLISECOND, COALESCE(fc.CommandStartedAt, fc.StartTime), fc.EndTime) AS float)) / 1000.0
           AS MaxDurationSeconds
FROM stage.FileControl AS fc
WHERE fc.Status IN ('Completed', 'Failed', 'Cancelled')
  AND fc.WorkerAssigned IS NOT NULL
GROUP BY fc.WorkerAssigned;
