-- stagehand: V164: the minimum log level (V154..V158): the missed-occurrence warning and
-- the late-run row are written only when stage.LogKept keeps them for the task. Otherwise
-- as V150.
-- stagehand: stage.FireTriggerCore (V150, internal): the firing of one occurrence, V74's
-- rules moved out of stage.FireTrigger unchanged so that stage.FireTriggers (V152) fires
-- each element of a batch by the very same rules. It checks nothing (its callers check
-- their input and name it) and neither begins nor ends a transaction: its caller holds
-- one (and retries a lost race, 2601/2627, as V55 did). Exactly once through the
-- conditional UPDATE of LastFiredFor, V47's enabled rule, log rows in time order.
CREATE OR ALTER PROCEDURE stage.FireTriggerCore
    @TriggerID   int,
    @Occurrence  datetime2(3),   -- UTC
    @NextFireAt  datetime2(3),   -- UTC; the occurrence after this one
    @Mode        nvarchar(10),   -- run, late or skip (checked by the caller)
    @MissedCount int,
    @Fired       bit          OUTPUT,
    @ProcessID   bigint       OUTPUT,
    @Registered  bit          OUTPUT,
    @Status      varchar(20)  OUTPUT
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;

    DECLARE @Now      datetime2(3) = SYSUTCDATETIME();
    -- Style 126 cut to whole seconds: 2024-12-06T18:00:00Z.
    DECLARE @Occurred nvarchar(20) = CONVERT(nvarchar(19), @Occurrence, 126) + N'Z';
    DECLARE @TaskID   int;
    DECLARE @TaskName nvarchar(255);
    DECLARE @LogTime  datetime2(3);
    DECLARE @Missed   int;

    SET @Fired      = 0;
    SET @ProcessID  = NULL;
    SET @Registered = NULL;
    SET @Status     = NULL;

    UPDATE g
    SET    @TaskID      = g.TaskID,
           LastFiredFor = @Occurrence,
           NextFireAt   = @NextFireAt
    FROM stage.TaskTrigger AS g
    WHERE g.TriggerID = @TriggerID
      AND (g.LastFiredFor IS NULL OR g.LastFiredFor < @Occurrence)
      AND g.Enabled = 1
      AND EXISTS (SELECT 1 FROM stage.Task AS t WHERE t.TaskID = g.TaskID AND t.Enabled = 1);

    IF @TaskID IS NULL
        RETURN;
    SET @Fired = 1;

    SELECT @TaskName = t.TaskName
    FROM stage.Task AS t
    WHERE t.TaskID = @TaskID;

    IF @Mode = N'skip'
    BEGIN
        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
        SELECT NULL,
               CONCAT(N'Task ', @TaskName, N': ', @MissedCount,
                      N' occurrence(s) missed while no driver was running, the latest ', @Occurred,
                      N'; runIfMissed is off'),
               'Warning',
               @Now
        FROM stage.LogKept('Warning', @TaskID) AS k;

        EXEC stage.EnqueueMissedNotification @TaskID, @Occurrence, @MissedCount;
        RETURN;
    END;

    EXEC stage.RegisterProcessCore @TaskName, NULL, @Occurrence,
                                   @ProcessID OUTPUT, @Status OUTPUT, @Registered OUTPUT;

    IF @Mode = N'late' AND @Registered = 1
    BEGIN
        -- Now, and not before the rows the registration just wrote (the system clock may
        -- step back): seek on IX_ProcessLog_Process.
        SET @LogTime = SYSUTCDATETIME();
        SELECT @LogTime = CASE WHEN MAX(l.LogTime) > @LogTime THEN MAX(l.LogTime) ELSE @LogTime END
        FROM stage.ProcessLog AS l
        WHERE l.ProcessID = @ProcessID;

        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
        SELECT @ProcessID,
               CONCAT(N'Late run for the occurrence of ', @Occurred, N' (', @MissedCount,
                      N' missed while no driver was running)'),
               'Info',
               @LogTime
        FROM stage.LogKept('Info', @TaskID) AS k;
    END;

    IF @Registered = 0
    BEGIN
        SET @Missed = CASE WHEN @MissedCount > 1 THEN @MissedCount ELSE 1 END;
        EXEC stage.EnqueueMissedNotification @TaskID, @Occurrence, @Missed;
    END;
END;
