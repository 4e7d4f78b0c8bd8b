-- stagehand: V169: the minimum log level (V154..V158) applies to its log rows (Reset to
-- Pending, a Warning; Failed, an Error): each is written only when stage.LogKept keeps it
-- for the run's task (@Reset also keeps TaskID for that). Otherwise as V52.
-- stage.ResetStuckProcesses, the lease/timeout sweep (run by the driver and by
-- the "stagehand - reset stuck" Agent job). A run whose lease expired, or that never
-- heartbeats and started more than @TimeoutMinutes ago, goes back to Pending while it
-- has attempts left, else it fails. Rows someone else holds are skipped, not waited for.
-- V52: in chunks of at most 1,000 rows per statement (a mass reset after an outage must
-- never take the 5,000 locks at which SQL Server escalates to a table lock and stops
-- every claimer), each chunk with its log rows in a transaction of its own; deadlock
-- priority LOW, so claims and completions win a deadlock against this sweep.
CREATE OR ALTER PROCEDURE stage.ResetStuckProcesses
    @TimeoutMinutes int = 60
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- Restored when the procedure returns. A victim loses only its current chunk; the
    -- caller makes the call again (the Rust store does at once) and it finds the rest.
    SET DEADLOCK_PRIORITY LOW;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @TimeoutMinutes IS NULL OR @TimeoutMinutes < 1
            THROW 50060, N'TimeoutMinutes must be at least 1', 1;

        DECLARE @Now datetime2(3) = SYSUTCDATETIME();
        -- A timeout reaching back past year 1 would overflow DATEADD: nothing is that old.
        DECLARE @StartedBefore datetime2(3) =
            CASE WHEN @TimeoutMinutes < DATEDIFF(MINUTE, '0001-01-01', @Now)
                 THEN DATEADD(MINUTE, -@TimeoutMinutes, @Now)
                 ELSE '0001-01-01'
            END;
        DECLARE @ChunkSize int = 1000;  -- rows per statement: far below lock escalation
        DECLARE @After     bigint;       -- the last ProcessID of the previous chunk
        DECLARE @Candidate TABLE (ProcessID bigint NOT NULL PRIMARY KEY);
        DECLARE @Chunk     TABLE (ProcessID bigint NOT NULL PRIMARY KEY);
        DECLARE @Reset TABLE
        (
            ProcessID      bigint        NOT NULL PRIMARY KEY,
            ProcessName    nvarchar(255) NOT NULL,
            PreviousWorker nvarchar(255) NULL,
            Attempt        int           NOT NULL,
            MaxAttempts    int           NOT NULL,
            Status         varchar(20)   NOT NULL,
            TaskID         int           NULL
        );

        -- The running rows only (IX_FileControl_InProgress), however large the table, read
        -- without keeping locks. They are then updated by key: completions and heartbeats
        -- lock a row before its indexes, and so does this, so none can deadlock with it.
        INSERT @Candidate (ProcessID)
        SELECT fc.ProcessID
        FROM stage.FileControl AS fc
        WHERE fc.Status = 'InProgress'
          AND (   fc.LeaseExpiresAt < @Now
               OR (fc.LeaseExpiresAt IS NULL AND fc.StartTime < @StartedBefore));

        -- Inside a caller's transaction all chunks share one savepoint (all or nothing);
        -- on its own, each chunk commits by itself.
        IF @TranCount > 0
            SAVE TRANSACTION ResetStuckProcesses;

        WHILE 1 = 1
        BEGIN
            DELETE @Chunk;  -- table variables ignore ROLLBACK: emptied by hand each round
            INSERT @Chunk (ProcessID)
            SELECT TOP (@ChunkSize) c.ProcessID
            FROM @Candidate AS c
            WHERE @After IS NULL OR c.ProcessID > @After
            ORDER BY c.ProcessID;
            IF @@ROWCOUNT = 0
                BREAK;
            SELECT @After = MAX(k.ProcessID) FROM @Chunk AS k;

            IF @TranCount = 0
                BEGIN TRANSACTION;

            -- Key seeks on the clustered index (FORCESEEK), in ProcessID order. READPAST
            -- skips rows being completed or heartbeated right now; READCOMMITTEDLOCK because
            -- READPAST is refused under READ_COMMITTED_SNAPSHOT without it. The conditions
            -- are checked again under the row lock: a heartbeat or a completion may have
            -- come in since the read above.
            UPDATE fc
            SET    Status         = CASE WHEN fc.Attempt < fc.MaxAttempts THEN 'Pending' ELSE 'Failed' END,
                   WorkerAssigned = CASE WHEN fc.Attempt < fc.MaxAttempts THEN NULL ELSE fc.WorkerAssigned END,
                   StartTime      = CASE WHEN fc.Attempt < fc.MaxAttempts THEN NULL ELSE fc.StartTime END,
                   HeartbeatAt    = CASE WHEN fc.Attempt < fc.MaxAttempts THEN NULL ELSE fc.HeartbeatAt END,
                   EndTime        = CASE WHEN fc.Attempt < fc.MaxAttempts THEN NULL ELSE @Now END,
                   LeaseExpiresAt = NULL
            OUTPUT inserted.ProcessID, inserted.ProcessName, deleted.WorkerAssigned,
                   inserted.Attempt, inserted.MaxAttempts, inserted.Status, inserted.TaskID
            INTO @Reset (ProcessID, ProcessName, PreviousWorker, Attempt, MaxAttempts, Status, TaskID)
            FROM stage.FileControl AS fc WITH (READPAST, ROWLOCK, READCOMMITTEDLOCK, FORCESEEK)
            INNER JOIN @Chunk AS c
                    ON c.ProcessID = fc.ProcessID
            WHERE fc.Status = 'InProgress'
              AND (   fc.LeaseExpiresAt < @Now
                   OR (fc.LeaseExpiresAt IS NULL AND fc.StartTime < @StartedBefore));

            INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
            SELECT r.ProcessID,
                   CASE WHEN r.Status = 'Pending'
                        THEN CONCAT(N'Reset to Pending: worker ', ISNULL(r.PreviousWorker, N'(none)'),
                                    N' stopped responding on attempt ', r.Attempt, N' of ', r.MaxAttempts)
                        ELSE CONCAT(N'Failed: worker ', ISNULL(r.PreviousWorker, N'(none)'),
                                    N' stopped responding on attempt ', r.Attempt, N' of ', r.MaxAttempts,
                                    N', no attempts left')
                   END,
                   CASE WHEN r.Status = 'Pending' THEN 'Warning' ELSE 'Error' END,
                   @Now
            FROM @Reset AS r
            INNER JOIN @Chunk AS c
                    ON c.ProcessID = r.ProcessID
            CROSS APPLY stage.LogKept(CASE WHEN r.Status = 'Pending' THEN 'Warning' ELSE 'Error' END, r.TaskID) AS k
            ORDER BY r.ProcessID;

            IF @TranCount = 0
                COMMIT TRANSACTION;
        END;

        SELECT r.ProcessID,
               r.ProcessName,
               r.PreviousWorker,
               r.Attempt,
               r.Status
        FROM @Reset AS r
        ORDER BY r.ProcessID;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION ResetStuckProcesses;
        THROW;
    END CATCH;
END;
