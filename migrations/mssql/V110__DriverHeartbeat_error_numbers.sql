-- stagehand: stage.DriverHeartbeat with error numbers of its own (51400..51407). V35
-- threw 50080..50087, which CancelProcess (50080) and RetryProcess (50081, 50082) also
-- use; the behaviour is unchanged. SQL Server only: PostgreSQL errors carry no numbers.
CREATE OR ALTER PROCEDURE stage.DriverHeartbeat
    @DriverName   nvarchar(4000),         -- wider than the column: a long name is rejected, never cut
    @HostName     nvarchar(4000) = NULL,
    @ProcessId    int            = NULL,
    @Version      nvarchar(4000) = NULL,
    @Workers      int            = 0,
    @ClockEnabled bit            = 0,
    @LeaseSeconds int            = 60,
    @State        nvarchar(10)   = N'running'
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @DriverName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @DriverName) = 0
            THROW 51400, N'DriverName must not be NULL or empty', 1;
        -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
        IF DATALENGTH(@DriverName) / 2 > 255
            THROW 51401, N'DriverName is longer than 255 characters', 1;
        IF DATALENGTH(@HostName) / 2 > 255
            THROW 51402, N'HostName is longer than 255 characters', 1;
        IF DATALENGTH(@Version) / 2 > 50
            THROW 51403, N'Version is longer than 50 characters', 1;
        IF @Workers IS NULL OR @Workers < 0
            THROW 51404, N'Workers must be 0 or more', 1;
        IF @ClockEnabled IS NULL
            THROW 51405, N'ClockEnabled must not be NULL', 1;
        IF @LeaseSeconds IS NULL OR @LeaseSeconds < 1
            THROW 51406, N'LeaseSeconds must be at least 1', 1;
        -- Exact case (BIN2); = ignores trailing blanks, so DATALENGTH catches them.
        IF @State IS NULL OR @State COLLATE Latin1_General_BIN2 NOT IN (N'starting', N'running', N'stopping', N'stopped')
           OR DATALENGTH(@State) <> DATALENGTH(RTRIM(@State))
            THROW 51407, N'State must be one of starting, running, stopping, stopped', 1;

        DECLARE @Now      datetime2(3) = SYSUTCDATETIME();
        DECLARE @Stopping bit          = CASE WHEN @State = N'stopping' THEN 1 ELSE 0 END;

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION DriverHeartbeat;

        IF @State = N'stopped'
            DELETE FROM stage.Driver WHERE DriverName = @DriverName;
        ELSE
        BEGIN
            IF @State = N'starting'
                DELETE FROM stage.Driver
                WHERE LastSeenAt < DATEADD(DAY, -7, @Now) AND DriverName <> @DriverName;

            -- Upsert: the key range stays locked (UPDLOCK, SERIALIZABLE) between the
            -- UPDATE that finds nothing and the INSERT.
            UPDATE d
            SET    HostName     = @HostName,
                   ProcessId    = @ProcessId,
                   Version      = @Version,
                   StartedAt    = CASE WHEN @State = N'starting' THEN @Now ELSE d.StartedAt END,
                   LastSeenAt   = @Now,
                   Workers      = @Workers,
                   ClockEnabled = @ClockEnabled,
                   Stopping     = @Stopping,
                   LeaseSeconds = @LeaseSeconds
            FROM stage.Driver AS d WITH (UPDLOCK, SERIALIZABLE)
            WHERE d.DriverName = @DriverName;

            IF @@ROWCOUNT = 0
                INSERT stage.Driver (DriverName, HostName, ProcessId, Version, StartedAt, LastSeenAt,
                                     Workers, ClockEnabled, Stopping, LeaseSeconds)
                VALUES (@DriverName, @HostName, @ProcessId, @Version, @Now, @Now,
                        @Workers, @ClockEnabled, @Stopping, @LeaseSeconds);
        END;

        IF @TranCount = 0
            COMMIT TRANSACTION;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION DriverHeartbeat;
        THROW;
    END CATCH;
END;
