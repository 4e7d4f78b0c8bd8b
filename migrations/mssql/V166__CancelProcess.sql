-- stagehand: V166: the minimum log level (V154..V158) applies to its two log rows
-- (Cancelled, a Warning; Cancellation requested, Info): each is written only when
-- stage.LogKept keeps it for the run's task. Otherwise as V42.
-- stage.CancelProcess, an operator's cancel (stagehand cancel). A Pending
-- process becomes Cancelled at once; an InProgress one is asked to stop the way killPrevious
-- asks (CancelRequested, which stage.Heartbeat hands to the driver holding it: the driver
-- kills the command and completes it as Cancelled). A finished process is refused (50111).
-- Lock order as in RegisterProcessCore's killPrevious: a claimer locks a Pending run's
-- IX_FileControl_Pending key first and its row second, so a Pending run is locked the same
-- way (a key seek on that index); a running one is updated by key only (CancelRequested is
-- in no index). A run claimed in between is no longer Pending and is flagged instead.
CREATE OR ALTER PROCEDURE stage.CancelProcess
    @ProcessID bigint
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        IF @ProcessID IS NULL
            THROW 50079, N'ProcessID must not be NULL', 1;

        DECLARE @Now       datetime2(3) = SYSUTCDATETIME();
        DECLARE @Message   nvarchar(2048);
        DECLARE @Name      nvarchar(255);
        DECLARE @Status    varchar(20);
        DECLARE @Executor  varchar(10);
        DECLARE @Requested bit;
        DECLARE @Locked    bigint;
        DECLARE @Cancelled bit = 0;

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION CancelProcess;

        -- Read without locks first; each change below re-checks the status it expects.
        SELECT @Name      = fc.ProcessName,
               @Status    = fc.Status,
               @Executor  = fc.Executor,
               @Requested = fc.CancelRequested
        FROM stage.FileControl AS fc
        WHERE fc.ProcessID = @ProcessID;

        IF @Status IS NULL
        BEGIN
            SELECT @Status = h.Status
            FROM stage.FileControl_History AS h
            WHERE h.ProcessID = @ProcessID;
            IF @Status IS NULL
            BEGIN
                SET @Message = CONCAT(N'ProcessID ', @ProcessID, N': no such process');
                THROW 50080, @Message, 1;
            END;
        END;

        IF @Status = 'Pending'
        BEGIN
            -- A claim in progress is waited for, and then the row is no longer Pending.
            SELECT @Locked = fc.ProcessID
            FROM stage.FileControl AS fc WITH (UPDLOCK, ROWLOCK, INDEX (IX_FileControl_Pending), FORCESEEK)
            WHERE fc.Executor  = @Executor
              AND fc.ProcessID = @ProcessID
              AND fc.Status    = 'Pending';

            IF @Locked IS NOT NULL
            BEGIN
                UPDATE fc
                SET    Status  = 'Cancelled',
                       EndTime = @Now
                FROM stage.FileControl AS fc WITH (FORCESEEK)
                WHERE fc.ProcessID = @ProcessID
                  AND fc.Status    = 'Pending';

                INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                SELECT @ProcessID,
                       CONCAT(N'Cancelled by stage.CancelProcess (requested by ', ORIGINAL_LOGIN(), N')'),
                       'Warning',
                       @Now
                FROM stage.FileControl AS x
                CROSS APPLY stage.LogKept('Warning', x.TaskID) AS k
                WHERE x.ProcessID = @ProcessID;
                SET @Status    = 'Cancelled';
                SET @Cancelled = 1;
            END
            ELSE
                -- Claimed in between: it is InProgress now (or finished already).
                SET @Status = 'InProgress';
        END;

        IF @Status = 'InProgress'
        BEGIN
            -- By key only: the row, which completion locks the same way.
            SELECT @Status    = fc.Status,
                   @Requested = fc.CancelRequested
            FROM stage.FileControl AS fc WITH (UPDLOCK, ROWLOCK, FORCESEEK)
            WHERE fc.ProcessID = @ProcessID;

            IF @Status = 'InProgress' AND @Requested = 0
            BEGIN
                UPDATE fc
                SET    CancelRequested = 1
                FROM stage.FileControl AS fc WITH (FORCESEEK)
                WHERE fc.ProcessID = @ProcessID;

                INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                SELECT @ProcessID,
                       CONCAT(N'Cancellation requested by stage.CancelProcess (requested by ', ORIGINAL_LOGIN(), N')'),
                       'Info',
                       @Now
                FROM stage.FileControl AS x
                CROSS APPLY stage.LogKept('Info', x.TaskID) AS k
                WHERE x.ProcessID = @ProcessID;
                SET @Requested = 1;
            END;
        END;

        IF @Cancelled = 0 AND @Status <> 'InProgress'
        BEGIN
            SET @Message = CONCAT(N'ProcessID ', @ProcessID, N' is ', @Status,
                                  N': only a Pending or InProgress process can be cancelled');
            THROW 50111, @Message, 1;
        END;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT @ProcessID AS ProcessID,
               @Name      AS ProcessName,
               @Status    AS Status,
               @Requested AS CancelRequested;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION CancelProcess;
        THROW;
    END CATCH;
END;
