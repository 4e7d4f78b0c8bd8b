//! The catch-up decision: what the clock does about occurrences that passed while no
//! driver was running.

use super::occurrences::Occurrences;
use super::task::CatchUpPolicy;
use chrono::{DateTime, TimeDelta, Utc};

/// [`Missed::count`] stops counting here: a long outage of a frequent trigger is not
/// walked occurrence by occurrence.
pub const MISSED_COUNT_LIMIT: u64 = 10_000;

/// What the clock must do for one trigger (or schedule) when it starts, or when it
/// (re)loads the trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUp {
    /// The occurrences that passed unfired; `None` when nothing was missed.
    pub missed: Option<Missed>,
    /// The first occurrence after `now` (and after the last fired one): what to wait for.
    pub next: Option<DateTime<Utc>>,
}

/// Occurrences that passed while no driver ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missed {
    /// How many, counted up to [`MISSED_COUNT_LIMIT`] (a count equal to it means at least).
    pub count: u64,
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
    pub action: MissedAction,
    /// `catchUp: all`: the occurrences to enqueue late, oldest first (the latest
    /// `catchUpLimit` of them); empty otherwise.
    pub each: Vec<DateTime<Utc>>,
    /// `catchUp: all` beyond `catchUpLimit`: the latest occurrence NOT enqueued (the one
    /// before `each`), to log as skipped.
    pub skipped_latest: Option<DateTime<Utc>>,
}

/// What to do about missed occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissedAction {
    /// `catchUp: once` (`runIfMissed`): enqueue ONE late run now, standing for
    /// [`Missed::latest`] (its scheduled time), however many occurrences were missed.
    EnqueueLate,
    /// `catchUp: all`: enqueue one late run per occurrence of [`Missed::each`]; older
    /// ones (beyond `catchUpLimit`) are skipped and logged.
    EnqueueEach,
    /// Skip them all (log them) and wait for [`CatchUp::next`].
    Skip,
}

/// The latest `limit` occurrences in [earliest, latest], oldest first, and the latest one
/// before them in that range (the limit left it out).
fn latest_ones<O: Occurrences + ?Sized>(
    occurrences: &O,
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
    limit: u32,
) -> (Vec<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let before = |at: DateTime<Utc>| {
        at.checked_sub_signed(TimeDelta::seconds(1))
            .and_then(|at| occurrences.previous_at_or_before(at))
            .filter(|at| *at >= earliest)
    };
    let mut found = vec![latest];
    let mut skipped = before(latest);
    while let Some(at) = skipped.filter(|_| found.len() < limit as usize) {
        found.push(at);
        skipped = before(at);
    }
    found.reverse();
    (found, skipped)
}

impl CatchUp {
    /// The occurrence a late run must be enqueued for, if any.
    pub fn late_run(&self) -> Option<DateTime<Utc>> {
        self.missed
            .as_ref()
            .filter(|missed| missed.action == MissedAction::EnqueueLate)
            .map(|missed| missed.latest)
    }
}

/// Decides what to do about the occurrences of `occurrences` that passed unfired.
///
/// - `last_fired`: the occurrence the trigger last fired for (enqueued), if ever; it and
///   everything before it are done.
/// - `not_before`: when the task or trigger was created: earlier occurrences never count,
///   so a task added today never fires for yesterday.
/// - `now`: occurrences at or before `now` have passed; `next` is strictly after it.
/// - `policy`: the task's `catchUp`.
///
/// Call it at start-up and when a trigger is (re)loaded; an occurrence the running clock
/// was already waiting for is due, not missed, and the clock fires it normally.
pub fn catch_up<O: Occurrences + ?Sized>(
    occurrences: &O,
    last_fired: Option<DateTime<Utc>>,
    not_before: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: CatchUpPolicy,
) -> CatchUp {
    let first_pending = match last_fired {
        Some(last) if last >= not_before => occurrences.next_after(last),
        _ => occurrences.next_at_or_after(not_before),
    };
    let Some(earliest) = first_pending.filter(|first| *first <= now) else {
        return CatchUp {
            missed: None,
            next: first_pending,
        };
    };
    let latest = occurrences
        .previous_at_or_before(now)
        .filter(|latest| *latest >= earliest)
        .unwrap_or(earliest);
    let mut count = 1;
    let mut at = earliest;
    while at < latest && count < MISSED_COUNT_LIMIT {
        match occurrences.next_after(at) {
            Some(next) if next <= latest => {
                at = next;
                count += 1;
            }
            _ => break,
        }
    }
    let (each, skipped_latest) = match policy {
        CatchUpPolicy::All { limit } => latest_ones(occurrences, earliest, latest, limit),
        _ => (Vec::new(), None),
    };
    CatchUp {
        missed: Some(Missed {
            count,
            earliest,
            latest,
            action: match policy {
                CatchUpPolicy::None => MissedAction::Skip,
                CatchUpPolicy::Once => MissedAction::EnqueueLate,
                CatchUpPolicy::All { .. } => MissedAction::EnqueueEach,
            },
            each,
            skipped_latest,
        }),
        next: occurrences.next_after(now),
    }
}
