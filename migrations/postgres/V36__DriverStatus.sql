-- stage.DriverStatus: the drivers (stage.Driver) and whether each is alive: seen within its
-- lease, the time after which its running work would be reset. No live driver means no
-- driver work is claimed and no trigger fires (next-fire times go stale).
CREATE OR REPLACE VIEW stage.DriverStatus AS
SELECT d.DriverName,
       d.HostName,
       d.ProcessId,
       d.Version,
       d.StartedAt,
       d.LastSeenAt,
       d.Workers,
       d.ClockEnabled,
       d.Stopping,
       d.LeaseSeconds,
       d.LastSeenAt > now() - make_interval(secs => d.LeaseSeconds) AS Alive,
       EXTRACT(EPOCH FROM now() - d.LastSeenAt)::float8 AS SecondsSinceSeen
FROM stage.Driver AS d;
