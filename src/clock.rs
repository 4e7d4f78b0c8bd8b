//! The trigger clock inside `stagehand run`: keeps the next occurrence of every enabled
//! trigger in a priority queue, sleeps until the earliest, and enqueues what is due
//! through `stage.FireTriggers` (those due together in batches, each element fired as
//! `stage.FireTrigger` fires one), which makes each occurrence fire exactly once however
//! many drivers run. Occurrences missed while no driver ran are caught up once (one late
//! run, or skipped and logged). Task changes, from the CLI or from SQL, bump
//! `stage.ScheduleVersion`; the clock polls it and reloads, reading the tasks in one
//! streamed query and keeping per trigger only its compiled times and its task's name.

use crate::catalog;
use crate::driver::{Backoff, Call, DriverMetrics};
use crate::schedule::{catch_up, Missed, MissedAction, Occurrences, Trigger};
use crate::store::{Backend, FireMode, FireRequest, StoreResult};
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
    /// How many stage.FireTriggers calls run at once when many occurrences fall due together.
    pub fire_concurrency: usize,
    /// At most this many occurrences per stage.FireTriggers call.
    pub fire_batch: usize,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            reload_check_every: Duration::from_secs(1),
            fire_concurrency: 8,
            fire_batch: 250,
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
    /// By TriggerID (looked up by binary search): a sorted Vec grows in place and holds
    /// no spare buckets, where a map of this many entries would double its table.
    watched: Vec<(i32, Watched)>,
    queue: BinaryHeap<Reverse<Pending>>,
    stop_windows: StopWindows,
}

impl ClockState {
    /// How many triggers are watched.
    pub fn triggers(&self) -> usize {
        self.watched.len()
    }

