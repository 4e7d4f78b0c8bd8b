-- stagehand: grants for the operator's procedures (V40..V43). Submitters run work: a run
-- now and a retry register through the same core as stage.RegisterProcess, which they may
-- call already. Admins steer the schedule and other callers' work: enabling and disabling
-- tasks, cancelling processes. stage_admin holds stage_submitter too (V20).
GRANT EXECUTE ON stage.RunTaskNow   TO stage_submitter;
GRANT EXECUTE ON stage.RetryProcess TO stage_submitter;

GRANT EXECUTE ON stage.SetTaskEnabled TO stage_admin;
GRANT EXECUTE ON stage.CancelProcess  TO stage_admin;
