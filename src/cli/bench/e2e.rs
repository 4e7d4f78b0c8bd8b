//! `stagehand bench e2e`: a real driver (in this process) runs real commands.
//! - throughput: N processes of `true` (started directly, no shell) registered up front,
//!   timed until all are Completed;
//! - idle latency: with the driver idle, one registration at a time of a command that
//!   prints the time it started (`date +%s%N`); latency = that time - the time just
//!   before RegisterProcess was called.
//!
//! `--prefill` measures with six months of finished runs in the tables; `--baseline` also
//! times a bare loop spawning the same command with as many concurrent spawners as workers.

use super::super::database_url;
use super::machine_cpu;
use super::prefill::PrefillArgs;
use super::scratch::{self, ScratchArgs, Target};
use super::{cleanup, percentiles, refuse_if_busy, BenchTaskArgs};
use crate::driver::{self, DriverConfig, HousekeepingConfig, Secrets, Shutdown};
use crate::store::{Backend, TaskRecord};
use anyhow::{bail, Context, Result};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, clap::Args)]
pub struct E2eArgs {
    /// Processes per throughput run.
    #[arg(long, default_value_t = 2000)]
    processes: usize,
    /// Worker counts to measure (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    workers: Vec<usize>,
    /// Registrations for the idle-latency sample.
    #[arg(long, default_value_t = 200)]
    latency_samples: usize,
    #[command(flatten)]
    prefill: PrefillArgs,
    /// Also time a bare spawn loop of `true` per worker count, and print the ratio.
    #[arg(long)]
    baseline: bool,
    #[command(flatten)]
    task: BenchTaskArgs,
    #[command(flatten)]
    scratch: ScratchArgs,
}

/// A driver as `stagehand run` configures one (secrets included: their cost is part of
/// every run), with `workers` set per measurement.
fn config(secrets: Secrets) -> DriverConfig {
    DriverConfig {
        workers: 1,
        worker_prefix: format!("bench/{}", std::process::id()),
        lease: Duration::from_secs(30),
        heartbeat_every: Duration::from_secs(1),
        poll_min: Duration::from_millis(25),
        poll_max: Duration::from_millis(2000),
        grace: Duration::from_secs(5),
        output_dir: None,
        housekeeping: HousekeepingConfig {
            reset_every: Duration::from_secs(3600),
            reset_timeout_minutes: 60,
            rotate_every: None,
            retention_months: 6,
        },
        print_summaries: false,
        clock: None,
        secrets: Arc::new(secrets),
        notifier: None,
        metrics: Default::default(),
    }
}

/// Runs a driver until `work` returns, then shuts it down.
async fn with_driver<T>(
    db: &Arc<dyn Backend>,
    config: &DriverConfig,
    workers: usize,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let shutdown = Shutdown::default();
    let config = DriverConfig {
        workers,
        ..config.clone()
    };
    let driver = tokio::spawn(driver::run(db.clone(), config, shutdown.clone()));
    let result = work.await;
    shutdown.graceful.cancel();
    driver.await.context("driver task")?;
    result
}

/// How many runs of `name` completed; an error as soon as one ended otherwise (a bench
/// of `true` that waited for it would wait forever).
async fn completed(db: &Arc<dyn Backend>, name: &str) -> Result<i64> {
    // Generated bench names only (see `cleanup`).
    let sql = format!("SELECT COUNT(*) FROM stage.FileControl WHERE ProcessName = '{name}' AND Status = 'Completed'");
    let completed = db.query_i64(&sql).await?.unwrap_or(0);
    let sql = format!("SELECT MIN(ProcessID) FROM stage.FileControl WHERE ProcessName = '{name}' AND Status IN ('Failed', 'Cancelled')");
    if let Some(id) = db.query_i64(&sql).await? {
        let why = db
            .process_logs(id)
            .await?
            .into_iter()
            .map(|l| l.message)
            .next_back();
        bail!(
            "process {id} of the bench did not complete: {}",
            why.unwrap_or_default()
        );
    }
    Ok(completed)
}

