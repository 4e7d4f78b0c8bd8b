-- stagehand: stage.TaskOutputEncoding, the `outputEncoding` of a task's JSON
-- (Task.Definition), for the computed column Task.OutputEncoding (V63). NULL when the
-- text is not JSON, not an object, or has no such key: a Definition a DBA broke makes
-- the task invalid in the catalog (which says why); it must not make the UPDATE, or
-- every claim, fail here. SCHEMABINDING and deterministic built-ins only, so the
-- column can be PERSISTED. (A scalar function cannot hold TRY/CATCH or SET options.)
CREATE OR ALTER FUNCTION stage.TaskOutputEncoding
(
    @Definition nvarchar(max)
)
RETURNS varchar(20)
WITH SCHEMABINDING
AS
BEGIN
    RETURN CASE
               WHEN ISJSON(@Definition) = 1
                   THEN CAST(LEFT(JSON_VALUE(@Definition, N'$.outputEncoding'), 20) AS varchar(20))
           END;
END;
