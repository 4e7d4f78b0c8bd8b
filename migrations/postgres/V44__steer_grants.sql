-- Grants for the operator's procedures (V40..V43). Submitters run work: a run now and a
-- retry register through the same core as stage.RegisterProcess, which they may call
-- already. Admins steer the schedule and other callers' work: enabling and disabling tasks,
-- cancelling processes. stage_admin holds stage_submitter too (V20).
GRANT EXECUTE ON FUNCTION
    stage.RunTaskNow(text, boolean),
    stage.RetryProcess(bigint)
    TO stage_submitter;

GRANT EXECUTE ON FUNCTION
    stage.SetTaskEnabled(text, boolean, integer),
    stage.CancelProcess(bigint)
    TO stage_admin;
