-- stage.ProcessStatusSummary: how many processes are in each status (one row per status
-- present), the first thing to look at when the queue seems stuck.
CREATE OR REPLACE VIEW stage.ProcessStatusSummary AS
SELECT f.Status,
       count(*) AS ProcessCount
FROM stage.FileControl AS f
GROUP BY f.Status;
