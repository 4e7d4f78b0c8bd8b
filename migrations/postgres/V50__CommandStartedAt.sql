-- stagehand: when the command of a run actually started, apart from when it was claimed
-- (StartTime). A claim that waited, or a worker slot that started the command later, made
-- a 0.03 s command look like seconds. NULL until the completion reports it (the driver
-- sends startedAt; external executors may not): durations use
-- COALESCE(CommandStartedAt, StartTime).
ALTER TABLE stage.FileControl ADD COLUMN CommandStartedAt timestamptz NULL;
ALTER TABLE stage.FileControl_History ADD COLUMN CommandStartedAt timestamptz NULL;
COMMENT ON COLUMN stage.FileControl.CommandStartedAt IS
    'When the command started, as the completion reported it (NULL: not reported; durations fall back to StartTime)';
