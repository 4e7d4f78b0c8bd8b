-- stage.CompleteAndClaim: one round trip for a worker that records a batch's outcomes and
-- takes its next batch. It is stage.CompleteProcesses followed by stage.ClaimProcesses in
-- one transaction (a function is atomic: any error, a bad completion element or a bad
-- claim argument, writes nothing and claims nothing); both rules stay in those routines.
-- One result set: the first column says which routine's row it is; CompleteProcesses' row
-- (ProcessID, Accepted, Status) and ClaimProcesses' row stand side by side, the other's
-- columns NULL. Verdicts first, in element order, then the claimed rows by ProcessID.
CREATE OR REPLACE FUNCTION stage.CompleteAndClaim(
    p_completions   text,
    p_worker_name   text,
    p_max_count     integer DEFAULT 1,
    p_lease_seconds integer DEFAULT 60,
    p_slots         text DEFAULT NULL)
RETURNS TABLE (
    Claimed          boolean,
    ProcessID        bigint,
    Accepted         boolean,
    Status           varchar,
    ClaimedProcessID bigint,
    ProcessName      varchar,
    WorkerAssigned   varchar,
    TaskID           integer,
    Command          varchar,
    Arguments        text,
    WorkingDirectory varchar,
    Parameters       text,
    Attempt          integer,
    MaxAttempts      integer,
    TimeoutMinutes   integer,
    ScheduledFor     timestamptz,
    LeaseExpiresAt   timestamptz,
    OutputEncoding   varchar)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT false, c.ProcessID, c.Accepted, c.Status,
           NULL::bigint, NULL::varchar, NULL::varchar, NULL::integer, NULL::varchar, NULL::text,
           NULL::varchar, NULL::text, NULL::integer, NULL::integer, NULL::integer,
           NULL::timestamptz, NULL::timestamptz, NULL::varchar
    FROM stage.CompleteProcesses(p_completions) WITH ORDINALITY AS c(ProcessID, Accepted, Status, n)
    ORDER BY c.n;

    RETURN QUERY
    SELECT true, NULL::bigint, NULL::boolean, NULL::varchar,
           k.ProcessID, k.ProcessName, k.WorkerAssigned, k.TaskID, k.Command, k.Arguments,
           k.WorkingDirectory, k.Parameters, k.Attempt, k.MaxAttempts, k.TimeoutMinutes,
           k.ScheduledFor, k.LeaseExpiresAt, k.OutputEncoding
    FROM stage.ClaimProcesses(p_worker_name, p_max_count, p_lease_seconds, p_slots) AS k
    ORDER BY k.ProcessID;
END;
$$;
