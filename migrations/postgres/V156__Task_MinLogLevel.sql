-- Task.MinLogLevel: the task's own minimum log level (over stage.LogPolicy's, V154), taken
-- from its JSON by stage.TaskMinLogLevel (V155) where the task file and SaveTask(s) put it,
-- so the save procedures stay as they are; generated, so it never disagrees with that JSON.
ALTER TABLE stage.Task ADD COLUMN MinLogLevel varchar(10)
    GENERATED ALWAYS AS (stage.TaskMinLogLevel(Definition)) STORED;
COMMENT ON COLUMN stage.Task.MinLogLevel IS
    'minLogLevel of the task JSON (Definition): Info, Warning or Error; NULL: stage.LogPolicy''s level';
