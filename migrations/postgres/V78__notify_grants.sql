-- Grants for notifications (V70..V77). Drivers run as stage_worker: they claim and complete
-- deliveries. Readers see the settings and the outstanding and past notifications (the
-- targets are in stage.Task.Definition, which they read already).
GRANT EXECUTE ON FUNCTION
    stage.ClaimNotifications(text, integer, integer, boolean, boolean),
    stage.CompleteNotification(bigint, text, integer, boolean, text, integer, integer)
    TO stage_worker;

GRANT SELECT ON stage.PendingNotifications, stage.Notification, stage.TaskNotify,
                stage.TaskNotifyTarget
    TO stage_reader;
