-- stagehand: stage.CompleteProcesses, the one completion implementation (CompleteProcess
-- calls it with a one-element array). Set-based: parse and validate the whole batch first
-- (an invalid element writes nothing), then a few statements in one transaction. Only the
-- worker that holds the run may complete it; anything else is refused and logged.
CREATE OR ALTER PROCEDURE stage.CompleteProcesses
    @Completions nvarchar(max)  -- JSON array of {processId, workerName, attempt?, status, exitCode?, message?, stdout?, stderr?}
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;

    BEGIN TRY
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term.
        IF @Completions IS NULL OR ISJSON(@Completions) = 0
            THROW 50040, N'Completions is not valid JSON', 1;
        -- Wrapped in [...], the value's own JSON type shows (4 = array, 5 = object).
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @Completions + N']') AS j) <> 4
            THROW 50041, N'Completions must be a JSON array', 1;

        DECLARE @Now     datetime2(3) = SYSUTCDATETIME();
        DECLARE @Problem nvarchar(2048);
        DECLARE @Item TABLE
        (
            Ordinal         int           NOT NULL PRIMARY KEY,  -- 0-based position in the array
            -- as sent (text, so that a wrong type can be reported by element)
            ProcessIDText   nvarchar(max) NULL,
            WorkerName      nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
            AttemptText     nvarchar(max) NULL,
            StatusText      nvarchar(max) NULL,
            ExitCodeText    nvarchar(max) NULL,
            Message         nvarchar(max) NULL,
            Stdout          nvarchar(max) NULL,
            Stderr          nvarchar(max) NULL,
            ProcessID       bigint        NULL,
            ReportedAttempt int           NULL,
            ExitCode        int           NULL,
            -- the process as found, read under UPDLOCK
            CurrentStatus   varchar(20)   NULL,  -- NULL: no such process
            CurrentWorker   nvarchar(255) COLLATE DATABASE_DEFAULT NULL,
            CurrentAttempt  int           NULL,
            MaxAttempts     int           NULL,
            Passes          bit           NOT NULL DEFAULT (0),  -- InProgress, same worker, same attempt
            Accepted        bit           NOT NULL DEFAULT (0),  -- Passes, and no earlier element took it
            NewStatus       varchar(20)   NULL,  -- Pending when a failed run is retried
            RetryAt         datetime2(3)  NULL
        );

        -- Elements that are not objects give all-NULL rows (and fail validation below).
        INSERT @Item (Ordinal, ProcessIDText, WorkerName, AttemptText, StatusText, ExitCodeText,
                      Message, Stdout, Stderr, ProcessID, ReportedAttempt, ExitCode)
        SELECT CAST(e.[key] AS int), c.ProcessIDText, c.WorkerName, c.AttemptText, c.StatusText, c.ExitCodeText,
               c.Message, c.Stdout, c.Stderr,
               TRY_CAST(c.ProcessIDText AS bigint), TRY_CAST(c.AttemptText AS int), TRY_CAST(c.ExitCodeText AS int)
        FROM OPENJSON(@Completions) AS e
        OUTER APPLY OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END)
            WITH (ProcessIDText nvarchar(max) '$.processId',
                  WorkerName    nvarchar(max) '$.workerName',
                  AttemptText   nvarchar(max) '$.attempt',
                  StatusText    nvarchar(max) '$.status',
                  ExitCodeText  nvarchar(max) '$.exitCode',
                  Message       nvarchar(max) '$.message',
                  Stdout        nvarchar(max) '$.stdout',
                  Stderr        nvarchar(max) '$.stderr') AS c;

        -- The first problem of the first bad element, named like Completions[2].status.
        SELECT TOP (1) @Problem = CONCAT(N'Completions[', p.Ordinal, N'].', p.Problem)
        FROM (SELECT i.Ordinal,
                     CASE WHEN i.ProcessID IS NULL
                              THEN N'processId is missing or not an integer'
                          WHEN i.WorkerName IS NULL OR LTRIM(RTRIM(i.WorkerName)) = N''
                              THEN N'workerName is missing or empty'
                          WHEN DATALENGTH(i.WorkerName) / 2 > 255
                              THEN N'workerName is longer than 255 characters'
                          WHEN i.StatusText IS NULL
                            OR i.StatusText COLLATE Latin1_General_BIN2 NOT IN (N'Completed', N'Failed', N'Cancelled')
                              THEN N'status must be one of Completed, Failed, Cancelled'
                          WHEN i.AttemptText IS NOT NULL AND i.ReportedAttempt IS NULL
                              THEN N'attempt is not an integer'
                          WHEN i.ExitCodeText IS NOT NULL AND i.ExitCode IS NULL
                              THEN N'exitCode is not an integer'
                     END AS Problem
              FROM @Item AS i) AS p
        WHERE p.Problem IS NOT NULL
        ORDER BY p.Ordinal;
        IF @Problem IS NOT NULL
            THROW 50042, @Problem, 1;

        BEGIN TRANSACTION;

        -- Read and lock every named process. FORCESEEK: one key seek per element, so a large
        -- batch never becomes a locking scan of the queue.
        -- Retry k waits RetryDelaySeconds * 2^(k-1), capped at the int range of DATEADD
        -- (68 years, i.e. never) instead of overflowing.
        UPDATE i
        SET    CurrentStatus  = fc.Status,
               CurrentWorker  = fc.WorkerAssigned,
               CurrentAttempt = fc.Attempt,
               MaxAttempts    = fc.MaxAttempts,
               Passes         = CASE WHEN fc.Status = 'InProgress'
                                      AND fc.WorkerAssigned = i.WorkerName
                                      AND (i.ReportedAttempt IS NULL OR i.ReportedAttempt = fc.Attempt)
                                     THEN 1 ELSE 0 END,
               NewStatus      = CASE WHEN i.StatusText = N'Failed'
                                      AND fc.Attempt < fc.MaxAttempts
                                      AND fc.CancelRequested = 0
                                     THEN 'Pending'
                                     ELSE CAST(RTRIM(i.StatusText) AS varchar(20)) END,
               RetryAt        = DATEADD(SECOND,
                                        CAST(CASE WHEN d.Seconds > 2147483647 THEN 2147483647 ELSE d.Seconds END AS int),
                                        @Now)
        FROM @Item AS i
        INNER JOIN stage.FileControl AS fc WITH (UPDLOCK, ROWLOCK, FORCESEEK)
                ON fc.ProcessID = i.ProcessID
        LEFT JOIN stage.Task AS t
               ON t.TaskID = fc.TaskID
        CROSS APPLY (SELECT ISNULL(t.RetryDelaySeconds, 60) * POWER(CAST(2 AS float), fc.Attempt - 1) AS Seconds) AS d;

        -- The same process twice in one batch behaves as if completed one element at a
        -- time: the first passing element wins, the later ones find it finished.
        UPDATE i
        SET    Accepted = 1
        FROM @Item AS i
        WHERE i.Passes = 1
          AND NOT EXISTS (SELECT 1
                          FROM @Item AS earlier
                          WHERE earlier.ProcessID = i.ProcessID
                            AND earlier.Passes    = 1
                            AND earlier.Ordinal   < i.Ordinal);

        UPDATE fc
        SET    Status         = i.NewStatus,
               WorkerAssigned = CASE WHEN i.NewStatus = 'Pending' THEN NULL      ELSE fc.WorkerAssigned END,
               StartTime      = CASE WHEN i.NewStatus = 'Pending' THEN NULL      ELSE fc.StartTime      END,
               EndTime        = CASE WHEN i.NewStatus = 'Pending' THEN NULL      ELSE @Now              END,
               RunAfter       = CASE WHEN i.NewStatus = 'Pending' THEN i.RetryAt ELSE fc.RunAfter       END,
               ExitCode       = i.ExitCode,
               LeaseExpiresAt = NULL
        FROM stage.FileControl AS fc WITH (FORCESEEK)
        INNER JOIN @Item AS i
                ON i.ProcessID = fc.ProcessID
        WHERE i.Accepted = 1;

        -- Log rows in element order (ORDER BY fixes the LogIDs): per refused element one
        -- warning (none when the process does not exist); per accepted element the outcome,
        -- then stdout and stderr when present. Messages longer than 500 characters are cut,
        -- the whole text kept in Detail.
        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime, Detail)
        SELECT l.ProcessID,
               LEFT(l.Text, 500),
               l.LogLevel,
               @Now,
               ISNULL(l.Detail, CASE WHEN DATALENGTH(l.Text) / 2 > 500 THEN l.Text END)
        FROM
        (
            SELECT i.Ordinal,
                   1 AS Seq,
                   i.ProcessID,
                   'Warning' AS LogLevel,
                   CONCAT(N'Completion refused: ',
                          CASE WHEN i.CurrentStatus <> 'InProgress'
                                   THEN CONCAT(N'the process is ', i.CurrentStatus)
                               WHEN ISNULL(i.CurrentWorker, N'') <> i.WorkerName
                                   THEN CONCAT(N'the process belongs to ', ISNULL(i.CurrentWorker, N'no worker'))
                               WHEN i.ReportedAttempt <> i.CurrentAttempt
                                   THEN CONCAT(N'attempt ', i.ReportedAttempt, N' is over, the current attempt is ', i.CurrentAttempt)
                               ELSE N'an earlier element of the same batch completed it'
                          END,
                          N' (', i.WorkerName, N' reported ', i.StatusText, N')') AS Text,
                   CAST(NULL AS nvarchar(max)) AS Detail
            FROM @Item AS i
            WHERE i.Accepted = 0
              AND i.CurrentStatus IS NOT NULL

            UNION ALL

            SELECT i.Ordinal,
                   1,
                   i.ProcessID,
                   CASE i.NewStatus WHEN 'Completed' THEN 'Info' WHEN 'Failed' THEN 'Error' ELSE 'Warning' END,
                   CASE WHEN i.NewStatus = 'Pending'
                        THEN CONCAT(N'Retry ', i.CurrentAttempt, N' of ', i.MaxAttempts - 1,
                                    N' at ', CONVERT(nvarchar(30), i.RetryAt, 126), N'Z: ',
                                    ISNULL(NULLIF(i.Message, N''), N'Failed'))
                        ELSE ISNULL(NULLIF(i.Message, N''), CAST(i.NewStatus AS nvarchar(max)))
                   END,
                   NULL
            FROM @Item AS i
            WHERE i.Accepted = 1

            UNION ALL

            SELECT i.Ordinal, 2, i.ProcessID, 'Info', N'stdout', i.Stdout
            FROM @Item AS i
            WHERE i.Accepted = 1
              AND DATALENGTH(i.Stdout) > 0

            UNION ALL

            SELECT i.Ordinal, 3, i.ProcessID, 'Warning', N'stderr', i.Stderr
            FROM @Item AS i
            WHERE i.Accepted = 1
              AND DATALENGTH(i.Stderr) > 0
        ) AS l
        ORDER BY l.Ordinal, l.Seq;

        COMMIT TRANSACTION;

        -- Status afterwards: what the accepted element of that process set, else unchanged.
        SELECT i.ProcessID,
               i.Accepted,
               ISNULL(a.NewStatus, i.CurrentStatus) AS Status
        FROM @Item AS i
        OUTER APPLY (SELECT acc.NewStatus
                     FROM @Item AS acc
                     WHERE acc.ProcessID = i.ProcessID
                       AND acc.Accepted  = 1) AS a
        ORDER BY i.Ordinal;
    END TRY
    BEGIN CATCH
        IF XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
