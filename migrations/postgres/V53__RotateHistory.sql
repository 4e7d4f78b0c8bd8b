-- stage.RotateHistory: moves finished processes older than the retention, with all their
-- log rows, into the *_History tables, then old log rows whose process is gone. Works in
-- batches, oldest first (by EndTime then ProcessID, by LogTime then LogID: the order of
-- IX_FileControl_Finished and IX_ProcessLog_Time); a PostgreSQL function is one
-- transaction, so a caller wanting a commit per batch calls it with p_max_batches => 1.
-- V53: a process is deleted only when it is still finished and old (checked again on the
-- row as locked), and only the log rows of processes that moved follow it;
-- CommandStartedAt is carried.
CREATE OR REPLACE FUNCTION stage.RotateHistory(
    p_retention_months integer DEFAULT 6,
    p_batch_size       integer DEFAULT 1000,
    p_max_batches      integer DEFAULT NULL)
RETURNS TABLE (
    ProcessesMoved bigint,
    LogsMoved      bigint,
    Done           boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_cutoff     timestamptz;
    v_batches    integer := 0;
    v_processes  bigint := 0;
    v_logs       bigint := 0;
    v_moved      bigint;
    v_moved_logs bigint;
    v_processes_done boolean := false;
    v_done       boolean := false;
BEGIN
    IF p_retention_months IS NULL OR p_retention_months < 0 THEN
        RAISE EXCEPTION 'RetentionMonths must be 0 or more' USING ERRCODE = '22023';
    END IF;
    IF p_batch_size IS NULL OR p_batch_size < 1 OR p_batch_size > 4000 THEN
        RAISE EXCEPTION 'BatchSize must be between 1 and 4000' USING ERRCODE = '22023';
    END IF;
    IF p_max_batches < 1 THEN
        RAISE EXCEPTION 'MaxBatches must be NULL or at least 1' USING ERRCODE = '22023';
    END IF;
    -- A retention reaching back past the calendar would overflow: nothing is that old.
    v_cutoff := CASE WHEN p_retention_months <= 12 * 4000
                     THEN now() - make_interval(months => p_retention_months)
                     ELSE '-infinity' END;

    -- A batch that finds nothing to move does not count against p_max_batches, so a
    -- caller looping with p_max_batches => 1 always progresses to Done.
    WHILE p_max_batches IS NULL OR v_batches < p_max_batches LOOP
        WITH batch AS (
            SELECT f.ProcessID
            FROM stage.FileControl AS f
            WHERE f.Status IN ('Completed', 'Failed', 'Cancelled')
              AND f.EndTime < v_cutoff
            ORDER BY f.EndTime, f.ProcessID
            LIMIT p_batch_size
            FOR UPDATE OF f SKIP LOCKED
        ),
        moved AS (
            DELETE FROM stage.FileControl AS f
            USING batch AS b
            WHERE f.ProcessID = b.ProcessID
              AND f.Status IN ('Completed', 'Failed', 'Cancelled')
              AND f.EndTime < v_cutoff
            RETURNING f.ProcessID, f.ProcessName, f.Status, f.CreatedAt, f.WorkerAssigned,
                      f.StartTime, f.EndTime, f.Parameters, f.TaskID, f.ScheduledFor,
                      f.Attempt, f.MaxAttempts, f.RunAfter, f.LeaseExpiresAt, f.HeartbeatAt,
                      f.ExitCode, f.CancelRequested, f.OverlapPolicy, f.Executor,
                      f.CommandStartedAt
        ),
        kept AS (
            INSERT INTO stage.FileControl_History
                (ProcessID, ProcessName, Status, CreatedAt, WorkerAssigned,
                 StartTime, EndTime, Parameters, TaskID, ScheduledFor,
                 Attempt, MaxAttempts, RunAfter, LeaseExpiresAt, HeartbeatAt,
                 ExitCode, CancelRequested, OverlapPolicy, Executor, CommandStartedAt)
            SELECT * FROM moved
        ),
        moved_logs AS (
            DELETE FROM stage.ProcessLog AS l
            USING moved AS m
            WHERE l.ProcessID = m.ProcessID
            RETURNING l.LogID, l.ProcessID, l.Message, l.LogLevel, l.LogTime, l.Detail
        ),
        kept_logs AS (
            INSERT INTO stage.ProcessLog_History (LogID, ProcessID, Message, LogLevel, LogTime, Detail)
            SELECT * FROM moved_logs
        )
        SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM moved_logs)
        INTO v_moved, v_moved_logs;

        IF v_moved = 0 THEN
            v_processes_done := true;
            EXIT;
        END IF;
        v_batches := v_batches + 1;
        v_processes := v_processes + v_moved;
        v_logs := v_logs + v_moved_logs;
        IF v_moved < p_batch_size THEN
            v_processes_done := true;
            EXIT;
        END IF;
    END LOOP;

    -- Then log rows that outlived their process (or never had one).
    WHILE v_processes_done AND (p_max_batches IS NULL OR v_batches < p_max_batches) LOOP
        WITH batch AS (
            SELECT l.LogID
            FROM stage.ProcessLog AS l
            WHERE l.LogTime < v_cutoff
              -- also true for a NULL ProcessID; without an OR it stays an anti-join probe
              AND NOT EXISTS (SELECT 1 FROM stage.FileControl AS f WHERE f.ProcessID = l.ProcessID)
            ORDER BY l.LogTime, l.LogID
            LIMIT p_batch_size
            FOR UPDATE OF l SKIP LOCKED
        ),
        moved_logs AS (
            DELETE FROM stage.ProcessLog AS l
            USING batch AS b
            WHERE l.LogID = b.LogID
            RETURNING l.LogID, l.ProcessID, l.Message, l.LogLevel, l.LogTime, l.Detail
        ),
        kept_logs AS (
            INSERT INTO stage.ProcessLog_History (LogID, ProcessID, Message, LogLevel, LogTime, Detail)
            SELECT * FROM moved_logs
        )
        SELECT count(*) INTO v_moved_logs FROM moved_logs;

        IF v_moved_logs = 0 THEN
            v_done := true;
            EXIT;
        END IF;
        v_batches := v_batches + 1;
        v_logs := v_logs + v_moved_logs;
        IF v_moved_logs < p_batch_size THEN
            v_done := true;
            EXIT;
        END IF;
    END LOOP;

    RETURN QUERY SELECT v_processes, v_logs, v_done;
END;
$$;
