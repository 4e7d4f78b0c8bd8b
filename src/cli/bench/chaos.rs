//! `stagehand bench chaos`: nothing is lost and nothing runs twice at once while drivers
//! are killed and the database restarts under them.
//!
//! N processes run through two real `stagehand run` child processes. Every run takes a
//! per-process lock without waiting (flock(1) on `locks/<ProcessID>`, held by a child of
//! the command's shell, as a job guarding its work would) and appends its start and end
//! times to `runs/<ProcessID>`. Mid-run one driver is SIGKILLed and restarted, and, when
//! `--restart-cmd` is given, the database is restarted; one process in `--sleeper-every`
//! sleeps past the lease, so its lease must be renewed across both faults. The run logs
//! and the final rows then give: lost (never completed), failed, overlapping (two runs of
//! one process at the same time: the lock was taken, or their intervals intersect) and
//! re-run (ran more than once, never at once: allowed after a kill).
//!
//! Unix only: the commands are `sh`, flock(1) and `date +%s%N` (Linux: util-linux and
//! coreutils), and drivers are stopped with SIGTERM. Windows would need the job written
//! for cmd or PowerShell (LockFileEx for the lock), the drivers started in a console of
//! their own to be stopped with Ctrl-Break; the kill itself is already portable (tokio's
//! `start_kill` is TerminateProcess there, and KILL_ON_JOB_CLOSE takes the tree).

use super::super::{database_url, exit, open_store};
use super::{cleanup, refuse_if_busy};
use crate::driver::Secrets;
use crate::store::{Backend, ProcessStatus, StoreResult, TaskRecord, DATABASE_URL_ENV};
use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    /// Processes to run.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    processes: u32,
    /// Workers of each of the two drivers.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1000))]
    workers: u16,
    /// The drivers' lease, in seconds (heartbeats every tenth of it).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=3600))]
    lease_seconds: u64,
    /// One process in this many is a sleeper (0: none).
    #[arg(long, default_value_t = 100)]
    sleeper_every: u32,
    /// How long a sleeper sleeps, in seconds: longer than --lease-seconds.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    sleep_seconds: u64,
    /// How long every other process works, in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    work_ms: u64,
    /// A shell command that restarts the database server mid-run, e.g.
    /// `pg_ctl -D DATA -l DATA/server.log -m immediate -w restart`; without it that fault is skipped.
    #[arg(long)]
    restart_cmd: Option<String>,
    /// Give up waiting for the processes after this many seconds (what is left is lost).
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout_seconds: u64,
    /// Keep the run logs and the drivers' output even when nothing went wrong.
    #[arg(long)]
    keep_logs: bool,
}

impl ChaosArgs {
    /// Whether the i-th process registered is a sleeper: the middle one of each stretch
    /// of --sleeper-every, so the first comes by early.
    fn sleeper(&self, i: u32) -> bool {
        self.sleeper_every > 0 && i % self.sleeper_every == self.sleeper_every / 2
    }
}

