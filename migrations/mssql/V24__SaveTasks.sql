-- stagehand: stage.SaveTasks, creates or updates several tasks with their triggers in one
-- transaction (stagehand task import, task add/update). Everything is checked first; an error
-- names the element (Tasks[2].overlapPolicy ...) and writes nothing. stage.SaveTask writes
-- each task; triggers are reconciled by TriggerIndex, and an unchanged Definition keeps its
-- row and what the clock recorded on it (LastFiredFor, CreatedAt).
CREATE OR ALTER PROCEDURE stage.SaveTasks
    @Tasks nvarchar(max)  -- JSON array of {taskName, command, ..., triggers: [{triggerIndex, ...}]}
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;

    BEGIN TRY
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term.
        IF @Tasks IS NULL
            THROW 50091, N'Tasks must be a JSON array of task objects', 1;
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
        DECLARE @Saved TABLE (TaskID int NOT NULL, Created bit NOT NULL);

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
               c.NextFireAt, CONVERT(datetime2(3), SWITCHOFFSET(TRY_CONVERT(datetimeoffset(7), c.NextFireAt), 0))
        FROM @Task AS t
        CROSS APPLY OPENJSON(t.Item) AS a
        CROSS APPLY OPENJSON(CASE WHEN a.[key] = N'triggers' COLLATE Latin1_General_BIN2 AND a.[type] = 4
                                  THEN a.[value] END) AS g
        OUTER APPLY OPENJSON(CASE WHEN g.[type] = 5 THEN g.[value] END)
            WITH (TriggerIndex nvarchar(max) '$.triggerIndex',
                  Recurrence   nvarchar(max) '$.recurrence',
                  Enabled      nvarchar(max) '$.enabled',
                  [Definition] nvarchar(max) '$.definition',
                  NextFireAt   nvarchar(max) '$.nextFireAt') AS c;

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
        -- on order). nextFireAt must carry Z or an offset, as RFC 3339 wants.
        SELECT TOP (1) @Problem = CONCAT(N'Tasks[', p.TaskOrdinal, N'].triggers[', p.Ordinal, N'].', p.Problem)
        FROM (SELECT g.TaskOrdinal,
                     g.Ordinal,
                     CASE WHEN g.TriggerIndex IS NULL OR g.TriggerIndex < 0
                              THEN N'triggerIndex must be an integer of 0 or more'
                          WHEN g.Recurrence IS NULL
                            OR g.Recurrence COLLATE Latin1_General_BIN2
                               NOT IN (N'once', N'minutely', N'daily', N'weekly', N'monthly', N'cron')
                              THEN N'recurrence must be one of once, minutely, daily, weekly, monthly, cron'
                          WHEN g.DefinedAs IS NULL OR g.DefinedAs <> 5
                              THEN N'definition must be a string holding a JSON object'
                          WHEN g.NextFireText IS NOT NULL
                           AND (g.NextFireAt IS NULL
                                OR g.NextFireText NOT LIKE N'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]%'
                                OR (g.NextFireText NOT LIKE N'%Z' AND g.NextFireText NOT LIKE N'%[+-][0-9][0-9]:[0-9][0-9]'))
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

        -- 4. stage.SaveTask's rules and error numbers, for every element before the first is
        -- written, naming the element: SaveTask's own checks can do neither (and inside
        -- INSERT ... EXEC its ROLLBACK would replace its message). Keep the two in step.
        -- Enabled and RunIfMissed are never NULL here: absent or null takes the default.
        SELECT TOP (1) @Number = r.Number, @Problem = CONCAT(N'Tasks[', t.Ordinal, N'].', r.Problem)
        FROM @Task AS t
        CROSS APPLY (
            SELECT 50070, N'taskName must not be NULL or empty' WHERE t.TaskName IS NULL OR LTRIM(RTRIM(t.TaskName)) = N''
            UNION ALL SELECT 50071, N'taskName is longer than 255 characters' WHERE DATALENGTH(t.TaskName) / 2 > 255
            UNION ALL SELECT 50072, N'command must not be NULL or empty' WHERE t.Command IS NULL OR LTRIM(RTRIM(t.Command)) = N''
            UNION ALL SELECT 50073, N'command is longer than 4000 characters' WHERE DATALENGTH(t.Command) / 2 > 4000
            UNION ALL SELECT 50074, N'workingDirectory is longer than 1000 characters' WHERE DATALENGTH(t.WorkingDirectory) / 2 > 1000
            UNION ALL SELECT 50075, N'overlapPolicy must be one of skip, parallel, queue, killPrevious'
                      WHERE t.OverlapPolicy COLLATE Latin1_General_BIN2 NOT IN (N'skip', N'parallel', N'queue', N'killPrevious')
            UNION ALL SELECT 50076, N'timeoutMinutes must be NULL or greater than 0' WHERE t.TimeoutMinutes < 1
            UNION ALL SELECT 50077, N'maxAttempts must be between 1 and 100' WHERE t.MaxAttempts < 1 OR t.MaxAttempts > 100
            UNION ALL SELECT 50078, N'retryDelaySeconds must be 0 or more' WHERE t.RetryDelaySeconds < 0
            UNION ALL SELECT 50079, N'executor must be one of driver, external'
                      WHERE t.Executor COLLATE Latin1_General_BIN2 NOT IN (N'driver', N'external')
            UNION ALL SELECT 50081, N'description is longer than 1000 characters' WHERE DATALENGTH(t.Description) / 2 > 1000
            -- OPENJSON only ever sees valid JSON (the CASE), whatever the evaluation order.
            UNION ALL SELECT 50082, N'arguments must be a JSON array of strings'
                      WHERE t.Arguments IS NOT NULL AND (ISJSON(t.Arguments) = 0
                         OR (SELECT j.[type] FROM OPENJSON(CASE WHEN ISJSON(t.Arguments) = 1 THEN N'[' + t.Arguments + N']' END) AS j) <> 4
                         OR EXISTS (SELECT 1 FROM OPENJSON(CASE WHEN ISJSON(t.Arguments) = 1 THEN t.Arguments END) AS a WHERE a.[type] <> 1))
            UNION ALL SELECT 50083, N'timeZone is longer than 64 characters' WHERE DATALENGTH(t.TimeZone) / 2 > 64
            UNION ALL SELECT 50085, N'definition is not valid JSON'
                      WHERE t.[Definition] IS NOT NULL AND (ISJSON(N'[' + t.[Definition] + N']') = 0
                         OR (SELECT COUNT(*) FROM OPENJSON(CASE WHEN ISJSON(N'[' + t.[Definition] + N']') = 1
                                                                THEN N'[' + t.[Definition] + N']' END)) <> 1)
        ) AS r (Number, Problem)
        ORDER BY t.Ordinal, r.Number;
        IF @Problem IS NOT NULL
            THROW @Number, @Problem, 1;

        DECLARE @Ordinal int = -1, @Locked int, @TaskName nvarchar(4000), @Command nvarchar(max),
                @WorkingDirectory nvarchar(4000), @OverlapPolicy varchar(20), @TimeoutMinutes int,
                @MaxAttempts int, @RetryDelaySeconds int, @Executor varchar(10), @Enabled bit,
                @Description nvarchar(4000), @Arguments nvarchar(max), @TimeZone nvarchar(4000),
                @RunIfMissed bit, @Definition nvarchar(max);

        BEGIN TRANSACTION;

        -- Trigger rows first, then the task (SaveTask): the order in which FireTrigger takes
        -- them (its trigger row, then the task through RegisterProcess), so the two cannot
        -- deadlock when READ_COMMITTED_SNAPSHOT is off.
        SELECT @Locked = COUNT(*)
        FROM stage.TaskTrigger AS g WITH (UPDLOCK)
        INNER JOIN stage.Task AS tk
                ON tk.TaskID = g.TaskID
        INNER JOIN @Task AS t
                ON t.TaskName = tk.TaskName;

        -- One element at a time. INSERT ... EXEC keeps SaveTask's row out of this result.
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

            DELETE @Saved;
            -- Positional: the variables bear the parameters' names, in SaveTask's order.
            INSERT @Saved (TaskID, Created)
            EXEC stage.SaveTask @TaskName, @Command, @WorkingDirectory, @OverlapPolicy, @TimeoutMinutes,
                                @MaxAttempts, @RetryDelaySeconds, @Executor, @Enabled, @Description,
                                @Arguments, @TimeZone, @RunIfMissed, @Definition;

            -- The name as stored, too: an existing task keeps its spelling.
            UPDATE t
            SET    TaskID   = s.TaskID,
                   Created  = s.Created,
                   TaskName = tk.TaskName
            FROM @Task AS t
            CROSS JOIN @Saved AS s
            INNER JOIN stage.Task AS tk
                    ON tk.TaskID = s.TaskID
            WHERE t.Ordinal = @Ordinal;
        END;

        -- 5. Their triggers: missing ones go, changed ones start afresh (a new definition is a
        -- new trigger: it fired for nothing yet, and for nothing before now), new ones come.
        DELETE g
        FROM stage.TaskTrigger AS g
        INNER JOIN @Task AS t
                ON t.TaskID = g.TaskID
        WHERE NOT EXISTS (SELECT 1 FROM @Trigger AS n WHERE n.TaskOrdinal = t.Ordinal AND n.TriggerIndex = g.TriggerIndex);

        UPDATE g
        SET    Recurrence   = RTRIM(n.Recurrence),
               Enabled      = n.Enabled,
               NextFireAt   = n.NextFireAt,
               [Definition] = n.[Definition],
               LastFiredFor = CASE WHEN g.[Definition] = n.[Definition] COLLATE Latin1_General_BIN2
                                   THEN g.LastFiredFor END,
               CreatedAt    = CASE WHEN g.[Definition] = n.[Definition] COLLATE Latin1_General_BIN2
                                   THEN g.CreatedAt ELSE @Now END
        FROM stage.TaskTrigger AS g
        INNER JOIN @Task AS t
                ON t.TaskID = g.TaskID
        INNER JOIN @Trigger AS n
                ON n.TaskOrdinal  = t.Ordinal
               AND n.TriggerIndex = g.TriggerIndex;

        INSERT stage.TaskTrigger (TaskID, TriggerIndex, Recurrence, Enabled, [Definition], NextFireAt, CreatedAt)
        SELECT t.TaskID, n.TriggerIndex, RTRIM(n.Recurrence), n.Enabled, n.[Definition], n.NextFireAt, @Now
        FROM @Trigger AS n
        INNER JOIN @Task AS t
                ON t.Ordinal = n.TaskOrdinal
        WHERE NOT EXISTS (SELECT 1 FROM stage.TaskTrigger AS g WHERE g.TaskID = t.TaskID AND g.TriggerIndex = n.TriggerIndex)
        ORDER BY t.Ordinal, n.TriggerIndex;

        COMMIT TRANSACTION;

        SELECT t.TaskID,
               CAST(t.TaskName AS nvarchar(255)) AS TaskName,
               t.Created
        FROM @Task AS t
        ORDER BY t.Ordinal;
    END TRY
    BEGIN CATCH
        IF XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
