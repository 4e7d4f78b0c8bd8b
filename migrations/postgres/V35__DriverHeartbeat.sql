-- stage.DriverHeartbeat: a driver announces itself and stays fresh. p_state: 'starting'
-- (a new StartedAt; rows of drivers not seen for 7 days are purged, so drivers killed
-- outright do not pile up), 'running', 'stopping' (graceful shutdown: Stopping set),
-- 'stopped' (a clean exit: the row is deleted). 'running' and 'stopping' insert the row
-- when it is missing.
CREATE OR REPLACE FUNCTION stage.DriverHeartbeat(
    p_driver_name   text,
    p_host_name     text    DEFAULT NULL,
    p_process_id    integer DEFAULT NULL,
    p_version       text    DEFAULT NULL,
    p_workers       integer DEFAULT 0,
    p_clock_enabled boolean DEFAULT false,
    p_lease_seconds integer DEFAULT 60,
    p_state         text    DEFAULT 'running')
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_driver_name IS NULL OR btrim(p_driver_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'DriverName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;
    IF length(p_driver_name) > 255 THEN
        RAISE EXCEPTION 'DriverName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF length(p_host_name) > 255 THEN
        RAISE EXCEPTION 'HostName is longer than 255 characters' USING ERRCODE = '22023';
    END IF;
    IF length(p_version) > 50 THEN
        RAISE EXCEPTION 'Version is longer than 50 characters' USING ERRCODE = '22023';
    END IF;
    IF p_workers IS NULL OR p_workers < 0 THEN
        RAISE EXCEPTION 'Workers must be 0 or more' USING ERRCODE = '22023';
    END IF;
    IF p_clock_enabled IS NULL THEN
        RAISE EXCEPTION 'ClockEnabled must not be NULL' USING ERRCODE = '22023';
    END IF;
    IF p_lease_seconds IS NULL OR p_lease_seconds < 1 THEN
        RAISE EXCEPTION 'LeaseSeconds must be at least 1' USING ERRCODE = '22023';
    END IF;
    IF p_state IS NULL OR p_state NOT IN ('starting', 'running', 'stopping', 'stopped') THEN
        RAISE EXCEPTION 'State must be one of starting, running, stopping, stopped' USING ERRCODE = '22023';
    END IF;

    IF p_state = 'stopped' THEN
        DELETE FROM stage.Driver AS d WHERE d.DriverName = p_driver_name;
        RETURN;
    END IF;
    IF p_state = 'starting' THEN
        DELETE FROM stage.Driver AS d
        WHERE d.LastSeenAt < now() - interval '7 days' AND d.DriverName <> p_driver_name;
    END IF;
    INSERT INTO stage.Driver AS d (DriverName, HostName, ProcessId, Version, StartedAt, LastSeenAt,
                                   Workers, ClockEnabled, Stopping, LeaseSeconds)
    VALUES (p_driver_name, p_host_name, p_process_id, p_version, now(), now(),
            p_workers, p_clock_enabled, p_state = 'stopping', p_lease_seconds)
    ON CONFLICT (DriverName) DO UPDATE
    SET HostName     = EXCLUDED.HostName,
        ProcessId    = EXCLUDED.ProcessId,
        Version      = EXCLUDED.Version,
        StartedAt    = CASE WHEN p_state = 'starting' THEN EXCLUDED.StartedAt ELSE d.StartedAt END,
        LastSeenAt   = EXCLUDED.LastSeenAt,
        Workers      = EXCLUDED.Workers,
        ClockEnabled = EXCLUDED.ClockEnabled,
        Stopping     = EXCLUDED.Stopping,
        LeaseSeconds = EXCLUDED.LeaseSeconds;
END;
$$;
-- Created after V20's REVOKE ... ON ALL FUNCTIONS: PUBLIC's default EXECUTE is taken here.
REVOKE ALL ON FUNCTION stage.DriverHeartbeat(text, text, integer, text, integer, boolean, integer, text)
    FROM PUBLIC;
