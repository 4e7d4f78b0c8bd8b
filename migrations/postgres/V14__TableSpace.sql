-- stage.TableSpace: size of each stage table for monitoring and rotation planning.
-- RowCount is the statistics' live-tuple estimate (cheap, like sp_spaceused on SQL
-- Server); TotalBytes includes indexes and TOAST.
CREATE OR REPLACE FUNCTION stage.TableSpace()
RETURNS TABLE (
    TableName  varchar,
    RowCount   bigint,
    TotalBytes bigint)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT t.name::varchar,
           COALESCE(s.n_live_tup, 0)::bigint,
           pg_total_relation_size(c.oid)::bigint
    FROM (VALUES (1, 'Task', 'stage.Task'::regclass),
                 (2, 'FileControl', 'stage.FileControl'::regclass),
                 (3, 'ProcessLog', 'stage.ProcessLog'::regclass),
                 (4, 'FileControl_History', 'stage.FileControl_History'::regclass),
                 (5, 'ProcessLog_History', 'stage.ProcessLog_History'::regclass))
         AS t(ord, name, rel)
    JOIN pg_class AS c ON c.oid = t.rel
    LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
    ORDER BY t.ord;
END;
$$;
