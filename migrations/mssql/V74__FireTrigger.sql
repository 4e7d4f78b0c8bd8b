-- stagehand: stage.FireTrigger, as V55 plus missed-run notifications (V74): an occurrence that
-- does not run, because it was missed while no driver ran (@Mode 'skip') or because the
-- task's overlap policy refused its registration (an earlier run still goes), enqueues the
-- task's `missed` notifications through stage.EnqueueMissedNotification (V73), in the same
-- transaction. Everything else is V55's: exactly once through the conditional UPDATE of
-- LastFiredFor, V47's enabled rule, log rows in time order.
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

        DECLARE @Now            datetime2(3) = SYSUTCDATETIME();
        -- Style 126 cut to whole seconds: 2024-12-06T18:00:00Z.
        DECLARE @Occurred       nvarchar(20) = CONVERT(nvarchar(19), @Occurrence, 126) + N'Z';
        DECLARE @TaskID         int;
        DECLARE @TaskName       nvarchar(255);
        DECLARE @ProcessID      bigint;
        DECLARE @Status         varchar(20);
        DECLARE @Registered     bit;
        DECLARE @LogTime        datetime2(3);
        DECLARE @Try            int          = 1;
        DECLARE @Finished       bit          = 0;
        DECLARE @Missed         int;

        -- Two tries at most, as in RegisterProcess: should the registration lose a race on a
        -- unique index (2601/2627), the whole firing is rolled back and done once more; the
        -- core then sees the other row and refuses.
        WHILE @Finished = 0
        BEGIN
            BEGIN TRY
                SET @TaskID     = NULL;
                SET @ProcessID  = NULL;
                SET @Status     = NULL;
                SET @Registered = NULL;

                IF @TranCount = 0
                    BEGIN TRANSACTION;
                ELSE
                    SAVE TRANSACTION FireTrigger;

                UPDATE g
                SET    @TaskID      = g.TaskID,
                       LastFiredFor = @Occurrence,
                       NextFireAt   = @NextFireAt
                FROM stage.TaskTrigger AS g
                WHERE g.TriggerID = @TriggerID
                  AND (g.LastFiredFor IS NULL OR g.LastFiredFor < @Occurrence)
                  AND g.Enabled = 1
                  AND EXISTS (SELECT 1 FROM stage.Task AS t WHERE t.TaskID = g.TaskID AND t.Enabled = 1);

                IF @TaskID IS NOT NULL
                BEGIN
                    SELECT @TaskName = t.TaskName
                    FROM stage.Task AS t
                    WHERE t.TaskID = @TaskID;

                    IF @Mode = N'skip'
                    BEGIN
                        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                        VALUES (NULL,
                                CONCAT(N'Task ', @TaskName, N': ', @MissedCount,
                                       N' occurrence(s) missed while no driver was running, the latest ', @Occurred,
                                       N'; runIfMissed is off'),
                                'Warning',
                                @Now);

                        EXEC stage.EnqueueMissedNotification @TaskID, @Occurrence, @MissedCount;
                    END;
                    ELSE
                    BEGIN
                        EXEC stage.RegisterProcessCore @TaskName, NULL, @Occurrence,
                                                       @ProcessID OUTPUT, @Status OUTPUT, @Registered OUTPUT;

                        IF @Mode = N'late' AND @Registered = 1
                        BEGIN
                            -- Now, and not before the rows the registration just wrote (the
                            -- system clock may step back): seek on IX_ProcessLog_Process.
                            SET @LogTime = SYSUTCDATETIME();
                            SELECT @LogTime = CASE WHEN MAX(l.LogTime) > @LogTime THEN MAX(l.LogTime) ELSE @LogTime END
                            FROM stage.ProcessLog AS l
                            WHERE l.ProcessID = @ProcessID;

                            INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                            VALUES (@ProcessID,
                                    CONCAT(N'Late run for the occurrence of ', @Occurred, N' (', @MissedCount,
                                           N' missed while no driver was running)'),
                                    'Info',
                                    @LogTime);
                        END;

                        IF @Registered = 0
                        BEGIN
                            SET @Missed = CASE WHEN @MissedCount > 1 THEN @MissedCount ELSE 1 END;
                            EXEC stage.EnqueueMissedNotification @TaskID, @Occurrence, @Missed;
                        END;
                    END;
                END;

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
        SELECT CAST(CASE WHEN @TaskID IS NULL THEN 0 ELSE 1 END AS bit) AS Fired,
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
