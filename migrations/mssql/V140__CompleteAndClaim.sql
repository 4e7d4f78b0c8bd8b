-- stagehand: stage.CompleteAndClaim, one round trip for a worker that records a batch's
-- outcomes and takes its next batch: stage.CompleteProcesses, then stage.ClaimProcesses,
-- in one transaction (a savepoint inside a caller's), so any error, a bad completion
-- element or a bad claim argument, writes nothing and claims nothing. Both rules stay in
-- those procedures; their result sets are read with INSERT ... EXEC (neither nests one,
-- and under XACT_ABORT their CATCH blocks never roll back inside it: a THROW dooms the
-- transaction, and the rollback is this procedure's, or its caller's).
-- One result set: the first column says which procedure's row it is; CompleteProcesses'
-- row (ProcessID, Accepted, Status) and ClaimProcesses' row stand side by side, the
-- other's columns NULL. Verdicts first, in element order, then the claimed rows by ProcessID.
CREATE OR ALTER PROCEDURE stage.CompleteAndClaim
    @Completions  nvarchar(max),         -- as stage.CompleteProcesses takes it
    @WorkerName   nvarchar(4000),        -- then stage.ClaimProcesses' arguments
    @MaxCount     int           = 1,
    @LeaseSeconds int           = 60,
    @Slots        nvarchar(max) = NULL
AS
BEGIN
    SET NOCOUNT ON;
    SET XACT_ABORT ON;
    DECLARE @TranCount int = @@TRANCOUNT;

    -- Ordinal: CompleteProcesses returns one row per element in element order; the
    -- identity keeps that order.
    DECLARE @Verdict TABLE
    (
        Ordinal   int         IDENTITY (1, 1) PRIMARY KEY,
        ProcessID bigint      NOT NULL,
        Accepted  bit         NOT NULL,
        Status    varchar(20) NULL
    );
    DECLARE @Claim TABLE
    (
        ProcessID        bigint         NOT NULL PRIMARY KEY,
        ProcessName      nvarchar(255)  NOT NULL,
        WorkerAssigned   nvarchar(255)  NOT NULL,
        TaskID           int            NULL,
        Command          nvarchar(4000) NULL,
        Arguments        nvarchar(max)  NULL,
        WorkingDirectory nvarchar(1000) NULL,
        Parameters       nvarchar(max)  NULL,
        Attempt          int            NOT NULL,
        MaxAttempts      int            NOT NULL,
        TimeoutMinutes   int            NULL,
        ScheduledFor     datetime2(3)   NULL,
        LeaseExpiresAt   datetime2(3)   NULL,
        OutputEncoding   varchar(20)    NULL
    );

    BEGIN TRY
        IF @TranCount = 0
            BEGIN TRANSACTION;
        ELSE
            SAVE TRANSACTION CompleteAndClaim;

        INSERT @Verdict (ProcessID, Accepted, Status)
        EXEC stage.CompleteProcesses @Completions = @Completions;

        INSERT @Claim (ProcessID, ProcessName, WorkerAssigned, TaskID, Command, Arguments,
                       WorkingDirectory, Parameters, Attempt, MaxAttempts, TimeoutMinutes,
                       ScheduledFor, LeaseExpiresAt, OutputEncoding)
        EXEC stage.ClaimProcesses @WorkerName = @WorkerName, @MaxCount = @MaxCount,
                                  @LeaseSeconds = @LeaseSeconds, @Slots = @Slots;

        IF @TranCount = 0
            COMMIT TRANSACTION;

        SELECT r.Claimed, r.ProcessID, r.Accepted, r.Status, r.ClaimedProcessID, r.ProcessName,
               r.WorkerAssigned, r.TaskID, r.Command, r.Arguments, r.WorkingDirectory,
               r.Parameters, r.Attempt, r.MaxAttempts, r.TimeoutMinutes, r.ScheduledFor,
               r.LeaseExpiresAt, r.OutputEncoding
        FROM
        (
            SELECT CAST(0 AS bit) AS Claimed, CAST(v.Ordinal AS bigint) AS Seq,
                   v.ProcessID, v.Accepted, v.Status,
                   CAST(NULL AS bigint) AS ClaimedProcessID, CAST(NULL AS nvarchar(255)) AS ProcessName,
                   CAST(NULL AS nvarchar(255)) AS WorkerAssigned, CAST(NULL AS int) AS TaskID,
                   CAST(NULL AS nvarchar(4000)) AS Command, CAST(NULL AS nvarchar(max)) AS Arguments,
                   CAST(NULL AS nvarchar(1000)) AS WorkingDirectory, CAST(NULL AS nvarchar(max)) AS Parameters,
                   CAST(NULL AS int) AS Attempt, CAST(NULL AS int) AS MaxAttempts,
                   CAST(NULL AS int) AS TimeoutMinutes, CAST(NULL AS datetime2(3)) AS ScheduledFor,
                   CAST(NULL AS datetime2(3)) AS LeaseExpiresAt, CAST(NULL AS varchar(20)) AS OutputEncoding
            FROM @Verdict AS v
            UNION ALL
            SELECT CAST(1 AS bit), c.ProcessID,
                   NULL, NULL, NULL,
                   c.ProcessID, c.ProcessName, c.WorkerAssigned, c.TaskID, c.Command, c.Arguments,
                   c.WorkingDirectory, c.Parameters, c.Attempt, c.MaxAttempts, c.TimeoutMinutes,
                   c.ScheduledFor, c.LeaseExpiresAt, c.OutputEncoding
            FROM @Claim AS c
        ) AS r
        ORDER BY r.Claimed, r.Seq;
    END TRY
    BEGIN CATCH
        IF @TranCount = 0 AND XACT_STATE() <> 0
            ROLLBACK TRANSACTION;
        ELSE IF @TranCount > 0 AND XACT_STATE() = 1
            ROLLBACK TRANSACTION CompleteAndClaim;
        THROW;
    END CATCH;
END;
