//! A compiled trigger: its definition resolved in the task's zone, ready to answer
//! [`Occurrences`] queries. `once` and the calendar recurrences (daily, weekly, monthly)
//! live here, with repetition windows and random delays; minutely is in `interval`, cron
//! in `cron`.

use super::calendar::{Cadence, DateRule, MonthDays, Months, Weekdays};
use super::cron::CronTimes;
use super::interval::Interval;
use super::occurrences::Occurrences;
use super::task::{
    DayKind, MonthDay, Recurrence, Repetition, RepetitionEnd, TimeSpec, TriggerDefinition,
    WeekOfMonth,
};
use super::wall_clock::{local_time, local_upper_bound, resolve};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// One trigger of a [`Schedule`](super::Schedule), compiled.
///
/// Nothing fires from a disabled trigger (or a trigger of a disabled task), nor for a
/// scheduled time at or after `expires`.
#[derive(Debug, Clone)]
pub struct Trigger {
    enabled: bool,
    expires: Option<DateTime<Utc>>,
    times: Times,
    /// `randomDelaySeconds`, with the hash of the task id that seeds it.
    delay: Option<RandomDelay>,
}

#[derive(Debug, Clone)]
enum Times {
    Once(DateTime<Utc>),
    Interval(Interval),
    Calendar(CalendarTimes),
    Cron(CronTimes),
    /// Not a time series: the clock fires it this long after its driver starts.
    DriverStart {
        delay: TimeDelta,
    },
}

#[derive(Debug, Clone, Copy)]
struct RandomDelay {
    seed: u64,
    max_seconds: i64,
}

