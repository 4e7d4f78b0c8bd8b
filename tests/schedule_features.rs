//! The trigger features of issue 12, seed style: weekdays of the month, repetition
//! windows, random delays, driverStart and catchUp (JSON, predictions, validation).

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use stagehand::schedule::{
    catch_up, parse_task, random_delay, CatchUpPolicy, MissedAction, Occurrences, Schedule,
};

fn task_json(zone: Tz, triggers: &str) -> String {
    format!(
        r#"{{"id": "t", "command": "true", "timeZone": "{}", "triggers": [{triggers}]}}"#,
        zone.name()
    )
}

fn task(zone: Tz, triggers: &str) -> Schedule {
    Schedule::new(&parse_task(&task_json(zone, triggers)).unwrap_or_else(|e| panic!("{e}")))
}

fn errors(text: &str) -> Vec<String> {
    match parse_task(text) {
        Ok(task) => panic!("accepted: {task:?}"),
        Err(errors) => errors.errors().iter().map(ToString::to_string).collect(),
    }
}

fn local(zone: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    zone.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn walk(schedule: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Tz>> {
    std::iter::successors(schedule.next_after(from), |at| schedule.next_after(*at))
        .take_while(|at| *at < to)
        .map(|at| at.with_timezone(&schedule.time_zone()))
        .collect()
}

const BERLIN: Tz = chrono_tz::Europe::Berlin;

#[test]
fn first_monday_and_last_friday_of_every_month() {
    let schedule = task(
        BERLIN,
        r#"{"recurrence": "monthly", "start": "2025-01-01T09:00",
            "monthWeekdays": [{"week": 1, "weekday": "mon"}, {"week": "last", "weekday": "fri"}]}"#,
    );
    let found = walk(
        &schedule,
        local(BERLIN, 2025, 1, 1, 0, 0),
        local(BERLIN, 2026, 1, 1, 0, 0),
    );
    assert_eq!(found.len(), 24);
    for at in &found {
        let day = at.date_naive();
        let last_day = day.with_day(1).unwrap() + chrono::Months::new(1) - TimeDelta::days(1);
        match day.weekday() {
            Weekday::Mon => assert!(day.day() <= 7, "{at}"),
            Weekday::Fri => assert!(day.day() + 7 > last_day.day(), "{at}"),
            _ => panic!("{at} is neither"),
        }
        assert_eq!(at.format("%H:%M").to_string(), "09:00");
    }
    // Spot checks: the first Monday of September 2025 is the 1st; the last Friday of
    // February 2025 is the 28th; of October, the 31st.
    for (m, d) in [(9, 1), (2, 28), (10, 31)] {
        let want = NaiveDate::from_ymd_opt(2025, m, d).unwrap();
        assert!(found.iter().any(|at| at.date_naive() == want), "{want}");
    }
}

#[test]
fn weekdays_of_the_month_with_the_months_filter_and_month_days() {
    // The fourth Thursday of November (Thanksgiving) and the 1st of every chosen month.
    let schedule = task(
        chrono_tz::America::New_York,
        r#"{"recurrence": "monthly", "start": "2024-01-01T07:30", "months": [11, 12],
            "monthDays": [1], "monthWeekdays": [{"week": 4, "weekday": "thu"}]}"#,
    );
    let zone = chrono_tz::America::New_York;
    let found: Vec<String> = walk(
        &schedule,
        local(zone, 2024, 1, 1, 0, 0),
        local(zone, 2026, 1, 1, 0, 0),
    )
    .iter()
    .map(|at| at.format("%Y-%m-%d %H:%M").to_string())
    .collect();
    assert_eq!(
        found,
        [
            "2024-11-01 07:30",
            "2024-11-28 07:30",
            "2024-12-01 07:30",
            "2024-12-26 07:30",
            "2025-11-01 07:30",
            "2025-11-27 07:30",
            "2025-12-01 07:30",
            "2025-12-25 07:30",
        ]
    );
}

