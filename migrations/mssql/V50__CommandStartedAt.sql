-- stagehand: when the command of a run actually started, apart from when it was claimed
-- (StartTime). A claim that waited, or a worker slot that started the command later, made
-- a 0.03 s command look like seconds. NULL until the completion reports it (the driver
-- sends startedAt; external executors may not): durations use
-- COALESCE(CommandStartedAt, StartTime). Nullable, so adding it is a metadata change
-- only; the seed's columns stay as they are.
ALTER TABLE stage.FileControl ADD CommandStartedAt datetime2(3) NULL;
ALTER TABLE stage.FileControl_History ADD CommandStartedAt datetime2(3) NULL;