pub async fn run(database: &Option<String>, args: &E2eArgs) -> Result<ExitCode> {
    if args.processes == 0 || args.workers.contains(&0) {
        bail!("--processes and --workers must be at least 1");
    }
    let max_workers = args.workers.iter().copied().max().unwrap_or(1);
    let config = config(Secrets::of(&database_url(database)?));
    scratch::measure(database, max_workers as u32 + 8, &args.scratch, |target| {
        measure_in(target, &config, args)
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn measure_in(target: Target, config: &DriverConfig, args: &E2eArgs) -> Result<()> {
    let db = &target.db;
    refuse_if_busy(db).await?;
    let prefix = format!("stagehand-e2e-{}-", std::process::id());
    let prefill = args.prefill.fill(&target).await?;
    let outcome = measure(db, config, &prefix, args).await;
    cleanup(db, &prefix).await?;
    if let Some(prefill) = prefill {
        prefill.remove(db).await?;
    }
    outcome
}

async fn measure(
    db: &Arc<dyn Backend>,
    config: &DriverConfig,
    prefix: &str,
    args: &E2eArgs,
) -> Result<()> {
    println!(
        "stagehand bench e2e on {}: commands `true`, {} processes per run",
        db.kind(),
        args.processes
    );
    for &workers in &args.workers {
        let name = format!("{prefix}true-{workers}");
        args.task.save(db, &name).await?;
        for _ in 0..args.processes {
            db.register(&name, None, None).await?;
        }
        let expected = args.processes as i64;
        let (elapsed, cpu) = with_driver(db, config, workers, async {
            let started = Instant::now();
            let cpu_before = machine_cpu::busy();
            while completed(db, &name).await? < expected {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok((
                started.elapsed(),
                machine_cpu::per_unit(cpu_before, args.processes),
            ))
        })
        .await?;
        let rate = args.processes as f64 / elapsed.as_secs_f64();
        let (bare, bare_cpu) = if args.baseline {
            let cpu_before = machine_cpu::busy();
            let rate = spawn_loop(args.processes, workers).await?;
            (
                Some(rate),
                machine_cpu::per_unit(cpu_before, args.processes),
            )
        } else {
            (None, None)
        };
        let cpu = match (cpu, bare_cpu) {
            (Some(cpu), Some(bare)) => {
                format!("; machine CPU a process {cpu:.2} ms | bare spawn {bare:.2} ms")
            }
            (Some(cpu), None) => format!("; machine CPU a process {cpu:.2} ms"),
            _ => String::new(),
        };
        println!(
            "workers {workers:>3}: {} ({} in {:.2} s{cpu})",
            super::beside(rate, bare),
            args.processes,
            elapsed.as_secs_f64()
        );
    }

    // `date` started directly (the task's program form); through `sh -c` add the shell's start-up.
    for (form, command, arguments) in [
        ("program", "date", Some(r#"["+%s%N"]"#)),
        ("shell", "date +%s%N", None),
    ] {
        let name = format!("{prefix}latency-{form}");
        let mut task = TaskRecord::new(&name, command);
        task.arguments = arguments.map(str::to_string);
        task.overlap_policy = "parallel".into();
        db.save_task(&task).await?;
        let (median, p99) = percentiles(latencies(db, config, &name, args.latency_samples).await?);
        println!(
            "idle latency, RegisterProcess to command start, {form} ({} samples): median {median:.2} ms, p99 {p99:.2} ms",
            args.latency_samples
        );
    }
    Ok(())
}

/// `processes` runs of `true` from `workers` concurrent spawners, each waiting for its
/// child; returns runs/s.
async fn spawn_loop(processes: usize, workers: usize) -> Result<f64> {
    let started = Instant::now();
    let mut spawners = tokio::task::JoinSet::new();
    for w in 0..workers {
        let count = processes / workers + usize::from(w < processes % workers);
        spawners.spawn(async move {
            for _ in 0..count {
                let status = tokio::process::Command::new("true")
                    .status()
                    .await
                    .context("spawning `true`")?;
                if !status.success() {
                    bail!("`true` exited with {status}");
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = spawners.join_next().await {
        joined.context("spawner task")??;
    }
    Ok(processes as f64 / started.elapsed().as_secs_f64())
}

/// Registers `samples` runs of `name` one at a time against an idle driver; returns each
/// run's latency in ms (from just before RegisterProcess to the time the command printed).
async fn latencies(
    db: &Arc<dyn Backend>,
    config: &DriverConfig,
    name: &str,
    samples: usize,
) -> Result<Vec<f64>> {
    with_driver(db, config, driver::default_workers(), async {
        // Let the driver settle into its idle wait first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut sent = Vec::with_capacity(samples);
        for _ in 0..samples {
            let before = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as i128;
            let id = db.register(name, None, None).await?.process_id;
            sent.push((id, before));
            // Idle again before the next one: each sample starts from a waiting driver.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let expected = samples as i64;
        while completed(db, name).await? < expected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut latencies = Vec::with_capacity(sent.len());
        for (id, before) in sent {
            let logs = db.process_logs(id).await?;
            let started: i128 = logs
                .iter()
                .find(|l| l.message == "stdout")
                .and_then(|l| l.detail.as_deref())
                .and_then(|d| d.trim().parse().ok())
                .with_context(|| format!("process {id} printed no start time"))?;
            latencies.push((started - before) as f64 / 1e6);
        }
        Ok(latencies)
    })
    .await
}
