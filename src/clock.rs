//! The trigger clock inside `stagehand run`: keeps the next occurrence of every enabled
//! trigger in a priority queue, sleeps until the earliest, and enqueues it through
//! `stage.FireTrigger`, which makes each occurrence fire exactly once however many
//! drivers run. Occurrences missed while no driver ran are caught up once (one late
//! run, or skipped and logged). Task changes, from the CLI or from SQL, bump
//! `stage.ScheduleVersion`; the clock polls it and reloads.

use crate::catalog;
use crate::driver::{Backoff, Call, DriverMetrics};
use crate::schedule::{catch_up, Missed, MissedAction, Occurrences, Trigger};
use crate::store::{Backend, FireMode, StoreResult};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ClockConfig {
    /// How often `stage.ScheduleVersion` is checked for changes.
    pub reload_check_every: Duration,
    /// How many occurrences are enqueued at once when many fall due together.
    pub fire_concurrency: usize,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            reload_check_every: Duration::from_secs(1),
            fire_concurrency: 8,
        }
    }
}

/// One enabled trigger the clock watches.
struct Watched {
    task_name: Arc<str>,
    trigger: Trigger,
}

/// A pending occurrence: due at `due` (the occurrence itself, later when retrying).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    due: DateTime<Utc>,
    trigger_id: i32,
    occurrence: DateTime<Utc>,
}

/// The schedules of the tasks with a `stopAtEnd` repetition window, by task name: what
/// the driver's workers need to stop a run still going when its window ends. The clock
/// publishes them on every reload.
pub type StopWindows = Arc<HashMap<String, crate::schedule::Schedule>>;

/// The loaded schedule: every enabled trigger and its next occurrence.
#[derive(Default)]
pub struct ClockState {
    version: Option<i64>,
    watched: HashMap<i32, Watched>,
    queue: BinaryHeap<Reverse<Pending>>,
    stop_windows: StopWindows,
}

impl ClockState {
    /// How many triggers are watched.
    pub fn triggers(&self) -> usize {
        self.watched.len()
    }
}

