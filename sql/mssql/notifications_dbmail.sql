-- stagehand: email notifications through Database Mail, for shops that keep it. The body of
-- a SQL Server Agent job step (Transact-SQL, in the database holding the stage schema) run
-- every minute; drivers then run without --smtp-server, so they deliver the webhooks and
-- leave every email to this job (ClaimNotifications with @Emails = 1 only takes them here).
-- Each due email is claimed with a lease (so a second job or a driver never sends it too),
-- queued with msdb.dbo.sp_send_dbmail with the Subject and Body of
-- stage.PendingNotifications (the text the driver's SMTP delivery sends), and reported with
-- stage.CompleteNotification: delivered once Database Mail accepted it; otherwise retried
-- with backoff and given up after 5 attempts with an Error log row.
-- The job owner needs stage_worker in this database and DatabaseMailUserRole in msdb, and
-- @Profile must be a Database Mail profile it may use. Create the job, e.g.:
--   EXEC msdb.dbo.sp_add_job @job_name = N'stagehand - notification mail';
--   EXEC msdb.dbo.sp_add_jobstep @job_name = N'stagehand - notification mail',
--        @step_name = N'send', @subsystem = N'TSQL', @database_name = N'stagehand',
--        @command = N'<this file>';
--   EXEC msdb.dbo.sp_add_jobschedule @job_name = N'stagehand - notification mail',
--        @name = N'every minute', @freq_type = 4, @freq_interval = 1,
--        @freq_subday_type = 4, @freq_subday_interval = 1;
--   EXEC msdb.dbo.sp_add_jobserver @job_name = N'stagehand - notification mail';
SET NOCOUNT ON;
SET XACT_ABORT ON;
SET QUOTED_IDENTIFIER ON;

DECLARE @Profile   sysname       = N'stagehand';
DECLARE @Deliverer nvarchar(255) = CONCAT(N'dbmail/', @@SERVERNAME);

-- The columns of stage.PendingNotifications, which ClaimNotifications returns.
DECLARE @Claimed TABLE
(
    NotificationID      bigint         NOT NULL PRIMARY KEY,
    TaskID              int            NULL,
    TaskName            nvarchar(255)  NOT NULL,
    ProcessID           bigint         NULL,
    Event               varchar(20)    NOT NULL,
    Channel             varchar(10)    NOT NULL,
    Target              nvarchar(2000) NOT NULL,
    Status              varchar(20)    NOT NULL,
    Attempt             int            NOT NULL,
    NextAttemptAt       datetime2(3)   NOT NULL,
    ClaimedBy           nvarchar(255)  NULL,
    CreatedAt           datetime2(3)   NOT NULL,
    ProcessStatus       varchar(20)    NULL,
    ProcessAttempt      int            NULL,
    ExitCode            int            NULL,
    StartTime           datetime2(3)   NULL,
    EndTime             datetime2(3)   NULL,
    ScheduledFor        datetime2(3)   NULL,
    MissedCount         int            NULL,
    ConsecutiveFailures int            NULL,
    LastError           nvarchar(4000) NULL,
    Message             nvarchar(max)  NULL,
    Subject             nvarchar(400)  NOT NULL,
    Body                nvarchar(max)  NOT NULL
);

INSERT @Claimed
EXEC stage.ClaimNotifications @DriverName = @Deliverer, @MaxCount = 50, @LeaseSeconds = 300,
                              @Webhooks = 0, @Emails = 1;

DECLARE @ID        bigint = (SELECT MIN(c.NotificationID) FROM @Claimed AS c);
DECLARE @Attempt   int;
DECLARE @Recipient nvarchar(2000);
DECLARE @Subject   nvarchar(255);
DECLARE @Body      nvarchar(max);
DECLARE @Error     nvarchar(4000);

WHILE @ID IS NOT NULL
BEGIN
    SELECT @Attempt   = c.Attempt,
           @Recipient = c.Target,
           @Subject   = LEFT(c.Subject, 255),
           @Body      = c.Body
    FROM @Claimed AS c
    WHERE c.NotificationID = @ID;

    BEGIN TRY
        EXEC msdb.dbo.sp_send_dbmail @profile_name = @Profile, @recipients = @Recipient,
                                     @subject = @Subject, @body = @Body;
        EXEC stage.CompleteNotification @NotificationID = @ID, @DriverName = @Deliverer,
                                        @Attempt = @Attempt, @Delivered = 1;
    END TRY
    BEGIN CATCH
        SET @Error = CONCAT(N'sp_send_dbmail: ', ERROR_MESSAGE());
        EXEC stage.CompleteNotification @NotificationID = @ID, @DriverName = @Deliverer,
                                        @Attempt = @Attempt, @Delivered = 0, @Error = @Error;
    END CATCH;

    SET @ID = (SELECT MIN(c.NotificationID) FROM @Claimed AS c WHERE c.NotificationID > @ID);
END;
