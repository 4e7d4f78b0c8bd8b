//! The task JSON: the documented format, defaults, round trips, and validation that
//! reports every mistake with its path.

use chrono::{Month, Weekday};
use stagehand::exec::OutputEncoding;
use stagehand::schedule::{
    machine_time_zone, parse_task, parse_tasks, CatchUpPolicy, Executor, MonthDay, OverlapPolicy,
    Recurrence, TaskDefinition, TimeSpec, ValidationErrors,
};
use std::num::NonZeroU32;

/// The example of issue 3, verbatim.
const SEED: &str = r#"{
  "id": "nightly-backup",
  "description": "Full backup of the ERP database",
  "command": "/opt/erp/backup.sh --full",
  "workingDirectory": "/opt/erp",
  "runIfMissed": true,
  "ifRunning": "skip",
  "enabled": true,
  "timeZone": "America/Sao_Paulo",
  "timeoutMinutes": 120,
  "maxAttempts": 1,
  "triggers": [
    { "recurrence": "daily",    "start": "2024-12-06T15:00:00" },
    { "recurrence": "weekly",   "start": "2024-12-06T17:00:00", "weekdays": ["mon", "tue", "wed"] },
    { "recurrence": "minutely", "start": "2024-12-06T00:00:00", "intervalMinutes": 15 },
    { "recurrence": "monthly",  "start": "2024-12-06T08:00:00", "monthDays": [3, 5, 10] },
    { "recurrence": "monthly",  "start": "2024-12-06T23:00:00", "monthDays": ["last"] },
    { "recurrence": "once",     "start": "2021-03-21T20:00:00" }
  ]
}"#;

fn errors(text: &str) -> Vec<String> {
    parse_task(text)
        .expect_err("the task must be rejected")
        .errors()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn local(text: &str) -> TimeSpec {
    TimeSpec::Local(
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").expect("test time"),
    )
}

fn days(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("non-zero")
}

#[test]
fn the_seed_task_reads_as_documented() {
    let task = parse_task(SEED).expect("the seed task is valid");
    assert_eq!(task.id, "nightly-backup");
    assert_eq!(
        task.description.as_deref(),
        Some("Full backup of the ERP database")
    );
    assert_eq!(task.command, "/opt/erp/backup.sh --full");
    assert_eq!(task.working_directory.as_deref(), Some("/opt/erp"));
    assert_eq!(task.catch_up, CatchUpPolicy::Once);
    assert_eq!(task.if_running, OverlapPolicy::Skip);
    assert!(task.enabled);
    assert_eq!(task.time_zone, chrono_tz::America::Sao_Paulo);
    assert_eq!(task.timeout_minutes, Some(120));
    assert_eq!(task.max_attempts, 1);
    assert_eq!(task.retry_delay_seconds, 60);
    assert_eq!(task.executor, Executor::Driver);
    assert_eq!(task.arguments, None);
    assert_eq!(task.triggers.len(), 6);
    assert_eq!(
        task.triggers[0].recurrence,
        Recurrence::Daily {
            start: local("2024-12-06T15:00:00"),
            interval_days: days(1),
            months: vec![],
        }
    );
    assert_eq!(
        task.triggers[1].recurrence,
        Recurrence::Weekly {
            start: local("2024-12-06T17:00:00"),
            interval_weeks: days(1),
            weekdays: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed],
            months: vec![],
        }
    );
    assert_eq!(
        task.triggers[2].recurrence,
        Recurrence::Minutely {
            start: local("2024-12-06T00:00:00"),
            interval_minutes: days(15),
            weekdays: vec![],
            months: vec![],
        }
    );
    assert_eq!(
        task.triggers[3].recurrence,
        Recurrence::Monthly {
            start: local("2024-12-06T08:00:00"),
            month_days: vec![MonthDay::Day(3), MonthDay::Day(5), MonthDay::Day(10)],
            month_weekdays: vec![],
            months: vec![],
        }
    );
    assert_eq!(
        task.triggers[4].recurrence,
        Recurrence::Monthly {
            start: local("2024-12-06T23:00:00"),
            month_days: vec![MonthDay::Last],
            month_weekdays: vec![],
            months: vec![],
        }
    );
    assert_eq!(
        task.triggers[5].recurrence,
        Recurrence::Once {
            start: local("2021-03-21T20:00:00")
        }
    );
    assert!(task
        .triggers
        .iter()
        .all(|trigger| trigger.enabled && trigger.expires.is_none()));
}

