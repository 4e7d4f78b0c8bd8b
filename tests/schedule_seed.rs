//! The seed examples of issue 3, each over a year, and the two-trigger task.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use stagehand::schedule::{parse_task, Occurrences, Schedule};

const ZONE: Tz = chrono_tz::America::Sao_Paulo;

fn task(zone: Tz, triggers: &str) -> Schedule {
    let text = format!(
        r#"{{"id": "t", "command": "true", "timeZone": "{}", "triggers": [{triggers}]}}"#,
        zone.name()
    );
    Schedule::new(&parse_task(&text).unwrap_or_else(|error| panic!("{error}")))
}

fn midnight(zone: Tz, y: i32, m: u32, d: u32) -> DateTime<Utc> {
    zone.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// Every occurrence in [from, to), as wall-clock times in the schedule's zone, found
/// through next_after and checked against upcoming.
fn between(schedule: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Tz>> {
    let just_before = from - chrono::TimeDelta::seconds(1);
    let mut found = Vec::new();
    let mut at = just_before;
    while let Some(next) = schedule.next_after(at).filter(|next| *next < to) {
        found.push(next.with_timezone(&schedule.time_zone()));
        at = next;
    }
    let upcoming = schedule.upcoming(just_before, found.len() + 1);
    let upcoming: Vec<DateTime<Tz>> = upcoming.into_iter().map(|(at, _)| at).collect();
    assert_eq!(upcoming[..found.len()], found[..]);
    assert!(upcoming.get(found.len()).is_none_or(|after| *after >= to));
    found
}

fn dates_of_2025() -> impl Iterator<Item = NaiveDate> {
    NaiveDate::from_ymd_opt(2025, 1, 1)
        .unwrap()
        .iter_days()
        .take_while(|day| day.year() == 2025)
}

fn year_2025() -> (DateTime<Utc>, DateTime<Utc>) {
    (midnight(ZONE, 2025, 1, 1), midnight(ZONE, 2026, 1, 1))
}

fn at_time(occurrences: &[DateTime<Tz>], hour: u32) -> bool {
    occurrences
        .iter()
        .all(|at| at.time() == NaiveTime::from_hms_opt(hour, 0, 0).unwrap())
}

#[test]
fn every_day_at_15() {
    let schedule = task(
        ZONE,
        r#"{"recurrence": "daily", "start": "2024-12-06T15:00:00"}"#,
    );
    let (from, to) = year_2025();
    let found = between(&schedule, from, to);
    let dates: Vec<NaiveDate> = found.iter().map(|at| at.date_naive()).collect();
    assert_eq!(dates, dates_of_2025().collect::<Vec<_>>());
    assert!(at_time(&found, 15));
}

#[test]
fn monday_tuesday_wednesday_at_17() {
    let schedule = task(
        ZONE,
        r#"{"recurrence": "weekly", "start": "2024-12-06T17:00:00", "weekdays": ["mon", "tue", "wed"]}"#,
    );
    let (from, to) = year_2025();
    let found = between(&schedule, from, to);
    let expected: Vec<NaiveDate> = dates_of_2025()
        .filter(|day| matches!(day.weekday(), Weekday::Mon | Weekday::Tue | Weekday::Wed))
        .collect();
    assert_eq!(expected.len(), 157);
    assert_eq!(
        found.iter().map(|at| at.date_naive()).collect::<Vec<_>>(),
        expected
    );
    assert!(at_time(&found, 17));
}

#[test]
fn every_15_minutes() {
    let schedule = task(
        ZONE,
        r#"{"recurrence": "minutely", "start": "2024-12-06T00:00:00", "intervalMinutes": 15}"#,
    );
    let (from, to) = year_2025();
    let started = std::time::Instant::now();
    let found = between(&schedule, from, to);
    eprintln!(
        "a year of 15-minute predictions, twice: {:?}",
        started.elapsed()
    );
    assert_eq!(found.len(), 365 * 96);
    assert_eq!(found[0], from);
    assert!(found
        .windows(2)
        .all(|pair| pair[1] - pair[0] == chrono::TimeDelta::minutes(15)));
}

#[test]
fn days_3_5_and_10_of_each_month() {
    let schedule = task(
        ZONE,
        r#"{"recurrence": "monthly", "start": "2024-12-06T08:00:00", "monthDays": [3, 5, 10]}"#,
    );
    let (from, to) = year_2025();
    let found = between(&schedule, from, to);
    let expected: Vec<NaiveDate> = dates_of_2025()
        .filter(|day| [3, 5, 10].contains(&day.day()))
        .collect();
    assert_eq!(expected.len(), 36);
    assert_eq!(
        found.iter().map(|at| at.date_naive()).collect::<Vec<_>>(),
        expected
    );
    assert!(at_time(&found, 8));
    // The first one after the start is December 10th, 2024 (the 3rd and 5th had passed).
    let first = schedule.next_after(midnight(ZONE, 2024, 1, 1)).unwrap();
    assert_eq!(first, ZONE.with_ymd_and_hms(2024, 12, 10, 8, 0, 0).unwrap());
}

#[test]
fn last_day_of_each_month_through_a_leap_year() {
    let schedule = task(
        ZONE,
        r#"{"recurrence": "monthly", "start": "2024-01-01T23:00:00", "monthDays": ["last"]}"#,
    );
    let found = between(
        &schedule,
        midnight(ZONE, 2024, 1, 1),
        midnight(ZONE, 2026, 1, 1),
    );
    let days: Vec<(i32, u32, u32)> = found
        .iter()
        .map(|at| (at.year(), at.month(), at.day()))
        .collect();
    let expected_days = [
        31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
        31,
    ];
    let expected: Vec<(i32, u32, u32)> = (0..24)
        .map(|i| (2024 + i as i32 / 12, i as u32 % 12 + 1, expected_days[i]))
        .collect();
    assert_eq!(days, expected);
    assert!(at_time(&found, 23));
}

#[test]
fn day_31_skips_short_months_and_31_with_last_fires_once() {
    let schedule = task(
        ZONE,
        r#"{"recurrence": "monthly", "start": "2024-01-01T06:00:00", "monthDays": [31, "last", 29]}"#,
    );
    let found = between(
        &schedule,
        midnight(ZONE, 2025, 1, 1),
        midnight(ZONE, 2025, 5, 1),
    );
    let days: Vec<(u32, u32)> = found.iter().map(|at| (at.month(), at.day())).collect();
    // February 2025 has no 29th (skipped) and fires on its last day; 31 + last fire once.
    assert_eq!(
        days,
        [
            (1, 29),
            (1, 31),
            (2, 28),
            (3, 29),
            (3, 31),
            (4, 29),
            (4, 30)
        ]
    );
}

#[test]
fn once_on_2021_03_21_at_20() {
    let schedule = task(
        ZONE,
        r#"{"recurrence": "once", "start": "2021-03-21T20:00:00"}"#,
    );
    let found = between(
        &schedule,
        midnight(ZONE, 2021, 1, 1),
        midnight(ZONE, 2022, 1, 1),
    );
    assert_eq!(
        found,
        [ZONE.with_ymd_and_hms(2021, 3, 21, 20, 0, 0).unwrap()]
    );
    assert_eq!(found[0].to_rfc3339(), "2021-03-21T20:00:00-03:00");
    assert_eq!(schedule.next_after(found[0].with_timezone(&Utc)), None);
    assert_eq!(
        schedule.previous_at_or_before(Utc::now()),
        Some(found[0].with_timezone(&Utc))
    );
}

#[test]
fn the_whole_seed_task_merges_coinciding_triggers() {
    let schedule = task(
        ZONE,
        r#"
        { "recurrence": "daily",    "start": "2024-12-06T15:00:00" },
        { "recurrence": "weekly",   "start": "2024-12-06T17:00:00", "weekdays": ["mon", "tue", "wed"] },
        { "recurrence": "minutely", "start": "2024-12-06T00:00:00", "intervalMinutes": 15 },
        { "recurrence": "monthly",  "start": "2024-12-06T08:00:00", "monthDays": [3, 5, 10] },
        { "recurrence": "monthly",  "start": "2024-12-06T23:00:00", "monthDays": ["last"] },
        { "recurrence": "once",     "start": "2021-03-21T20:00:00" }"#,
    );
    let (from, to) = year_2025();
    let found = schedule.upcoming(from - chrono::TimeDelta::seconds(1), 40_000);
    let in_year: Vec<&(DateTime<Tz>, usize)> = found.iter().filter(|(at, _)| *at < to).collect();
    // Every other trigger falls on the 15-minute grid: each instant is reported once.
    assert_eq!(in_year.len(), 365 * 96);
    assert!(found.windows(2).all(|pair| pair[0].0 < pair[1].0));
    for (at, trigger) in in_year {
        let expected = match (at.hour(), at.minute()) {
            (15, 0) => 0,
            (17, 0) if matches!(at.weekday(), Weekday::Mon | Weekday::Tue | Weekday::Wed) => 1,
            _ => 2,
        };
        assert_eq!(*trigger, expected, "{at}");
    }
}

#[test]
fn every_two_hours_monday_to_friday_and_saturdays_at_noon() {
    let schedule = task(
        ZONE,
        r#"
        { "recurrence": "minutely", "start": "2024-12-02T00:00:00", "intervalMinutes": 120,
          "weekdays": ["mon", "tue", "wed", "thu", "fri"] },
        { "recurrence": "weekly", "start": "2024-12-07T12:00:00", "weekdays": ["sat"] }"#,
    );
    let (from, to) = year_2025();
    let found: Vec<(DateTime<Tz>, usize)> = schedule
        .upcoming(from - chrono::TimeDelta::seconds(1), 10_000)
        .into_iter()
        .filter(|(at, _)| *at < to)
        .collect();
    let workdays = dates_of_2025()
        .filter(|d| d.weekday().num_days_from_monday() < 5)
        .count();
    let saturdays = dates_of_2025()
        .filter(|d| d.weekday() == Weekday::Sat)
        .count();
    assert_eq!((workdays, saturdays), (261, 52));
    assert_eq!(found.len(), workdays * 12 + saturdays);
    for (at, trigger) in &found {
        match trigger {
            0 => {
                assert!(at.weekday().num_days_from_monday() < 5, "{at}");
                assert!(at.hour() % 2 == 0 && at.minute() == 0, "{at}");
            }
            1 => assert_eq!(
                (at.weekday(), at.hour(), at.minute()),
                (Weekday::Sat, 12, 0)
            ),
            _ => panic!("no trigger {trigger}"),
        }
    }
    // Friday 22:00 is followed by Saturday noon, then Monday 00:00.
    let friday = ZONE
        .with_ymd_and_hms(2025, 6, 6, 22, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let next: Vec<String> = schedule
        .upcoming(friday, 2)
        .iter()
        .map(|(at, _)| at.to_rfc3339())
        .collect();
    assert_eq!(
        next,
        ["2025-06-07T12:00:00-03:00", "2025-06-09T00:00:00-03:00"]
    );
    assert_eq!(
        schedule.previous_at_or_before(friday + chrono::TimeDelta::hours(20)),
        Some(
            ZONE.with_ymd_and_hms(2025, 6, 7, 12, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        )
    );
}

#[test]
fn cron_day_fields_match_either_as_in_vixie_cron() {
    let schedule = task(ZONE, r#"{"recurrence": "cron", "cron": "0 9 13 * 5"}"#);
    let found = between(
        &schedule,
        midnight(ZONE, 2025, 6, 1),
        midnight(ZONE, 2025, 7, 1),
    );
    let days: Vec<u32> = found.iter().map(|at| at.day()).collect();
    // The Fridays of June 2025 and the 13th (itself a Friday, fired once).
    assert_eq!(days, [6, 13, 20, 27]);
    let found = between(
        &schedule,
        midnight(ZONE, 2025, 7, 1),
        midnight(ZONE, 2025, 8, 1),
    );
    let days: Vec<u32> = found.iter().map(|at| at.day()).collect();
    assert_eq!(days, [4, 11, 13, 18, 25]);
    assert!(at_time(&found, 9));
}
