-- stagehand: stage.ProcessStatusSummary, second version: the same columns, read from the
-- counters (V130: totals plus pending deltas) instead of a scan of stage.FileControl, so
-- it costs the same at any table size. Exact: the counters change in the transaction of
-- every change of FileControl (V132). One row per status present. REPEATABLEREAD on both
-- tables: see stage.RollUpCounters (V135) for why a reader and a rollup stay consistent.
CREATE OR ALTER VIEW stage.ProcessStatusSummary
AS
SELECT c.Status,
       SUM(c.Processes) AS ProcessCount
FROM (SELECT t.Status, t.Processes
      FROM stage.ProcessCounterTotal AS t WITH (REPEATABLEREAD)
      UNION ALL
      SELECT d.Status, d.Processes
      FROM stage.ProcessCounter AS d WITH (REPEATABLEREAD)) AS c
GROUP BY c.Status
HAVING SUM(c.Processes) > 0;
