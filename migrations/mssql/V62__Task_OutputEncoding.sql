-- stagehand: Task.OutputEncoding, how the driver decodes a command's output (`oem`,
-- `ansi`, `utf-8` or a code page number; NULL: the platform's default). Taken from the
-- task's JSON (Definition), where the task file and SaveTask(s) put it, so the save
-- procedures stay as they are; computed, so it can never disagree with that JSON, and
-- PERSISTED (JSON_VALUE is deterministic) so a claim reads it without parsing JSON.
-- The driver checks the value when it runs the command (a bad one fails the run with a
-- message naming it), not here: what the JSON holds is the submitter's to fix.
ALTER TABLE stage.Task
    ADD OutputEncoding AS CAST(LEFT(JSON_VALUE([Definition], N'$.outputEncoding'), 20) AS varchar(20)) PERSISTED;