/// The delay `randomDelaySeconds: max_seconds` adds to the occurrence scheduled at
/// `scheduled` of task `task_id`: uniform in 0..=max_seconds, and a pure function of its
/// arguments (FNV-1a, stable across builds and machines), so every driver agrees on it.
pub fn random_delay(task_id: &str, scheduled: DateTime<Utc>, max_seconds: u32) -> u32 {
    let delay = RandomDelay {
        seed: fnv1a(FNV_OFFSET, task_id.as_bytes()),
        max_seconds: i64::from(max_seconds),
    };
    delay.of(scheduled).num_seconds() as u32
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl RandomDelay {
    fn of(self, scheduled: DateTime<Utc>) -> TimeDelta {
        let hash = fnv1a(self.seed, &scheduled.timestamp().to_be_bytes());
        // The modulo bias of a 64-bit hash over at most 86 401 values is negligible.
        TimeDelta::seconds((hash % (self.max_seconds as u64 + 1)) as i64)
    }
}

impl Trigger {
    /// Compiles `definition` for task `task_id` in zone `tz`; `task_enabled` false
    /// disables it.
    pub(crate) fn new(
        definition: &TriggerDefinition,
        task_id: &str,
        tz: Tz,
        task_enabled: bool,
    ) -> Trigger {
        let calendar = |start: &TimeSpec, cadence: Cadence, months| {
            let wall_clock = start.wall_clock(tz);
            Times::Calendar(CalendarTimes {
                tz,
                start: start.resolve(tz),
                time_of_day: wall_clock.time(),
                dates: DateRule::new(wall_clock.date(), cadence, Months::new(months)),
                window: definition.repetition.as_ref().map(Window::new),
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
                month_weekdays,
                months,
            } => {
                let own_day = MonthDay::Day(start.wall_clock(tz).day() as u8);
                let days = if month_days.is_empty() && month_weekdays.is_empty() {
                    std::slice::from_ref(&own_day)
                } else {
                    month_days
                };
                let mut set = MonthDays {
                    days: 0,
                    last: false,
                    weekdays: 0,
                    kinds: 0,
                };
                for day in days {
                    match day {
                        MonthDay::Day(day @ 1..=31) => set.days |= 1 << day,
                        MonthDay::Day(_) => {}
                        MonthDay::Last => set.last = true,
                    }
                }
                for entry in month_weekdays {
                    let week = match entry.week {
                        WeekOfMonth::Nth(n @ 1..=4) => u32::from(n) - 1,
                        WeekOfMonth::Nth(_) => continue,
                        WeekOfMonth::Last => 4,
                    };
                    match entry.weekday {
                        DayKind::Named(day) => {
                            set.weekdays |= 1 << (week * 7 + day.num_days_from_monday());
                        }
                        DayKind::Weekday => set.kinds |= 1 << week,
                        DayKind::WeekendDay => set.kinds |= 1 << (5 + week),
                    }
                }
                calendar(start, Cadence::Monthly(set), months)
            }
            Recurrence::Cron { start, expression } => Times::Cron(CronTimes::new(
                tz,
                expression,
                start.map(|start| start.resolve(tz)),
            )),
            Recurrence::DriverStart { delay_seconds } => Times::DriverStart {
                delay: TimeDelta::seconds(i64::from(*delay_seconds)),
            },
        };
        Trigger {
            enabled: task_enabled && definition.enabled,
            expires: definition.expires.map(|expires| expires.resolve(tz)),
            times,
            delay: (definition.random_delay_seconds > 0).then(|| RandomDelay {
                seed: fnv1a(FNV_OFFSET, task_id.as_bytes()),
                max_seconds: i64::from(definition.random_delay_seconds),
            }),
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

    /// Whether this is a `driverStart` trigger, which the clock fires when it starts (it
    /// has no occurrences in time).
    pub fn is_driver_start(&self) -> bool {
        matches!(self.times, Times::DriverStart { .. })
    }

    /// When an enabled driverStart trigger fires for a driver started at `at`: its
    /// `delaySeconds` later, unless it has expired by then.
    pub fn driver_start_occurrence(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Times::DriverStart { delay } = self.times else {
            return None;
        };
        let occurrence = at.checked_add_signed(delay)?;
        (self.enabled && self.expires.is_none_or(|e| occurrence < e)).then_some(occurrence)
    }

    /// For a `stopAtEnd` repetition: when the window that `occurrence` (as fired, random
    /// delay included) belongs to ends, so that a run still going then is stopped.
    /// `None` for other triggers and for instants that are none of its occurrences.
    pub fn stop_deadline(&self, occurrence: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Times::Calendar(calendar) = &self.times else {
            return None;
        };
        let window = calendar.window.filter(|window| window.stop_at_end)?;
        let delay = self.delay;
        let max = TimeDelta::seconds(delay.map_or(0, |d| d.max_seconds));
        // The scheduled time is at most `max` before the occurrence: the candidates are
        // the windows opened at or before the occurrence that reach occurrence - max, the
        // latest first (of overlapping windows, the one ending last).
        for (date, open) in calendar.windows_reaching(window, occurrence, occurrence - max) {
            let last = calendar.window_last(window, date, open);
            let fired_as = |scheduled: DateTime<Utc>| {
                scheduled + delay.map_or(TimeDelta::zero(), |delay| delay.of(scheduled))
            };
            let mut step = (occurrence - max).max(open);
            // The first grid point of the window at or after `step`.
            let offset = (step.timestamp() - open.timestamp()).rem_euclid(window.every);
            if offset != 0 {
                step += TimeDelta::seconds(window.every - offset);
            }
            while step <= last.min(occurrence) {
                if fired_as(step) == occurrence {
                    return Some(last + TimeDelta::seconds(1));
                }
                step += TimeDelta::seconds(window.every);
            }
        }
        None
    }

    /// The first scheduled time (before any random delay) strictly after `t`.
    fn scheduled_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = match &self.times {
            Times::Once(at) => Some(*at).filter(|at| *at > t),
            Times::Interval(interval) => interval.next_after(t),
            Times::Calendar(calendar) => calendar.next_after(t),
            Times::Cron(cron) => cron.next_after(t),
            Times::DriverStart { .. } => None,
        };
        next.filter(|at| self.expires.is_none_or(|expires| *at < expires))
    }

    /// The last scheduled time (before any random delay) at or before `t`.
    fn scheduled_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
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
            Times::DriverStart { .. } => None,
        }
    }
}

impl Occurrences for Trigger {
    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.enabled {
            return None;
        }
        let Some(delay) = self.delay else {
            return self.scheduled_after(t);
        };
        // Delays reorder occurrences: look at every scheduled time that may land after
        // t (those after t - max) until one lands before the next scheduled time.
        let max = TimeDelta::seconds(delay.max_seconds);
        let mut best: Option<DateTime<Utc>> = None;
        let mut scheduled = self.scheduled_after(t.checked_sub_signed(max)?);
        while let Some(at) = scheduled {
            if best.is_some_and(|best| at > best) {
                break;
            }
            let delayed = at.checked_add_signed(delay.of(at))?;
            if delayed > t && best.is_none_or(|best| delayed < best) {
                best = Some(delayed);
            }
            scheduled = self.scheduled_after(at);
        }
        best
    }

    fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.enabled {
            return None;
        }
        let Some(delay) = self.delay else {
            return self.scheduled_at_or_before(t);
        };
        let max = TimeDelta::seconds(delay.max_seconds);
        let mut best: Option<DateTime<Utc>> = None;
        let mut scheduled = self.scheduled_at_or_before(t);
        while let Some(at) = scheduled {
            if best.is_some_and(|best| at + max <= best) {
                break;
            }
            let delayed = at.checked_add_signed(delay.of(at))?;
            if delayed <= t && best.is_none_or(|best| delayed > best) {
                best = Some(delayed);
            }
            scheduled = self.scheduled_at_or_before(at.checked_sub_signed(TimeDelta::seconds(1))?);
        }
        best
    }
}

/// Daily, weekly and monthly: a wall-clock time of day on the dates a rule allows, each
/// optionally opening a repetition window.
#[derive(Debug, Clone)]
struct CalendarTimes {
    tz: Tz,
    start: DateTime<Utc>,
    time_of_day: NaiveTime,
    dates: DateRule,
    window: Option<Window>,
}

/// A repetition window, in seconds of elapsed time from its opening occurrence.
#[derive(Debug, Clone, Copy)]
struct Window {
    every: i64,
    end: RepetitionEnd,
    /// `stopAtEnd`: a run still going when the window ends is stopped.
    stop_at_end: bool,
}

