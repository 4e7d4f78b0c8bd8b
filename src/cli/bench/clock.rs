//! `stagehand bench clock`: N tasks with two triggers each are saved; then
//! - load: the time to read them all and compute every next fire, and the clock's
//!   resident memory (Linux);
//! - lateness: a running clock (with those N tasks loaded) enqueues F extra tasks whose
//!   `once` triggers fall due in the same second; lateness = CreatedAt - ScheduledFor.
//!
//! The lateness tasks are external, so no command runs: only enqueueing is measured.

use super::super::open_store;
use super::{cleanup, percentiles, refuse_if_busy};
use crate::catalog;
use crate::clock::{self, ClockConfig};
use crate::schedule::parse_task;
use crate::store::{Backend, TaskSave};
use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Duration as TimeDelta, DurationRound, Utc};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub struct ClockArgs {
    /// Tasks (two triggers each) for the load measurement.
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Triggers falling due in the same second for the lateness measurement.
    #[arg(long, default_value_t = 1000)]
    due: usize,
}

/// Tasks per stage.SaveTasks call while setting up.
const SAVE_CHUNK: usize = 1000;

fn task_json(name: &str, index: usize, triggers: &str) -> String {
    format!(
        r#"{{"id":"{name}","command":"true","timeZone":"UTC","ifRunning":"parallel","executor":"external","description":"bench task {index}","triggers":{triggers}}}"#
    )
}

async fn save_all(db: &Arc<dyn Backend>, jsons: impl Iterator<Item = String>) -> Result<usize> {
    let now = Utc::now();
    let mut chunk: Vec<TaskSave> = Vec::with_capacity(SAVE_CHUNK);
    let mut saved = 0;
    for json in jsons {
        let task = parse_task(&json).map_err(|e| anyhow!("bench task: {e}"))?;
        chunk.push(catalog::to_save(&task, now));
        if chunk.len() == SAVE_CHUNK {
            saved += db.save_tasks(&chunk).await?.len();
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        saved += db.save_tasks(&chunk).await?.len();
    }
    Ok(saved)
}

/// Resident set size of this process in bytes (Linux), for the clock's memory.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Starts a new peak resident set size (Linux: VmHWM is set to the current size).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident set size in bytes since [`reset_peak`] (Linux).
fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

pub async fn run(database: &Option<String>, args: &ClockArgs) -> Result<ExitCode> {
    if args.tasks == 0 || args.due == 0 {
        bail!("--tasks and --due must be at least 1");
    }
    let db = open_store(database, 16).await?;
    refuse_if_busy(&db).await?;
    let prefix = format!("stagehand-clockbench-{}-", std::process::id());
    let outcome = measure(&db, &prefix, args).await;
    cleanup(&db, &prefix).await?;
    outcome?;
    Ok(ExitCode::SUCCESS)
}

async fn measure(db: &Arc<dyn Backend>, prefix: &str, args: &ClockArgs) -> Result<()> {
    println!(
        "stagehand bench clock on {}: {} tasks x 2 triggers, {} due in one second",
        db.kind(),
        args.tasks,
        args.due
    );
    let started = Instant::now();
    let saved = save_all(
        db,
        (0..args.tasks).map(|i| {
            let (hour, minute) = (i % 24, (i / 24) % 60);
            let triggers = format!(
                r#"[{{"recurrence":"daily","start":"2024-01-01T{hour:02}:{minute:02}:00"}},{{"recurrence":"weekly","start":"2024-01-01T{:02}:{:02}:00","weekdays":["mon","thu"]}}]"#,
                (i * 7) % 24,
                (i * 13) % 60
            );
            task_json(&format!("{prefix}{i}"), i, &triggers)
        }),
    )
    .await?;
    println!(
        "setup: saved {saved} tasks in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let before = resident_bytes();
    let peak_reset = reset_peak();
    let started = Instant::now();
    let version = db.schedule_version().await?;
    let state = clock::load(&**db, version, Utc::now()).await?;
    let load_time = started.elapsed();
    let mib = |after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) => format!("+{:.1} MiB", a.saturating_sub(b) as f64 / 1048576.0),
        _ => "n/a (Linux only)".to_string(),
    };
    let memory = format!(
        "{} (peak while loading {})",
        mib(resident_bytes()),
        mib(peak_bytes().filter(|_| peak_reset))
    );
    println!(
        "load: {} triggers read and next fires computed in {:.2} s; clock resident memory {memory}",
        state.triggers(),
        load_time.as_secs_f64()
    );
    drop(state);

    // Due far enough ahead for a running clock to load everything first.
    let lead = TimeDelta::from_std(load_time * 3 + Duration::from_secs(5))?;
    let due_at: DateTime<Utc> =
        (Utc::now() + lead).duration_trunc(TimeDelta::seconds(1))? + TimeDelta::seconds(1);
    let due_text = due_at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    save_all(
        db,
        (0..args.due).map(|i| {
            let triggers = format!(r#"[{{"recurrence":"once","start":"{due_text}"}}]"#);
            task_json(&format!("{prefix}due-{i}"), i, &triggers)
        }),
    )
    .await?;
    let stop = CancellationToken::new();
    let (windows, _) = tokio::sync::watch::channel(clock::StopWindows::default());
    let running = tokio::spawn(clock::run(
        db.clone(),
        ClockConfig::default(),
        stop.clone(),
        windows,
        Default::default(),
    ));
    let expected = args.due as i64;
    let count_sql =
        format!("SELECT COUNT(*) FROM stage.FileControl WHERE ProcessName LIKE '{prefix}due-%'");
    let deadline = due_at + TimeDelta::seconds(120);
    while db.query_i64(&count_sql).await?.unwrap_or(0) < expected {
        if Utc::now() > deadline {
            stop.cancel();
            bail!("the clock did not enqueue all {expected} due runs within 2 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.cancel();
    running.await.context("clock task")?;

    let bound = |f: &str| {
        format!(
            "SELECT {f}(ProcessID) FROM stage.FileControl WHERE ProcessName LIKE '{prefix}due-%'"
        )
    };
    let first = db
        .query_i64(&bound("MIN"))
        .await?
        .context("no enqueued run")?;
    let last = db
        .query_i64(&bound("MAX"))
        .await?
        .context("no enqueued run")?;
    let mut lateness = Vec::with_capacity(args.due);
    for id in first..=last {
        if let Some(row) = db.process(id).await? {
            if let Some(scheduled) = row
                .scheduled_for
                .filter(|_| row.process_name.starts_with(prefix))
            {
                lateness.push(
                    (row.created_at - scheduled).num_microseconds().unwrap_or(0) as f64 / 1000.0,
                );
            }
        }
    }
    let (median, p99) = percentiles(lateness);
    println!(
        "lateness of {} runs due in the same second: median {median:.1} ms, p99 {p99:.1} ms",
        args.due
    );
    Ok(())
}
