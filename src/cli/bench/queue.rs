//! `stagehand bench queue`: register N no-op processes, then claim and complete them with W
//! concurrent workers in batches, and print the rates. It runs against the database it
//! is pointed at, so it refuses to start while other driver work is queued there (its
//! workers would claim it), and it deletes its own rows afterwards. `--prefill` measures
//! with six months of finished runs in the tables, `--baseline` beside the raw pattern.
//! `--bulk N` then registers as many processes through `stage.RegisterProcesses`, N a
//! call (its baseline: multi-row INSERTs of N rows). Workers record a batch and claim the
//! next in one `stage.CompleteAndClaim` call (`--separate-calls`: two calls, as before).
//! `--scratch`: in a database of its own, dropped at the end.

use super::baseline::RawQueue;
use super::prefill::PrefillArgs;
use super::scratch::{self, ScratchArgs, Target};
use super::BenchTaskArgs;
use crate::store::{Backend, BackendKind, ClaimRequest, Completion, FinalStatus};
use anyhow::{bail, Context, Result};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// How many processes to register, claim and complete.
    #[arg(long, default_value_t = 20_000)]
    processes: usize,
    /// Concurrent workers claiming and completing (comma-separated for several runs: 4,16).
    #[arg(long, value_delimiter = ',', default_value = "4,16")]
    workers: Vec<usize>,
    /// Processes per claim and per completion call.
    #[arg(long, default_value_t = 10)]
    batch: i32,
    /// Concurrent registering connections.
    #[arg(long, default_value_t = 8)]
    registrars: usize,
    /// Elements per stage.RegisterProcesses call in the bulk registration run (0: none).
    #[arg(long, default_value_t = 1000)]
    bulk: usize,
    #[command(flatten)]
    prefill: PrefillArgs,
    /// Also measure the raw queue pattern on a scratch table with the same registrars,
    /// workers and batch, and print each figure beside it.
    #[arg(long)]
    baseline: bool,
    /// Complete a batch and claim the next in two calls (stage.CompleteProcesses, then
    /// stage.ClaimProcesses) instead of one stage.CompleteAndClaim.
    #[arg(long)]
    separate_calls: bool,
    #[command(flatten)]
    task: BenchTaskArgs,
    #[command(flatten)]
    scratch: ScratchArgs,
}

