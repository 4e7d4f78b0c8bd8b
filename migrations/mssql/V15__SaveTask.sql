-- stagehand: stage.SaveTask, creates or updates a task by TaskName (stage_admin). The rules
-- and the upsert are stage.SaveTaskCore's (V31), shared with stage.SaveTasks: every argument
-- is checked and an error names it; nothing is written then. Registered runs keep the policy
-- they were registered with: a change applies to new runs only. (Run before V31, SQL Server
-- warns that the core does not exist yet; it does once the migrations are through.)
CREATE OR ALTER PROCEDURE stage.SaveTask
    @TaskName          nvarchar(4000),            -- string parameters are wider than their columns:
    @Command           nvarchar(max),             -- a value too long is rejected, never cut
    @WorkingDirectory  nvarchar(4000) = NULL,
    @OverlapPolicy     nvarchar(20)   = N'skip',  -- skip, parallel, queue, killPrevious
    @TimeoutMinutes    int            = NULL,
    @MaxAttempts       int            = 1,
    @RetryDelaySeconds int            = 60,
    @Executor          nvarchar(10)   = N'driver', -- driver or external
    @Enabled           bit            = 1,
    @Description       nvarchar(4000) = NULL,
    @Arguments         nvarchar(max)  = NULL,     -- JSON array of strings
    @TimeZone          nvarchar(4000) = NULL,     -- IANA zone name
    @RunIfMissed       bit            = 0,
    @Definition        nvarchar(max)  = NULL      -- the task's JSON as submitted
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- This procedure begins no transaction: it rolls one back only when its callee left one
    -- open and there was none before, never a caller's (that would raise error 266 there).
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        DECLARE @TaskID        int;
        DECLARE @Created       bit;
        DECLARE @ProblemNumber int;
        DECLARE @Problem       nvarchar(2048);

        EXEC stage.SaveTaskCore @TaskName, @Command, @WorkingDirectory, @OverlapPolicy, @TimeoutMinutes,
                                @MaxAttempts, @RetryDelaySeconds, @Executor, @Enabled, @Description,
                                @Arguments, @TimeZone, @RunIfMissed, @Definition,
                                @TaskID OUTPUT, @Created OUTPUT, @ProblemNumber OUTPUT, @Problem OUTPUT;
        IF @Problem IS NOT NULL
            THROW @ProblemNumber, @Problem, 1;

        SELECT @TaskID AS TaskID, @Created AS Created;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
