//! Property tests: random triggers in zones with daylight saving (around their
//! transitions) against a brute-force reference that walks minute by minute and reads the
//! contract literally:
//!
//! - a wall-clock time L stands for the first instant whose wall clock reads L or later
//!   (so a time in a gap is the end of the gap, a repeated time its first pass);
//! - walking forward, the minute m "reaches" the wall-clock times after the latest one
//!   seen so far, up to m's own: calendar and cron triggers fire at m when a time they
//!   name is reached there; minutely triggers fire on the elapsed-time grid;
//! - nothing fires before start, at or after expiry, or when disabled;
//! - a calendar occurrence with a repetition opens a window: every `everyMinutes` of
//!   elapsed time after it, before start + `durationMinutes`, or at or before `until` read
//!   on the occurrence's date (the next date when `until` is before the time of day);
//! - a random delay moves each scheduled time by `random_delay(task, time, max)`.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use stagehand::schedule::{
    parse_task, random_delay, DayKind, MonthDay, Occurrences, Recurrence, RepetitionEnd, Schedule,
    TimeSpec, TriggerDefinition, WeekOfMonth,
};

/// Zones and window dates around their transitions (and a month or year boundary).
type Ymd = (i32, u32, u32);

const ZONES: [(Tz, &[Ymd]); 8] = [
    (
        chrono_tz::America::New_York,
        &[(2024, 3, 8), (2024, 11, 1), (2024, 6, 10)],
    ),
    (chrono_tz::Europe::Lisbon, &[(2024, 3, 29), (2024, 10, 25)]),
    (
        chrono_tz::Australia::Lord_Howe,
        &[(2024, 10, 4), (2024, 4, 5)],
    ),
    (chrono_tz::Pacific::Chatham, &[(2024, 9, 27), (2024, 4, 5)]),
    // Changes at midnight: September 8th has no 00:00..01:00, April 6th has 23:00 twice.
    (chrono_tz::America::Santiago, &[(2024, 9, 6), (2024, 4, 4)]),
    (chrono_tz::America::Sao_Paulo, &[(2024, 2, 26)]),
    (chrono_tz::Asia::Kolkata, &[(2024, 12, 28)]),
    (chrono_tz::UTC, &[(2025, 2, 25)]),
];

/// The window each case is checked over (its start excluded).
const WINDOW: TimeDelta = TimeDelta::days(6);

#[derive(Debug, Clone)]
struct Case {
    zone: Tz,
    window_start: DateTime<Utc>,
    task_enabled: bool,
    triggers: Vec<serde_json::Value>,
}

fn date(ymd: Ymd) -> NaiveDate {
    NaiveDate::from_ymd_opt(ymd.0, ymd.1, ymd.2).expect("test date")
}

/// A start or expiry near `base`: wall-clock, or with an offset; hours around DST changes.
fn time_text(
    base: NaiveDate,
    days: std::ops::RangeInclusive<i64>,
) -> impl Strategy<Value = String> {
    let hour = prop_oneof![2 => 0u32..24, 3 => 0u32..4];
    let minute = prop_oneof![Just(0u32), Just(30), Just(45), 0u32..60];
    let offset = proptest::option::weighted(
        0.3,
        prop_oneof![
            Just("Z"),
            Just("-04:00"),
            Just("+01:00"),
            Just("+10:30"),
            Just("+13:45")
        ],
    );
    (days, hour, minute, offset).prop_map(move |(days, hour, minute, offset)| {
        let day = base + TimeDelta::days(days);
        format!("{day}T{hour:02}:{minute:02}:00{}", offset.unwrap_or(""))
    })
}

fn subset<T: Clone + std::fmt::Debug + 'static>(
    items: Vec<T>,
    chance: f64,
) -> impl Strategy<Value = Vec<T>> {
    proptest::collection::vec(proptest::bool::weighted(chance), items.len()).prop_map(move |keep| {
        items
            .iter()
            .zip(keep)
            .filter(|(_, keep)| *keep)
            .map(|(item, _)| item.clone())
            .collect()
    })
}

fn weekdays() -> impl Strategy<Value = Vec<&'static str>> {
    subset(vec!["mon", "tue", "wed", "thu", "fri", "sat", "sun"], 0.4)
}

fn months() -> impl Strategy<Value = Vec<u32>> {
    prop_oneof![3 => Just(vec![]), 1 => subset((1..=12).collect(), 0.6)]
}

