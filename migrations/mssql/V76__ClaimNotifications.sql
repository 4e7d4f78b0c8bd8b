-- stagehand: stage.ClaimNotifications. A deliverer (a driver, or the Database Mail job of
-- sql/mssql/notifications_dbmail.sql) takes up to @MaxCount due notifications of the
-- channels it delivers: Pending ones whose NextAttemptAt has come, and Sending ones whose
-- lease ran out (their deliverer died; the attempt it made counts). Each becomes Sending,
-- ClaimedBy the caller, Attempt + 1, NextAttemptAt now + lease. UPDLOCK, READPAST: concurrent
-- deliverers never take one row twice, and the UPDATE checks the row again as locked.
-- Returns the claimed rows of stage.PendingNotifications, by NotificationID.
CREATE OR ALTER PROCEDURE stage.ClaimNotifications
    @DriverName   nvarchar(4000),
    @MaxCount     int = 10,
    @LeaseSeconds int = 60,
    @Webhooks     bit = 1,
    @Emails       bit = 1
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @DriverName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @DriverName) = 0
            THROW 51000, N'DriverName must not be NULL or empty', 1;
        -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
        IF DATALENGTH(@DriverName) / 2 > 255
            THROW 51001, N'DriverName is longer than 255 characters', 1;
        IF @MaxCount IS NULL OR @MaxCount < 1 OR @MaxCount > 1000
            THROW 51002, N'MaxCount must be between 1 and 1000', 1;
        IF @LeaseSeconds IS NULL OR @LeaseSeconds < 1
            THROW 51003, N'LeaseSeconds must be at least 1', 1;
        IF @Webhooks IS NULL
            THROW 51004, N'Webhooks must not be NULL', 1;
        IF @Emails IS NULL
            THROW 51005, N'Emails must not be NULL', 1;

        DECLARE @Now datetime2(3) = SYSUTCDATETIME();
        DECLARE @Candidate TABLE (NotificationID bigint NOT NULL PRIMARY KEY);
        DECLARE @Claimed TABLE (NotificationID bigint NOT NULL PRIMARY KEY);

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION ClaimNotifications;

        -- Seek on IX_Notification_Due; rows another deliverer holds are skipped.
        INSERT @Candidate (NotificationID)
        SELECT TOP (@MaxCount) n.NotificationID
        FROM stage.Notification AS n WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
        WHERE n.Status IN ('Pending', 'Sending')
          AND n.NextAttemptAt <= @Now
          AND ((@Webhooks = 1 AND n.Channel = 'webhook') OR (@Emails = 1 AND n.Channel = 'email'))
        ORDER BY n.NextAttemptAt, n.NotificationID;

        UPDATE n
        SET    Status        = 'Sending',
               ClaimedBy     = @DriverName,
               Attempt       = n.Attempt + 1,
               NextAttemptAt = DATEADD(SECOND, @LeaseSeconds, @Now)
        OUTPUT inserted.NotificationID INTO @Claimed (NotificationID)
        FROM stage.Notification AS n
        INNER JOIN @Candidate AS c
                ON c.NotificationID = n.NotificationID
        WHERE n.Status IN ('Pending', 'Sending')
          AND n.NextAttemptAt <= @Now;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT v.*
        FROM stage.PendingNotifications AS v
        INNER JOIN @Claimed AS c
                ON c.NotificationID = v.NotificationID
        ORDER BY v.NotificationID;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION ClaimNotifications;
        THROW;
    END CATCH;
END;
