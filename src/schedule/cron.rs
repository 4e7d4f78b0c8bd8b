//! Cron triggers: croner matches wall-clock times (it is given them as if they were UTC,
//! a zone without daylight saving), and [`resolve`] turns each match into an instant, so
//! gaps and repeated hours follow the same rules as every other trigger.

use super::task::CronExpression;
use super::wall_clock::{local_time, local_upper_bound, resolve};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;

/// How far back [`CronTimes::previous_at_or_before`] looks for a match: longer than the
/// longest gap between matches of a satisfiable expression (Feb 29: 8 years around 2100).
const LONGEST_GAP: TimeDelta = TimeDelta::days(16 * 366);

#[derive(Debug, Clone)]
pub(crate) struct CronTimes {
    tz: Tz,
    cron: croner::Cron,
    start: Option<DateTime<Utc>>,
}

impl CronTimes {
    pub(crate) fn new(tz: Tz, expression: &CronExpression, start: Option<DateTime<Utc>>) -> Self {
        CronTimes {
            tz,
            cron: expression.cron.clone(),
            start,
        }
    }

    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let lower = match self.start {
            Some(start) => t.max(start.checked_sub_signed(TimeDelta::nanoseconds(1))?),
            None => t,
        };
        // Wall-clock times up to lower's own resolve to `lower` or earlier (resolve is
        // monotonic), so the search starts there; matches inside a repeated hour's second
        // pass resolve to its first pass and are passed over.
        let mut local = local_time(self.tz, lower).with_nanosecond(0)?;
        loop {
            local =
                self.first_match_at_or_after(local.checked_add_signed(TimeDelta::seconds(1))?)?;
            let at = resolve(self.tz, local);
            if at > lower {
                return Some(at);
            }
        }
    }

    pub(crate) fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut local = local_upper_bound(self.tz, t).with_nanosecond(0)?;
        loop {
            local = self.last_match_at_or_before(local)?;
            let at = resolve(self.tz, local);
            if at <= t {
                return Some(at).filter(|at| self.start.is_none_or(|start| *at >= start));
            }
            local = local.checked_sub_signed(TimeDelta::seconds(1))?;
        }
    }

    fn first_match_at_or_after(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        // croner gives up (an error) past year 5000.
        let found = self
            .cron
            .find_next_occurrence(&local.and_utc(), true)
            .ok()?;
        Some(found.naive_utc())
    }

    /// The last matching wall-clock time at or before `upper`. croner only searches
    /// forwards, so: widen a window back from `upper` until it holds a match, then
    /// binary-search the window (matches fall on whole minutes).
    fn last_match_at_or_before(&self, upper: NaiveDateTime) -> Option<NaiveDateTime> {
        let matches_by = |from: NaiveDateTime| {
            self.first_match_at_or_after(from)
                .filter(|found| *found <= upper)
        };
        let mut span = TimeDelta::minutes(1);
        let window_start = loop {
            let from = upper.checked_sub_signed(span)?;
            if matches_by(from).is_some() {
                break from;
            }
            if span > LONGEST_GAP {
                return None;
            }
            span = span * 2;
        };
        // Largest k with a match in [window_start + k minutes, upper].
        let (mut found, mut beyond) = (0, span.num_minutes() + 1);
        while beyond - found > 1 {
            let middle = found + (beyond - found) / 2;
            let from = window_start.checked_add_signed(TimeDelta::minutes(middle))?;
            if matches_by(from).is_some() {
                found = middle;
            } else {
                beyond = middle;
            }
        }
        matches_by(window_start.checked_add_signed(TimeDelta::minutes(found))?)
    }
}
