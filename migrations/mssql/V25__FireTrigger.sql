-- stagehand: stage.FireTrigger, what the clock calls when a trigger's occurrence is due.
-- Exactly once however many drivers call it: the conditional UPDATE of LastFiredFor decides.
-- Its row lock serialises concurrent callers; a second caller then finds LastFiredFor at the
-- occurrence already, updates nothing and returns Fired = 0. Runs register through
-- stage.RegisterProcess, so the task's overlap policy applies.
CREATE OR ALTER PROCEDURE stage.FireTrigger
    @TriggerID   int,
    @Occurrence  datetime2(3),          -- UTC
    @NextFireAt  datetime2(3) = NULL,   -- UTC; the occurrence after this one
    @Mode        varchar(10)  = 'run',  -- run, late (missed, runIfMissed on) or skip (missed, off)
    @MissedCount int          = 0       -- occurrences missed while no driver ran (late, skip)
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;

    BEGIN TRY
        IF @TriggerID IS NULL
            THROW 50093, N'TriggerID must not be NULL', 1;
        IF @Occurrence IS NULL
            THROW 50094, N'Occurrence must not be NULL', 1;
        IF @Mode IS NULL OR @Mode COLLATE Latin1_General_BIN2 NOT IN ('run', 'late', 'skip')
            THROW 50095, N'Mode must be one of run, late, skip', 1;
        IF @MissedCount IS NULL OR @MissedCount < 0
            THROW 50096, N'MissedCount must be 0 or more', 1;

        DECLARE @Now        datetime2(3)  = SYSUTCDATETIME();
        -- Style 126 cut to whole seconds: 2024-12-06T18:00:00Z.
        DECLARE @Occurred   nvarchar(20)  = CONVERT(nvarchar(19), @Occurrence, 126) + N'Z';
        DECLARE @TaskName   nvarchar(255);
        DECLARE @Fired TABLE (TaskID int NOT NULL);
        DECLARE @Run TABLE
        (
            ProcessID   bigint        NOT NULL,
            ProcessName nvarchar(255) NOT NULL,
            Status      varchar(20)   NOT NULL,
            Registered  bit           NOT NULL
        );

        BEGIN TRANSACTION;

        UPDATE g
        SET    LastFiredFor = @Occurrence,
               NextFireAt   = @NextFireAt
        OUTPUT inserted.TaskID INTO @Fired (TaskID)
        FROM stage.TaskTrigger AS g
        WHERE g.TriggerID = @TriggerID
          AND (g.LastFiredFor IS NULL OR g.LastFiredFor < @Occurrence);

        IF EXISTS (SELECT 1 FROM @Fired)
        BEGIN
            SELECT @TaskName = t.TaskName
            FROM @Fired AS f
            INNER JOIN stage.Task AS t
                    ON t.TaskID = f.TaskID;

            IF @Mode = 'skip'
                INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                VALUES (NULL,
                        CONCAT(N'Task ', @TaskName, N': ', @MissedCount,
                               N' occurrence(s) missed while no driver was running, the latest ', @Occurred,
                               N'; runIfMissed is off'),
                        'Warning',
                        @Now);
            ELSE
            BEGIN
                INSERT @Run (ProcessID, ProcessName, Status, Registered)
                EXEC stage.RegisterProcess @ProcessName = @TaskName, @ScheduledFor = @Occurrence;

                IF @Mode = 'late'
                    INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                    SELECT r.ProcessID,
                           CONCAT(N'Late run for the occurrence of ', @Occurred, N' (', @MissedCount,
                                  N' missed while no driver was running)'),
                           'Info',
                           @Now
                    FROM @Run AS r
                    WHERE r.Registered = 1;
            END;
        END;

        COMMIT TRANSACTION;

        -- One row always; the run's columns are NULL when nothing was registered.
        SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM @Fired) THEN 1 ELSE 0 END AS bit) AS Fired,
               r.ProcessID,
               r.Registered,
               r.Status
        FROM (VALUES (1)) AS one (n)
        LEFT JOIN @Run AS r
               ON 1 = 1;
    END TRY
    BEGIN CATCH
        IF XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
