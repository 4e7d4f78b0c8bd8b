-- stagehand: stage.CompleteProcess, single completion for callers outside stagehand (SSIS,
-- Agent jobs, scripts). Checks its own parameters, so errors name them, then hands a
-- one-element array to stage.CompleteProcesses, where the completion logic lives.
CREATE OR ALTER PROCEDURE stage.CompleteProcess
    @ProcessID  bigint,
    @WorkerName nvarchar(4000),                  -- wider than the column: a long name is refused, never cut
    @Status     nvarchar(20)  = N'Completed',    -- Completed, Failed or Cancelled (nvarchar: no code-page mapping)
    @ExitCode   int           = NULL,
    @Message    nvarchar(max) = NULL,
    @Attempt    int           = NULL             -- NULL: whatever attempt is running
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- This procedure begins no transaction: it rolls one back only when its callee left one
    -- open and there was none before, never a caller's (that would raise error 266 there).
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @ProcessID IS NULL
            THROW 50045, N'ProcessID must not be NULL', 1;
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @WorkerName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @WorkerName) = 0
            THROW 50046, N'WorkerName must not be NULL or empty', 1;
        -- Exact case (BIN2); = ignores trailing blanks, so DATALENGTH catches them.
        IF @Status IS NULL OR @Status COLLATE Latin1_General_BIN2 NOT IN (N'Completed', N'Failed', N'Cancelled')
           OR DATALENGTH(@Status) <> DATALENGTH(RTRIM(@Status))
            THROW 50047, N'Status must be one of Completed, Failed, Cancelled', 1;

        -- FOR JSON leaves NULL values out, which is what "absent" means to CompleteProcesses.
        DECLARE @Completions nvarchar(max) =
            (SELECT @ProcessID  AS processId,
                    @WorkerName AS workerName,
                    @Attempt    AS attempt,
                    @Status     AS status,
                    @ExitCode   AS exitCode,
                    @Message    AS message
             FOR JSON PATH);

        EXEC stage.CompleteProcesses @Completions = @Completions;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
