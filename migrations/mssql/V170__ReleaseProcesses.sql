-- stagehand: V170: the minimum log level (V154..V158) applies to its Warning rows: each
-- is written only when stage.LogKept keeps it for the run's task (@Released also keeps
-- TaskID for that). Otherwise as V28.
-- stage.ReleaseProcesses, a driver shutting down hands back the runs it could not
-- finish. Each one it (or one of its slots, 'worker/slot') still holds goes back to Pending
-- with its attempt given back: the run was interrupted, not failed. A Warning log row each.
CREATE OR ALTER PROCEDURE stage.ReleaseProcesses
    @WorkerName nvarchar(4000),        -- wider than the column: a long name is rejected, never cut
    @ProcessIDs nvarchar(max),         -- JSON array of ProcessIDs
    @Message    nvarchar(4000) = NULL  -- the log rows' text (at most 500 characters, never cut)
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @WorkerName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @WorkerName) = 0
            THROW 50061, N'WorkerName must not be NULL or empty', 1;
        -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
        IF DATALENGTH(@WorkerName) / 2 > 255
            THROW 50062, N'WorkerName is longer than 255 characters', 1;
        IF DATALENGTH(@Message) / 2 > 500
            THROW 50063, N'Message is longer than 500 characters', 1;
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term. Wrapped in [...], the value's own JSON
        -- type shows (4 = array).
        IF @ProcessIDs IS NULL OR ISJSON(@ProcessIDs) = 0
            THROW 50064, N'ProcessIDs must be a JSON array of integers', 1;
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @ProcessIDs + N']') AS j) <> 4
            THROW 50064, N'ProcessIDs must be a JSON array of integers', 1;
        -- JSON numbers (type 2) written as integers of up to 18 digits: digits and a sign only
        -- (as Heartbeat).
        IF EXISTS (SELECT 1
                   FROM OPENJSON(@ProcessIDs) AS r
                   WHERE r.[type] <> 2
                      OR r.[value] LIKE N'%[^0-9-]%'
                      OR LEN(REPLACE(r.[value], N'-', N'')) > 18)
            THROW 50064, N'ProcessIDs must be a JSON array of integers', 1;

        DECLARE @Now          datetime2(3)   = SYSUTCDATETIME();
        -- NULL or only blanks (space, tab, LF, CR): the default text; any other text as given.
        DECLARE @Text         nvarchar(500)  =
            CASE WHEN PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @Message) > 0
                 THEN @Message ELSE N'Released by driver shutdown' END;
        DECLARE @SlotPrefix   nvarchar(4000) = @WorkerName + N'/';
        DECLARE @PrefixLength int            = DATALENGTH(@SlotPrefix) / 2;
        DECLARE @Requested TABLE (Ordinal int NOT NULL PRIMARY KEY, ProcessID bigint NOT NULL);
        DECLARE @Released  TABLE (ProcessID bigint NOT NULL PRIMARY KEY, TaskID int NULL);

        INSERT @Requested (Ordinal, ProcessID)
        SELECT CAST(r.[key] AS int), CAST(r.[value] AS bigint)
        FROM OPENJSON(@ProcessIDs) AS r;

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION ReleaseProcesses;

        -- The same owner match as Heartbeat. LEFT(...) instead of LIKE: a worker name may
        -- contain LIKE wildcards (%, _, [).
        UPDATE fc
        SET    Status         = 'Pending',
               WorkerAssigned = NULL,
               StartTime      = NULL,
               LeaseExpiresAt = NULL,
               HeartbeatAt    = NULL,
               Attempt        = CASE WHEN fc.Attempt > 0 THEN fc.Attempt - 1 ELSE 0 END
        OUTPUT inserted.ProcessID, inserted.TaskID INTO @Released (ProcessID, TaskID)
        FROM stage.FileControl AS fc WITH (FORCESEEK)
        WHERE fc.ProcessID IN (SELECT r.ProcessID FROM @Requested AS r)
          AND fc.Status = 'InProgress'
          AND (   fc.WorkerAssigned = @WorkerName
               OR LEFT(fc.WorkerAssigned, @PrefixLength) = @SlotPrefix);

        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
        SELECT r.ProcessID, @Text, 'Warning', @Now
        FROM @Released AS r
        CROSS APPLY stage.LogKept('Warning', r.TaskID) AS k
        ORDER BY r.ProcessID;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        -- One row per requested id, in the order asked.
        SELECT r.ProcessID,
               CAST(CASE WHEN x.ProcessID IS NULL THEN 0 ELSE 1 END AS bit) AS Released
        FROM @Requested AS r
        LEFT JOIN @Released AS x
               ON x.ProcessID = r.ProcessID
        ORDER BY r.Ordinal;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION ReleaseProcesses;
        THROW;
    END CATCH;
END;
