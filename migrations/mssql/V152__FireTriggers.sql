-- stagehand: stage.FireTriggers (V152): many due occurrences in one call (the clock sends
-- those due in the same tick together), each fired exactly as stage.FireTrigger would fire
-- it if the elements came one after another in array order: every element goes through
-- stage.FireTriggerCore (V150), the same rules and the same row per element, with its
-- 0-based Ordinal. Every element is checked first, in one pass over OPENJSON, so bad input
-- names the element (Occurrences[3].triggerId ...) and writes nothing; then all elements
-- fire in one transaction (a savepoint inside a caller's).
CREATE OR ALTER PROCEDURE stage.FireTriggers
    @Occurrences nvarchar(max)  -- JSON array of {triggerId, occurrence, nextFireAt, mode, missedCount}
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
        IF @Occurrences IS NULL
            THROW 51600, N'Occurrences must be a JSON array of {triggerId, occurrence, nextFireAt, mode, missedCount} objects', 1;
        -- ISJSON: an object or an array (a bare scalar is not valid JSON here, nor on PostgreSQL).
        IF ISJSON(@Occurrences) = 0
            THROW 51601, N'Occurrences is not valid JSON', 1;
        -- Wrapped in [...], the value's own JSON type shows (4 = array).
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @Occurrences + N']') AS j) <> 4
            THROW 51600, N'Occurrences must be a JSON array of {triggerId, occurrence, nextFireAt, mode, missedCount} objects', 1;

        DECLARE @Problem nvarchar(2048);
        DECLARE @Item TABLE
        (
            Ordinal        int           NOT NULL PRIMARY KEY,  -- 0-based position in the array
            JsonType       tinyint       NOT NULL,
            UnknownKey     nvarchar(max) NULL,
            IdType         tinyint       NULL,  -- JSON type of each key (NULL: absent)
            OccurrenceType tinyint       NULL,
            NextFireType   tinyint       NULL,
            ModeType       tinyint       NULL,
            MissedType     tinyint       NULL,
            TriggerID      int           NULL,
            Occurrence     datetime2(3)  NULL,
            NextFireAt     datetime2(3)  NULL,
            Mode           nvarchar(max) NULL,
            MissedCount    int           NULL
        );
        -- A table variable: a rollback before the retry leaves it as it was, so it is emptied.
        DECLARE @Result TABLE
        (
            Ordinal    int         NOT NULL PRIMARY KEY,
            Fired      bit         NOT NULL,
            ProcessID  bigint      NULL,
            Registered bit         NULL,
            Status     varchar(20) NULL
        );

        INSERT @Item (Ordinal, JsonType, UnknownKey, IdType, OccurrenceType, NextFireType, ModeType,
                      MissedType, TriggerID, Occurrence, NextFireAt, Mode, MissedCount)
        SELECT CAST(e.[key] AS int), e.[type], ty.UnknownKey, ty.IdType, ty.OccurrenceType,
               ty.NextFireType, ty.ModeType, ty.MissedType, TRY_CAST(c.TriggerID AS int),
               n.Occurrence, n.NextFireAt, c.Mode, TRY_CAST(c.MissedCount AS int)
        FROM OPENJSON(@Occurrences) AS e
        OUTER APPLY OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END)
            WITH (TriggerID   nvarchar(max) '$.triggerId',
                  Occurrence  nvarchar(max) '$.occurrence',
                  NextFireAt  nvarchar(max) '$.nextFireAt',
                  Mode        nvarchar(max) '$.mode',
                  MissedCount nvarchar(max) '$.missedCount') AS c
        -- Both instants: YYYY-MM-DDThh:mm:ss[.digits](Z|+hh:mm|-hh:mm), T and Z upper case, as
        -- UpdateNextFire's nextFireAt (V27); NULL when the text is not one. The fraction is
        -- cut to the 7 digits datetimeoffset takes; the conversion checks the ranges.
        CROSS APPLY (SELECT MAX(CASE WHEN v.Field = 1 THEN s.Parsed END) AS Occurrence,
                            MAX(CASE WHEN v.Field = 2 THEN s.Parsed END) AS NextFireAt
                     FROM (VALUES (1, c.Occurrence), (2, c.NextFireAt)) AS v(Field, Txt)
                     CROSS APPLY (SELECT CASE WHEN RIGHT(v.Txt, 1) COLLATE Latin1_General_BIN2 = N'Z' THEN 1
                                              WHEN RIGHT(v.Txt, 6) COLLATE Latin1_General_BIN2
                                                   LIKE N'[+-][0-9][0-9]:[0-9][0-9]' THEN 6
                                         END AS ZoneLength) AS z
                     CROSS APPLY (SELECT CASE WHEN DATALENGTH(v.Txt) / 2 >= 19 + z.ZoneLength
                                              THEN SUBSTRING(v.Txt, 20, DATALENGTH(v.Txt) / 2 - 19 - z.ZoneLength)
                                         END AS Fraction) AS f
                     CROSS APPLY (SELECT CASE WHEN LEFT(v.Txt, 19) COLLATE Latin1_General_BIN2
                                                   LIKE N'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
                                               -- + '0': LIKE would ignore trailing blanks in the fraction
                                               AND (   DATALENGTH(f.Fraction) = 0
                                                    OR (    LEFT(f.Fraction, 1) = N'.'
                                                        AND DATALENGTH(f.Fraction) > 2
                                                        AND (SUBSTRING(f.Fraction, 2, 4000) + N'0') COLLATE Latin1_General_BIN2
                                                            NOT LIKE N'%[^0-9]%'))
                                              THEN TRY_CONVERT(datetime2(3), SWITCHOFFSET(TRY_CONVERT(datetimeoffset(7),
                                                       LEFT(v.Txt, 19) + LEFT(f.Fraction, 8) + RIGHT(v.Txt, z.ZoneLength)), 0))
                                         END AS Parsed) AS s) AS n
        -- Keys compare exactly (a misspelt key is refused rather than ignored).
        OUTER APPLY (SELECT MAX(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 = N'triggerId' THEN p.[type] END) AS IdType,
                            MAX(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 = N'occurrence' THEN p.[type] END) AS OccurrenceType,
                            MAX(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 = N'nextFireAt' THEN p.[type] END) AS NextFireType,
                            MAX(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 = N'mode' THEN p.[type] END) AS ModeType,
                            MAX(CASE WHEN p.[key] COLLATE Latin1_General_BIN2 = N'missedCount' THEN p.[type] END) AS MissedType,
                            MIN(CASE WHEN p.[key] COLLATE Latin1_General_BIN2
                                          NOT IN (N'triggerId', N'occurrence', N'nextFireAt', N'mode', N'missedCount')
                                     THEN p.[key] END) AS UnknownKey
                     FROM OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END) AS p) AS ty;

        -- The first problem in array order, in FireTrigger's words for the argument. Absent
        -- keys take FireTrigger's defaults (nextFireAt null, mode run, missedCount 0).
        SELECT TOP (1) @Problem = CONCAT(N'Occurrences[', p.Ordinal, N']', p.Problem)
        FROM (SELECT i.Ordinal,
                     CASE WHEN i.JsonType <> 5
                              THEN N' must be a JSON object'
                          WHEN i.UnknownKey IS NOT NULL
                              THEN CONCAT(N'.', i.UnknownKey,
                                          N' is not a known key (triggerId, occurrence, nextFireAt, mode, missedCount)')
                          WHEN i.IdType IS NULL OR i.IdType <> 2 OR i.TriggerID IS NULL
                              THEN N'.triggerId must be an integer'
                          WHEN i.OccurrenceType IS NULL OR i.OccurrenceType <> 1 OR i.Occurrence IS NULL
                              THEN N'.occurrence must be an RFC 3339 instant such as 2024-12-06T18:00:00Z'
                          WHEN i.NextFireType NOT IN (0, 1)
                            OR (i.NextFireType = 1 AND i.NextFireAt IS NULL)
                              THEN N'.nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
                          -- Exact case (BIN2); = ignores trailing blanks, so DATALENGTH catches them.
                          WHEN i.ModeType IS NOT NULL
                           AND (   i.ModeType <> 1
                                OR i.Mode COLLATE Latin1_General_BIN2 NOT IN (N'run', N'late', N'skip')
                                OR DATALENGTH(i.Mode) <> DATALENGTH(RTRIM(i.Mode)))
                              THEN N'.mode must be one of run, late, skip'
                          WHEN i.MissedType IS NOT NULL
                           AND (i.MissedType <> 2 OR i.MissedCount IS NULL OR i.MissedCount < 0)
                              THEN N'.missedCount must be an integer, 0 or more'
                     END AS Problem
              FROM @Item AS i) AS p
        WHERE p.Problem IS NOT NULL
        ORDER BY p.Ordinal;
        IF @Problem IS NOT NULL
            THROW 51602, @Problem, 1;

        DECLARE @Ordinal     int;
        DECLARE @TriggerID   int;
        DECLARE @Occurrence  datetime2(3);
        DECLARE @NextFireAt  datetime2(3);
        DECLARE @Mode        nvarchar(10);
        DECLARE @MissedCount int;
        DECLARE @Fired       bit;
        DECLARE @ProcessID   bigint;
        DECLARE @Status      varchar(20);
        DECLARE @Registered  bit;
        DECLARE @Try         int = 1;
        DECLARE @Finished    bit = 0;

        -- Two tries at most, as FireTrigger: should a registration lose a race on a unique
        -- index (2601/2627), XACT_ABORT has doomed the transaction; it is rolled back and the
        -- whole batch runs once more, only when the transaction was ours (a caller's
        -- transaction is doomed and must see the error).
        WHILE @Finished = 0
        BEGIN
            BEGIN TRY
                DELETE FROM @Result;
                IF @TranCount = 0
                    BEGIN TRANSACTION;
                ELSE
                    SAVE TRANSACTION FireTriggers;

                SET @Ordinal = -1;
                WHILE 1 = 1
                BEGIN
                    SELECT TOP (1) @Ordinal     = i.Ordinal,
                                   @TriggerID   = i.TriggerID,
                                   @Occurrence  = i.Occurrence,
                                   @NextFireAt  = i.NextFireAt,
                                   @Mode        = COALESCE(i.Mode, N'run'),
                                   @MissedCount = COALESCE(i.MissedCount, 0)
                    FROM @Item AS i
                    WHERE i.Ordinal > @Ordinal
                    ORDER BY i.Ordinal;
                    IF @@ROWCOUNT = 0
                        BREAK;

                    EXEC stage.FireTriggerCore @TriggerID, @Occurrence, @NextFireAt, @Mode, @MissedCount,
                                               @Fired OUTPUT, @ProcessID OUTPUT, @Registered OUTPUT, @Status OUTPUT;
                    INSERT @Result (Ordinal, Fired, ProcessID, Registered, Status)
                    VALUES (@Ordinal, @Fired, @ProcessID, @Registered, @Status);
                END;

                IF @TranCount = 0
                    COMMIT TRANSACTION;
                SET @Finished = 1;
            END TRY
            BEGIN CATCH
                IF @TranCount = 0 AND XACT_STATE() <> 0
                    ROLLBACK TRANSACTION;
                ELSE IF @TranCount > 0 AND XACT_STATE() = 1
                    ROLLBACK TRANSACTION FireTriggers;
                IF ERROR_NUMBER() NOT IN (2601, 2627) OR @Try > 1 OR @TranCount > 0
                    THROW;
                SET @Try = @Try + 1;
            END CATCH;
        END;

        SELECT r.Ordinal, r.Fired, r.ProcessID, r.Registered, r.Status
        FROM @Result AS r
        ORDER BY r.Ordinal;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
