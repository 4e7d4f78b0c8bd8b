-- V182: the set-based path on SQL Server, the twin of PostgreSQL's (V120, V162). Elements
-- whose name's policy is not killPrevious are decided and inserted together, 1,000 at a
-- time: two locked look-ups (the core's, with its UPDLOCK + HOLDLOCK key-range locks,
-- as seeks), the batch's own duplicates worked out in the table variable, one INSERT
-- ... SELECT and one log INSERT. killPrevious elements still go through
-- stage.RegisterProcessCore one by one after them, as on PostgreSQL. The checks, errors,
-- result and retry are V120's.
-- stagehand: stage.RegisterProcesses, many registrations in one call, each exactly as
-- stage.RegisterProcess would register it if the elements came one after another in array
-- order. Every element is checked first, in one pass over OPENJSON, so bad input names the
-- element and writes nothing; all in one transaction (a savepoint inside a caller's).
CREATE OR ALTER PROCEDURE stage.RegisterProcesses
    @Processes nvarchar(max)  -- JSON array of {name, parameters: object | array | null, scheduledFor: "2024-12-06T18:00:00Z" | null}
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
        IF @Processes IS NULL
            THROW 51200, N'Processes must be a JSON array of {name, parameters, scheduledFor} objects', 1;
        -- ISJSON: an object or an array (a bare scalar is not valid JSON here, nor on PostgreSQL).
        IF ISJSON(@Processes) = 0
            THROW 51201, N'Processes is not valid JSON', 1;
        -- Wrapped in [...], the value's own JSON type shows (4 = array).
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @Processes + N']') AS j) <> 4
            THROW 51200, N'Processes must be a JSON array of {name, parameters, scheduledFor} objects', 1;

        DECLARE @Problem nvarchar(2048);
        DECLARE @Item TABLE
        (
            Ordinal        int           NOT NULL PRIMARY KEY,  -- 0-based position in the array
            JsonType       tinyint       NOT NULL,
            UnknownKey     nvarchar(max) NULL,
            NameType       tinyint       NULL,  -- JSON type of each key (NULL: absent)
            ParametersType tinyint       NULL,
            ScheduledType  tinyint       NULL,
            ProcessName    nvarchar(max) NULL,
            Parameters     nvarchar(max) NULL,
            ScheduledFor   datetime2(3)  NULL
        );
        -- A table variable: a rollback before the retry leaves it as it was, so it is emptied.
        DECLARE @Result TABLE
        (
            Ordinal     int           NOT NULL PRIMARY KEY,
            ProcessID   bigint        NOT NULL,
            ProcessName nvarchar(255) NOT NULL,
            Status      varchar(20)   NOT NULL,
            Registered  bit           NOT NULL
        );

        INSERT @Item (Ordinal, JsonType, UnknownKey, NameType, ParametersType, ScheduledType,
                      ProcessName, Parameters, ScheduledFor)
        SELECT CAST(e.[key] AS int), e.[type], ty.UnknownKey, ty.NameType, ty.ParametersType,
               ty.ScheduledType, c.ProcessName, c.Parameters, n.ScheduledFor
        FROM OPENJSON(@Processes) AS e
        -- AS JSON: the parameters' text as written (an object or an array; NULL otherwise)
        OUTER APPLY OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END)
            WITH (ProcessName  nvarchar(max) '$.name',
                  Parameters   nvarchar(max) '$.parameters' AS JSON,
                  ScheduledFor nvarchar(max) '$.scheduledFor') AS c
        -- scheduledFor: YYYY-MM-DDThh:mm:ss[.digits](Z|+hh:mm|-hh:mm), T and Z upper case, as
        -- UpdateNextFire's nextFireAt (V27); NULL when the text is not one. The fraction is
        -- cut to the 7 digits datetimeoffset takes; the conversion checks the ranges.
        CROSS APPLY (SELECT CASE WHEN RIGHT(c.ScheduledFor, 1) COLLATE Latin1_General_BIN2 = N'Z' THEN 1
                                 WHEN RIGHT(c.ScheduledFor, 6) COLLATE Latin1_General_BIN2
                                      LIKE N'[+-][0-9][0-9]:[0-9][0-9]' THEN 6
                            END AS ZoneLength) AS z
        CROSS APPLY (SELECT CASE WHEN DATALENGTH(c.ScheduledFor) / 2 >= 19 + z.ZoneLength
                                 THEN SUBSTRING(c.ScheduledFor, 20, DATALENGTH(c.ScheduledFor) / 2 - 19 - z.ZoneLength)
                            END AS Fraction) AS f
        CROSS APPLY (SELECT CASE WHEN LEFT(c.ScheduledFor, 19) COLLATE Latin1_General_BIN2
                                      LIKE N'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
                                  -- + '0': LIKE would ignore trailing blanks in the fraction
                                  AND (   DATALENGTH(f.Fraction) = 0
                                       OR (    LEFT(f.Fraction, 1) = N'.'
                                           AND DATALENGTH(f.Fraction) > 2
                                           AND (SUBSTRING(f.Fraction, 2, 4000) + N'0') COLLATE Latin1_General_BIN2
                                               NOT LIKE N'%[^0-9]%'))
                                 THEN TRY_CONVERT(datetime2(3), SWITCHOFFSET(TRY_CONVERT(datetimeoffset(7),
                                          LEFT(c.ScheduledFor, 19) + LEFT(f.Fraction, 8) + RIGHT(c.ScheduledFor, z.ZoneLength)), 0))
                            END AS ScheduledFor) AS n
        -- Keys compare exactly (a misspelt key is refused rather than ignored).
        OUTER APPLY (SELECT MAX(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 = N'name' THEN p.[type] END) AS NameType,
                            MAX(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 = N'parameters' THEN p.[type] END) AS ParametersType,
                            MAX(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 = N'scheduledFor' THEN p.[type] END) AS ScheduledType,
                            MIN(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 NOT IN (N'name', N'parameters', N'scheduledFor')
                                     THEN p.[key] END) AS UnknownKey
                     FROM OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END) AS p) AS ty;

        -- The first problem in array order, with RegisterProcess's wording for the argument.
        SELECT TOP (1) @Problem = CONCAT(N'Processes[', p.Ordinal, N']', p.Problem)
        FROM (SELECT i.Ordinal,
                     CASE WHEN i.JsonType <> 5
                              THEN N' must be a JSON object'
                          WHEN i.UnknownKey IS NOT NULL
                              THEN CONCAT(N'.', i.UnknownKey, N' is not a known key (name, parameters, scheduledFor)')
                          WHEN i.NameType NOT IN (0, 1)
                              THEN N'.name must be a JSON string'
                          -- NULL, empty or only blanks (space, tab, LF, CR)
                          WHEN i.ProcessName IS NULL
                            OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', i.ProcessName) = 0
                              THEN N'.name must not be NULL or empty'
                          -- DATALENGTH / 2 counts characters including trailing blanks.
                          WHEN DATALENGTH(i.ProcessName) / 2 > 255
                              THEN N'.name is longer than 255 characters'
                          WHEN i.ParametersType NOT IN (0, 4, 5)
                              THEN N'.parameters is not valid JSON'
                          WHEN i.ScheduledType NOT IN (0, 1)
                            OR (i.ScheduledType = 1 AND i.ScheduledFor IS NULL)
                              THEN N'.scheduledFor must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
                     END AS Problem
              FROM @Item AS i) AS p
        WHERE p.Problem IS NOT NULL
        ORDER BY p.Ordinal;
        IF @Problem IS NOT NULL
            THROW 51202, @Problem, 1;

        -- Each element with its name's task settings, then what the set-based statements
        -- decide for it (emptied at each try: a rollback leaves a table variable as it was).
        DECLARE @Req TABLE
        (
            Ordinal          int           NOT NULL PRIMARY KEY,
            ProcessName      nvarchar(255) COLLATE DATABASE_DEFAULT NOT NULL,
            Parameters       nvarchar(max) NULL,
            ScheduledFor     datetime2(3)  NULL,
            TaskID           int           NULL,
            OverlapPolicy    varchar(20)   COLLATE DATABASE_DEFAULT NOT NULL,
            Executor         varchar(10)   COLLATE DATABASE_DEFAULT NOT NULL,
            MaxAttempts      int           NOT NULL,
            OccurrenceID     bigint        NULL,  -- the row of (ProcessName, ScheduledFor) already there
            OccurrenceStatus varchar(20)   NULL,
            ActiveID         bigint        NULL,  -- skip: the oldest active row of the name already there
            ActiveStatus     varchar(20)   NULL,
            Fresh            bit           NOT NULL DEFAULT 0,  -- inserted by the set-based statement
            RefusedBy        int           NULL,  -- the Ordinal of the element of this call that refused it
            ProcessID        bigint        NULL,
            Status           varchar(20)   NULL
        );
        DECLARE @New TABLE (ProcessID bigint NOT NULL PRIMARY KEY);
        DECLARE @Now          datetime2(3);
        DECLARE @Ordinal      int;
        DECLARE @ProcessName  nvarchar(4000);
        DECLARE @Parameters   nvarchar(max);
        DECLARE @ScheduledFor datetime2(3);
        DECLARE @ProcessID    bigint;
        DECLARE @Status       varchar(20);
        DECLARE @Registered   bit;
        DECLARE @Lo           int;  -- the chunk of elements the set-based statements take
        DECLARE @Chunk        int = 1000;
        DECLARE @Last         int = (SELECT MAX(i.Ordinal) FROM @Item AS i);
        DECLARE @Try          int = 1;
        DECLARE @Finished     bit = 0;

        -- Two tries at most, as RegisterProcess: should an insert still trip a unique
        -- index (2601/2627) after its key-range locked checks, XACT_ABORT has doomed the
        -- transaction; it is rolled back and the whole batch runs once more, only when the
        -- transaction was ours (a caller's transaction is doomed and must see the error).
        WHILE @Finished = 0
        BEGIN
            BEGIN TRY
                DELETE FROM @Result;
                DELETE FROM @Req;
                SET @Now = SYSUTCDATETIME();

                IF @TranCount = 0
                    BEGIN TRANSACTION;
                ELSE
                    SAVE TRANSACTION RegisterProcesses;

                -- The tasks read without locks, as the core reads them.
                INSERT @Req (Ordinal, ProcessName, Parameters, ScheduledFor, TaskID,
                             OverlapPolicy, Executor, MaxAttempts)
                SELECT i.Ordinal, CAST(i.ProcessName AS nvarchar(255)), i.Parameters, i.ScheduledFor,
                       t.TaskID, COALESCE(t.OverlapPolicy, 'skip'), COALESCE(t.Executor, 'external'),
                       COALESCE(t.MaxAttempts, 3)
                FROM @Item AS i
                LEFT JOIN stage.Task AS t
                       ON t.TaskName = CAST(i.ProcessName AS nvarchar(255));

                -- In chunks of 1,000 elements, in array order: no statement takes the 5,000
                -- locks of one index at which SQL Server escalates to a table lock (as
                -- RotateHistory, V53). A chunk sees the rows of the chunks before it, as
                -- the core's look-ups would.
                SET @Lo = 0;
                WHILE @Lo <= @Last
                BEGIN
                    DELETE FROM @New;
                    -- The core's two look-ups for every element at once, with its locks: UPDLOCK
                    -- + HOLDLOCK key-range lock each (name, occurrence) and each skip name's
                    -- active rows, found or not, so a concurrent registration of the same key
                    -- waits for this transaction and then sees its rows. FORCESEEK on the
                    -- core's index and keys: a scan under HOLDLOCK would range-lock every name,
                    -- a seek on the name alone every occurrence of it. killPrevious elements go
                    -- through the core below.
                    UPDATE r
                    SET    OccurrenceID     = fc.ProcessID,
                           OccurrenceStatus = fc.Status
                    FROM @Req AS r
                    INNER JOIN stage.FileControl AS fc
                               WITH (UPDLOCK, HOLDLOCK, FORCESEEK (UX_FileControl_Occurrence (ProcessName, ScheduledFor)))
                            ON fc.ProcessName  = r.ProcessName
                           AND fc.ScheduledFor = r.ScheduledFor
                    WHERE r.Ordinal BETWEEN @Lo AND @Lo + @Chunk - 1
                      AND r.ScheduledFor IS NOT NULL
                      AND r.OverlapPolicy <> 'killPrevious'
                      AND fc.ScheduledFor IS NOT NULL;

                    -- Whatever that row's own policy, and only where no occurrence refused the
                    -- element, as the core's look-up (no lock the core would not take).
                    UPDATE r
                    SET    ActiveID     = a.ProcessID,
                           ActiveStatus = a.Status
                    FROM @Req AS r
                    CROSS APPLY (SELECT TOP (1) fc.ProcessID, fc.Status
                                 FROM stage.FileControl AS fc
                                      WITH (UPDLOCK, HOLDLOCK, FORCESEEK (IX_FileControl_Active (ProcessName)))
                                 WHERE fc.ProcessName = r.ProcessName
                                   AND fc.Status IN ('Pending', 'InProgress')
                                 ORDER BY fc.ProcessID) AS a
                    WHERE r.Ordinal BETWEEN @Lo AND @Lo + @Chunk - 1
                      AND r.OverlapPolicy = 'skip'
                      AND r.OccurrenceID IS NULL;

                    -- One after another in array order, the core would register an element
                    -- unless (first) an occurrence row refuses it, an existing one or one of an
                    -- earlier element, or (then, for skip) an active row of the name does, an
                    -- existing one or the first element of the name this batch registers.
                    -- Names compare by the column's collation, as the indexes do.
                    WITH d AS
                    (
                        SELECT r.Fresh, r.RefusedBy, r.OverlapPolicy, r.ScheduledFor, r.Ordinal,
                               r.OccurrenceID, r.ActiveID,
                               MIN(CASE WHEN r.OccurrenceID IS NULL THEN r.Ordinal END)
                                   OVER (PARTITION BY r.ProcessName) AS FirstFree,
                               MIN(r.Ordinal) OVER (PARTITION BY r.ProcessName, r.ScheduledFor) AS FirstOfOccurrence
                        FROM @Req AS r
                        WHERE r.Ordinal BETWEEN @Lo AND @Lo + @Chunk - 1
                          AND r.OverlapPolicy <> 'killPrevious'
                    )
                    UPDATE d
                    SET    Fresh = CASE WHEN d.OccurrenceID IS NOT NULL THEN 0
                                        WHEN d.OverlapPolicy = 'skip'
                                            THEN CASE WHEN d.ActiveID IS NULL AND d.Ordinal = d.FirstFree THEN 1 ELSE 0 END
                                        WHEN d.ScheduledFor IS NULL OR d.Ordinal = d.FirstOfOccurrence THEN 1
                                        ELSE 0
                                   END,
                           RefusedBy = CASE WHEN d.OccurrenceID IS NOT NULL THEN NULL
                                            WHEN d.OverlapPolicy = 'skip'
                                                THEN CASE WHEN d.ActiveID IS NULL AND d.Ordinal > d.FirstFree THEN d.FirstFree END
                                            WHEN d.ScheduledFor IS NOT NULL AND d.Ordinal > d.FirstOfOccurrence
                                                THEN d.FirstOfOccurrence
                                       END;

                    -- Identity values follow the ORDER BY of an INSERT ... SELECT, so the n-th
                    -- new ProcessID belongs to the n-th fresh element in array order.
                    INSERT stage.FileControl
                        (ProcessName, Status, CreatedAt, Parameters, TaskID, ScheduledFor,
                         Attempt, MaxAttempts, RunAfter, CancelRequested, OverlapPolicy, Executor)
                    OUTPUT inserted.ProcessID INTO @New (ProcessID)
                    SELECT r.ProcessName, 'Pending', @Now, r.Parameters, r.TaskID, r.ScheduledFor,
                           0, r.MaxAttempts, @Now, 0, r.OverlapPolicy, r.Executor
                    FROM @Req AS r
                    WHERE r.Ordinal BETWEEN @Lo AND @Lo + @Chunk - 1
                      AND r.Fresh = 1
                    ORDER BY r.Ordinal;

                    WITH f AS
                    (
                        SELECT r.ProcessID, r.Status, ROW_NUMBER() OVER (ORDER BY r.Ordinal) AS Seq
                        FROM @Req AS r
                        WHERE r.Ordinal BETWEEN @Lo AND @Lo + @Chunk - 1
                          AND r.Fresh = 1
                    ),
                    n AS
                    (
                        SELECT w.ProcessID, ROW_NUMBER() OVER (ORDER BY w.ProcessID) AS Seq
                        FROM @New AS w
                    )
                    UPDATE f
                    SET    ProcessID = n.ProcessID,
                           Status    = 'Pending'
                    FROM f
                    INNER JOIN n ON n.Seq = f.Seq;

                    -- The refused: by an existing row (the occurrence first), or by an element of
                    -- this batch, whose new row is Pending.
                    UPDATE r
                    SET    ProcessID = COALESCE(r.OccurrenceID, b.ProcessID, r.ActiveID),
                           Status    = CASE WHEN r.OccurrenceID IS NOT NULL THEN r.OccurrenceStatus
                                            WHEN b.ProcessID IS NOT NULL THEN b.Status
                                            ELSE r.ActiveStatus END
                    FROM @Req AS r
                    LEFT JOIN @Req AS b
                           ON b.Ordinal = r.RefusedBy
                    WHERE r.Ordinal BETWEEN @Lo AND @Lo + @Chunk - 1
                      AND r.Fresh = 0
                      AND r.OverlapPolicy <> 'killPrevious';

                    INSERT stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
                    SELECT r.ProcessID, N'Registered', 'Info', @Now
                    FROM @Req AS r
                    CROSS APPLY stage.LogKept('Info', r.TaskID) AS k
                    WHERE r.Ordinal BETWEEN @Lo AND @Lo + @Chunk - 1
                      AND r.Fresh = 1
                    ORDER BY r.ProcessID;
                    SET @Lo = @Lo + @Chunk;
                END;

                INSERT @Result (Ordinal, ProcessID, ProcessName, Status, Registered)
                SELECT r.Ordinal, r.ProcessID, r.ProcessName, r.Status, r.Fresh
                FROM @Req AS r
                WHERE r.OverlapPolicy <> 'killPrevious';

                -- killPrevious elements through the core, in array order, after the others:
                -- it cancels and flags the older runs and logs each with its registration.
                SET @Ordinal = -1;
                WHILE 1 = 1
                BEGIN
                    SELECT TOP (1) @Ordinal      = r.Ordinal,
                                   @ProcessName  = r.ProcessName,
                                   @Parameters   = r.Parameters,
                                   @ScheduledFor = r.ScheduledFor
                    FROM @Req AS r
                    WHERE r.Ordinal > @Ordinal
                      AND r.OverlapPolicy = 'killPrevious'
                    ORDER BY r.Ordinal;
                    IF @@ROWCOUNT = 0
                        BREAK;

                    EXEC stage.RegisterProcessCore @ProcessName, @Parameters, @ScheduledFor,
                                                   @ProcessID OUTPUT, @Status OUTPUT, @Registered OUTPUT;
                    INSERT @Result (Ordinal, ProcessID, ProcessName, Status, Registered)
                    VALUES (@Ordinal, @ProcessID, @ProcessName, @Status, @Registered);
                END;

                IF @TranCount = 0
                    COMMIT TRANSACTION;
                SET @Finished = 1;
            END TRY
            BEGIN CATCH
                IF @TranCount = 0 AND XACT_STATE() <> 0
                    ROLLBACK TRANSACTION;
                ELSE IF @TranCount > 0 AND XACT_STATE() = 1
                    ROLLBACK TRANSACTION RegisterProcesses;
                IF ERROR_NUMBER() NOT IN (2601, 2627) OR @Try > 1 OR @TranCount > 0
                    THROW;
                SET @Try = @Try + 1;
            END CATCH;
        END;

        SELECT r.Ordinal, r.ProcessID, r.ProcessName, r.Status, r.Registered
        FROM @Result AS r
        ORDER BY r.Ordinal;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
