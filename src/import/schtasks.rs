//! Windows Task Scheduler task XML (the Task Scheduler 2.0 schema) to task JSON.
//!
//! Reads what `schtasks /query /xml ONE /tn NAME` and the Task Scheduler "Export" write
//! (UTF-16 LE with a BOM; UTF-8 and UTF-16 BE are read too), and `schtasks /query /xml`
//! output, which holds several `<Task>` elements under `<Tasks>`, each preceded by a
//! comment with its path. XML is parsed with roxmltree (a small, maintained, read-only
//! DOM with namespace support: task files are small, and only reading is needed);
//! encoding_rs decodes by the BOM.
//!
//! What cannot be mapped (logon, idle, event, registration and session triggers; COM,
//! e-mail and message actions; "run only when user is logged on"; several actions) is
//! reported as [`Unsupported`], naming the element and the task.

use super::{description, task_id, Mapped, Unsupported};
use roxmltree::{Document, Node};
use serde_json::{json, Map, Value};

/// The longest repetition window Task Scheduler offers (P31D), as stagehand's limit.
const MAX_WINDOW_MINUTES: u64 = 31 * 1440;

/// The Task Scheduler 2.0 namespace.
pub const NAMESPACE: &str = "http://schemas.microsoft.com/windows/2004/02/mit/task";

/// ExecutionTimeLimit when a task does not give one: 72 hours.
const DEFAULT_TIME_LIMIT_MINUTES: u64 = 72 * 60;

/// Decodes a task file by its byte-order mark (UTF-8 without one).
pub fn decode(bytes: &[u8]) -> String {
    let (encoding, bom_length) =
        encoding_rs::Encoding::for_bom(bytes).unwrap_or((encoding_rs::UTF_8, 0));
    let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_length..]);
    text.into_owned()
}

/// Maps every task of one document; `fallback_name` (the file's name) names a task that
/// carries no path (no RegistrationInfo/URI, no preceding comment). Err: the text is
/// not Task Scheduler XML at all.
pub fn map_document(text: &str, fallback_name: &str) -> Result<Vec<Mapped>, String> {
    let document = Document::parse(text).map_err(|error| format!("not XML: {error}"))?;
    let root = document.root_element();
    let mut tasks = Vec::new();
    match root.tag_name().name() {
        "Task" => tasks.push((None, root)),
        "Tasks" => {
            // schtasks names each task in a comment just before it: <!-- \Folder\Name -->
            let mut comment = None;
            for node in root.children() {
                if node.is_comment() {
                    comment = node.text().map(|text| text.trim().to_string());
                } else if node.is_element() {
                    tasks.push((comment.take(), node));
                }
            }
        }
        other => {
            return Err(format!(
                "the root element is <{other}>, not <Task> or <Tasks>"
            ))
        }
    }
    tasks
        .into_iter()
        .map(|(comment, node)| {
            if node.tag_name().namespace() != Some(NAMESPACE) || node.tag_name().name() != "Task" {
                return Err(format!(
                    "<{}> is not a Task Scheduler 2.0 task (namespace {NAMESPACE})",
                    node.tag_name().name()
                ));
            }
            let uri = path_text(node, &["RegistrationInfo", "URI"]);
            let source = uri
                .or(comment)
                .unwrap_or_else(|| format!("\\{fallback_name}"));
            Ok(Mapped {
                result: TaskMapper::new(&source).task(node),
                source,
            })
        })
        .collect()
}

/// The text of the element at `path` under `node` (Task Scheduler namespace), trimmed.
fn path_text(node: Node, path: &[&str]) -> Option<String> {
    let mut current = node;
    for name in path {
        current = child(current, name)?;
    }
    current
        .text()
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is(c, name))
}

fn is(node: &Node, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name
}

fn elements<'a, 'i>(node: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(Node::is_element)
}

/// Collects the mapping of one task and what cannot be mapped.
struct TaskMapper {
    source: String,
    problems: Vec<Unsupported>,
}

