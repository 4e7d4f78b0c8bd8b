//! Reading tasks from JSON. The text is parsed to a `serde_json::Value` and walked by
//! hand so that EVERY mistake is reported, each with its JSON path and the rule broken
//! (serde's own derive stops at the first).

use super::calendar::Weekdays;
use super::task::{
    weekday_name, CatchUpPolicy, CronExpression, DayKind, Executor, MonthDay, MonthWeekday,
    OverlapPolicy, Recurrence, Repetition, RepetitionEnd, TaskDefinition, TimeSpec,
    TriggerDefinition, WeekOfMonth,
};
use super::zone_names::parse_zone;
use crate::exec::OutputEncoding;
use crate::store::LogLevel;
use chrono::{Month, Weekday};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use std::fmt;
use std::num::NonZeroU32;

mod notify;

/// One mistake: where it is (`triggers[2].monthDays[1]`) and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The JSON path; `task` (or `tasks`) for the document itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every mistake found in a document (never empty); displayed one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors(Vec<ValidationError>);

impl ValidationErrors {
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (number, error) in self.0.iter().enumerate() {
            if number > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Reads one task (a JSON object). A task without `timeZone` gets the machine's zone.
pub fn parse_task(text: &str) -> Result<TaskDefinition, ValidationErrors> {
    let mut checker = Checker::new("task");
    let task = checker
        .json(text)
        .and_then(|value| checker.task("", &value));
    checker.finish(task)
}

/// [`parse_task`] of JSON already parsed (a task rebuilt from its rows): no text between.
pub fn task_from_value(value: &Value) -> Result<TaskDefinition, ValidationErrors> {
    let mut checker = Checker::new("task");
    let task = checker.task("", value);
    checker.finish(task)
}

/// Reads a JSON array of tasks (`task import`, `task export`); paths start with the
/// element's index (`[3].triggers[0].start`), and two tasks with one id are an error.
pub fn parse_tasks(text: &str) -> Result<Vec<TaskDefinition>, ValidationErrors> {
    let mut checker = Checker::new("tasks");
    let tasks = checker.json(text).and_then(|value| checker.tasks(&value));
    checker.finish(tasks)
}

/// The machine's IANA time zone: the default `timeZone`.
pub fn machine_time_zone() -> Result<Tz, String> {
    let name = match iana_time_zone::get_timezone() {
        Ok(name) => name,
        #[cfg(windows)]
        Err(error) => {
            return super::zone_names::windows_machine_zone().ok_or_else(|| error.to_string())
        }
        #[cfg(not(windows))]
        Err(error) => return Err(error.to_string()),
    };
    parse_zone(&name).map_err(|_| format!("the machine's zone {name:?} is not known here"))
}

const TASK_FIELDS: &[&str] = &[
    "id",
    "description",
    "command",
    "arguments",
    "workingDirectory",
    "runIfMissed",
    "catchUp",
    "catchUpLimit",
    "ifRunning",
    "enabled",
    "timeZone",
    "timeoutMinutes",
    "maxAttempts",
    "retryDelaySeconds",
    "executor",
    "outputEncoding",
    "minLogLevel",
    "notify",
    "triggers",
];

const TRIGGER_FIELDS: &[&str] = &[
    "recurrence",
    "start",
    "enabled",
    "expires",
    "intervalMinutes",
    "intervalDays",
    "intervalWeeks",
    "weekdays",
    "monthDays",
    "monthWeekdays",
    "months",
    "cron",
    "repetition",
    "randomDelaySeconds",
    "delaySeconds",
];

const RECURRENCES: &str = "once, minutely, daily, weekly, monthly, cron or driverStart";

const REPETITION_FIELDS: &[&str] = &["everyMinutes", "durationMinutes", "until", "stopAtEnd"];

/// The longest `everyMinutes` and `durationMinutes`: 31 days.
const MAX_WINDOW_MINUTES: u32 = 31 * 1440;

/// The trigger fields a recurrence allows beyond recurrence, start, enabled and expires.
fn recurrence_fields(recurrence: &str) -> Option<&'static [&'static str]> {
    Some(match recurrence {
        "once" => &["randomDelaySeconds"],
        "minutely" => &[
            "intervalMinutes",
            "weekdays",
            "months",
            "randomDelaySeconds",
        ],
        "daily" => &["intervalDays", "months", "repetition", "randomDelaySeconds"],
        "weekly" => &[
            "intervalWeeks",
            "weekdays",
            "months",
            "repetition",
            "randomDelaySeconds",
        ],
        "monthly" => &[
            "monthDays",
            "monthWeekdays",
            "months",
            "repetition",
            "randomDelaySeconds",
        ],
        "cron" => &["cron", "randomDelaySeconds"],
        "driverStart" => &["delaySeconds"],
        _ => return None,
    })
}

/// `a.b`, or `b` at the top.
fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A value as it appears in messages: its JSON, shortened.
fn show(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        return text;
    }
    let short: String = text.chars().take(57).collect();
    format!("{short}...")
}