/// The recurrence-specific fields of a random trigger.
fn recurrence() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    let minutely = (
        prop_oneof![
            Just(1u32),
            Just(15),
            Just(30),
            Just(45),
            Just(60),
            Just(90),
            Just(7),
            Just(1439)
        ],
        proptest::option::weighted(0.4, weekdays()),
        months(),
    )
        .prop_map(|(interval, weekdays, months)| {
            json!({"recurrence": "minutely", "intervalMinutes": interval,
                   "weekdays": weekdays.filter(|w| !w.is_empty()), "months": non_empty(months)})
        });
    let daily = (1u32..=4, months()).prop_map(|(interval, months)| {
        json!({"recurrence": "daily", "intervalDays": interval, "months": non_empty(months)})
    });
    let weekly = (1u32..=3, weekdays(), months()).prop_map(|(interval, weekdays, months)| {
        json!({"recurrence": "weekly", "intervalWeeks": interval,
               "weekdays": Some(weekdays).filter(|w| !w.is_empty()), "months": non_empty(months)})
    });
    let month_days = (
        subset((1..=31).collect::<Vec<u32>>(), 0.25),
        proptest::bool::weighted(0.3),
    )
        .prop_map(|(days, last)| {
            let mut days: Vec<serde_json::Value> = days.into_iter().map(Into::into).collect();
            if last {
                days.push("last".into());
            }
            days
        });
    let week_days: Vec<serde_json::Value> = [json!(1), json!(2), json!(3), json!(4), json!("last")]
        .into_iter()
        .flat_map(|week| {
            [
                "mon",
                "tue",
                "wed",
                "thu",
                "fri",
                "sat",
                "sun",
                "weekday",
                "weekendDay",
            ]
            .map(|day| json!({"week": week.clone(), "weekday": day}))
        })
        .collect();
    let month_weekdays = proptest::option::weighted(0.4, subset(week_days, 0.08));
    let monthly = (month_days, month_weekdays, months()).prop_map(|(days, week_days, months)| {
        json!({"recurrence": "monthly", "monthDays": Some(days).filter(|d| !d.is_empty()),
               "monthWeekdays": week_days.filter(|w| !w.is_empty()),
               "months": non_empty(months)})
    });
    let cron = (
        prop_oneof![Just("*"), Just("*/15"), Just("0"), Just("30"), Just("5,35"), Just("59")],
        prop_oneof![Just("*"), Just("0"), Just("1"), Just("2"), Just("1-3"), Just("*/2"), Just("23")],
        prop_oneof![Just("*"), Just("*"), Just("1-10"), Just("27,31")],
        prop_oneof![Just("*"), Just("*"), Just("0"), Just("1-5"), Just("6,0")],
    )
        .prop_map(|(minute, hour, day, weekday)| {
            json!({"recurrence": "cron", "cron": format!("{minute} {hour} {day} * {weekday}")})
        });
    prop_oneof![
        1 => Just(json!({"recurrence": "once"})),
        2 => minutely,
        2 => daily,
        2 => weekly,
        2 => monthly,
        2 => cron,
    ]
}

fn non_empty(months: Vec<u32>) -> Option<Vec<u32>> {
    Some(months).filter(|m| !m.is_empty())
}

/// A repetition window (kept for calendar recurrences only).
fn repetition() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    let every = prop_oneof![
        6 => prop_oneof![Just(7u32), Just(15), Just(30), Just(45), Just(60), Just(90)],
        1 => prop_oneof![Just(1440u32), Just(1500), Just(2000)],
    ];
    let end = prop_oneof![
        prop_oneof![
            5 => prop_oneof![Just(61u32), Just(120), Just(300), Just(1439), Just(1440)],
            // Longer than a day: the windows of consecutive days overlap.
            4 => prop_oneof![Just(1441u32), Just(2880), Just(4000), Just(4320)],
        ]
        .prop_map(|minutes| json!({"durationMinutes": minutes})),
        (1u32..24, prop_oneof![Just(0u32), Just(30), 0u32..60])
            .prop_map(|(h, m)| json!({"until": format!("{h:02}:{m:02}")})),
    ];
    (every, end).prop_map(|(every, mut end)| {
        // A window must be longer than its interval.
        if let Some(minutes) = end["durationMinutes"].as_u64() {
            end["durationMinutes"] = minutes.max(u64::from(every) + 1).into();
        }
        end["everyMinutes"] = every.into();
        end
    })
}