pub async fn run(database: &Option<String>, args: &ChaosArgs) -> Result<ExitCode> {
    if args.sleeper_every > 0 && args.sleep_seconds <= args.lease_seconds {
        bail!(
            "--sleep-seconds {} must be longer than --lease-seconds {}: the sleepers are there to outlive a lease",
            args.sleep_seconds,
            args.lease_seconds
        );
    }
    let url = database_url(database)?;
    check_tools().await?;
    let db = open_store(database, 4).await?;
    refuse_if_busy(&db).await?;
    let prefix = format!("stagehand-chaos-{}-", std::process::id());
    let dir = std::env::temp_dir().join(prefix.trim_end_matches('-'));
    for sub in ["runs", "locks", "logs"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    let bench = Bench {
        db: db.clone(),
        url: url.expose().to_string(),
        secrets: Secrets::of(&url),
        prefix: prefix.clone(),
        dir: dir.clone(),
        args,
    };
    let outcome = bench.measure().await;
    cleanup(&db, &prefix).await?;
    let report = outcome?;
    println!("{}", report.summary());
    if report.ok() {
        if args.keep_logs {
            println!(
                "the run logs and the drivers' output are in {}",
                dir.display()
            );
        } else {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        println!("chaos: ok");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "chaos: FAILED; the run logs and the drivers' output are kept in {}",
            dir.display()
        );
        for line in report.examples() {
            println!("  {line}");
        }
        Ok(ExitCode::from(exit::ERROR))
    }
}

/// The job's tools, tried once, so a missing one is said plainly instead of as N failures.
async fn check_tools() -> Result<()> {
    let output = Command::new("sh")
        .args(["-c", "command -v flock >/dev/null && date +%s%N"])
        .stdin(Stdio::null())
        .output()
        .await
        .context("running sh")?;
    let nanos = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || nanos.trim().parse::<u128>().is_err() {
        bail!("the chaos bench's commands need sh, flock(1) (util-linux) and `date +%s%N` (GNU coreutils) on this machine");
    }
    Ok(())
}

struct Bench<'a> {
    db: Arc<dyn Backend>,
    /// Handed to the drivers in their environment, never on their command line.
    url: String,
    secrets: Secrets,
    prefix: String,
    dir: PathBuf,
    args: &'a ChaosArgs,
}

/// A `stagehand run` child process.
struct Driver {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Bench<'_> {
    async fn measure(&self) -> Result<Report> {
        let args = self.args;
        let sleepers = (0..args.processes).filter(|&i| args.sleeper(i)).count();
        println!(
            "stagehand bench chaos on {}: {} processes ({sleepers} sleep {} s, past the {} s lease; the others {} ms), \
             2 drivers x {} workers",
            self.db.kind(),
            args.processes,
            args.sleep_seconds,
            args.lease_seconds,
            args.work_ms,
            args.workers
        );
        let ids = self.register().await?;
        let started = Instant::now();
        let at = || format!("{:6.1} s", started.elapsed().as_secs_f64());
        let mut a = self.start_driver("a")?;
        let mut b = self.start_driver("b")?;

        // Kill a driver while it runs commands, a sleeper among them if one comes by
        // before a third of the work is done.
        let third = i64::from(args.processes) / 3;
        let kill_by = Instant::now() + Duration::from_secs(args.timeout_seconds);
        let running = loop {
            self.check_alive(&mut [&mut a, &mut b])?;
            let Some(progress) = self.progress(Some(&a.name)).await? else {
                continue;
            };
            if progress.driver_running > 0
                && (progress.driver_sleepers > 0 || progress.completed >= third)
            {
                break progress;
            }
            self.check_unfinished(&progress, "the driver was killed", kill_by)?;
        };
        a.child.start_kill().context("killing driver a")?;
        a.child.wait().await.context("waiting for driver a")?;
        let mut a2 = self.start_driver("a2")?;
        println!(
            "{}  SIGKILL driver {} with {} commands running ({} sleepers) after {} completions; started {}",
            at(),
            a.name,
            running.driver_running,
            running.driver_sleepers,
            running.completed,
            a2.name
        );

        // Restart the database while work runs, past the middle.
        match &args.restart_cmd {
            None => println!(
                "{}  database restart: SKIPPED (no --restart-cmd given)",
                at()
            ),
            Some(command) => {
                let middle = i64::from(args.processes) * 3 / 5;
                loop {
                    self.check_alive(&mut [&mut a2, &mut b])?;
                    let Some(progress) = self.progress(None).await? else {
                        continue;
                    };
                    if progress.completed >= middle && progress.running > 0 {
                        break;
                    }
                    self.check_unfinished(&progress, "the database was restarted", kill_by)?;
                }
                let took = self.restart_database(command).await?;
                println!(
                    "{}  database restarted by --restart-cmd ({:.1} s)",
                    at(),
                    took.as_secs_f64()
                );
            }
        }

        // Every process final, or the deadline.
        let deadline = started + Duration::from_secs(args.timeout_seconds);
        let total = i64::from(args.processes);
        loop {
            self.check_alive(&mut [&mut a2, &mut b])?;
            if let Some(progress) = self.progress(None).await? {
                if progress.finished >= total {
                    println!("{}  all {total} processes finished", at());
                    break;
                }
                if Instant::now() > deadline {
                    println!(
                        "{}  GAVE UP waiting: {} of {total} processes finished",
                        at(),
                        progress.finished
                    );
                    break;
                }
            }
        }
        for driver in [&mut a2, &mut b] {
            stop(driver).await?;
        }
        self.report(&ids).await
    }

