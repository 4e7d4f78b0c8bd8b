//! The task and trigger model (a task's JSON after validation) and its JSON form.
//!
//! Values come from [`parse_task`](super::parse_task); [`TaskDefinition::to_json`] writes
//! them back, and `parse_task(&t.to_json_string()) == Ok(t)`.

use super::wall_clock;
use crate::exec::OutputEncoding;
use crate::store::LogLevel;
use chrono::{
    DateTime, Datelike, FixedOffset, Month, NaiveDateTime, NaiveTime, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Serialize;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

/// What happens when a run is due while an earlier run of the task is still pending or
/// running (`ifRunning`; the `OverlapPolicy` column). Applied by the database at enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OverlapPolicy {
    /// Refuse the new run.
    #[default]
    Skip,
    /// Run both.
    Parallel,
    /// Enqueue the new run; it is claimed after the earlier one finishes.
    Queue,
    /// Cancel the earlier run, then run the new one.
    KillPrevious,
}

impl OverlapPolicy {
    /// Every policy, in documentation order.
    pub const ALL: [OverlapPolicy; 4] = [
        OverlapPolicy::Skip,
        OverlapPolicy::Parallel,
        OverlapPolicy::Queue,
        OverlapPolicy::KillPrevious,
    ];

    /// The JSON and SQL spelling: `skip`, `parallel`, `queue`, `killPrevious`.
    pub fn as_str(self) -> &'static str {
        match self {
            OverlapPolicy::Skip => "skip",
            OverlapPolicy::Parallel => "parallel",
            OverlapPolicy::Queue => "queue",
            OverlapPolicy::KillPrevious => "killPrevious",
        }
    }
}

/// Who executes a task's runs (`executor`; the `Executor` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Executor {
    /// stagehand's driver claims and runs the command.
    #[default]
    Driver,
    /// An SSIS package or SQL Server Agent job claims the runs.
    External,
}

impl Executor {
    /// Every executor.
    pub const ALL: [Executor; 2] = [Executor::Driver, Executor::External];

    /// The JSON and SQL spelling: `driver`, `external`.
    pub fn as_str(self) -> &'static str {
        match self {
            Executor::Driver => "driver",
            Executor::External => "external",
        }
    }
}

/// `FromStr` and `Display` for the enums spelled by `as_str`.
macro_rules! spelled_enum {
    ($name:ident, $what:literal) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .into_iter()
                    .find(|value| value.as_str() == s)
                    .ok_or_else(|| format!("{s:?} is not {}", $what))
            }
        }
    };
}

spelled_enum!(
    OverlapPolicy,
    "an overlap policy (skip, parallel, queue or killPrevious)"
);
spelled_enum!(Executor, "an executor (driver or external)");

/// A task: a command and the triggers that run it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinition {
    /// The name its runs register under (`ProcessName`), 1..255 characters.
    pub id: String,
    pub description: Option<String>,
    /// A shell command line, or the program to run when `arguments` is set.
    pub command: String,
    /// When set, `command` runs as a program with these arguments, without a shell.
    pub arguments: Option<Vec<String>>,
    pub working_directory: Option<String>,
    /// What the clock does at start-up about occurrences missed while no driver ran
    /// (`catchUp`; `runIfMissed: true` is `once`).
    pub catch_up: CatchUpPolicy,
    pub if_running: OverlapPolicy,
    /// A disabled task never fires.
    pub enabled: bool,
    /// The zone wall-clock times are read in; when the JSON omits it, the machine's zone
    /// at parse time (so the stored task does not change meaning between machines).
    pub time_zone: Tz,
    pub timeout_minutes: Option<u32>,
    pub max_attempts: u32,
    pub retry_delay_seconds: u32,
    pub executor: Executor,
    /// How the command's output is decoded (`outputEncoding`); None: the platform's
    /// default (the OEM code page on Windows, UTF-8 on Unix).
    pub output_encoding: Option<OutputEncoding>,
    /// The least severe log row kept for the task's runs (`minLogLevel`, over the
    /// database's `stage.SetMinLogLevel`); None: the database's level.
    pub min_log_level: Option<LogLevel>,
    /// Who hears of the task's outcomes; None: nobody.
    pub notify: Option<NotifySettings>,
    /// At least one.
    pub triggers: Vec<TriggerDefinition>,
}

