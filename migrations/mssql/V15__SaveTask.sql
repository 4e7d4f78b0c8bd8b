-- stagehand: stage.SaveTask, creates or updates a task by TaskName (stage_admin). Every
-- argument is checked and an error names it; nothing is written then. Registered runs keep
-- the policy they were registered with: a change applies to new runs only.
CREATE OR ALTER PROCEDURE stage.SaveTask
    @TaskName          nvarchar(4000),          -- string parameters are wider than their columns:
    @Command           nvarchar(max),           -- a value too long is rejected, never cut
    @WorkingDirectory  nvarchar(4000) = NULL,
    @OverlapPolicy     varchar(20)    = 'skip', -- skip, parallel, queue, killPrevious
    @TimeoutMinutes    int            = NULL,
    @MaxAttempts       int            = 1,
    @RetryDelaySeconds int            = 60,
    @Executor          varchar(10)    = 'driver', -- driver or external
    @Enabled           bit            = 1,
    @Description       nvarchar(4000) = NULL,
    @Arguments         nvarchar(max)  = NULL,   -- JSON array of strings
    @TimeZone          nvarchar(4000) = NULL,   -- IANA zone name
    @RunIfMissed       bit            = 0,
    @Definition        nvarchar(max)  = NULL    -- the task's JSON as submitted
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;

    BEGIN TRY
        -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @TaskName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @TaskName) = 0
            THROW 50070, N'TaskName must not be NULL or empty', 1;
        IF DATALENGTH(@TaskName) / 2 > 255
            THROW 50071, N'TaskName is longer than 255 characters', 1;
        IF @Command IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @Command) = 0
            THROW 50072, N'Command must not be NULL or empty', 1;
        IF DATALENGTH(@Command) / 2 > 4000
            THROW 50073, N'Command is longer than 4000 characters', 1;
        IF DATALENGTH(@WorkingDirectory) / 2 > 1000
            THROW 50074, N'WorkingDirectory is longer than 1000 characters', 1;
        IF @OverlapPolicy IS NULL
            OR @OverlapPolicy COLLATE Latin1_General_BIN2 NOT IN ('skip', 'parallel', 'queue', 'killPrevious')
            THROW 50075, N'OverlapPolicy must be one of skip, parallel, queue, killPrevious', 1;
        IF @TimeoutMinutes < 1
            THROW 50076, N'TimeoutMinutes must be NULL or greater than 0', 1;
        IF @MaxAttempts IS NULL OR @MaxAttempts < 1 OR @MaxAttempts > 100
            THROW 50077, N'MaxAttempts must be between 1 and 100', 1;
        IF @RetryDelaySeconds IS NULL OR @RetryDelaySeconds < 0
            THROW 50078, N'RetryDelaySeconds must be 0 or more', 1;
        IF @Executor IS NULL OR @Executor COLLATE Latin1_General_BIN2 NOT IN ('driver', 'external')
            THROW 50079, N'Executor must be one of driver, external', 1;
        IF @Enabled IS NULL
            THROW 50080, N'Enabled must not be NULL', 1;
        IF DATALENGTH(@Description) / 2 > 1000
            THROW 50081, N'Description is longer than 1000 characters', 1;
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term. Wrapped in [...], the value's own JSON
        -- type shows (4 = array); the elements must all be strings (type 1).
        IF @Arguments IS NOT NULL AND ISJSON(@Arguments) = 0
            THROW 50082, N'Arguments must be a JSON array of strings', 1;
        IF @Arguments IS NOT NULL AND (SELECT j.[type] FROM OPENJSON(N'[' + @Arguments + N']') AS j) <> 4
            THROW 50082, N'Arguments must be a JSON array of strings', 1;
        IF EXISTS (SELECT 1 FROM OPENJSON(@Arguments) AS a WHERE a.[type] <> 1)
            THROW 50082, N'Arguments must be a JSON array of strings', 1;
        IF DATALENGTH(@TimeZone) / 2 > 64
            THROW 50083, N'TimeZone is longer than 64 characters', 1;
        IF @RunIfMissed IS NULL
            THROW 50084, N'RunIfMissed must not be NULL', 1;
        -- A JSON object or array (what ISJSON accepts).
        IF ISJSON(@Definition) = 0
            THROW 50085, N'Definition is not valid JSON', 1;

        DECLARE @Now     datetime2(3) = SYSUTCDATETIME();
        DECLARE @TaskID  int;
        DECLARE @Created bit          = 0;

        BEGIN TRANSACTION;

        -- UPDLOCK + SERIALIZABLE: when the name is new, the key range stays locked, so a
        -- concurrent SaveTask of the same name waits and then updates instead of failing
        -- on UQ_Task_TaskName.
        UPDATE t
        SET    @TaskID           = t.TaskID,
               Description       = @Description,
               Command           = @Command,
               Arguments         = @Arguments,
               WorkingDirectory  = @WorkingDirectory,
               OverlapPolicy     = RTRIM(@OverlapPolicy),
               TimeoutMinutes    = @TimeoutMinutes,
               MaxAttempts       = @MaxAttempts,
               RetryDelaySeconds = @RetryDelaySeconds,
               Executor          = RTRIM(@Executor),
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
                (@TaskName, @Description, @Command, @Arguments, @WorkingDirectory, RTRIM(@OverlapPolicy),
                 @TimeoutMinutes, @MaxAttempts, @RetryDelaySeconds, RTRIM(@Executor), @Enabled, @TimeZone,
                 @RunIfMissed, @Definition, @Now, @Now);
            SET @TaskID  = SCOPE_IDENTITY();
            SET @Created = 1;
        END;

        COMMIT TRANSACTION;

        SELECT @TaskID AS TaskID, @Created AS Created;
    END TRY
    BEGIN CATCH
        IF XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
