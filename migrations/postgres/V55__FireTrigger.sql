-- stagehand: V55 documents why FireTrigger's log rows are in time order on PostgreSQL
-- (SQL Server's FireTrigger changed in V55: its 'Late run' row was stamped before the
-- 'Registered' row written after it).
COMMENT ON FUNCTION stage.FireTrigger(integer, timestamptz, timestamptz, varchar, integer) IS
    'Fires one occurrence of a trigger, exactly once. Every log row it writes (Registered, Late run) '
    'is stamped with now(), the transaction''s start, so a process''s rows in LogID order have '
    'non-decreasing LogTime.';
