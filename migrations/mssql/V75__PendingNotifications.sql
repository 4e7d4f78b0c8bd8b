-- stagehand: stage.PendingNotifications, the outstanding notifications (Pending or Sending),
-- with the text every channel sends: Subject, Body, and Message, the run's outcome as logged
-- (the last log row of the process that is not captured output: COALESCE(Detail, Message),
-- its last 2,000 characters). Drivers deliver from it (ClaimNotifications returns its rows);
-- an Agent job can feed it to msdb.dbo.sp_send_dbmail (sql/mssql/notifications_dbmail.sql).
-- Instants in the text are YYYY-MM-DDThh:mm:ssZ (style 126 cut to whole seconds).
CREATE OR ALTER VIEW stage.PendingNotifications
AS
SELECT n.NotificationID,
       n.TaskID,
       n.TaskName,
       n.ProcessID,
       n.Event,
       n.Channel,
       n.Target,
       n.Status,
       n.Attempt,
       n.NextAttemptAt,
       n.ClaimedBy,
       n.CreatedAt,
       n.ProcessStatus,
       n.ProcessAttempt,
       n.ExitCode,
       n.StartTime,
       n.EndTime,
       n.ScheduledFor,
       n.MissedCount,
       n.ConsecutiveFailures,
       n.LastError,
       m.Message,
       CAST(CONCAT(N'[stagehand] ', n.TaskName, N' ',
                   CASE n.Event
                       WHEN 'failure' THEN N'failed'
                       WHEN 'success' THEN N'completed'
                       WHEN 'missed' THEN N'missed a run'
                       ELSE CONCAT(N'failed ', n.ConsecutiveFailures, N' times in a row')
                   END) AS nvarchar(400)) AS Subject,
       CONCAT(CAST(N'Task: ' AS nvarchar(max)), n.TaskName, NCHAR(10),
              N'Event: ', n.Event, NCHAR(10),
              CASE WHEN n.ProcessID IS NOT NULL
                   THEN CONCAT(N'Process: ', n.ProcessID, N', attempt ', n.ProcessAttempt, NCHAR(10)) END,
              CASE WHEN n.ProcessStatus IS NOT NULL
                   THEN CONCAT(N'Status: ', n.ProcessStatus,
                               CASE WHEN n.ExitCode IS NOT NULL THEN CONCAT(N', exit code ', n.ExitCode) END,
                               NCHAR(10)) END,
              CASE WHEN n.StartTime IS NOT NULL
                   THEN CONCAT(N'Started: ', CONVERT(nvarchar(19), n.StartTime, 126), N'Z', NCHAR(10)) END,
              CASE WHEN n.EndTime IS NOT NULL
                   THEN CONCAT(N'Ended: ', CONVERT(nvarchar(19), n.EndTime, 126), N'Z', NCHAR(10)) END,
              CASE WHEN n.ScheduledFor IS NOT NULL
                   THEN CONCAT(N'Scheduled for: ', CONVERT(nvarchar(19), n.ScheduledFor, 126), N'Z', NCHAR(10)) END,
              CASE WHEN n.MissedCount IS NOT NULL
                   THEN CONCAT(N'Missed occurrences: ', n.MissedCount, NCHAR(10)) END,
              CASE WHEN n.Event = 'consecutiveFailures'
                   THEN CONCAT(N'Consecutive failures: ', n.ConsecutiveFailures, NCHAR(10)) END,
              CASE WHEN m.Message IS NOT NULL
                   THEN CONCAT(NCHAR(10), m.Message, NCHAR(10)) END) AS Body
FROM stage.Notification AS n
OUTER APPLY (
    SELECT TOP (1) RIGHT(COALESCE(l.Detail, l.Message), 2000) AS Message
    FROM stage.ProcessLog AS l
    WHERE l.ProcessID = n.ProcessID
      AND l.Message NOT IN (N'stdout', N'stderr')
    ORDER BY l.LogID DESC) AS m
WHERE n.Status IN ('Pending', 'Sending');
