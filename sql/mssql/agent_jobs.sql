-- stagehand: SQL Server Agent jobs for the push model and for housekeeping, for a DBA to
-- run once in sqlcmd or SSMS (sysadmin, or SQLAgentOperatorRole in msdb). Re-runnable:
-- each job is deleted first when it exists, with its schedule, and created anew.
--   stagehand - assign          every minute   EXEC stage.AssignProcessToWorker @NumberOfWorkers = 4
--   stagehand - reset stuck     every 5 min    EXEC stage.ResetStuckProcesses
--   stagehand - rotate history  nightly 02:30  EXEC stage.RotateHistory
--   stagehand - roll up counters every minute  EXEC stage.RollUpCounters until Done
--     (a driver does it itself; without one the monitoring counters' deltas would pile up)
-- The steps run as the job owner (as the Agent service account when the owner is
-- sysadmin): that login needs stage_worker / stage_admin in the database below.
SET NOCOUNT ON;
SET XACT_ABORT ON;

-- Change these two: the database that holds the stage schema, and the login owning the jobs.
DECLARE @DatabaseName sysname = N'stagehand';
DECLARE @OwnerLogin   sysname = SUSER_SNAME();

-- One row per job. Schedules are daily; FreqSubdayType 4 = every FreqSubdayInterval
-- minutes, 1 = once at ActiveStartTime (HHMMSS).
DECLARE @Job TABLE
(
    Ordinal            int            NOT NULL PRIMARY KEY,
    JobName            sysname        NOT NULL,
    Description        nvarchar(512)  NOT NULL,
    StepName           sysname        NOT NULL,
    Command            nvarchar(4000) NOT NULL,
    ScheduleName       sysname        NOT NULL,
    FreqSubdayType     int            NOT NULL,
    FreqSubdayInterval int            NOT NULL,
    ActiveStartTime    int            NOT NULL
);
INSERT @Job (Ordinal, JobName, Description, StepName, Command, ScheduleName,
             FreqSubdayType, FreqSubdayInterval, ActiveStartTime)
VALUES
    (1, N'stagehand - assign',
        N'Gives each free worker Worker_1 .. Worker_4 the oldest runnable external process (SSIS / Agent executors).',
        N'AssignProcessToWorker', N'SET QUOTED_IDENTIFIER ON; EXEC stage.AssignProcessToWorker @NumberOfWorkers = 4;',
        N'stagehand - every minute', 4, 1, 0),
    (2, N'stagehand - reset stuck',
        N'Puts runs whose lease expired (or that never heartbeat and exceeded 60 minutes) back to Pending, or fails them.',
        N'ResetStuckProcesses', N'SET QUOTED_IDENTIFIER ON; EXEC stage.ResetStuckProcesses;',
        N'stagehand - every 5 minutes', 4, 5, 0),
    (3, N'stagehand - rotate history',
        N'Moves finished runs older than 6 months, with their log rows, into the history tables.',
        N'RotateHistory', N'SET QUOTED_IDENTIFIER ON; EXEC stage.RotateHistory;',
        N'stagehand - nightly 02:30', 1, 0, 23000),
    (4, N'stagehand - roll up counters',
        N'Folds the monitoring counters'' deltas into their totals, so status reads stay fast without a driver.',
        N'RollUpCounters',
        N'SET QUOTED_IDENTIFIER ON; DECLARE @Batch TABLE (RolledUp bigint, Done bit); DECLARE @Done bit = 0; '
        + N'WHILE @Done = 0 BEGIN DELETE @Batch; INSERT @Batch (RolledUp, Done) EXEC stage.RollUpCounters; '
        + N'SELECT @Done = b.Done FROM @Batch AS b; END;',
        N'stagehand - roll up every minute', 4, 1, 0);

DECLARE @Ordinal            int = 1;
DECLARE @JobName            sysname;
DECLARE @Description        nvarchar(512);
DECLARE @StepName           sysname;
DECLARE @Command            nvarchar(4000);
DECLARE @ScheduleName       sysname;
DECLARE @FreqSubdayType     int;
DECLARE @FreqSubdayInterval int;
DECLARE @ActiveStartTime    int;
DECLARE @ScheduleID         int;

BEGIN TRY
    IF DB_ID(@DatabaseName) IS NULL
        THROW 50000, N'DatabaseName: no such database; set @DatabaseName at the top of this script', 1;
    IF OBJECT_ID(QUOTENAME(@DatabaseName) + N'.stage.AssignProcessToWorker', N'P') IS NULL
        THROW 50001, N'DatabaseName: the stage schema is not deployed there (run stagehand''s migrations first)', 1;

    -- All jobs or none.
    BEGIN TRANSACTION;

    WHILE @Ordinal <= (SELECT MAX(j.Ordinal) FROM @Job AS j)
    BEGIN
        SELECT @JobName            = j.JobName,
               @Description        = j.Description,
               @StepName           = j.StepName,
               @Command            = j.Command,
               @ScheduleName       = j.ScheduleName,
               @FreqSubdayType     = j.FreqSubdayType,
               @FreqSubdayInterval = j.FreqSubdayInterval,
               @ActiveStartTime    = j.ActiveStartTime
        FROM @Job AS j
        WHERE j.Ordinal = @Ordinal;

        IF EXISTS (SELECT 1 FROM msdb.dbo.sysjobs AS s WHERE s.name = @JobName)
            EXEC msdb.dbo.sp_delete_job
                @job_name               = @JobName,
                @delete_unused_schedule = 1;

        EXEC msdb.dbo.sp_add_job
            @job_name         = @JobName,
            @enabled          = 1,
            @description      = @Description,
            @owner_login_name = @OwnerLogin;

        EXEC msdb.dbo.sp_add_jobstep
            @job_name          = @JobName,
            @step_name         = @StepName,
            @subsystem         = N'TSQL',
            @database_name     = @DatabaseName,
            @command           = @Command,
            @on_success_action = 1,   -- quit, reporting success
            @on_fail_action    = 2;   -- quit, reporting failure (shows in the job history)

        SET @ScheduleID = NULL;  -- msdb procedures may read an OUTPUT variable's incoming value
        EXEC msdb.dbo.sp_add_schedule
            @schedule_name        = @ScheduleName,
            @freq_type            = 4,   -- daily
            @freq_interval        = 1,   -- every day
            @freq_subday_type     = @FreqSubdayType,
            @freq_subday_interval = @FreqSubdayInterval,
            @active_start_time    = @ActiveStartTime,
            @schedule_id          = @ScheduleID OUTPUT;

        EXEC msdb.dbo.sp_attach_schedule
            @job_name    = @JobName,
            @schedule_id = @ScheduleID;

        EXEC msdb.dbo.sp_add_jobserver
            @job_name    = @JobName,
            @server_name = N'(local)';

        SET @Ordinal = @Ordinal + 1;
    END;

    COMMIT TRANSACTION;

    SELECT s.name AS JobName, s.enabled AS Enabled, s.description AS Description
    FROM msdb.dbo.sysjobs AS s
    WHERE s.name IN (SELECT j.JobName FROM @Job AS j)
    ORDER BY s.name;
END TRY
BEGIN CATCH
    IF XACT_STATE() <> 0
        ROLLBACK TRANSACTION;
    THROW;
END CATCH;