/// `notify`: which outcomes of a task are sent where. Kept in the task's stored JSON
/// (stage.Task.Definition), which the database reads into stage.TaskNotify on save; the
/// driver delivers what stage.Notification holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// Every failed run (its last attempt).
    pub on_failure: bool,
    pub on_success: bool,
    /// An occurrence that did not run: missed while no driver ran and not caught up, or
    /// refused because the previous run was still going.
    pub on_missed: bool,
    /// The run that makes this many failures in a row (once per streak); not together
    /// with `on_failure`.
    pub after_consecutive_failures: Option<NonZeroU32>,
    /// http(s) URLs that get a JSON POST.
    pub webhooks: Vec<String>,
    /// Email addresses.
    pub emails: Vec<String>,
}

/// `catchUp`: what happens to occurrences that passed while no driver ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUpPolicy {
    /// Skip them (they are logged).
    #[default]
    None,
    /// One late run standing for the latest (`runIfMissed: true`).
    Once,
    /// One late run per missed occurrence, the latest `limit` of them (the older ones are
    /// skipped and logged).
    All { limit: u32 },
}

impl CatchUpPolicy {
    /// `catchUpLimit` when `catchUp` is `all` and no limit is given.
    pub const DEFAULT_LIMIT: u32 = 100;

    /// The JSON spelling: `none`, `once`, `all`.
    pub fn name(self) -> &'static str {
        match self {
            CatchUpPolicy::None => "none",
            CatchUpPolicy::Once => "once",
            CatchUpPolicy::All { .. } => "all",
        }
    }

    /// Whether missed occurrences run at all (the `RunIfMissed` column).
    pub fn runs_missed(self) -> bool {
        self != CatchUpPolicy::None
    }
}

/// One trigger of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerDefinition {
    pub recurrence: Recurrence,
    /// A disabled trigger never fires.
    pub enabled: bool,
    /// Nothing fires at or after this instant.
    pub expires: Option<TimeSpec>,
    /// Daily, weekly and monthly only: each occurrence opens a window of repeats.
    pub repetition: Option<Repetition>,
    /// Each occurrence is moved later by 0..=this many seconds, the same on every driver
    /// (see [`random_delay`](super::random_delay)); 0: none.
    pub random_delay_seconds: u32,
}

/// `repetition`: from each occurrence of a daily, weekly or monthly trigger (the window's
/// start), fire again every `every_minutes` (elapsed time) until the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repetition {
    pub every_minutes: NonZeroU32,
    pub end: RepetitionEnd,
    /// A run still going when the window ends is stopped by the driver (see
    /// [`Schedule::stop_deadline`](super::Schedule::stop_deadline)); durationMinutes only.
    pub stop_at_end: bool,
}

/// Where a repetition window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepetitionEnd {
    /// `durationMinutes`: repeats fire strictly before window start + this many minutes.
    Duration(NonZeroU32),
    /// `until`: repeats fire at or before this wall-clock time on the window's date, or
    /// on the next day when it is before the trigger's time of day (22:00 until 02:00).
    Until(NaiveTime),
}

/// Which week of the month a `monthWeekdays` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeekOfMonth {
    /// 1..=4: days 1-7, 8-14, 15-21, 22-28.
    Nth(u8),
    /// The last 7 days of the month.
    Last,
}

/// `{"week": 1..4 | "last", "weekday": "mon" | "weekday" | "weekendDay"}`: the first
/// Monday, the last Friday, the second weekday (Monday to Friday), the last weekend day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthWeekday {
    pub week: WeekOfMonth,
    pub weekday: DayKind,
}

/// What a `monthWeekdays` entry counts: one named weekday (week n is days 7n-6..7n), or
/// any weekday or weekend day (week n is the n-th of them in the month, as in SQL Server
/// Agent's "second weekday").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    Named(Weekday),
    /// Monday to Friday.
    Weekday,
    /// Saturday or Sunday.
    WeekendDay,
}

impl DayKind {
    /// The JSON spelling: `mon` .. `sun`, `weekday`, `weekendDay`.
    pub fn name(self) -> &'static str {
        match self {
            DayKind::Named(day) => weekday_name(day),
            DayKind::Weekday => "weekday",
            DayKind::WeekendDay => "weekendDay",
        }
    }
}