/// Runs until `stop` fires, publishing the [`StopWindows`] of each schedule it loads.
/// Database errors are retried; the clock never gives up.
pub async fn run(
    db: Arc<dyn Backend>,
    config: ClockConfig,
    stop: CancellationToken,
    windows: tokio::sync::watch::Sender<StopWindows>,
    metrics: DriverMetrics,
) {
    // Occurrences before this instant passed while no clock of ours ran: catch-up rules.
    let started_at = Utc::now();
    let mut state = ClockState::default();
    let mut retry = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut next_check = tokio::time::Instant::now();
    loop {
        if tokio::time::Instant::now() >= next_check {
            next_check = tokio::time::Instant::now() + config.reload_check_every;
            match reload_if_changed(&*db, &mut state, started_at).await {
                Ok(true) => {
                    windows.send_replace(state.stop_windows.clone());
                }
                Ok(false) => {}
                Err(error) => {
                    metrics.database_error(Call::Clock);
                    tracing::warn!(%error, "cannot read the schedule: waiting for the database");
                    next_check = tokio::time::Instant::now() + retry.next_wait();
                }
            }
        }
        fire_due(&db, &mut state, &config, &mut retry, &metrics).await;
        let wake = state
            .queue
            .peek()
            .map(|Reverse(p)| (p.due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .map_or(next_check, |wait| {
                next_check.min(tokio::time::Instant::now() + wait)
            });
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// True when it loaded a new version.
async fn reload_if_changed(
    db: &dyn Backend,
    state: &mut ClockState,
    started_at: DateTime<Utc>,
) -> StoreResult<bool> {
    let version = db.schedule_version().await?;
    if state.version == Some(version) {
        return Ok(false);
    }
    *state = load(db, version, started_at).await?;
    Ok(true)
}

/// Reads every task and trigger, catches up what was missed before `started_at`, and
/// computes every next occurrence (written back to TaskTrigger.NextFireAt when it changed).
pub async fn load(
    db: &dyn Backend,
    version: i64,
    started_at: DateTime<Utc>,
) -> StoreResult<ClockState> {
    let tasks = catalog::load(db).await?;
    let task_count = tasks.len();
    let mut watched = HashMap::new();
    let mut queue = BinaryHeap::new();
    let mut next_fire = Vec::new();
    let mut stop_windows = HashMap::new();
    // Consumed as it goes: with many tasks, rows already compiled are freed early.
    for task in tasks {
        let definition = match &task.definition {
            Ok(d) => d,
            Err(why) => {
                if !task.triggers.is_empty() {
                    tracing::warn!(task = %task.row.record.task_name, "task ignored by the clock: {why}");
                }
                continue;
            }
        };
        let name: Arc<str> = Arc::from(definition.id.as_str());
        let schedule = crate::schedule::Schedule::new(definition);
        if schedule.stops_at_window_end() {
            stop_windows.insert(definition.id.clone(), schedule.clone());
        }
        for (row, trigger) in task.triggers.iter().zip(schedule.triggers()) {
            if trigger.is_driver_start() {
                if let Some(later) =
                    fire_for_driver_start(db, &name, row, trigger, started_at).await
                {
                    queue.push(Reverse(Pending {
                        due: later,
                        trigger_id: row.trigger_id,
                        occurrence: later,
                    }));
                    watched.insert(
                        row.trigger_id,
                        Watched {
                            task_name: name.clone(),
                            trigger: trigger.clone(),
                        },
                    );
                }
                continue;
            }
            let plan = catch_up(
                trigger,
                row.last_fired_for,
                row.created_at,
                started_at,
                definition.catch_up,
            );
            if let Some(missed) = &plan.missed {
                catch_up_missed(db, &name, row.trigger_id, missed, plan.next).await;
            }
            if plan.next != row.next_fire_at {
                next_fire.push((row.trigger_id, plan.next));
            }
            if let Some(next) = plan.next {
                queue.push(Reverse(Pending {
                    due: next,
                    trigger_id: row.trigger_id,
                    occurrence: next,
                }));
                watched.insert(
                    row.trigger_id,
                    Watched {
                        task_name: name.clone(),
                        trigger: trigger.clone(),
                    },
                );
            }
        }
    }
    if !next_fire.is_empty() {
        db.update_next_fire(&next_fire).await?;
    }
    tracing::info!(
        tasks = task_count,
        triggers = watched.len(),
        version,
        "schedule loaded"
    );
    Ok(ClockState {
        version: Some(version),
        watched,
        queue,
        stop_windows: Arc::new(stop_windows),
    })
}

/// What [`catch_up`] decided, through FireTrigger: skipped occurrences are logged, late
/// runs enqueued (one, or one per occurrence for `catchUp: all`).
async fn catch_up_missed(
    db: &dyn Backend,
    name: &str,
    trigger_id: i32,
    missed: &Missed,
    next: Option<DateTime<Utc>>,
) {
    let count = i32::try_from(missed.count).unwrap_or(i32::MAX);
    let mut calls = Vec::new();
    match missed.action {
        MissedAction::Skip => calls.push((missed.latest, FireMode::Skip, count)),
        MissedAction::EnqueueLate => calls.push((missed.latest, FireMode::Late, count)),
        MissedAction::EnqueueEach => {
            // The older ones beyond catchUpLimit are logged as skipped first
            // (FireTrigger only moves forwards).
            if let Some(skipped) = missed.skipped_latest {
                let late = i32::try_from(missed.each.len()).unwrap_or(i32::MAX);
                calls.push((skipped, FireMode::Skip, count.saturating_sub(late)));
            }
            calls.extend(missed.each.iter().map(|at| (*at, FireMode::Late, count)));
        }
    }
    for (occurrence, mode, count) in calls {
        match db
            .fire_trigger(trigger_id, occurrence, next, mode, count)
            .await
        {
            Ok(result) if result.fired => tracing::info!(
                task = %name,
                occurrence = %occurrence,
                missed = missed.count,
                late_run = mode == FireMode::Late,
                "caught up occurrences missed while no driver was running"
            ),
            Ok(_) => {}
            // Left for the next reload: LastFiredFor did not move past it.
            Err(error) => {
                tracing::warn!(%error, task = %name, "catch-up failed; will retry");
                return;
            }
        }
    }
}

/// A driverStart trigger fires once for this driver's start: FireTrigger with the start
/// (whole seconds) plus its `delaySeconds` as the occurrence, so a reload, or another
/// driver started in the same second, does not fire it again. Triggers created after
/// the start wait for the next. Without a delay it fires here; a delayed occurrence is
/// returned for the queue (a reload before it is due queues it again).
async fn fire_for_driver_start(
    db: &dyn Backend,
    name: &str,
    row: &crate::store::TriggerRow,
    trigger: &Trigger,
    started_at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let start = DateTime::from_timestamp(started_at.timestamp(), 0)?;
    let occurrence = trigger.driver_start_occurrence(start)?;
    let due =
        row.created_at <= started_at && row.last_fired_for.is_none_or(|last| last < occurrence);
    if !due {
        return None;
    }
    if occurrence > start {
        return Some(occurrence);
    }
    match db
        .fire_trigger(row.trigger_id, start, None, FireMode::Run, 0)
        .await
    {
        Ok(result) if result.fired => {
            tracing::info!(task = %name, process_id = ?result.process_id, "fired for the driver's start")
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, task = %name, "cannot fire for the driver's start; will retry")
        }
    }
    None
}

/// Enqueues every occurrence that is due, several at a time.
async fn fire_due(
    db: &Arc<dyn Backend>,
    state: &mut ClockState,
    config: &ClockConfig,
    retry: &mut Backoff,
    metrics: &DriverMetrics,
) {
    let now = Utc::now();
    let mut due = Vec::new();
    while let Some(&Reverse(p)) = state.queue.peek() {
        if p.due > now {
            break;
        }
        state.queue.pop();
        if let Some(w) = state.watched.get(&p.trigger_id) {
            due.push((p, w.task_name.clone(), w.trigger.next_after(p.occurrence)));
        }
    }
    if due.is_empty() {
        return;
    }
    let results: Vec<_> = futures_util::stream::iter(due)
        .map(|(p, name, next)| {
            let db = db.clone();
            async move {
                let called_at = Utc::now();
                let result = db
                    .fire_trigger(p.trigger_id, p.occurrence, next, FireMode::Run, 0)
                    .await;
                (p, name, next, result, called_at)
            }
        })
        .buffer_unordered(config.fire_concurrency.max(1))
        .collect()
        .await;
    let mut failed = false;
    for (p, name, next, result, called_at) in results {
        match result {
            Ok(fired) => {
                if fired.fired {
                    let late = (called_at - p.occurrence)
                        .num_microseconds()
                        .unwrap_or(i64::MAX);
                    metrics.fired_late(late as f64 / 1e6);
                    match (fired.registered, fired.process_id) {
                        (Some(true), Some(id)) => {
                            tracing::info!(task = %name, occurrence = %p.occurrence, process_id = id, "enqueued")
                        }
                        _ => tracing::info!(
                            task = %name,
                            occurrence = %p.occurrence,
                            status = ?fired.status,
                            "occurrence skipped: the previous run is still going (ifRunning: skip)"
                        ),
                    }
                }
                if let Some(next) = next {
                    state.queue.push(Reverse(Pending {
                        due: next,
                        trigger_id: p.trigger_id,
                        occurrence: next,
                    }));
                }
            }
            Err(error) => {
                metrics.database_error(Call::Clock);
                failed = true;
                tracing::warn!(%error, task = %name, occurrence = %p.occurrence, "cannot enqueue: waiting for the database");
                state.queue.push(Reverse(Pending {
                    due: Utc::now() + retry.next_wait(),
                    ..p
                }));
            }
        }
    }
    if !failed {
        retry.reset();
    }
}