    /// Registers the processes, a sleeper every `--sleeper-every`.
    async fn register(&self) -> Result<Vec<i64>> {
        let args = self.args;
        let work = format!("{}work", self.prefix);
        let sleep = format!("{}sleep", self.prefix);
        for (name, seconds) in [
            (&work, args.work_ms as f64 / 1000.0),
            (&sleep, args.sleep_seconds as f64),
        ] {
            let mut task = TaskRecord::new(name, &job(seconds));
            task.overlap_policy = "parallel".into();
            // A run killed with its driver is retried; nothing else should fail.
            task.max_attempts = 3;
            task.working_directory = Some(self.dir.to_string_lossy().into_owned());
            self.db
                .save_task(&task)
                .await
                .with_context(|| format!("saving the bench task {name}"))?;
        }
        let started = Instant::now();
        let mut ids = Vec::with_capacity(args.processes as usize);
        for i in 0..args.processes {
            let sleeper =
                args.sleeper_every > 0 && i % args.sleeper_every == args.sleeper_every / 2;
            let name = if sleeper { &sleep } else { &work };
            ids.push(self.db.register(name, None, None).await?.process_id);
        }
        println!(
            "registered {} processes in {:.1} s",
            ids.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(ids)
    }

    fn start_driver(&self, suffix: &str) -> Result<Driver> {
        let name = format!("{}{suffix}", self.prefix);
        let log = self.dir.join("logs").join(format!("driver-{suffix}.log"));
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("opening {}", log.display()))?;
        let exe = std::env::current_exe().context("finding the stagehand executable")?;
        let heartbeat_ms = (self.args.lease_seconds * 100).max(10);
        let child = Command::new(exe)
            .args(["run", "--no-clock", "--name", &name])
            .args(["--workers", &self.args.workers.to_string()])
            .args(["--lease-seconds", &self.args.lease_seconds.to_string()])
            .args(["--heartbeat-ms", &heartbeat_ms.to_string()])
            // Lease-expired runs are reset within a second, as a busy site would see.
            .args(["--reset-every-seconds", "1", "--poll-max-ms", "200"])
            .args(["--rotate-every-hours", "0"])
            .env(DATABASE_URL_ENV, &self.url)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .context("starting stagehand run")?;
        Ok(Driver { name, child, log })
    }

    /// Fails when a driver the bench did not kill has exited.
    fn check_alive(&self, drivers: &mut [&mut Driver]) -> Result<()> {
        for driver in drivers {
            if let Some(status) = driver.child.try_wait().context("waiting for a driver")? {
                bail!(
                    "driver {} exited by itself ({status}); its output: {}",
                    driver.name,
                    driver.log.display()
                );
            }
        }
        Ok(())
    }

    /// Fails when every process finished before a fault could land mid-run (the figure
    /// would say nothing), or the deadline passed.
    fn check_unfinished(&self, progress: &Progress, fault: &str, deadline: Instant) -> Result<()> {
        if progress.finished >= i64::from(self.args.processes) {
            bail!("every process finished before {fault}: raise --processes or --work-ms");
        }
        if Instant::now() > deadline {
            bail!("gave up waiting for the moment {fault}: {progress:?}");
        }
        Ok(())
    }

