//! `stagehand bench`: measurements against the database it is pointed at. Each bench
//! refuses to start while other driver work is queued there (it would run it), and
//! deletes the rows it made; with `--scratch` (queue, e2e, monitor, rotation) it measures
//! in a database of its own instead, dropped at the end.

mod baseline;
#[cfg(unix)]
mod chaos;
mod clock;
mod e2e;
mod machine_cpu;
mod monitor;
mod prefill;
mod queue;
mod rotation;
mod scratch;

use crate::store::{Backend, LogLevel, TaskRecord};
use anyhow::{bail, Context, Result};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Registration and claim+completion throughput through the procedures (no commands run).
    Queue(queue::QueueArgs),
    /// End to end with a real driver running `true`: processes/s per worker count, and
    /// the idle latency from RegisterProcess to the command starting.
    E2e(e2e::E2eArgs),
    /// The trigger clock: load time and memory for many tasks, and how late runs are
    /// enqueued when many triggers fall due in the same second.
    Clock(clock::ClockArgs),
    /// How long each monitoring read takes (status, summaries, task status), optionally
    /// after prefilling six months of finished runs.
    Monitor(monitor::MonitorArgs),
    /// A month of finished runs past the retention rotated into history while workers
    /// claim and complete: claim latency beside the rotation against the same load without.
    Rotation(rotation::RotationArgs),
    /// Two real drivers, one SIGKILLed and restarted, the database restarted
    /// (--restart-cmd), sleepers past the lease, a lock per process: counts lost, failed,
    /// overlapping and re-run processes; exit 1 unless none is lost, failed or overlapping.
    #[cfg(unix)]
    Chaos(chaos::ChaosArgs),
}

pub async fn run(database: &Option<String>, command: &BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Queue(args) => queue::run(database, args).await,
        BenchCommand::E2e(args) => e2e::run(database, args).await,
        BenchCommand::Clock(args) => clock::run(database, args).await,
        BenchCommand::Monitor(args) => monitor::run(database, args).await,
        BenchCommand::Rotation(args) => rotation::run(database, args).await,
        #[cfg(unix)]
        BenchCommand::Chaos(args) => chaos::run(database, args).await,
    }
}

async fn refuse_if_busy(db: &Arc<dyn Backend>) -> Result<()> {
    let queued = db
        .query_i64("SELECT COUNT(*) FROM stage.FileControl WHERE Executor = 'driver' AND Status IN ('Pending', 'InProgress')")
        .await?
        .unwrap_or(0);
    if queued > 0 {
        bail!("{queued} driver processes are Pending or InProgress in this database; the bench would run them. Point it at a database no driver is using.");
    }
    Ok(())
}

/// `--min-log-level`: the level of the task a bench runs.
#[derive(Debug, Clone, Default, clap::Args)]
struct BenchTaskArgs {
    /// The bench task's own `minLogLevel` (Warning: no Info log rows on the hot path);
    /// without it the database's level applies. The database's level is left alone.
    #[arg(long, value_name = "LEVEL")]
    min_log_level: Option<LogLevel>,
}

impl BenchTaskArgs {
    /// Saves the bench task `name`: `true`, runs in parallel, at its own `minLogLevel`
    /// when one is given.
    async fn save(&self, db: &Arc<dyn Backend>, name: &str) -> Result<()> {
        let mut task = TaskRecord::new(name, "true");
        // Started directly (program form), as `bench e2e --baseline`'s bare loop starts it:
        // through `sh -c` each run would pay a shell's start on top, which the loop does not.
        task.arguments = Some("[]".into());
        task.overlap_policy = "parallel".into();
        task.definition = self
            .min_log_level
            .map(|level| serde_json::json!({ "minLogLevel": level.as_str() }).to_string());
        db.save_task(&task)
            .await
            .context("creating the bench task")?;
        Ok(())
    }

    /// What the run's header says of the level.
    fn describe(&self) -> &'static str {
        self.min_log_level
            .map_or("of the database", LogLevel::as_str)
    }
}

/// Removes a bench task with its processes and log rows. Bench task names are generated
/// (letters, digits and dashes), never user input, so they may stand in the SQL text.
async fn cleanup(db: &Arc<dyn Backend>, name_prefix: &str) -> Result<()> {
    let like = format!("{name_prefix}%");
    db.execute_sql(&format!(
        "DELETE FROM stage.ProcessLog WHERE ProcessID IN (SELECT ProcessID FROM stage.FileControl WHERE ProcessName LIKE '{like}')"
    ))
    .await?;
    db.execute_sql(&format!(
        "DELETE FROM stage.FileControl WHERE ProcessName LIKE '{like}'"
    ))
    .await?;
    db.execute_sql(&format!(
        "DELETE FROM stage.Task WHERE TaskName LIKE '{like}'"
    ))
    .await?;
    Ok(())
}

/// "stagehand 5,000/s | raw 10,000/s | 0.50": a figure beside its same-run baseline.
fn beside(figure: f64, baseline: Option<f64>) -> String {
    match baseline {
        Some(raw) => format!(
            "{figure:>8.0}/s | raw {raw:>8.0}/s | ratio {:.2}",
            figure / raw
        ),
        None => format!("{figure:>8.0}/s"),
    }
}

/// Median and 99th percentile of a sample, in the sample's unit.
fn percentiles(mut sample: Vec<f64>) -> (f64, f64) {
    if sample.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    sample.sort_by(f64::total_cmp);
    let at = |q: f64| sample[((sample.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}