/// A present, non-null field (JSON null means "not given").
fn given<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|value| !value.is_null())
}

/// Walks a document, collecting errors.
struct Checker {
    root: &'static str,
    errors: Vec<ValidationError>,
    machine_zone: Option<Result<Tz, String>>,
}

impl Checker {
    fn new(root: &'static str) -> Checker {
        Checker {
            root,
            errors: Vec::new(),
            machine_zone: None,
        }
    }

    fn error(&mut self, path: &str, message: impl Into<String>) {
        let path = if path.is_empty() { self.root } else { path };
        self.errors.push(ValidationError {
            path: path.to_string(),
            message: message.into(),
        });
    }

    fn finish<T>(self, value: Option<T>) -> Result<T, ValidationErrors> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ if self.errors.is_empty() => Err(ValidationErrors(vec![ValidationError {
                path: self.root.to_string(),
                message: "could not be read".to_string(),
            }])),
            _ => Err(ValidationErrors(self.errors)),
        }
    }

    fn json(&mut self, text: &str) -> Option<Value> {
        serde_json::from_str(text)
            .map_err(|error| self.error("", format!("not valid JSON: {error}")))
            .ok()
    }

    fn tasks(&mut self, value: &Value) -> Option<Vec<TaskDefinition>> {
        let Some(items) = value.as_array() else {
            self.error(
                "",
                format!("must be a JSON array of tasks, not {}", show(value)),
            );
            return None;
        };
        let mut first_index_of_id = std::collections::HashMap::new();
        for (index, item) in items.iter().enumerate() {
            let Some(id) = item.get("id").and_then(Value::as_str) else {
                continue;
            };
            let first = *first_index_of_id.entry(id).or_insert(index);
            if first != index {
                self.error(
                    &format!("[{index}].id"),
                    format!("{id:?} is also the id of [{first}]"),
                );
            }
        }
        let tasks: Vec<Option<TaskDefinition>> = items
            .iter()
            .enumerate()
            .map(|(index, item)| self.task(&format!("[{index}]"), item))
            .collect();
        tasks.into_iter().collect()
    }

    fn task(&mut self, path: &str, value: &Value) -> Option<TaskDefinition> {
        let errors_before = self.errors.len();
        let map = self.object(path, value, "a task", TASK_FIELDS)?;
        let id = self.required(map, path, "id", |c, p, v| c.text(p, v, 1, 255));
        let description = self.optional(map, path, "description", |c, p, v| c.text(p, v, 0, 1000));
        let command = self.required(map, path, "command", |c, p, v| c.text(p, v, 1, 4000));
        let arguments = self.optional(map, path, "arguments", |c, p, v| {
            c.list(p, v, ListRules::ANY, |c, p, v| c.text(p, v, 0, usize::MAX))
        });
        let working_directory = self.optional(map, path, "workingDirectory", |c, p, v| {
            c.text(p, v, 1, 1000)
        });
        let run_if_missed = self.optional(map, path, "runIfMissed", Self::boolean);
        let catch_up = self.catch_up(map, path, run_if_missed);
        let if_running = self.optional(map, path, "ifRunning", Self::spelled::<OverlapPolicy>);
        let enabled = self.optional(map, path, "enabled", Self::boolean);
        let time_zone = match given(map, "timeZone") {
            Some(value) => self.time_zone(&field(path, "timeZone"), value),
            None => self.machine_zone(&field(path, "timeZone")),
        };
        let timeout_minutes = self.optional(map, path, "timeoutMinutes", |c, p, v| {
            c.whole(p, v, 1, i32::MAX as u32)
        });
        let max_attempts = self.optional(map, path, "maxAttempts", |c, p, v| c.whole(p, v, 1, 100));
        let retry_delay_seconds = self.optional(map, path, "retryDelaySeconds", |c, p, v| {
            c.whole(p, v, 0, 86_400)
        });
        let executor = self.optional(map, path, "executor", Self::spelled::<Executor>);
        let output_encoding = self.optional(map, path, "outputEncoding", Self::output_encoding);
        let min_log_level = self.optional(map, path, "minLogLevel", Self::log_level);
        let notify = self.optional(map, path, "notify", Self::notify);
        // One run per missed occurrence only holds when runs may wait or overlap.
        if let (Some(CatchUpPolicy::All { .. }), Some(policy)) =
            (catch_up, if_running.or(Some(OverlapPolicy::Skip)))
        {
            if !matches!(policy, OverlapPolicy::Queue | OverlapPolicy::Parallel) {
                self.error(
                    &field(path, "catchUp"),
                    format!(
                        "\"all\" needs ifRunning \"queue\" or \"parallel\" (with {policy:?} each \
                         late run would refuse or stop the one before)",
                        policy = policy.as_str()
                    ),
                );
            }
        }
        let triggers = self.required(map, path, "triggers", |c, p, v| {
            c.list(p, v, ListRules::NOT_EMPTY, |c, p, v| {
                c.trigger(p, v, time_zone)
            })
        });
        if self.errors.len() > errors_before {
            return None;
        }
        Some(TaskDefinition {
            id: id?,
            description,
            command: command?,
            arguments,
            working_directory,
            catch_up: catch_up?,
            if_running: if_running.unwrap_or_default(),
            enabled: enabled.unwrap_or(true),
            time_zone: time_zone?,
            timeout_minutes,
            max_attempts: max_attempts.unwrap_or(1),
            retry_delay_seconds: retry_delay_seconds.unwrap_or(60),
            executor: executor.unwrap_or_default(),
            output_encoding,
            min_log_level,
            notify,
            triggers: triggers?,
        })
    }

    fn trigger(
        &mut self,
        path: &str,
        value: &Value,
        zone: Option<Tz>,
    ) -> Option<TriggerDefinition> {
        let errors_before = self.errors.len();
        let map = self.object(path, value, "a trigger", TRIGGER_FIELDS)?;
        let recurrence = self.required(map, path, "recurrence", |c, p, v| {
            let name = c.text(p, v, 0, usize::MAX)?;
            if recurrence_fields(&name).is_none() {
                c.error(p, format!("{name:?} is not a recurrence ({RECURRENCES})"));
                return None;
            }
            Some(name)
        });
        // Fields of another recurrence are reported, then left out of the checks below.
        let mut map = map.clone();
        if let Some(name) = &recurrence {
            let own = recurrence_fields(name).unwrap_or(&[]);
            let foreign: Vec<String> = map
                .iter()
                .filter(|(key, value)| {
                    let common = ["recurrence", "start", "enabled", "expires"];
                    TRIGGER_FIELDS.contains(&key.as_str())
                        && !common.contains(&key.as_str())
                        && !own.contains(&key.as_str())
                        && !value.is_null()
                })
                .map(|(key, _)| key.clone())
                .collect();
            for key in foreign {
                self.error(
                    &field(path, &key),
                    format!("not allowed for recurrence {name:?}"),
                );
                map.remove(&key);
            }
        }
        let name = recurrence.as_deref().unwrap_or("");
        if name == "driverStart" && given(&map, "start").is_some() {
            self.error(
                &field(path, "start"),
                "not allowed for recurrence \"driverStart\" (it fires when a driver starts)",
            );
            map.remove("start");
        }
        let start = if name == "cron" || name == "driverStart" || name.is_empty() {
            self.optional(&map, path, "start", Self::time_spec)
        } else {
            self.required_for(&map, path, "start", name, Self::time_spec)
        };
        let enabled = self.optional(&map, path, "enabled", Self::boolean);
        let expires = self.optional(&map, path, "expires", Self::time_spec);
        let interval_minutes = if name == "minutely" {
            self.required_for(&map, path, "intervalMinutes", name, |c, p, v| {
                c.whole(p, v, 1, 527_040)
            })
        } else {
            self.optional(&map, path, "intervalMinutes", |c, p, v| {
                c.whole(p, v, 1, 527_040)
            })
        };
        let interval_days =
            self.optional(&map, path, "intervalDays", |c, p, v| c.whole(p, v, 1, 3660));
        let interval_weeks =
            self.optional(&map, path, "intervalWeeks", |c, p, v| c.whole(p, v, 1, 520));
        let weekdays = self.optional(&map, path, "weekdays", |c, p, v| {
            c.list(p, v, ListRules::SET, Self::weekday)
        });
        let month_days = self.optional(&map, path, "monthDays", |c, p, v| {
            c.list(p, v, ListRules::SET, Self::month_day)
        });
        let month_weekdays = self.optional(&map, path, "monthWeekdays", |c, p, v| {
            c.list(p, v, ListRules::SET, Self::month_weekday)
        });
        let months = self.optional(&map, path, "months", |c, p, v| {
            c.list(p, v, ListRules::SET, Self::month)
        });
        let repetition = self.optional(&map, path, "repetition", |c, p, v| {
            c.repetition(
                p,
                v,
                start
                    .as_ref()
                    .map(|s| s.wall_clock(zone.unwrap_or(Tz::UTC))),
            )
        });
        let random_delay_seconds = self.optional(&map, path, "randomDelaySeconds", |c, p, v| {
            c.whole(p, v, 0, 86_400)
        });
        let delay_seconds = self.optional(&map, path, "delaySeconds", |c, p, v| {
            c.whole(p, v, 0, 86_400)
        });
        let cron = if name == "cron" {
            self.required_for(&map, path, "cron", name, Self::cron)
        } else {
            self.optional(&map, path, "cron", Self::cron)
        };
        if let (Some(zone), Some(start), Some(expires)) = (zone, start, expires) {
            if expires.resolve(zone) <= start.resolve(zone) {
                self.error(
                    &field(path, "expires"),
                    format!("must be after start ({start})"),
                );
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let interval = |value: Option<u32>| NonZeroU32::new(value.unwrap_or(1));
        let weekdays = weekdays.unwrap_or_default();
        let months = months.unwrap_or_default();
        let recurrence = match name {
            "once" => Recurrence::Once { start: start? },
            "minutely" => Recurrence::Minutely {
                start: start?,
                interval_minutes: interval(interval_minutes)?,
                weekdays,
                months,
            },
            "daily" => Recurrence::Daily {
                start: start?,
                interval_days: interval(interval_days)?,
                months,
            },
            "weekly" => Recurrence::Weekly {
                start: start?,
                interval_weeks: interval(interval_weeks)?,
                weekdays,
                months,
            },
            "monthly" => Recurrence::Monthly {
                start: start?,
                month_days: month_days.unwrap_or_default(),
                month_weekdays: month_weekdays.unwrap_or_default(),
                months,
            },
            "cron" => Recurrence::Cron {
                start,
                expression: cron?,
            },
            "driverStart" => Recurrence::DriverStart {
                delay_seconds: delay_seconds.unwrap_or(0),
            },
            _ => return None,
        };
        Some(TriggerDefinition {
            recurrence,
            enabled: enabled.unwrap_or(true),
            expires,
            repetition,
            random_delay_seconds: random_delay_seconds.unwrap_or(0),
        })
    }

    /// `catchUp` and `catchUpLimit`, with `runIfMissed` as the alias of `once`.
    fn catch_up(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        run_if_missed: Option<bool>,
    ) -> Option<CatchUpPolicy> {
        let name = self.optional(map, path, "catchUp", |c, p, v| {
            let name = c.text(p, v, 0, usize::MAX)?;
            if !["none", "once", "all"].contains(&name.as_str()) {
                c.error(
                    p,
                    format!("{name:?} is not a catch-up rule (none, once or all)"),
                );
                return None;
            }
            Some(name)
        });
        let limit = self.optional(map, path, "catchUpLimit", |c, p, v| c.whole(p, v, 1, 1000));
        let limit_given = given(map, "catchUpLimit").is_some();
        if limit_given && given(map, "catchUp").and_then(Value::as_str) != Some("all") {
            self.error(
                &field(path, "catchUpLimit"),
                "only allowed with catchUp \"all\"",
            );
        }
        let policy = match name.as_deref() {
            None if given(map, "catchUp").is_some() => return None,
            None => {
                return Some(if run_if_missed == Some(true) {
                    CatchUpPolicy::Once
                } else {
                    CatchUpPolicy::None
                })
            }
            Some("none") => CatchUpPolicy::None,
            Some("once") => CatchUpPolicy::Once,
            _ => CatchUpPolicy::All {
                limit: limit.unwrap_or(CatchUpPolicy::DEFAULT_LIMIT),
            },
        };
        if run_if_missed.is_some_and(|runs| runs != policy.runs_missed()) {
            self.error(
                &field(path, "runIfMissed"),
                format!(
                    "contradicts catchUp {:?} (runIfMissed true is catchUp \"once\"; give one of them)",
                    policy.name()
                ),
            );
        }
        Some(policy)
    }

    /// A `repetition` object; `time_of_day` is the trigger's start time of day, which an
    /// `until` must differ from.
    fn repetition(
        &mut self,
        path: &str,
        value: &Value,
        time_of_day: Option<chrono::NaiveDateTime>,
    ) -> Option<Repetition> {
        let errors_before = self.errors.len();
        let map = self.object(path, value, "a repetition", REPETITION_FIELDS)?;
        // Up to 31 days, as Task Scheduler allows (P31D); windows may then overlap.
        let every = self.required(map, path, "everyMinutes", |c, p, v| {
            c.whole(p, v, 1, MAX_WINDOW_MINUTES)
        });
        let duration = self.optional(map, path, "durationMinutes", |c, p, v| {
            c.whole(p, v, 1, MAX_WINDOW_MINUTES)
        });
        let until = self.optional(map, path, "until", |c, p, v| {
            let text = c.text(p, v, 0, usize::MAX)?;
            let time = ["%H:%M", "%H:%M:%S"]
                .iter()
                .find_map(|format| chrono::NaiveTime::parse_from_str(&text, format).ok());
            if time.is_none() {
                c.error(p, format!("{text:?} is not a time of day like 17:30"));
            }
            time
        });
        let stop_at_end = self.optional(map, path, "stopAtEnd", Self::boolean);
        let end = match (duration, until) {
            (Some(minutes), None) => {
                if every.is_some_and(|every| every >= minutes) {
                    self.error(
                        &field(path, "durationMinutes"),
                        format!("must be more than everyMinutes ({})", every.unwrap_or(0)),
                    );
                }
                RepetitionEnd::Duration(NonZeroU32::new(minutes)?)
            }
            (None, Some(until)) => {
                if stop_at_end == Some(true) {
                    self.error(
                        &field(path, "stopAtEnd"),
                        "only with durationMinutes (a window until a time of day ends with its last run)",
                    );
                }
                // Earlier than the time of day ends the window on the next day; the same
                // time would make a window of one day or none.
                if let Some(start) = time_of_day.filter(|start| until == start.time()) {
                    self.error(
                        &field(path, "until"),
                        format!(
                            "must differ from the trigger's time of day ({}; an earlier time \
                             ends the window on the next day)",
                            start.time().format("%H:%M:%S")
                        ),
                    );
                }
                RepetitionEnd::Until(until)
            }
            (Some(_), Some(_)) => {
                self.error(path, "give durationMinutes or until, not both");
                return None;
            }
            (None, None)
                if given(map, "durationMinutes").is_none() && given(map, "until").is_none() =>
            {
                self.error(path, "give durationMinutes or until");
                return None;
            }
            (None, None) => return None,
        };
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Repetition {
            every_minutes: NonZeroU32::new(every?)?,
            end,
            stop_at_end: stop_at_end.unwrap_or(false),
        })
    }

    fn month_weekday(&mut self, path: &str, value: &Value) -> Option<MonthWeekday> {
        let map = self.object(path, value, "a weekday of the month", &["week", "weekday"])?;
        let week = self.required(map, path, "week", |c, p, v| {
            let week = match v {
                Value::String(text) if text.eq_ignore_ascii_case("last") => Some(WeekOfMonth::Last),
                _ => v
                    .as_u64()
                    .filter(|n| (1..=4).contains(n))
                    .map(|n| WeekOfMonth::Nth(n as u8)),
            };
            if week.is_none() {
                c.error(
                    p,
                    format!("{} is not a week of the month (1..4 or \"last\")", show(v)),
                );
            }
            week
        });
        let weekday = self.required(map, path, "weekday", Self::day_kind);
        Some(MonthWeekday {
            week: week?,
            weekday: weekday?,
        })
    }

    /// The value as an object; reports other types and unknown fields.
    fn object<'v>(
        &mut self,
        path: &str,
        value: &'v Value,
        what: &str,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = value.as_object() else {
            self.error(
                path,
                format!("must be a JSON object ({what}), not {}", show(value)),
            );
            return None;
        };
        for key in map.keys().filter(|key| !known.contains(&key.as_str())) {
            self.error(&field(path, key), "unknown field");
        }
        Some(map)
    }

    fn optional<T>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        check: impl FnOnce(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<T> {
        given(map, key).and_then(|value| check(self, &field(path, key), value))
    }

    fn required<T>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        check: impl FnOnce(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<T> {
        if given(map, key).is_none() {
            self.error(&field(path, key), "required field missing");
        }
        self.optional(map, path, key, check)
    }

    fn required_for<T>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        recurrence: &str,
        check: impl FnOnce(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<T> {
        if given(map, key).is_none() {
            self.error(
                &field(path, key),
                format!("required for recurrence {recurrence:?}"),
            );
        }
        self.optional(map, path, key, check)
    }

    fn text(&mut self, path: &str, value: &Value, min: usize, max: usize) -> Option<String> {
        let Some(text) = value.as_str() else {
            self.error(path, format!("must be a string, not {}", show(value)));
            return None;
        };
        let length = text.chars().count();
        if length < min || length > max {
            let rule = match (min, max) {
                (0, max) => format!("must be at most {max} characters"),
                (min, usize::MAX) => format!("must be at least {min} characters"),
                (min, max) => format!("must be {min}..{max} characters"),
            };
            self.error(path, rule);
            return None;
        }
        Some(text.to_string())
    }

    fn whole(&mut self, path: &str, value: &Value, min: u32, max: u32) -> Option<u32> {
        let number = value
            .as_i64()
            .filter(|n| (i64::from(min)..=i64::from(max)).contains(n));
        if number.is_none() {
            self.error(
                path,
                format!(
                    "must be a whole number from {min} to {max}, not {}",
                    show(value)
                ),
            );
        }
        number.and_then(|n| u32::try_from(n).ok())
    }

    fn boolean(&mut self, path: &str, value: &Value) -> Option<bool> {
        let flag = value.as_bool();
        if flag.is_none() {
            self.error(path, format!("must be true or false, not {}", show(value)));
        }
        flag
    }

    fn spelled<T: std::str::FromStr<Err = String>>(
        &mut self,
        path: &str,
        value: &Value,
    ) -> Option<T> {
        let parsed = self.text(path, value, 0, usize::MAX)?.parse::<T>();
        parsed.map_err(|message| self.error(path, message)).ok()
    }

    /// `oem`, `ansi`, `utf-8`, or a code page number (written as a number or a string).
    fn output_encoding(&mut self, path: &str, value: &Value) -> Option<OutputEncoding> {
        let parsed = match value {
            Value::Number(number) => number.to_string().parse(),
            _ => self.text(path, value, 0, usize::MAX)?.parse(),
        };
        parsed.map_err(|message| self.error(path, message)).ok()
    }

    /// `Info`, `Warning` or `Error`, spelt exactly (as stage.LogKept compares them).
    fn log_level(&mut self, path: &str, value: &Value) -> Option<LogLevel> {
        let text = self.text(path, value, 0, usize::MAX)?;
        let level = [LogLevel::Info, LogLevel::Warning, LogLevel::Error]
            .into_iter()
            .find(|level| level.as_str() == text);
        if level.is_none() {
            self.error(
                path,
                format!("{text:?} is not a log level (Info, Warning or Error)"),
            );
        }
        level
    }

    fn time_spec(&mut self, path: &str, value: &Value) -> Option<TimeSpec> {
        let parsed = TimeSpec::parse(&self.text(path, value, 0, usize::MAX)?);
        parsed.map_err(|message| self.error(path, message)).ok()
    }

    fn cron(&mut self, path: &str, value: &Value) -> Option<CronExpression> {
        let parsed = CronExpression::parse(&self.text(path, value, 0, usize::MAX)?);
        parsed.map_err(|message| self.error(path, message)).ok()
    }

    fn time_zone(&mut self, path: &str, value: &Value) -> Option<Tz> {
        let name = self.text(path, value, 0, usize::MAX)?;
        parse_zone(&name)
            .map_err(|message| self.error(path, message))
            .ok()
    }

    fn machine_zone(&mut self, path: &str) -> Option<Tz> {
        let zone = self
            .machine_zone
            .get_or_insert_with(machine_time_zone)
            .clone();
        zone.map_err(|reason| {
            self.error(
                path,
                format!(
                    "not given, and the machine's time zone is unknown ({reason}); set \"timeZone\" \
                     in the task to an IANA or Windows zone name, e.g. \"America/Sao_Paulo\" or \
                     \"E. South America Standard Time\""
                ),
            )
        })
        .ok()
    }

    fn weekday(&mut self, path: &str, value: &Value) -> Option<Weekday> {
        let day = value.as_str().and_then(|name| {
            Weekdays::ALL
                .into_iter()
                .find(|day| weekday_name(*day).eq_ignore_ascii_case(name))
        });
        if day.is_none() {
            self.error(
                path,
                format!(
                    "{} is not a weekday (mon, tue, wed, thu, fri, sat or sun)",
                    show(value)
                ),
            );
        }
        day
    }

    /// A `monthWeekdays` entry's `weekday`: a weekday name, `weekday` or `weekendDay`.
    fn day_kind(&mut self, path: &str, value: &Value) -> Option<DayKind> {
        let text = value.as_str().unwrap_or_default();
        let kind = if text.eq_ignore_ascii_case("weekday") {
            Some(DayKind::Weekday)
        } else if text.eq_ignore_ascii_case("weekendDay") {
            Some(DayKind::WeekendDay)
        } else {
            Weekdays::ALL
                .into_iter()
                .find(|day| weekday_name(*day).eq_ignore_ascii_case(text))
                .map(DayKind::Named)
        };
        if kind.is_none() {
            let hint = if text.eq_ignore_ascii_case("day") {
                " (the n-th day of the month is monthDays 1..4 or \"last\")"
            } else {
                ""
            };
            self.error(
                path,
                format!(
                    "{} is not a weekday (mon, tue, wed, thu, fri, sat or sun), \"weekday\" or \
                     \"weekendDay\"{hint}",
                    show(value)
                ),
            );
        }
        kind
    }

    fn month_day(&mut self, path: &str, value: &Value) -> Option<MonthDay> {
        let day = match value {
            Value::String(text) if text.eq_ignore_ascii_case("last") => Some(MonthDay::Last),
            _ => value
                .as_u64()
                .filter(|day| (1..=31).contains(day))
                .map(|day| MonthDay::Day(day as u8)),
        };
        if day.is_none() {
            self.error(
                path,
                format!(
                    "{} is not a day of the month (1..31 or \"last\")",
                    show(value)
                ),
            );
        }
        day
    }

    fn month(&mut self, path: &str, value: &Value) -> Option<Month> {
        let month = value
            .as_u64()
            .and_then(|number| u8::try_from(number).ok())
            .and_then(|number| Month::try_from(number).ok());
        if month.is_none() {
            self.error(path, format!("{} is not a month (1..12)", show(value)));
        }
        month
    }

    /// An array whose items all pass `check`.
    fn list<T: PartialEq>(
        &mut self,
        path: &str,
        value: &Value,
        rules: ListRules,
        mut check: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Some(items) = value.as_array() else {
            self.error(path, format!("must be a JSON array, not {}", show(value)));
            return None;
        };
        if items.is_empty() && rules.not_empty {
            self.error(path, "must not be empty");
            return None;
        }
        let mut checked = Vec::with_capacity(items.len());
        let mut all_valid = true;
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            match check(self, &item_path, item) {
                Some(valid) if rules.distinct && checked.contains(&valid) => {
                    self.error(&item_path, format!("{} is listed twice", show(item)));
                    all_valid = false;
                }
                Some(valid) => checked.push(valid),
                None => all_valid = false,
            }
        }
        all_valid.then_some(checked)
    }
}

/// What an array must be beyond its items being valid.
#[derive(Clone, Copy)]
struct ListRules {
    not_empty: bool,
    distinct: bool,
}

impl ListRules {
    const ANY: ListRules = ListRules {
        not_empty: false,
        distinct: false,
    };
    const NOT_EMPTY: ListRules = ListRules {
        not_empty: true,
        distinct: false,
    };
    /// A non-empty set: no item twice.
    const SET: ListRules = ListRules {
        not_empty: true,
        distinct: true,
    };
    /// No item twice, maybe none.
    const DISTINCT: ListRules = ListRules {
        not_empty: false,
        distinct: true,
    };
}
