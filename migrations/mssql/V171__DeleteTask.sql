-- stagehand: V171: the minimum log level (V154..V158) applies to its 'Cancelled: task ...
-- was deleted' rows (Warning), through stage.LogKept with the runs' TaskID. The task is
-- gone by then, so its own minLogLevel went with it and the database's level applies (as
-- on PostgreSQL). Otherwise as V16.
-- stage.DeleteTask, removes a task (stage_admin). Its Pending runs (its name
-- and the TaskID recorded at registration) are cancelled with a Warning log row each;
-- runs already InProgress are left to finish.
CREATE OR ALTER PROCEDURE stage.DeleteTask
    @TaskName nvarchar(4000)  -- wider than the column, so a long name is never cut into an existing one
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @TaskName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @TaskName) = 0
            THROW 50088, N'TaskName must not be NULL or empty', 1;

        DECLARE @Now       datetime2(3) = SYSUTCDATETIME();
        DECLARE @Triggers  int;
        DECLARE @TriggerIDs TABLE (TriggerID int NOT NULL PRIMARY KEY);
        DECLARE @Deleted   TABLE (TaskID int NOT NULL PRIMARY KEY, TaskName nvarchar(255) NOT NULL);
        DECLARE @Pending   TABLE (ProcessID bigint NOT NULL PRIMARY KEY, Executor varchar(10) COLLATE DATABASE_DEFAULT NOT NULL);
        DECLARE @Locked    TABLE (ProcessID bigint NOT NULL PRIMARY KEY);
        DECLARE @Cancelled TABLE (ProcessID bigint NOT NULL PRIMARY KEY);

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION DeleteTask;

        -- The task's trigger rows first (the delete cascades to them), then the task: the
        -- order in which FireTrigger takes them (its trigger row, then the task it reads in
        -- RegisterProcessCore), so the two cannot deadlock when READ_COMMITTED_SNAPSHOT is off.
        -- The ids first, then the rows by PK_TaskTrigger: FireTrigger updates the clustered
        -- row, and a lock on IX_TaskTrigger_Task (which covers a count) would not stop it.
        INSERT @TriggerIDs (TriggerID)
        SELECT g.TriggerID
        FROM stage.TaskTrigger AS g
        INNER JOIN stage.Task AS t
                ON t.TaskID = g.TaskID
        WHERE t.TaskName = @TaskName;

        SELECT @Triggers = COUNT(*)
        FROM @TriggerIDs AS i
        INNER JOIN stage.TaskTrigger AS g WITH (UPDLOCK, ROWLOCK, FORCESEEK)
                ON g.TriggerID = i.TriggerID;

        DELETE t
        OUTPUT deleted.TaskID, deleted.TaskName INTO @Deleted (TaskID, TaskName)
        FROM stage.Task AS t
        WHERE t.TaskName = @TaskName;

        -- Its Pending runs (registered under its name, with its TaskID): ids read without
        -- locks (IX_FileControl_Active), then locked through IX_FileControl_Pending by key,
        -- the order in which claimers lock a run, so the two cannot deadlock.
        INSERT @Pending (ProcessID, Executor)
        SELECT fc.ProcessID, fc.Executor
        FROM stage.FileControl AS fc
        INNER JOIN @Deleted AS d
                ON d.TaskID = fc.TaskID
        WHERE fc.ProcessName = @TaskName
          AND fc.Status = 'Pending';

        INSERT @Locked (ProcessID)
        SELECT fc.ProcessID
        FROM @Pending AS p
        INNER JOIN stage.FileControl AS fc WITH (UPDLOCK, ROWLOCK, INDEX (IX_FileControl_Pending), FORCESEEK)
                ON fc.Executor  = p.Executor
               AND fc.ProcessID = p.ProcessID
        WHERE fc.Status = 'Pending';

        UPDATE fc
        SET    Status  = 'Cancelled',
               EndTime = @Now
        OUTPUT inserted.ProcessID INTO @Cancelled (ProcessID)
        FROM stage.FileControl AS fc WITH (FORCESEEK)
        INNER JOIN @Locked AS l
                ON l.ProcessID = fc.ProcessID
        WHERE fc.Status = 'Pending';

        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
        SELECT c.ProcessID,
               CONCAT(N'Cancelled: task ', d.TaskName, N' was deleted'),
               'Warning',
               @Now
        FROM @Cancelled AS c
        CROSS JOIN @Deleted AS d
        CROSS APPLY stage.LogKept('Warning', d.TaskID) AS k
        ORDER BY c.ProcessID;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM @Deleted) THEN 1 ELSE 0 END AS bit) AS Deleted;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION DeleteTask;
        THROW;
    END CATCH;
END;