#[test]
fn defaults_apply_and_the_machine_zone_is_the_default_zone() {
    let task = parse_task(
        r#"{"id": "t", "command": "true", "triggers": [{"recurrence": "once", "start": "2030-01-01T00:00:00"}]}"#,
    )
    .expect("a minimal task is valid");
    assert_eq!(task.catch_up, CatchUpPolicy::None);
    assert_eq!(task.if_running, OverlapPolicy::Skip);
    assert!(task.enabled);
    assert_eq!(task.max_attempts, 1);
    assert_eq!(task.retry_delay_seconds, 60);
    assert_eq!(task.executor, Executor::Driver);
    assert_eq!(task.timeout_minutes, None);
    assert_eq!(Ok(task.time_zone), machine_time_zone());
}

#[test]
fn extensions_read_and_write_back() {
    let text = r#"{
      "id": "sync", "command": "/usr/bin/rsync", "arguments": ["-a", "/src dir/", ""],
      "retryDelaySeconds": 0, "executor": "external", "ifRunning": "killPrevious",
      "timeZone": "Europe/Lisbon", "maxAttempts": 100, "enabled": false,
      "triggers": [
        {"recurrence": "minutely", "start": "2024-01-01T00:00:00Z", "intervalMinutes": 120,
         "weekdays": ["MON", "fri"], "months": [1, 12], "expires": "2025-01-01T00:00:00+01:00"},
        {"recurrence": "daily", "start": "2024-01-01T06:30", "intervalDays": 3, "months": [6], "enabled": false},
        {"recurrence": "weekly", "start": "2024-01-01T06:30:00", "intervalWeeks": 2},
        {"recurrence": "monthly", "start": "2024-01-31T06:30:00", "monthDays": [31, "last"], "months": [2, 4]},
        {"recurrence": "cron", "cron": "*/5 9-17 * * 1-5"},
        {"recurrence": "cron", "cron": "0 3 * * *", "start": "2024-06-01T00:00:00"}
      ]}"#;
    let task = parse_task(text).expect("valid");
    assert_eq!(
        task.arguments,
        Some(vec![
            "-a".to_string(),
            "/src dir/".to_string(),
            String::new()
        ])
    );
    assert_eq!(task.retry_delay_seconds, 0);
    assert_eq!(task.executor, Executor::External);
    assert_eq!(task.if_running, OverlapPolicy::KillPrevious);
    assert!(!task.enabled);
    match &task.triggers[0].recurrence {
        Recurrence::Minutely {
            weekdays, months, ..
        } => {
            assert_eq!(weekdays, &[Weekday::Mon, Weekday::Fri]);
            assert_eq!(months, &[Month::January, Month::December]);
        }
        other => panic!("not minutely: {other:?}"),
    }
    assert!(!task.triggers[1].enabled);
    assert!(
        matches!(&task.triggers[4].recurrence, Recurrence::Cron { start: None, expression } if expression.as_str() == "*/5 9-17 * * 1-5")
    );

    // Round trips, through the value and through the text.
    let value = task.to_json();
    assert_eq!(parse_task(&value.to_string()), Ok(task.clone()));
    assert_eq!(parse_task(&task.to_json_string()), Ok(task.clone()));
    assert_eq!(value["ifRunning"], "killPrevious");
    assert_eq!(value["executor"], "external");
    assert_eq!(value["timeZone"], "Europe/Lisbon");
    assert_eq!(value["triggers"][1]["enabled"], false);
    assert_eq!(
        value["triggers"][3]["monthDays"],
        serde_json::json!([31, "last"])
    );
    assert_eq!(
        value["triggers"][0]["weekdays"],
        serde_json::json!(["mon", "fri"])
    );
}

#[test]
fn output_encoding_is_a_name_or_a_code_page() {
    let with = |encoding: &str| {
        format!(
            r#"{{"id": "t", "command": "tool.exe", "timeZone": "UTC", "outputEncoding": {encoding},
                "triggers": [{{"recurrence": "cron", "cron": "0 3 * * *"}}]}}"#
        )
    };
    for (given, expected, written) in [
        ("\"oem\"", OutputEncoding::Oem, serde_json::json!("oem")),
        ("\"ANSI\"", OutputEncoding::Ansi, serde_json::json!("ansi")),
        (
            "\"utf-8\"",
            OutputEncoding::Utf8,
            serde_json::json!("utf-8"),
        ),
        ("850", OutputEncoding::CodePage(850), serde_json::json!(850)),
        (
            "\"1252\"",
            OutputEncoding::CodePage(1252),
            serde_json::json!(1252),
        ),
    ] {
        let task = parse_task(&with(given)).expect("valid");
        assert_eq!(task.output_encoding, Some(expected), "{given}");
        assert_eq!(task.to_json()["outputEncoding"], written, "{given}");
        assert_eq!(parse_task(&task.to_json_string()), Ok(task), "{given}");
    }
    let task = parse_task(&with("null")).expect("null is not given");
    assert_eq!(task.output_encoding, None);
    assert!(task.to_json().get("outputEncoding").is_none());
    for bad in ["\"latin-1\"", "0", "70000", "1.5", "true"] {
        let errors = errors(&with(bad));
        assert!(
            errors.len() == 1 && errors[0].starts_with("outputEncoding: "),
            "{bad}: {errors:?}"
        );
    }
    assert!(errors(&with("\"latin-1\""))[0].contains("use oem, ansi, utf-8 or a code page number"));
}

