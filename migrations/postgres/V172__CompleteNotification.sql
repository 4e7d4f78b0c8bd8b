-- V172: the minimum log level (V154..V158) applies to its 'given up' row through
-- stage.LogKept with the notification's TaskID (its run's task; it outlives the run). An
-- Error row, so every level keeps it; the rule is applied all the same, in one place.
-- Otherwise as V77.
-- stage.CompleteNotification: what a deliverer reports after an attempt. Accepted only from
-- the deliverer holding the claim (Status Sending, ClaimedBy, Attempt as claimed); otherwise
-- nothing changes (a lease that ran out and was claimed again belongs to the new claim).
-- Delivered: Status Delivered, DeliveredAt now. Not delivered: LastError (the first 4,000
-- characters of p_error), then, with Attempt < p_max_attempts, Pending again at
-- now + p_retry_delay_seconds * 2^(Attempt-1) (capped at a day); else Failed, given up,
-- with an Error log row (on the run, when there is one):
-- `Notification <id> (<event>, <channel>) given up after <n> attempts: <error>`.
-- Returns one row `NotificationID, Accepted, Status` (Status NULL when there is no such row).
CREATE OR REPLACE FUNCTION stage.CompleteNotification(
    p_notification_id     bigint,
    p_driver_name         text,
    p_attempt             integer,
    p_delivered           boolean,
    p_error               text    DEFAULT NULL,
    p_max_attempts        integer DEFAULT 5,
    p_retry_delay_seconds integer DEFAULT 30)
RETURNS TABLE (
    NotificationID bigint,
    Accepted       boolean,
    Status         varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_row   stage.Notification%ROWTYPE;
    v_error varchar(4000) := left(NULLIF(btrim(p_error, E' \t\r\n'), ''), 4000);
    v_delay double precision;
BEGIN
    IF p_notification_id IS NULL THEN
        RAISE EXCEPTION 'NotificationID must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_driver_name IS NULL OR btrim(p_driver_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'DriverName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF p_attempt IS NULL THEN
        RAISE EXCEPTION 'Attempt must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_delivered IS NULL THEN
        RAISE EXCEPTION 'Delivered must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_max_attempts IS NULL OR p_max_attempts < 1 OR p_max_attempts > 100 THEN
        RAISE EXCEPTION 'MaxAttempts must be between 1 and 100' USING ERRCODE = '22023';
    END IF;
    IF p_retry_delay_seconds IS NULL OR p_retry_delay_seconds < 0 OR p_retry_delay_seconds > 86400 THEN
        RAISE EXCEPTION 'RetryDelaySeconds must be between 0 and 86400' USING ERRCODE = '22023';
    END IF;

    SELECT * INTO v_row
    FROM stage.Notification AS n
    WHERE n.NotificationID = p_notification_id
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT p_notification_id, false, NULL::varchar;
        RETURN;
    END IF;
    IF v_row.Status <> 'Sending' OR v_row.ClaimedBy IS DISTINCT FROM p_driver_name
       OR v_row.Attempt <> p_attempt THEN
        RETURN QUERY SELECT p_notification_id, false, v_row.Status;
        RETURN;
    END IF;

    IF p_delivered THEN
        UPDATE stage.Notification AS n
        SET Status = 'Delivered', DeliveredAt = now(), LastError = NULL
        WHERE n.NotificationID = p_notification_id;
        RETURN QUERY SELECT p_notification_id, true, 'Delivered'::varchar;
        RETURN;
    END IF;

    IF v_row.Attempt < p_max_attempts THEN
        v_delay := least(p_retry_delay_seconds * power(2::double precision, greatest(v_row.Attempt - 1, 0)), 86400);
        UPDATE stage.Notification AS n
        SET Status = 'Pending', LastError = v_error,
            NextAttemptAt = now() + v_delay * interval '1 second'
        WHERE n.NotificationID = p_notification_id;
        RETURN QUERY SELECT p_notification_id, true, 'Pending'::varchar;
        RETURN;
    END IF;

    UPDATE stage.Notification AS n
    SET Status = 'Failed', LastError = v_error
    WHERE n.NotificationID = p_notification_id;
    INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel, Detail)
    SELECT v_row.ProcessID, left(m.text, 500), 'Error', CASE WHEN char_length(m.text) > 500 THEN m.text END
    FROM (SELECT format('Notification %s (%s, %s) given up after %s attempts: %s',
                        p_notification_id, v_row.Event, v_row.Channel, v_row.Attempt,
                        COALESCE(v_error, 'no error given')) AS text) AS m
    CROSS JOIN LATERAL stage.LogKept('Error', v_row.TaskID) AS k;
    RETURN QUERY SELECT p_notification_id, true, 'Failed'::varchar;
END;
$$;

REVOKE ALL ON FUNCTION stage.CompleteNotification(bigint, text, integer, boolean, text, integer, integer) FROM PUBLIC;
