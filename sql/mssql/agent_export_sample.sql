-- stagehand: SQL Server Agent jobs for 2 external task(s), written by
-- `stagehand task export --format agent`. Run it in sqlcmd or SSMS (sysadmin, or
-- SQLAgentOperatorRole in msdb). Re-runnable: each job is deleted first when it
-- exists, with its schedules, and created anew; all jobs or none.
SET NOCOUNT ON;
SET XACT_ABORT ON;

DECLARE @DatabaseName sysname = N'ERP';
DECLARE @OwnerLogin sysname = SUSER_SNAME();
DECLARE @ScheduleID int;

BEGIN TRY
    IF DB_ID(@DatabaseName) IS NULL
        THROW 50000, N'DatabaseName: no such database; set @DatabaseName at the top of this script', 1;

    BEGIN TRANSACTION;

    -- task weekly-cleanup
    IF EXISTS (SELECT 1 FROM msdb.dbo.sysjobs AS s WHERE s.name = N'weekly-cleanup')
        EXEC msdb.dbo.sp_delete_job @job_name = N'weekly-cleanup', @delete_unused_schedule = 1;
    EXEC msdb.dbo.sp_add_job
        @job_name = N'weekly-cleanup',
        @enabled = 1,
        @description = N'SQL Server Agent job Weekly cleanup',
        @owner_login_name = @OwnerLogin;
    EXEC msdb.dbo.sp_add_jobstep
        @job_name = N'weekly-cleanup',
        @step_name = N'weekly-cleanup',
        @subsystem = N'TSQL',
        @database_name = @DatabaseName,
        @command = N'EXEC dbo.Cleanup @Days = 30; -- it''s idempotent',
        @retry_attempts = 2,
        @retry_interval = 5,
        @on_success_action = 1,
        @on_fail_action = 2;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'weekly-cleanup - 1',
        @enabled = 1,
        @freq_type = 8,
        @freq_interval = 34,
        @freq_subday_type = 0,
        @freq_subday_interval = 0,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250106,
        @active_end_date = 99991231,
        @active_start_time = 220000,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'weekly-cleanup', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'weekly-cleanup - 2',
        @enabled = 0,
        @freq_type = 8,
        @freq_interval = 1,
        @freq_subday_type = 0,
        @freq_subday_interval = 0,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 2,
        @active_start_date = 20250105,
        @active_end_date = 99991231,
        @active_start_time = 30000,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'weekly-cleanup', @schedule_id = @ScheduleID;
    EXEC msdb.dbo.sp_add_jobserver @job_name = N'weekly-cleanup', @server_name = N'(local)';

    -- task month-ends
    IF EXISTS (SELECT 1 FROM msdb.dbo.sysjobs AS s WHERE s.name = N'month-ends')
        EXEC msdb.dbo.sp_delete_job @job_name = N'month-ends', @delete_unused_schedule = 1;
    EXEC msdb.dbo.sp_add_job
        @job_name = N'month-ends',
        @enabled = 1,
        @description = N'stagehand task month-ends',
        @owner_login_name = @OwnerLogin;
    EXEC msdb.dbo.sp_add_jobstep
        @job_name = N'month-ends',
        @step_name = N'month-ends',
        @subsystem = N'TSQL',
        @database_name = @DatabaseName,
        @command = N'EXEC dbo.CloseMonth;',
        @retry_attempts = 0,
        @retry_interval = 1,
        @on_success_action = 1,
        @on_fail_action = 2;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 1',
        @enabled = 1,
        @freq_type = 16,
        @freq_interval = 1,
        @freq_subday_type = 0,
        @freq_subday_interval = 0,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 20251231,
        @active_start_time = 60000,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 2',
        @enabled = 1,
        @freq_type = 32,
        @freq_interval = 8,
        @freq_subday_type = 0,
        @freq_subday_interval = 0,
        @freq_relative_interval = 16,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 20251231,
        @active_start_time = 60000,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 3',
        @enabled = 1,
        @freq_type = 32,
        @freq_interval = 2,
        @freq_subday_type = 4,
        @freq_subday_interval = 30,
        @freq_relative_interval = 8,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 99991231,
        @active_start_time = 90000,
        @active_end_time = 113000,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 4',
        @enabled = 1,
        @freq_type = 4,
        @freq_interval = 2,
        @freq_subday_type = 4,
        @freq_subday_interval = 60,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 99991231,
        @active_start_time = 80000,
        @active_end_time = 175959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 5',
        @enabled = 1,
        @freq_type = 4,
        @freq_interval = 1,
        @freq_subday_type = 4,
        @freq_subday_interval = 15,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 99991231,
        @active_start_time = 500,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 6',
        @enabled = 1,
        @freq_type = 1,
        @freq_interval = 0,
        @freq_subday_type = 0,
        @freq_subday_interval = 0,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 0,
        @active_start_date = 20250315,
        @active_end_date = 99991231,
        @active_start_time = 93000,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 7',
        @enabled = 1,
        @freq_type = 64,
        @freq_interval = 0,
        @freq_subday_type = 0,
        @freq_subday_interval = 0,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 0,
        @active_start_date = 19900101,
        @active_end_date = 99991231,
        @active_start_time = 0,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 8',
        @enabled = 1,
        @freq_type = 32,
        @freq_interval = 9,
        @freq_subday_type = 0,
        @freq_subday_interval = 0,
        @freq_relative_interval = 2,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 99991231,
        @active_start_time = 70000,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 9',
        @enabled = 1,
        @freq_type = 32,
        @freq_interval = 10,
        @freq_subday_type = 0,
        @freq_subday_interval = 0,
        @freq_relative_interval = 16,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 99991231,
        @active_start_time = 70000,
        @active_end_time = 235959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 10',
        @enabled = 1,
        @freq_type = 4,
        @freq_interval = 1,
        @freq_subday_type = 4,
        @freq_subday_interval = 20,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 99991231,
        @active_start_time = 220000,
        @active_end_time = 15959,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    SET @ScheduleID = NULL;
    EXEC msdb.dbo.sp_add_schedule
        @schedule_name = N'month-ends - 11',
        @enabled = 1,
        @freq_type = 4,
        @freq_interval = 1,
        @freq_subday_type = 4,
        @freq_subday_interval = 15,
        @freq_relative_interval = 0,
        @freq_recurrence_factor = 1,
        @active_start_date = 20250101,
        @active_end_date = 99991231,
        @active_start_time = 230000,
        @active_end_time = 13000,
        @schedule_id = @ScheduleID OUTPUT;
    EXEC msdb.dbo.sp_attach_schedule @job_name = N'month-ends', @schedule_id = @ScheduleID;
    EXEC msdb.dbo.sp_add_jobserver @job_name = N'month-ends', @server_name = N'(local)';
    COMMIT TRANSACTION;
END TRY
BEGIN CATCH
    IF XACT_STATE() <> 0
        ROLLBACK TRANSACTION;
    THROW;
END CATCH;
