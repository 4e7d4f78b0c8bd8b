-- stagehand: V165: the minimum log level (V154..V158) applies to the 'Assigned to' rows:
-- each is written only when stage.LogKept keeps an Info row for the run's task. Otherwise
-- as V57.
-- stage.AssignProcessToWorker, the seed's push model for SSIS / SQL Agent
-- executors. Each free worker of Worker_1 .. Worker_N gets the oldest runnable process of
-- Executor 'external' (no lease); the worker then reads it through ProcessWorkerTask.
-- An application lock serialises runs, so no worker is ever given two processes.
CREATE OR ALTER PROCEDURE stage.AssignProcessToWorker
    @NumberOfWorkers int
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @NumberOfWorkers IS NULL OR @NumberOfWorkers < 0 OR @NumberOfWorkers > 1000
            THROW 50030, N'NumberOfWorkers must be between 0 and 1000', 1;

        DECLARE @LockResult int;
        DECLARE @Workers    nvarchar(max);
        DECLARE @Free TABLE
        (
            WorkerNumber int           NOT NULL PRIMARY KEY,
            WorkerName   nvarchar(255) COLLATE DATABASE_DEFAULT NOT NULL UNIQUE
        );

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION AssignProcessToWorker;

        -- Held until commit: a second run waits here and then sees this run's assignments.
        -- At most 10 s (V57; the default is the session's LOCK_TIMEOUT, forever in a SQL
        -- Agent step): a run stuck inside a caller's open transaction must not pile every
        -- later run up behind it. The store retries 50100 as a lock conflict.
        EXEC @LockResult = sys.sp_getapplock
            @Resource    = N'stage.AssignProcessToWorker',
            @LockMode    = 'Exclusive',
            @LockOwner   = 'Transaction',
            @LockTimeout = 10000;
        -- Not an argument error, so above 50099 (the store reads 50000..50099 as those).
        IF @LockResult < 0
            THROW 50100, N'AssignProcessToWorker could not take its application lock', 1;

        -- Free workers: Worker_k (k <= N) holding no InProgress process (IX_FileControl_InProgress).
        -- The tally is built from digits: no catalog view, so no metadata permission is needed.
        WITH Digit AS (SELECT d.n FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS d (n)),
             Tally AS (SELECT a.n * 100 + b.n * 10 + c.n + 1 AS n  -- 1 .. 1000
                       FROM Digit AS a CROSS JOIN Digit AS b CROSS JOIN Digit AS c),
             Named AS (SELECT t.n, N'Worker_' + CAST(t.n AS nvarchar(10)) AS WorkerName
                       FROM Tally AS t
                       WHERE t.n <= @NumberOfWorkers)
        INSERT @Free (WorkerNumber, WorkerName)
        SELECT w.n, w.WorkerName
        FROM Named AS w
        WHERE NOT EXISTS (SELECT 1
                          FROM stage.FileControl AS fc
                          WHERE fc.Status         = 'InProgress'
                            AND fc.WorkerAssigned = w.WorkerName);

        -- JSON array of the free names, lowest number first (FOR XML PATH concatenates).
        SET @Workers =
            N'[' + ISNULL(STUFF((SELECT N',"' + f.WorkerName + N'"'  -- Worker_<digits>: nothing to escape
                                 FROM @Free AS f
                                 ORDER BY f.WorkerNumber
                                 FOR XML PATH (''), TYPE).value('text()[1]', 'nvarchar(max)'), 1, 1, N''), N'')
            + N']';

        -- Returns the assignments made (the caller's result set).
        EXEC stage.ClaimForWorkers @Executor = 'external', @Workers = @Workers, @LeaseSeconds = NULL;

        -- Under the lock, a free worker that now holds an InProgress process was given it
        -- just now, by the claim above: one Info row per assignment.
        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
        SELECT fc.ProcessID,
               CONCAT(N'Assigned to ', fc.WorkerAssigned, N' (attempt ', fc.Attempt, N' of ', fc.MaxAttempts, N')'),
               'Info',
               SYSUTCDATETIME()
        FROM @Free AS f
        INNER JOIN stage.FileControl AS fc
                ON fc.WorkerAssigned = f.WorkerName
               AND fc.Status         = 'InProgress'
               AND fc.Executor       = 'external'  -- not a driver that happens to use the name
        CROSS APPLY stage.LogKept('Info', fc.TaskID) AS k
        ORDER BY fc.ProcessID;

        IF @TranCount = 0
            COMMIT TRANSACTION;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION AssignProcessToWorker;
        THROW;
    END CATCH;
END;
