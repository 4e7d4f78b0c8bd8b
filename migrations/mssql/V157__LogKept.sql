-- stagehand: stage.LogKept, one row when a log row of @LogLevel about a run of task
-- @TaskID (NULL: no task) is to be written, none when it is below the minimum (the task's
-- MinLogLevel, else stage.LogPolicy's; a missing LogPolicy row counts as Info). Every
-- procedure that writes stage.ProcessLog applies it (CROSS APPLY), so the rule lives here
-- only. Inline table-valued, so the optimizer expands it into the caller's INSERT ...
-- SELECT: a clustered seek of Task and of the one-row LogPolicy, no per-row function call.
CREATE OR ALTER FUNCTION stage.LogKept
(
    @LogLevel varchar(10),
    @TaskID   int
)
RETURNS TABLE
AS
RETURN
    SELECT 1 AS Kept
    WHERE CASE @LogLevel WHEN 'Info' THEN 1 WHEN 'Warning' THEN 2 ELSE 3 END
          >= COALESCE((SELECT CASE COALESCE(t.MinLogLevel, p.MinLogLevel)
                                   WHEN 'Info' THEN 1 WHEN 'Warning' THEN 2 ELSE 3 END
                       FROM stage.LogPolicy AS p
                       LEFT OUTER JOIN stage.Task AS t
                                    ON t.TaskID = @TaskID
                       WHERE p.PolicyID = 1), 1);