/// When a trigger fires. Wall-clock times are read in the task's zone; see
/// [`wall_clock::resolve`] for daylight-saving gaps and repeated hours.
#[derive(Debug, Clone, PartialEq)]
pub enum Recurrence {
    /// Fires once, at `start`.
    Once { start: TimeSpec },
    /// Fires at `start + k * interval_minutes` for k = 0, 1, 2, ... in elapsed time
    /// (absolute instants, unaffected by daylight saving), keeping only instants whose
    /// date in the task's zone falls on one of `weekdays` and in one of `months`
    /// (empty: no filter).
    Minutely {
        start: TimeSpec,
        interval_minutes: NonZeroU32,
        weekdays: Vec<Weekday>,
        months: Vec<Month>,
    },
    /// Fires at start's wall-clock time of day on every `interval_days`-th date counted
    /// from start's date, in `months` (empty: every month), from `start` on.
    Daily {
        start: TimeSpec,
        interval_days: NonZeroU32,
        months: Vec<Month>,
    },
    /// Fires at start's wall-clock time of day on `weekdays` (empty: start's weekday) of
    /// every `interval_weeks`-th week, weeks counted from the Monday of start's week, in
    /// `months` (empty: every month), from `start` on.
    Weekly {
        start: TimeSpec,
        interval_weeks: NonZeroU32,
        weekdays: Vec<Weekday>,
        months: Vec<Month>,
    },
    /// Fires at start's wall-clock time of day on `month_days` and `month_weekdays` (both
    /// empty: start's day of the month) of every month in `months` (empty: every month),
    /// from `start` on. A month without the day (31 in April) is skipped for that day;
    /// `Last` is always the month's last day, and a date named twice (31 and `Last` in
    /// May) fires once.
    Monthly {
        start: TimeSpec,
        month_days: Vec<MonthDay>,
        month_weekdays: Vec<MonthWeekday>,
        months: Vec<Month>,
    },
    /// Fires at the wall-clock times matching a standard 5-field cron expression, from
    /// `start` on when given.
    Cron {
        start: Option<TimeSpec>,
        expression: CronExpression,
    },
    /// Fires once at every start of a driver (`stagehand run`), from the driver that
    /// started, `delay_seconds` after the start (`delaySeconds`, Task Scheduler's
    /// BootTrigger Delay): the occurrence is that instant, enqueued through FireTrigger.
    DriverStart { delay_seconds: u32 },
}

impl Recurrence {
    /// The JSON spelling: `once`, `minutely`, `daily`, `weekly`, `monthly`, `cron`,
    /// `driverStart`.
    pub fn name(&self) -> &'static str {
        match self {
            Recurrence::Once { .. } => "once",
            Recurrence::Minutely { .. } => "minutely",
            Recurrence::Daily { .. } => "daily",
            Recurrence::Weekly { .. } => "weekly",
            Recurrence::Monthly { .. } => "monthly",
            Recurrence::Cron { .. } => "cron",
            Recurrence::DriverStart { .. } => "driverStart",
        }
    }

    /// The trigger's `start`; `None` for a cron trigger without one and for driverStart.
    pub fn start(&self) -> Option<&TimeSpec> {
        match self {
            Recurrence::Once { start }
            | Recurrence::Minutely { start, .. }
            | Recurrence::Daily { start, .. }
            | Recurrence::Weekly { start, .. }
            | Recurrence::Monthly { start, .. } => Some(start),
            Recurrence::Cron { start, .. } => start.as_ref(),
            Recurrence::DriverStart { .. } => None,
        }
    }
}

/// A day of the month in a monthly trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthDay {
    /// 1..=31; other values never match.
    Day(u8),
    /// The month's last day.
    Last,
}

/// `start` or `expires`: a wall-clock time in the task's zone, or an instant given with
/// an explicit offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// `2024-12-06T15:00:00`: read in the task's zone.
    Local(NaiveDateTime),
    /// `2024-12-06T15:00:00Z`, `2024-12-06T15:00:00-03:00`: that instant.
    Fixed(DateTime<FixedOffset>),
}

impl TimeSpec {
    /// Parses a wall-clock time `YYYY-MM-DDTHH:MM:SS` (seconds optional) or an RFC 3339
    /// instant (`...Z`, `...-03:00`); whole seconds only, years 1900..=9999.
    pub fn parse(text: &str) -> Result<TimeSpec, String> {
        let spec = if let Some(local) = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        {
            TimeSpec::Local(local)
        } else {
            let fixed = DateTime::parse_from_rfc3339(text).map_err(|_| {
                format!(
                    "{text:?} is not a date and time like 2024-12-06T15:00:00, \
                     optionally followed by Z or an offset like -03:00"
                )
            })?;
            TimeSpec::Fixed(fixed)
        };
        let local = match spec {
            TimeSpec::Local(local) => local,
            TimeSpec::Fixed(fixed) => fixed.naive_local(),
        };
        if local.nanosecond() != 0 {
            return Err(format!("{text:?}: fractions of a second are not supported"));
        }
        if !(1900..=9999).contains(&local.year()) {
            return Err(format!("{text:?}: the year must be 1900..9999"));
        }
        Ok(spec)
    }

