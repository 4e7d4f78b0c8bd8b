-- stagehand roles and grants: stage_reader (read), stage_submitter (RegisterProcess),
-- stage_worker (executors), stage_admin (all of them plus task management and upkeep).
-- Roles are cluster-wide and several databases may deploy at once, so they are created
-- only when missing and a concurrent creator's win is not an error.
DO $$
DECLARE
    v_role text;
BEGIN
    FOREACH v_role IN ARRAY ARRAY['stage_reader', 'stage_submitter', 'stage_worker', 'stage_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database's deployment created it just now
            END;
        END IF;
    END LOOP;
    -- stage_admin holds "everything above" through membership.
    FOREACH v_role IN ARRAY ARRAY['stage_reader', 'stage_submitter', 'stage_worker'] LOOP
        IF NOT pg_catalog.pg_has_role('stage_admin', v_role, 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT %I TO stage_admin', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END;
$$;

-- Functions run as their owner (SECURITY DEFINER); only the grants below may call them.
-- (Until this file ran, nobody but the owner had USAGE on schema stage, so the functions
-- created by earlier versions were never reachable through PUBLIC's default EXECUTE.)
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA stage FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA stage FROM PUBLIC;

GRANT USAGE ON SCHEMA stage TO stage_reader, stage_submitter, stage_worker, stage_admin;

GRANT SELECT ON stage.ProcessStatusSummary, stage.WorkerStatistics, stage.OverdueProcesses,
                stage.Task, stage.FileControl, stage.ProcessLog,
                stage.FileControl_History, stage.ProcessLog_History
    TO stage_reader;

GRANT EXECUTE ON FUNCTION stage.RegisterProcess(text, text, timestamptz) TO stage_submitter;

GRANT EXECUTE ON FUNCTION
    stage.ClaimProcesses(text, integer, integer, text),
    stage.AssignProcessToWorker(integer),
    stage.ProcessWorkerTask(text),
    stage.Heartbeat(text, text, integer),
    stage.CompleteProcesses(text),
    stage.CompleteProcess(bigint, text, varchar, integer, text, integer),
    stage.LogMessage(bigint, text, varchar, text),
    stage.ResetStuckProcesses(integer)
    TO stage_worker;
-- The seed's SSIS completion statement:
--   UPDATE stage.FileControl SET Status = 'Completed', EndTime = ... WHERE ProcessID = ?
GRANT SELECT, UPDATE (Status, EndTime) ON stage.FileControl TO stage_worker;

GRANT EXECUTE ON FUNCTION
    stage.SaveTask(text, text, text, varchar, integer, integer, integer, varchar, boolean,
                   text, text, varchar, boolean, text),
    stage.DeleteTask(text),
    stage.RotateHistory(integer, integer, integer),
    stage.TableSpace()
    TO stage_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON stage.Task TO stage_admin;
