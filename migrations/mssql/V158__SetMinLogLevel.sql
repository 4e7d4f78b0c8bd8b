-- stagehand: stage.SetMinLogLevel, the database's minimum log level (stage.LogPolicy,
-- V154): Info keeps every log row, Warning drops the Info rows, Error keeps errors only. A
-- task's `minLogLevel` (Task.MinLogLevel) still goes over it for that task's runs. Applies
-- from the next log row any procedure writes. Returns the level before and after.
CREATE OR ALTER PROCEDURE stage.SetMinLogLevel
    @MinLogLevel nvarchar(10)  -- Info, Warning or Error (nvarchar: no code-page mapping)
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- Exact case (BIN2); = ignores trailing blanks, so DATALENGTH catches them.
        IF @MinLogLevel IS NULL OR @MinLogLevel COLLATE Latin1_General_BIN2 NOT IN (N'Info', N'Warning', N'Error')
           OR DATALENGTH(@MinLogLevel) <> DATALENGTH(RTRIM(@MinLogLevel))
            THROW 51800, N'MinLogLevel must be one of Info, Warning, Error', 1;

        DECLARE @Level varchar(10) = CAST(@MinLogLevel AS varchar(10));
        DECLARE @Previous varchar(10);

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION SetMinLogLevel;

        -- The row is locked first, so two concurrent calls each report the level they replaced.
        SELECT @Previous = p.MinLogLevel
        FROM stage.LogPolicy AS p WITH (UPDLOCK, HOLDLOCK)
        WHERE p.PolicyID = 1;

        IF @Previous IS NULL
        BEGIN
            -- A DBA deleted the row: it meant Info; put it back with the new level.
            INSERT stage.LogPolicy (PolicyID, MinLogLevel) VALUES (1, @Level);
            SET @Previous = 'Info';
        END
        ELSE IF @Previous <> @Level COLLATE Latin1_General_BIN2
            UPDATE stage.LogPolicy
            SET MinLogLevel = @Level,
                UpdatedAt   = SYSUTCDATETIME()
            WHERE PolicyID = 1;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT @Level AS MinLogLevel, @Previous AS PreviousMinLogLevel;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION SetMinLogLevel;
        THROW;
    END CATCH;
END;
