//! `stagehand bench rotation`: rotates a month of finished runs past the retention (with
//! two log rows each) into history, batch by batch as the driver's housekeeping does,
//! while workers claim and complete work through the procedures; prints the claim
//! latency beside the rotation against the same load just before it (the baseline), the
//! rotation's rate, and on SQL Server how many lock escalations the tables saw meanwhile.

use super::percentiles;
use super::prefill::{Prefill, PrefillArgs};
use super::scratch::{self, ScratchArgs, Target};
use crate::driver::{rotate_in_batches, ROTATION_REST};
use crate::store::{Backend, BackendKind, ClaimRequest, Completion, FinalStatus};
use anyhow::{bail, Context, Result};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The seed's retention, which the rotation applies.
const RETENTION_MONTHS: i32 = 6;
/// Processes a registration call adds to keep the workers busy.
const REFILL: usize = 500;

#[derive(Debug, clap::Args)]
pub struct RotationArgs {
    /// Finished runs past the retention to rotate (a month of the seed's load: 4000000).
    #[arg(long, default_value_t = 400_000)]
    rows: i64,
    // Within the retention, kept in the tables meanwhile.
    #[command(flatten)]
    prefill: PrefillArgs,
    /// Concurrent workers claiming and completing during the whole run.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Processes per claim and per completion call.
    #[arg(long, default_value_t = 10)]
    batch: i32,
    /// Processes per RotateHistory batch, each its own transaction.
    #[arg(long, default_value_t = 1000)]
    rotate_batch: i32,
    /// Rest after each rotation batch, as a multiple of the batch's time (the driver rests 1.0).
    #[arg(long, default_value_t = ROTATION_REST)]
    rest: f64,
    /// Seconds of the same load measured without rotation first, as the baseline.
    #[arg(long, default_value_t = 10)]
    baseline_seconds: u64,
    #[command(flatten)]
    scratch: ScratchArgs,
}

/// One claim call of a worker, and how many processes its completion finished.
struct Sample {
    at: Instant,
    claim_ms: f64,
    completed: usize,
}

