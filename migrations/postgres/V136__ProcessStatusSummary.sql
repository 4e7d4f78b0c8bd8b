-- stage.ProcessStatusSummary, second version: the same columns, read from the counters
-- (V130: totals plus pending deltas) instead of a scan of stage.FileControl, so it costs
-- the same at any table size. Exact: the counters change in the transaction of every
-- change of FileControl (V132). One row per status present.
CREATE OR REPLACE VIEW stage.ProcessStatusSummary AS
SELECT c.Status,
       sum(c.Processes)::bigint AS ProcessCount
FROM (SELECT t.Status, t.Processes FROM stage.ProcessCounterTotal AS t
      UNION ALL
      SELECT d.Status, d.Processes FROM stage.ProcessCounter AS d) AS c
GROUP BY c.Status
HAVING sum(c.Processes) > 0;
