-- stage.TR_FileControl_Count_*: keep stage.ProcessCounter (V130) exact whoever changes
-- stage.FileControl (every procedure, RotateHistory's DELETE, a DBA's UPDATE): statement
-- triggers over the transition tables, one set-based INSERT per statement, in its
-- transaction. Rows leaving a key count -1, rows entering it +1 (stage.ProcessCounterKey);
-- an UPDATE writes only the keys whose net change is not zero, so a Heartbeat writes
-- nothing. (PostgreSQL allows transition tables on single-event triggers only: three
-- triggers, one function.) SECURITY DEFINER: the seed's UPDATE runs as stage_worker, which
-- has no right on the counters. TRUNCATE empties the counters. The fill of the rows that
-- exist already is stage.RecountCounters (V133), run by V134.
CREATE OR REPLACE FUNCTION stage.FileControlCount()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stage.ProcessCounter (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros)
        SELECT n.Status, k.PerWorker, k.WorkerAssigned, count(*), sum(k.Timed), sum(k.DurationMicros)
        FROM new_rows AS n
        CROSS JOIN LATERAL stage.ProcessCounterKey(n.Status, n.WorkerAssigned, n.StartTime, n.EndTime,
                                                   n.CommandStartedAt) AS k
        GROUP BY n.Status, k.PerWorker, k.WorkerAssigned;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO stage.ProcessCounter (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros)
        SELECT o.Status, k.PerWorker, k.WorkerAssigned, -count(*), -sum(k.Timed), -sum(k.DurationMicros)
        FROM old_rows AS o
        CROSS JOIN LATERAL stage.ProcessCounterKey(o.Status, o.WorkerAssigned, o.StartTime, o.EndTime,
                                                   o.CommandStartedAt) AS k
        GROUP BY o.Status, k.PerWorker, k.WorkerAssigned;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO stage.ProcessCounter (Status, PerWorker, WorkerAssigned, Processes, Timed, DurationMicros)
        SELECT r.Status, k.PerWorker, k.WorkerAssigned, sum(r.Sign), sum(r.Sign * k.Timed),
               sum(r.Sign * k.DurationMicros)
        FROM (SELECT n.Status, n.WorkerAssigned, n.StartTime, n.EndTime, n.CommandStartedAt, 1 AS Sign
              FROM new_rows AS n
              UNION ALL
              SELECT o.Status, o.WorkerAssigned, o.StartTime, o.EndTime, o.CommandStartedAt, -1
              FROM old_rows AS o) AS r
        CROSS JOIN LATERAL stage.ProcessCounterKey(r.Status, r.WorkerAssigned, r.StartTime, r.EndTime,
                                                   r.CommandStartedAt) AS k
        GROUP BY r.Status, k.PerWorker, k.WorkerAssigned
        HAVING sum(r.Sign) <> 0 OR sum(r.Sign * k.Timed) <> 0 OR sum(r.Sign * k.DurationMicros) <> 0;
    ELSE
        -- TRUNCATE: nothing is left to count.
        DELETE FROM stage.ProcessCounter;
        DELETE FROM stage.ProcessCounterTotal;
    END IF;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION stage.FileControlCount() FROM PUBLIC;

CREATE TRIGGER TR_FileControl_Count_Insert
    AFTER INSERT ON stage.FileControl
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage.FileControlCount();
CREATE TRIGGER TR_FileControl_Count_Update
    AFTER UPDATE ON stage.FileControl
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage.FileControlCount();
CREATE TRIGGER TR_FileControl_Count_Delete
    AFTER DELETE ON stage.FileControl
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stage.FileControlCount();
CREATE TRIGGER TR_FileControl_Count_Truncate
    AFTER TRUNCATE ON stage.FileControl
    FOR EACH STATEMENT EXECUTE FUNCTION stage.FileControlCount();
