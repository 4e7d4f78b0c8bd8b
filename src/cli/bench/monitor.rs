//! `stagehand bench monitor`: how long each monitoring read takes (what `stagehand status`
//! and a Power BI report run), optionally after `--prefill ROWS` finished runs, optionally
//! in a scratch database (`--scratch`).

use super::prefill::PrefillArgs;
use super::scratch::{self, ScratchArgs, Target};
use super::{percentiles, refuse_if_busy};
use crate::store::Backend;
use anyhow::{bail, Context, Result};
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    prefill: PrefillArgs,
    /// Calls of each read; the median and the slowest are printed.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    #[command(flatten)]
    scratch: ScratchArgs,
}

pub async fn run(database: &Option<String>, args: &MonitorArgs) -> Result<ExitCode> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    scratch::measure(database, 4, &args.scratch, |target| measure(target, args)).await?;
    Ok(ExitCode::SUCCESS)
}

async fn measure(target: Target, args: &MonitorArgs) -> Result<()> {
    let db = &target.db;
    refuse_if_busy(db).await?;
    let prefill = args.prefill.fill(&target).await?;
    let outcome = print_timings(db, args.repeat).await;
    if let Some(prefill) = prefill {
        prefill.remove(db).await?;
    }
    outcome
}

/// Times every monitoring read `repeat` times and prints one line each.
pub async fn print_timings(db: &Arc<dyn Backend>, repeat: usize) -> Result<()> {
    let finished = db
        .query_i64("SELECT COUNT(*) FROM stage.FileControl WHERE Status IN ('Completed', 'Failed', 'Cancelled')")
        .await?
        .unwrap_or(0);
    println!(
        "monitoring reads on {} with {finished} finished runs in stage.FileControl (ms, median / max of {repeat}):",
        db.kind()
    );
    time(db, repeat, "ProcessStatusSummary", |db| async move {
        db.status_summary().await.map(drop)
    })
    .await?;
    time(db, repeat, "WorkerStatistics", |db| async move {
        db.worker_statistics().await.map(drop)
    })
    .await?;
    time(db, repeat, "OverdueProcesses", |db| async move {
        db.overdue_processes().await.map(drop)
    })
    .await?;
    time(db, repeat, "TableSpace", |db| async move {
        db.table_space().await.map(drop)
    })
    .await?;
    time(db, repeat, "TaskStatus", |db| async move {
        db.task_status().await.map(drop)
    })
    .await?;
    // What `stagehand status` reads, concurrently as it does.
    time(db, repeat, "stagehand status", |db| async move {
        tokio::try_join!(
            db.status_summary(),
            db.running_processes(),
            db.worker_statistics(),
            db.overdue_processes(),
            db.table_space(),
            db.failed_processes(chrono::Utc::now() - chrono::Duration::hours(24), 20),
            db.drivers(),
            db.task_status(),
        )
        .map(drop)
    })
    .await
}

async fn time<F, Fut>(db: &Arc<dyn Backend>, repeat: usize, what: &str, read: F) -> Result<()>
where
    F: Fn(Arc<dyn Backend>) -> Fut,
    Fut: Future<Output = crate::store::StoreResult<()>>,
{
    let mut sample = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let started = Instant::now();
        read(db.clone())
            .await
            .with_context(|| format!("reading {what}"))?;
        sample.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let max = sample.iter().copied().fold(0.0, f64::max);
    let (median, _) = percentiles(sample);
    println!("  {what:<22} {median:>9.1} / {max:>9.1}");
    Ok(())
}