fn trigger(base: NaiveDate) -> impl Strategy<Value = serde_json::Value> {
    let start = prop_oneof![time_text(base, -40..=-1), time_text(base, 0..=6)];
    let no_start_for_cron = proptest::bool::weighted(0.3);
    let expires = proptest::option::weighted(0.3, time_text(base, 0..=6));
    let enabled = proptest::bool::weighted(0.9);
    let repetition = proptest::option::weighted(0.35, repetition());
    let delay = proptest::option::weighted(
        0.2,
        prop_oneof![Just(1u32), Just(59), Just(600), Just(3600)],
    );
    (
        (recurrence(), start, no_start_for_cron, expires, enabled),
        repetition,
        delay,
    )
        .prop_map(
            |((mut trigger, start, no_start, expires, enabled), repetition, delay)| {
                let fields = trigger.as_object_mut().expect("object");
                fields.retain(|_, value| !value.is_null());
                let calendar = ["daily", "weekly", "monthly"]
                    .contains(&fields["recurrence"].as_str().unwrap_or(""));
                if let Some(repetition) = repetition.filter(|_| calendar) {
                    fields.insert("repetition".into(), repetition);
                }
                if let Some(delay) = delay {
                    fields.insert("randomDelaySeconds".into(), delay.into());
                }
                if !(no_start && fields["recurrence"] == "cron") {
                    fields.insert("start".into(), start.into());
                }
                if let Some(expires) = expires {
                    fields.insert("expires".into(), expires.into());
                }
                if !enabled {
                    fields.insert("enabled".into(), false.into());
                }
                trigger
            },
        )
}

fn case(trigger_count: usize) -> impl Strategy<Value = Case> {
    (0..ZONES.len(), 0usize..3, 0i64..3)
        .prop_flat_map(move |(zone, base, shift)| {
            let (tz, bases) = ZONES[zone];
            let base = date(bases[base % bases.len()]);
            let triggers = proptest::collection::vec(trigger(base), trigger_count);
            (
                Just(tz),
                Just(base + TimeDelta::days(shift)),
                triggers,
                proptest::bool::weighted(0.9),
            )
        })
        .prop_map(|(zone, window_date, triggers, task_enabled)| Case {
            zone,
            window_start: window_date.and_time(NaiveTime::MIN).and_utc(),
            task_enabled,
            triggers,
        })
}

/// The case as a task. A random expiry that is not after its start is dropped (the
/// validation tests cover that rule).
fn compile(case: &Case) -> (Schedule, Vec<TriggerDefinition>) {
    let mut triggers = case.triggers.clone();
    let text = |triggers: &[serde_json::Value]| {
        serde_json::json!({"id": "p", "command": "true", "timeZone": case.zone.name(),
                           "enabled": case.task_enabled, "triggers": triggers})
        .to_string()
    };
    let task = match parse_task(&text(&triggers)) {
        Ok(task) => task,
        Err(errors) => {
            for error in errors.errors() {
                let index: usize = error.path["triggers[".len()..]
                    .split(']')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                let fields = triggers[index].as_object_mut().unwrap();
                if error
                    .message
                    .starts_with("must differ from the trigger's time of day")
                {
                    // A random `until` at the random start's time of day.
                    let window = fields["repetition"].as_object_mut().unwrap();
                    window.remove("until");
                    let every = window["everyMinutes"].as_u64().unwrap_or(0);
                    window.insert("durationMinutes".into(), (every + 300).into());
                    continue;
                }
                assert!(error.message.starts_with("must be after start"), "{errors}");
                fields.remove("expires");
            }
            parse_task(&text(&triggers)).unwrap_or_else(|errors| panic!("{errors}"))
        }
    };
    (Schedule::new(&task), task.triggers)
}

// ---------------------------------------------------------------- the reference

