-- stage.ProcessWorkerTask: what the seed's SSIS package asks after an assignment
-- ("which process do I run?"). Always exactly one row, all NULL when the worker holds
-- nothing, so the package's single-row result binding never fails.
CREATE OR REPLACE FUNCTION stage.ProcessWorkerTask(
    p_worker_name text)
RETURNS TABLE (
    ProcessID   bigint,
    ProcessName varchar,
    Parameters  text,
    Attempt     integer)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF p_worker_name IS NULL OR btrim(p_worker_name, E' \t\r\n') = '' THEN
        RAISE EXCEPTION 'WorkerName must not be NULL or empty' USING ERRCODE = '22023';
    END IF;

    RETURN QUERY
    SELECT f.ProcessID, f.ProcessName, f.Parameters, f.Attempt
    FROM (VALUES (1)) AS one(x)
    LEFT JOIN LATERAL (
        SELECT p.ProcessID, p.ProcessName, p.Parameters, p.Attempt
        FROM stage.FileControl AS p
        WHERE p.Status = 'InProgress'
          AND p.WorkerAssigned = p_worker_name
        ORDER BY p.ProcessID
        LIMIT 1
    ) AS f ON true;
END;
$$;