#[test]
fn the_nth_weekday_and_weekend_day_of_the_month() {
    // SQL Server Agent's "first weekday", "last weekday" and "fourth weekend day": days
    // counted among Monday..Friday or Saturday and Sunday. 02:30 in New York: March 9th
    // 2025 (the fourth weekend day: the 1st, 2nd, 8th, 9th) springs forward at 02:00.
    let zone = chrono_tz::America::New_York;
    let schedule = task(
        zone,
        r#"{"recurrence": "monthly", "start": "2025-01-01T02:30",
            "monthWeekdays": [{"week": 1, "weekday": "weekday"},
                              {"week": "last", "weekday": "weekday"},
                              {"week": 4, "weekday": "weekendDay"}]}"#,
    );
    let found: Vec<String> = walk(
        &schedule,
        local(zone, 2025, 1, 1, 0, 0),
        local(zone, 2025, 7, 1, 0, 0),
    )
    .iter()
    .map(|at| at.format("%m-%d %H:%M").to_string())
    .collect();
    assert_eq!(
        found,
        [
            "01-01 02:30",
            "01-12 02:30",
            "01-31 02:30", // Wednesday 1st, Friday 31st
            "02-03 02:30",
            "02-09 02:30",
            "02-28 02:30", // Saturday 1st: Monday 3rd
            "03-03 02:30",
            "03-09 03:00",
            "03-31 02:30", // the gap: 03:00 EDT
            "04-01 02:30",
            "04-13 02:30",
            "04-30 02:30",
            "05-01 02:30",
            "05-11 02:30",
            "05-30 02:30", // Saturday 31st: Friday 30th
            "06-02 02:30",
            "06-14 02:30",
            "06-30 02:30", // Sunday 1st is a weekend day
        ]
    );
    // Back from the JSON it writes, and as `task next` shows it.
    let text = task_json(
        zone,
        r#"{"recurrence": "monthly", "start": "2025-01-01T02:30",
            "monthWeekdays": [{"week": "last", "weekday": "weekendDay"}]}"#,
    );
    let parsed = parse_task(&text).unwrap();
    assert_eq!(
        parsed.to_json()["triggers"][0]["monthWeekdays"],
        serde_json::json!([{"week": "last", "weekday": "weekendDay"}])
    );
    assert_eq!(parse_task(&parsed.to_json_string()).unwrap(), parsed);
}

#[test]
fn a_window_until_a_time_before_its_start_ends_on_the_next_day() {
    let times = |trigger: &str, from: DateTime<Utc>, days: i64| -> Vec<String> {
        walk(&task(BERLIN, trigger), from, from + TimeDelta::days(days))
            .iter()
            .map(|at| at.format("%a %H:%M").to_string())
            .collect()
    };
    // Fridays from 22:00 every hour until 02:00: the window is Friday's, so it runs
    // into Saturday, and Saturday opens none.
    let fridays = times(
        r#"{"recurrence": "weekly", "start": "2025-03-21T22:00", "weekdays": ["fri"],
            "repetition": {"everyMinutes": 60, "until": "02:00"}}"#,
        local(BERLIN, 2025, 3, 21, 12, 0),
        8,
    );
    assert_eq!(
        fridays,
        [
            "Fri 22:00",
            "Fri 23:00",
            "Sat 00:00",
            "Sat 01:00",
            "Sat 02:00", //
            "Fri 22:00",
            "Fri 23:00",
            "Sat 00:00",
            "Sat 01:00",
            "Sat 02:00",
        ]
    );
    // Every night from 22:00 every 30 minutes until 02:00, across the spring-forward
    // night: 02:00 on March 30th is in the gap, so the window ends at 03:00 CEST, which
    // is the 9th step of elapsed time.
    let nights = times(
        r#"{"recurrence": "daily", "start": "2025-03-28T22:00",
            "repetition": {"everyMinutes": 30, "until": "02:00"}}"#,
        local(BERLIN, 2025, 3, 29, 12, 0),
        1,
    );
    assert_eq!(
        nights,
        [
            "Sat 22:00",
            "Sat 22:30",
            "Sat 23:00",
            "Sat 23:30",
            "Sun 00:00",
            "Sun 00:30",
            "Sun 01:00",
            "Sun 01:30",
            "Sun 03:00",
        ]
    );
    // The previous answer agrees: just after Sunday's midnight, Saturday's window.
    let schedule = task(
        BERLIN,
        r#"{"recurrence": "daily", "start": "2025-03-28T22:00",
            "repetition": {"everyMinutes": 30, "until": "02:00"}}"#,
    );
    assert_eq!(
        schedule.previous_at_or_before(local(BERLIN, 2025, 3, 30, 0, 10)),
        Some(local(BERLIN, 2025, 3, 30, 0, 0))
    );
}

