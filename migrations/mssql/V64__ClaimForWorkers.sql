-- V64: also returns the task's OutputEncoding (V63), how the driver decodes the command's
-- output; nothing else changed. ClaimProcesses and AssignProcessToWorker hand this result
-- set on as it is, so they need no new version here (PostgreSQL's do: V65, V66).
-- Whoever redefines ClaimForWorkers later starts from this version.
-- stagehand: stage.ClaimForWorkers, the one claim implementation (internal; no role may
-- execute it, ClaimProcesses and AssignProcessToWorker call it through ownership chaining).
-- The k-th oldest runnable Pending process of @Executor goes to the k-th name of @Workers;
-- rows other claimers hold are skipped (READPAST), not waited for.
-- V51: the UPDATE checks again that each row is still Pending (and runnable), so a changed
-- plan or hint can never claim a row twice; CommandStartedAt is cleared at every claim.
CREATE OR ALTER PROCEDURE stage.ClaimForWorkers
    @Executor     varchar(10),    -- varchar as FileControl.Executor: the seek needs no conversion
    @Workers      nvarchar(max),  -- JSON array of worker names
    @LeaseSeconds int = NULL      -- NULL: no lease (external executors)
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- Exact case (BIN2); = ignores trailing blanks, so DATALENGTH catches them.
        IF @Executor IS NULL OR @Executor COLLATE Latin1_General_BIN2 NOT IN ('driver', 'external')
           OR DATALENGTH(@Executor) <> DATALENGTH(RTRIM(@Executor))
            THROW 50010, N'Executor must be one of driver, external', 1;
        IF @LeaseSeconds < 1
            THROW 50012, N'LeaseSeconds must be NULL or at least 1', 1;
        -- Separate IFs: T-SQL does not promise to stop at the first true OR term, and
        -- OPENJSON raises its own error on invalid JSON.
        IF @Workers IS NULL OR ISJSON(@Workers) = 0
            THROW 50011, N'Workers must be a JSON array of non-empty worker names', 1;
        -- Wrapped in [...], the value's own JSON type shows (4 = array, 5 = object).
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @Workers + N']') AS j) <> 4
            THROW 50011, N'Workers must be a JSON array of non-empty worker names', 1;
        -- Strings (type 1) of 1 to 255 characters; DATALENGTH / 2 counts characters
        -- including trailing blanks (LEN ignores them).
        IF EXISTS (SELECT 1
                   FROM OPENJSON(@Workers) AS w
                   WHERE w.[type] <> 1
                      OR DATALENGTH(w.[value]) = 0
                      OR DATALENGTH(w.[value]) / 2 > 255)
            THROW 50011, N'Workers must be a JSON array of non-empty worker names', 1;

        DECLARE @Now         datetime2(3) = SYSUTCDATETIME();
        DECLARE @WorkerCount int;

        -- [key] is the array position: STRING_SPLIT has no ordinal before SQL Server 2022.
        DECLARE @Worker TABLE
        (
            Ordinal    int           NOT NULL PRIMARY KEY,
            WorkerName nvarchar(255) COLLATE DATABASE_DEFAULT NOT NULL
        );
        INSERT @Worker (Ordinal, WorkerName)
        SELECT CAST(w.[key] AS int) + 1, w.[value]
        FROM OPENJSON(@Workers) AS w;
        SET @WorkerCount = @@ROWCOUNT;

        DECLARE @Candidate TABLE
        (
            Ordinal   int    NOT NULL PRIMARY KEY,
            ProcessID bigint NOT NULL UNIQUE
        );
        DECLARE @Claimed TABLE
        (
            ProcessID      bigint        NOT NULL PRIMARY KEY,
            ProcessName    nvarchar(255) COLLATE DATABASE_DEFAULT NOT NULL,
            WorkerAssigned nvarchar(255) COLLATE DATABASE_DEFAULT NOT NULL,
            TaskID         int           NULL,
            Parameters     nvarchar(max) NULL,
            Attempt        int           NOT NULL,
            MaxAttempts    int           NOT NULL,
            ScheduledFor   datetime2(3)  NULL,
            LeaseExpiresAt datetime2(3)  NULL
        );

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION ClaimForWorkers;

        -- Seek on IX_FileControl_Pending in ProcessID order. UPDLOCK holds the chosen rows
        -- until commit; READPAST skips rows other claimers hold; READCOMMITTEDLOCK because
        -- READPAST is refused under READ_COMMITTED_SNAPSHOT without it.
        -- The serial-policy subquery deliberately has no READPAST: it must see the rows
        -- others hold. Whatever version it reads (a held row is Pending or InProgress,
        -- both of which block), it can only delay a claim, never allow a wrong one.
        INSERT @Candidate (Ordinal, ProcessID)
        SELECT ROW_NUMBER() OVER (ORDER BY c.ProcessID), c.ProcessID
        FROM
        (
            SELECT TOP (@WorkerCount) fc.ProcessID
            FROM stage.FileControl AS fc WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
            WHERE fc.Status   = 'Pending'
              AND fc.Executor = @Executor
              AND fc.RunAfter <= @Now
              AND (   fc.OverlapPolicy NOT IN ('queue', 'killPrevious')
                   OR NOT EXISTS (SELECT 1
                                  FROM stage.FileControl AS other
                                  WHERE other.ProcessName = fc.ProcessName
                                    AND other.Status IN ('Pending', 'InProgress')
                                    AND (other.Status = 'InProgress' OR other.ProcessID < fc.ProcessID)))
            ORDER BY fc.ProcessID
        ) AS c;

        UPDATE fc
        SET    Status         = 'InProgress',
               WorkerAssigned = w.WorkerName,
               StartTime      = @Now,
               EndTime        = NULL,
               Attempt        = fc.Attempt + 1,
               HeartbeatAt    = @Now,
               LeaseExpiresAt = DATEADD(SECOND, @LeaseSeconds, @Now),
               CommandStartedAt = NULL
        OUTPUT inserted.ProcessID, inserted.ProcessName, inserted.WorkerAssigned, inserted.TaskID,
               inserted.Parameters, inserted.Attempt, inserted.MaxAttempts, inserted.ScheduledFor,
               inserted.LeaseExpiresAt
        INTO @Claimed (ProcessID, ProcessName, WorkerAssigned, TaskID,
                       Parameters, Attempt, MaxAttempts, ScheduledFor,
                       LeaseExpiresAt)
        FROM stage.FileControl AS fc
        INNER JOIN @Candidate AS c ON c.ProcessID = fc.ProcessID
        INNER JOIN @Worker    AS w ON w.Ordinal   = c.Ordinal
        -- Checked again under the lock: the claim never rests on the hints alone.
        WHERE fc.Status   = 'Pending'
          AND fc.Executor = @Executor
          AND fc.RunAfter <= @Now;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        -- The task as it is now, by the TaskID recorded at registration.
        SELECT cl.ProcessID,
               cl.ProcessName,
               cl.WorkerAssigned,
               cl.TaskID,
               t.Command,
               t.Arguments,
               t.WorkingDirectory,
               cl.Parameters,
               cl.Attempt,
               cl.MaxAttempts,
               t.TimeoutMinutes,
               cl.ScheduledFor,
               cl.LeaseExpiresAt,
               t.OutputEncoding
        FROM @Claimed AS cl
        LEFT JOIN stage.Task AS t ON t.TaskID = cl.TaskID
        ORDER BY cl.ProcessID;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION ClaimForWorkers;
        THROW;
    END CATCH;
END;
