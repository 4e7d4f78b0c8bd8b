-- stagehand: V160: the minimum log level (V154..V158) applies to LogMessage too: a row
-- below the level of the process's task (the database's level for none, or a process
-- without a task) is not written, and LogID comes back NULL. Otherwise as V11.
-- stage.LogMessage, one row in stage.ProcessLog (for workers, SSIS packages and
-- scripts; @ProcessID may be NULL for messages about no process in particular).
-- Message is capped at 500 characters; a longer one is kept whole in Detail.
CREATE OR ALTER PROCEDURE stage.LogMessage
    @ProcessID bigint,
    @Message   nvarchar(max),
    @LogLevel  nvarchar(10)  = N'Info', -- Info, Warning or Error (nvarchar: no code-page mapping)
    @Detail    nvarchar(max) = NULL
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- This procedure begins no transaction: it rolls one back only when its callee left one
    -- open and there was none before, never a caller's (that would raise error 266 there).
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @Message IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @Message) = 0
            THROW 50055, N'Message must not be NULL or empty', 1;
        -- Exact case (BIN2); = ignores trailing blanks, so DATALENGTH catches them.
        IF @LogLevel IS NULL OR @LogLevel COLLATE Latin1_General_BIN2 NOT IN (N'Info', N'Warning', N'Error')
           OR DATALENGTH(@LogLevel) <> DATALENGTH(RTRIM(@LogLevel))
            THROW 50056, N'LogLevel must be one of Info, Warning, Error', 1;

        DECLARE @Level varchar(10) = CAST(@LogLevel AS varchar(10));
        DECLARE @TaskID int = (SELECT f.TaskID FROM stage.FileControl AS f WHERE f.ProcessID = @ProcessID);
        DECLARE @LogID bigint;

        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime, Detail)
        SELECT @ProcessID,
               LEFT(@Message, 500),
               @Level,
               SYSUTCDATETIME(),
               -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
               CASE WHEN @Detail IS NULL AND DATALENGTH(@Message) / 2 > 500 THEN @Message ELSE @Detail END
        FROM stage.LogKept(@Level, @TaskID) AS k;

        -- SCOPE_IDENTITY() would still hold an earlier insert's value when this one wrote none.
        IF @@ROWCOUNT = 1
            SET @LogID = CAST(SCOPE_IDENTITY() AS bigint);

        SELECT @LogID AS LogID;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
