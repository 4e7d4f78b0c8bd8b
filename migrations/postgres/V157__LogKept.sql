-- stage.LogKept: one row when a log row of p_level about a run of task p_task_id (NULL: no
-- task) is to be written, none when it is below the minimum (the task's MinLogLevel, else
-- stage.LogPolicy's; a missing LogPolicy row counts as Info). Every routine that writes
-- stage.ProcessLog joins it, so the rule lives here only. A set-returning SQL function
-- without SET options, so the planner inlines it into the caller's INSERT ... SELECT (a
-- lateral join: a primary key probe of Task and of the one-row LogPolicy), the shape of
-- SQL Server's inline table-valued twin.
CREATE OR REPLACE FUNCTION stage.LogKept(
    p_level   varchar,
    p_task_id integer)
RETURNS TABLE (
    Kept integer)
LANGUAGE sql
STABLE
AS $$
    SELECT 1
    WHERE CASE p_level WHEN 'Info' THEN 1 WHEN 'Warning' THEN 2 ELSE 3 END
          >= COALESCE((SELECT CASE COALESCE(t.MinLogLevel, p.MinLogLevel)
                                   WHEN 'Info' THEN 1 WHEN 'Warning' THEN 2 ELSE 3 END
                       FROM stage.LogPolicy AS p
                       LEFT JOIN stage.Task AS t ON t.TaskID = p_task_id
                       WHERE p.PolicyID = 1), 1)
$$;
REVOKE ALL ON FUNCTION stage.LogKept(varchar, integer) FROM PUBLIC;
