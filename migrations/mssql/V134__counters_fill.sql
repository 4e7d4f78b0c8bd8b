-- stagehand: the initial fill: count the rows stage.FileControl holds already (a live
-- database upgrades with rows in it). The trigger (V132) is in place, and RecountCounters
-- drops whatever it counted since, under its locks, so the totals are exact from here on.
-- (A T-SQL trigger must be alone in its batch and a migration is one batch, so the fill
-- cannot share the trigger's file; on PostgreSQL the files are split the same way.)
EXEC stage.RecountCounters;