#[test]
fn windows_longer_than_a_day_overlap() {
    // Daily at 08:00, every 1000 minutes for three days (Task Scheduler's P3D): each
    // window fires at +0, +1000, +2000, +3000 and +4000 minutes, so from the fourth day
    // on, four windows are open at once; 02:40 comes from the one opened three days
    // before.
    let zone = chrono_tz::UTC;
    let schedule = task(
        zone,
        r#"{"recurrence": "daily", "start": "2025-01-01T08:00",
            "repetition": {"everyMinutes": 1000, "durationMinutes": 4320}}"#,
    );
    let day = |d: u32| -> Vec<String> {
        let from = local(zone, 2025, 1, d, 0, 0) - TimeDelta::seconds(1);
        walk(&schedule, from, from + TimeDelta::days(1))
            .iter()
            .map(|at| at.format("%H:%M").to_string())
            .collect()
    };
    assert_eq!(day(1), ["08:00"]);
    assert_eq!(day(2), ["00:40", "08:00", "17:20"]);
    assert_eq!(day(3), ["00:40", "08:00", "10:00", "17:20"]);
    assert_eq!(day(4), ["00:40", "02:40", "08:00", "10:00", "17:20"]);
    assert_eq!(day(20), ["00:40", "02:40", "08:00", "10:00", "17:20"]);
    assert_eq!(
        schedule.previous_at_or_before(local(zone, 2025, 1, 5, 3, 0)),
        Some(local(zone, 2025, 1, 5, 2, 40))
    );
    // Every 12 hours for two days, stopping runs at the end: 08:00 on the 3rd is in the
    // windows of the 2nd and the 3rd; its run stops when the later one ends.
    let stopping = task(
        zone,
        r#"{"recurrence": "daily", "start": "2025-01-01T08:00",
            "repetition": {"everyMinutes": 720, "durationMinutes": 2880, "stopAtEnd": true}}"#,
    );
    assert_eq!(
        stopping.stop_deadline(local(zone, 2025, 1, 3, 8, 0)),
        Some(local(zone, 2025, 1, 5, 8, 0))
    );
    assert_eq!(
        stopping.stop_deadline(local(zone, 2025, 1, 3, 20, 0)),
        Some(local(zone, 2025, 1, 5, 8, 0))
    );
}

#[test]
fn a_repetition_window_for_a_duration() {
    // Mondays and Tuesdays from 08:00 every 90 minutes for 8 hours: 08:00 .. 15:30 (the
    // window ends at 16:00, excluded).
    let schedule = task(
        BERLIN,
        r#"{"recurrence": "weekly", "start": "2025-03-03T08:00", "weekdays": ["mon", "tue"],
            "repetition": {"everyMinutes": 90, "durationMinutes": 480}}"#,
    );
    let found: Vec<String> = walk(
        &schedule,
        local(BERLIN, 2025, 3, 3, 0, 0),
        local(BERLIN, 2025, 3, 5, 0, 0),
    )
    .iter()
    .map(|at| at.format("%a %H:%M").to_string())
    .collect();
    assert_eq!(
        found,
        [
            "Mon 08:00",
            "Mon 09:30",
            "Mon 11:00",
            "Mon 12:30",
            "Mon 14:00",
            "Mon 15:30",
            "Tue 08:00",
            "Tue 09:30",
            "Tue 11:00",
            "Tue 12:30",
            "Tue 14:00",
            "Tue 15:30",
        ]
    );
}

#[test]
fn a_repetition_window_until_a_time_of_day_includes_it() {
    let schedule = task(
        BERLIN,
        r#"{"recurrence": "daily", "start": "2025-03-01T06:00",
            "repetition": {"everyMinutes": 120, "until": "12:00"}}"#,
    );
    let found: Vec<String> = walk(
        &schedule,
        local(BERLIN, 2025, 3, 1, 0, 0),
        local(BERLIN, 2025, 3, 2, 7, 0),
    )
    .iter()
    .map(|at| at.format("%d %H:%M").to_string())
    .collect();
    assert_eq!(
        found,
        ["01 06:00", "01 08:00", "01 10:00", "01 12:00", "02 06:00"]
    );
    // previous_at_or_before agrees inside and after a window.
    let at_11 = local(BERLIN, 2025, 3, 1, 11, 0);
    assert_eq!(
        schedule.previous_at_or_before(at_11),
        Some(local(BERLIN, 2025, 3, 1, 10, 0))
    );
    let at_23 = local(BERLIN, 2025, 3, 1, 23, 0);
    assert_eq!(
        schedule.previous_at_or_before(at_23),
        Some(local(BERLIN, 2025, 3, 1, 12, 0))
    );
}

