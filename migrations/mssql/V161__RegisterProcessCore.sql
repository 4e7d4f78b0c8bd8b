-- stagehand: V161: the minimum log level (V154..V158): each log row is written only when
-- stage.LogKept keeps it for the task of the name (the database's level for a name without
-- a task). Otherwise as V30.
-- stagehand: stage.RegisterProcessCore, the registration logic (internal; no role may execute
-- it), shared by stage.RegisterProcess and stage.FireTrigger so both check and register alike.
-- Its result comes back in OUTPUT parameters, never a result set: the callers need no
-- INSERT ... EXEC, inside which a ROLLBACK would replace the real error with error 3915.
-- It copies the task's policy into the row and applies it at enqueue time: skip refuses a
-- duplicate, killPrevious cancels the older runs, and a trigger occurrence (ProcessName,
-- ScheduledFor) is registered at most once. It works inside the caller's transaction when
-- there is one; a unique-key violation (2601/2627) from a lost race reaches the caller,
-- which owns the transaction and retries.
CREATE OR ALTER PROCEDURE stage.RegisterProcessCore
    @ProcessName  nvarchar(4000),         -- wider than the column: a long name is rejected, never cut
    @Parameters   nvarchar(max),          -- JSON object or array, stored verbatim
    @ScheduledFor datetime2(3),           -- UTC
    @ProcessID    bigint      OUTPUT,     -- the new row, or the existing one that refused it
    @Status       varchar(20) OUTPUT,     -- that row's status
    @Registered   bit         OUTPUT
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @ProcessName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @ProcessName) = 0
            THROW 50001, N'ProcessName must not be NULL or empty', 1;
        -- DATALENGTH / 2 counts characters including trailing blanks (LEN ignores them).
        IF DATALENGTH(@ProcessName) / 2 > 255
            THROW 50002, N'ProcessName is longer than 255 characters', 1;
        -- A JSON object or array (what ISJSON accepts; the PostgreSQL twin accepts the same).
        IF ISJSON(@Parameters) = 0
            THROW 50003, N'Parameters is not valid JSON', 1;

        DECLARE @Now           datetime2(3) = SYSUTCDATETIME();
        DECLARE @TaskID        int;
        DECLARE @OverlapPolicy varchar(20)  = 'skip';      -- no task: skip, external, 3 attempts
        DECLARE @Executor      varchar(10)  = 'external';
        DECLARE @MaxAttempts   int          = 3;
        DECLARE @Older      TABLE (ProcessID bigint NOT NULL PRIMARY KEY, Executor varchar(10) COLLATE DATABASE_DEFAULT NOT NULL);
        DECLARE @Locked     TABLE (ProcessID bigint NOT NULL PRIMARY KEY);
        DECLARE @Superseded TABLE (ProcessID bigint NOT NULL PRIMARY KEY, Status varchar(20) NOT NULL);

        SET @ProcessID  = NULL;
        SET @Status     = NULL;
        SET @Registered = 0;

        SELECT @TaskID        = t.TaskID,
               @OverlapPolicy = t.OverlapPolicy,
               @Executor      = t.Executor,
               @MaxAttempts   = t.MaxAttempts
        FROM stage.Task AS t
        WHERE t.TaskName = @ProcessName;

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION RegisterProcessCore;

        -- One run per trigger occurrence (UX_FileControl_Occurrence).
        IF @ScheduledFor IS NOT NULL
            SELECT @ProcessID = fc.ProcessID,
                   @Status    = fc.Status
            FROM stage.FileControl AS fc WITH (UPDLOCK, HOLDLOCK)
            WHERE fc.ProcessName  = @ProcessName
              AND fc.ScheduledFor = @ScheduledFor
              AND fc.ScheduledFor IS NOT NULL;

        -- skip: refused while any run of that name is Pending or InProgress. UPDLOCK +
        -- HOLDLOCK range-lock the name's active rows (IX_FileControl_Active), so a
        -- concurrent caller waits here and then sees this caller's row.
        IF @ProcessID IS NULL AND @OverlapPolicy = 'skip'
            SELECT TOP (1) @ProcessID = fc.ProcessID,
                           @Status    = fc.Status
            FROM stage.FileControl AS fc WITH (UPDLOCK, HOLDLOCK)
            WHERE fc.ProcessName = @ProcessName
              AND fc.Status IN ('Pending', 'InProgress')
            ORDER BY fc.ProcessID;

        IF @ProcessID IS NULL
        BEGIN
            -- killPrevious: older Pending runs are cancelled, running ones asked to
            -- stop (once), before the insert. Lock order matters here: a claimer locks
            -- a Pending run's IX_FileControl_Pending key first and its row second, so
            -- the Pending runs are locked the same way (key seeks on that index, ids
            -- read first without locks); running runs are updated by key only, and
            -- CancelRequested is in no index, so nothing but the row is locked.
            IF @OverlapPolicy = 'killPrevious'
            BEGIN
                INSERT @Older (ProcessID, Executor)
                SELECT fc.ProcessID, fc.Executor
                FROM stage.FileControl AS fc
                WHERE fc.ProcessName = @ProcessName
                  AND fc.Status IN ('Pending', 'InProgress');

                -- A run being claimed right now is waited for, and then is no
                -- longer Pending: the flagging below catches it.
                INSERT @Locked (ProcessID)
                SELECT fc.ProcessID
                FROM @Older AS o
                INNER JOIN stage.FileControl AS fc WITH (UPDLOCK, ROWLOCK, INDEX (IX_FileControl_Pending), FORCESEEK)
                        ON fc.Executor  = o.Executor
                       AND fc.ProcessID = o.ProcessID
                WHERE fc.Status = 'Pending';

                UPDATE fc
                SET    Status  = 'Cancelled',
                       EndTime = @Now
                OUTPUT inserted.ProcessID, 'Pending' INTO @Superseded (ProcessID, Status)
                FROM stage.FileControl AS fc WITH (FORCESEEK)
                INNER JOIN @Locked AS l
                        ON l.ProcessID = fc.ProcessID
                WHERE fc.Status = 'Pending';

                UPDATE fc
                SET    CancelRequested = 1
                OUTPUT inserted.ProcessID, 'InProgress' INTO @Superseded (ProcessID, Status)
                FROM stage.FileControl AS fc WITH (FORCESEEK)
                INNER JOIN @Older AS o
                        ON o.ProcessID = fc.ProcessID
                WHERE fc.Status = 'InProgress'
                  AND fc.CancelRequested = 0;
            END;

            INSERT stage.FileControl
                (ProcessName, Status, CreatedAt, Parameters, TaskID, ScheduledFor,
                 Attempt, MaxAttempts, RunAfter, CancelRequested, OverlapPolicy, Executor)
            VALUES
                (@ProcessName, 'Pending', @Now, @Parameters, @TaskID, @ScheduledFor,
                 0, @MaxAttempts, @Now, 0, @OverlapPolicy, @Executor);
            SET @ProcessID  = SCOPE_IDENTITY();
            SET @Status     = 'Pending';
            SET @Registered = 1;

            -- 'Registered' first, then the cancelled runs, then the flagged ones.
            INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
            SELECT l.ProcessID, l.Message, l.LogLevel, @Now
            FROM
            (
                SELECT 0 AS Seq, @ProcessID AS ProcessID, N'Registered' AS Message, 'Info' AS LogLevel
                UNION ALL
                SELECT CASE WHEN s.Status = 'Pending' THEN 1 ELSE 2 END,
                       s.ProcessID,
                       CASE WHEN s.Status = 'Pending'
                            THEN CONCAT(N'Cancelled by killPrevious: superseded by process ', @ProcessID)
                            ELSE CONCAT(N'Cancellation requested by killPrevious: superseded by process ', @ProcessID)
                       END,
                       CASE WHEN s.Status = 'Pending' THEN 'Warning' ELSE 'Info' END
                FROM @Superseded AS s
            ) AS l
            CROSS APPLY stage.LogKept(l.LogLevel, @TaskID) AS k
            ORDER BY l.Seq, l.ProcessID;
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
            ROLLBACK TRANSACTION RegisterProcessCore;
        THROW;
    END CATCH;
END;