#[test]
fn the_seed_round_trips_and_writes_fields_in_documented_order() {
    let task = parse_task(SEED).expect("valid");
    let text = task.to_json_string();
    assert_eq!(parse_task(&text), Ok(task));
    let positions: Vec<usize> = [
        "\"id\"",
        "\"command\"",
        "\"runIfMissed\"",
        "\"timeZone\"",
        "\"triggers\"",
    ]
    .iter()
    .map(|name| text.find(name).expect("field written"))
    .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
}

#[test]
fn every_mistake_is_reported_with_its_path() {
    let found = errors(
        r#"{
          "id": "",
          "command": 42,
          "ifRunning": "never",
          "timeZone": "Mars/Base",
          "maxAttempts": 0,
          "timeoutMinutes": 1.5,
          "runIfMissed": "yes",
          "colour": "blue",
          "triggers": [
            {"recurrence": "daily", "start": "2024-12-06T15:00:00", "intervalMinutes": 5},
            {"recurrence": "weekly", "start": "2024-12-06T15:00:00", "weekday": ["mon"], "weekdays": ["mo", "tue", "tue"]},
            {"recurrence": "monthly", "start": "2024-13-06T08:00:00", "monthDays": [3, 32, "first"], "months": [0, 12]},
            {"recurrence": "minutely", "start": "2024-12-06T00:00:00"},
            {"recurrence": "hourly"},
            {"recurrence": "cron", "cron": "61 * * * *"},
            {"recurrence": "cron", "cron": "0 0 30 2 *"},
            {"recurrence": "once", "start": "2024-12-06T15:00:00", "expires": "2024-12-06T14:00:00", "enabled": 1},
            "daily"
          ]
        }"#,
    );
    let expected = [
        "id: must be 1..255 characters",
        "command: must be a string, not 42",
        "ifRunning: \"never\" is not an overlap policy (skip, parallel, queue or killPrevious)",
        "timeZone: \"Mars/Base\" is not an IANA or Windows time zone name; closest: \"Pacific/Marquesas\", \"Africa/Mbabane\", \"Asia/Brunei\"",
        "maxAttempts: must be a whole number from 1 to 100, not 0",
        "timeoutMinutes: must be a whole number from 1 to 2147483647, not 1.5",
        "runIfMissed: must be true or false, not \"yes\"",
        "colour: unknown field",
        "triggers[0].intervalMinutes: not allowed for recurrence \"daily\"",
        "triggers[1].weekday: unknown field",
        "triggers[1].weekdays[0]: \"mo\" is not a weekday (mon, tue, wed, thu, fri, sat or sun)",
        "triggers[1].weekdays[2]: \"tue\" is listed twice",
        "triggers[2].start: \"2024-13-06T08:00:00\" is not a date and time",
        "triggers[2].monthDays[1]: 32 is not a day of the month (1..31 or \"last\")",
        "triggers[2].monthDays[2]: \"first\" is not a day of the month (1..31 or \"last\")",
        "triggers[2].months[0]: 0 is not a month (1..12)",
        "triggers[3].intervalMinutes: required for recurrence \"minutely\"",
        "triggers[4].recurrence: \"hourly\" is not a recurrence",
        "triggers[5].cron: \"61 * * * *\" is not a 5-field cron expression",
        "triggers[6].cron: \"0 0 30 2 *\" never matches a date",
        "triggers[7].enabled: must be true or false, not 1",
        "triggers[8]: must be a JSON object (a trigger), not \"daily\"",
    ];
    for message in expected {
        assert!(
            found.iter().any(|error| error.starts_with(message)),
            "missing {message:?} in\n{}",
            found.join("\n")
        );
    }
    // triggers[7]'s expiry cannot be checked against start once its zone is invalid.
    assert_eq!(found.len(), expected.len(), "{}", found.join("\n"));
}

