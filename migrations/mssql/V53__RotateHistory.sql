-- stagehand: stage.RotateHistory, moves finished runs older than the retention (with their
-- log rows), then old orphan log rows, into the *_History tables. Works in batches of
-- @BatchSize, each its own transaction; @MaxBatches lets a caller stop early and call
-- again to resume; Done says whether anything is left.
-- V53: every statement touches at most 1,000 rows of a table, whatever @BatchSize (up to
-- 4,000), so none comes near the 5,000 locks at which SQL Server escalates to a table
-- lock (which would stop every claimer); a process is deleted only when it is still
-- finished and old (checked again under the lock), and its log rows move after it, in the
-- order completions take their locks (FileControl, then ProcessLog); CommandStartedAt is
-- carried; deadlock priority LOW, so claims and completions win against rotation.
CREATE OR ALTER PROCEDURE stage.RotateHistory
    @RetentionMonths int = 6,
    @BatchSize       int = 1000,
    @MaxBatches      int = NULL   -- NULL: until done
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- Restored when the procedure returns.
    SET DEADLOCK_PRIORITY LOW;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @RetentionMonths IS NULL OR @RetentionMonths < 0
            THROW 50065, N'RetentionMonths must be 0 or more', 1;
        IF @BatchSize IS NULL OR @BatchSize < 1 OR @BatchSize > 4000
            THROW 50066, N'BatchSize must be between 1 and 4000', 1;
        IF @MaxBatches < 1
            THROW 50067, N'MaxBatches must be NULL or at least 1', 1;

        DECLARE @Now            datetime2(3) = SYSUTCDATETIME();
        -- A retention reaching back past year 1 would overflow DATEADD: nothing is that old.
        DECLARE @Cutoff         datetime2(3) =
            CASE WHEN @RetentionMonths < DATEDIFF(MONTH, '0001-01-01', @Now)
                 THEN DATEADD(MONTH, -@RetentionMonths, @Now)
                 ELSE '0001-01-01'
            END;
        DECLARE @StatementRows  int          = 1000;  -- rows per statement: far below escalation
        DECLARE @ProcessesMoved bigint       = 0;
        DECLARE @LogsMoved      bigint       = 0;
        DECLARE @Batches        int          = 0;  -- batches that moved something
        DECLARE @Rows           int;               -- rows found in this batch
        DECLARE @Take           int;               -- rows asked for by this statement
        DECLARE @Found          int;
        DECLARE @LogRows        int;
        DECLARE @ProcessesDone  bit          = 0;
        DECLARE @LogsDone       bit          = 0;
        DECLARE @Part TABLE (ProcessID bigint NOT NULL PRIMARY KEY);

        -- 1. Finished processes older than the cutoff, oldest first: by EndTime, then ProcessID
        --    (the key order of IX_FileControl_Finished, whose rows carry the clustered key),
        --    each batch moving up to @BatchSize processes together with all their log rows,
        --    in parts of up to @StatementRows.
        WHILE @ProcessesDone = 0 AND (@MaxBatches IS NULL OR @Batches < @MaxBatches)
        BEGIN
            IF @TranCount = 0
                BEGIN TRANSACTION;
            ELSE
                SAVE TRANSACTION RotateHistory;

            SET @Rows = 0;
            WHILE @Rows < @BatchSize
            BEGIN
                DELETE @Part;  -- table variables ignore ROLLBACK: emptied by hand each round
                SET @Take = CASE WHEN @BatchSize - @Rows < @StatementRows
                                 THEN @BatchSize - @Rows ELSE @StatementRows END;

                -- Seek on IX_FileControl_Finished. READPAST: a finished row someone still
                -- holds is left for the next run. Rows deleted earlier in this transaction
                -- are gone, so each part continues where the last one stopped.
                INSERT @Part (ProcessID)
                SELECT TOP (@Take) fc.ProcessID
                FROM stage.FileControl AS fc WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
                WHERE fc.Status IN ('Completed', 'Failed', 'Cancelled')
                  AND fc.EndTime < @Cutoff
                ORDER BY fc.EndTime, fc.ProcessID;
                SET @Found = @@ROWCOUNT;
                SET @Rows  = @Rows + @Found;

                -- Checked again under the lock: only a row still finished and old moves.
                DELETE fc
                OUTPUT deleted.ProcessID, deleted.ProcessName, deleted.Status, deleted.CreatedAt,
                       deleted.WorkerAssigned, deleted.StartTime, deleted.EndTime, deleted.Parameters,
                       deleted.TaskID, deleted.ScheduledFor, deleted.Attempt, deleted.MaxAttempts,
                       deleted.RunAfter, deleted.LeaseExpiresAt, deleted.HeartbeatAt, deleted.ExitCode,
                       deleted.CancelRequested, deleted.OverlapPolicy, deleted.Executor,
                       deleted.CommandStartedAt
                INTO stage.FileControl_History
                      (ProcessID, ProcessName, Status, CreatedAt,
                       WorkerAssigned, StartTime, EndTime, Parameters,
                       TaskID, ScheduledFor, Attempt, MaxAttempts,
                       RunAfter, LeaseExpiresAt, HeartbeatAt, ExitCode,
                       CancelRequested, OverlapPolicy, Executor,
                       CommandStartedAt)
                FROM stage.FileControl AS fc WITH (FORCESEEK)  -- clustered key seeks
                WHERE fc.ProcessID IN (SELECT p.ProcessID FROM @Part AS p)
                  AND fc.Status IN ('Completed', 'Failed', 'Cancelled')
                  AND fc.EndTime < @Cutoff;
                SET @ProcessesMoved = @ProcessesMoved + @@ROWCOUNT;

                -- Only the log rows of processes that did move.
                DELETE p
                FROM @Part AS p
                WHERE EXISTS (SELECT 1 FROM stage.FileControl AS fc WHERE fc.ProcessID = p.ProcessID);

                -- Their log rows, @StatementRows per statement: a process may have many.
                SET @LogRows = @StatementRows;
                WHILE @LogRows = @StatementRows
                BEGIN
                    DELETE TOP (@StatementRows) pl
                    OUTPUT deleted.LogID, deleted.ProcessID, deleted.Message, deleted.LogLevel,
                           deleted.LogTime, deleted.Detail
                    INTO stage.ProcessLog_History (LogID, ProcessID, Message, LogLevel, LogTime, Detail)
                    FROM stage.ProcessLog AS pl WITH (FORCESEEK)  -- IX_ProcessLog_Process
                    WHERE pl.ProcessID IN (SELECT p.ProcessID FROM @Part AS p);
                    SET @LogRows   = @@ROWCOUNT;
                    SET @LogsMoved = @LogsMoved + @LogRows;
                END;

                IF @Found < @Take
                BEGIN
                    SET @ProcessesDone = 1;
                    BREAK;
                END;
            END;

            IF @TranCount = 0
                COMMIT TRANSACTION;

            IF @Rows > 0
                SET @Batches = @Batches + 1;
        END;

        -- 2. Log rows older than the cutoff whose process is gone from FileControl (or that
        --    belong to no process), oldest first: by LogTime, then LogID (IX_ProcessLog_Time),
        --    @BatchSize per transaction in statements of up to @StatementRows.
        --    DELETE TOP cannot take an ORDER BY; a CTE with TOP ... ORDER BY can be deleted from.
        WHILE @ProcessesDone = 1 AND @LogsDone = 0 AND (@MaxBatches IS NULL OR @Batches < @MaxBatches)
        BEGIN
            IF @TranCount = 0
                BEGIN TRANSACTION;
            ELSE
                SAVE TRANSACTION RotateHistory;

            SET @Rows = 0;
            WHILE @Rows < @BatchSize
            BEGIN
                SET @Take = CASE WHEN @BatchSize - @Rows < @StatementRows
                                 THEN @BatchSize - @Rows ELSE @StatementRows END;

                WITH OldLog AS
                (
                    SELECT TOP (@Take) pl.LogID, pl.ProcessID, pl.Message, pl.LogLevel, pl.LogTime, pl.Detail
                    FROM stage.ProcessLog AS pl WITH (UPDLOCK, READPAST, ROWLOCK, READCOMMITTEDLOCK)
                    WHERE pl.LogTime < @Cutoff
                      -- also true for a NULL ProcessID; without an OR it stays an anti-semi-join seek
                      AND NOT EXISTS (SELECT 1 FROM stage.FileControl AS fc WHERE fc.ProcessID = pl.ProcessID)
                    ORDER BY pl.LogTime, pl.LogID
                )
                DELETE FROM OldLog
                OUTPUT deleted.LogID, deleted.ProcessID, deleted.Message, deleted.LogLevel,
                       deleted.LogTime, deleted.Detail
                INTO stage.ProcessLog_History (LogID, ProcessID, Message, LogLevel, LogTime, Detail);
                SET @Found = @@ROWCOUNT;
                SET @Rows  = @Rows + @Found;
                IF @Found < @Take
                    BREAK;
            END;

            IF @TranCount = 0
                COMMIT TRANSACTION;

            SET @LogsMoved = @LogsMoved + @Rows;
            IF @Rows > 0
                SET @Batches = @Batches + 1;
            IF @Rows < @BatchSize
                SET @LogsDone = 1;
        END;

        SELECT @ProcessesMoved AS ProcessesMoved,
               @LogsMoved      AS LogsMoved,
               CAST(CASE WHEN @ProcessesDone = 1 AND @LogsDone = 1 THEN 1 ELSE 0 END AS bit) AS Done;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION RotateHistory;
        THROW;
    END CATCH;
END;
