-- stagehand: stage.TR_Task_Notify copies a task's `notify` settings from its Definition JSON
-- into stage.TaskNotify / stage.TaskNotifyTarget whenever Definition is written (SaveTasks,
-- SaveTask, an UPDATE by hand). The JSON is read here, once per save, never when a run ends.
-- Rules (the same on PostgreSQL; keys compare exactly): `notify` must be an object with at
-- least one target (`webhooks`, `emails`: arrays; string items of 1..2000 characters count)
-- or the task has no settings. onFailure, onSuccess, onMissed: JSON true or false, else the
-- default (onFailure: 1 unless afterConsecutiveFailures is given; the others 0);
-- afterConsecutiveFailures: a JSON integer of 1 or more, else none. A Definition that is
-- not JSON means no settings (it is not refused here). The consecutive-failure count is
-- kept across saves.
CREATE OR ALTER TRIGGER stage.TR_Task_Notify
ON stage.Task
AFTER INSERT, UPDATE
AS
BEGIN
    -- First: every other statement resets @@ROWCOUNT.
    IF @@ROWCOUNT = 0
        RETURN;
    SET NOCOUNT ON;
    IF NOT UPDATE([Definition])
        RETURN;

    DECLARE @Notify TABLE (TaskID int NOT NULL PRIMARY KEY, Notify nvarchar(max) NOT NULL);
    DECLARE @Targets TABLE (TaskID int NOT NULL, Channel varchar(10) NOT NULL, Target nvarchar(2000) NOT NULL);
    DECLARE @Settings TABLE (
        TaskID                   int NOT NULL PRIMARY KEY,
        OnFailure                bit NOT NULL,
        OnSuccess                bit NOT NULL,
        OnMissed                 bit NOT NULL,
        AfterConsecutiveFailures int NULL);

    -- CASE, not WHERE: JSON_QUERY must never see text that is not JSON.
    INSERT @Notify (TaskID, Notify)
    SELECT q.TaskID, q.Notify
    FROM (SELECT i.TaskID,
                 CASE WHEN ISJSON(i.[Definition]) = 1 THEN JSON_QUERY(i.[Definition], '$.notify') END AS Notify
          FROM inserted AS i) AS q
    WHERE LEFT(LTRIM(q.Notify), 1) = N'{';

    INSERT @Targets (TaskID, Channel, Target)
    SELECT DISTINCT n.TaskID,
           CASE WHEN l.[key] COLLATE Latin1_General_BIN2 = N'webhooks' THEN 'webhook' ELSE 'email' END,
           e.[value] COLLATE Latin1_General_BIN2
    FROM @Notify AS n
    CROSS APPLY OPENJSON(n.Notify) AS l
    CROSS APPLY OPENJSON(l.[value]) AS e
    WHERE l.[key] COLLATE Latin1_General_BIN2 IN (N'webhooks', N'emails')
      AND l.[type] = 4
      AND e.[type] = 1
      AND DATALENGTH(e.[value]) BETWEEN 2 AND 4000;

    INSERT @Settings (TaskID, OnFailure, OnSuccess, OnMissed, AfterConsecutiveFailures)
    SELECT n.TaskID,
           COALESCE(f.OnFailure, CASE WHEN f.After IS NULL THEN 1 ELSE 0 END),
           COALESCE(f.OnSuccess, 0),
           COALESCE(f.OnMissed, 0),
           f.After
    FROM @Notify AS n
    CROSS APPLY (
        SELECT MAX(CASE WHEN o.[key] COLLATE Latin1_General_BIN2 = N'onFailure' AND o.[type] = 3
                        THEN CASE WHEN o.[value] = N'true' THEN 1 ELSE 0 END END) AS OnFailure,
               MAX(CASE WHEN o.[key] COLLATE Latin1_General_BIN2 = N'onSuccess' AND o.[type] = 3
                        THEN CASE WHEN o.[value] = N'true' THEN 1 ELSE 0 END END) AS OnSuccess,
               MAX(CASE WHEN o.[key] COLLATE Latin1_General_BIN2 = N'onMissed' AND o.[type] = 3
                        THEN CASE WHEN o.[value] = N'true' THEN 1 ELSE 0 END END) AS OnMissed,
               NULLIF(MAX(CASE WHEN o.[key] COLLATE Latin1_General_BIN2 = N'afterConsecutiveFailures'
                                    AND o.[type] = 2
                                    AND LEN(o.[value]) BETWEEN 1 AND 9
                                    AND o.[value] NOT LIKE N'%[^0-9]%'
                               THEN CAST(o.[value] AS int) END), 0) AS After
        FROM OPENJSON(n.Notify) AS o) AS f
    WHERE EXISTS (SELECT 1 FROM @Targets AS t WHERE t.TaskID = n.TaskID);

    DELETE t
    FROM stage.TaskNotifyTarget AS t
    INNER JOIN inserted AS i
            ON i.TaskID = t.TaskID;

    DELETE n
    FROM stage.TaskNotify AS n
    INNER JOIN inserted AS i
            ON i.TaskID = n.TaskID
    WHERE NOT EXISTS (SELECT 1 FROM @Settings AS s WHERE s.TaskID = n.TaskID);

    UPDATE n
    SET    OnFailure                = s.OnFailure,
           OnSuccess                = s.OnSuccess,
           OnMissed                 = s.OnMissed,
           AfterConsecutiveFailures = s.AfterConsecutiveFailures,
           ConsecutiveFailures      = CASE WHEN s.AfterConsecutiveFailures IS NULL THEN 0
                                           ELSE n.ConsecutiveFailures END
    FROM stage.TaskNotify AS n
    INNER JOIN @Settings AS s
            ON s.TaskID = n.TaskID;

    INSERT stage.TaskNotify (TaskID, OnFailure, OnSuccess, OnMissed, AfterConsecutiveFailures)
    SELECT s.TaskID, s.OnFailure, s.OnSuccess, s.OnMissed, s.AfterConsecutiveFailures
    FROM @Settings AS s
    WHERE NOT EXISTS (SELECT 1 FROM stage.TaskNotify AS n WHERE n.TaskID = s.TaskID);

    INSERT stage.TaskNotifyTarget (TaskID, Channel, Target)
    SELECT t.TaskID, t.Channel, t.Target
    FROM @Targets AS t
    WHERE EXISTS (SELECT 1 FROM @Settings AS s WHERE s.TaskID = t.TaskID);
END;