#[test]
fn repetition_runs_in_elapsed_time_across_a_daylight_saving_change() {
    // Berlin springs forward at 02:00 on 2025-03-30: from 00:30 every hour for 4 hours
    // is 00:30, 01:30, 03:30, 04:30 on the wall clock (four runs, an hour apart).
    let schedule = task(
        BERLIN,
        r#"{"recurrence": "daily", "start": "2025-03-30T00:30",
            "repetition": {"everyMinutes": 60, "durationMinutes": 240}}"#,
    );
    let found: Vec<String> = walk(
        &schedule,
        local(BERLIN, 2025, 3, 30, 0, 0),
        local(BERLIN, 2025, 3, 30, 12, 0),
    )
    .iter()
    .map(|at| at.format("%H:%M").to_string())
    .collect();
    assert_eq!(found, ["00:30", "01:30", "03:30", "04:30"]);
}

#[test]
fn random_delays_are_deterministic_bounded_and_spread() {
    let triggers = r#"{"recurrence": "minutely", "start": "2025-01-01T00:00",
                       "intervalMinutes": 60, "randomDelaySeconds": 600}"#;
    let one = task(chrono_tz::UTC, triggers);
    let two = task(chrono_tz::UTC, triggers);
    let from = local(chrono_tz::UTC, 2025, 1, 1, 0, 0) - TimeDelta::seconds(1);
    let to = from + TimeDelta::days(3);
    let first = walk(&one, from, to);
    assert_eq!(first, walk(&two, from, to), "two drivers agree");
    assert_eq!(first.len(), 72);
    let mut delays = std::collections::BTreeSet::new();
    for (hour, at) in first.iter().enumerate() {
        let scheduled = from + TimeDelta::seconds(1) + TimeDelta::hours(hour as i64);
        let delay = (at.with_timezone(&Utc) - scheduled).num_seconds();
        assert!((0..=600).contains(&delay), "{at}: delay {delay}");
        assert_eq!(delay, i64::from(random_delay("t", scheduled, 600)));
        delays.insert(delay);
    }
    assert!(delays.len() > 50, "delays vary: {delays:?}");
    // Another task gets other delays.
    let scheduled = from + TimeDelta::seconds(1);
    let differ = (0..24)
        .map(|h| scheduled + TimeDelta::hours(h))
        .filter(|s| random_delay("t", *s, 600) != random_delay("other", *s, 600))
        .count();
    assert!(differ > 12);
}

