-- stagehand: stage.SaveTaskCore, the one implementation of SaveTask's rules and of the upsert
-- by TaskName (internal; no role may execute it), shared by stage.SaveTask and stage.SaveTasks.
-- A bad argument writes nothing and comes back in @ProblemNumber / @Problem, named as
-- SaveTask's parameter (OverlapPolicy must be ...): SaveTask throws it as it is, SaveTasks
-- names the element (Tasks[2].overlapPolicy must be ...). OUTPUT parameters, never a result
-- set or a THROW: a caller can neither catch an error without losing its transaction
-- (XACT_ABORT) nor read a result set without INSERT ... EXEC.
CREATE OR ALTER PROCEDURE stage.SaveTaskCore
    @TaskName          nvarchar(4000),  -- string parameters are wider than their columns:
    @Command           nvarchar(max),   -- a value too long is rejected, never cut
    @WorkingDirectory  nvarchar(4000),
    @OverlapPolicy     nvarchar(20),    -- nvarchar: no code-page mapping before the check
    @TimeoutMinutes    int,
    @MaxAttempts       int,
    @RetryDelaySeconds int,
    @Executor          nvarchar(10),
    @Enabled           bit,
    @Description       nvarchar(4000),
    @Arguments         nvarchar(max),   -- JSON array of strings
    @TimeZone          nvarchar(4000),  -- IANA zone name
    @RunIfMissed       bit,
    @Definition        nvarchar(max),   -- the task's JSON as submitted
    @TaskID            int            OUTPUT,
    @Created           bit            OUTPUT,
    @ProblemNumber     int            OUTPUT,  -- the THROW number for @Problem
    @Problem           nvarchar(2048) OUTPUT   -- NULL: saved
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        DECLARE @Blank nvarchar(10) = N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%';
        DECLARE @Now   datetime2(3) = SYSUTCDATETIME();

        SET @TaskID        = NULL;
        SET @Created       = 0;
        SET @ProblemNumber = NULL;
        SET @Problem       = NULL;

        -- The first problem, in parameter order. NULL, empty or only blanks means no
        -- character outside space, tab, LF and CR. DATALENGTH / 2 counts characters
        -- including trailing blanks (LEN ignores them). Codes are exact-case (BIN2), and
        -- = ignores trailing blanks, so DATALENGTH catches those.
        IF @TaskName IS NULL OR PATINDEX(@Blank, @TaskName) = 0
            SELECT @ProblemNumber = 50070, @Problem = N'TaskName must not be NULL or empty';
        ELSE IF DATALENGTH(@TaskName) / 2 > 255
            SELECT @ProblemNumber = 50071, @Problem = N'TaskName is longer than 255 characters';
        ELSE IF @Command IS NULL OR PATINDEX(@Blank, @Command) = 0
            SELECT @ProblemNumber = 50072, @Problem = N'Command must not be NULL or empty';
        ELSE IF DATALENGTH(@Command) / 2 > 4000
            SELECT @ProblemNumber = 50073, @Problem = N'Command is longer than 4000 characters';
        ELSE IF DATALENGTH(@WorkingDirectory) / 2 > 1000
            SELECT @ProblemNumber = 50074, @Problem = N'WorkingDirectory is longer than 1000 characters';
        ELSE IF @OverlapPolicy IS NULL
             OR @OverlapPolicy COLLATE Latin1_General_BIN2 NOT IN (N'skip', N'parallel', N'queue', N'killPrevious')
             OR DATALENGTH(@OverlapPolicy) <> DATALENGTH(RTRIM(@OverlapPolicy))
            SELECT @ProblemNumber = 50075, @Problem = N'OverlapPolicy must be one of skip, parallel, queue, killPrevious';
        ELSE IF @TimeoutMinutes < 1
            SELECT @ProblemNumber = 50076, @Problem = N'TimeoutMinutes must be NULL or greater than 0';
        ELSE IF @MaxAttempts IS NULL OR @MaxAttempts < 1 OR @MaxAttempts > 100
            SELECT @ProblemNumber = 50077, @Problem = N'MaxAttempts must be between 1 and 100';
        ELSE IF @RetryDelaySeconds IS NULL OR @RetryDelaySeconds < 0
            SELECT @ProblemNumber = 50078, @Problem = N'RetryDelaySeconds must be 0 or more';
        ELSE IF @Executor IS NULL
             OR @Executor COLLATE Latin1_General_BIN2 NOT IN (N'driver', N'external')
             OR DATALENGTH(@Executor) <> DATALENGTH(RTRIM(@Executor))
            SELECT @ProblemNumber = 50079, @Problem = N'Executor must be one of driver, external';
        ELSE IF @Enabled IS NULL
            SELECT @ProblemNumber = 50080, @Problem = N'Enabled must not be NULL';
        ELSE IF DATALENGTH(@Description) / 2 > 1000
            SELECT @ProblemNumber = 50081, @Problem = N'Description is longer than 1000 characters';
        -- A JSON array (wrapped in [...], the value's own JSON type shows: 4 = array) of
        -- strings (type 1). OPENJSON only ever sees valid JSON (the CASE): it raises its own
        -- error otherwise, and T-SQL does not promise to stop at the first true OR term.
        ELSE IF @Arguments IS NOT NULL
             AND (   ISJSON(@Arguments) = 0
                  OR (SELECT j.[type]
                      FROM OPENJSON(CASE WHEN ISJSON(@Arguments) = 1 THEN N'[' + @Arguments + N']' END) AS j) <> 4
                  OR EXISTS (SELECT 1
                             FROM OPENJSON(CASE WHEN ISJSON(@Arguments) = 1 THEN @Arguments END) AS a
                             WHERE a.[type] <> 1))
            SELECT @ProblemNumber = 50082, @Problem = N'Arguments must be a JSON array of strings';
        ELSE IF DATALENGTH(@TimeZone) / 2 > 64
            SELECT @ProblemNumber = 50083, @Problem = N'TimeZone is longer than 64 characters';
        ELSE IF @RunIfMissed IS NULL
            SELECT @ProblemNumber = 50084, @Problem = N'RunIfMissed must not be NULL';
        -- A JSON object or array (what ISJSON accepts; the PostgreSQL twin accepts the same).
        ELSE IF ISJSON(@Definition) = 0
            SELECT @ProblemNumber = 50085, @Problem = N'Definition is not valid JSON';

        IF @Problem IS NOT NULL
            RETURN;

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION SaveTaskCore;

        -- UPDLOCK + SERIALIZABLE: when the name is new, the key range stays locked, so a
        -- concurrent save of the same name waits and then updates instead of failing on
        -- UQ_Task_TaskName.
        UPDATE t
        SET    @TaskID           = t.TaskID,
               Description       = @Description,
               Command           = @Command,
               Arguments         = @Arguments,
               WorkingDirectory  = @WorkingDirectory,
               OverlapPolicy     = @OverlapPolicy,
               TimeoutMinutes    = @TimeoutMinutes,
               MaxAttempts       = @MaxAttempts,
               RetryDelaySeconds = @RetryDelaySeconds,
               Executor          = @Executor,
               Enabled           = @Enabled,
               TimeZone          = @TimeZone,
               RunIfMissed       = @RunIfMissed,
               [Definition]      = @Definition,
               UpdatedAt         = @Now
        FROM stage.Task AS t WITH (UPDLOCK, SERIALIZABLE)
        WHERE t.TaskName = @TaskName;

        IF @TaskID IS NULL
        BEGIN
            INSERT stage.Task
                (TaskName, Description, Command, Arguments, WorkingDirectory, OverlapPolicy,
                 TimeoutMinutes, MaxAttempts, RetryDelaySeconds, Executor, Enabled, TimeZone,
                 RunIfMissed, [Definition], CreatedAt, UpdatedAt)
            VALUES
                (@TaskName, @Description, @Command, @Arguments, @WorkingDirectory, @OverlapPolicy,
                 @TimeoutMinutes, @MaxAttempts, @RetryDelaySeconds, @Executor, @Enabled, @TimeZone,
                 @RunIfMissed, @Definition, @Now, @Now);
            SET @TaskID  = SCOPE_IDENTITY();
            SET @Created = 1;
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
            ROLLBACK TRANSACTION SaveTaskCore;
        THROW;
    END CATCH;
END;
