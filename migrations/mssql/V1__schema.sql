-- stagehand: the schema that holds every stagehand table, procedure and view.
-- SQL Server wants CREATE SCHEMA alone in its batch, so this file holds nothing else.
-- Owned by dbo so that ownership chaining (procedures -> tables) is the security model.
CREATE SCHEMA stage AUTHORIZATION dbo;