    fn watched(&self, trigger_id: i32) -> Option<&Watched> {
        let at = self
            .watched
            .binary_search_by_key(&trigger_id, |(id, _)| *id)
            .ok()?;
        Some(&self.watched[at].1)
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

/// A database call a load decided on while reading (a few: catch-ups and driverStart
/// firings), made once every task has been read, in reading order.
enum Deferred {
    CatchUp {
        name: Arc<str>,
        trigger_id: i32,
        missed: Missed,
        next: Option<DateTime<Utc>>,
    },
    DriverStart {
        name: Arc<str>,
        trigger_id: i32,
        start: DateTime<Utc>,
    },
}

/// Reads every task that has triggers (one query, streamed: each task's rows are
/// compiled and dropped as they come, so only the compact per-trigger state stays),
/// catches up what was missed before `started_at`, and computes every next occurrence
/// (written back to TaskTrigger.NextFireAt when it changed).
pub async fn load(
    db: &dyn Backend,
    version: i64,
    started_at: DateTime<Utc>,
) -> StoreResult<ClockState> {
    let mut task_count = 0usize;
    let mut watched = Vec::new();
    let mut queue = Vec::new();
    let mut next_fire = Vec::new();
    let mut stop_windows = HashMap::new();
    let mut deferred = Vec::new();
    let mut watch = |trigger_id: i32, name: &Arc<str>, trigger: &Trigger, at: DateTime<Utc>| {
        queue.push(Reverse(Pending {
            due: at,
            trigger_id,
            occurrence: at,
        }));
        watched.push((
            trigger_id,
            Watched {
                task_name: name.clone(),
                trigger: trigger.clone(),
            },
        ));
    };
    catalog::each_scheduled(db, |task| {
        task_count += 1;
        let definition = match &task.definition {
            Ok(d) => d,
            Err(why) => {
                tracing::warn!(task = %task.row.record.task_name, "task ignored by the clock: {why}");
                return;
            }
        };
        let name: Arc<str> = Arc::from(definition.id.as_str());
        let schedule = crate::schedule::Schedule::new(definition);
        if schedule.stops_at_window_end() {
            stop_windows.insert(definition.id.clone(), schedule.clone());
        }
        for (row, trigger) in task.triggers.iter().zip(schedule.triggers()) {
            if trigger.is_driver_start() {
                match driver_start_due(row, trigger, started_at) {
                    Some(DriverStartDue::Later(later)) => {
                        watch(row.trigger_id, &name, trigger, later)
                    }
                    Some(DriverStartDue::Now(start)) => deferred.push(Deferred::DriverStart {
                        name: name.clone(),
                        trigger_id: row.trigger_id,
                        start,
                    }),
                    None => {}
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
            if let Some(missed) = plan.missed {
                deferred.push(Deferred::CatchUp {
                    name: name.clone(),
                    trigger_id: row.trigger_id,
                    missed,
                    next: plan.next,
                });
            }
            if plan.next != row.next_fire_at {
                next_fire.push((row.trigger_id, plan.next));
            }
            if let Some(next) = plan.next {
                watch(row.trigger_id, &name, trigger, next);
            }
        }
    })
    .await?;
    for call in deferred {
        match call {
            Deferred::CatchUp {
                name,
                trigger_id,
                missed,
                next,
            } => catch_up_missed(db, &name, trigger_id, &missed, next).await,
            Deferred::DriverStart {
                name,
                trigger_id,
                start,
            } => fire_for_driver_start(db, &name, trigger_id, start).await,
        }
    }
    if !next_fire.is_empty() {
        db.update_next_fire(&next_fire).await?;
    }
    // A trigger is watched once (each row is read once): sorting makes the lookup.
    watched.sort_unstable_by_key(|(id, _)| *id);
    watched.shrink_to_fit();
    tracing::info!(
        tasks = task_count,
        triggers = watched.len(),
        version,
        "schedule loaded"
    );
    Ok(ClockState {
        version: Some(version),
        watched,
        // From a Vec in one pass (O(n)) rather than n pushes.
        queue: BinaryHeap::from(queue),
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

/// When a driverStart trigger fires for this driver's start.
enum DriverStartDue {
    /// Without a delay: now, FireTrigger with the start (whole seconds) as occurrence.
    Now(DateTime<Utc>),
    /// With `delaySeconds`: this occurrence, for the queue.
    Later(DateTime<Utc>),
}

/// A driverStart trigger fires once for this driver's start: its occurrence is the start
/// (whole seconds) plus its `delaySeconds`, so a reload, or another driver started in the
/// same second, does not fire it again. Triggers created after the start wait for the
/// next. A delayed occurrence goes to the queue (a reload before it is due queues it
/// again). `None`: nothing to fire.
fn driver_start_due(
    row: &crate::store::TriggerRow,
    trigger: &Trigger,
    started_at: DateTime<Utc>,
) -> Option<DriverStartDue> {
    let start = DateTime::from_timestamp(started_at.timestamp(), 0)?;
    let occurrence = trigger.driver_start_occurrence(start)?;
    let due =
        row.created_at <= started_at && row.last_fired_for.is_none_or(|last| last < occurrence);
    if !due {
        return None;
    }
    Some(if occurrence > start {
        DriverStartDue::Later(occurrence)
    } else {
        DriverStartDue::Now(start)
    })
}

/// Fires a driverStart trigger due now ([`DriverStartDue::Now`]).
async fn fire_for_driver_start(
    db: &dyn Backend,
    name: &str,
    trigger_id: i32,
    start: DateTime<Utc>,
) {
    match db
        .fire_trigger(trigger_id, start, None, FireMode::Run, 0)
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
}

/// Enqueues every occurrence that is due: batches of them through stage.FireTriggers,
/// several batches at a time; a single due occurrence goes out at once as a batch of one.
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
        if let Some(w) = state.watched(p.trigger_id) {
            due.push((p, w.task_name.clone(), w.trigger.next_after(p.occurrence)));
        }
    }
    if due.is_empty() {
        return;
    }
    // Spread over all the calls that may run at once, so that they all start now (a
    // batch waiting for a free call would be late by a whole batch's time).
    let size = due
        .len()
        .div_ceil(config.fire_concurrency.max(1))
        .clamp(1, config.fire_batch.max(1));
    // Heap order is (due, trigger): each batch locks its triggers in TriggerID order
    // when they fall due together, as a second driver's batch does.
    let batches: Vec<Vec<_>> = due.chunks(size).map(<[_]>::to_vec).collect();
    let fired: Vec<_> = futures_util::stream::iter(batches)
        .map(|batch| {
            let db = db.clone();
            async move {
                let requests: Vec<FireRequest> = batch
                    .iter()
                    .map(|(p, _, next)| FireRequest {
                        trigger_id: p.trigger_id,
                        occurrence: p.occurrence,
                        next_fire_at: *next,
                        mode: FireMode::Run,
                        missed_count: 0,
                    })
                    .collect();
                let called_at = Utc::now();
                let results = db.fire_triggers(&requests).await;
                (batch, results, called_at)
            }
        })
        .buffer_unordered(config.fire_concurrency.max(1))
        .collect()
        .await;
    let mut failed = false;
    for (batch, results, called_at) in fired {
        let results = match results {
            Ok(results) => results,
            Err(error) => {
                // Rolled back whole: every occurrence of the batch waits for the database.
                metrics.database_error(Call::Clock);
                failed = true;
                tracing::warn!(%error, occurrences = batch.len(), "cannot enqueue: waiting for the database");
                let due = Utc::now() + retry.next_wait();
                for (p, _, _) in batch {
                    state.queue.push(Reverse(Pending { due, ..p }));
                }
                continue;
            }
        };
        for ((p, name, next), fired) in batch.into_iter().zip(results) {
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
    }
    if !failed {
        retry.reset();
    }
}
