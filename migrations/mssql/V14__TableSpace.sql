-- stagehand: stage.TableSpace, rows and reserved bytes of every table in schema stage, by
-- name, computed as sp_spaceused does (sys.dm_db_partition_stats, all indexes, LOB and
-- overflow pages).
-- EXECUTE AS OWNER: the DMV needs VIEW DATABASE STATE, which stage_admin is not given.
CREATE OR ALTER PROCEDURE stage.TableSpace
WITH EXECUTE AS OWNER
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- This procedure begins no transaction: it rolls one back only when its callee left one
    -- open and there was none before, never a caller's (that would raise error 266 there).
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        SELECT t.name AS TableName,
               -- rows live in the heap (index_id 0) or the clustered index (1), not in every index
               SUM(CASE WHEN ps.index_id IN (0, 1) THEN ps.row_count ELSE 0 END) AS [RowCount],
               SUM(ps.reserved_page_count) * 8192 AS TotalBytes
        FROM sys.tables AS t
        INNER JOIN sys.dm_db_partition_stats AS ps
                ON ps.object_id = t.object_id
        WHERE t.schema_id = SCHEMA_ID(N'stage')
        GROUP BY t.name
        ORDER BY t.name;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