    /// The instant this stands for in `tz` (see [`wall_clock::resolve`]).
    pub fn resolve(&self, tz: Tz) -> DateTime<Utc> {
        match self {
            TimeSpec::Local(local) => wall_clock::resolve(tz, *local),
            TimeSpec::Fixed(fixed) => fixed.with_timezone(&Utc),
        }
    }

    /// The wall-clock time this stands for in `tz`: as written when local, else the
    /// instant's wall-clock time there. Calendar triggers take their time of day from it.
    pub fn wall_clock(&self, tz: Tz) -> NaiveDateTime {
        match self {
            TimeSpec::Local(local) => *local,
            TimeSpec::Fixed(fixed) => wall_clock::local_time(tz, fixed.with_timezone(&Utc)),
        }
    }
}

impl fmt::Display for TimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeSpec::Local(local) => write!(f, "{}", local.format("%Y-%m-%dT%H:%M:%S")),
            TimeSpec::Fixed(fixed) => write!(f, "{}", fixed.format("%Y-%m-%dT%H:%M:%S%:z")),
        }
    }
}

/// A parsed standard 5-field cron expression (or an `@daily`-style nickname), evaluated
/// on wall-clock times in the task's zone. A day restricted in both the day-of-month and
/// the day-of-week field matches either, as in Vixie cron.
#[derive(Debug, Clone)]
pub struct CronExpression {
    text: String,
    pub(crate) cron: croner::Cron,
}

impl CronExpression {
    /// Parses `text`; fails when it is not a 5-field expression or never matches.
    pub fn parse(text: &str) -> Result<CronExpression, String> {
        let cron = croner::Cron::new(text)
            .parse()
            .map_err(|error| format!("{text:?} is not a 5-field cron expression: {error}"))?;
        // An expression such as "0 0 30 2 *" parses but names no real date.
        let probe = chrono::NaiveDate::from_ymd_opt(2000, 1, 1)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|local| local.and_utc());
        if probe.is_some_and(|from| cron.find_next_occurrence(&from, true).is_err()) {
            return Err(format!("{text:?} never matches a date"));
        }
        Ok(CronExpression {
            text: text.to_string(),
            cron,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for CronExpression {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for CronExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The JSON spelling of a weekday: `mon` .. `sun`.
pub(crate) fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

impl TaskDefinition {
    /// The task as a JSON value, in the format [`parse_task`](super::parse_task) reads;
    /// defaults are written out (timeZone included), empty optional lists left out.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(TaskJson::from(self))
            .expect("a task holds only strings, numbers and booleans")
    }

    /// [`to_json`](Self::to_json) as pretty-printed text, fields in documented order.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(&TaskJson::from(self))
            .expect("a task holds only strings, numbers and booleans")
    }
}

/// The JSON layout, field order as documented.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskJson<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_directory: Option<&'a str>,
    run_if_missed: bool,
    catch_up: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    catch_up_limit: Option<u32>,
    if_running: &'static str,
    enabled: bool,
    time_zone: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_minutes: Option<u32>,
    max_attempts: u32,
    retry_delay_seconds: u32,
    executor: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_encoding: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_log_level: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify: Option<NotifyJson<'a>>,
    triggers: Vec<TriggerJson>,
}

/// Every flag is written out, so the database never applies a default of its own.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotifyJson<'a> {
    on_failure: bool,
    on_success: bool,
    on_missed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    after_consecutive_failures: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    webhooks: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    emails: &'a [String],
}

