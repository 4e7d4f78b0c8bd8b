//! [`Schedule`]: a task's compiled triggers merged into one time line.

use super::occurrences::Occurrences;
use super::task::TaskDefinition;
use super::trigger::Trigger;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The triggers of one task, compiled in its zone. Fires at every instant one of its
/// triggers fires at; two triggers firing at the same instant make one occurrence.
#[derive(Debug, Clone)]
pub struct Schedule {
    time_zone: Tz,
    triggers: Vec<Trigger>,
    stop_at_end: bool,
}

impl Schedule {
    /// Compiles `task`'s triggers; a disabled task compiles to triggers that never fire.
    pub fn new(task: &TaskDefinition) -> Schedule {
        Schedule {
            stop_at_end: task
                .triggers
                .iter()
                .any(|t| t.repetition.is_some_and(|r| r.stop_at_end)),
            time_zone: task.time_zone,
            triggers: task
                .triggers
                .iter()
                .map(|trigger| Trigger::new(trigger, &task.id, task.time_zone, task.enabled))
                .collect(),
        }
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The compiled triggers, in the task's order (the trigger index used everywhere).
    pub fn triggers(&self) -> &[Trigger] {
        &self.triggers
    }

    /// The first occurrence strictly after `t` and the index of the trigger that fires
    /// it (the lowest index when several fire at that instant).
    pub fn next_with_trigger(&self, t: DateTime<Utc>) -> Option<(DateTime<Utc>, usize)> {
        self.triggers
            .iter()
            .enumerate()
            .filter_map(|(index, trigger)| Some((trigger.next_after(t)?, index)))
            .min()
    }

    /// The next `count` occurrences strictly after `after`, in time order, each with the
    /// trigger that fires it (the lowest index when several fire at the same instant,
    /// which is reported once), as wall-clock times in the task's zone.
    pub fn upcoming(&self, after: DateTime<Utc>, count: usize) -> Vec<(DateTime<Tz>, usize)> {
        let mut next: Vec<Option<DateTime<Utc>>> = self
            .triggers
            .iter()
            .map(|trigger| trigger.next_after(after))
            .collect();
        let mut found = Vec::with_capacity(count.min(10_000));
        while found.len() < count {
            let Some((at, index)) = next
                .iter()
                .enumerate()
                .filter_map(|(index, at)| Some(((*at)?, index)))
                .min()
            else {
                break;
            };
            found.push((at.with_timezone(&self.time_zone), index));
            for (trigger, slot) in self.triggers.iter().zip(next.iter_mut()) {
                if *slot == Some(at) {
                    *slot = trigger.next_after(at);
                }
            }
        }
        found
    }
}

impl Schedule {
    /// Whether a trigger has a `stopAtEnd` repetition window.
    pub fn stops_at_window_end(&self) -> bool {
        self.stop_at_end
    }

    /// When a run fired for `occurrence` must be stopped: the end of the `stopAtEnd`
    /// repetition window it belongs to (the latest, should two triggers claim it).
    pub fn stop_deadline(&self, occurrence: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.triggers
            .iter()
            .filter_map(|trigger| trigger.stop_deadline(occurrence))
            .max()
    }
}

impl Occurrences for Schedule {
    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.triggers
            .iter()
            .filter_map(|trigger| trigger.next_after(t))
            .min()
    }

    fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.triggers
            .iter()
            .filter_map(|trigger| trigger.previous_at_or_before(t))
            .max()
    }
}
