-- The initial fill: count the rows stage.FileControl holds already (a live database
-- upgrades with rows in it). The triggers (V132) are in place, and RecountCounters drops
-- whatever they counted since, under its lock, so the totals are exact from here on.
SELECT * FROM stage.RecountCounters();
