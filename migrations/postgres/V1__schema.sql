-- stagehand schema: every table, function and view of the queue lives in "stage".
-- Kept alone in this file because the SQL Server twin needs CREATE SCHEMA first in
-- its batch; the versions of both dialects stay aligned.
CREATE SCHEMA IF NOT EXISTS stage;
