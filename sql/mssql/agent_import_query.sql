-- stagehand: the SQL Server Agent jobs as `stagehand task import --from agent` reads them
-- (it runs this very text), and what `--from agent-file FILE` reads: run it in SSMS or
--   sqlcmd -S SERVER -E -y 0 -h -1 -i agent_import_query.sql -o jobs.json
-- and save the one value it returns (a JSON array, one object per job, its steps and
-- schedules nested). Reads msdb only (SQLAgentReaderRole, or sysadmin); changes nothing.
SELECT (
    SELECT j.name          AS job_name,
           j.enabled       AS enabled,
           j.description   AS description,
           c.name          AS category_name,
           @@SERVERNAME    AS server_name,
           (SELECT s.step_id            AS step_id,
                   s.step_name          AS step_name,
                   s.subsystem          AS subsystem,
                   s.command            AS command,
                   s.database_name      AS database_name,
                   s.retry_attempts     AS retry_attempts,
                   s.retry_interval     AS retry_interval,
                   s.on_success_action  AS on_success_action,
                   s.on_success_step_id AS on_success_step_id,
                   s.on_fail_action     AS on_fail_action,
                   s.on_fail_step_id    AS on_fail_step_id
            FROM msdb.dbo.sysjobsteps AS s
            WHERE s.job_id = j.job_id
            ORDER BY s.step_id
            FOR JSON PATH) AS steps,
           (SELECT sc.name                   AS schedule_name,
                   sc.enabled                AS enabled,
                   sc.freq_type              AS freq_type,
                   sc.freq_interval          AS freq_interval,
                   sc.freq_subday_type       AS freq_subday_type,
                   sc.freq_subday_interval   AS freq_subday_interval,
                   sc.freq_relative_interval AS freq_relative_interval,
                   sc.freq_recurrence_factor AS freq_recurrence_factor,
                   sc.active_start_date      AS active_start_date,
                   sc.active_end_date        AS active_end_date,
                   sc.active_start_time      AS active_start_time,
                   sc.active_end_time        AS active_end_time
            FROM msdb.dbo.sysjobschedules AS js
            INNER JOIN msdb.dbo.sysschedules AS sc ON sc.schedule_id = js.schedule_id
            WHERE js.job_id = j.job_id
            ORDER BY sc.schedule_id
            FOR JSON PATH) AS schedules
    FROM msdb.dbo.sysjobs AS j
    LEFT JOIN msdb.dbo.syscategories AS c ON c.category_id = j.category_id
    ORDER BY j.name
    FOR JSON PATH
) AS Jobs;