#[test]
fn driver_start_triggers_have_no_times_and_round_trip() {
    let text = task_json(
        chrono_tz::UTC,
        r#"{"recurrence": "driverStart"}, {"recurrence": "once", "start": "2030-01-01T00:00"}"#,
    );
    let definition = parse_task(&text).unwrap();
    let schedule = Schedule::new(&definition);
    assert!(schedule.triggers()[0].is_driver_start());
    let now = Utc::now();
    assert_eq!(
        schedule.triggers()[0].driver_start_occurrence(now),
        Some(now)
    );
    assert_eq!(
        schedule.triggers()[0].next_after(Utc::now() - TimeDelta::days(1)),
        None
    );
    assert_eq!(schedule.upcoming(Utc::now(), 5).len(), 1);
    assert_eq!(parse_task(&definition.to_json_string()), Ok(definition));
    assert_eq!(
        errors(&task_json(
            chrono_tz::UTC,
            r#"{"recurrence": "driverStart", "start": "2025-01-01T00:00", "randomDelaySeconds": 5}"#
        )),
        [
            r#"triggers[0].randomDelaySeconds: not allowed for recurrence "driverStart""#,
            r#"triggers[0].start: not allowed for recurrence "driverStart" (it fires when a driver starts)"#,
        ]
    );
    // delaySeconds (Task Scheduler's BootTrigger Delay): that long after the start, and
    // nothing once the delayed occurrence would be at or after expires.
    let delayed = parse_task(&task_json(
        chrono_tz::UTC,
        r#"{"recurrence": "driverStart", "delaySeconds": 90, "expires": "2025-01-01T00:01:30Z"}"#,
    ))
    .unwrap();
    assert_eq!(
        delayed.to_json()["triggers"][0]["delaySeconds"],
        90,
        "written back"
    );
    assert_eq!(parse_task(&delayed.to_json_string()).unwrap(), delayed);
    let compiled = Schedule::new(&delayed);
    let trigger = &compiled.triggers()[0];
    let start = local(chrono_tz::UTC, 2025, 1, 1, 0, 0);
    assert_eq!(
        trigger.driver_start_occurrence(start - TimeDelta::seconds(1)),
        Some(start + TimeDelta::seconds(89))
    );
    assert_eq!(
        trigger.driver_start_occurrence(start),
        None,
        "expired by then"
    );
    assert_eq!(
        errors(&task_json(
            chrono_tz::UTC,
            r#"{"recurrence": "driverStart", "delaySeconds": 86401},
               {"recurrence": "daily", "start": "2025-01-01T00:00", "delaySeconds": 5}"#
        )),
        [
            "triggers[0].delaySeconds: must be a whole number from 0 to 86400, not 86401",
            r#"triggers[1].delaySeconds: not allowed for recurrence "daily""#,
        ]
    );
}

#[test]
fn new_fields_round_trip_through_the_json() {
    let text = r#"{"id": "t", "command": "true", "timeZone": "Europe/Berlin",
        "catchUp": "all", "catchUpLimit": 5, "ifRunning": "queue",
        "triggers": [
          {"recurrence": "monthly", "start": "2025-01-01T09:00", "months": [1, 7],
           "monthWeekdays": [{"week": "last", "weekday": "sun"}],
           "repetition": {"everyMinutes": 15, "until": "10:30"},
           "randomDelaySeconds": 30},
          {"recurrence": "daily", "start": "2025-01-01T22:00",
           "repetition": {"everyMinutes": 30, "durationMinutes": 240, "stopAtEnd": true}}]}"#;
    let task = parse_task(text).unwrap();
    assert_eq!(task.catch_up, CatchUpPolicy::All { limit: 5 });
    let json = task.to_json();
    assert_eq!(json["catchUp"], "all");
    assert_eq!(json["catchUpLimit"], 5);
    assert_eq!(json["runIfMissed"], true);
    assert_eq!(
        json["triggers"][0]["repetition"],
        serde_json::json!({"everyMinutes": 15, "until": "10:30"})
    );
    assert_eq!(
        json["triggers"][0]["monthWeekdays"],
        serde_json::json!([{"week": "last", "weekday": "sun"}])
    );
    assert_eq!(json["triggers"][0]["randomDelaySeconds"], 30);
    assert_eq!(json["triggers"][1]["repetition"]["stopAtEnd"], true);
    assert_eq!(parse_task(&task.to_json_string()), Ok(task));
}

