-- stagehand: Task.OutputEncoding, how the driver decodes a command's output (`oem`,
-- `ansi`, `utf-8` or a code page number; NULL: the platform's default). Taken from the
-- task's JSON (Definition) by stage.TaskOutputEncoding (V62), where the task file and
-- SaveTask(s) put it, so the save procedures stay as they are; generated, so it can never disagree with that JSON.
-- The driver checks the value when it runs the command (a bad one fails the run with a
-- message naming it), not here: what the JSON holds is the submitter's to fix.
ALTER TABLE stage.Task ADD COLUMN OutputEncoding varchar(20)
    GENERATED ALWAYS AS (stage.TaskOutputEncoding(Definition)) STORED;
COMMENT ON COLUMN stage.Task.OutputEncoding IS
    'outputEncoding of the task JSON (Definition): oem, ansi, utf-8 or a code page; NULL: the platform default';
