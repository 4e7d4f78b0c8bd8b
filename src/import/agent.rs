//! SQL Server Agent jobs (msdb's sysjobs, sysjobsteps, sysjobschedules, sysschedules) to
//! task JSON. The input is the JSON that `sql/mssql/agent_import_query.sql` returns: an
//! array of jobs, each `{"job_name", "enabled", "description", "category_name", "steps":
//! [...], "schedules": [...]}` with msdb's own column names and values.
//!
//! - Steps: CmdExec steps become the task's shell command (several, in a straight line,
//!   joined with `&&`); a job with T-SQL steps becomes an `external` task (Agent keeps
//!   running it), or with `tsql_as_sqlcmd` one `sqlcmd` run by the driver that runs its
//!   steps in order, each in its database, and stops at the first failure (see
//!   [`sqlcmd`](super::sqlcmd)). Other subsystems (SSIS, PowerShell, replication,
//!   Analysis Services) and flows with jumps are refused.
//! - Schedules, one trigger each: freq_type 1 once, 4 daily, 8 weekly, 16 monthly, 32
//!   monthly relative, 64 "when Agent starts" (driverStart); 128 (idle) is refused.
//!   freq_subday_type 2/4/8 repeat every freq_subday_interval seconds (whole minutes
//!   only) / minutes / hours from active_start_time until active_end_time: a repetition
//!   window (an active_end_time before active_start_time ends it on the next day).
//! - active_start_date/time are the trigger's start, active_end_date its expiry (the day
//!   after it); retry_attempts/retry_interval (minutes) are maxAttempts/retryDelaySeconds.

use super::sqlcmd::{self, Refusal, TsqlStep};
use super::{description, task_id, Mapped, Unsupported};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Which jobs, and how T-SQL steps are imported.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only the job of this name.
    pub job: Option<String>,
    /// Only the jobs of this category.
    pub category: Option<String>,
    /// Run T-SQL steps with sqlcmd instead of importing the job as external.
    pub tsql_as_sqlcmd: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub job_name: String,
    #[serde(default = "one")]
    pub enabled: u8,
    pub description: Option<String>,
    pub category_name: Option<String>,
    /// The SQL Server the job is on (@@SERVERNAME): where `--tsql-as-sqlcmd` connects;
    /// absent in older saved results (then the local default instance).
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub steps: Vec<Step>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub schedules: Vec<AgentSchedule>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    pub step_id: i32,
    pub step_name: String,
    pub subsystem: String,
    pub command: Option<String>,
    pub database_name: Option<String>,
    #[serde(default)]
    pub retry_attempts: i32,
    #[serde(default)]
    pub retry_interval: i32,
    /// 1 quit with success, 2 quit with failure, 3 go to the next step, 4 go to a step.
    #[serde(default = "one_i32")]
    pub on_success_action: i32,
    #[serde(default)]
    pub on_success_step_id: i32,
    #[serde(default = "two")]
    pub on_fail_action: i32,
    #[serde(default)]
    pub on_fail_step_id: i32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AgentSchedule {
    pub schedule_name: String,
    #[serde(default = "one")]
    pub enabled: u8,
    pub freq_type: i32,
    #[serde(default)]
    pub freq_interval: i32,
    #[serde(default)]
    pub freq_subday_type: i32,
    #[serde(default)]
    pub freq_subday_interval: i32,
    #[serde(default)]
    pub freq_relative_interval: i32,
    #[serde(default)]
    pub freq_recurrence_factor: i32,
    pub active_start_date: i32,
    #[serde(default = "end_of_time")]
    pub active_end_date: i32,
    #[serde(default)]
    pub active_start_time: i32,
    #[serde(default = "last_second")]
    pub active_end_time: i32,
}

fn one() -> u8 {
    1
}
fn one_i32() -> i32 {
    1
}
fn two() -> i32 {
    2
}
fn end_of_time() -> i32 {
    99_991_231
}
fn last_second() -> i32 {
    235_959
}

fn null_as_empty<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Maps the jobs of the query's JSON that `options` selects. Err: the text is not the
/// query's JSON.
pub fn map_jobs(text: &str, options: &Options) -> Result<Vec<Mapped>, String> {
    let jobs: Vec<Job> = serde_json::from_str(text)
        .map_err(|error| format!("not the JSON of the Agent query: {error}"))?;
    let selected: Vec<Job> = jobs
        .into_iter()
        .filter(|job| {
            options
                .job
                .as_ref()
                .is_none_or(|name| &job.job_name == name)
        })
        .filter(|job| {
            options
                .category
                .as_ref()
                .is_none_or(|name| job.category_name.as_ref() == Some(name))
        })
        .collect();
    if let Some(name) = &options.job {
        if selected.is_empty() {
            return Err(format!("no job named {name:?}"));
        }
    }
    Ok(selected
        .iter()
        .map(|job| Mapped {
            source: job.job_name.clone(),
            result: map_job(job, options),
        })
        .collect())
}