    /// The counts the bench steers by, after a short pause; None while the database is
    /// away (a restart is one of the faults).
    async fn progress(&self, driver: Option<&str>) -> Result<Option<Progress>> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match self.counts(driver).await {
            Ok(progress) => Ok(Some(progress)),
            Err(error) if error.heals() => Ok(None),
            Err(error) => Err(error).context("reading the bench's processes"),
        }
    }

    async fn counts(&self, driver: Option<&str>) -> StoreResult<Progress> {
        // Generated names only (see `cleanup`): letters, digits and dashes.
        let ours = format!("ProcessName LIKE '{}%'", self.prefix);
        let count = |condition: String| async move {
            let sql = format!("SELECT COUNT(*) FROM stage.FileControl WHERE {condition}");
            Ok::<i64, crate::store::StoreError>(self.db.query_i64(&sql).await?.unwrap_or(0))
        };
        let completed = count(format!("{ours} AND Status = 'Completed'")).await?;
        let finished = count(format!(
            "{ours} AND Status IN ('Completed', 'Failed', 'Cancelled')"
        ))
        .await?;
        let running = count(format!("{ours} AND Status = 'InProgress'")).await?;
        let (mut driver_running, mut driver_sleepers) = (0, 0);
        if let Some(name) = driver {
            let held = format!("Status = 'InProgress' AND WorkerAssigned LIKE '%/{name}/%'");
            driver_running = count(format!("{ours} AND {held}")).await?;
            driver_sleepers =
                count(format!("ProcessName = '{}sleep' AND {held}", self.prefix)).await?;
        }
        Ok(Progress {
            completed,
            finished,
            running,
            driver_running,
            driver_sleepers,
        })
    }

    /// Runs the user's restart command (`sh -c`) without the connection string in its
    /// environment, its output to a file: a server it starts must not hold our output.
    async fn restart_database(&self, command: &str) -> Result<Duration> {
        let log = self.dir.join("logs").join("restart.log");
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("opening {}", log.display()))?;
        let mut restart = Command::new("sh");
        restart.args(["-c", command]);
        for name in self.secrets.env_remove() {
            restart.env_remove(name);
        }
        let started = Instant::now();
        let status = restart
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .await
            .context("running --restart-cmd")?;
        if !status.success() {
            bail!(
                "--restart-cmd failed ({status}); its output: {}",
                log.display()
            );
        }
        Ok(started.elapsed())
    }

    async fn report(&self, ids: &[i64]) -> Result<Report> {
        let mut report = Report::default();
        for &id in ids {
            let row = self
                .db
                .process(id)
                .await
                .with_context(|| format!("reading process {id}"))?;
            let status = row.map(|r| r.status);
            let text = std::fs::read_to_string(self.dir.join("runs").join(id.to_string()))
                .unwrap_or_default();
            let runs =
                Runs::parse(&text).with_context(|| format!("the run log of process {id}"))?;
            let lock = self.dir.join("locks").join(id.to_string());
            report.add(id, status, &runs, lock.exists() && held(&lock)?);
        }
        Ok(report)
    }
}

#[derive(Debug)]
struct Progress {
    completed: i64,
    finished: i64,
    running: i64,
    /// InProgress with the driver named in the query, and how many of those are sleepers.
    driver_running: i64,
    driver_sleepers: i64,
}

/// The job of every process, `sh -c` in the bench directory: the lock is taken by
/// flock(1) without waiting (exit 75 when another run holds it) and held by its child
/// shell, which logs `start`, works, and logs `end`; a refused lock logs `locked`. Each
/// line: the event, the attempt, the run's shell pid, the time in ns.
fn job(seconds: f64) -> String {
    let stamp = "$STAGEHAND_ATTEMPT $2 $(date +%s%N)";
    format!(
        "id=$STAGEHAND_PROCESS_ID; \
         flock -n -E 75 -x \"locks/$id\" sh -c 'echo \"start {stamp}\" >> \"runs/$1\"; sleep {seconds}; echo \"end {stamp}\" >> \"runs/$1\"' job \"$id\" $$; \
         status=$?; \
         if [ $status = 75 ]; then echo \"locked $STAGEHAND_ATTEMPT $$ $(date +%s%N)\" >> \"runs/$id\"; fi; \
         exit $status"
    )
}

