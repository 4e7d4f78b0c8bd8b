-- stagehand: V172: the minimum log level (V154..V158) applies to its 'given up' row
-- through stage.LogKept with the notification's TaskID (its run's task; it outlives the
-- run). An Error row, so every level keeps it; the rule is applied all the same, in one
-- place. Otherwise as V77.
-- stage.CompleteNotification, what a deliverer reports after an attempt.
-- Accepted only from the deliverer holding the claim (Status Sending, ClaimedBy, Attempt as
-- claimed); otherwise nothing changes (a lease that ran out and was claimed again belongs to
-- the new claim). Delivered: Status Delivered, DeliveredAt now. Not delivered: LastError
-- (the first 4,000 characters of @Error), then, with Attempt < @MaxAttempts, Pending again at
-- now + @RetryDelaySeconds * 2^(Attempt-1) (capped at a day); else Failed, given up, with an
-- Error log row (on the run, when there is one):
-- `Notification <id> (<event>, <channel>) given up after <n> attempts: <error>`.
-- Returns one row `NotificationID, Accepted, Status` (Status NULL when there is no such row).
CREATE OR ALTER PROCEDURE stage.CompleteNotification
    @NotificationID    bigint,
    @DriverName        nvarchar(4000),
    @Attempt           int,
    @Delivered         bit,
    @Error             nvarchar(max) = NULL,
    @MaxAttempts       int           = 5,
    @RetryDelaySeconds int           = 30
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @NotificationID IS NULL
            THROW 51010, N'NotificationID must not be NULL', 1;
        IF @DriverName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @DriverName) = 0
            THROW 51011, N'DriverName must not be NULL or empty', 1;
        IF @Attempt IS NULL
            THROW 51012, N'Attempt must not be NULL', 1;
        IF @Delivered IS NULL
            THROW 51013, N'Delivered must not be NULL', 1;
        IF @MaxAttempts IS NULL OR @MaxAttempts < 1 OR @MaxAttempts > 100
            THROW 51014, N'MaxAttempts must be between 1 and 100', 1;
        IF @RetryDelaySeconds IS NULL OR @RetryDelaySeconds < 0 OR @RetryDelaySeconds > 86400
            THROW 51015, N'RetryDelaySeconds must be between 0 and 86400', 1;

        DECLARE @Now         datetime2(3)   = SYSUTCDATETIME();
        -- Blank is no error text (as PostgreSQL's btrim of space, tab, CR and LF).
        DECLARE @ErrorText   nvarchar(4000) =
            CASE WHEN PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @Error) > 0
                 THEN LEFT(@Error, 4000) END;
        DECLARE @Status      varchar(20);
        DECLARE @ClaimedBy   nvarchar(255);
        DECLARE @RowAttempt  int;
        DECLARE @ProcessID   bigint;
        DECLARE @TaskID      int;
        DECLARE @Event       varchar(20);
        DECLARE @Channel     varchar(10);
        DECLARE @Accepted    bit            = 0;
        DECLARE @Delay       float;
        DECLARE @Log         nvarchar(max);

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION CompleteNotification;

        SELECT @Status     = n.Status,
               @ClaimedBy  = n.ClaimedBy,
               @RowAttempt = n.Attempt,
               @ProcessID  = n.ProcessID,
               @TaskID     = n.TaskID,
               @Event      = n.Event,
               @Channel    = n.Channel
        FROM stage.Notification AS n WITH (UPDLOCK, ROWLOCK)
        WHERE n.NotificationID = @NotificationID;

        -- Exact comparison of the claimer, as on PostgreSQL.
        IF @Status = 'Sending'
           AND @ClaimedBy COLLATE Latin1_General_BIN2 = @DriverName COLLATE Latin1_General_BIN2
           AND DATALENGTH(@ClaimedBy) = DATALENGTH(@DriverName)
           AND @RowAttempt = @Attempt
        BEGIN
            SET @Accepted = 1;
            IF @Delivered = 1
            BEGIN
                UPDATE stage.Notification
                SET    Status = 'Delivered', DeliveredAt = @Now, LastError = NULL
                WHERE  NotificationID = @NotificationID;
                SET @Status = 'Delivered';
            END;
            ELSE IF @RowAttempt < @MaxAttempts
            BEGIN
                SET @Delay = @RetryDelaySeconds * POWER(CAST(2 AS float), CASE WHEN @RowAttempt > 1 THEN @RowAttempt - 1 ELSE 0 END);
                IF @Delay > 86400
                    SET @Delay = 86400;
                UPDATE stage.Notification
                SET    Status = 'Pending', LastError = @ErrorText,
                       NextAttemptAt = DATEADD(MILLISECOND, CAST(@Delay * 1000 AS int), @Now)
                WHERE  NotificationID = @NotificationID;
                SET @Status = 'Pending';
            END;
            ELSE
            BEGIN
                UPDATE stage.Notification
                SET    Status = 'Failed', LastError = @ErrorText
                WHERE  NotificationID = @NotificationID;
                SET @Status = 'Failed';
                SET @Log = CONCAT(N'Notification ', @NotificationID, N' (', @Event, N', ', @Channel,
                                  N') given up after ', @RowAttempt, N' attempts: ',
                                  COALESCE(@ErrorText, N'no error given'));
                INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime, Detail)
                SELECT @ProcessID, LEFT(@Log, 500), 'Error', @Now,
                       CASE WHEN LEN(@Log + N'x') - 1 > 500 THEN @Log END
                FROM stage.LogKept('Error', @TaskID) AS k;
            END;
        END;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT @NotificationID AS NotificationID, @Accepted AS Accepted, @Status AS Status;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION CompleteNotification;
        THROW;
    END CATCH;
END;