impl TaskMapper {
    fn new(source: &str) -> TaskMapper {
        TaskMapper {
            source: source.to_string(),
            problems: Vec::new(),
        }
    }

    fn refuse(&mut self, element: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Unsupported {
            task: self.source.clone(),
            element: element.into(),
            reason: reason.into(),
        });
    }

    fn task(mut self, task: Node) -> Result<Value, Vec<Unsupported>> {
        let mut json = Map::new();
        json.insert("id".into(), json!(task_id(&self.source)));
        let text = path_text(task, &["RegistrationInfo", "Description"]);
        let origin = format!("Task Scheduler {}", self.source);
        json.insert(
            "description".into(),
            json!(description(&origin, text.as_deref())),
        );
        self.actions(task, &mut json);
        self.principal(task);
        self.settings(task, &mut json);
        let triggers = self.triggers(task);
        json.insert("triggers".into(), Value::Array(triggers));
        if self.problems.is_empty() {
            Ok(Value::Object(json))
        } else {
            Err(self.problems)
        }
    }

    fn actions(&mut self, task: Node, json: &mut Map<String, Value>) {
        let Some(actions) = child(task, "Actions") else {
            self.refuse("Actions", "the task has no action");
            return;
        };
        let all: Vec<Node> = elements(actions).collect();
        for action in &all {
            let name = action.tag_name().name();
            if name != "Exec" {
                let what = match name {
                    "ComHandler" => "a COM handler action",
                    "SendEmail" => "an e-mail action",
                    "ShowMessage" => "a message action",
                    _ => "an action stagehand cannot run",
                };
                self.refuse(
                    format!("Actions/{name}"),
                    format!("{what} cannot be imported"),
                );
            }
        }
        let execs: Vec<&Node> = all.iter().filter(|a| is(a, "Exec")).collect();
        match execs.as_slice() {
            [] if all.is_empty() => self.refuse("Actions", "the task has no action"),
            [] => {}
            [exec] => {
                let Some(command) = path_text(**exec, &["Command"]) else {
                    self.refuse("Actions/Exec/Command", "missing");
                    return;
                };
                json.insert("command".into(), json!(unquote(&command)));
                let arguments = path_text(**exec, &["Arguments"]).unwrap_or_default();
                json.insert("arguments".into(), json!(split_command_line(&arguments)));
                if let Some(directory) = path_text(**exec, &["WorkingDirectory"]) {
                    json.insert("workingDirectory".into(), json!(unquote(&directory)));
                }
            }
            _ => self.refuse(
                "Actions/Exec",
                format!(
                    "{} actions: stagehand runs one command per task",
                    execs.len()
                ),
            ),
        }
    }

    fn principal(&mut self, task: Node) {
        let logon = child(task, "Principals")
            .and_then(|principals| child(principals, "Principal"))
            .and_then(|principal| path_text(principal, &["LogonType"]));
        if logon.as_deref() == Some("InteractiveToken") {
            self.refuse(
                "Principals/Principal/LogonType",
                "InteractiveToken (\"run only when user is logged on\") needs a desktop session",
            );
        }
    }

    fn settings(&mut self, task: Node, json: &mut Map<String, Value>) {
        let settings = child(task, "Settings");
        let text = |path: &[&str]| settings.and_then(|s| path_text(s, path));
        let policy = match text(&["MultipleInstancesPolicy"]).as_deref() {
            None | Some("IgnoreNew") => "skip",
            Some("Parallel") => "parallel",
            Some("Queue") => "queue",
            Some("StopExisting") => "killPrevious",
            Some(other) => {
                self.refuse(
                    "Settings/MultipleInstancesPolicy",
                    format!("{other:?} is not IgnoreNew, Parallel, Queue or StopExisting"),
                );
                "skip"
            }
        };
        json.insert("ifRunning".into(), json!(policy));
        let start_when_available = text(&["StartWhenAvailable"]);
        json.insert(
            "catchUp".into(),
            json!(
                if self.flag("Settings/StartWhenAvailable", start_when_available, false) {
                    "once"
                } else {
                    "none"
                }
            ),
        );
        let enabled = self.flag("Settings/Enabled", text(&["Enabled"]), true);
        json.insert("enabled".into(), json!(enabled));
        if self.flag("Settings/RunOnlyIfIdle", text(&["RunOnlyIfIdle"]), false) {
            self.refuse(
                "Settings/RunOnlyIfIdle",
                "idle conditions cannot be imported",
            );
        }
        match text(&["ExecutionTimeLimit"]) {
            None => {
                json.insert("timeoutMinutes".into(), json!(DEFAULT_TIME_LIMIT_MINUTES));
            }
            Some(limit) => match duration_seconds(&limit) {
                Ok(0) => {}
                Ok(seconds) => {
                    json.insert("timeoutMinutes".into(), json!(seconds.div_ceil(60)));
                }
                Err(why) => self.refuse("Settings/ExecutionTimeLimit", why),
            },
        }
        if let Some(restart) = settings.and_then(|s| child(s, "RestartOnFailure")) {
            let count = path_text(restart, &["Count"]).map(|c| c.parse::<u32>());
            let interval = path_text(restart, &["Interval"]).map(|i| duration_seconds(&i));
            match (count, interval) {
                (Some(Ok(count)), Some(Ok(interval))) if count <= 99 && interval <= 86_400 => {
                    json.insert("maxAttempts".into(), json!(count + 1));
                    json.insert("retryDelaySeconds".into(), json!(interval));
                }
                _ => self.refuse(
                    "Settings/RestartOnFailure",
                    "needs Count 0..99 and Interval up to 1 day (PT1M .. P1D)",
                ),
            }
        }
    }

    /// A boolean element (`true`/`false`), `default` when absent.
    fn flag(&mut self, element: &str, value: Option<String>, default: bool) -> bool {
        match value.as_deref() {
            None => default,
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                self.refuse(element, format!("{other:?} is not true or false"));
                default
            }
        }
    }

    fn triggers(&mut self, task: Node) -> Vec<Value> {
        let found: Vec<Node> = child(task, "Triggers")
            .map(elements)
            .into_iter()
            .flatten()
            .collect();
        if found.is_empty() {
            self.refuse(
                "Triggers",
                "the task has no trigger (it only runs on demand)",
            );
        }
        found
            .into_iter()
            .filter_map(|trigger| self.trigger(trigger))
            .collect()
    }

    /// A delay element (an ISO 8601 duration, at most a day) as the JSON field `field`.
    fn delay(
        &mut self,
        trigger: Node,
        here: &str,
        element: &str,
        field: &str,
        json: &mut Map<String, Value>,
    ) {
        let Some(delay) = path_text(trigger, &[element]) else {
            return;
        };
        match duration_seconds(&delay) {
            Ok(0) => {}
            Ok(seconds) if seconds <= 86_400 => {
                json.insert(field.into(), json!(seconds));
            }
            Ok(_) => self.refuse(format!("{here}/{element}"), "more than a day"),
            Err(why) => self.refuse(format!("{here}/{element}"), why),
        }
    }

    fn trigger(&mut self, trigger: Node) -> Option<Value> {
        let kind = trigger.tag_name().name().to_string();
        let here = format!("Triggers/{kind}");
        let mut json = Map::new();
        match kind.as_str() {
            "BootTrigger" => {
                json.insert("recurrence".into(), json!("driverStart"));
                self.delay(trigger, &here, "Delay", "delaySeconds", &mut json);
            }
            "TimeTrigger" | "CalendarTrigger" => {
                let start = self.boundary(trigger, &here, "StartBoundary");
                let Some(start) = start else {
                    self.refuse(format!("{here}/StartBoundary"), "missing");
                    return None;
                };
                json.insert("start".into(), json!(start));
                if let Some(end) = self.boundary(trigger, &here, "EndBoundary") {
                    json.insert("expires".into(), json!(end));
                }
                if kind == "TimeTrigger" {
                    json.insert("recurrence".into(), json!("once"));
                } else {
                    self.calendar(trigger, &here, &mut json);
                }
                self.repetition(trigger, &here, &mut json);
                self.delay(
                    trigger,
                    &here,
                    "RandomDelay",
                    "randomDelaySeconds",
                    &mut json,
                );
            }
            "LogonTrigger"
            | "IdleTrigger"
            | "EventTrigger"
            | "RegistrationTrigger"
            | "SessionStateChangeTrigger" => {
                let what = match kind.as_str() {
                    "LogonTrigger" => "a logon trigger",
                    "IdleTrigger" => "an idle trigger",
                    "EventTrigger" => "an event log trigger",
                    "RegistrationTrigger" => "a trigger on task registration",
                    _ => "a session state trigger",
                };
                self.refuse(here, format!("{what} cannot be imported"));
                return None;
            }
            _ => {
                self.refuse(here, "unknown trigger");
                return None;
            }
        }
        if path_text(trigger, &["Enabled"]).as_deref() == Some("false") {
            json.insert("enabled".into(), json!(false));
        }
        Some(Value::Object(json))
    }

    /// StartBoundary / EndBoundary: wall-clock (no offset: the task's zone) or with an
    /// offset; a fraction of a second is dropped.
    fn boundary(&mut self, trigger: Node, here: &str, name: &str) -> Option<String> {
        let text = path_text(trigger, &[name])?;
        let (main, rest) = match text.find('.') {
            Some(dot) => {
                let after = &text[dot + 1..];
                let offset = after.trim_start_matches(|c: char| c.is_ascii_digit());
                (&text[..dot], offset)
            }
            None => (text.as_str(), ""),
        };
        let value = format!("{main}{rest}");
        if crate::schedule::TimeSpec::parse(&value).is_err() {
            self.refuse(
                format!("{here}/{name}"),
                format!("{text:?} is not a date and time"),
            );
            return None;
        }
        Some(value)
    }

    fn calendar(&mut self, trigger: Node, here: &str, json: &mut Map<String, Value>) {
        let schedule = [
            "ScheduleByDay",
            "ScheduleByWeek",
            "ScheduleByMonth",
            "ScheduleByMonthDayOfWeek",
        ]
        .into_iter()
        .find_map(|name| child(trigger, name));
        let Some(schedule) = schedule else {
            self.refuse(
                here,
                "no ScheduleByDay, ScheduleByWeek, ScheduleByMonth or ScheduleByMonthDayOfWeek",
            );
            return;
        };
        let name = schedule.tag_name().name();
        let at = format!("{here}/{name}");
        let number = |mapper: &mut Self, element: &str, max: u32| -> Option<u32> {
            let text = path_text(schedule, &[element])?;
            match text.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Some(n),
                _ => {
                    mapper.refuse(
                        format!("{at}/{element}"),
                        format!("{text:?} is not 1..{max}"),
                    );
                    None
                }
            }
        };
        match name {
            "ScheduleByDay" => {
                json.insert("recurrence".into(), json!("daily"));
                if let Some(days) = number(self, "DaysInterval", 3660) {
                    json.insert("intervalDays".into(), json!(days));
                }
            }
            "ScheduleByWeek" => {
                json.insert("recurrence".into(), json!("weekly"));
                if let Some(weeks) = number(self, "WeeksInterval", 520) {
                    json.insert("intervalWeeks".into(), json!(weeks));
                }
                let days = self.weekdays(schedule, &at);
                if !days.is_empty() {
                    json.insert("weekdays".into(), json!(days));
                }
            }
            "ScheduleByMonth" => {
                json.insert("recurrence".into(), json!("monthly"));
                let mut days = Vec::new();
                for day in child(schedule, "DaysOfMonth")
                    .map(elements)
                    .into_iter()
                    .flatten()
                {
                    let text = day.text().unwrap_or("").trim();
                    match text.parse::<u8>() {
                        Ok(n @ 1..=31) => days.push(json!(n)),
                        _ if text == "Last" => days.push(json!("last")),
                        _ => self.refuse(
                            format!("{at}/DaysOfMonth/Day"),
                            format!("{text:?} is not 1..31 or Last"),
                        ),
                    }
                }
                if !days.is_empty() {
                    json.insert("monthDays".into(), Value::Array(days));
                }
                self.months(schedule, &at, json);
            }
            _ => {
                json.insert("recurrence".into(), json!("monthly"));
                let mut weeks = Vec::new();
                for week in child(schedule, "Weeks").map(elements).into_iter().flatten() {
                    match week.text().unwrap_or("").trim() {
                        n @ ("1" | "2" | "3" | "4") => {
                            weeks.push(json!(n.parse::<u8>().unwrap_or(1)))
                        }
                        "Last" => weeks.push(json!("last")),
                        other => self.refuse(
                            format!("{at}/Weeks/Week"),
                            format!("{other:?} is not 1..4 or Last"),
                        ),
                    }
                }
                let days = self.weekdays(schedule, &at);
                if weeks.is_empty() || days.is_empty() {
                    self.refuse(at.clone(), "needs Weeks and DaysOfWeek");
                }
                let entries: Vec<Value> = weeks
                    .iter()
                    .flat_map(|week| {
                        days.iter()
                            .map(move |day| json!({"week": week, "weekday": day}))
                    })
                    .collect();
                json.insert("monthWeekdays".into(), Value::Array(entries));
                self.months(schedule, &at, json);
            }
        }
    }

    fn weekdays(&mut self, schedule: Node, at: &str) -> Vec<&'static str> {
        const DAYS: [(&str, &str); 7] = [
            ("Monday", "mon"),
            ("Tuesday", "tue"),
            ("Wednesday", "wed"),
            ("Thursday", "thu"),
            ("Friday", "fri"),
            ("Saturday", "sat"),
            ("Sunday", "sun"),
        ];
        let mut found = Vec::new();
        for day in child(schedule, "DaysOfWeek")
            .map(elements)
            .into_iter()
            .flatten()
        {
            match DAYS.iter().find(|(name, _)| *name == day.tag_name().name()) {
                Some((_, short)) => found.push(*short),
                None => self.refuse(
                    format!("{at}/DaysOfWeek/{}", day.tag_name().name()),
                    "not a weekday",
                ),
            }
        }
        found
    }

    fn months(&mut self, schedule: Node, at: &str, json: &mut Map<String, Value>) {
        const MONTHS: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let mut found = Vec::new();
        for month in child(schedule, "Months")
            .map(elements)
            .into_iter()
            .flatten()
        {
            match MONTHS
                .iter()
                .position(|name| *name == month.tag_name().name())
            {
                Some(index) => found.push(index + 1),
                None => self.refuse(
                    format!("{at}/Months/{}", month.tag_name().name()),
                    "not a month",
                ),
            }
        }
        // All twelve is what the Task Scheduler UI writes for "every month".
        if !found.is_empty() && found.len() < 12 {
            json.insert("months".into(), json!(found));
        }
    }

    /// Repetition: on a calendar trigger, a window (Interval, Duration up to P31D,
    /// StopAtDurationEnd); repeating indefinitely, or on a time trigger, a minutely trigger from the start.
    fn repetition(&mut self, trigger: Node, here: &str, json: &mut Map<String, Value>) {
        let Some(repetition) = child(trigger, "Repetition") else {
            return;
        };
        let at = format!("{here}/Repetition");
        let Some(interval) = path_text(repetition, &["Interval"]) else {
            self.refuse(format!("{at}/Interval"), "missing");
            return;
        };
        let every = match duration_seconds(&interval) {
            Ok(seconds) if seconds >= 60 && seconds % 60 == 0 => seconds / 60,
            Ok(_) => {
                self.refuse(format!("{at}/Interval"), "must be whole minutes");
                return;
            }
            Err(why) => {
                self.refuse(format!("{at}/Interval"), why);
                return;
            }
        };
        let duration = match path_text(repetition, &["Duration"]).map(|d| duration_seconds(&d)) {
            None | Some(Ok(0)) => None,
            Some(Ok(seconds)) => Some(seconds.div_ceil(60)),
            Some(Err(why)) => {
                self.refuse(format!("{at}/Duration"), why);
                return;
            }
        };
        let stop = path_text(repetition, &["StopAtDurationEnd"]);
        let stop_at_end = self.flag(&format!("{at}/StopAtDurationEnd"), stop, false);
        let once = json.get("recurrence") == Some(&json!("once"));
        match duration {
            // A calendar trigger repeating for a while: a window.
            Some(minutes) if !once => {
                if minutes > MAX_WINDOW_MINUTES || every >= minutes {
                    self.refuse(
                        at,
                        "a window must last up to 31 days (P31D) and be longer than its interval",
                    );
                    return;
                }
                let mut window = json!({"everyMinutes": every, "durationMinutes": minutes});
                if stop_at_end {
                    window["stopAtEnd"] = json!(true);
                }
                json.insert("repetition".into(), window);
            }
            // A time trigger repeating (for a while or for ever), or a calendar trigger
            // repeating for ever (after its first occurrence nothing else matters): a
            // minutely trigger from the start.
            _ => {
                if every > 527_040 {
                    self.refuse(format!("{at}/Interval"), "more than a year");
                    return;
                }
                for key in CALENDAR_FIELDS {
                    json.remove(key);
                }
                json.insert("recurrence".into(), json!("minutely"));
                json.insert("intervalMinutes".into(), json!(every));
                if let (Some(minutes), Some(start)) = (duration, json.get("start").cloned()) {
                    let end = add_minutes(start.as_str().unwrap_or(""), minutes);
                    let expires = match (end, json.get("expires").and_then(Value::as_str)) {
                        (Some(end), Some(given)) => Some(earliest(&end, given)),
                        (end, _) => end,
                    };
                    if let Some(expires) = expires {
                        json.insert("expires".into(), json!(expires));
                    }
                }
                if stop_at_end {
                    self.refuse(
                        format!("{at}/StopAtDurationEnd"),
                        "only a calendar trigger's repetition window can stop its runs",
                    );
                }
            }
        }
    }
}

