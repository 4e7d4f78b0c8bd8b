-- stage.TaskOutputEncoding: the `outputEncoding` of a task's JSON (Task.Definition), for
-- the derived column Task.OutputEncoding (V63). NULL when the text is not JSON, not an
-- object, or has no such key: a Definition a DBA broke makes the task invalid in the
-- catalog (which says why); it must not make the UPDATE, or every claim, fail here.
-- IMMUTABLE, as a generated column requires: the result depends on the argument only.
CREATE OR REPLACE FUNCTION stage.TaskOutputEncoding(
    p_definition text)
RETURNS varchar
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN left(p_definition::json ->> 'outputEncoding', 20);
EXCEPTION WHEN data_exception THEN
    RETURN NULL;  -- not JSON (22P02 and the other json input errors are data exceptions)
END;
$$;
-- Created after V20's REVOKE ... ON ALL FUNCTIONS: PUBLIC's default EXECUTE is taken here.
REVOKE ALL ON FUNCTION stage.TaskOutputEncoding(text) FROM PUBLIC;
