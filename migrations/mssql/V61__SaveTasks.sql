-- stagehand V61 (issue 12): stage.SaveTasks as in V25, admitting recurrence 'driverStart' (V60);
-- nothing else changed. Whoever redefines SaveTasks later starts from this version.
-- stagehand: stage.SaveTasks, creates or updates several tasks with their triggers in one
-- transaction (stagehand task import, task add/update). An error names the element
-- (Tasks[2].overlapPolicy ...) and writes nothing. Each task goes through stage.SaveTaskCore
-- (V31), so SaveTask's rules check it; triggers are reconciled by TriggerIndex, and an
-- unchanged Definition keeps its row and what the clock recorded on it (LastFiredFor,
-- CreatedAt). (Run before V31, SQL Server warns that the core does not exist yet.)
CREATE OR ALTER PROCEDURE stage.SaveTasks
    @Tasks nvarchar(max)  -- JSON array of {taskName, command, ..., triggers: [{triggerIndex, ...}]}
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
        IF @Tasks IS NULL
            THROW 50091, N'Tasks must be a JSON array of task objects', 1;
        -- ISJSON: an object or an array (a bare scalar is not valid JSON here, nor on PostgreSQL).
        IF ISJSON(@Tasks) = 0
            THROW 50090, N'Tasks is not valid JSON', 1;
        -- Wrapped in [...], the value's own JSON type shows (4 = array).
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @Tasks + N']') AS j) <> 4
            THROW 50091, N'Tasks must be a JSON array of task objects', 1;

        DECLARE @Now     datetime2(3) = SYSUTCDATETIME();
        DECLARE @Number  int;
        DECLARE @Problem nvarchar(2048);
        -- A key that is absent or null takes SaveTask's default. Numbers and booleans are
        -- typed here; the JSON types are checked below before any of them is used.
        DECLARE @Task TABLE
        (
            Ordinal           int           NOT NULL PRIMARY KEY,  -- 0-based position in the array
            JsonType          tinyint       NOT NULL,
            Item              nvarchar(max) NULL,  -- the element, when it is an object
            TaskName          nvarchar(max) COLLATE DATABASE_DEFAULT NULL,  -- compared as stage.Task compares
            Command           nvarchar(max) NULL,
            WorkingDirectory  nvarchar(max) NULL,
            OverlapPolicy     nvarchar(max) NULL,
            TimeoutMinutes    int           NULL,
            MaxAttempts       int           NULL,
            RetryDelaySeconds int           NULL,
            Executor          nvarchar(max) NULL,
            Enabled           bit           NULL,
            Description       nvarchar(max) NULL,
            Arguments         nvarchar(max) NULL,
            TimeZone          nvarchar(max) NULL,
            RunIfMissed       bit           NULL,
            [Definition]      nvarchar(max) NULL,
            TaskID            int           NULL,  -- as saved
            Created           bit           NULL
        );
        DECLARE @Trigger TABLE
        (
            TaskOrdinal  int           NOT NULL,
            Ordinal      int           NOT NULL,
            JsonType     tinyint       NOT NULL,
            Item         nvarchar(max) NULL,  -- the element, when it is an object
            TriggerIndex int           NULL,
            Recurrence   nvarchar(max) NULL,
            Enabled      bit           NULL,
            [Definition] nvarchar(max) NULL,
            DefinedAs    tinyint       NULL,  -- JSON type of the text in definition ([...] shows it)
            NextFireText nvarchar(max) NULL,
            NextFireAt   datetime2(3)  NULL,
            PRIMARY KEY (TaskOrdinal, Ordinal)
        );

        -- Elements that are not objects give all-NULL rows (and fail the type check).
        INSERT @Task (Ordinal, JsonType, Item, TaskName, Command, WorkingDirectory, OverlapPolicy,
                      TimeoutMinutes, MaxAttempts, RetryDelaySeconds, Executor, Enabled, Description,
                      Arguments, TimeZone, RunIfMissed, [Definition])
        SELECT CAST(e.[key] AS int), e.[type], CASE WHEN e.[type] = 5 THEN e.[value] END,
               c.TaskName, c.Command, c.WorkingDirectory, ISNULL(c.OverlapPolicy, N'skip'),
               TRY_CAST(c.TimeoutMinutes AS int), ISNULL(TRY_CAST(c.MaxAttempts AS int), 1),
               ISNULL(TRY_CAST(c.RetryDelaySeconds AS int), 60), ISNULL(c.Executor, N'driver'),
               CASE c.Enabled WHEN N'false' THEN 0 ELSE 1 END, c.Description,
               c.Arguments, c.TimeZone, CASE c.RunIfMissed WHEN N'true' THEN 1 ELSE 0 END,
               c.[Definition]
        FROM OPENJSON(@Tasks) AS e
        OUTER APPLY OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END)
            WITH (TaskName          nvarchar(max) '$.taskName',
                  Command           nvarchar(max) '$.command',
                  WorkingDirectory  nvarchar(max) '$.workingDirectory',
                  OverlapPolicy     nvarchar(max) '$.overlapPolicy',
                  TimeoutMinutes    nvarchar(max) '$.timeoutMinutes',
                  MaxAttempts       nvarchar(max) '$.maxAttempts',
                  RetryDelaySeconds nvarchar(max) '$.retryDelaySeconds',
                  Executor          nvarchar(max) '$.executor',
                  Enabled           nvarchar(max) '$.enabled',
                  Description       nvarchar(max) '$.description',
                  Arguments         nvarchar(max) '$.arguments',
                  TimeZone          nvarchar(max) '$.timeZone',
                  RunIfMissed       nvarchar(max) '$.runIfMissed',
                  [Definition]      nvarchar(max) '$.definition') AS c;

        -- The elements of each task's "triggers" array (OPENJSON types: 0 null, 1 string,
        -- 2 number, 3 boolean, 4 array, 5 object).
        INSERT @Trigger (TaskOrdinal, Ordinal, JsonType, Item, TriggerIndex, Recurrence, Enabled,
                         [Definition], DefinedAs, NextFireText, NextFireAt)
        SELECT t.Ordinal, CAST(g.[key] AS int), g.[type], CASE WHEN g.[type] = 5 THEN g.[value] END,
               TRY_CAST(c.TriggerIndex AS int), c.Recurrence, CASE c.Enabled WHEN N'false' THEN 0 ELSE 1 END,
               c.[Definition],
               (SELECT d.[type]
                FROM OPENJSON(CASE WHEN ISJSON(c.[Definition]) = 1 THEN N'[' + c.[Definition] + N']' END) AS d),
               c.NextFireAt, n.NextFireAt
        FROM @Task AS t
        CROSS APPLY OPENJSON(t.Item) AS a
        CROSS APPLY OPENJSON(CASE WHEN a.[key] = N'triggers' COLLATE Latin1_General_BIN2 AND a.[type] = 4
                                  THEN a.[value] END) AS g
        OUTER APPLY OPENJSON(CASE WHEN g.[type] = 5 THEN g.[value] END)
            WITH (TriggerIndex nvarchar(max) '$.triggerIndex',
                  Recurrence   nvarchar(max) '$.recurrence',
                  Enabled      nvarchar(max) '$.enabled',
                  [Definition] nvarchar(max) '$.definition',
                  NextFireAt   nvarchar(max) '$.nextFireAt') AS c
        -- nextFireAt: YYYY-MM-DDThh:mm:ss[.digits](Z|+hh:mm|-hh:mm), T and Z upper case, as the
        -- PostgreSQL twin's pattern; the value NULL when the text is not one. The fraction is
        -- cut to the 7 digits datetimeoffset takes; the conversion checks the ranges.
        CROSS APPLY (SELECT CASE WHEN RIGHT(c.NextFireAt, 1) COLLATE Latin1_General_BIN2 = N'Z' THEN 1
                                 WHEN RIGHT(c.NextFireAt, 6) COLLATE Latin1_General_BIN2
                                      LIKE N'[+-][0-9][0-9]:[0-9][0-9]' THEN 6
                            END AS ZoneLength) AS z
        CROSS APPLY (SELECT CASE WHEN DATALENGTH(c.NextFireAt) / 2 >= 19 + z.ZoneLength
                                 THEN SUBSTRING(c.NextFireAt, 20, DATALENGTH(c.NextFireAt) / 2 - 19 - z.ZoneLength)
                            END AS Fraction) AS f
        CROSS APPLY (SELECT CASE WHEN LEFT(c.NextFireAt, 19) COLLATE Latin1_General_BIN2
                                      LIKE N'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
                                  -- + '0': LIKE would ignore trailing blanks in the fraction
                                  AND (   DATALENGTH(f.Fraction) = 0
                                       OR (    LEFT(f.Fraction, 1) = N'.'
                                           AND DATALENGTH(f.Fraction) > 2
                                           AND (SUBSTRING(f.Fraction, 2, 4000) + N'0') COLLATE Latin1_General_BIN2
                                               NOT LIKE N'%[^0-9]%'))
                                 THEN TRY_CONVERT(datetime2(3), SWITCHOFFSET(TRY_CONVERT(datetimeoffset(7),
                                          LEFT(c.NextFireAt, 19) + LEFT(f.Fraction, 8) + RIGHT(c.NextFireAt, z.ZoneLength)), 0))
                            END AS NextFireAt) AS n;

        -- 1. JSON types of the elements and their keys, a task's own before its triggers'.
        SELECT TOP (1) @Problem = CONCAT(e.Subject, CASE WHEN e.JsonType <> 5 THEN N' must be a JSON object'
                                                      ELSE CONCAT(N'.', k.Name, N' must be ', k.What) END)
        FROM (SELECT CONCAT(N'Tasks[', t.Ordinal, N']') AS Subject, 1 AS Kind, t.JsonType, t.Item,
                     t.Ordinal AS TaskOrdinal, -1 AS Ordinal
              FROM @Task AS t
              UNION ALL
              SELECT CONCAT(N'Tasks[', g.TaskOrdinal, N'].triggers[', g.Ordinal, N']'), 2, g.JsonType, g.Item,
                     g.TaskOrdinal, g.Ordinal
              FROM @Trigger AS g) AS e
        OUTER APPLY (
            SELECT TOP (1) k.Name, k.What
            FROM OPENJSON(e.Item) AS p
            INNER JOIN (VALUES (1, 1, N'taskName', 1, N'a string'), (1, 2, N'command', 1, N'a string'),
                               (1, 3, N'workingDirectory', 1, N'a string'), (1, 4, N'overlapPolicy', 1, N'a string'),
                               (1, 5, N'timeoutMinutes', 2, N'an integer'), (1, 6, N'maxAttempts', 2, N'an integer'),
                               (1, 7, N'retryDelaySeconds', 2, N'an integer'), (1, 8, N'executor', 1, N'a string'),
                               (1, 9, N'enabled', 3, N'true or false'), (1, 10, N'description', 1, N'a string'),
                               (1, 11, N'arguments', 1, N'a string'), (1, 12, N'timeZone', 1, N'a string'),
                               (1, 13, N'runIfMissed', 3, N'true or false'), (1, 14, N'definition', 1, N'a string'),
                               (1, 15, N'triggers', 4, N'an array'),
                               (2, 1, N'triggerIndex', 2, N'an integer'), (2, 2, N'recurrence', 1, N'a string'),
                               (2, 3, N'enabled', 3, N'true or false'), (2, 4, N'definition', 1, N'a string'),
                               (2, 5, N'nextFireAt', 1, N'a string')) AS k (Kind, Pos, Name, JsonType, What)
                    ON k.Kind = e.Kind
                   AND k.Name  = p.[key] COLLATE Latin1_General_BIN2
            WHERE p.[type] NOT IN (0, k.JsonType)
               OR (p.[type] = 2 AND TRY_CAST(p.[value] AS int) IS NULL)
            ORDER BY k.Pos
        ) AS k
        WHERE e.JsonType <> 5
           OR k.Name IS NOT NULL
        ORDER BY e.TaskOrdinal, e.Ordinal;
        IF @Problem IS NOT NULL
            THROW 50092, @Problem, 1;

        -- 2. What the triggers hold, one trigger per index (two would make the result depend
        -- on order). nextFireAt must carry Z or an offset, as RFC 3339 wants (parsed above).
        SELECT TOP (1) @Problem = CONCAT(N'Tasks[', p.TaskOrdinal, N'].triggers[', p.Ordinal, N'].', p.Problem)
        FROM (SELECT g.TaskOrdinal,
                     g.Ordinal,
                     CASE WHEN g.TriggerIndex IS NULL OR g.TriggerIndex < 0
                              THEN N'triggerIndex must be an integer of 0 or more'
                          -- exact case (BIN2); = ignores trailing blanks, DATALENGTH does not
                          WHEN g.Recurrence IS NULL
                            OR g.Recurrence COLLATE Latin1_General_BIN2
                               NOT IN (N'once', N'minutely', N'daily', N'weekly', N'monthly', N'cron', N'driverStart')
                            OR DATALENGTH(g.Recurrence) <> DATALENGTH(RTRIM(g.Recurrence))
                              THEN N'recurrence must be one of once, minutely, daily, weekly, monthly, cron, driverStart'
                          WHEN g.DefinedAs IS NULL OR g.DefinedAs <> 5
                              THEN N'definition must be a string holding a JSON object'
                          WHEN g.NextFireText IS NOT NULL AND g.NextFireAt IS NULL
                              THEN N'nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
                          WHEN EXISTS (SELECT 1 FROM @Trigger AS earlier
                                       WHERE earlier.TaskOrdinal = g.TaskOrdinal AND earlier.TriggerIndex = g.TriggerIndex
                                         AND earlier.Ordinal < g.Ordinal)
                              THEN CONCAT(N'triggerIndex ', g.TriggerIndex, N' appears more than once')
                     END AS Problem
              FROM @Trigger AS g) AS p
        WHERE p.Problem IS NOT NULL
        ORDER BY p.TaskOrdinal, p.Ordinal;
        -- 3. One element per task, as stage.Task compares names.
        IF @Problem IS NULL
            SELECT TOP (1) @Problem = CONCAT(N'Tasks[', t.Ordinal, N'].taskName ', t.TaskName, N' appears more than once')
            FROM @Task AS t
            WHERE EXISTS (SELECT 1 FROM @Task AS earlier WHERE earlier.TaskName = t.TaskName AND earlier.Ordinal < t.Ordinal)
            ORDER BY t.Ordinal;
        IF @Problem IS NOT NULL
            THROW 50092, @Problem, 1;

        DECLARE @Ordinal int = -1, @Locked int, @TaskID int, @Created bit, @TaskName nvarchar(4000),
                @Command nvarchar(max), @WorkingDirectory nvarchar(4000), @OverlapPolicy nvarchar(20),
                @TimeoutMinutes int, @MaxAttempts int, @RetryDelaySeconds int, @Executor nvarchar(10),
                @Enabled bit, @Description nvarchar(4000), @Arguments nvarchar(max), @TimeZone nvarchar(4000),
                @RunIfMissed bit, @Definition nvarchar(max);
        DECLARE @TriggerIDs TABLE (TriggerID int NOT NULL PRIMARY KEY);

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION SaveTasks;

        -- Trigger rows first, then the task (SaveTaskCore): the order in which FireTrigger takes
        -- them (its trigger row, then the task through RegisterProcessCore), as DeleteTask does,
        -- so they cannot deadlock when READ_COMMITTED_SNAPSHOT is off.
        -- The ids first, then the rows by PK_TaskTrigger: FireTrigger updates the clustered
        -- row, and a lock on IX_TaskTrigger_Task (which covers a count) would not stop it.
        INSERT @TriggerIDs (TriggerID)
        SELECT g.TriggerID
        FROM stage.TaskTrigger AS g
        INNER JOIN stage.Task AS tk
                ON tk.TaskID = g.TaskID
        INNER JOIN @Task AS t
                ON t.TaskName = tk.TaskName;

        SELECT @Locked = COUNT(*)
        FROM @TriggerIDs AS i
        INNER JOIN stage.TaskTrigger AS g WITH (UPDLOCK, ROWLOCK, FORCESEEK)
                ON g.TriggerID = i.TriggerID;

        -- 4. The tasks, one at a time, through SaveTaskCore. Its problems name SaveTask's
        -- parameter (OverlapPolicy ...); here they name the element's key (Tasks[2].overlapPolicy
        -- ...), and the THROW undoes the elements saved before.
        WHILE 1 = 1
        BEGIN
            SELECT TOP (1) @Ordinal = t.Ordinal, @TaskName = t.TaskName, @Command = t.Command,
                           @WorkingDirectory = t.WorkingDirectory, @OverlapPolicy = t.OverlapPolicy,
                           @TimeoutMinutes = t.TimeoutMinutes, @MaxAttempts = t.MaxAttempts,
                           @RetryDelaySeconds = t.RetryDelaySeconds, @Executor = t.Executor,
                           @Enabled = t.Enabled, @Description = t.Description, @Arguments = t.Arguments,
                           @TimeZone = t.TimeZone, @RunIfMissed = t.RunIfMissed, @Definition = t.[Definition]
            FROM @Task AS t
            WHERE t.Ordinal > @Ordinal
            ORDER BY t.Ordinal;
            IF @@ROWCOUNT = 0
                BREAK;

            EXEC stage.SaveTaskCore @TaskName, @Command, @WorkingDirectory, @OverlapPolicy, @TimeoutMinutes,
                                    @MaxAttempts, @RetryDelaySeconds, @Executor, @Enabled, @Description,
                                    @Arguments, @TimeZone, @RunIfMissed, @Definition,
                                    @TaskID OUTPUT, @Created OUTPUT, @Number OUTPUT, @Problem OUTPUT;
            IF @Problem IS NOT NULL
            BEGIN
                SET @Problem = CONCAT(N'Tasks[', @Ordinal, N'].', LOWER(LEFT(@Problem, 1)), SUBSTRING(@Problem, 2, 2048));
                THROW @Number, @Problem, 1;
            END;

            -- The name as stored, too: an existing task keeps its spelling.
            UPDATE t
            SET    TaskID   = @TaskID,
                   Created  = @Created,
                   TaskName = tk.TaskName
            FROM @Task AS t
            INNER JOIN stage.Task AS tk
                    ON tk.TaskID = @TaskID
            WHERE t.Ordinal = @Ordinal;
        END;

        -- 5. Their triggers: missing ones go, changed ones start afresh (a new definition is a
        -- new trigger: it fired for nothing yet, and for nothing before now), new ones come.
        DELETE g
        FROM stage.TaskTrigger AS g
        INNER JOIN @Task AS t
                ON t.TaskID = g.TaskID
        WHERE NOT EXISTS (SELECT 1 FROM @Trigger AS n WHERE n.TaskOrdinal = t.Ordinal AND n.TriggerIndex = g.TriggerIndex);

        -- Same Definition: equal as binary text, trailing blanks included (= ignores them).
        UPDATE g
        SET    Recurrence   = n.Recurrence,
               Enabled      = n.Enabled,
               NextFireAt   = n.NextFireAt,
               [Definition] = n.[Definition],
               LastFiredFor = CASE WHEN s.Same = 1 THEN g.LastFiredFor END,
               CreatedAt    = CASE WHEN s.Same = 1 THEN g.CreatedAt ELSE @Now END
        FROM stage.TaskTrigger AS g
        INNER JOIN @Task AS t
                ON t.TaskID = g.TaskID
        INNER JOIN @Trigger AS n
                ON n.TaskOrdinal  = t.Ordinal
               AND n.TriggerIndex = g.TriggerIndex
        CROSS APPLY (SELECT CASE WHEN g.[Definition] = n.[Definition] COLLATE Latin1_General_BIN2
                                  AND DATALENGTH(g.[Definition]) = DATALENGTH(n.[Definition])
                                 THEN 1 ELSE 0 END AS Same) AS s;

        INSERT stage.TaskTrigger (TaskID, TriggerIndex, Recurrence, Enabled, [Definition], NextFireAt, CreatedAt)
        SELECT t.TaskID, n.TriggerIndex, n.Recurrence, n.Enabled, n.[Definition], n.NextFireAt, @Now
        FROM @Trigger AS n
        INNER JOIN @Task AS t
                ON t.Ordinal = n.TaskOrdinal
        WHERE NOT EXISTS (SELECT 1 FROM stage.TaskTrigger AS g WHERE g.TaskID = t.TaskID AND g.TriggerIndex = n.TriggerIndex)
        ORDER BY t.Ordinal, n.TriggerIndex;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT t.TaskID,
               CAST(t.TaskName AS nvarchar(255)) AS TaskName,
               t.Created
        FROM @Task AS t
        ORDER BY t.Ordinal;
    END TRY
    BEGIN CATCH
        -- XACT_ABORT dooms the transaction on nearly every error (XACT_STATE() = -1): then
        -- only a full rollback is possible, which is the caller's to make when it is theirs.
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION SaveTasks;
        THROW;
    END CATCH;
END;
