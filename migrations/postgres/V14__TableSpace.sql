-- stage.TableSpace: size of every table in schema stage, by name, for monitoring and
-- rotation planning. RowCount is the statistics' live-tuple estimate (cheap, like
-- sp_spaceused on SQL Server); TotalBytes includes indexes and TOAST.
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
    -- The catalog holds the names folded to lower case: stagehand's own tables are shown
    -- as SQL Server spells them, any other table as the catalog has it.
    SELECT COALESCE(n.name, c.relname)::varchar,
           COALESCE(s.n_live_tup, 0)::bigint,
           pg_total_relation_size(c.oid)::bigint
    FROM pg_class AS c
    LEFT JOIN (VALUES ('FileControl'), ('FileControl_History'), ('ProcessLog'), ('ProcessLog_History'),
                      ('ScheduleVersion'), ('Task'), ('TaskTrigger')) AS n(name)
           ON lower(n.name) = c.relname
    LEFT JOIN pg_stat_user_tables AS s ON s.relid = c.oid
    WHERE c.relnamespace = 'stage'::regnamespace
      AND c.relkind IN ('r', 'p')
    ORDER BY c.relname;
END;
$$;
