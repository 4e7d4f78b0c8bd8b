-- stagehand: V163: the minimum log level (V154..V158): each log row (the outcome, stdout,
-- stderr, a refusal) is written only when stage.LogKept keeps it for the run's task (read
-- with the run under UPDLOCK). Otherwise as V54.
-- stagehand: stage.CompleteProcesses, the one completion implementation (CompleteProcess
-- calls it with a one-element array). Set-based: parse and validate the whole batch first
-- (an invalid element writes nothing), then a few statements in one transaction. Only the
-- worker that holds the run may complete it; anything else is refused and logged.
-- V54: an optional startedAt (when the command really started, as the driver saw it) is
-- stored in CommandStartedAt, brought into [StartTime, now] so clocks that disagree never
-- make a duration negative; the final UPDATE checks again, under the lock, that the run is
-- still this worker's attempt; a retry clears CommandStartedAt with StartTime.
CREATE OR ALTER PROCEDURE stage.CompleteProcesses
    @Completions nvarchar(max)  -- JSON array of {processId, workerName, attempt?, status, exitCode?, message?, stdout?, stderr?, startedAt?}
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A caller's transaction, if any, is the caller's: this call begins and ends its own
    -- only when there is none (else works under a savepoint), and rolls back only that.
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term.
        IF @Completions IS NULL
            THROW 50041, N'Completions must be a JSON array of completion objects', 1;
        -- ISJSON: an object or an array (a bare scalar is not valid JSON here, nor on PostgreSQL).
        IF ISJSON(@Completions) = 0
            THROW 50040, N'Completions is not valid JSON', 1;
        -- Wrapped in [...], the value's own JSON type shows (4 = array, 5 = object).
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @Completions + N']') AS j) <> 4
            THROW 50041, N'Completions must be a JSON array of completion objects', 1;

        DECLARE @Now     datetime2(3) = SYSUTCDATETIME();
        DECLARE @Problem nvarchar(2048);
        -- OPENJSON types: 0 null, 1 string, 2 number, 3 boolean, 4 array, 5 object;
        -- a *Type column is NULL when the property is absent.
        DECLARE @Item TABLE
        (
            Ordinal         int           NOT NULL PRIMARY KEY,  -- 0-based position, as in JSON paths
            ElementType     tinyint       NOT NULL,
            ProcessIDType   tinyint       NULL,
            ProcessIDText   nvarchar(max) NULL,
            WorkerNameType  tinyint       NULL,
            WorkerName      nvarchar(max) COLLATE DATABASE_DEFAULT NULL,
            StatusText      nvarchar(max) NULL,
            AttemptType     tinyint       NULL,
            AttemptText     nvarchar(max) NULL,
            ExitCodeType    tinyint       NULL,
            ExitCodeText    nvarchar(max) NULL,
            MessageType     tinyint       NULL,
            Message         nvarchar(max) NULL,
            StdoutType      tinyint       NULL,
            Stdout          nvarchar(max) NULL,
            StderrType      tinyint       NULL,
            Stderr          nvarchar(max) NULL,
            StartedAtType   tinyint       NULL,
            StartedAt       datetime2(3)  NULL,  -- NULL also when the text is not an instant
            -- filled in once the element is known to be valid
            ProcessID       bigint        NULL,
            ReportedAttempt int           NULL,
            ExitCode        int           NULL,
            -- the process as found, read under UPDLOCK (CurrentStatus NULL: no such process)
            CurrentStatus   varchar(20)   NULL,
            CurrentWorker   nvarchar(255) COLLATE DATABASE_DEFAULT NULL,
            CurrentAttempt  int           NULL,
            MaxAttempts     int           NULL,
            TaskID          int           NULL,
            Accepted        bit           NOT NULL DEFAULT (0),  -- InProgress, same worker, same attempt
            NewStatus       varchar(20)   NULL,                  -- Pending when a failed run is retried
            RetryAt         datetime2(3)  NULL
        );

        INSERT @Item (Ordinal, ElementType,
                      ProcessIDType, ProcessIDText, WorkerNameType, WorkerName, StatusText,
                      AttemptType, AttemptText, ExitCodeType, ExitCodeText,
                      MessageType, Message, StdoutType, Stdout, StderrType, Stderr,
                      StartedAtType, StartedAt)
        SELECT CAST(e.[key] AS int), e.[type],
               ty.ProcessIDType, c.ProcessIDText, ty.WorkerNameType, c.WorkerName, c.StatusText,
               ty.AttemptType, c.AttemptText, ty.ExitCodeType, c.ExitCodeText,
               ty.MessageType, c.Message, ty.StdoutType, c.Stdout, ty.StderrType, c.Stderr,
               ty.StartedAtType, n.StartedAt
        FROM OPENJSON(@Completions) AS e
        OUTER APPLY OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END)
            WITH (ProcessIDText nvarchar(max) '$.processId',
                  WorkerName    nvarchar(max) '$.workerName',
                  StatusText    nvarchar(max) '$.status',
                  AttemptText   nvarchar(max) '$.attempt',
                  ExitCodeText  nvarchar(max) '$.exitCode',
                  Message       nvarchar(max) '$.message',
                  Stdout        nvarchar(max) '$.stdout',
                  Stderr        nvarchar(max) '$.stderr',
                  StartedAtText nvarchar(max) '$.startedAt') AS c
        -- startedAt: YYYY-MM-DDThh:mm:ss[.digits](Z|+hh:mm|-hh:mm), T and Z upper case, parsed
        -- as UpdateNextFire parses nextFireAt (V27): NULL when the text is not one. The
        -- fraction is cut to the 7 digits datetimeoffset takes; the conversion checks ranges.
        CROSS APPLY (SELECT CASE WHEN RIGHT(c.StartedAtText, 1) COLLATE Latin1_General_BIN2 = N'Z' THEN 1
                                 WHEN RIGHT(c.StartedAtText, 6) COLLATE Latin1_General_BIN2
                                      LIKE N'[+-][0-9][0-9]:[0-9][0-9]' THEN 6
                            END AS ZoneLength) AS z
        CROSS APPLY (SELECT CASE WHEN DATALENGTH(c.StartedAtText) / 2 >= 19 + z.ZoneLength
                                 THEN SUBSTRING(c.StartedAtText, 20, DATALENGTH(c.StartedAtText) / 2 - 19 - z.ZoneLength)
                            END AS Fraction) AS f
        CROSS APPLY (SELECT CASE WHEN LEFT(c.StartedAtText, 19) COLLATE Latin1_General_BIN2
                                      LIKE N'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
                                  -- + '0': LIKE would ignore trailing blanks in the fraction
                                  AND (   DATALENGTH(f.Fraction) = 0
                                       OR (    LEFT(f.Fraction, 1) = N'.'
                                           AND DATALENGTH(f.Fraction) > 2
                                           AND (SUBSTRING(f.Fraction, 2, 4000) + N'0') COLLATE Latin1_General_BIN2
                                               NOT LIKE N'%[^0-9]%'))
                                 THEN TRY_CONVERT(datetime2(3), SWITCHOFFSET(TRY_CONVERT(datetimeoffset(7),
                                          LEFT(c.StartedAtText, 19) + LEFT(f.Fraction, 8) + RIGHT(c.StartedAtText, z.ZoneLength)), 0))
                            END AS StartedAt) AS n
        OUTER APPLY (SELECT MAX(CASE WHEN p.[key] = N'processId'  THEN p.[type] END) AS ProcessIDType,
                            MAX(CASE WHEN p.[key] = N'workerName' THEN p.[type] END) AS WorkerNameType,
                            MAX(CASE WHEN p.[key] = N'attempt'    THEN p.[type] END) AS AttemptType,
                            MAX(CASE WHEN p.[key] = N'exitCode'   THEN p.[type] END) AS ExitCodeType,
                            MAX(CASE WHEN p.[key] = N'message'    THEN p.[type] END) AS MessageType,
                            MAX(CASE WHEN p.[key] = N'stdout'     THEN p.[type] END) AS StdoutType,
                            MAX(CASE WHEN p.[key] = N'stderr'     THEN p.[type] END) AS StderrType,
                            MAX(CASE WHEN p.[key] = N'startedAt'  THEN p.[type] END) AS StartedAtType
                     FROM OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END) AS p) AS ty;  -- [key] is BIN2: case-sensitive

        -- The first problem of the first bad element, named like Completions[2].status.
        -- Integers are JSON numbers written with digits and a sign only (no fraction or
        -- exponent): processId up to 18 digits, attempt up to 9, exitCode any 32-bit value.
        SELECT TOP (1) @Problem = CONCAT(N'Completions[', p.Ordinal, N']', p.Problem)
        FROM (SELECT i.Ordinal,
                     CASE WHEN i.ElementType <> 5
                              THEN N' must be a JSON object'
                          WHEN i.ProcessIDType IS NULL OR i.ProcessIDType <> 2
                            OR i.ProcessIDText LIKE N'%[^0-9-]%'
                            OR LEN(REPLACE(i.ProcessIDText, N'-', N'')) > 18
                              THEN N'.processId is missing or not an integer'
                          WHEN i.WorkerNameType IS NULL OR i.WorkerNameType <> 1 OR DATALENGTH(i.WorkerName) = 0
                              THEN N'.workerName is missing or empty'
                          -- exact case (BIN2); = ignores trailing blanks, DATALENGTH does not
                          WHEN i.StatusText IS NULL
                            OR i.StatusText COLLATE Latin1_General_BIN2 NOT IN (N'Completed', N'Failed', N'Cancelled')
                            OR DATALENGTH(i.StatusText) <> DATALENGTH(RTRIM(i.StatusText))
                              THEN N'.status must be one of Completed, Failed, Cancelled'
                          WHEN i.AttemptType NOT IN (0, 2)
                            OR (i.AttemptType = 2 AND (   i.AttemptText LIKE N'%[^0-9-]%'
                                                       OR LEN(REPLACE(i.AttemptText, N'-', N'')) > 9))
                              THEN N'.attempt must be an integer'
                          WHEN i.ExitCodeType NOT IN (0, 2)
                            OR (i.ExitCodeType = 2 AND (   i.ExitCodeText LIKE N'%[^0-9-]%'
                                                        OR TRY_CAST(i.ExitCodeText AS int) IS NULL))
                              THEN N'.exitCode must be a 32-bit integer'
                          WHEN i.MessageType NOT IN (0, 1) THEN N'.message must be a string'
                          WHEN i.StdoutType  NOT IN (0, 1) THEN N'.stdout must be a string'
                          WHEN i.StderrType  NOT IN (0, 1) THEN N'.stderr must be a string'
                          WHEN i.StartedAtType NOT IN (0, 1)
                            OR (i.StartedAtType = 1 AND i.StartedAt IS NULL)
                              THEN N'.startedAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
                     END AS Problem
              FROM @Item AS i) AS p
        WHERE p.Problem IS NOT NULL
        ORDER BY p.Ordinal;
        IF @Problem IS NOT NULL
            THROW 50042, @Problem, 1;

        UPDATE @Item
        SET    ProcessID       = CAST(ProcessIDText AS bigint),
               ReportedAttempt = CAST(AttemptText AS int),
               ExitCode        = CAST(ExitCodeText AS int);

        -- One element per process: two verdicts on one run in one batch would be ambiguous.
        SELECT TOP (1) @Problem = CONCAT(N'Completions[', d.Ordinal, N'].processId ', d.ProcessID,
                                         N' appears more than once')
        FROM (SELECT i.Ordinal, i.ProcessID,
                     ROW_NUMBER() OVER (PARTITION BY i.ProcessID ORDER BY i.Ordinal) AS n
              FROM @Item AS i) AS d
        WHERE d.n > 1
        ORDER BY d.Ordinal;
        IF @Problem IS NOT NULL
            THROW 50043, @Problem, 1;

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION CompleteProcesses;

        -- Read and lock every named process. FORCESEEK: one key seek per element, so a large
        -- batch never becomes a locking scan of the queue.
        -- Retry k waits RetryDelaySeconds * 2^(k-1), capped at the int range of DATEADD
        -- (68 years, i.e. never) instead of overflowing.
        UPDATE i
        SET    CurrentStatus  = fc.Status,
               CurrentWorker  = fc.WorkerAssigned,
               CurrentAttempt = fc.Attempt,
               MaxAttempts    = fc.MaxAttempts,
               TaskID         = fc.TaskID,
               Accepted       = CASE WHEN fc.Status = 'InProgress'
                                      AND fc.WorkerAssigned = i.WorkerName
                                      AND (i.ReportedAttempt IS NULL OR i.ReportedAttempt = fc.Attempt)
                                     THEN 1 ELSE 0 END,
               NewStatus      = CASE WHEN i.StatusText = N'Failed'
                                      AND fc.Attempt < fc.MaxAttempts
                                      AND fc.CancelRequested = 0
                                     THEN 'Pending'
                                     ELSE CAST(i.StatusText AS varchar(20)) END,
               RetryAt        = DATEADD(SECOND,
                                        CAST(CASE WHEN d.Seconds > 2147483647 THEN 2147483647 ELSE d.Seconds END AS int),
                                        @Now)
        FROM @Item AS i
        INNER JOIN stage.FileControl AS fc WITH (UPDLOCK, ROWLOCK, FORCESEEK)
                ON fc.ProcessID = i.ProcessID
        LEFT JOIN stage.Task AS t
               ON t.TaskID = fc.TaskID
        CROSS APPLY (SELECT ISNULL(t.RetryDelaySeconds, 60) * POWER(CAST(2 AS float), fc.Attempt - 1) AS Seconds) AS d;

        UPDATE fc
        SET    Status         = i.NewStatus,
               WorkerAssigned = CASE WHEN i.NewStatus = 'Pending' THEN NULL      ELSE fc.WorkerAssigned END,
               StartTime      = CASE WHEN i.NewStatus = 'Pending' THEN NULL      ELSE fc.StartTime      END,
               EndTime        = CASE WHEN i.NewStatus = 'Pending' THEN NULL      ELSE @Now              END,
               RunAfter       = CASE WHEN i.NewStatus = 'Pending' THEN i.RetryAt ELSE fc.RunAfter       END,
               ExitCode       = i.ExitCode,
               LeaseExpiresAt = NULL,
               -- the driver's clock, kept within [StartTime, now]
               CommandStartedAt = CASE WHEN i.NewStatus = 'Pending' THEN NULL
                                       WHEN i.StartedAt IS NULL     THEN fc.CommandStartedAt
                                       WHEN i.StartedAt < fc.StartTime THEN fc.StartTime
                                       WHEN i.StartedAt > @Now      THEN @Now
                                       ELSE i.StartedAt END
        FROM stage.FileControl AS fc WITH (FORCESEEK)
        INNER JOIN @Item AS i
                ON i.ProcessID = fc.ProcessID
        -- Checked again, under the UPDLOCK taken above: still this worker's attempt.
        WHERE i.Accepted = 1
          AND fc.Status = 'InProgress'
          AND fc.WorkerAssigned = i.WorkerName
          AND fc.Attempt = i.CurrentAttempt;

        -- Log rows (ORDER BY fixes the LogIDs): first the accepted runs by ProcessID, each
        -- with its outcome (message cut to 500 characters, the whole text in Detail), then
        -- stdout and stderr when not empty; then one warning per refused element, in
        -- element order (none when the process does not exist).
        INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime, Detail)
        SELECT l.ProcessID,
               LEFT(l.Text, 500),
               l.LogLevel,
               @Now,
               ISNULL(l.Detail, CASE WHEN l.Part = 0 AND DATALENGTH(l.Text) / 2 > 500 THEN l.Text END)
        FROM
        (
            SELECT 0 AS Part,
                   i.ProcessID AS SortKey,
                   1 AS Seq,
                   i.ProcessID,
                   i.TaskID,
                   CASE i.NewStatus WHEN 'Completed' THEN 'Info' WHEN 'Failed' THEN 'Error' ELSE 'Warning' END AS LogLevel,
                   CASE WHEN i.NewStatus = 'Pending'
                        THEN CONCAT(N'Attempt ', i.CurrentAttempt, N' of ', i.MaxAttempts,
                                    N' failed; retry ', i.CurrentAttempt, N' at ',
                                    -- ISO 8601 UTC with milliseconds, whatever the fraction
                                    CONVERT(nvarchar(19), i.RetryAt, 126), N'.',
                                    RIGHT(CONCAT(N'00', DATEPART(MILLISECOND, i.RetryAt)), 3), N'Z',
                                    CASE WHEN DATALENGTH(i.Message) > 0 THEN CONCAT(N': ', i.Message) END)
                        WHEN DATALENGTH(i.Message) > 0 THEN i.Message
                        ELSE CAST(i.NewStatus AS nvarchar(max))
                   END AS Text,
                   CAST(NULL AS nvarchar(max)) AS Detail
            FROM @Item AS i
            WHERE i.Accepted = 1

            UNION ALL

            SELECT 0, i.ProcessID, 2, i.ProcessID, i.TaskID, 'Info', N'stdout', i.Stdout
            FROM @Item AS i
            WHERE i.Accepted = 1
              AND DATALENGTH(i.Stdout) > 0

            UNION ALL

            SELECT 0, i.ProcessID, 3, i.ProcessID, i.TaskID, 'Warning', N'stderr', i.Stderr
            FROM @Item AS i
            WHERE i.Accepted = 1
              AND DATALENGTH(i.Stderr) > 0

            UNION ALL

            SELECT 1,
                   i.Ordinal,
                   1,
                   i.ProcessID,
                   i.TaskID,
                   'Warning',
                   CASE WHEN i.CurrentStatus <> 'InProgress'
                            THEN CONCAT(N'Completion refused: process is ', i.CurrentStatus,
                                        N' (completion from ', i.WorkerName, N')')
                        WHEN i.CurrentWorker IS NULL OR i.CurrentWorker <> i.WorkerName
                            THEN CONCAT(N'Completion refused: process is assigned to ', ISNULL(i.CurrentWorker, N'nobody'),
                                        N', not ', i.WorkerName)
                        WHEN i.ReportedAttempt <> i.CurrentAttempt
                            THEN CONCAT(N'Completion refused: attempt ', i.ReportedAttempt, N' from ', i.WorkerName,
                                        N' is not the current attempt ', i.CurrentAttempt)
                        ELSE CONCAT(N'Completion refused: process changed concurrently (completion from ', i.WorkerName, N')')
                   END,
                   NULL
            FROM @Item AS i
            WHERE i.Accepted = 0
              AND i.CurrentStatus IS NOT NULL
        ) AS l
        CROSS APPLY stage.LogKept(l.LogLevel, l.TaskID) AS k
        ORDER BY l.Part, l.SortKey, l.Seq;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        -- Status afterwards: the new one when accepted, else unchanged (NULL: no such process).
        SELECT i.ProcessID,
               i.Accepted,
               CASE WHEN i.Accepted = 1 THEN i.NewStatus ELSE i.CurrentStatus END AS Status
        FROM @Item AS i
        ORDER BY i.Ordinal;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION CompleteProcesses;
        THROW;
    END CATCH;
END;
