//! `--prefill ROWS`: before a bench measures, fill stage.FileControl with ROWS finished runs
//! spread over the last six months (the seed's retention), stage.FileControl_History with a
//! fifth as many from the month before, and two log rows per run (claim and outcome) in
//! stage.ProcessLog / ProcessLog_History: the shape of a queue in steady state. The rows
//! live in the database the bench is pointed at, under generated task names
//! (`stagehand-prefill-<pid>-t<k>`), and are removed afterwards in chunks, unless the
//! bench measures in a scratch database (`--scratch`), which is dropped with them.
//! History rows get negative ProcessIDs and LogIDs, which the identities never hand out.
//! `bench rotation` fills a month past the retention instead (`fill_past_retention`).

use super::scratch::Target;
use crate::driver::ROLL_UP_BATCH;
use crate::store::{Backend, BackendKind};
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Rows per INSERT or DELETE statement: big enough to be quick, small enough that SQL
/// Server keeps row locks and a modest log.
const CHUNK: i64 = 50_000;
/// Connections inserting chunks at once: the server's work is one core per statement, and
/// the bench waits meanwhile (chunks 10 times larger, one at a time, filled no faster).
const FILL_CONNECTIONS: usize = 2;
/// Six months, in seconds.
const SPREAD_SECONDS: i64 = 180 * 86_400;

/// When a fill's runs end: spread evenly over `spread` seconds, the newest `age` seconds ago.
#[derive(Clone, Copy)]
struct Window {
    age: i64,
    spread: i64,
}

/// The last six months: inside the seed's retention.
const SIX_MONTHS: Window = Window {
    age: 0,
    spread: SPREAD_SECONDS,
};
/// A month ending 200 days ago: past a six-month retention (at most 184 days).
const PAST_RETENTION: Window = Window {
    age: 200 * 86_400,
    spread: 30 * 86_400,
};

/// `--prefill ROWS`, shared by the benches that measure with a history in the tables.
#[derive(Debug, Clone, clap::Args)]
pub struct PrefillArgs {
    /// Finished runs (and two log rows each) to add before measuring, spread over six
    /// months, plus a fifth as many in history; removed afterwards (0: none).
    // allow_negative_numbers: `--prefill -1` is refused as out of range, naming the option.
    #[arg(long, value_name = "ROWS", default_value_t = 0, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(0..))]
    prefill: i64,
}

impl PrefillArgs {
    /// The rows asked for, inserted; None when none were.
    pub async fn fill(&self, target: &Target) -> Result<Option<Prefill>> {
        if self.prefill == 0 {
            return Ok(None);
        }
        Prefill::fill(target, self.prefill).await.map(Some)
    }
}

pub struct Prefill {
    prefix: String,
    rows: i64,
    /// In a scratch database: nothing to remove.
    scratch: bool,
}

impl Prefill {
    /// Inserts the rows; on error removes what was written.
    async fn fill(target: &Target, rows: i64) -> Result<Prefill> {
        let prefix = format!("stagehand-prefill-{}", std::process::id());
        let (prefill, seconds) = Prefill::fill_with(target, prefix, rows, SIX_MONTHS, true).await?;
        println!(
            "prefilled {} finished runs (+{} in history) and {} log rows in {seconds:.1} s",
            rows,
            rows / 5,
            2 * (rows + rows / 5),
        );
        Ok(prefill)
    }

    /// A month of finished runs past a six-month retention, with two log rows each, in the
    /// live tables: what a rotation moves. On error removes what was written.
    pub async fn fill_past_retention(target: &Target, rows: i64) -> Result<Prefill> {
        let prefix = format!("stagehand-rotatable-{}", std::process::id());
        let (prefill, seconds) =
            Prefill::fill_with(target, prefix, rows, PAST_RETENTION, false).await?;
        println!(
            "prefilled {rows} finished runs past the retention and {} log rows in {seconds:.1} s",
            2 * rows
        );
        Ok(prefill)
    }

    async fn fill_with(
        target: &Target,
        prefix: String,
        rows: i64,
        window: Window,
        history: bool,
    ) -> Result<(Prefill, f64)> {
        let prefill = Prefill {
            prefix,
            rows,
            scratch: target.scratch,
        };
        let started = Instant::now();
        if let Err(e) = prefill.insert_all(&target.db, window, history).await {
            prefill.remove(&target.db).await?;
            return Err(e);
        }
        // A driver folds the counters' deltas into their totals every sweep; without it a
        // fill leaves one per key and chunk, which every monitoring read would sum.
        while !target
            .db
            .roll_up_counters(ROLL_UP_BATCH)
            .await
            .context("rolling up the monitoring counters after the prefill")?
            .done
        {}
        Ok((prefill, started.elapsed().as_secs_f64()))
    }

