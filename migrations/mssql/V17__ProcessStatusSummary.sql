-- stagehand: stage.ProcessStatusSummary, how many runs the queue (stage.FileControl) holds
-- per status; one row per status present. Rotated runs (the *_History tables) are not counted.
CREATE OR ALTER VIEW stage.ProcessStatusSummary
AS
SELECT fc.Status,
       COUNT_BIG(*) AS ProcessCount
FROM stage.FileControl AS fc
GROUP BY fc.Status;
