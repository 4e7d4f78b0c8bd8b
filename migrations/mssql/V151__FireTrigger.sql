-- stagehand: stage.FireTrigger (V151): V74's checks, transaction and retry, around
-- stage.FireTriggerCore (V150), which holds V74's firing rules unchanged. Same
-- arguments, same row, same errors.
CREATE OR ALTER PROCEDURE stage.FireTrigger
    @TriggerID   int,
    @Occurrence  datetime2(3),          -- UTC
    @NextFireAt  datetime2(3) = NULL,   -- UTC; the occurrence after this one
    @Mode        nvarchar(10) = N'run', -- run, late (missed, runIfMissed on) or skip (missed, off)
    @MissedCount int          = 0       -- occurrences missed while no driver ran (late, skip)
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: the firing then works under a
    -- savepoint, is not retried, and only its own part is ever rolled back.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @TriggerID IS NULL
            THROW 50093, N'TriggerID must not be NULL', 1;
        IF @Occurrence IS NULL
            THROW 50094, N'Occurrence must not be NULL', 1;
        -- Exact case (BIN2); = ignores trailing blanks, so DATALENGTH catches them.
        IF @Mode IS NULL OR @Mode COLLATE Latin1_General_BIN2 NOT IN (N'run', N'late', N'skip')
           OR DATALENGTH(@Mode) <> DATALENGTH(RTRIM(@Mode))
            THROW 50095, N'Mode must be one of run, late, skip', 1;
        IF @MissedCount IS NULL OR @MissedCount < 0
            THROW 50096, N'MissedCount must be 0 or more', 1;

        DECLARE @Fired      bit;
        DECLARE @ProcessID  bigint;
        DECLARE @Status     varchar(20);
        DECLARE @Registered bit;
        DECLARE @Try        int = 1;
        DECLARE @Finished   bit = 0;

        -- Two tries at most, as in RegisterProcess: should the registration lose a race on a
        -- unique index (2601/2627), the whole firing is rolled back and done once more; the
        -- core then sees the other row and refuses.
        WHILE @Finished = 0
        BEGIN
            BEGIN TRY
                IF @TranCount = 0
                    BEGIN TRANSACTION;
                ELSE
                    SAVE TRANSACTION FireTrigger;

                EXEC stage.FireTriggerCore @TriggerID, @Occurrence, @NextFireAt, @Mode, @MissedCount,
                                           @Fired OUTPUT, @ProcessID OUTPUT, @Registered OUTPUT, @Status OUTPUT;

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
                    ROLLBACK TRANSACTION FireTrigger;
                -- Retry only a lost race, only once, and only when the transaction was ours.
                IF ERROR_NUMBER() NOT IN (2601, 2627) OR @Try > 1 OR @TranCount > 0
                    THROW;
                SET @Try = @Try + 1;
            END CATCH;
        END;

        -- One row always; the run's columns are NULL when nothing was registered.
        SELECT @Fired      AS Fired,
               @ProcessID  AS ProcessID,
               @Registered AS Registered,
               @Status     AS Status;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
