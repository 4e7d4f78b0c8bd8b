-- stagehand: stage.Heartbeat, the driver's lease renewal. Extends the lease of every listed
-- process the worker (or one of its slots, 'worker/slot') still holds, and tells it which
-- ones it no longer holds and which ones it was asked to cancel (killPrevious).
CREATE OR ALTER PROCEDURE stage.Heartbeat
    @WorkerName   nvarchar(4000),   -- wider than the column, so a long name is never cut into a shorter one
    @ProcessIDs   nvarchar(max),    -- JSON array of ProcessIDs
    @LeaseSeconds int = 60
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- This procedure begins no transaction: it rolls one back only when its callee left one
    -- open and there was none before, never a caller's (that would raise error 266 there).
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @WorkerName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @WorkerName) = 0
            THROW 50050, N'WorkerName must not be NULL or empty', 1;
        IF @LeaseSeconds IS NULL OR @LeaseSeconds < 1
            THROW 50051, N'LeaseSeconds must be at least 1', 1;
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term. Wrapped in [...], the value's own JSON
        -- type shows (4 = array).
        IF @ProcessIDs IS NULL OR ISJSON(@ProcessIDs) = 0
            THROW 50052, N'ProcessIDs must be a JSON array of integers', 1;
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @ProcessIDs + N']') AS j) <> 4
            THROW 50052, N'ProcessIDs must be a JSON array of integers', 1;
        -- JSON numbers (type 2) written as integers of up to 18 digits: digits and a sign only.
        IF EXISTS (SELECT 1
                   FROM OPENJSON(@ProcessIDs) AS r
                   WHERE r.[type] <> 2
                      OR r.[value] LIKE N'%[^0-9-]%'
                      OR LEN(REPLACE(r.[value], N'-', N'')) > 18)
            THROW 50052, N'ProcessIDs must be a JSON array of integers', 1;

        DECLARE @Now          datetime2(3)   = SYSUTCDATETIME();
        DECLARE @SlotPrefix   nvarchar(4000) = @WorkerName + N'/';
        DECLARE @PrefixLength int            = DATALENGTH(@SlotPrefix) / 2;
        DECLARE @Requested TABLE (Ordinal int NOT NULL PRIMARY KEY, ProcessID bigint NOT NULL);
        DECLARE @Held      TABLE (ProcessID bigint NOT NULL PRIMARY KEY, CancelRequested bit NOT NULL);

        INSERT @Requested (Ordinal, ProcessID)
        SELECT CAST(r.[key] AS int), CAST(r.[value] AS bigint)
        FROM OPENJSON(@ProcessIDs) AS r;

        -- One statement, so no explicit transaction. LEFT(...) instead of LIKE: a worker
        -- name may contain LIKE wildcards (%, _, [).
        UPDATE fc
        SET    LeaseExpiresAt = DATEADD(SECOND, @LeaseSeconds, @Now),
               HeartbeatAt    = @Now
        OUTPUT inserted.ProcessID, inserted.CancelRequested INTO @Held (ProcessID, CancelRequested)
        FROM stage.FileControl AS fc WITH (FORCESEEK)
        WHERE fc.ProcessID IN (SELECT r.ProcessID FROM @Requested AS r)
          AND fc.Status = 'InProgress'
          AND (   fc.WorkerAssigned = @WorkerName
               OR LEFT(fc.WorkerAssigned, @PrefixLength) = @SlotPrefix);

        -- One row per requested id, in the order asked; CancelRequested only for held runs
        -- (a run no longer held is to be stopped anyway).
        SELECT r.ProcessID,
               CAST(CASE WHEN h.ProcessID IS NULL THEN 0 ELSE 1 END AS bit) AS Held,
               CAST(ISNULL(h.CancelRequested, 0) AS bit) AS CancelRequested
        FROM @Requested AS r
        LEFT JOIN @Held AS h
               ON h.ProcessID = r.ProcessID
        ORDER BY r.Ordinal;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
