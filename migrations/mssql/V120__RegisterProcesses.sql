-- stagehand: stage.RegisterProcesses, many registrations in one call, each exactly as
-- stage.RegisterProcess would register it if the elements came one after another in array
-- order. Every element is checked first, in one pass over OPENJSON, so bad input names the
-- element and writes nothing; then each element goes through stage.RegisterProcessCore in
-- array order, all in one transaction (a savepoint inside a caller's). The set-based path
-- of the PostgreSQL twin is not here yet: SQL Server cannot be tested on the machines this
-- is written on, and the core keeps its locking and lock order exactly (sql/API.md).
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

        DECLARE @Ordinal      int;
        DECLARE @ProcessName  nvarchar(4000);
        DECLARE @Parameters   nvarchar(max);
        DECLARE @ScheduledFor datetime2(3);
        DECLARE @ProcessID    bigint;
        DECLARE @Status       varchar(20);
        DECLARE @Registered   bit;
        DECLARE @Try          int = 1;
        DECLARE @Finished     bit = 0;

        -- Two tries at most, as RegisterProcess: should a core insert still trip a unique
        -- index (2601/2627) after its key-range locked checks, XACT_ABORT has doomed the
        -- transaction; it is rolled back and the whole batch runs once more, only when the
        -- transaction was ours (a caller's transaction is doomed and must see the error).
        WHILE @Finished = 0
        BEGIN
            BEGIN TRY
                DELETE FROM @Result;
                IF @TranCount = 0
                    BEGIN TRANSACTION;
                ELSE
                    SAVE TRANSACTION RegisterProcesses;

                SET @Ordinal = -1;
                WHILE 1 = 1
                BEGIN
                    SELECT TOP (1) @Ordinal      = i.Ordinal,
                                   @ProcessName  = i.ProcessName,
                                   @Parameters   = i.Parameters,
                                   @ScheduledFor = i.ScheduledFor
                    FROM @Item AS i
                    WHERE i.Ordinal > @Ordinal
                    ORDER BY i.Ordinal;
                    IF @@ROWCOUNT = 0
                        BREAK;

                    EXEC stage.RegisterProcessCore @ProcessName, @Parameters, @ScheduledFor,
                                                   @ProcessID OUTPUT, @Status OUTPUT, @Registered OUTPUT;
                    -- The name as given (checked above to be at most 255 characters).
                    INSERT @Result (Ordinal, ProcessID, ProcessName, Status, Registered)
                    VALUES (@Ordinal, @ProcessID, CAST(@ProcessName AS nvarchar(255)), @Status, @Registered);
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