pub async fn run(database: &Option<String>, args: &QueueArgs) -> Result<ExitCode> {
    if args.batch < 1 || args.processes == 0 || args.workers.contains(&0) {
        bail!("--processes, --workers and --batch must be at least 1");
    }
    let max_workers = args.workers.iter().copied().max().unwrap_or(1);
    let connections = (max_workers.max(args.registrars) + 2) as u32;
    scratch::measure(database, connections, &args.scratch, |target| {
        measure_in(target, args)
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn measure_in(target: Target, args: &QueueArgs) -> Result<()> {
    let db = &target.db;
    super::refuse_if_busy(db).await?;
    println!(
        "stagehand bench on {}: {} processes, batch {}, workers {:?}, log level {}",
        db.kind(),
        args.processes,
        args.batch,
        args.workers,
        args.task.describe()
    );
    let prefill = args.prefill.fill(&target).await?;
    let outcome = measure_all(db, args).await;
    if let Some(prefill) = prefill {
        if outcome.is_ok() {
            super::monitor::print_timings(db, 3).await?;
        }
        prefill.remove(db).await?;
    }
    outcome
}

async fn measure_all(db: &Arc<dyn Backend>, args: &QueueArgs) -> Result<()> {
    for &workers in &args.workers {
        let name = format!("stagehand-bench-{}-{}", std::process::id(), workers);
        args.task.save(db, &name).await?;
        let outcome = measure(db, &name, args, workers).await;
        super::cleanup(db, &name).await?;
        vacuum(db).await?;
        let (registered, completed) = outcome?;
        let (raw_registered, raw_completed) = if args.baseline {
            let raw = RawQueue::create(db).await?;
            let outcome = raw_rates(db, &raw, args, workers).await;
            raw.drop(db).await?;
            let (r, c) = outcome?;
            (Some(r), Some(c))
        } else {
            (None, None)
        };
        println!(
            "workers {workers:>3}: register {} || claim+complete {}",
            super::beside(registered, raw_registered),
            super::beside(completed, raw_completed)
        );
    }
    if args.bulk > 0 {
        measure_bulk(db, args).await?;
    }
    Ok(())
}

/// PostgreSQL: vacuums what a run deleted and the row versions its claims and completions
/// left, so that the next run (of this series or the next) starts from the state this one
/// did instead of stepping over them in IX_FileControl_Pending until autovacuum comes by,
/// in the middle of some later run. The statistics are left as autovacuum made them.
async fn vacuum(db: &Arc<dyn Backend>) -> Result<()> {
    if db.kind() == BackendKind::Postgres {
        db.execute_sql("VACUUM stage.FileControl, stage.ProcessLog")
            .await
            .context("vacuuming the bench's deleted rows")?;
    }
    Ok(())
}

/// `stage.RegisterProcesses` with `--bulk` elements a call from `--registrars`
/// connections, beside multi-row INSERTs of as many rows into the scratch table.
async fn measure_bulk(db: &Arc<dyn Backend>, args: &QueueArgs) -> Result<()> {
    let name = format!("stagehand-bench-{}-bulk", std::process::id());
    args.task.save(db, &name).await?;
    let outcome = register_bulk(db, &name, args).await;
    super::cleanup(db, &name).await?;
    vacuum(db).await?;
    let registered = outcome?;
    let raw = if args.baseline {
        let raw = RawQueue::create(db).await?;
        let outcome = raw
            .register_many(db, args.processes, args.registrars, args.bulk)
            .await;
        raw.drop(db).await?;
        Some(outcome?)
    } else {
        None
    };
    println!(
        "bulk register ({} a call, {} connections): {}",
        args.bulk,
        args.registrars,
        super::beside(registered, raw)
    );
    Ok(())
}

async fn register_bulk(db: &Arc<dyn Backend>, name: &str, args: &QueueArgs) -> Result<f64> {
    let element = serde_json::json!({ "name": name });
    let started = Instant::now();
    let mut registrars = tokio::task::JoinSet::new();
    for chunks in calls(args.processes, args.registrars, args.bulk) {
        let db = db.clone();
        let batches: Vec<String> = chunks
            .into_iter()
            .map(|n| serde_json::Value::Array(vec![element.clone(); n]).to_string())
            .collect();
        registrars.spawn(async move {
            let mut registered = 0;
            for batch in &batches {
                let rows = db.register_many(batch).await?;
                registered += rows.iter().filter(|r| r.registered).count();
            }
            anyhow::Ok(registered)
        });
    }
    let mut registered = 0;
    while let Some(joined) = registrars.join_next().await {
        registered += joined.context("bulk registrar task")??;
    }
    let rate = args.processes as f64 / started.elapsed().as_secs_f64();
    if registered != args.processes {
        bail!(
            "bulk: {registered} of {} processes registered",
            args.processes
        );
    }
    Ok(rate)
}

/// `processes` split over `connections`, each share in calls of at most `per_call`:
/// the element counts of each connection's calls.
pub(super) fn calls(processes: usize, connections: usize, per_call: usize) -> Vec<Vec<usize>> {
    (0..connections)
        .map(|c| {
            let mut left = processes / connections + usize::from(c < processes % connections);
            let mut calls = Vec::new();
            while left > 0 {
                let n = left.min(per_call);
                calls.push(n);
                left -= n;
            }
            calls
        })
        .collect()
}

async fn raw_rates(
    db: &Arc<dyn Backend>,
    raw: &RawQueue,
    args: &QueueArgs,
    workers: usize,
) -> Result<(f64, f64)> {
    let registered = raw.register(db, args.processes, args.registrars).await?;
    raw.analyze(db).await?;
    let completed = raw
        .claim_complete(db, args.processes, workers, args.batch)
        .await?;
    Ok((registered, completed))
}

/// Returns (registrations/s, claims+completions/s).
async fn measure(
    db: &Arc<dyn Backend>,
    name: &str,
    args: &QueueArgs,
    workers: usize,
) -> Result<(f64, f64)> {
    let started = Instant::now();
    let mut registrars = tokio::task::JoinSet::new();
    for r in 0..args.registrars {
        let (db, name) = (db.clone(), name.to_string());
        let count =
            args.processes / args.registrars + usize::from(r < args.processes % args.registrars);
        registrars.spawn(async move {
            for _ in 0..count {
                db.register(&name, None, None).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = registrars.join_next().await {
        joined.context("registrar task")??;
    }
    let registered = args.processes as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut claimers = tokio::task::JoinSet::new();
    for w in 0..workers {
        let db = db.clone();
        let worker = format!("{name}/w{w}");
        let batch = args.batch;
        let separate = args.separate_calls;
        claimers.spawn(async move {
            let request = ClaimRequest {
                worker_name: &worker,
                max_count: batch,
                lease_seconds: 60,
                slots: None,
            };
            let mut done = 0_usize;
            let mut claimed = db.claim(&request).await?;
            while !claimed.is_empty() {
                let completions: Vec<Completion> = claimed
                    .iter()
                    .map(|p| {
                        Completion::new(
                            p.process_id,
                            &worker,
                            Some(p.attempt),
                            FinalStatus::Completed,
                        )
                    })
                    .collect();
                let results = if separate {
                    let results = db.complete(&completions).await?;
                    claimed = db.claim(&request).await?;
                    results
                } else {
                    let both = db.complete_and_claim(&completions, &request).await?;
                    claimed = both.claimed;
                    both.results
                };
                done += results.iter().filter(|r| r.accepted).count();
            }
            anyhow::Ok(done)
        });
    }
    let mut completed = 0;
    while let Some(joined) = claimers.join_next().await {
        completed += joined.context("worker task")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if completed != args.processes {
        bail!("{completed} of {} processes completed", args.processes);
    }
    Ok((registered, completed as f64 / elapsed))
}
