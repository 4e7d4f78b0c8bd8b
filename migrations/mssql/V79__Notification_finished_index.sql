-- stagehand: the purge seek (PurgeNotifications, V100): delivered and given-up
-- notifications by age, so the table does not grow without bound.
CREATE NONCLUSTERED INDEX IX_Notification_Finished
    ON stage.Notification (CreatedAt, NotificationID)
    WHERE Status IN ('Delivered', 'Failed');