#[test]
fn run_if_missed_is_the_alias_of_catch_up_once() {
    let with = |fields: &str| {
        parse_task(&format!(
            r#"{{"id": "t", "command": "true", "timeZone": "UTC", {fields}
                "triggers": [{{"recurrence": "once", "start": "2030-01-01T00:00"}}]}}"#
        ))
    };
    assert_eq!(
        with(r#""runIfMissed": true,"#).unwrap().catch_up,
        CatchUpPolicy::Once
    );
    assert_eq!(
        with(r#""catchUp": "once","#).unwrap().catch_up,
        CatchUpPolicy::Once
    );
    assert_eq!(with("").unwrap().catch_up, CatchUpPolicy::None);
    assert_eq!(
        with(r#""catchUp": "all", "ifRunning": "queue","#)
            .unwrap()
            .catch_up,
        CatchUpPolicy::All {
            limit: CatchUpPolicy::DEFAULT_LIMIT
        }
    );
    let messages = |fields: &str| -> Vec<String> {
        with(fields)
            .unwrap_err()
            .errors()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        messages(r#""runIfMissed": false, "catchUp": "once","#),
        [
            r#"runIfMissed: contradicts catchUp "once" (runIfMissed true is catchUp "once"; give one of them)"#
        ]
    );
    assert_eq!(
        messages(r#""catchUp": "all","#),
        [
            r#"catchUp: "all" needs ifRunning "queue" or "parallel" (with "skip" each late run would refuse or stop the one before)"#
        ]
    );
    assert_eq!(
        messages(r#""catchUp": "some", "catchUpLimit": 0,"#),
        [
            r#"catchUp: "some" is not a catch-up rule (none, once or all)"#,
            "catchUpLimit: must be a whole number from 1 to 1000, not 0",
            r#"catchUpLimit: only allowed with catchUp "all""#,
        ]
    );
}

#[test]
fn bad_repetitions_and_month_weekdays_are_reported_with_their_paths() {
    let found = errors(&task_json(
        BERLIN,
        r#"{"recurrence": "daily", "start": "2025-01-01T09:00",
            "repetition": {"everyMinutes": 60, "until": "09:00"}},
           {"recurrence": "daily", "start": "2025-01-01T09:00",
            "repetition": {"everyMinutes": 60, "durationMinutes": 60, "until": "10:00"}},
           {"recurrence": "weekly", "start": "2025-01-01T09:00",
            "repetition": {"everyMinutes": 0, "durationMinutes": 44641, "every": 1}},
           {"recurrence": "minutely", "start": "2025-01-01T09:00", "intervalMinutes": 5,
            "repetition": {"everyMinutes": 1, "durationMinutes": 2}},
           {"recurrence": "monthly", "start": "2025-01-01T09:00",
            "monthWeekdays": [{"week": 5, "weekday": "mon"}, {"week": 1, "weekday": "funday"},
                              {"week": 1}, {"week": 2, "weekday": "tue"}, {"week": 2, "weekday": "tue"},
                              {"week": 1, "weekday": "day"}]},
           {"recurrence": "daily", "start": "2025-01-01T09:00",
            "repetition": {"everyMinutes": 60}, "randomDelaySeconds": 86401},
           {"recurrence": "daily", "start": "2025-01-01T09:00",
            "repetition": {"everyMinutes": 60, "until": "12:00", "stopAtEnd": true}}"#,
    ));
    assert_eq!(
        found,
        [
            "triggers[0].repetition.until: must differ from the trigger's time of day (09:00:00; an earlier time ends the window on the next day)",
            "triggers[1].repetition: give durationMinutes or until, not both",
            "triggers[2].repetition.every: unknown field",
            "triggers[2].repetition.everyMinutes: must be a whole number from 1 to 44640, not 0",
            "triggers[2].repetition.durationMinutes: must be a whole number from 1 to 44640, not 44641",
            r#"triggers[3].repetition: not allowed for recurrence "minutely""#,
            "triggers[4].monthWeekdays[0].week: 5 is not a week of the month (1..4 or \"last\")",
            "triggers[4].monthWeekdays[1].weekday: \"funday\" is not a weekday (mon, tue, wed, thu, fri, sat or sun), \"weekday\" or \"weekendDay\"",
            "triggers[4].monthWeekdays[2].weekday: required field missing",
            r#"triggers[4].monthWeekdays[4]: {"week":2,"weekday":"tue"} is listed twice"#,
            r#"triggers[4].monthWeekdays[5].weekday: "day" is not a weekday (mon, tue, wed, thu, fri, sat or sun), "weekday" or "weekendDay" (the n-th day of the month is monthDays 1..4 or "last")"#,
            "triggers[5].repetition: give durationMinutes or until",
            "triggers[5].randomDelaySeconds: must be a whole number from 0 to 86400, not 86401",
            "triggers[6].repetition.stopAtEnd: only with durationMinutes (a window until a time of day ends with its last run)",
        ]
    );
}

#[test]
fn catch_up_all_enqueues_the_latest_occurrences_up_to_the_limit() {
    let schedule = task(
        chrono_tz::UTC,
        r#"{"recurrence": "minutely", "start": "2025-01-01T00:00", "intervalMinutes": 10}"#,
    );
    let trigger = &schedule.triggers()[0];
    let at = |h, m| local(chrono_tz::UTC, 2025, 1, 2, h, m);
    // Last fired 01:00, down until 02:05: 01:10 .. 02:00 missed (six).
    let all = catch_up(
        trigger,
        Some(at(1, 0)),
        at(0, 0),
        at(2, 5),
        CatchUpPolicy::All { limit: 4 },
    );
    let missed = all.missed.expect("missed");
    assert_eq!(missed.count, 6);
    assert_eq!(missed.action, MissedAction::EnqueueEach);
    assert_eq!(missed.each, [at(1, 30), at(1, 40), at(1, 50), at(2, 0)]);
    assert_eq!(missed.skipped_latest, Some(at(1, 20)));
    assert_eq!(all.next, Some(at(2, 10)));
    // Under the limit: every missed occurrence, nothing skipped.
    let few = catch_up(
        trigger,
        Some(at(1, 0)),
        at(0, 0),
        at(1, 25),
        CatchUpPolicy::All { limit: 4 },
    );
    let missed = few.missed.expect("missed");
    assert_eq!(missed.each, [at(1, 10), at(1, 20)]);
    assert_eq!(missed.skipped_latest, None);
    // once and none keep their meaning.
    let once = catch_up(
        trigger,
        Some(at(1, 0)),
        at(0, 0),
        at(2, 5),
        CatchUpPolicy::Once,
    );
    assert_eq!(once.late_run(), Some(at(2, 0)));
    assert!(once.missed.unwrap().each.is_empty());
}

#[test]
fn task_next_file_shows_windows_weekend_days_and_driver_start() {
    let path = std::env::temp_dir().join(format!("stagehand-next-{}.json", std::process::id()));
    std::fs::write(
        &path,
        task_json(
            BERLIN,
            r#"{"recurrence": "daily", "start": "2025-03-01T06:00",
                "repetition": {"everyMinutes": 120, "until": "10:00"}},
               {"recurrence": "driverStart", "delaySeconds": 90},
               {"recurrence": "monthly", "start": "2025-03-01T07:00",
                "monthWeekdays": [{"week": 1, "weekday": "weekendDay"}]}"#,
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_stagehand"))
        .args(["task", "next", "--file", path.to_str().unwrap()])
        .args(["--after", "2025-03-01T00:00", "--count", "4"])
        .output()
        .unwrap();
    std::fs::remove_file(&path).ok();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .collect::<Vec<_>>(),
        [
            "2025-03-01T06:00:00+01:00",
            "2025-03-01T07:00:00+01:00",
            "2025-03-01T08:00:00+01:00",
            "2025-03-01T10:00:00+01:00"
        ]
    );
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("trigger 1 also fires once at every driver start, 90 s after it"));
}

#[test]
fn stop_deadlines_are_the_end_of_each_occurrences_window() {
    let text = |stop: bool| {
        task_json(
            BERLIN,
            &format!(
                r#"{{"recurrence": "daily", "start": "2025-03-29T22:00",
                    "repetition": {{"everyMinutes": 45, "durationMinutes": 240, "stopAtEnd": {stop}}},
                    "randomDelaySeconds": 900}}"#
            ),
        )
    };
    let schedule = Schedule::new(&parse_task(&text(true)).unwrap());
    assert!(schedule.stops_at_window_end());
    // Across the spring-forward night: windows last 240 minutes of elapsed time.
    let from = local(BERLIN, 2025, 3, 29, 21, 0);
    let found = walk(&schedule, from, from + TimeDelta::days(2));
    assert_eq!(found.len(), 12, "six repeats a night: {found:?}");
    for at in &found {
        let at = at.with_timezone(&Utc);
        let night = if at < local(BERLIN, 2025, 3, 30, 12, 0) {
            local(BERLIN, 2025, 3, 29, 22, 0)
        } else {
            local(BERLIN, 2025, 3, 30, 22, 0)
        };
        assert_eq!(
            schedule.stop_deadline(at),
            Some(night + TimeDelta::minutes(240)),
            "{at}"
        );
    }
    // Not an occurrence, or no stopAtEnd: no deadline.
    let first = found[0].with_timezone(&Utc);
    assert_eq!(schedule.stop_deadline(first + TimeDelta::seconds(1)), None);
    let without = Schedule::new(&parse_task(&text(false)).unwrap());
    assert!(!without.stops_at_window_end());
    assert_eq!(without.stop_deadline(first), None);
}
