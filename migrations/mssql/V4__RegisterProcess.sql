-- stagehand: stage.RegisterProcess, the way every run enters the queue (apps, SQL Agent).
-- The checks, the task's policy and the de-duplication live in stage.RegisterProcessCore
-- (V30), which stage.FireTrigger shares; this returns its row. (Run before V30, SQL Server
-- warns that the core does not exist yet; it does once the migrations are through.)
CREATE OR ALTER PROCEDURE stage.RegisterProcess
    @ProcessName  nvarchar(4000),        -- wider than the column: a long name is rejected, never cut
    @Parameters   nvarchar(max) = NULL,  -- JSON object or array, stored verbatim
    @ScheduledFor datetime2(3)  = NULL   -- UTC
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: RegisterProcessCore works under a
    -- savepoint then, and this procedure never rolls it back.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        DECLARE @ProcessID      bigint;
        DECLARE @Status         varchar(20);
        DECLARE @Registered     bit;
        DECLARE @Try            int = 1;
        DECLARE @Finished       bit = 0;

        -- Two tries at most: the core's checks hold key-range locks, so its guarded insert
        -- cannot normally lose a race, but if a concurrent caller's row still trips a unique
        -- index (2601/2627), XACT_ABORT has doomed the transaction; it is rolled back and
        -- the core runs once more, now sees that row, and refuses.
        WHILE @Finished = 0
        BEGIN
            BEGIN TRY
                EXEC stage.RegisterProcessCore @ProcessName, @Parameters, @ScheduledFor,
                                               @ProcessID OUTPUT, @Status OUTPUT, @Registered OUTPUT;
                SET @Finished = 1;
            END TRY
            BEGIN CATCH
                -- Without a caller's transaction the core has rolled its own back already.
                IF @TranCount = 0 AND XACT_STATE() <> 0
                    ROLLBACK TRANSACTION;
                -- Retry only a lost race, only once, and only when the transaction was ours:
                -- a caller's transaction is doomed by the error and must see it.
                IF ERROR_NUMBER() NOT IN (2601, 2627) OR @Try > 1 OR @TranCount > 0
                    THROW;
                SET @Try = @Try + 1;
            END CATCH;
        END;

        -- The name as given (the core refuses one over 255 characters).
        SELECT @ProcessID                          AS ProcessID,
               CAST(@ProcessName AS nvarchar(255)) AS ProcessName,
               @Status                             AS Status,
               @Registered                         AS Registered;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
