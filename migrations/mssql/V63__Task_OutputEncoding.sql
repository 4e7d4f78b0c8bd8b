-- stagehand: Task.OutputEncoding, how the driver decodes a command's output (`oem`,
-- `ansi`, `utf-8` or a code page number; NULL: the platform's default). Taken from the
-- task's JSON (Definition) by stage.TaskOutputEncoding (V62), where the task file and
-- SaveTask(s) put it, so the save procedures stay as they are; computed, so it can never disagree with that JSON, and
-- PERSISTED (the function is deterministic and schema-bound) so a claim reads it
-- without parsing JSON.
-- The driver checks the value when it runs the command (a bad one fails the run with a
-- message naming it), not here: what the JSON holds is the submitter's to fix.
ALTER TABLE stage.Task
    ADD OutputEncoding AS stage.TaskOutputEncoding([Definition]) PERSISTED;
