//! Daylight saving in America/New_York (2024: 02:00 -> 03:00 on March 10, 02:00 -> 01:00
//! on November 3) and Europe/Lisbon (2024: 01:00 -> 02:00 on March 31, 02:00 -> 01:00 on
//! October 27), both directions, for daily, weekly, monthly, minutely and cron triggers.
//! A wall-clock time in a gap fires once at the end of the gap; one in a repeated hour
//! fires once, at its first occurrence; minutely triggers run on elapsed time.

use chrono::{DateTime, Utc};
use stagehand::schedule::{parse_task, Occurrences, Schedule};

fn schedule(zone: &str, trigger: &str) -> Schedule {
    let text = format!(
        r#"{{"id": "dst", "command": "true", "timeZone": "{zone}", "triggers": [{trigger}]}}"#
    );
    Schedule::new(&parse_task(&text).unwrap_or_else(|error| panic!("{error}")))
}

fn instant(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("test instant")
        .with_timezone(&Utc)
}

/// The next `count` fire times after `after`, as RFC 3339 in the task's zone; also checks
/// that previous_at_or_before finds each of them from just before the next one.
fn fires(zone: &str, trigger: &str, after: &str, count: usize) -> Vec<String> {
    let schedule = schedule(zone, trigger);
    let found = schedule.upcoming(instant(after), count);
    for (at, _) in &found {
        let at = at.with_timezone(&Utc);
        assert_eq!(schedule.previous_at_or_before(at), Some(at));
        let just_before_next = schedule
            .next_after(at)
            .map(|next| next - chrono::TimeDelta::seconds(1));
        if let Some(t) = just_before_next {
            assert_eq!(
                schedule.previous_at_or_before(t),
                Some(at),
                "previous before {t}"
            );
        }
    }
    found.iter().map(|(at, _)| at.to_rfc3339()).collect()
}

const NEW_YORK: &str = "America/New_York";
const LISBON: &str = "Europe/Lisbon";

#[test]
fn daily_in_new_york() {
    let spring = r#"{"recurrence": "daily", "start": "2024-03-01T02:30:00"}"#;
    assert_eq!(
        fires(NEW_YORK, spring, "2024-03-09T00:00:00-05:00", 3),
        [
            "2024-03-09T02:30:00-05:00",
            "2024-03-10T03:00:00-04:00",
            "2024-03-11T02:30:00-04:00"
        ]
    );
    let fall = r#"{"recurrence": "daily", "start": "2024-10-01T01:30:00"}"#;
    assert_eq!(
        fires(NEW_YORK, fall, "2024-11-02T00:00:00-04:00", 3),
        [
            "2024-11-02T01:30:00-04:00",
            "2024-11-03T01:30:00-04:00",
            "2024-11-04T01:30:00-05:00"
        ]
    );
    // Nothing at the second 01:30 (EST) of November 3rd.
    let schedule = schedule(NEW_YORK, fall);
    assert_eq!(
        schedule.next_after(instant("2024-11-03T01:30:00-04:00")),
        Some(instant("2024-11-04T01:30:00-05:00"))
    );
    assert_eq!(
        schedule.previous_at_or_before(instant("2024-11-03T01:45:00-05:00")),
        Some(instant("2024-11-03T01:30:00-04:00"))
    );
}

#[test]
fn daily_in_lisbon() {
    let spring = r#"{"recurrence": "daily", "start": "2024-03-01T01:30:00"}"#;
    assert_eq!(
        fires(LISBON, spring, "2024-03-30T00:00:00Z", 3),
        [
            "2024-03-30T01:30:00+00:00",
            "2024-03-31T02:00:00+01:00",
            "2024-04-01T01:30:00+01:00"
        ]
    );
    let fall = r#"{"recurrence": "daily", "start": "2024-03-01T01:30:00"}"#;
    assert_eq!(
        fires(LISBON, fall, "2024-10-26T00:00:00+01:00", 3),
        [
            "2024-10-26T01:30:00+01:00",
            "2024-10-27T01:30:00+01:00",
            "2024-10-28T01:30:00+00:00"
        ]
    );
}

