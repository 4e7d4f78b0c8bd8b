-- stagehand: stage.PurgeNotifications, deletes up to @BatchSize delivered or given-up
-- notifications created more than @RetentionMonths ago (one batch per call; the caller
-- calls again until Done). Outstanding ones (Pending, Sending) are never touched. The
-- driver's housekeeping and `stagehand rotate` call it after RotateHistory, with the same
-- retention. At most 4,000 rows per statement: below lock escalation. Rows another
-- session holds are skipped (READPAST), not waited for; deadlock priority LOW.
CREATE OR ALTER PROCEDURE stage.PurgeNotifications
    @RetentionMonths int = 6,
    @BatchSize       int = 1000
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    SET DEADLOCK_PRIORITY LOW;

    BEGIN TRY
        IF @RetentionMonths IS NULL OR @RetentionMonths < 0
            THROW 51006, N'RetentionMonths must be 0 or more', 1;
        IF @BatchSize IS NULL OR @BatchSize < 1 OR @BatchSize > 4000
            THROW 51007, N'BatchSize must be between 1 and 4000', 1;

        DECLARE @Now     datetime2(3) = SYSUTCDATETIME();
        -- A retention reaching back past year 1 would overflow DATEADD: nothing is that old.
        DECLARE @Cutoff  datetime2(3) =
            CASE WHEN @RetentionMonths < DATEDIFF(MONTH, '0001-01-01', @Now)
                 THEN DATEADD(MONTH, -@RetentionMonths, @Now)
                 ELSE '0001-01-01'
            END;
        DECLARE @Deleted bigint;

        -- Seek on IX_Notification_Finished; one statement, so no explicit transaction.
        DELETE TOP (@BatchSize)
        FROM stage.Notification WITH (ROWLOCK, READPAST)
        WHERE Status IN ('Delivered', 'Failed')
          AND CreatedAt < @Cutoff;
        SET @Deleted = @@ROWCOUNT;

        SELECT @Deleted AS Deleted,
               CAST(CASE WHEN @Deleted < @BatchSize THEN 1 ELSE 0 END AS bit) AS Done;
    END TRY
    BEGIN CATCH
        THROW;
    END CATCH;
END;
