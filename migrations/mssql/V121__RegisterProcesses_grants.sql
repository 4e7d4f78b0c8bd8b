-- stagehand: grants for stage.RegisterProcesses (V120): submitters, who may call
-- RegisterProcess, may register many at once.
GRANT EXECUTE ON stage.RegisterProcesses TO stage_submitter;