/// The fields of a calendar recurrence, dropped when it becomes minutely.
const CALENDAR_FIELDS: [&str; 6] = [
    "intervalDays",
    "intervalWeeks",
    "weekdays",
    "monthDays",
    "monthWeekdays",
    "months",
];

/// `start` plus `minutes`, in the same form (wall-clock or with its offset).
fn add_minutes(start: &str, minutes: u64) -> Option<String> {
    use crate::schedule::TimeSpec;
    let delta = chrono::TimeDelta::minutes(i64::try_from(minutes).ok()?);
    Some(
        match TimeSpec::parse(start).ok()? {
            TimeSpec::Local(local) => TimeSpec::Local(local.checked_add_signed(delta)?),
            TimeSpec::Fixed(fixed) => TimeSpec::Fixed(fixed.checked_add_signed(delta)?),
        }
        .to_string(),
    )
}

/// The earlier of two boundaries of one trigger (both wall-clock, or read as instants).
fn earliest(a: &str, b: &str) -> String {
    use crate::schedule::TimeSpec;
    let instant = |text: &str| {
        TimeSpec::parse(text)
            .ok()
            .map(|spec| spec.resolve(chrono_tz::UTC))
    };
    match (instant(a), instant(b)) {
        (Some(x), Some(y)) if y < x => b.to_string(),
        _ => a.to_string(),
    }
}