/// Stops a driver with SIGTERM (its commands are done), or kills it after a minute.
async fn stop(driver: &mut Driver) -> Result<()> {
    if let Some(pid) = driver.child.id() {
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM)
            .with_context(|| format!("stopping driver {}", driver.name))?;
    }
    match tokio::time::timeout(Duration::from_secs(60), driver.child.wait()).await {
        Ok(status) => {
            status.with_context(|| format!("waiting for driver {}", driver.name))?;
        }
        Err(_) => {
            driver.child.start_kill().ok();
            bail!(
                "driver {} did not stop within 60 s of SIGTERM; its output: {}",
                driver.name,
                driver.log.display()
            );
        }
    }
    Ok(())
}

/// True when something still holds the lock file (a process of a finished run escaped).
fn held(lock: &Path) -> Result<bool> {
    let file = std::fs::File::open(lock).with_context(|| format!("opening {}", lock.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_unlocked_on_drop) => Ok(false),
        Err((_, Errno::EWOULDBLOCK)) => Ok(true),
        Err((_, error)) => Err(error).with_context(|| format!("locking {}", lock.display())),
    }
}

/// One process's run log.
#[derive(Debug, Default, PartialEq)]
struct Runs {
    /// (start, end) in ns; no end for a run killed before it finished.
    runs: Vec<(u128, Option<u128>)>,
    /// Runs that found the lock held by another.
    locked: usize,
}

impl Runs {
    fn parse(text: &str) -> Result<Runs> {
        let mut result = Runs::default();
        // The open run of each (attempt, shell pid): runs of one process may interleave.
        let mut open: HashMap<(&str, &str), usize> = HashMap::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [event, attempt, pid, nanos] = fields[..] else {
                bail!("unreadable line {line:?}");
            };
            let nanos: u128 = nanos
                .parse()
                .with_context(|| format!("unreadable time in {line:?}"))?;
            match event {
                "start" => {
                    open.insert((attempt, pid), result.runs.len());
                    result.runs.push((nanos, None));
                }
                "end" => {
                    let run = open
                        .remove(&(attempt, pid))
                        .with_context(|| format!("an end without a start: {line:?}"))?;
                    result.runs[run].1 = Some(nanos);
                }
                "locked" => result.locked += 1,
                _ => bail!("unknown event in {line:?}"),
            }
        }
        Ok(result)
    }

    fn count(&self) -> usize {
        self.runs.len() + self.locked
    }

    /// Two runs at the same time: one was refused the lock, or one started while another
    /// ran (a run killed before its end is known to overlap only when it started inside
    /// a finished one; when it was still alive at a later start, the lock says so).
    fn overlapping(&self) -> bool {
        self.locked > 0
            || self.runs.iter().enumerate().any(|(i, &(start, _))| {
                self.runs.iter().enumerate().any(|(j, &(other, end))| {
                    i != j && end.is_some_and(|end| other <= start && start < end)
                })
            })
    }

    fn finished(&self) -> bool {
        self.runs.iter().any(|(_, end)| end.is_some())
    }

    fn interrupted(&self) -> usize {
        self.runs.iter().filter(|(_, end)| end.is_none()).count()
    }
}

#[derive(Debug, Default)]
struct Report {
    processes: usize,
    completed: usize,
    /// Not Completed nor Failed at the end, or Completed without a finished run.
    lost: Vec<i64>,
    failed: Vec<i64>,
    overlapping: Vec<i64>,
    rerun: usize,
    interrupted: usize,
    /// Lock files still held once everything finished.
    held: Vec<i64>,
}

impl Report {
    fn add(&mut self, id: i64, status: Option<ProcessStatus>, runs: &Runs, held: bool) {
        self.processes += 1;
        match status {
            Some(ProcessStatus::Completed) if runs.finished() => self.completed += 1,
            Some(ProcessStatus::Failed | ProcessStatus::Cancelled) => self.failed.push(id),
            _ => self.lost.push(id),
        }
        if runs.overlapping() {
            self.overlapping.push(id);
        } else if runs.count() > 1 {
            self.rerun += 1;
        }
        self.interrupted += runs.interrupted();
        if held {
            self.held.push(id);
        }
    }

