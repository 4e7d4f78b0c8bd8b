-- stagehand: stage.WorkerStatistics, per worker name, how many runs it finished and how
-- long they took (EndTime - StartTime, in seconds). Finished runs still in
-- stage.FileControl only: rotation moves older ones to history.
CREATE OR ALTER VIEW stage.WorkerStatistics
AS
SELECT fc.WorkerAssigned,
       COUNT_BIG(*) AS ProcessesDone,
       -- milliseconds as float: datetime2(3) precision, no integer rounding of the average
       AVG(CAST(DATEDIFF_BIG(MILLISECOND, fc.StartTime, fc.EndTime) AS float)) / 1000.0 AS AvgDurationSeconds,
       MAX(CAST(DATEDIFF_BIG(MILLISECOND, fc.StartTime, fc.EndTime) AS float)) / 1000.0 AS MaxDurationSeconds
FROM stage.FileControl AS fc
WHERE fc.Status IN ('Completed', 'Failed', 'Cancelled')
  AND fc.WorkerAssigned IS NOT NULL
GROUP BY fc.WorkerAssigned;
