-- stagehand: the four database roles and what each may do. Procedures reach the tables
-- through ownership chaining (everything in stage is owned by dbo, no dynamic SQL), so
-- roles get EXECUTE on procedures, not rights on tables; the exceptions are spelled out.
-- Re-runnable: roles are created only when missing, GRANT and role membership are idempotent.
IF DATABASE_PRINCIPAL_ID(N'stage_reader') IS NULL
    CREATE ROLE stage_reader AUTHORIZATION dbo;
IF DATABASE_PRINCIPAL_ID(N'stage_submitter') IS NULL
    CREATE ROLE stage_submitter AUTHORIZATION dbo;
IF DATABASE_PRINCIPAL_ID(N'stage_worker') IS NULL
    CREATE ROLE stage_worker AUTHORIZATION dbo;
IF DATABASE_PRINCIPAL_ID(N'stage_admin') IS NULL
    CREATE ROLE stage_admin AUTHORIZATION dbo;

-- stage_reader: the views, and the tables read-only.
GRANT SELECT ON stage.ProcessStatusSummary TO stage_reader;
GRANT SELECT ON stage.WorkerStatistics     TO stage_reader;
GRANT SELECT ON stage.OverdueProcesses     TO stage_reader;
GRANT SELECT ON stage.Task                 TO stage_reader;
GRANT SELECT ON stage.FileControl          TO stage_reader;
GRANT SELECT ON stage.ProcessLog           TO stage_reader;
GRANT SELECT ON stage.FileControl_History  TO stage_reader;
GRANT SELECT ON stage.ProcessLog_History   TO stage_reader;

-- stage_submitter: registers runs, nothing else (never writes FileControl or Task itself).
GRANT EXECUTE ON stage.RegisterProcess TO stage_submitter;

-- stage_worker: claims, runs and completes. UPDATE (Status, EndTime) and SELECT on
-- FileControl keep the seed's SSIS completion statement working:
--   UPDATE stage.FileControl SET Status = 'Completed', EndTime = ... WHERE ProcessID = ?
GRANT EXECUTE ON stage.ClaimProcesses        TO stage_worker;
GRANT EXECUTE ON stage.AssignProcessToWorker TO stage_worker;
GRANT EXECUTE ON stage.ProcessWorkerTask     TO stage_worker;
GRANT EXECUTE ON stage.Heartbeat             TO stage_worker;
GRANT EXECUTE ON stage.CompleteProcess       TO stage_worker;
GRANT EXECUTE ON stage.CompleteProcesses     TO stage_worker;
GRANT EXECUTE ON stage.LogMessage            TO stage_worker;
GRANT EXECUTE ON stage.ResetStuckProcesses   TO stage_worker;
GRANT SELECT ON stage.FileControl TO stage_worker;
GRANT UPDATE (Status, EndTime) ON stage.FileControl TO stage_worker;

-- stage_admin: everything above, plus task maintenance, rotation and space reporting.
-- stage.ClaimForWorkers is granted to nobody: it is reached only through the procedures.
IF NOT EXISTS (SELECT 1 FROM sys.database_role_members AS m
               WHERE m.role_principal_id = DATABASE_PRINCIPAL_ID(N'stage_reader')
                 AND m.member_principal_id = DATABASE_PRINCIPAL_ID(N'stage_admin'))
    ALTER ROLE stage_reader ADD MEMBER stage_admin;
IF NOT EXISTS (SELECT 1 FROM sys.database_role_members AS m
               WHERE m.role_principal_id = DATABASE_PRINCIPAL_ID(N'stage_submitter')
                 AND m.member_principal_id = DATABASE_PRINCIPAL_ID(N'stage_admin'))
    ALTER ROLE stage_submitter ADD MEMBER stage_admin;
IF NOT EXISTS (SELECT 1 FROM sys.database_role_members AS m
               WHERE m.role_principal_id = DATABASE_PRINCIPAL_ID(N'stage_worker')
                 AND m.member_principal_id = DATABASE_PRINCIPAL_ID(N'stage_admin'))
    ALTER ROLE stage_worker ADD MEMBER stage_admin;
GRANT EXECUTE ON stage.SaveTask      TO stage_admin;
GRANT EXECUTE ON stage.DeleteTask    TO stage_admin;
GRANT EXECUTE ON stage.RotateHistory TO stage_admin;
GRANT EXECUTE ON stage.TableSpace    TO stage_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON stage.Task TO stage_admin;
