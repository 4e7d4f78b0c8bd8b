-- stagehand: stage.RecountCounters, the counters (V130) computed again from
-- stage.FileControl itself: the totals become the rows' counts and every pending delta is
-- dropped, in one transaction that holds a shared table lock on stage.FileControl (writers
-- wait; its readers do not, except locking readers of what a writer holds), so no change
-- can be counted twice or missed whatever the trigger wrote before. V134 runs it to count
-- the rows a live database already holds; a DBA runs it after a TRUNCATE TABLE of
-- stage.FileControl (which fires no trigger), or at any time. Cost: one scan of
-- stage.FileControl, during which claims and completions wait. Lock order as
-- RollUpCounters (V135): the totals, then the deltas.
CREATE OR ALTER PROCEDURE stage.RecountCounters
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    -- A reader whose plan reads the deltas before the totals can deadlock with it: the
    -- reader wins, the recount is rolled back and made again.
    SET DEADLOCK_PRIORITY LOW;
    DECLARE @TranCount int = @@TRANCOUNT;
    DECLARE @Held int;

    BEGIN TRY
        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION RecountCounters;

        -- Taken before anything is counted: a writer still running finishes (its deltas
        -- committed) before the lock is granted, and none starts until this commits.
        -- (TOP (1): the table lock is taken when the scan opens; no need to read on.)
        SELECT TOP (1) @Held = 1 FROM stage.ProcessCounterTotal WITH (TABLOCKX, HOLDLOCK);
        SELECT TOP (1) @Held = 1 FROM stage.FileControl WITH (TABLOCK, HOLDLOCK);
        DELETE FROM stage.ProcessCounter WITH (TABLOCKX);
        DELETE FROM stage.ProcessCounterTotal;
        INSERT INTO stage.ProcessCounterTotal (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros)
        SELECT f.Status, k.PerWorker, k.WorkerAssigned, COUNT_BIG(*), SUM(k.Timed), SUM(k.DurationMicros)
        FROM stage.FileControl AS f WITH (TABLOCK, HOLDLOCK)
        CROSS APPLY stage.ProcessCounterKey(f.Status, f.WorkerAssigned, f.DurationMicros) AS k
        GROUP BY f.Status, k.PerWorker, k.WorkerAssigned;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT ISNULL(SUM(t.Processes), 0) AS Processes
        FROM stage.ProcessCounterTotal AS t;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION RecountCounters;
        THROW;
    END CATCH;
END;
