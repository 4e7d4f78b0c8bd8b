//! Minutely triggers: `start + k * interval` in elapsed time, optionally filtered by the
//! weekday and month of each instant in the task's zone. Pure arithmetic on seconds.

use super::calendar::DateRule;
use super::wall_clock::{local_time, resolve};
use chrono::{DateTime, Days, NaiveTime, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone)]
pub(crate) struct Interval {
    tz: Tz,
    /// The first occurrence, in seconds since the epoch.
    anchor: i64,
    /// The interval in seconds.
    step: i64,
    /// The dates (in `tz`) whose instants are kept; `None` keeps all.
    filter: Option<DateRule>,
}

impl Interval {
    pub(crate) fn new(
        tz: Tz,
        start: DateTime<Utc>,
        minutes: u32,
        filter: Option<DateRule>,
    ) -> Self {
        Interval {
            tz,
            anchor: start.timestamp(),
            step: i64::from(minutes) * 60,
            filter,
        }
    }

    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // A whole second is after t exactly when it is at or after floor(t) + 1.
        let mut candidate = self.grid_at_or_after(t.timestamp().checked_add(1)?)?;
        loop {
            let Some(filter) = &self.filter else {
                return DateTime::from_timestamp(candidate, 0);
            };
            let date = local_time(self.tz, DateTime::from_timestamp(candidate, 0)?).date();
            let allowed = filter.next_on_or_after(date)?;
            if allowed == date {
                return DateTime::from_timestamp(candidate, 0);
            }
            // Jump to the first instant of the next allowed date; `candidate + 1` keeps
            // the search moving should a repeated hour put that instant behind us.
            let day_start = resolve(self.tz, allowed.and_time(NaiveTime::MIN)).timestamp();
            candidate = self.grid_at_or_after(day_start.max(candidate + 1))?;
        }
    }

    pub(crate) fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut candidate = self.grid_at_or_before(t.timestamp())?;
        loop {
            let Some(filter) = &self.filter else {
                return DateTime::from_timestamp(candidate, 0);
            };
            let date = local_time(self.tz, DateTime::from_timestamp(candidate, 0)?).date();
            let allowed = filter.previous_on_or_before(date)?;
            if allowed == date {
                return DateTime::from_timestamp(candidate, 0);
            }
            // Jump to the last second of the previous allowed date.
            let day_after = allowed.checked_add_days(Days::new(1))?;
            let day_end = resolve(self.tz, day_after.and_time(NaiveTime::MIN)).timestamp() - 1;
            candidate = self.grid_at_or_before(day_end.min(candidate - 1))?;
        }
    }

    /// The first occurrence of the unfiltered grid at or after second `s`.
    fn grid_at_or_after(&self, s: i64) -> Option<i64> {
        if s <= self.anchor {
            return Some(self.anchor);
        }
        let steps = (s - self.anchor + self.step - 1) / self.step;
        steps.checked_mul(self.step)?.checked_add(self.anchor)
    }

    /// The last occurrence of the unfiltered grid at or before second `s`.
    fn grid_at_or_before(&self, s: i64) -> Option<i64> {
        if s < self.anchor {
            return None;
        }
        Some(self.anchor + (s - self.anchor) / self.step * self.step)
    }
}
