-- stagehand: stage.DriverStatus, the drivers (stage.Driver) and whether each is alive: seen
-- within its lease, the time after which its running work would be reset. No live driver
-- means no driver work is claimed and no trigger fires (next-fire times go stale).
CREATE OR ALTER VIEW stage.DriverStatus
AS
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
       CAST(CASE WHEN DATEADD(SECOND, d.LeaseSeconds, d.LastSeenAt) > SYSUTCDATETIME() THEN 1 ELSE 0 END AS bit) AS Alive,
       CAST(DATEDIFF_BIG(MILLISECOND, d.LastSeenAt, SYSUTCDATETIME()) / 1000.0 AS float) AS SecondsSinceSeen
FROM stage.Driver AS d;
