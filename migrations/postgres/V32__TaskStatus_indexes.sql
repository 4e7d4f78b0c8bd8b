-- Indexes for stage.TaskStatus (V33) and `stagehand task history`: a task's finished runs
-- by end time, in the queue and in its history, so its last run, its last success, the
-- failures since and the last 24 hours are seeks on the name, never scans of all history.
CREATE INDEX IF NOT EXISTS IX_FileControl_NameFinished
    ON stage.FileControl (ProcessName, EndTime, ProcessID) INCLUDE (Status, StartTime, ExitCode)
    WHERE Status IN ('Completed', 'Failed', 'Cancelled');
CREATE INDEX IF NOT EXISTS IX_FileControl_History_NameFinished
    ON stage.FileControl_History (ProcessName, EndTime, ProcessID) INCLUDE (Status, StartTime, ExitCode)
    WHERE Status IN ('Completed', 'Failed', 'Cancelled');
