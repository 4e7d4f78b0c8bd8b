-- stagehand: stage.TaskMinLogLevel, the `minLogLevel` of a task's JSON (Task.Definition),
-- for the computed column Task.MinLogLevel (V156), as stage.TaskOutputEncoding (V62) does
-- for outputEncoding. NULL (the database's level applies) when the text is not JSON or
-- holds no known level (compared exactly, as on PostgreSQL): the catalog names a bad value;
-- it must not make an UPDATE, or a log row, fail here. SCHEMABINDING and deterministic
-- built-ins only, so the column can be PERSISTED. (A scalar function cannot hold TRY/CATCH
-- or SET options.)
CREATE OR ALTER FUNCTION stage.TaskMinLogLevel
(
    @Definition nvarchar(max)
)
RETURNS varchar(10)
WITH SCHEMABINDING
AS
BEGIN
    RETURN CASE
               WHEN ISJSON(@Definition) = 1
                    AND JSON_VALUE(@Definition, N'$.minLogLevel') COLLATE Latin1_General_BIN2
                        IN (N'Info', N'Warning', N'Error')
                   THEN CAST(JSON_VALUE(@Definition, N'$.minLogLevel') AS varchar(10))
           END;
END;