pub async fn run(database: &Option<String>, args: &RotationArgs) -> Result<ExitCode> {
    if args.rows < 1 || args.workers == 0 || args.batch < 1 {
        bail!("--rows, --workers and --batch must be at least 1");
    }
    if !(1..=4000).contains(&args.rotate_batch) || args.baseline_seconds == 0 {
        bail!("--rotate-batch must be between 1 and 4000, --baseline-seconds at least 1");
    }
    if !(0.0..=100.0).contains(&args.rest) {
        bail!("--rest must be between 0 and 100");
    }
    scratch::measure(
        database,
        (args.workers + 3) as u32,
        &args.scratch,
        |target| measure_in(target, args),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn measure_in(target: Target, args: &RotationArgs) -> Result<()> {
    let db = &target.db;
    super::refuse_if_busy(db).await?;
    refuse_if_rotatable(db).await?;
    println!(
        "stagehand bench rotation on {}: {} runs past the retention, {} workers, batch {}, rotation batch {}, rest {}",
        db.kind(),
        args.rows,
        args.workers,
        args.batch,
        args.rotate_batch,
        args.rest
    );
    let live = args.prefill.fill(&target).await?;
    let outcome = match Prefill::fill_past_retention(&target, args.rows).await {
        Ok(old) => {
            let outcome = measure(db, args).await;
            old.remove(db).await?;
            outcome
        }
        Err(e) => Err(e),
    };
    if let Some(live) = live {
        live.remove(db).await?;
    }
    outcome
}

/// The bench rotates whatever is past the retention: refuse rather than move a user's rows.
async fn refuse_if_rotatable(db: &Arc<dyn Backend>) -> Result<()> {
    let cutoff = match db.kind() {
        BackendKind::Postgres => format!("now() - interval '{RETENTION_MONTHS} months'"),
        BackendKind::SqlServer => format!("DATEADD(MONTH, -{RETENTION_MONTHS}, SYSUTCDATETIME())"),
    };
    let old = db
        .query_i64(&format!(
            "SELECT COUNT(*) FROM stage.FileControl WHERE Status IN ('Completed', 'Failed', 'Cancelled') AND EndTime < {cutoff}"
        ))
        .await?
        .unwrap_or(0);
    if old > 0 {
        bail!("{old} finished runs in this database are past a {RETENTION_MONTHS}-month retention; the bench would rotate them. Point it at a scratch database, or rotate first.");
    }
    Ok(())
}

async fn measure(db: &Arc<dyn Backend>, args: &RotationArgs) -> Result<()> {
    let name = format!("stagehand-bench-{}-rotation", std::process::id());
    // At the database's level, as a driver's own tasks run.
    super::BenchTaskArgs::default().save(db, &name).await?;
    let outcome = measure_with_task(db, &name, args).await;
    super::cleanup(db, &name).await?;
    outcome
}

async fn measure_with_task(db: &Arc<dyn Backend>, name: &str, args: &RotationArgs) -> Result<()> {
    let stop = CancellationToken::new();
    // Registration stays this far ahead of the workers: the queue never runs dry, nor grows.
    let budget = Arc::new(Semaphore::new(
        (args.workers * args.batch as usize * 20).max(2 * REFILL),
    ));
    let mut load = tokio::task::JoinSet::new();
    load.spawn(register_ahead(
        db.clone(),
        name.to_string(),
        budget.clone(),
        stop.clone(),
    ));
    for w in 0..args.workers {
        load.spawn(work(
            db.clone(),
            format!("{name}/w{w}"),
            args.batch,
            budget.clone(),
            stop.clone(),
        ));
    }
    // A second to warm up, then the baseline window, then the rotation.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline_from = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.baseline_seconds)).await;
    let escalations_before = lock_escalations(db).await;
    let rotation_from = Instant::now();
    let rotated = rotate_all(db, args.rotate_batch, args.rest).await;
    let rotation_to = Instant::now();
    let escalations_after = lock_escalations(db).await;
    stop.cancel();
    let mut samples = Vec::new();
    while let Some(joined) = load.join_next().await {
        samples.extend(joined.context("bench load task")??);
    }
    let (moved, logs, batch_ms) = rotated?;
    let seconds = (rotation_to - rotation_from).as_secs_f64();
    let batches = batch_ms.len();
    let batch_max = batch_ms.iter().copied().fold(f64::NAN, f64::max);
    let (batch_p50, batch_p99) = percentiles(batch_ms);
    println!(
        "rotated {moved} runs and {logs} log rows in {seconds:.1} s: {:.0} runs/s; {batches} batches (a transaction each): p50 {batch_p50:.0} ms, p99 {batch_p99:.0} ms, max {batch_max:.0} ms",
        moved as f64 / seconds
    );
    if moved < args.rows {
        bail!(
            "only {moved} of {} runs past the retention were rotated",
            args.rows
        );
    }
    let without = Window::of(&samples, baseline_from, rotation_from);
    let during = Window::of(&samples, rotation_from, rotation_to);
    println!(
        "claim latency beside the rotation: {} | without: {} | p99 ratio {:.2}",
        during.latency(),
        without.latency(),
        during.p99 / without.p99
    );
    println!(
        "claim+complete beside the rotation: {:.0}/s | without: {:.0}/s | ratio {:.2}",
        during.rate,
        without.rate,
        during.rate / without.rate
    );
    match (escalations_before, escalations_after) {
        (Ok(Some(before)), Ok(Some(after))) => println!(
            "lock escalation attempts on the stage tables during the rotation: {}",
            after - before
        ),
        (Err(e), _) | (_, Err(e)) => println!("lock escalations: not measured ({e:#})"),
        _ => {}
    }
    Ok(())
}

/// Registers processes whenever the workers have made room in the budget.
async fn register_ahead(
    db: Arc<dyn Backend>,
    name: String,
    budget: Arc<Semaphore>,
    stop: CancellationToken,
) -> Result<Vec<Sample>> {
    let batch =
        serde_json::Value::Array(vec![serde_json::json!({ "name": name }); REFILL]).to_string();
    loop {
        tokio::select! {
            permits = budget.acquire_many(REFILL as u32) => permits.context("bench budget")?.forget(),
            () = stop.cancelled() => return Ok(Vec::new()),
        }
        db.register_many(&batch)
            .await
            .context("registering bench processes")?;
    }
}

/// Claims and completes until stopped, timing each claim.
async fn work(
    db: Arc<dyn Backend>,
    worker: String,
    batch: i32,
    budget: Arc<Semaphore>,
    stop: CancellationToken,
) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    while !stop.is_cancelled() {
        let request = ClaimRequest {
            worker_name: &worker,
            max_count: batch,
            lease_seconds: 60,
            slots: None,
        };
        let at = Instant::now();
        let claimed = db.claim(&request).await.context("claiming")?;
        let claim_ms = at.elapsed().as_secs_f64() * 1000.0;
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
        let completed = if completions.is_empty() {
            0
        } else {
            let results = db.complete(&completions).await.context("completing")?;
            results.iter().filter(|r| r.accepted).count()
        };
        budget.add_permits(completed);
        samples.push(Sample {
            at,
            claim_ms,
            completed,
        });
        if claimed.is_empty() {
            // The registrar is behind: let it run rather than spin on empty claims.
            tokio::task::yield_now().await;
        }
    }
    Ok(samples)
}

/// Rotates as the driver's housekeeping does, resting `rest` times each batch's time:
/// (runs moved, log rows moved, each batch's milliseconds).
async fn rotate_all(db: &Arc<dyn Backend>, batch: i32, rest: f64) -> Result<(i64, i64, Vec<f64>)> {
    let (mut moved, mut logs, mut times) = (0, 0, Vec::new());
    rotate_in_batches(
        db,
        RETENTION_MONTHS,
        batch,
        rest,
        &CancellationToken::new(),
        |report, took| {
            moved += report.processes_moved;
            logs += report.logs_moved;
            times.push(took.as_secs_f64() * 1000.0);
        },
    )
    .await
    .context("RotateHistory")?;
    Ok((moved, logs, times))
}

/// SQL Server's count of lock escalation attempts on the four tables a rotation touches
/// (None on PostgreSQL, which never escalates row locks). Needs VIEW DATABASE STATE.
async fn lock_escalations(db: &Arc<dyn Backend>) -> Result<Option<i64>> {
    if db.kind() != BackendKind::SqlServer {
        return Ok(None);
    }
    db.query_i64(LOCK_ESCALATIONS_SQL)
        .await
        .context("reading sys.dm_db_index_operational_stats")
}

const LOCK_ESCALATIONS_SQL: &str = "SELECT CAST(COALESCE(SUM(s.index_lock_promotion_attempt_count), 0) AS bigint) \
     FROM sys.dm_db_index_operational_stats(DB_ID(), NULL, NULL, NULL) AS s \
     WHERE s.object_id IN (OBJECT_ID('stage.FileControl'), OBJECT_ID('stage.ProcessLog'), \
                           OBJECT_ID('stage.FileControl_History'), OBJECT_ID('stage.ProcessLog_History'))";

/// The claims made in a time window: latency percentiles and completions per second.
struct Window {
    claims: usize,
    p50: f64,
    p99: f64,
    max: f64,
    rate: f64,
}

impl Window {
    fn of(samples: &[Sample], from: Instant, to: Instant) -> Window {
        let inside: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.at >= from && s.at < to)
            .collect();
        let latencies: Vec<f64> = inside.iter().map(|s| s.claim_ms).collect();
        let max = latencies.iter().copied().fold(f64::NAN, f64::max);
        let (p50, p99) = percentiles(latencies);
        let completed: usize = inside.iter().map(|s| s.completed).sum();
        Window {
            claims: inside.len(),
            p50,
            p99,
            max,
            rate: completed as f64 / (to - from).as_secs_f64(),
        }
    }

    fn latency(&self) -> String {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} claims)",
            self.p50, self.p99, self.max, self.claims
        )
    }
}
