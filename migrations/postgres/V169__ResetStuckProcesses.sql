-- V169: the minimum log level (V154..V158) applies to its log rows (Reset to Pending, a
-- Warning; Failed, an Error): each is written only when stage.LogKept keeps it for the
-- run's task (the UPDATE also returns TaskID for that). Otherwise as V52.
-- stage.ResetStuckProcesses: recovers runs whose worker vanished. An expired lease (or,
-- for executors that never heartbeat, a StartTime older than the timeout) sends the run
-- back to Pending while attempts remain, else fails it; each change is logged.
-- V52: the UPDATE checks the conditions again on the row as locked. (PostgreSQL does not
-- escalate row locks, so one statement serves; SQL Server works in chunks of 1,000.)
CREATE OR REPLACE FUNCTION stage.ResetStuckProcesses(
    p_timeout_minutes integer DEFAULT 60)
RETURNS TABLE (
    ProcessID      bigint,
    ProcessName    varchar,
    PreviousWorker varchar,
    Attempt        integer,
    Status         varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_timeout_minutes IS NULL OR p_timeout_minutes < 1 THEN
        RAISE EXCEPTION 'TimeoutMinutes must be at least 1' USING ERRCODE = '22023';
    END IF;

    RETURN QUERY
    WITH stuck AS (
        SELECT f.ProcessID, f.WorkerAssigned AS PreviousWorker,
               f.Attempt < f.MaxAttempts AS Retry
        FROM stage.FileControl AS f
        WHERE f.Status = 'InProgress'
          AND (f.LeaseExpiresAt < now()
               OR (f.LeaseExpiresAt IS NULL
                   AND f.StartTime < now() - make_interval(mins => p_timeout_minutes)))
        ORDER BY f.ProcessID
        -- a row someone is completing or heartbeating right now is not stuck
        FOR UPDATE OF f SKIP LOCKED
    ),
    recovered AS (
        UPDATE stage.FileControl AS f
        SET Status         = CASE WHEN s.Retry THEN 'Pending' ELSE 'Failed' END,
            WorkerAssigned = CASE WHEN s.Retry THEN NULL ELSE f.WorkerAssigned END,
            StartTime      = CASE WHEN s.Retry THEN NULL ELSE f.StartTime END,
            HeartbeatAt    = CASE WHEN s.Retry THEN NULL ELSE f.HeartbeatAt END,
            EndTime        = CASE WHEN s.Retry THEN NULL ELSE now() END,
            LeaseExpiresAt = NULL
        FROM stuck AS s
        WHERE f.ProcessID = s.ProcessID
          AND f.Status = 'InProgress'
          AND (f.LeaseExpiresAt < now()
               OR (f.LeaseExpiresAt IS NULL
                   AND f.StartTime < now() - make_interval(mins => p_timeout_minutes)))
        RETURNING f.ProcessID, f.ProcessName, s.PreviousWorker, f.Attempt, f.MaxAttempts, f.Status, s.Retry, f.TaskID
    ),
    logged AS (
        INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel)
        SELECT r.ProcessID,
               CASE WHEN r.Retry
                    THEN format('Reset to Pending: worker %s stopped responding on attempt %s of %s',
                                COALESCE(r.PreviousWorker, '(none)'), r.Attempt, r.MaxAttempts)
                    ELSE format('Failed: worker %s stopped responding on attempt %s of %s, no attempts left',
                                COALESCE(r.PreviousWorker, '(none)'), r.Attempt, r.MaxAttempts)
               END,
               CASE WHEN r.Retry THEN 'Warning' ELSE 'Error' END
        FROM recovered AS r
        CROSS JOIN LATERAL stage.LogKept(CASE WHEN r.Retry THEN 'Warning' ELSE 'Error' END, r.TaskID) AS k
        ORDER BY r.ProcessID
    )
    SELECT r.ProcessID, r.ProcessName, r.PreviousWorker, r.Attempt, r.Status
    FROM recovered AS r
    ORDER BY r.ProcessID;
END;
$$;