impl<'a> From<&'a NotifySettings> for NotifyJson<'a> {
    fn from(notify: &'a NotifySettings) -> Self {
        NotifyJson {
            on_failure: notify.on_failure,
            on_success: notify.on_success,
            on_missed: notify.on_missed,
            after_consecutive_failures: notify.after_consecutive_failures.map(NonZeroU32::get),
            webhooks: &notify.webhooks,
            emails: &notify.emails,
        }
    }
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct TriggerJson {
    recurrence: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval_weeks: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    weekdays: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    month_days: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    month_weekdays: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    months: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cron: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repetition: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "is_zero")]
    random_delay_seconds: u32,
    #[serde(skip_serializing_if = "is_zero")]
    delay_seconds: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(skip_serializing_if = "is_true")]
    enabled: bool,
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl<'a> From<&'a TaskDefinition> for TaskJson<'a> {
    fn from(task: &'a TaskDefinition) -> Self {
        TaskJson {
            id: &task.id,
            description: task.description.as_deref(),
            command: &task.command,
            arguments: task.arguments.as_deref(),
            working_directory: task.working_directory.as_deref(),
            run_if_missed: task.catch_up.runs_missed(),
            catch_up: task.catch_up.name(),
            catch_up_limit: match task.catch_up {
                CatchUpPolicy::All { limit } => Some(limit),
                _ => None,
            },
            if_running: task.if_running.as_str(),
            enabled: task.enabled,
            time_zone: task.time_zone.name(),
            timeout_minutes: task.timeout_minutes,
            max_attempts: task.max_attempts,
            retry_delay_seconds: task.retry_delay_seconds,
            executor: task.executor.as_str(),
            output_encoding: task.output_encoding.map(|encoding| match encoding {
                OutputEncoding::CodePage(page) => serde_json::json!(page),
                named => serde_json::json!(named.to_string()),
            }),
            min_log_level: task.min_log_level.map(LogLevel::as_str),
            notify: task.notify.as_ref().map(NotifyJson::from),
            triggers: task.triggers.iter().map(TriggerJson::from).collect(),
        }
    }
}

impl From<&TriggerDefinition> for TriggerJson {
    fn from(trigger: &TriggerDefinition) -> Self {
        let names = |days: &[Weekday]| days.iter().map(|day| weekday_name(*day)).collect();
        let numbers = |months: &[Month]| months.iter().map(|m| m.number_from_month()).collect();
        let mut json = TriggerJson {
            recurrence: trigger.recurrence.name(),
            start: trigger.recurrence.start().map(ToString::to_string),
            expires: trigger.expires.map(|expires| expires.to_string()),
            enabled: trigger.enabled,
            repetition: trigger.repetition.map(|repetition| repetition.to_json()),
            random_delay_seconds: trigger.random_delay_seconds,
            ..TriggerJson::default()
        };
        match &trigger.recurrence {
            Recurrence::Once { .. } => {}
            Recurrence::Minutely {
                interval_minutes,
                weekdays,
                months,
                ..
            } => {
                json.interval_minutes = Some(interval_minutes.get());
                json.weekdays = names(weekdays);
                json.months = numbers(months);
            }
            Recurrence::Daily {
                interval_days,
                months,
                ..
            } => {
                json.interval_days = Some(interval_days.get());
                json.months = numbers(months);
            }
            Recurrence::Weekly {
                interval_weeks,
                weekdays,
                months,
                ..
            } => {
                json.interval_weeks = Some(interval_weeks.get());
                json.weekdays = names(weekdays);
                json.months = numbers(months);
            }
            Recurrence::Monthly {
                month_days,
                month_weekdays,
                months,
                ..
            } => {
                json.month_weekdays = month_weekdays
                    .iter()
                    .map(|entry| {
                        let week = match entry.week {
                            WeekOfMonth::Nth(n) => serde_json::Value::from(n),
                            WeekOfMonth::Last => serde_json::Value::from("last"),
                        };
                        serde_json::json!({"week": week, "weekday": entry.weekday.name()})
                    })
                    .collect();
                json.month_days = month_days
                    .iter()
                    .map(|day| match day {
                        MonthDay::Day(day) => serde_json::Value::from(*day),
                        MonthDay::Last => serde_json::Value::from("last"),
                    })
                    .collect();
                json.months = numbers(months);
            }
            Recurrence::Cron { expression, .. } => json.cron = Some(expression.to_string()),
            Recurrence::DriverStart { delay_seconds } => json.delay_seconds = *delay_seconds,
        }
        json
    }
}

impl Repetition {
    fn to_json(self) -> serde_json::Value {
        let mut json = serde_json::json!({"everyMinutes": self.every_minutes.get()});
        match self.end {
            RepetitionEnd::Duration(minutes) => json["durationMinutes"] = minutes.get().into(),
            RepetitionEnd::Until(time) => {
                let format = if time.second() == 0 {
                    "%H:%M"
                } else {
                    "%H:%M:%S"
                };
                json["until"] = time.format(format).to_string().into();
            }
        }
        if self.stop_at_end {
            json["stopAtEnd"] = true.into();
        }
        json
    }
}