    async fn insert_all(&self, db: &Arc<dyn Backend>, window: Window, history: bool) -> Result<()> {
        let kind = db.kind();
        in_chunks(db, self.rows, |lo, hi| {
            live_chunk(kind, &self.prefix, lo, hi, self.rows, window)
        })
        .await
        .context("prefilling stage.FileControl and stage.ProcessLog")?;
        let history = if history { self.rows / 5 } else { 0 };
        in_chunks(db, history, |lo, hi| {
            history_chunk(kind, &self.prefix, lo, hi, history)
        })
        .await
        .context("prefilling stage.FileControl_History and stage.ProcessLog_History")
    }

    /// Deletes every prefilled row, logs first, a chunk at a time (in a scratch database:
    /// nothing, the drop removes them).
    pub async fn remove(&self, db: &Arc<dyn Backend>) -> Result<()> {
        if self.scratch {
            return Ok(());
        }
        let like = format!("{}-%", self.prefix);
        let top = |kind: BackendKind, table: &str, key: &str, filter: &str| {
            match kind {
            BackendKind::Postgres => format!(
                "DELETE FROM stage.{table} WHERE {key} IN (SELECT {key} FROM stage.{table} WHERE {filter} LIMIT {CHUNK})"
            ),
            BackendKind::SqlServer => format!("DELETE TOP ({CHUNK}) FROM stage.{table} WHERE {filter}"),
        }
        };
        let kind = db.kind();
        let statements = [
            top(kind, "ProcessLog", "LogID", &format!("ProcessID IN (SELECT ProcessID FROM stage.FileControl WHERE ProcessName LIKE '{like}')")),
            top(kind, "FileControl", "ProcessID", &format!("ProcessName LIKE '{like}'")),
            top(kind, "ProcessLog_History", "LogID", &format!("ProcessID IN (SELECT ProcessID FROM stage.FileControl_History WHERE ProcessName LIKE '{like}')")),
            top(kind, "FileControl_History", "ProcessID", &format!("ProcessName LIKE '{like}'")),
        ];
        for sql in &statements {
            while db
                .execute_sql(sql)
                .await
                .context("removing the prefilled rows")?
                > 0
            {}
        }
        Ok(())
    }
}

/// Runs the statements `chunk(lo, hi)` making rows [0, total) a CHUNK at a time, on
/// FILL_CONNECTIONS connections at once (neighbouring chunks interleave their ProcessIDs).
async fn in_chunks(
    db: &Arc<dyn Backend>,
    total: i64,
    chunk: impl Fn(i64, i64) -> String,
) -> Result<()> {
    let next = AtomicI64::new(0);
    let fill = || async {
        loop {
            let lo = next.fetch_add(CHUNK, Ordering::Relaxed);
            if lo >= total {
                return Ok::<_, anyhow::Error>(());
            }
            db.execute_sql(&chunk(lo, (lo + CHUNK).min(total))).await?;
        }
    };
    futures_util::future::try_join_all((0..FILL_CONNECTIONS).map(|_| fill())).await?;
    Ok(())
}

