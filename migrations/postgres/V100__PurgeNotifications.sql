-- stage.PurgeNotifications: deletes up to p_batch_size delivered or given-up notifications
-- created more than p_retention_months ago, oldest first (one batch per call; the caller
-- calls again until Done). Outstanding ones (Pending, Sending) are never touched. The
-- driver's housekeeping and `stagehand rotate` call it after RotateHistory, with the same
-- retention. Rows another session holds are skipped, not waited for.
CREATE OR REPLACE FUNCTION stage.PurgeNotifications(
    p_retention_months integer DEFAULT 6,
    p_batch_size       integer DEFAULT 1000)
RETURNS TABLE (
    Deleted bigint,
    Done    boolean)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_deleted bigint;
BEGIN
    IF p_retention_months IS NULL OR p_retention_months < 0 THEN
        RAISE EXCEPTION 'RetentionMonths must be 0 or more' USING ERRCODE = '22023';
    END IF;
    IF p_batch_size IS NULL OR p_batch_size < 1 OR p_batch_size > 4000 THEN
        RAISE EXCEPTION 'BatchSize must be between 1 and 4000' USING ERRCODE = '22023';
    END IF;

    -- Seek on IX_Notification_Finished.
    WITH victims AS (
        SELECT n.NotificationID
        FROM stage.Notification AS n
        WHERE n.Status IN ('Delivered', 'Failed')
          AND n.CreatedAt < now() - make_interval(months => p_retention_months)
        ORDER BY n.CreatedAt, n.NotificationID
        LIMIT p_batch_size
        FOR UPDATE SKIP LOCKED
    ),
    removed AS (
        DELETE FROM stage.Notification AS n
        USING victims AS v
        WHERE n.NotificationID = v.NotificationID
          AND n.Status IN ('Delivered', 'Failed')  -- checked again on the row as locked
        RETURNING 1
    )
    SELECT count(*) INTO v_deleted FROM removed;

    RETURN QUERY SELECT v_deleted, v_deleted < p_batch_size;
END;
$$;
-- Created after V20's REVOKE ... ON ALL FUNCTIONS: PUBLIC's default EXECUTE is taken here.
REVOKE ALL ON FUNCTION stage.PurgeNotifications(integer, integer) FROM PUBLIC;
