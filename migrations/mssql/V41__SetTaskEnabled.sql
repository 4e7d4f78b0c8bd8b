-- stagehand: stage.SetTaskEnabled enables or disables a task, or one of its triggers
-- (@TriggerIndex, its position in the task's triggers array). The columns are what the
-- clock reads, and the version triggers (V23, V24) raise stage.ScheduleVersion on the
-- change, as for SaveTasks, so running clocks reload within a second. Nothing is written
-- when nothing changes. Enabling means "from now on": the triggers of V45 and V46 set
-- CreatedAt of the triggers it brings back to now, so occurrences that passed while
-- disabled never fire.
CREATE OR ALTER PROCEDURE stage.SetTaskEnabled
    @TaskName     nvarchar(4000),  -- wider than the column: a long name is rejected, never cut
    @Enabled      bit,
    @TriggerIndex int = NULL       -- NULL: the task itself
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
            THROW 50074, N'TaskName must not be NULL or empty', 1;
        IF DATALENGTH(@TaskName) / 2 > 255
            THROW 50075, N'TaskName is longer than 255 characters', 1;
        IF @Enabled IS NULL
            THROW 50077, N'Enabled must not be NULL', 1;

        DECLARE @Now        datetime2(3) = SYSUTCDATETIME();
        DECLARE @Message    nvarchar(2048);
        DECLARE @TaskID     int;
        DECLARE @Name       nvarchar(255);
        DECLARE @Was        bit;
        DECLARE @TriggerID  int;
        DECLARE @Locked     int;
        DECLARE @TriggerIDs TABLE (TriggerID int NOT NULL PRIMARY KEY);

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION SetTaskEnabled;

        -- The task's trigger rows first, then the task: the order in which FireTrigger takes
        -- them, as DeleteTask does. The ids first, then the rows by PK_TaskTrigger.
        INSERT @TriggerIDs (TriggerID)
        SELECT g.TriggerID
        FROM stage.TaskTrigger AS g
        INNER JOIN stage.Task AS t
                ON t.TaskID = g.TaskID
        WHERE t.TaskName = @TaskName;

        SELECT @Locked = COUNT(*)
        FROM @TriggerIDs AS i
        INNER JOIN stage.TaskTrigger AS g WITH (UPDLOCK, ROWLOCK, FORCESEEK)
                ON g.TriggerID = i.TriggerID;

        SELECT @TaskID = t.TaskID,
               @Name   = t.TaskName,
               @Was    = t.Enabled
        FROM stage.Task AS t WITH (UPDLOCK, ROWLOCK)
        WHERE t.TaskName = @TaskName;

        IF @TaskID IS NULL
        BEGIN
            SET @Message = CONCAT(N'TaskName ', CAST(@TaskName AS nvarchar(255)), N': no such task');
            THROW 50076, @Message, 1;
        END;

        IF @TriggerIndex IS NULL
        BEGIN
            IF @Was <> @Enabled
                UPDATE t
                SET    Enabled   = @Enabled,
                       UpdatedAt = @Now
                FROM stage.Task AS t
                WHERE t.TaskID = @TaskID;
        END
        ELSE
        BEGIN
            SET @Was = NULL;
            SELECT @TriggerID = g.TriggerID,
                   @Was       = g.Enabled
            FROM stage.TaskTrigger AS g
            WHERE g.TaskID = @TaskID
              AND g.TriggerIndex = @TriggerIndex;

            IF @TriggerID IS NULL
            BEGIN
                SET @Message = CONCAT(N'TriggerIndex ', @TriggerIndex, N': task ', @Name, N' has no such trigger');
                THROW 50078, @Message, 1;
            END;

            IF @Was <> @Enabled
                UPDATE g
                SET    Enabled = @Enabled
                FROM stage.TaskTrigger AS g
                WHERE g.TriggerID = @TriggerID;
        END;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT @TaskID       AS TaskID,
               @Name         AS TaskName,
               @TriggerIndex AS TriggerIndex,
               @Enabled      AS Enabled,
               CAST(CASE WHEN @Was <> @Enabled THEN 1 ELSE 0 END AS bit) AS Changed;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION SetTaskEnabled;
        THROW;
    END CATCH;
END;
