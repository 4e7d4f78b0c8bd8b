//! A compiled trigger: its definition resolved in the task's zone, ready to answer
//! [`Occurrences`] queries. `once` and the calendar recurrences (daily, weekly, monthly)
//! live here; minutely is in `interval`, cron in `cron`.

use super::calendar::{Cadence, DateRule, MonthDays, Months, Weekdays};
use super::cron::CronTimes;
use super::interval::Interval;
use super::occurrences::Occurrences;
use super::task::{MonthDay, Recurrence, TimeSpec, TriggerDefinition};
use super::wall_clock::{local_time, local_upper_bound, resolve};
use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// One trigger of a [`Schedule`](super::Schedule), compiled.
///
/// Nothing fires from a disabled trigger (or a trigger of a disabled task), nor at or
/// after `expires`.
#[derive(Debug, Clone)]
pub struct Trigger {
    enabled: bool,
    expires: Option<DateTime<Utc>>,
    times: Times,
}

#[derive(Debug, Clone)]
enum Times {
    Once(DateTime<Utc>),
    Interval(Interval),
    Calendar(CalendarTimes),
    Cron(CronTimes),
}

impl Trigger {
    /// Compiles `definition` for a task in zone `tz`; `task_enabled` false disables it.
    pub(crate) fn new(definition: &TriggerDefinition, tz: Tz, task_enabled: bool) -> Trigger {
        let calendar = |start: &TimeSpec, cadence: Cadence, months| {
            let wall_clock = start.wall_clock(tz);
            Times::Calendar(CalendarTimes {
                tz,
                start: start.resolve(tz),
                time_of_day: wall_clock.time(),
                dates: DateRule::new(wall_clock.date(), cadence, Months::new(months)),
            })
        };
        let times = match &definition.recurrence {
            Recurrence::Once { start } => Times::Once(start.resolve(tz)),
            Recurrence::Minutely {
                start,
                interval_minutes,
                weekdays,
                months,
            } => {
                let anchor = start.resolve(tz);
                // The filter is a weekly rule repeating every week from the anchor's date.
                let filter = (!weekdays.is_empty() || !months.is_empty()).then(|| {
                    let cadence = Cadence::Weekly {
                        every: 1,
                        weekdays: Weekdays::new(weekdays, &Weekdays::ALL),
                    };
                    let first = local_time(tz, anchor).date();
                    DateRule::new(first, cadence, Months::new(months))
                });
                Times::Interval(Interval::new(tz, anchor, interval_minutes.get(), filter))
            }
            Recurrence::Daily {
                start,
                interval_days,
                months,
            } => calendar(
                start,
                Cadence::Daily {
                    every: u64::from(interval_days.get()),
                },
                months,
            ),
            Recurrence::Weekly {
                start,
                interval_weeks,
                weekdays,
                months,
            } => {
                let own_day = start.wall_clock(tz).weekday();
                let cadence = Cadence::Weekly {
                    every: u64::from(interval_weeks.get()),
                    weekdays: Weekdays::new(weekdays, &[own_day]),
                };
                calendar(start, cadence, months)
            }
            Recurrence::Monthly {
                start,
                month_days,
                months,
            } => {
                let own_day = MonthDay::Day(start.wall_clock(tz).day() as u8);
                let days = if month_days.is_empty() {
                    std::slice::from_ref(&own_day)
                } else {
                    month_days
                };
                let mut set = MonthDays {
                    days: 0,
                    last: false,
                };
                for day in days {
                    match day {
                        MonthDay::Day(day @ 1..=31) => set.days |= 1 << day,
                        MonthDay::Day(_) => {}
                        MonthDay::Last => set.last = true,
                    }
                }
                calendar(start, Cadence::Monthly(set), months)
            }
            Recurrence::Cron { start, expression } => Times::Cron(CronTimes::new(
                tz,
                expression,
                start.map(|start| start.resolve(tz)),
            )),
        };
        Trigger {
            enabled: task_enabled && definition.enabled,
            expires: definition.expires.map(|expires| expires.resolve(tz)),
            times,
        }
    }

    /// False when the trigger or its task is disabled: it never fires.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The instant the trigger expires at, if any.
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        self.expires
    }
}

impl Occurrences for Trigger {
    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.enabled {
            return None;
        }
        let next = match &self.times {
            Times::Once(at) => Some(*at).filter(|at| *at > t),
            Times::Interval(interval) => interval.next_after(t),
            Times::Calendar(calendar) => calendar.next_after(t),
            Times::Cron(cron) => cron.next_after(t),
        };
        next.filter(|at| self.expires.is_none_or(|expires| *at < expires))
    }

    fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.enabled {
            return None;
        }
        let t = match self.expires {
            Some(expires) if t >= expires => {
                expires.checked_sub_signed(TimeDelta::nanoseconds(1))?
            }
            _ => t,
        };
        match &self.times {
            Times::Once(at) => Some(*at).filter(|at| *at <= t),
            Times::Interval(interval) => interval.previous_at_or_before(t),
            Times::Calendar(calendar) => calendar.previous_at_or_before(t),
            Times::Cron(cron) => cron.previous_at_or_before(t),
        }
    }
}

/// Daily, weekly and monthly: a wall-clock time of day on the dates a rule allows.
#[derive(Debug, Clone)]
struct CalendarTimes {
    tz: Tz,
    start: DateTime<Utc>,
    time_of_day: NaiveTime,
    dates: DateRule,
}

impl CalendarTimes {
    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let lower = t.max(self.start.checked_sub_signed(TimeDelta::nanoseconds(1))?);
        // Dates before lower's own wall-clock date resolve to `lower` or earlier.
        let mut date = local_time(self.tz, lower).date();
        loop {
            date = self.dates.next_on_or_after(date)?;
            let at = resolve(self.tz, date.and_time(self.time_of_day));
            if at > lower {
                return Some(at);
            }
            date = date.succ_opt()?;
        }
    }

    fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut date = local_upper_bound(self.tz, t).date();
        loop {
            date = self.dates.previous_on_or_before(date)?;
            let at = resolve(self.tz, date.and_time(self.time_of_day));
            if at <= t {
                return Some(at).filter(|at| *at >= self.start);
            }
            date = date.pred_opt()?;
        }
    }
}
