-- stagehand: Task.MinLogLevel, the task's own minimum log level (over stage.LogPolicy's,
-- V154), taken from its JSON by stage.TaskMinLogLevel (V155) where the task file and
-- SaveTask(s) put it, so the save procedures stay as they are; computed, so it never
-- disagrees with that JSON, and PERSISTED (the function is deterministic and schema-bound)
-- so a log row reads it without parsing JSON.
ALTER TABLE stage.Task
    ADD MinLogLevel AS stage.TaskMinLogLevel([Definition]) PERSISTED;
