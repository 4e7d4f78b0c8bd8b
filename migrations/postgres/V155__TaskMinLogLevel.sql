-- stage.TaskMinLogLevel: the `minLogLevel` of a task's JSON (Task.Definition), for the
-- generated column Task.MinLogLevel (V156), as stage.TaskOutputEncoding (V62) does for
-- outputEncoding.
-- NULL (the database's level applies) when the text is not JSON or holds no known level:
-- the catalog names a bad value; it must not make an UPDATE, or a log row, fail here.
CREATE OR REPLACE FUNCTION stage.TaskMinLogLevel(
    p_definition text)
RETURNS varchar
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_level text;
BEGIN
    v_level := p_definition::json ->> 'minLogLevel';
    RETURN CASE WHEN v_level IN ('Info', 'Warning', 'Error') THEN v_level END;
EXCEPTION WHEN data_exception THEN
    RETURN NULL;  -- not JSON
END;
$$;
REVOKE ALL ON FUNCTION stage.TaskMinLogLevel(text) FROM PUBLIC;