#[test]
fn expiry_must_follow_start_and_required_fields_are_named() {
    let found = errors(
        r#"{"timeZone": "UTC", "triggers": [
            {"recurrence": "once", "start": "2024-12-06T15:00:00", "expires": "2024-12-06T15:00:00Z"},
            {"start": "2024-12-06T15:00:00"},
            {"recurrence": "daily"},
            {"recurrence": "cron"}
        ]}"#,
    );
    assert_eq!(
        found,
        [
            "id: required field missing",
            "command: required field missing",
            "triggers[0].expires: must be after start (2024-12-06T15:00:00)",
            "triggers[1].recurrence: required field missing",
            "triggers[2].start: required for recurrence \"daily\"",
            "triggers[3].cron: required for recurrence \"cron\"",
        ]
    );
}

#[test]
fn null_means_not_given_and_triggers_must_not_be_empty() {
    let found = errors(r#"{"id": "x", "command": "y", "description": null, "triggers": []}"#);
    assert_eq!(found, ["triggers: must not be empty"]);
    let found = errors(r#"{"id": "x", "command": "y", "triggers": null}"#);
    assert_eq!(found, ["triggers: required field missing"]);
}

#[test]
fn documents_that_are_not_tasks_are_rejected() {
    assert_eq!(
        errors("[1, 2]"),
        ["task: must be a JSON object (a task), not [1,2]"]
    );
    let syntax = errors("{\"id\": ");
    assert_eq!(syntax.len(), 1);
    assert!(
        syntax[0].starts_with("task: not valid JSON: "),
        "{syntax:?}"
    );
    let too_long = format!(
        r#"{{"id": "{}", "command": "c", "timeZone": "UTC", "triggers": [{{"recurrence": "once", "start": "2024-01-01T00:00:00"}}]}}"#,
        "x".repeat(256)
    );
    assert_eq!(errors(&too_long), ["id: must be 1..255 characters"]);
}

#[test]
fn time_specs_accept_wall_clock_and_offsets_only() {
    assert!(matches!(
        TimeSpec::parse("2024-12-06T15:00:00"),
        Ok(TimeSpec::Local(_))
    ));
    assert!(matches!(
        TimeSpec::parse("2024-12-06T15:00"),
        Ok(TimeSpec::Local(_))
    ));
    assert!(matches!(
        TimeSpec::parse("2024-12-06T15:00:00Z"),
        Ok(TimeSpec::Fixed(_))
    ));
    assert!(matches!(
        TimeSpec::parse("2024-12-06T15:00:00-03:00"),
        Ok(TimeSpec::Fixed(_))
    ));
    for bad in [
        "2024-12-06",
        "15:00",
        "2024-12-06T15:00:00.5",
        "1800-01-01T00:00:00",
        "tomorrow",
    ] {
        assert!(TimeSpec::parse(bad).is_err(), "{bad} must be rejected");
    }
}

#[test]
fn task_arrays_report_paths_per_element_and_duplicate_ids() {
    let text = r#"[
      {"id": "a", "command": "x", "timeZone": "UTC", "triggers": [{"recurrence": "once", "start": "2024-01-01T00:00:00"}]},
      {"id": "b", "command": "x", "timeZone": "UTC", "triggers": [{"recurrence": "once", "start": "2024-01-01T00:00:00"}]},
      {"id": "a", "command": "x", "timeZone": "UTC", "triggers": [{"recurrence": "weekly", "start": "2024-01-01T00:00:00", "monthDays": [1]}]},
      7
    ]"#;
    let error: ValidationErrors = parse_tasks(text).expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "[2].id: \"a\" is also the id of [0]\n\
         [2].triggers[0].monthDays: not allowed for recurrence \"weekly\"\n\
         [3]: must be a JSON object (a task), not 7"
    );

    let valid = r#"[
      {"id": "a", "command": "x", "timeZone": "UTC", "triggers": [{"recurrence": "once", "start": "2024-01-01T00:00:00"}]},
      {"id": "b", "command": "x", "timeZone": "UTC", "triggers": [{"recurrence": "daily", "start": "2024-01-01T00:00:00"}]}
    ]"#;
    let tasks: Vec<TaskDefinition> = parse_tasks(valid).expect("valid");
    assert_eq!(
        tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(parse_tasks("[]"), Ok(vec![]));
    assert_eq!(
        parse_tasks("{}").expect_err("not an array").to_string(),
        "tasks: must be a JSON array of tasks, not {}"
    );
}

#[test]
fn enums_spell_their_sql_values() {
    let policies: Vec<&str> = OverlapPolicy::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(policies, ["skip", "parallel", "queue", "killPrevious"]);
    assert_eq!("queue".parse::<OverlapPolicy>(), Ok(OverlapPolicy::Queue));
    assert_eq!(Executor::External.to_string(), "external");
    assert!("Driver".parse::<Executor>().is_err());
}
