//! Tasks, triggers and next-fire computation: the time side of the trigger clock.
//! Pure functions, no I/O (apart from reading the machine's time zone when a task's
//! JSON omits `timeZone`).
//!
//! - [`parse_task`] / [`parse_tasks`] read the task JSON, reporting every mistake with
//!   its path; [`TaskDefinition::to_json`] writes it back.
//! - [`Schedule::new`] compiles a task; [`Occurrences`] answers "next after t" and
//!   "last at or before t" for a [`Schedule`] or one of its [`Trigger`]s.
//! - [`catch_up`] decides what to do about occurrences missed while no driver ran.
//!
//! # Semantics
//!
//! Wall-clock times (`start`, `expires` without an offset, the time of day of calendar
//! triggers, cron fields) are read in the task's `timeZone`.
//!
//! - `once` fires at `start`.
//! - `minutely` fires at `start + k * intervalMinutes` in elapsed time (absolute instants,
//!   unaffected by daylight saving); with `weekdays` and/or `months`, only instants whose
//!   date in the task's zone matches them.
//! - `daily`, `weekly` and `monthly` fire at start's wall-clock time of day on matching
//!   dates on or after start: daily every `intervalDays` days counted from start's date;
//!   weekly on `weekdays` (default start's weekday) of every `intervalWeeks`-th week,
//!   weeks counted from the Monday of start's week; monthly on `monthDays` (default
//!   start's day of the month). A month without the day (31 in April, 29 in a common
//!   February) is skipped for that day; `"last"` always fires on the month's last day;
//!   31 and `"last"` in a 31-day month fire once. `months` keeps only those months.
//! - `cron` fires at the wall-clock times matching a standard 5-field expression (a day
//!   restricted in both day fields matches either), from `start` on when given.
//! - `monthWeekdays` names weekdays of the month (week 1: days 1-7 .. week 4: days 22-28,
//!   `last`: the last 7 days), or with `weekday`/`weekendDay` the n-th (or last) Monday
//!   to Friday / Saturday or Sunday of the month; together with `monthDays`.
//! - A `repetition` makes each daily/weekly/monthly occurrence open a window that fires
//!   every `everyMinutes` of elapsed time after it, strictly before + `durationMinutes`
//!   or at or before `until` on the occurrence's date (the next date when `until` is
//!   before the trigger's time of day). Windows last up to 31 days and may overlap.
//! - `randomDelaySeconds` moves each scheduled time by [`random_delay`]; `start`,
//!   `expires` and windows apply to scheduled times.
//! - `driverStart` has no times: the clock fires it when its driver starts, or
//!   `delaySeconds` after.
//! - Nothing fires at or after `expires`, from a disabled trigger or from a disabled task.
//! - Daylight saving: a wall-clock time inside a gap fires once, at the end of the gap
//!   (02:30 on a spring-forward day in New York fires at 03:00 EDT); a wall-clock time
//!   inside a repeated hour fires once, at its first occurrence. Several wall-clock times
//!   in one gap (a cron every 15 minutes) fire once together at the end of the gap.
//! - Predictions stop at the end of year 9999 (cron: year 4999).

mod calendar;
mod catch_up;
mod cron;
mod interval;
mod merged;
mod occurrences;
mod task;
mod trigger;
mod validate;
pub mod wall_clock;
mod zone_names;

pub use catch_up::{catch_up, CatchUp, Missed, MissedAction, MISSED_COUNT_LIMIT};
pub use merged::Schedule;
pub use occurrences::Occurrences;
pub use task::{
    CatchUpPolicy, CronExpression, DayKind, Executor, MonthDay, MonthWeekday, NotifySettings,
    OverlapPolicy, Recurrence, Repetition, RepetitionEnd, TaskDefinition, TimeSpec,
    TriggerDefinition, WeekOfMonth,
};
pub use trigger::{random_delay, Trigger};
pub use validate::{
    machine_time_zone, parse_task, parse_tasks, task_from_value, ValidationError, ValidationErrors,
};
