-- stagehand: stage.Heartbeat, the driver's lease renewal. Extends the lease of every listed
-- process the worker (or one of its slots, 'worker/slot') still holds, and tells it which
-- ones it no longer holds and which ones it was asked to cancel (killPrevious).
CREATE OR ALTER PROCEDURE stage.Heartbeat
    @WorkerName   nvarchar(4000),   -- wider than the column: a long name is rejected, never cut
    @ProcessIDs   nvarchar(max),    -- JSON array of ProcessIDs
    @LeaseSeconds int = 60
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @WorkerName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @WorkerName) = 0
            THROW 50050, N'WorkerName must not be NULL or empty', 1;
        -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
        IF DATALENGTH(@WorkerName) / 2 > 255
            THROW 50051, N'WorkerName is longer than 255 characters', 1;
        IF @LeaseSeconds IS NULL OR @LeaseSeconds < 1
            THROW 50052, N'LeaseSeconds must be at least 1', 1;
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term. Wrapped in [...], the value's own JSON
        -- type shows (4 = array).
        IF @ProcessIDs IS NULL OR ISJSON(@ProcessIDs) = 0
            THROW 50053, N'ProcessIDs must be a JSON array of process ids', 1;
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @ProcessIDs + N']') AS j) <> 4
            THROW 50053, N'ProcessIDs must be a JSON array of process ids', 1;

        DECLARE @Now          datetime2(3)   = SYSUTCDATETIME();
        DECLARE @Problem      nvarchar(2048);
        DECLARE @SlotPrefix   nvarchar(4000) = @WorkerName + N'/';
        DECLARE @PrefixLength int            = DATALENGTH(@SlotPrefix) / 2;
        DECLARE @Requested TABLE (Ordinal int NOT NULL PRIMARY KEY, ProcessID bigint NULL);
        DECLARE @Held      TABLE (ProcessID bigint NOT NULL PRIMARY KEY, CancelRequested bit NOT NULL);

        -- A JSON number or numeric string; anything else (null, true, 1.5, objects) is NULL here.
        INSERT @Requested (Ordinal, ProcessID)
        SELECT CAST(r.[key] AS int), TRY_CAST(r.[value] AS bigint)
        FROM OPENJSON(@ProcessIDs) AS r;

        SELECT TOP (1) @Problem = CONCAT(N'ProcessIDs[', r.Ordinal, N'] is not a process id')
        FROM @Requested AS r
        WHERE r.ProcessID IS NULL
        ORDER BY r.Ordinal;
        IF @Problem IS NOT NULL
            THROW 50054, @Problem, 1;

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

        -- One row per requested id, in the order asked; CancelRequested as the row has it.
        SELECT r.ProcessID,
               CAST(CASE WHEN h.ProcessID IS NULL THEN 0 ELSE 1 END AS bit) AS Held,
               CAST(COALESCE(h.CancelRequested, fc.CancelRequested, 0) AS bit) AS CancelRequested
        FROM @Requested AS r
        LEFT JOIN @Held AS h
               ON h.ProcessID = r.ProcessID
        LEFT JOIN stage.FileControl AS fc
               ON fc.ProcessID = r.ProcessID
              AND h.ProcessID IS NULL
        ORDER BY r.Ordinal;
    END TRY
    BEGIN CATCH
        IF XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
