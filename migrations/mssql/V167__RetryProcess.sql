-- stagehand: V167: the minimum log level (V154..V158) applies to the new run's 'Retry of
-- process' row (Info): written only when stage.LogKept keeps it for the new run's task.
-- Otherwise as V43.
-- stage.RetryProcess registers a Failed or Cancelled process (in stage.FileControl
-- or already rotated into stage.FileControl_History) again, with the same name and
-- parameters, through stage.RegisterProcessCore (V30): the task's current policy applies
-- and, under skip, a run that is Pending or InProgress refuses it (that row comes back,
-- Registered 0). The new run's log says which process it retries. Other statuses are
-- refused (50112). ScheduledFor is not copied: a retry is not the trigger's occurrence.
CREATE OR ALTER PROCEDURE stage.RetryProcess
    @ProcessID bigint
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: the registration then works under a
    -- savepoint, is not retried, and only its own part is ever rolled back.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @ProcessID IS NULL
            THROW 50081, N'ProcessID must not be NULL', 1;

        DECLARE @Now        datetime2(3) = SYSUTCDATETIME();
        DECLARE @Message    nvarchar(2048);
        DECLARE @Name       nvarchar(255);
        DECLARE @Status     varchar(20);
        DECLARE @Parameters nvarchar(max);
        DECLARE @NewID      bigint;
        DECLARE @NewStatus  varchar(20);
        DECLARE @Registered bit;
        DECLARE @Try        int = 1;
        DECLARE @Finished   bit = 0;

        -- Failed and Cancelled are final: nothing changes them, so no lock is needed.
        SELECT @Name       = fc.ProcessName,
               @Status     = fc.Status,
               @Parameters = fc.Parameters
        FROM stage.FileControl AS fc
        WHERE fc.ProcessID = @ProcessID;

        IF @Status IS NULL
            SELECT @Name       = h.ProcessName,
                   @Status     = h.Status,
                   @Parameters = h.Parameters
            FROM stage.FileControl_History AS h
            WHERE h.ProcessID = @ProcessID;

        IF @Status IS NULL
        BEGIN
            SET @Message = CONCAT(N'ProcessID ', @ProcessID, N': no such process');
            THROW 50082, @Message, 1;
        END;
        IF @Status NOT IN ('Failed', 'Cancelled')
        BEGIN
            SET @Message = CONCAT(N'ProcessID ', @ProcessID, N' is ', @Status,
                                  N': only a Failed or Cancelled process can be retried');
            THROW 50112, @Message, 1;
        END;

        -- Two tries at most, as in RegisterProcess: should the registration lose a race on a
        -- unique index (2601/2627), it is rolled back and done once more; the core then sees
        -- the other row and refuses.
        WHILE @Finished = 0
        BEGIN
            BEGIN TRY
                IF @TranCount = 0
                    BEGIN TRANSACTION;
                ELSE
                    SAVE TRANSACTION RetryProcess;

                EXEC stage.RegisterProcessCore @Name, @Parameters, NULL,
                                               @NewID OUTPUT, @NewStatus OUTPUT, @Registered OUTPUT;
                IF @Registered = 1
                    INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                    SELECT @NewID,
                           CONCAT(N'Retry of process ', @ProcessID, N' (stage.RetryProcess, requested by ',
                                  ORIGINAL_LOGIN(), N')'),
                           'Info',
                           @Now
                    FROM stage.FileControl AS x
                    CROSS APPLY stage.LogKept('Info', x.TaskID) AS k
                    WHERE x.ProcessID = @NewID;

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
                    ROLLBACK TRANSACTION RetryProcess;
                -- Retry only a lost race, only once, and only when the transaction was ours.
                IF ERROR_NUMBER() NOT IN (2601, 2627) OR @Try > 1 OR @TranCount > 0
                    THROW;
                SET @Try = @Try + 1;
            END CATCH;
        END;

        SELECT @NewID      AS ProcessID,
               @Name       AS ProcessName,
               @NewStatus  AS Status,
               @Registered AS Registered;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
