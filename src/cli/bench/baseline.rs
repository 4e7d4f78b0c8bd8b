//! `--baseline`: the raw queue pattern on a scratch table in the same database, with the
//! same registrars, workers and batch as the stagehand run beside it, so each figure has
//! its ceiling measured in the same run on the same server. PostgreSQL claims with
//! `FOR UPDATE SKIP LOCKED`, SQL Server with `UPDATE TOP (n) ... WITH (UPDLOCK, READPAST,
//! ROWLOCK) ... OUTPUT`; completion is one UPDATE of the worker's claimed rows. Two round
//! trips per batch, as through the procedures. The table (`bench_raw_<pid>`, default
//! schema) is dropped afterwards.

use crate::store::{Backend, BackendKind};
use anyhow::{bail, Context, Result};
use std::sync::Arc;
use std::time::Instant;

pub struct RawQueue {
    table: String,
}

impl RawQueue {
    pub async fn create(db: &Arc<dyn Backend>) -> Result<RawQueue> {
        let table = format!("bench_raw_{}", std::process::id());
        let (id, text, time) = match db.kind() {
            BackendKind::Postgres => (
                "bigint GENERATED ALWAYS AS IDENTITY",
                "varchar(255)",
                "timestamptz NOT NULL DEFAULT now()",
            ),
            BackendKind::SqlServer => (
                "bigint IDENTITY",
                "nvarchar(255)",
                "datetime2(3) NOT NULL DEFAULT SYSUTCDATETIME()",
            ),
        };
        // One statement per call: PostgreSQL prepares each.
        for sql in [
            format!(
                "CREATE TABLE {table} (id {id} PRIMARY KEY, status varchar(20) NOT NULL DEFAULT 'Pending', \
                 worker {text} NULL, created_at {time}, parameters {text} NULL)"
            ),
            format!("CREATE INDEX {table}_pending ON {table} (id) WHERE status = 'Pending'"),
            format!("CREATE INDEX {table}_running ON {table} (worker) WHERE status = 'InProgress'"),
        ] {
            db.execute_sql(&sql)
                .await
                .context("creating the baseline's scratch table")?;
        }
        Ok(RawQueue { table })
    }

    pub async fn drop(self, db: &Arc<dyn Backend>) -> Result<()> {
        db.execute_sql(&format!("DROP TABLE {}", self.table))
            .await
            .context("dropping the baseline's scratch table")?;
        Ok(())
    }

    /// Gives the claim's plan the statistics any table in use has. A table just filled
    /// has none: PostgreSQL then guesses a few pending rows and claims by a bitmap scan
    /// of every pending row, sorted (work growing with the backlog, a third of what the
    /// pattern does once analysed), until autovacuum happens to analyse it mid-run.
    pub async fn analyze(&self, db: &Arc<dyn Backend>) -> Result<()> {
        let sql = match db.kind() {
            BackendKind::Postgres => format!("ANALYZE {}", self.table),
            BackendKind::SqlServer => format!("UPDATE STATISTICS {}", self.table),
        };
        db.execute_sql(&sql)
            .await
            .context("analysing the baseline's scratch table")?;
        Ok(())
    }

    /// Single-row INSERTs from `registrars` connections; returns rows/s.
    pub async fn register(
        &self,
        db: &Arc<dyn Backend>,
        processes: usize,
        registrars: usize,
    ) -> Result<f64> {
        let sql = format!("INSERT INTO {} (parameters) VALUES (NULL)", self.table);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for r in 0..registrars {
            let (db, sql) = (db.clone(), sql.clone());
            let count = processes / registrars + usize::from(r < processes % registrars);
            tasks.spawn(async move {
                for _ in 0..count {
                    db.execute_sql(&sql).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.context("baseline registrar")??;
        }
        Ok(processes as f64 / started.elapsed().as_secs_f64())
    }

    /// Multi-row INSERTs of `per_statement` rows from `registrars` connections (the ceiling
    /// of `stage.RegisterProcesses`); returns rows/s.
    pub async fn register_many(
        &self,
        db: &Arc<dyn Backend>,
        processes: usize,
        registrars: usize,
        per_statement: usize,
    ) -> Result<f64> {
        let insert = |rows: usize| {
            format!(
                "INSERT INTO {} (parameters) VALUES {}",
                self.table,
                vec!["(NULL)"; rows].join(", ")
            )
        };
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for chunks in super::queue::calls(processes, registrars, per_statement) {
            let db = db.clone();
            let statements: Vec<String> = chunks.into_iter().map(insert).collect();
            tasks.spawn(async move {
                for sql in &statements {
                    db.execute_sql(sql).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.context("baseline registrar")??;
        }
        Ok(processes as f64 / started.elapsed().as_secs_f64())
    }

    /// Claims and completes everything with `workers` connections, `batch` rows a claim;
    /// returns rows/s.
    pub async fn claim_complete(
        &self,
        db: &Arc<dyn Backend>,
        processes: usize,
        workers: usize,
        batch: i32,
    ) -> Result<f64> {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..workers {
            let db = db.clone();
            let (claim, complete) = self.statements(db.kind(), &format!("raw/w{w}"), batch);
            tasks.spawn(async move {
                let mut done = 0_u64;
                loop {
                    if db.query_i64(&claim).await?.unwrap_or(0) == 0 {
                        return anyhow::Ok(done);
                    }
                    done += db.execute_sql(&complete).await?;
                }
            });
        }
        let mut completed = 0;
        while let Some(joined) = tasks.join_next().await {
            completed += joined.context("baseline worker")??;
        }
        let elapsed = started.elapsed().as_secs_f64();
        if completed != processes as u64 {
            bail!("baseline: {completed} of {processes} rows completed");
        }
        Ok(processes as f64 / elapsed)
    }

    /// (claim returning how many rows it took, completion of the worker's claimed rows).
    fn statements(&self, kind: BackendKind, worker: &str, batch: i32) -> (String, String) {
        let table = &self.table;
        let complete = format!(
            "UPDATE {table} SET status = 'Completed' WHERE worker = '{worker}' AND status = 'InProgress'"
        );
        let claim = match kind {
            BackendKind::Postgres => format!(
                "WITH c AS (SELECT id FROM {table} WHERE status = 'Pending' ORDER BY id LIMIT {batch} FOR UPDATE SKIP LOCKED),
                      u AS (UPDATE {table} AS t SET status = 'InProgress', worker = '{worker}'
                            FROM c WHERE t.id = c.id RETURNING t.id)
                 SELECT count(*) FROM u"
            ),
            BackendKind::SqlServer => format!(
                "SET NOCOUNT ON;
                 DECLARE @c TABLE (id bigint);
                 UPDATE TOP ({batch}) {table} WITH (UPDLOCK, READPAST, ROWLOCK)
                 SET status = 'InProgress', worker = N'{worker}'
                 OUTPUT inserted.id INTO @c (id)
                 WHERE status = 'Pending';
                 SELECT COUNT_BIG(*) FROM @c;"
            ),
        };
        (claim, complete)
    }
}
