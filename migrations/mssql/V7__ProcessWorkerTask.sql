-- stagehand: stage.ProcessWorkerTask, what the seed's SSIS package asks for a worker:
-- the (oldest) InProgress process assigned to it. Always exactly one row, all NULL when
-- the worker has nothing, so an SSIS "single row" result set never fails.
CREATE OR ALTER PROCEDURE stage.ProcessWorkerTask
    @WorkerName nvarchar(4000)  -- wider than the column, so a long name is never cut into a shorter one
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- This procedure begins no transaction: it rolls one back only when its callee left one
    -- open and there was none before, never a caller's (that would raise error 266 there).
    DECLARE @TranCount int = @@TRANCOUNT;

    BEGIN TRY
        -- NULL, empty or only blanks (space, tab, LF, CR)
        IF @WorkerName IS NULL OR PATINDEX(N'%[^ ' + NCHAR(9) + NCHAR(10) + NCHAR(13) + N']%', @WorkerName) = 0
            THROW 50035, N'WorkerName must not be NULL or empty', 1;

        -- The one-row constant makes the row exist when the worker has no process.
        SELECT p.ProcessID,
               p.ProcessName,
               p.Parameters,
               p.Attempt
        FROM (VALUES (1)) AS one (n)
        OUTER APPLY (SELECT TOP (1) fc.ProcessID, fc.ProcessName, fc.Parameters, fc.Attempt
                     FROM stage.FileControl AS fc
                     WHERE fc.Status         = 'InProgress'
                       AND fc.WorkerAssigned = @WorkerName
                     ORDER BY fc.ProcessID) AS p;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