/// Runs g in [lo, hi) of `total`: run g ends `age` + (total - g) / total of `spread`
/// ago, so ProcessIDs grow with time as in a real queue. 95 % Completed, 4 % Failed, 1 %
/// Cancelled, 10 tasks, 8 workers, 1 to 120 s long.
fn live_chunk(
    kind: BackendKind,
    prefix: &str,
    lo: i64,
    hi: i64,
    total: i64,
    Window { age, spread }: Window,
) -> String {
    match kind {
        BackendKind::Postgres => format!(
            "WITH g AS (SELECT g, now() - make_interval(secs => {age} + ({total} - g)::float8 * {spread} / {total}) AS e
                        FROM generate_series({lo}, {hi} - 1) AS g),
                  r AS (SELECT g, e, e - make_interval(secs => 1 + g % 120) AS s,
                               CASE WHEN g % 100 < 95 THEN 'Completed' WHEN g % 100 < 99 THEN 'Failed' ELSE 'Cancelled' END AS st
                        FROM g),
                  ins AS (INSERT INTO stage.FileControl
                              (ProcessName, Status, CreatedAt, WorkerAssigned, StartTime, EndTime, Parameters,
                               Attempt, MaxAttempts, RunAfter, ExitCode, OverlapPolicy, Executor, CommandStartedAt)
                          SELECT '{prefix}-t' || (g % 10), st, s, 'bench-host/' || (g % 8), s, e,
                                 '{{\"file\":\"in-' || g || '.csv\"}}', 1, 1, s,
                                 CASE st WHEN 'Completed' THEN 0 WHEN 'Failed' THEN 1 END, 'parallel', 'driver', s
                          FROM r
                          RETURNING ProcessID, Status, WorkerAssigned, StartTime, EndTime)
             INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
             SELECT ProcessID, 'Claimed by ' || WorkerAssigned || ' (attempt 1 of 1)', 'Info', StartTime FROM ins
             UNION ALL
             SELECT ProcessID, Status,
                    CASE Status WHEN 'Completed' THEN 'Info' WHEN 'Failed' THEN 'Error' ELSE 'Warning' END, EndTime
             FROM ins"
        ),
        BackendKind::SqlServer => format!(
            "SET NOCOUNT ON; SET XACT_ABORT ON;
             DECLARE @Now datetime2(3) = SYSUTCDATETIME();
             DECLARE @Ins TABLE (ProcessID bigint, Status varchar(20), WorkerAssigned nvarchar(255), StartTime datetime2(3), EndTime datetime2(3));
             BEGIN TRANSACTION;
             WITH n AS (SELECT TOP ({hi} - {lo}) {lo} - 1 + ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS g
                        FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b),
                  e AS (SELECT g, DATEADD(SECOND, -CAST({age} + ({total} - g) * CAST({spread} AS float) / {total} AS int), @Now) AS e FROM n),
                  r AS (SELECT g, e, DATEADD(SECOND, -(1 + g % 120), e) AS s,
                               CASE WHEN g % 100 < 95 THEN 'Completed' WHEN g % 100 < 99 THEN 'Failed' ELSE 'Cancelled' END AS st
                        FROM e)
             INSERT INTO stage.FileControl
                 (ProcessName, Status, CreatedAt, WorkerAssigned, StartTime, EndTime, Parameters,
                  Attempt, MaxAttempts, RunAfter, ExitCode, OverlapPolicy, Executor, CommandStartedAt)
             OUTPUT inserted.ProcessID, inserted.Status, inserted.WorkerAssigned, inserted.StartTime, inserted.EndTime
             INTO @Ins (ProcessID, Status, WorkerAssigned, StartTime, EndTime)
             SELECT CONCAT('{prefix}-t', g % 10), st, s, CONCAT('bench-host/', g % 8), s, e,
                    CONCAT('{{\"file\":\"in-', g, '.csv\"}}'), 1, 1, s,
                    CASE st WHEN 'Completed' THEN 0 WHEN 'Failed' THEN 1 END, 'parallel', 'driver', s
             FROM r;
             INSERT INTO stage.ProcessLog (ProcessID, Message, LogLevel, LogTime)
             SELECT ProcessID, CONCAT('Claimed by ', WorkerAssigned, ' (attempt 1 of 1)'), 'Info', StartTime FROM @Ins
             UNION ALL
             SELECT ProcessID, Status,
                    CASE Status WHEN 'Completed' THEN 'Info' WHEN 'Failed' THEN 'Error' ELSE 'Warning' END, EndTime
             FROM @Ins;
             COMMIT TRANSACTION;"
        ),
    }
}