/// Seconds in an ISO 8601 duration as Task Scheduler writes them (`PT0S`, `PT72H`,
/// `P1DT12H30M`, `PT1M30S`, `P2W`). Years and months have no fixed length: refused.
pub fn duration_seconds(text: &str) -> Result<u64, String> {
    let bad = || format!("{text:?} is not an ISO 8601 duration like PT1H30M");
    let rest = text.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (rest, None),
    };
    let mut total: f64 = 0.0;
    let mut parse = |part: &str, units: &[(char, f64)]| -> Result<(), String> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, seconds) = units.iter().find(|(unit, _)| *unit == c).ok_or_else(|| {
                if c == 'Y' || c == 'M' {
                    format!("{text:?}: years and months have no fixed length")
                } else {
                    bad()
                }
            })?;
            let value: f64 = number.parse().map_err(|_| bad())?;
            total += value * seconds;
            number.clear();
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(bad())
        }
    };
    parse(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    if let Some(time) = time {
        if time.is_empty() {
            return Err(bad());
        }
        parse(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if rest.is_empty() {
        return Err(bad());
    }
    Ok(total.ceil() as u64)
}

/// `"C:\Program Files\x.exe"` -> `C:\Program Files\x.exe`.
fn unquote(text: &str) -> String {
    let trimmed = text.trim();
    trimmed
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(trimmed)
        .to_string()
}

/// Splits a Windows command line into arguments as the Microsoft C runtime does: blanks
/// separate; `"` toggles quoting (`""` inside quotes is a literal quote); 2n backslashes
/// before a quote are n backslashes, 2n+1 are n and a literal quote; other backslashes
/// are literal. The driver quotes them back when it starts the program, so a program
/// that parses its command line the standard way sees the same arguments.
pub fn split_command_line(line: &str) -> Vec<String> {
    let mut arguments = Vec::new();
    let mut current = String::new();
    let mut in_argument = false;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut backslashes = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    backslashes += 1;
                }
                in_argument = true;
                if chars.peek() == Some(&'"') {
                    current.extend(std::iter::repeat_n('\\', backslashes / 2));
                    if backslashes % 2 == 1 {
                        chars.next();
                        current.push('"');
                    }
                } else {
                    current.extend(std::iter::repeat_n('\\', backslashes));
                }
            }
            '"' => {
                in_argument = true;
                if quoted && chars.peek() == Some(&'"') {
                    chars.next();
                    current.push('"');
                } else {
                    quoted = !quoted;
                }
            }
            ' ' | '\t' if !quoted => {
                if in_argument {
                    arguments.push(std::mem::take(&mut current));
                    in_argument = false;
                }
            }
            _ => {
                in_argument = true;
                current.push(c);
            }
        }
    }
    if in_argument {
        arguments.push(current);
    }
    arguments
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_seconds("PT0S"), Ok(0));
        assert_eq!(duration_seconds("PT72H"), Ok(72 * 3600));
        assert_eq!(
            duration_seconds("P1DT12H30M"),
            Ok(86_400 + 12 * 3600 + 1800)
        );
        assert_eq!(duration_seconds("PT1M30S"), Ok(90));
        assert_eq!(duration_seconds("P2W"), Ok(14 * 86_400));
        assert!(duration_seconds("P1M").unwrap_err().contains("months"));
        assert!(duration_seconds("PT").is_err());
        assert!(duration_seconds("1H").is_err());
        assert!(duration_seconds("P").is_err());
    }

    #[test]
    fn command_lines_split_as_the_c_runtime_does() {
        assert_eq!(
            split_command_line(r#"-f "C:\My Files\a.txt" /q"#),
            ["-f", r"C:\My Files\a.txt", "/q"]
        );
        assert_eq!(
            split_command_line(r#"a\\\"b "c""d" e\f"#),
            [r#"a\"b"#, r#"c"d"#, r"e\f"]
        );
        assert_eq!(split_command_line(r#""" x"#), ["", "x"]);
        assert_eq!(
            split_command_line(r#"C:\dir\\ "q\\""#),
            [r"C:\dir\\", r"q\"]
        );
        assert!(split_command_line("   ").is_empty());
    }
}