#[test]
fn a_start_inside_the_gap_keeps_its_wall_clock_time_of_day() {
    let trigger = r#"{"recurrence": "daily", "start": "2024-03-10T02:30:00"}"#;
    assert_eq!(
        fires(NEW_YORK, trigger, "2024-03-01T00:00:00Z", 2),
        ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"]
    );
}

#[test]
fn weekly_and_monthly_follow_the_same_rules() {
    let weekly = r#"{"recurrence": "weekly", "start": "2024-03-03T02:30:00", "weekdays": ["sun"]}"#;
    assert_eq!(
        fires(NEW_YORK, weekly, "2024-03-04T00:00:00Z", 2),
        ["2024-03-10T03:00:00-04:00", "2024-03-17T02:30:00-04:00"]
    );
    let monthly = r#"{"recurrence": "monthly", "start": "2024-09-27T01:30:00", "monthDays": [27]}"#;
    assert_eq!(
        fires(LISBON, monthly, "2024-10-01T00:00:00Z", 2),
        ["2024-10-27T01:30:00+01:00", "2024-11-27T01:30:00+00:00"]
    );
}

#[test]
fn minutely_runs_on_elapsed_time_in_new_york() {
    let spring =
        r#"{"recurrence": "minutely", "start": "2024-03-09T00:00:00", "intervalMinutes": 30}"#;
    assert_eq!(
        fires(NEW_YORK, spring, "2024-03-10T00:00:00-05:00", 5),
        [
            "2024-03-10T00:30:00-05:00",
            "2024-03-10T01:00:00-05:00",
            "2024-03-10T01:30:00-05:00",
            "2024-03-10T03:00:00-04:00",
            "2024-03-10T03:30:00-04:00"
        ]
    );
    let fall =
        r#"{"recurrence": "minutely", "start": "2024-11-01T00:00:00", "intervalMinutes": 30}"#;
    assert_eq!(
        fires(NEW_YORK, fall, "2024-11-03T00:00:00-04:00", 6),
        [
            "2024-11-03T00:30:00-04:00",
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:30:00-04:00",
            "2024-11-03T01:00:00-05:00",
            "2024-11-03T01:30:00-05:00",
            "2024-11-03T02:00:00-05:00"
        ]
    );
}

#[test]
fn minutely_runs_on_elapsed_time_in_lisbon() {
    let spring =
        r#"{"recurrence": "minutely", "start": "2024-03-01T00:00:00", "intervalMinutes": 60}"#;
    assert_eq!(
        fires(LISBON, spring, "2024-03-30T23:30:00Z", 3),
        [
            "2024-03-31T00:00:00+00:00",
            "2024-03-31T02:00:00+01:00",
            "2024-03-31T03:00:00+01:00"
        ]
    );
    let fall =
        r#"{"recurrence": "minutely", "start": "2024-10-01T00:00:00", "intervalMinutes": 60}"#;
    assert_eq!(
        fires(LISBON, fall, "2024-10-26T23:30:00+01:00", 4),
        [
            "2024-10-27T00:00:00+01:00",
            "2024-10-27T01:00:00+01:00",
            "2024-10-27T01:00:00+00:00",
            "2024-10-27T02:00:00+00:00"
        ]
    );
}

