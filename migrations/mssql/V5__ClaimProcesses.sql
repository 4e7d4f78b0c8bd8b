-- stagehand: stage.ClaimProcesses, the driver's pull model. Claims up to @MaxCount runnable
-- processes of Executor 'driver' for @WorkerName (or for its slots, 'worker/slot') with a
-- lease the worker renews through Heartbeat. The claim itself is stage.ClaimForWorkers.
CREATE OR ALTER PROCEDURE stage.ClaimProcesses
    @WorkerName   nvarchar(4000),        -- wider than the column: a long name is rejected, never cut
    @MaxCount     int           = 1,
    @LeaseSeconds int           = 60,
    @Slots        nvarchar(max) = NULL   -- JSON array of slot labels (strings or numbers)
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
            THROW 50020, N'WorkerName must not be NULL or empty', 1;
        -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
        IF DATALENGTH(@WorkerName) / 2 > 255
            THROW 50021, N'WorkerName is longer than 255 characters', 1;
        IF @MaxCount IS NULL OR @MaxCount < 1 OR @MaxCount > 1000
            THROW 50022, N'MaxCount must be between 1 and 1000', 1;
        IF @LeaseSeconds IS NULL OR @LeaseSeconds < 1
            THROW 50023, N'LeaseSeconds must be at least 1', 1;
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term. Wrapped in [...], the value's own JSON
        -- type shows (4 = array); labels are non-empty strings (type 1) or numbers (2).
        IF @Slots IS NOT NULL AND ISJSON(@Slots) = 0
            THROW 50024, N'Slots must be a JSON array of slot labels (non-empty strings or numbers)', 1;
        IF @Slots IS NOT NULL AND (SELECT j.[type] FROM OPENJSON(N'[' + @Slots + N']') AS j) <> 4
            THROW 50024, N'Slots must be a JSON array of slot labels (non-empty strings or numbers)', 1;
        IF EXISTS (SELECT 1 FROM OPENJSON(@Slots) AS s WHERE s.[type] NOT IN (1, 2) OR DATALENGTH(s.[value]) = 0)
            THROW 50024, N'Slots must be a JSON array of slot labels (non-empty strings or numbers)', 1;

        -- The k-th claimed process runs as the k-th name: @WorkerName @MaxCount times, or
        -- 'WorkerName/slot' for the first @MaxCount slots.
        DECLARE @Worker TABLE (Ordinal int NOT NULL PRIMARY KEY, WorkerName nvarchar(max) NOT NULL);

        -- Without slots: @WorkerName, @MaxCount times (a tally of 1 .. 1000 from digits).
        WITH Digit AS (SELECT d.n FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS d (n)),
             Tally AS (SELECT a.n * 100 + b.n * 10 + c.n + 1 AS n  -- 1 .. 1000
                       FROM Digit AS a CROSS JOIN Digit AS b CROSS JOIN Digit AS c)
        INSERT @Worker (Ordinal, WorkerName)
        SELECT t.n, @WorkerName
        FROM Tally AS t
        WHERE @Slots IS NULL
          AND t.n <= @MaxCount;

        -- With slots: the first @MaxCount labels, in array order (OPENJSON(NULL) is empty,
        -- so only one of the two inserts adds rows).
        INSERT @Worker (Ordinal, WorkerName)
        SELECT TOP (@MaxCount) CAST(s.[key] AS int) + 1, @WorkerName + N'/' + s.[value]
        FROM OPENJSON(@Slots) AS s
        ORDER BY CAST(s.[key] AS int);

        IF EXISTS (SELECT 1 FROM @Worker AS w WHERE DATALENGTH(w.WorkerName) / 2 > 255)
            THROW 50025, N'Slots: WorkerName/slot is longer than 255 characters', 1;

        -- JSON array of the names in order (FOR XML PATH concatenates: no STRING_AGG in 2016).
        DECLARE @Workers nvarchar(max) =
            N'[' + ISNULL(STUFF((SELECT N',"' + STRING_ESCAPE(w.WorkerName, 'json') + N'"'
                                 FROM @Worker AS w
                                 ORDER BY w.Ordinal
                                 FOR XML PATH (''), TYPE).value('text()[1]', 'nvarchar(max)'), 1, 1, N''), N'')
            + N']';

        EXEC stage.ClaimForWorkers @Executor = 'driver', @Workers = @Workers, @LeaseSeconds = @LeaseSeconds;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
