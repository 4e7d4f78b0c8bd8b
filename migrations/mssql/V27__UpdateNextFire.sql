-- stagehand: stage.UpdateNextFire, the clock records the next occurrence of each trigger
-- after it (re)loaded the schedule, for DBAs to read. Only NextFireAt is written, so
-- stage.ScheduleVersion does not move; unknown trigger ids (deleted meanwhile) are ignored.
CREATE OR ALTER PROCEDURE stage.UpdateNextFire
    @Triggers nvarchar(max)  -- JSON array of {triggerId, nextFireAt: "2024-12-06T18:00:00Z" | null}
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- This procedure begins no transaction: it rolls one back only when its callee left one
    -- open and there was none before, never a caller's (that would raise error 266 there).
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- Separate IFs: OPENJSON raises its own error on invalid JSON, and T-SQL does not
        -- promise to stop at the first true OR term.
        IF @Triggers IS NULL
            THROW 50097, N'Triggers must be a JSON array of {triggerId, nextFireAt} objects', 1;
        -- ISJSON: an object or an array (a bare scalar is not valid JSON here, nor on PostgreSQL).
        IF ISJSON(@Triggers) = 0
            THROW 50097, N'Triggers is not valid JSON', 1;
        -- Wrapped in [...], the value's own JSON type shows (4 = array).
        IF (SELECT j.[type] FROM OPENJSON(N'[' + @Triggers + N']') AS j) <> 4
            THROW 50097, N'Triggers must be a JSON array of {triggerId, nextFireAt} objects', 1;

        DECLARE @Problem nvarchar(2048);
        DECLARE @Item TABLE
        (
            Ordinal      int           NOT NULL PRIMARY KEY,  -- 0-based position in the array
            JsonType     tinyint       NOT NULL,
            IdType       tinyint       NULL,  -- JSON type of each key (NULL: absent)
            NextFireType tinyint       NULL,
            TriggerID    int           NULL,
            NextFireText nvarchar(max) NULL,
            NextFireAt   datetime2(3)  NULL
        );
        -- What is written, keyed by TriggerID: the update then locks rows in TriggerID order
        -- (as the PostgreSQL twin does), so two drivers reloading at once cannot deadlock.
        DECLARE @Update TABLE (TriggerID int NOT NULL PRIMARY KEY, NextFireAt datetime2(3) NULL);

        INSERT @Item (Ordinal, JsonType, IdType, NextFireType, TriggerID, NextFireText, NextFireAt)
        SELECT CAST(e.[key] AS int), e.[type], ty.IdType, ty.NextFireType, TRY_CAST(c.TriggerID AS int),
               c.NextFireAt, n.NextFireAt
        FROM OPENJSON(@Triggers) AS e
        OUTER APPLY OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END)
            WITH (TriggerID  nvarchar(max) '$.triggerId',
                  NextFireAt nvarchar(max) '$.nextFireAt') AS c
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
                            END AS NextFireAt) AS n
        OUTER APPLY (SELECT MAX(CASE WHEN p.[key] = N'triggerId' THEN p.[type] END) AS IdType,
                            MAX(CASE WHEN p.[key] = N'nextFireAt' THEN p.[type] END) AS NextFireType
                     FROM OPENJSON(CASE WHEN e.[type] = 5 THEN e.[value] END) AS p
                     WHERE p.[key] COLLATE Latin1_General_BIN2 IN (N'triggerId', N'nextFireAt')) AS ty;

        -- nextFireAt must carry Z or an offset, as RFC 3339 wants (parsed above).
        SELECT TOP (1) @Problem = CONCAT(N'Triggers[', p.Ordinal, N']', p.Problem)
        FROM (SELECT i.Ordinal,
                     CASE WHEN i.JsonType <> 5
                              THEN N' must be a JSON object'
                          WHEN i.IdType IS NULL OR i.IdType <> 2 OR i.TriggerID IS NULL
                              THEN N'.triggerId is missing or not an integer'
                          WHEN i.NextFireType NOT IN (0, 1)
                            OR (i.NextFireType = 1 AND i.NextFireAt IS NULL)
                              THEN N'.nextFireAt must be null or an RFC 3339 instant such as 2024-12-06T18:00:00Z'
                          WHEN EXISTS (SELECT 1
                                       FROM @Item AS earlier
                                       WHERE earlier.TriggerID = i.TriggerID
                                         AND earlier.Ordinal   < i.Ordinal)
                              THEN CONCAT(N'.triggerId ', i.TriggerID, N' appears more than once')
                     END AS Problem
              FROM @Item AS i) AS p
        WHERE p.Problem IS NOT NULL
        ORDER BY p.Ordinal;
        IF @Problem IS NOT NULL
            THROW 50098, @Problem, 1;

        INSERT @Update (TriggerID, NextFireAt)
        SELECT i.TriggerID, i.NextFireAt
        FROM @Item AS i;

        -- One statement, so no explicit transaction. Rows already right are not rewritten
        -- (EXCEPT compares NULLs as equal).
        UPDATE g
        SET    NextFireAt = u.NextFireAt
        FROM @Update AS u
        INNER JOIN stage.TaskTrigger AS g WITH (FORCESEEK)  -- PK_TaskTrigger, in u's key order
                ON g.TriggerID = u.TriggerID
        WHERE EXISTS (SELECT g.NextFireAt EXCEPT SELECT u.NextFireAt);
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
