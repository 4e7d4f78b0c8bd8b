-- stage.ClaimNotifications: a deliverer (a driver, or a Database Mail job on SQL Server)
-- takes up to p_max_count due notifications of the channels it delivers: Pending ones whose
-- NextAttemptAt has come, and Sending ones whose lease ran out (their deliverer died; the
-- attempt it made counts). Each becomes Sending, ClaimedBy the caller, Attempt + 1,
-- NextAttemptAt now + lease. FOR UPDATE SKIP LOCKED: concurrent deliverers never take one
-- row twice, and the UPDATE checks the row again as locked. Returns the claimed rows of
-- stage.PendingNotifications, by NotificationID.
CREATE OR REPLACE FUNCTION stage.ClaimNotifications(
    p_driver_name   text,
    p_max_count     integer DEFAULT 10,
    p_lease_seconds integer DEFAULT 60,
    p_webhooks      boolean DEFAULT true,
    p_emails        boolean DEFAULT true)
RETURNS SETOF stage.PendingNotifications
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_now timestamptz := now();
    v_ids bigint[];
BEGIN
    IF p_driver_name IS NULL OR btrim(p_driver_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'DriverName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF char_length(p_driver_name) > 255 THEN
        RAISE EXCEPTION 'DriverName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF p_max_count IS NULL OR p_max_count < 1 OR p_max_count > 1000 THEN
        RAISE EXCEPTION 'MaxCount must be between 1 and 1000' USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds < 1 THEN
        RAISE EXCEPTION 'LeaseSeconds must be at least 1' USING ERRCODE = '22023';
    END IF;
    IF p_webhooks IS NULL THEN
        RAISE EXCEPTION 'Webhooks must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_emails IS NULL THEN
        RAISE EXCEPTION 'Emails must not be NULL' USING ERRCODE = '22023';
    END IF;

    WITH candidate AS (
        SELECT n.NotificationID
        FROM stage.Notification AS n
        WHERE n.Status IN ('Pending', 'Sending')
          AND n.NextAttemptAt <= v_now
          AND ((p_webhooks AND n.Channel = 'webhook') OR (p_emails AND n.Channel = 'email'))
        ORDER BY n.NextAttemptAt, n.NotificationID
        LIMIT p_max_count
        FOR UPDATE SKIP LOCKED),
    claimed AS (
        UPDATE stage.Notification AS n
        SET Status        = 'Sending',
            ClaimedBy     = p_driver_name,
            Attempt       = n.Attempt + 1,
            NextAttemptAt = v_now + p_lease_seconds * interval '1 second'
        FROM candidate AS c
        WHERE n.NotificationID = c.NotificationID
          AND n.Status IN ('Pending', 'Sending')
          AND n.NextAttemptAt <= v_now
        RETURNING n.NotificationID)
    SELECT array_agg(claimed.NotificationID) INTO v_ids FROM claimed;

    RETURN QUERY
    SELECT v.*
    FROM stage.PendingNotifications AS v
    WHERE v.NotificationID = ANY (v_ids)
    ORDER BY v.NotificationID;
END;
$$;

REVOKE ALL ON FUNCTION stage.ClaimNotifications(text, integer, integer, boolean, boolean) FROM PUBLIC;