    fn ok(&self) -> bool {
        self.lost.is_empty()
            && self.failed.is_empty()
            && self.overlapping.is_empty()
            && self.held.is_empty()
    }

    fn summary(&self) -> String {
        format!(
            "processes {}: completed {}, lost {}, failed {}, overlapping {}, re-run {} \
             (runs interrupted by the kill {}, locks still held at the end {})",
            self.processes,
            self.completed,
            self.lost.len(),
            self.failed.len(),
            self.overlapping.len(),
            self.rerun,
            self.interrupted,
            self.held.len()
        )
    }

    /// A few ProcessIDs of each kind of failure, to look up with `stagehand logs`.
    fn examples(&self) -> Vec<String> {
        [
            ("lost", &self.lost),
            ("failed", &self.failed),
            ("overlapping", &self.overlapping),
            ("lock still held", &self.held),
        ]
        .into_iter()
        .filter(|(_, ids)| !ids.is_empty())
        .map(|(what, ids)| {
            let shown: Vec<String> = ids.iter().take(10).map(i64::to_string).collect();
            format!("{what}: {}", shown.join(", "))
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_run_is_neither_overlap_nor_rerun() {
        let runs = Runs::parse("start 1 10 100\nend 1 10 200\n").unwrap();
        assert_eq!(runs.runs, [(100, Some(200))]);
        let mut report = Report::default();
        report.add(1, Some(ProcessStatus::Completed), &runs, false);
        assert_eq!((report.completed, report.rerun), (1, 0));
        assert!(report.ok());
    }

    #[test]
    fn a_killed_run_then_a_later_one_is_a_rerun() {
        let runs = Runs::parse("start 1 10 100\nstart 2 11 300\nend 2 11 400\n").unwrap();
        assert!(!runs.overlapping());
        assert_eq!(runs.interrupted(), 1);
        let mut report = Report::default();
        report.add(1, Some(ProcessStatus::Completed), &runs, false);
        assert_eq!(report.rerun, 1);
        assert!(report.ok());
    }

    #[test]
    fn intersecting_runs_overlap_even_when_both_held_the_lock() {
        // Interleaved lines of two runs of the same attempt number (a released run).
        let runs =
            Runs::parse("start 1 10 100\nstart 1 11 150\nend 1 10 200\nend 1 11 250\n").unwrap();
        assert_eq!(runs.runs, [(100, Some(200)), (150, Some(250))]);
        assert!(runs.overlapping());
        // A killed run that started inside a finished one.
        assert!(
            Runs::parse("start 1 10 100\nend 1 10 200\nstart 2 11 150\n")
                .unwrap()
                .overlapping()
        );
    }

    #[test]
    fn a_refused_lock_is_an_overlap() {
        let runs = Runs::parse("start 1 10 100\nlocked 2 11 150\nend 1 10 200\n").unwrap();
        assert!(runs.overlapping());
        let mut report = Report::default();
        report.add(1, Some(ProcessStatus::Completed), &runs, false);
        assert!(!report.ok());
        assert_eq!(report.overlapping, [1]);
    }

    #[test]
    fn unfinished_failed_and_phantom_completions_are_counted() {
        let mut report = Report::default();
        let none = Runs::default();
        report.add(1, Some(ProcessStatus::Pending), &none, false);
        report.add(2, Some(ProcessStatus::Completed), &none, false);
        report.add(3, Some(ProcessStatus::Failed), &none, false);
        report.add(4, None, &none, true);
        assert_eq!(report.lost, [1, 2, 4]);
        assert_eq!(report.failed, [3]);
        assert_eq!(report.held, [4]);
        assert!(!report.ok());
    }

    #[test]
    fn unreadable_logs_are_errors() {
        assert!(Runs::parse("start 1 10\n").is_err());
        assert!(Runs::parse("end 1 10 100\n").is_err());
        assert!(Runs::parse("begin 1 10 100\n").is_err());
    }
}