impl Window {
    fn new(repetition: &Repetition) -> Window {
        Window {
            every: i64::from(repetition.every_minutes.get()) * 60,
            end: repetition.end,
            stop_at_end: repetition.stop_at_end,
        }
    }

    /// The most elapsed time from a window's opening to its last repeat: its duration,
    /// or for `until` a day of wall-clock time plus any daylight-saving shift.
    fn longest(self) -> TimeDelta {
        match self.end {
            RepetitionEnd::Duration(minutes) => TimeDelta::minutes(i64::from(minutes.get())),
            RepetitionEnd::Until(_) => TimeDelta::hours(27),
        }
    }
}

impl CalendarTimes {
    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let lower = t.max(self.start.checked_sub_signed(TimeDelta::nanoseconds(1))?);
        let opening = self.opening_after(lower).map(|(_, at)| at);
        let Some(window) = self.window else {
            return opening;
        };
        // Every window opened at or before `lower` and still open then may repeat next.
        let mut best = opening;
        for (date, open) in self.windows_reaching(window, lower, lower) {
            if let Some(repeat) = self.repeat_after(window, date, open, lower) {
                best = Some(best.map_or(repeat, |best| best.min(repeat)));
            }
        }
        best
    }

    fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (_, latest) = self.opening_at_or_before(t)?;
        let Some(window) = self.window else {
            return Some(latest);
        };
        // Windows that end before the latest opening cannot hold a later occurrence.
        self.windows_reaching(window, t, latest)
            .map(|(date, open)| self.repeat_at_or_before(window, date, open, t))
            .max()
    }

    /// The windows opened at or before `t` that may still be open at `reaching` (a
    /// window lasts at most its longest), the latest opening first.
    fn windows_reaching(
        &self,
        window: Window,
        t: DateTime<Utc>,
        reaching: DateTime<Utc>,
    ) -> impl Iterator<Item = (NaiveDate, DateTime<Utc>)> + '_ {
        let longest = window.longest();
        std::iter::successors(self.opening_at_or_before(t), move |(_, open)| {
            self.opening_at_or_before(open.checked_sub_signed(TimeDelta::seconds(1))?)
        })
        .take_while(move |(_, open)| *open + longest >= reaching)
    }

    /// The last instant the window opened at `open` for `date` may fire at (inclusive).
    fn window_last(&self, window: Window, date: NaiveDate, open: DateTime<Utc>) -> DateTime<Utc> {
        match window.end {
            RepetitionEnd::Duration(minutes) => {
                open + TimeDelta::minutes(i64::from(minutes.get())) - TimeDelta::seconds(1)
            }
            // An `until` not after the time of day ends the window on the next day.
            RepetitionEnd::Until(until) if until <= self.time_of_day => {
                let next = date.succ_opt().unwrap_or(date);
                resolve(self.tz, next.and_time(until))
            }
            RepetitionEnd::Until(until) => resolve(self.tz, date.and_time(until)),
        }
    }

    /// The first repeat (not the opening itself) of the window opened at `open` after `t`.
    fn repeat_after(
        &self,
        window: Window,
        date: NaiveDate,
        open: DateTime<Utc>,
        t: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let steps = ((t.timestamp() - open.timestamp()).div_euclid(window.every) + 1).max(1);
        let at = open.checked_add_signed(TimeDelta::seconds(steps * window.every))?;
        Some(at).filter(|at| *at <= self.window_last(window, date, open))
    }

    /// The last occurrence (the opening or a repeat) of the window opened at `open`, at or
    /// before `t` (`open` <= `t`).
    fn repeat_at_or_before(
        &self,
        window: Window,
        date: NaiveDate,
        open: DateTime<Utc>,
        t: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let upper = t.min(self.window_last(window, date, open));
        let steps = (upper.timestamp() - open.timestamp())
            .div_euclid(window.every)
            .max(0);
        open + TimeDelta::seconds(steps * window.every)
    }

    /// The first window opening (the trigger's own time of day) strictly after `lower`,
    /// with the date it is for.
    fn opening_after(&self, lower: DateTime<Utc>) -> Option<(NaiveDate, DateTime<Utc>)> {
        // Dates before lower's own wall-clock date resolve to `lower` or earlier.
        let mut date = local_time(self.tz, lower).date();
        loop {
            date = self.dates.next_on_or_after(date)?;
            let at = resolve(self.tz, date.and_time(self.time_of_day));
            if at > lower {
                return Some((date, at));
            }
            date = date.succ_opt()?;
        }
    }

    fn opening_at_or_before(&self, t: DateTime<Utc>) -> Option<(NaiveDate, DateTime<Utc>)> {
        let mut date = local_upper_bound(self.tz, t).date();
        loop {
            date = self.dates.previous_on_or_before(date)?;
            let at = resolve(self.tz, date.and_time(self.time_of_day));
            if at <= t {
                return Some((date, at)).filter(|(_, at)| *at >= self.start);
            }
            date = date.pred_opt()?;
        }
    }
}
