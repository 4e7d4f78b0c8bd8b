-- stagehand: PurgeNotifications (V100) is upkeep, like RotateHistory: stage_admin's.
GRANT EXECUTE ON stage.PurgeNotifications TO stage_admin;