/// One job as task JSON, or what stops it.
pub fn map_job(job: &Job, options: &Options) -> Result<Value, Vec<Unsupported>> {
    let mut mapper = JobMapper {
        job: &job.job_name,
        problems: Vec::new(),
    };
    let mut json = Map::new();
    json.insert("id".into(), json!(task_id(&job.job_name)));
    let origin = format!("SQL Server Agent job {}", job.job_name);
    // What Agent stores when no description was given.
    let text = job
        .description
        .as_deref()
        .filter(|text| *text != "No description available.");
    json.insert("description".into(), json!(description(&origin, text)));
    mapper.steps(&job.steps, job.server_name.as_deref(), options, &mut json);
    // Agent never starts a job that is still running, and does not catch up.
    json.insert("ifRunning".into(), json!("skip"));
    json.insert("enabled".into(), json!(job.enabled != 0));
    if job.schedules.is_empty() {
        mapper.refuse(
            "sysjobschedules",
            "the job has no schedule (it only runs on demand)",
        );
    }
    let triggers: Vec<Value> = job
        .schedules
        .iter()
        .filter_map(|schedule| mapper.schedule(schedule))
        .collect();
    json.insert("triggers".into(), Value::Array(triggers));
    if mapper.problems.is_empty() {
        Ok(Value::Object(json))
    } else {
        Err(mapper.problems)
    }
}

struct JobMapper<'a> {
    job: &'a str,
    problems: Vec<Unsupported>,
}