fn local(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

/// The first minute whose wall clock reads `wall` or later.
fn reference_resolve(tz: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    let mut at = wall.and_utc() - TimeDelta::hours(15);
    while local(tz, at) < wall {
        at += TimeDelta::minutes(1);
    }
    at
}

fn reference_instant(tz: Tz, spec: &TimeSpec) -> DateTime<Utc> {
    match spec {
        TimeSpec::Local(wall) => reference_resolve(tz, *wall),
        TimeSpec::Fixed(fixed) => fixed.with_timezone(&Utc),
    }
}

fn wall_clock(tz: Tz, spec: &TimeSpec) -> NaiveDateTime {
    match spec {
        TimeSpec::Local(wall) => *wall,
        TimeSpec::Fixed(fixed) => local(tz, fixed.with_timezone(&Utc)),
    }
}

fn in_months(months: &[chrono::Month], day: NaiveDate) -> bool {
    months.is_empty() || months.iter().any(|m| m.number_from_month() == day.month())
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

/// Whether a calendar trigger names date `day` (start's date rules, plainly).
fn names_date(recurrence: &Recurrence, first: NaiveDate, day: NaiveDate) -> bool {
    match recurrence {
        Recurrence::Daily {
            interval_days,
            months,
            ..
        } => {
            (day - first)
                .num_days()
                .rem_euclid(i64::from(interval_days.get()))
                == 0
                && in_months(months, day)
        }
        Recurrence::Weekly {
            interval_weeks,
            weekdays,
            months,
            ..
        } => {
            let weeks = (monday(day) - monday(first)).num_days().div_euclid(7);
            let on_day = if weekdays.is_empty() {
                day.weekday() == first.weekday()
            } else {
                weekdays.contains(&day.weekday())
            };
            weeks.rem_euclid(i64::from(interval_weeks.get())) == 0
                && on_day
                && in_months(months, day)
        }
        Recurrence::Monthly {
            month_days,
            month_weekdays,
            months,
            ..
        } => {
            let last = day
                .succ_opt()
                .is_some_and(|next| next.month() != day.month());
            let in_last_week = day
                .checked_add_days(Days::new(7))
                .is_some_and(|week_later| week_later.month() != day.month());
            let named = if month_days.is_empty() && month_weekdays.is_empty() {
                day.day() == first.day()
            } else {
                month_days.iter().any(|named| match named {
                    MonthDay::Day(d) => u32::from(*d) == day.day(),
                    MonthDay::Last => last,
                }) || month_weekdays.iter().any(|named| match named.weekday {
                    DayKind::Named(weekday) => {
                        weekday == day.weekday()
                            && match named.week {
                                WeekOfMonth::Nth(n) => (day.day() - 1) / 7 + 1 == u32::from(n),
                                WeekOfMonth::Last => in_last_week,
                            }
                    }
                    kind => {
                        // The month's days of the kind, in order; `day` must be the n-th.
                        let weekend = |d: &NaiveDate| d.weekday().number_from_monday() > 5;
                        let wanted = kind == DayKind::WeekendDay;
                        let of_kind: Vec<NaiveDate> = day
                            .with_day(1)
                            .expect("first of month")
                            .iter_days()
                            .take_while(|d| d.month() == day.month())
                            .filter(|d| weekend(d) == wanted)
                            .collect();
                        match named.week {
                            WeekOfMonth::Nth(n) => of_kind.get(usize::from(n) - 1) == Some(&day),
                            WeekOfMonth::Last => of_kind.last() == Some(&day),
                        }
                    }
                })
            };
            named && in_months(months, day)
        }
        _ => unreachable!("not a calendar recurrence"),
    }
}

/// Every minute in (from, to] at which `trigger` fires, found by walking minute by minute.
fn reference(
    tz: Tz,
    task_enabled: bool,
    trigger: &TriggerDefinition,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    if !(task_enabled && trigger.enabled) {
        return vec![];
    }
    let expires = trigger
        .expires
        .as_ref()
        .map(|spec| reference_instant(tz, spec));
    let start = trigger
        .recurrence
        .start()
        .map(|spec| reference_instant(tz, spec));
    let first_wall = trigger.recurrence.start().map(|spec| wall_clock(tz, spec));
    let cron = match &trigger.recurrence {
        Recurrence::Cron { expression, .. } => Some(
            croner::Cron::new(expression.as_str())
                .parse()
                .expect("valid cron"),
        ),
        _ => None,
    };
    // Scheduled times, with the date a calendar occurrence is for (its window's date).
    let mut fired: Vec<(DateTime<Utc>, Option<NaiveDate>)> = vec![];
    // Warm up four days early: `reached` (the latest wall-clock time seen) must be right,
    // and windows (up to three days) and delays of earlier occurrences reach into the
    // window.
    let mut at = from - TimeDelta::days(4);
    let mut reached = local(tz, at - TimeDelta::minutes(1));
    while at <= to {
        let wall = local(tz, at);
        // The wall-clock minutes first reached at this instant: (reached, wall].
        let newly: Vec<NaiveDateTime> =
            std::iter::successors(Some(reached + TimeDelta::minutes(1)), |w| {
                Some(*w + TimeDelta::minutes(1))
            })
            .take_while(|w| *w <= wall)
            .collect();
        let mut named_date = None;
        let fires = start.is_none_or(|s| at >= s)
            && match &trigger.recurrence {
                Recurrence::Once { .. } => Some(at) == start,
                Recurrence::Minutely {
                    interval_minutes,
                    weekdays,
                    months,
                    ..
                } => {
                    let elapsed = (at - start.expect("start")).num_minutes();
                    elapsed % i64::from(interval_minutes.get()) == 0
                        && (weekdays.is_empty() || weekdays.contains(&wall.weekday()))
                        && in_months(months, wall.date())
                }
                Recurrence::Cron { .. } => newly.iter().any(|w| {
                    cron.as_ref()
                        .expect("cron")
                        .is_time_matching(&w.and_utc())
                        .expect("cron match")
                }),
                Recurrence::DriverStart { .. } => false,
                calendar => {
                    let first = first_wall.expect("start");
                    named_date = newly
                        .iter()
                        .find(|w| {
                            w.time() == first.time() && names_date(calendar, first.date(), w.date())
                        })
                        .map(|w| w.date());
                    named_date.is_some()
                }
            };
        if fires {
            fired.push((at, named_date));
        }
        reached = reached.max(wall);
        at += TimeDelta::minutes(1);
    }
    let mut times: Vec<DateTime<Utc>> = fired
        .into_iter()
        .flat_map(|(open, date)| {
            let Some(window) = trigger.repetition else {
                return vec![open];
            };
            let every = TimeDelta::minutes(i64::from(window.every_minutes.get()));
            let inside = |at: DateTime<Utc>| match window.end {
                RepetitionEnd::Duration(minutes) => {
                    at < open + TimeDelta::minutes(i64::from(minutes.get()))
                }
                RepetitionEnd::Until(until) => {
                    // An `until` before the time of day is on the next day.
                    let date = date.expect("a calendar date");
                    let start_time = first_wall.expect("start").time();
                    let day = if until < start_time {
                        date.succ_opt().expect("date")
                    } else {
                        date
                    };
                    at <= reference_resolve(tz, day.and_time(until))
                }
            };
            std::iter::successors(Some(open), |at| Some(*at + every))
                .take_while(|at| *at == open || inside(*at))
                .collect()
        })
        .filter(|at| expires.is_none_or(|e| *at < e))
        .map(|at| {
            at + TimeDelta::seconds(i64::from(random_delay(
                "p",
                at,
                trigger.random_delay_seconds,
            )))
        })
        .filter(|at| *at > from && *at <= to)
        .collect();
    times.sort();
    times.dedup();
    times
}

/// The instants in (from, to] at which the zone's offset changes (all on quarter hours).
fn transitions(tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let offset = |at: DateTime<Utc>| local(tz, at) - at.naive_utc();
    let quarter = TimeDelta::minutes(15);
    std::iter::successors(Some(from + quarter), |at| Some(*at + quarter))
        .take_while(|at| *at <= to)
        .filter(|at| offset(*at) != offset(*at - quarter))
        .collect()
}

// ---------------------------------------------------------------- the properties

fn walk<O: Occurrences>(
    occurrences: &O,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    std::iter::successors(occurrences.next_after(from), |at| {
        occurrences.next_after(*at)
    })
    .take_while(|at| *at <= to)
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// next_after and previous_at_or_before agree with the reference everywhere in the
    /// window: from every occurrence and from random instants (with odd seconds).
    #[test]
    fn a_trigger_fires_exactly_at_the_reference_minutes(case in case(1), probes in proptest::collection::vec(0i64..6 * 86_400_000, 8)) {
        let (schedule, definitions) = compile(&case);
        let trigger = &schedule.triggers()[0];
        let (from, to) = (case.window_start, case.window_start + WINDOW);
        let expected = reference(case.zone, case.task_enabled, &definitions[0], from, to);
        let found = walk(trigger, from, to);
        prop_assert_eq!(&found, &expected, "{:?}", definitions[0]);
        // Random instants, and instants around each offset change (where repeated hours
        // and gaps make next and previous interesting).
        let around_transitions = transitions(case.zone, from, to).into_iter().flat_map(|change| {
            [-61, -31, -1, 0, 1, 14, 29, 31, 44, 59, 61, 89, 119]
                .map(|minutes| change + TimeDelta::minutes(minutes) + TimeDelta::seconds(17))
        });
        let probes = probes.into_iter().map(|probe| from + TimeDelta::milliseconds(probe));
        for t in probes.chain(around_transitions).filter(|t| *t > from && *t <= to) {
            let next = trigger.next_after(t);
            match expected.iter().find(|at| **at > t) {
                Some(at) => prop_assert_eq!(next, Some(*at), "next after {}", t),
                None => prop_assert!(next.is_none_or(|next| next > to), "next after {} is {:?}", t, next),
            }
            let previous = trigger.previous_at_or_before(t);
            match expected.iter().rev().find(|at| **at <= t) {
                Some(at) => prop_assert_eq!(previous, Some(*at), "previous at or before {}", t),
                None => prop_assert!(previous.is_none_or(|p| p <= from), "previous of {} is {:?}", t, previous),
            }
        }
    }

    /// A task's merged predictions are strictly increasing, report coinciding instants
    /// once (with the lowest trigger index), and are the union of its triggers' minutes.
    #[test]
    fn a_schedule_merges_its_triggers(case in case(2)) {
        let (schedule, definitions) = compile(&case);
        let (from, to) = (case.window_start, case.window_start + WINDOW);
        let per_trigger: Vec<Vec<DateTime<Utc>>> = definitions
            .iter()
            .map(|definition| reference(case.zone, case.task_enabled, definition, from, to))
            .collect();
        let mut union: Vec<DateTime<Utc>> = per_trigger.concat();
        union.sort();
        union.dedup();
        let upcoming = schedule.upcoming(from, union.len() + 1);
        prop_assert!(upcoming.windows(2).all(|pair| pair[0].0 < pair[1].0));
        let in_window: Vec<(DateTime<Utc>, usize)> = upcoming
            .iter()
            .map(|(at, index)| (at.with_timezone(&Utc), *index))
            .filter(|(at, _)| *at <= to)
            .collect();
        prop_assert_eq!(in_window.iter().map(|(at, _)| *at).collect::<Vec<_>>(), union);
        for (at, index) in in_window {
            let lowest = per_trigger.iter().position(|fired| fired.contains(&at));
            prop_assert_eq!(Some(index), lowest);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// catchUp over a downtime spanning the window: `once` stands for the latest missed
    /// occurrence, `all` for the latest `limit` of them, in order, the one before them
    /// logged as skipped; the count is the reference's.
    #[test]
    fn catch_up_all_enqueues_the_latest_missed_occurrences(case in case(1), limit in 1u32..6) {
        use stagehand::schedule::{catch_up, CatchUpPolicy};
        let (schedule, definitions) = compile(&case);
        let trigger = &schedule.triggers()[0];
        let (from, to) = (case.window_start, case.window_start + WINDOW);
        let missed = reference(case.zone, case.task_enabled, &definitions[0], from, to);
        // Created just after `from`, down until `to`: the missed ones are (from, to].
        let created = from + TimeDelta::seconds(1);
        let all = catch_up(trigger, None, created, to, CatchUpPolicy::All { limit });
        let once = catch_up(trigger, None, created, to, CatchUpPolicy::Once);
        if missed.is_empty() {
            prop_assert!(all.missed.is_none());
            prop_assert!(once.missed.is_none());
        } else {
            let decided = all.missed.expect("missed");
            prop_assert_eq!(decided.count, missed.len() as u64);
            let keep = missed.len().min(limit as usize);
            prop_assert_eq!(&decided.each[..], &missed[missed.len() - keep..]);
            let skipped = (missed.len() > keep).then(|| missed[missed.len() - keep - 1]);
            prop_assert_eq!(decided.skipped_latest, skipped);
            prop_assert_eq!(once.late_run(), missed.last().copied());
        }
        prop_assert_eq!(all.next, trigger.next_after(to));
    }
}
