-- stagehand: PurgeNotifications (V100) is upkeep, like RotateHistory: stage_admin's.
GRANT EXECUTE ON FUNCTION stage.PurgeNotifications(integer, integer) TO stage_admin;