impl JobMapper<'_> {
    fn refuse(&mut self, element: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Unsupported {
            task: self.job.to_string(),
            element: element.into(),
            reason: reason.into(),
        });
    }

    fn steps(
        &mut self,
        steps: &[Step],
        server: Option<&str>,
        options: &Options,
        json: &mut Map<String, Value>,
    ) {
        if steps.is_empty() {
            self.refuse("sysjobsteps", "the job has no step");
            return;
        }
        let tsql = steps
            .iter()
            .any(|s| s.subsystem.eq_ignore_ascii_case("TSQL"));
        for step in steps {
            let subsystem = step.subsystem.as_str();
            if !subsystem.eq_ignore_ascii_case("CmdExec") && !subsystem.eq_ignore_ascii_case("TSQL")
            {
                self.refuse(
                    format!("sysjobsteps[{}].subsystem", step.step_id),
                    format!("{subsystem} steps cannot be imported (only CmdExec and TSQL)"),
                );
            }
        }
        let external = tsql && !options.tsql_as_sqlcmd;
        // Agent keeps running an external job, whatever its flow; stagehand runs the
        // others, and only as a straight line: each step goes on to the next on
        // success, the last quits with success, any failure quits with failure.
        if !external {
            for (index, step) in steps.iter().enumerate() {
                let last = index + 1 == steps.len();
                let on_success = if last { 1 } else { 3 };
                if step.on_success_action != on_success || step.on_fail_action != 2 {
                    self.refuse(
                        format!("sysjobsteps[{}].on_success_action/on_fail_action", step.step_id),
                        "a flow with jumps (go to a step, or go on after a failure) cannot be imported",
                    );
                }
            }
        }
        let retries = steps
            .iter()
            .map(|s| s.retry_attempts.max(0))
            .max()
            .unwrap_or(0);
        let interval = steps
            .iter()
            .map(|s| s.retry_interval.max(0))
            .max()
            .unwrap_or(0);
        if retries > 0 {
            if retries > 99 || interval > 1440 {
                self.refuse(
                    "sysjobsteps.retry_attempts/retry_interval",
                    "needs at most 99 retries, at most 1440 minutes apart",
                );
            }
            json.insert("maxAttempts".into(), json!(retries + 1));
            json.insert("retryDelaySeconds".into(), json!(interval * 60));
        }
        let command = |step: &Step| step.command.clone().unwrap_or_default();
        if external {
            // The job stays in Agent. The command is what it runs when that is one T-SQL
            // step (so `task export --format agent` can write the job again), else a
            // note naming the job.
            json.insert("executor".into(), json!("external"));
            let text = match steps {
                [step] if step.subsystem.eq_ignore_ascii_case("TSQL") => step
                    .command
                    .clone()
                    .filter(|c| !c.trim().is_empty() && c.chars().count() <= 4000),
                _ => None,
            };
            let text = text.unwrap_or_else(|| format!("SQL Server Agent job {}", self.job));
            json.insert("command".into(), json!(text));
            return;
        }
        if tsql {
            self.sqlcmd(steps, server, json);
            return;
        }
        let lines: Vec<String> = steps.iter().map(command).collect();
        json.insert("command".into(), json!(lines.join(" && ")));
    }

    /// `--tsql-as-sqlcmd`: the T-SQL steps, in order, as one sqlcmd run (see
    /// [`sqlcmd`](super::sqlcmd)); a job that also has CmdExec steps is refused (a
    /// chain of both would need a shell between them).
    fn sqlcmd(&mut self, steps: &[Step], server: Option<&str>, json: &mut Map<String, Value>) {
        if let Some(step) = steps
            .iter()
            .find(|s| !s.subsystem.eq_ignore_ascii_case("TSQL"))
        {
            self.refuse(
                format!("sysjobsteps[{}].subsystem", step.step_id),
                "a job mixing T-SQL and other steps cannot run as one sqlcmd",
            );
            return;
        }
        let tsql: Vec<TsqlStep> = steps
            .iter()
            .map(|step| TsqlStep {
                command: step.command.as_deref().unwrap_or_default(),
                database: step.database_name.as_deref().unwrap_or("master"),
            })
            .collect();
        match sqlcmd::arguments(&tsql, server) {
            Ok(arguments) => {
                json.insert("command".into(), json!("sqlcmd"));
                json.insert("arguments".into(), json!(arguments));
            }
            Err((index, refusal)) => self.refuse(
                format!("sysjobsteps[{}].command", steps[index].step_id),
                match refusal {
                    Refusal::AgentTokens => "uses Agent tokens ($(...)), which only Agent replaces",
                    Refusal::RepeatedBatch => "GO with a count cannot run through sqlcmd -Q",
                },
            ),
        }
    }

    fn schedule(&mut self, schedule: &AgentSchedule) -> Option<Value> {
        let at = format!("sysschedules[{}]", schedule.schedule_name);
        let mut json = Map::new();
        let start_date = date(schedule.active_start_date);
        let start_time = time(schedule.active_start_time);
        let (Some(start_date), Some(start_time)) = (start_date, start_time) else {
            self.refuse(
                format!("{at}.active_start_date/active_start_time"),
                format!(
                    "{} {} is not a date (yyyymmdd) and time (hhmmss)",
                    schedule.active_start_date, schedule.active_start_time
                ),
            );
            return None;
        };
        let start = format!("{start_date}T{start_time}");
        let recurring = |kind: &str, json: &mut Map<String, Value>| {
            json.insert("recurrence".into(), json!(kind));
            json.insert("start".into(), json!(start));
        };
        let every = schedule.freq_recurrence_factor.max(1);
        match schedule.freq_type {
            1 => recurring("once", &mut json),
            4 => {
                recurring("daily", &mut json);
                json.insert("intervalDays".into(), json!(schedule.freq_interval.max(1)));
            }
            8 => {
                recurring("weekly", &mut json);
                json.insert("intervalWeeks".into(), json!(every));
                let days: Vec<&str> = WEEKDAYS
                    .iter()
                    .filter(|(bit, _)| schedule.freq_interval & bit != 0)
                    .map(|(_, day)| *day)
                    .collect();
                if days.is_empty() {
                    self.refuse(format!("{at}.freq_interval"), "no weekday");
                }
                json.insert("weekdays".into(), json!(days));
            }
            16 | 32 => {
                recurring("monthly", &mut json);
                if schedule.freq_type == 16 {
                    match schedule.freq_interval {
                        day @ 1..=31 => json.insert("monthDays".into(), json!([day])),
                        other => {
                            self.refuse(
                                format!("{at}.freq_interval"),
                                format!("{other} is not a day"),
                            );
                            None
                        }
                    };
                } else {
                    self.relative(schedule, &at, &mut json);
                }
                // Every n months, counted from the start's month.
                if every > 1 {
                    if 12 % every != 0 {
                        self.refuse(
                            format!("{at}.freq_recurrence_factor"),
                            format!("every {every} months does not repeat within a year"),
                        );
                    }
                    let first = start_date
                        .split('-')
                        .nth(1)
                        .and_then(|m| m.parse::<i32>().ok())
                        .unwrap_or(1);
                    let months: Vec<i32> = (0..12 / every)
                        .map(|k| (first - 1 + k * every) % 12 + 1)
                        .collect();
                    let mut months = months;
                    months.sort_unstable();
                    json.insert("months".into(), json!(months));
                }
            }
            64 => {
                json.insert("recurrence".into(), json!("driverStart"));
            }
            128 => {
                self.refuse(
                    format!("{at}.freq_type"),
                    "128 (when the computer is idle) cannot be imported",
                );
                return None;
            }
            other => {
                self.refuse(
                    format!("{at}.freq_type"),
                    format!("{other} is not an Agent frequency"),
                );
                return None;
            }
        }
        if matches!(schedule.freq_type, 4 | 8 | 16 | 32) {
            self.subday(schedule, &at, &mut json);
        }
        if schedule.freq_type != 64 && schedule.active_end_date < 99_991_231 {
            match date(schedule.active_end_date).and_then(|d| day_after(&d)) {
                Some(end) => {
                    json.insert("expires".into(), json!(format!("{end}T00:00:00")));
                }
                None => self.refuse(
                    format!("{at}.active_end_date"),
                    format!("{} is not a date (yyyymmdd)", schedule.active_end_date),
                ),
            }
        }
        if schedule.enabled == 0 {
            json.insert("enabled".into(), json!(false));
        }
        Some(Value::Object(json))
    }

    /// freq_type 32: the freq_relative_interval-th freq_interval of the month.
    fn relative(&mut self, schedule: &AgentSchedule, at: &str, json: &mut Map<String, Value>) {
        let week = match schedule.freq_relative_interval {
            1 => json!(1),
            2 => json!(2),
            4 => json!(3),
            8 => json!(4),
            16 => json!("last"),
            other => {
                self.refuse(
                    format!("{at}.freq_relative_interval"),
                    format!("{other} is not 1, 2, 4, 8 or 16"),
                );
                return;
            }
        };
        match schedule.freq_interval {
            day @ 1..=7 => {
                // 1 Sunday .. 7 Saturday.
                let weekday = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][day as usize - 1];
                json.insert(
                    "monthWeekdays".into(),
                    json!([{"week": week, "weekday": weekday}]),
                );
            }
            8 => {
                // "the first/second/third/fourth/last day": the month's day 1..4 or last.
                json.insert("monthDays".into(), json!([week]));
            }
            9 | 10 => {
                // "the first .. last weekday (Monday to Friday) / weekend day".
                let kind = if schedule.freq_interval == 9 {
                    "weekday"
                } else {
                    "weekendDay"
                };
                json.insert(
                    "monthWeekdays".into(),
                    json!([{"week": week, "weekday": kind}]),
                );
            }
            other => self.refuse(
                format!("{at}.freq_interval"),
                format!("{other} is not 1..10"),
            ),
        }
    }

    fn subday(&mut self, schedule: &AgentSchedule, at: &str, json: &mut Map<String, Value>) {
        let interval = schedule.freq_subday_interval;
        let minutes = match schedule.freq_subday_type {
            0 | 1 => return,
            2 if interval > 0 && interval % 60 == 0 => interval / 60,
            2 => {
                self.refuse(
                    format!("{at}.freq_subday_interval"),
                    format!("every {interval} seconds: only whole minutes can be imported"),
                );
                return;
            }
            4 => interval,
            8 => interval.saturating_mul(60),
            other => {
                self.refuse(
                    format!("{at}.freq_subday_type"),
                    format!("{other} is not 1, 2, 4 or 8"),
                );
                return;
            }
        };
        if !(1..1440).contains(&minutes) {
            self.refuse(format!("{at}.freq_subday_interval"), "must be under a day");
            return;
        }
        let Some(until) = time(schedule.active_end_time) else {
            self.refuse(format!("{at}.active_end_time"), "not a time (hhmmss)");
            return;
        };
        // An end before the start crosses midnight: the window belongs to the day it
        // starts on and ends on the next (`until` before the time of day says so).
        if schedule.active_end_time == schedule.active_start_time {
            self.refuse(
                format!("{at}.active_end_time"),
                "a window ending when it starts cannot be imported",
            );
            return;
        }
        json.insert(
            "repetition".into(),
            json!({"everyMinutes": minutes, "until": until}),
        );
    }
}

/// freq_interval bits of a weekly schedule.
const WEEKDAYS: [(i32, &str); 7] = [
    (2, "mon"),
    (4, "tue"),
    (8, "wed"),
    (16, "thu"),
    (32, "fri"),
    (64, "sat"),
    (1, "sun"),
];

/// yyyymmdd -> YYYY-MM-DD.
fn date(value: i32) -> Option<String> {
    let date = chrono::NaiveDate::from_ymd_opt(
        value / 10_000,
        (value / 100 % 100) as u32,
        (value % 100) as u32,
    )?;
    Some(date.format("%Y-%m-%d").to_string())
}

fn day_after(date: &str) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()?
        .succ_opt()?;
    Some(date.format("%Y-%m-%d").to_string())
}

/// hhmmss -> HH:MM:SS.
fn time(value: i32) -> Option<String> {
    let time = chrono::NaiveTime::from_hms_opt(
        (value / 10_000) as u32,
        (value / 100 % 100) as u32,
        (value % 100) as u32,
    )?;
    (value >= 0).then(|| time.format("%H:%M:%S").to_string())
}