/// History runs g in [lo, hi) of `total`, ending six to seven months ago, ProcessID -(g+1),
/// LogIDs -(2g+1) and -(2g+2).
fn history_chunk(kind: BackendKind, prefix: &str, lo: i64, hi: i64, total: i64) -> String {
    let month = 30 * 86_400;
    match kind {
        BackendKind::Postgres => format!(
            "WITH g AS (SELECT g, now() - make_interval(secs => {SPREAD_SECONDS} + ({total} - g)::float8 * {month} / {total}) AS e
                        FROM generate_series({lo}, {hi} - 1) AS g),
                  r AS (SELECT g, e, e - make_interval(secs => 1 + g % 120) AS s,
                               CASE WHEN g % 100 < 95 THEN 'Completed' WHEN g % 100 < 99 THEN 'Failed' ELSE 'Cancelled' END AS st
                        FROM g),
                  ins AS (INSERT INTO stage.FileControl_History
                              (ProcessID, ProcessName, Status, CreatedAt, WorkerAssigned, StartTime, EndTime, Parameters,
                               Attempt, MaxAttempts, RunAfter, ExitCode, CancelRequested, OverlapPolicy, Executor, CommandStartedAt)
                          SELECT -(g + 1), '{prefix}-t' || (g % 10), st, s, 'bench-host/' || (g % 8), s, e,
                                 '{{\"file\":\"in-' || g || '.csv\"}}', 1, 1, s,
                                 CASE st WHEN 'Completed' THEN 0 WHEN 'Failed' THEN 1 END, false, 'parallel', 'driver', s
                          FROM r
                          RETURNING ProcessID, Status, WorkerAssigned, StartTime, EndTime)
             INSERT INTO stage.ProcessLog_History (LogID, ProcessID, Message, LogLevel, LogTime)
             SELECT 2 * ProcessID + 1, ProcessID, 'Claimed by ' || WorkerAssigned || ' (attempt 1 of 1)', 'Info', StartTime FROM ins
             UNION ALL
             SELECT 2 * ProcessID, ProcessID, Status,
                    CASE Status WHEN 'Completed' THEN 'Info' WHEN 'Failed' THEN 'Error' ELSE 'Warning' END, EndTime
             FROM ins"
        ),
        BackendKind::SqlServer => format!(
            "SET NOCOUNT ON; SET XACT_ABORT ON;
             DECLARE @Now datetime2(3) = SYSUTCDATETIME();
             DECLARE @Ins TABLE (ProcessID bigint, Status varchar(20), WorkerAssigned nvarchar(255), StartTime datetime2(3), EndTime datetime2(3));
             BEGIN TRANSACTION;
             WITH n AS (SELECT TOP ({hi} - {lo}) {lo} - 1 + ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS g
                        FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b),
                  e AS (SELECT g, DATEADD(SECOND, -{SPREAD_SECONDS} - CAST(({total} - g) * CAST({month} AS float) / {total} AS int), @Now) AS e FROM n),
                  r AS (SELECT g, e, DATEADD(SECOND, -(1 + g % 120), e) AS s,
                               CASE WHEN g % 100 < 95 THEN 'Completed' WHEN g % 100 < 99 THEN 'Failed' ELSE 'Cancelled' END AS st
                        FROM e)
             INSERT INTO stage.FileControl_History
                 (ProcessID, ProcessName, Status, CreatedAt, WorkerAssigned, StartTime, EndTime, Parameters,
                  Attempt, MaxAttempts, RunAfter, ExitCode, CancelRequested, OverlapPolicy, Executor, CommandStartedAt)
             OUTPUT inserted.ProcessID, inserted.Status, inserted.WorkerAssigned, inserted.StartTime, inserted.EndTime
             INTO @Ins (ProcessID, Status, WorkerAssigned, StartTime, EndTime)
             SELECT -(g + 1), CONCAT('{prefix}-t', g % 10), st, s, CONCAT('bench-host/', g % 8), s, e,
                    CONCAT('{{\"file\":\"in-', g, '.csv\"}}'), 1, 1, s,
                    CASE st WHEN 'Completed' THEN 0 WHEN 'Failed' THEN 1 END, 0, 'parallel', 'driver', s
             FROM r;
             INSERT INTO stage.ProcessLog_History (LogID, ProcessID, Message, LogLevel, LogTime)
             SELECT 2 * ProcessID + 1, ProcessID, CONCAT('Claimed by ', WorkerAssigned, ' (attempt 1 of 1)'), 'Info', StartTime FROM @Ins
             UNION ALL
             SELECT 2 * ProcessID, ProcessID, Status,
                    CASE Status WHEN 'Completed' THEN 'Info' WHEN 'Failed' THEN 'Error' ELSE 'Warning' END, EndTime
             FROM @Ins;
             COMMIT TRANSACTION;"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::PrefillArgs;
    use clap::Parser;

    #[derive(Parser)]
    struct Bench {
        #[command(flatten)]
        prefill: PrefillArgs,
    }

    #[test]
    fn a_negative_prefill_is_refused_naming_the_option() {
        let error = Bench::try_parse_from(["bench", "--prefill", "-1"])
            .err()
            .expect("-1 refused")
            .to_string();
        assert!(error.contains("'-1' for '--prefill <ROWS>'"), "{error}");
        let parsed = Bench::try_parse_from(["bench", "--prefill", "12"]).expect("12 accepted");
        assert_eq!(parsed.prefill.prefill, 12);
    }
}
