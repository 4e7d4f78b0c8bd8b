-- stagehand: grants for notifications (V70..V77). Drivers run as stage_worker: they claim
-- and complete deliveries. Readers see the settings and the outstanding and past
-- notifications (the targets are in stage.Task.Definition, which they read already).
-- EnqueueMissedNotification is internal: granted to nobody.
GRANT EXECUTE ON stage.ClaimNotifications   TO stage_worker;
GRANT EXECUTE ON stage.CompleteNotification TO stage_worker;

GRANT SELECT ON stage.PendingNotifications TO stage_reader;
GRANT SELECT ON stage.Notification         TO stage_reader;
GRANT SELECT ON stage.TaskNotify           TO stage_reader;
GRANT SELECT ON stage.TaskNotifyTarget     TO stage_reader;
