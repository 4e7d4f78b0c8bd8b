-- stagehand: stage.TR_FileControl_Count keeps stage.ProcessCounter (V130) exact whoever
-- changes stage.FileControl (every procedure, RotateHistory's DELETE, a DBA's UPDATE): one
-- set-based INSERT per statement over inserted/deleted, in the statement's transaction.
-- Rows leaving a key count -1, rows entering it +1 (stage.ProcessCounterKey); keys whose
-- net change is zero write nothing. An UPDATE that sets none of the counted columns
-- (Heartbeat, a cancel request) returns at the UPDATE() test. TRUNCATE TABLE fires no
-- trigger on SQL Server: run stage.RecountCounters (V133) after one. The fill of the rows
-- that exist already is stage.RecountCounters, run by V134.
CREATE OR ALTER TRIGGER stage.TR_FileControl_Count
ON stage.FileControl
AFTER INSERT, UPDATE, DELETE
AS
BEGIN
    -- First: every other statement resets @@ROWCOUNT.
    IF @@ROWCOUNT = 0
        RETURN;
    SET NOCOUNT ON;
    -- UPDATE() is true for every column in an INSERT; a DELETE has no inserted rows.
    IF EXISTS (SELECT 1 FROM inserted)
       AND NOT (UPDATE(Status) OR UPDATE(WorkerAssigned) OR UPDATE(StartTime) OR UPDATE(EndTime)
                OR UPDATE(CommandStartedAt))
        RETURN;

    INSERT INTO stage.ProcessCounter (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros)
    SELECT r.Status, k.PerWorker, k.WorkerAssigned,
           SUM(r.Sign), SUM(r.Sign * k.Timed), SUM(r.Sign * k.DurationMicros)
    FROM (SELECT i.Status, i.WorkerAssigned, i.DurationMicros, CAST(1 AS bigint) AS Sign
          FROM inserted AS i
          UNION ALL
          SELECT d.Status, d.WorkerAssigned, d.DurationMicros, CAST(-1 AS bigint)
          FROM deleted AS d) AS r
    CROSS APPLY stage.ProcessCounterKey(r.Status, r.WorkerAssigned, r.DurationMicros) AS k
    GROUP BY r.Status, k.PerWorker, k.WorkerAssigned
    HAVING SUM(r.Sign) <> 0 OR SUM(r.Sign * k.Timed) <> 0 OR SUM(r.Sign * k.DurationMicros) <> 0;
END;
