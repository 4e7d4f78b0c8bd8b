-- stagehand: V168: the minimum log level (V154..V158) applies to the new run's 'Run now'
-- row (Info): written only when stage.LogKept keeps it for the run's task. Otherwise as V40.
-- stage.RunTaskNow, an operator's "run now" of a task (stagehand task run). The
-- registration is stage.RegisterProcessCore (V30), the path FireTrigger and RegisterProcess
-- take, so the task's overlap policy applies exactly as for a trigger: skip refuses while a
-- run is active (that row comes back with Registered 0), killPrevious supersedes it, queue
-- and parallel insert. A disabled task is refused (50110) unless @Force: disabling stops the
-- clock, and a run now must say it means it.
CREATE OR ALTER PROCEDURE stage.RunTaskNow
    @TaskName nvarchar(4000),  -- wider than the column: a long name is rejected, never cut
    @Force    bit = 0
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: the registration then works under a
    -- savepoint, is not retried, and only its own part is ever rolled back.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @TaskName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @TaskName) = 0
            THROW 50070, N'TaskName must not be NULL or empty', 1;
        -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
        IF DATALENGTH(@TaskName) / 2 > 255
            THROW 50071, N'TaskName is longer than 255 characters', 1;
        IF @Force IS NULL
            THROW 50072, N'Force must not be NULL', 1;

        DECLARE @Now        datetime2(3) = SYSUTCDATETIME();
        DECLARE @Name       nvarchar(255);
        DECLARE @Enabled    bit;
        DECLARE @Message    nvarchar(500);
        DECLARE @ProcessID  bigint;
        DECLARE @Status     varchar(20);
        DECLARE @Registered bit;
        DECLARE @Try        int = 1;
        DECLARE @Finished   bit = 0;

        SELECT @Name    = t.TaskName,
               @Enabled = t.Enabled
        FROM stage.Task AS t
        WHERE t.TaskName = @TaskName;

        IF @Name IS NULL
        BEGIN
            SET @Message = CONCAT(N'TaskName ', CAST(@TaskName AS nvarchar(255)), N': no such task');
            THROW 50073, @Message, 1;
        END;
        IF @Enabled = 0 AND @Force = 0
        BEGIN
            SET @Message = CONCAT(N'Task ', @Name, N' is disabled: Force runs it anyway');
            THROW 50110, @Message, 1;
        END;
        SET @Message = CONCAT(CASE WHEN @Enabled = 1
                                   THEN N'Run now (stage.RunTaskNow, requested by '
                                   ELSE N'Run now of a disabled task (stage.RunTaskNow with Force, requested by '
                              END,
                              ORIGINAL_LOGIN(), N')');

        -- Two tries at most, as in RegisterProcess: should the registration lose a race on a
        -- unique index (2601/2627), it is rolled back and done once more; the core then sees
        -- the other row and refuses.
        WHILE @Finished = 0
        BEGIN
            BEGIN TRY
                IF @TranCount = 0
                    BEGIN TRANSACTION;
                ELSE
                    SAVE TRANSACTION RunTaskNow;

                -- The stored name, so the run carries the task's name exactly as the clock's do.
                EXEC stage.RegisterProcessCore @Name, NULL, NULL,
                                               @ProcessID OUTPUT, @Status OUTPUT, @Registered OUTPUT;
                IF @Registered = 1
                    INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                    SELECT @ProcessID, @Message, 'Info', @Now
                    FROM stage.FileControl AS x
                    CROSS APPLY stage.LogKept('Info', x.TaskID) AS k
                    WHERE x.ProcessID = @ProcessID;

                IF @TranCount = 0
                    COMMIT TRANSACTION;
                SET @Finished = 1;
            END TRY
            BEGIN CATCH
                -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1):
                -- only a full rollback is possible then, the caller's to make when it is theirs.
                IF @TranCount = 0 AND XACT_STATE() <> 0
                    ROLLBACK TRANSACTION;
                ELSE IF @TranCount > 0 AND XACT_STATE() = 1
                    ROLLBACK TRANSACTION RunTaskNow;
                -- Retry only a lost race, only once, and only when the transaction was ours.
                IF ERROR_NUMBER() NOT IN (2601, 2627) OR @Try > 1 OR @TranCount > 0
                    THROW;
                SET @Try = @Try + 1;
            END CATCH;
        END;

        SELECT @ProcessID  AS ProcessID,
               @Name       AS ProcessName,
               @Status     AS Status,
               @Registered AS Registered;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
