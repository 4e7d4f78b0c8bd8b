-- stagehand: stage.RollUpCounters folds up to @BatchSize deltas of stage.ProcessCounter
-- into stage.ProcessCounterTotal (one batch per call; the caller calls again until Done).
-- The driver's housekeeping calls it with each reset sweep, so readers sum a few rows.
--
-- Readers and the rollup (locking READ COMMITTED would let a reader see the rollup's
-- DELETE of deltas but not its update of the totals, or the reverse, and count them
-- twice or not at all): the views read both tables WITH (REPEATABLEREAD), holding a shared
-- lock on every row they summed until their statement ends, and this procedure
--   1. locks the totals exclusively (TABLOCKX) before anything else: it waits for readers
--      that summed them, and readers that come later wait for its commit;
--   2. deletes deltas WITH (READPAST): a delta a reader has summed (row lock held) or a
--      writer has not committed is skipped and left for the next call, never waited for;
--   3. adds what it deleted to the totals, and commits.
-- A reader thus sees each delta either as a delta or inside the totals, never both and
-- never neither; the rollup never waits for a lock a reader could wait on in turn (it
-- holds only the totals while it waits), and runs at DEADLOCK_PRIORITY LOW. Under
-- READ_COMMITTED_SNAPSHOT the hints make those reads locking reads too. Writers (the
-- trigger) only insert deltas and never touch the totals, so neither waits for the other.
-- At most 4,000 deltas per call: row locks, below lock escalation (off anyway, V130).
CREATE OR ALTER PROCEDURE stage.RollUpCounters
    @BatchSize int = 4000
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    SET DEADLOCK_PRIORITY LOW;
    DECLARE @TranCount int = @@TRANCOUNT;
    DECLARE @Held bigint;
    DECLARE @RolledUp bigint;
    DECLARE @Taken TABLE (
        Status         varchar(20)   COLLATE DATABASE_DEFAULT NOT NULL,
        PerWorker      bit           NOT NULL,
        WorkerAssigned nvarchar(255) COLLATE DATABASE_DEFAULT NOT NULL,
        Processes      bigint        NOT NULL,
        Timed          bigint        NOT NULL,
        DurationMicros bigint        NOT NULL);

    BEGIN TRY
        IF @BatchSize IS NULL OR @BatchSize < 1 OR @BatchSize > 4000
            THROW 51500, N'BatchSize must be between 1 and 4000', 1;

        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION RollUpCounters;

        SELECT @Held = COUNT_BIG(*) FROM stage.ProcessCounterTotal WITH (TABLOCKX, HOLDLOCK);

        DELETE TOP (@BatchSize)
        FROM stage.ProcessCounter WITH (ROWLOCK, READPAST, READCOMMITTEDLOCK)
        OUTPUT deleted.Status, deleted.PerWorker, deleted.WorkerAssigned, deleted.Processes,
               deleted.Timed, deleted.DurationMicros
        INTO @Taken (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros);
        SET @RolledUp = @@ROWCOUNT;

        -- The totals are held exclusively: update the keys there, insert the others.
        UPDATE t
        SET Processes      = t.Processes + s.Processes,
            Timed          = t.Timed + s.Timed,
            DurationMicros = t.DurationMicros + s.DurationMicros
        FROM stage.ProcessCounterTotal AS t
        INNER JOIN (SELECT x.Status, x.PerWorker, x.WorkerAssigned, SUM(x.Processes) AS Processes,
                           SUM(x.Timed) AS Timed, SUM(x.DurationMicros) AS DurationMicros
                    FROM @Taken AS x
                    GROUP BY x.Status, x.PerWorker, x.WorkerAssigned) AS s
                ON s.Status = t.Status AND s.PerWorker = t.PerWorker AND s.WorkerAssigned = t.WorkerAssigned;

        INSERT INTO stage.ProcessCounterTotal (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros)
        SELECT x.Status, x.PerWorker, x.WorkerAssigned, SUM(x.Processes), SUM(x.Timed), SUM(x.DurationMicros)
        FROM @Taken AS x
        WHERE NOT EXISTS (SELECT 1
                          FROM stage.ProcessCounterTotal AS t
                          WHERE t.Status = x.Status AND t.PerWorker = x.PerWorker
                            AND t.WorkerAssigned = x.WorkerAssigned)
        GROUP BY x.Status, x.PerWorker, x.WorkerAssigned;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT @RolledUp AS RolledUp,
               CAST(CASE WHEN @RolledUp < @BatchSize THEN 1 ELSE 0 END AS bit) AS Done;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION RollUpCounters;
        THROW;
    END CATCH;
END;