#[test]
fn a_weekday_filter_counts_the_hours_a_dst_sunday_really_has() {
    let sundays = r#"{"recurrence": "minutely", "start": "2024-03-01T00:00:00", "intervalMinutes": 60, "weekdays": ["sun"]}"#;
    let schedule = schedule(NEW_YORK, sundays);
    let count_on = |day: &str| {
        let found = schedule.upcoming(instant("2024-01-01T00:00:00Z"), 2_000);
        found
            .iter()
            .filter(|(at, _)| at.date_naive().to_string() == day)
            .count()
    };
    assert_eq!(count_on("2024-03-10"), 23);
    assert_eq!(count_on("2024-03-17"), 24);
    let after_saturday = schedule.next_after(instant("2024-03-09T12:00:00-05:00"));
    assert_eq!(after_saturday, Some(instant("2024-03-10T00:00:00-05:00")));
    let fall = schedule.upcoming(instant("2024-11-02T12:00:00Z"), 30);
    assert_eq!(
        fall.iter()
            .filter(|(at, _)| at.date_naive().to_string() == "2024-11-03")
            .count(),
        25
    );
    assert_eq!(fall[25].0.to_rfc3339(), "2024-11-10T00:00:00-05:00");
}

#[test]
fn cron_in_new_york() {
    let daily = r#"{"recurrence": "cron", "cron": "30 2 * * *"}"#;
    assert_eq!(
        fires(NEW_YORK, daily, "2024-03-09T00:00:00-05:00", 3),
        [
            "2024-03-09T02:30:00-05:00",
            "2024-03-10T03:00:00-04:00",
            "2024-03-11T02:30:00-04:00"
        ]
    );
    let quarter = r#"{"recurrence": "cron", "cron": "*/15 * * * *"}"#;
    assert_eq!(
        fires(NEW_YORK, quarter, "2024-03-10T01:20:00-05:00", 4),
        [
            "2024-03-10T01:30:00-05:00",
            "2024-03-10T01:45:00-05:00",
            "2024-03-10T03:00:00-04:00",
            "2024-03-10T03:15:00-04:00"
        ]
    );
    let half = r#"{"recurrence": "cron", "cron": "*/30 * * * *"}"#;
    assert_eq!(
        fires(NEW_YORK, half, "2024-11-03T00:00:00-04:00", 5),
        [
            "2024-11-03T00:30:00-04:00",
            "2024-11-03T01:00:00-04:00",
            "2024-11-03T01:30:00-04:00",
            "2024-11-03T02:00:00-05:00",
            "2024-11-03T02:30:00-05:00"
        ]
    );
    let schedule = schedule(NEW_YORK, half);
    assert_eq!(
        schedule.previous_at_or_before(instant("2024-11-03T01:45:00-05:00")),
        Some(instant("2024-11-03T01:30:00-04:00"))
    );
    let once_a_night = r#"{"recurrence": "cron", "cron": "30 1 * * *"}"#;
    assert_eq!(
        fires(NEW_YORK, once_a_night, "2024-11-02T12:00:00-04:00", 2),
        ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"]
    );
}

#[test]
fn cron_in_lisbon() {
    let nightly = r#"{"recurrence": "cron", "cron": "30 1 * * *"}"#;
    assert_eq!(
        fires(LISBON, nightly, "2024-03-30T12:00:00Z", 2),
        ["2024-03-31T02:00:00+01:00", "2024-04-01T01:30:00+01:00"]
    );
    assert_eq!(
        fires(LISBON, nightly, "2024-10-26T12:00:00+01:00", 2),
        ["2024-10-27T01:30:00+01:00", "2024-10-28T01:30:00+00:00"]
    );
    let hourly = r#"{"recurrence": "cron", "cron": "0 * * * *"}"#;
    assert_eq!(
        fires(LISBON, hourly, "2024-03-30T23:30:00Z", 3),
        [
            "2024-03-31T00:00:00+00:00",
            "2024-03-31T02:00:00+01:00",
            "2024-03-31T03:00:00+01:00"
        ]
    );
    assert_eq!(
        fires(LISBON, hourly, "2024-10-26T23:30:00+01:00", 3),
        [
            "2024-10-27T00:00:00+01:00",
            "2024-10-27T01:00:00+01:00",
            "2024-10-27T02:00:00+00:00"
        ]
    );
}
