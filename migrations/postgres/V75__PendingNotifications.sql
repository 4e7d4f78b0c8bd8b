-- stage.PendingNotifications: the outstanding notifications (Pending or Sending), with the
-- text every channel sends: Subject, Body, and Message, the run's outcome as logged (the
-- last log row of the process that is not captured output: COALESCE(Detail, Message), its
-- last 2,000 characters). Drivers deliver from it (ClaimNotifications returns its rows);
-- on SQL Server an Agent job can feed it to msdb.dbo.sp_send_dbmail
-- (sql/mssql/notifications_dbmail.sql). Instants in the text are YYYY-MM-DDThh:mm:ssZ.
CREATE OR REPLACE VIEW stage.PendingNotifications AS
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
       CAST(concat('[stagehand] ', n.TaskName, ' ',
                   CASE n.Event
                       WHEN 'failure' THEN 'failed'
                       WHEN 'success' THEN 'completed'
                       WHEN 'missed' THEN 'missed a run'
                       ELSE concat('failed ', n.ConsecutiveFailures, ' times in a row')
                   END) AS varchar(400)) AS Subject,
       concat('Task: ', n.TaskName, chr(10),
              'Event: ', n.Event, chr(10),
              CASE WHEN n.ProcessID IS NOT NULL
                   THEN concat('Process: ', n.ProcessID, ', attempt ', n.ProcessAttempt, chr(10)) END,
              CASE WHEN n.ProcessStatus IS NOT NULL
                   THEN concat('Status: ', n.ProcessStatus,
                               CASE WHEN n.ExitCode IS NOT NULL THEN concat(', exit code ', n.ExitCode) END,
                               chr(10)) END,
              CASE WHEN n.StartTime IS NOT NULL
                   THEN concat('Started: ', to_char(n.StartTime AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), chr(10)) END,
              CASE WHEN n.EndTime IS NOT NULL
                   THEN concat('Ended: ', to_char(n.EndTime AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), chr(10)) END,
              CASE WHEN n.ScheduledFor IS NOT NULL
                   THEN concat('Scheduled for: ', to_char(n.ScheduledFor AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), chr(10)) END,
              CASE WHEN n.MissedCount IS NOT NULL
                   THEN concat('Missed occurrences: ', n.MissedCount, chr(10)) END,
              CASE WHEN n.Event = 'consecutiveFailures'
                   THEN concat('Consecutive failures: ', n.ConsecutiveFailures, chr(10)) END,
              CASE WHEN m.Message IS NOT NULL
                   THEN concat(chr(10), m.Message, chr(10)) END) AS Body
FROM stage.Notification AS n
LEFT JOIN LATERAL (
    SELECT right(COALESCE(l.Detail, l.Message), 2000) AS Message
    FROM stage.ProcessLog AS l
    WHERE l.ProcessID = n.ProcessID
      AND l.Message NOT IN ('stdout', 'stderr')
    ORDER BY l.LogID DESC
    LIMIT 1) AS m ON true
WHERE n.Status IN ('Pending', 'Sending');

REVOKE ALL ON stage.PendingNotifications FROM PUBLIC;
