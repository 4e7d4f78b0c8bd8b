//! The catch-up decision: occurrences missed while no driver ran are either enqueued as
//! ONE late run (runIfMissed) or skipped; a task never fires for occurrences before it
//! was added; the clock then waits for the next occurrence.

use chrono::{DateTime, Utc};
use stagehand::schedule::{
    catch_up, parse_task, CatchUp, CatchUpPolicy, Missed, MissedAction, Occurrences, Schedule,
    MISSED_COUNT_LIMIT,
};

fn schedule(triggers: &str) -> Schedule {
    let text =
        format!(r#"{{"id": "c", "command": "true", "timeZone": "UTC", "triggers": [{triggers}]}}"#);
    Schedule::new(&parse_task(&text).unwrap_or_else(|error| panic!("{error}")))
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test instant")
        .with_timezone(&Utc)
}

const DAILY_15: &str = r#"{"recurrence": "daily", "start": "2025-01-01T15:00:00"}"#;
const LONG_AGO: &str = "2024-01-01T00:00:00Z";

#[test]
fn downtime_over_several_occurrences_with_run_if_missed_enqueues_one_late_run() {
    let daily = schedule(DAILY_15);
    let decision = catch_up(
        &daily,
        Some(at("2025-03-01T15:00:00Z")),
        at(LONG_AGO),
        at("2025-03-04T16:00:00Z"),
        CatchUpPolicy::Once,
    );
    assert_eq!(
        decision,
        CatchUp {
            missed: Some(Missed {
                count: 3,
                earliest: at("2025-03-02T15:00:00Z"),
                latest: at("2025-03-04T15:00:00Z"),
                action: MissedAction::EnqueueLate,
                each: vec![],
                skipped_latest: None,
            }),
            next: Some(at("2025-03-05T15:00:00Z")),
        }
    );
    assert_eq!(decision.late_run(), Some(at("2025-03-04T15:00:00Z")));
}

#[test]
fn downtime_without_run_if_missed_skips_and_waits_for_the_next() {
    let daily = schedule(DAILY_15);
    let decision = catch_up(
        &daily,
        Some(at("2025-03-01T15:00:00Z")),
        at(LONG_AGO),
        at("2025-03-04T16:00:00Z"),
        CatchUpPolicy::None,
    );
    let missed = decision.missed.as_ref().expect("missed");
    assert_eq!((missed.count, missed.action), (3, MissedAction::Skip));
    assert_eq!(decision.late_run(), None);
    assert_eq!(decision.next, Some(at("2025-03-05T15:00:00Z")));
}

#[test]
fn nothing_missed_when_the_last_occurrence_was_fired() {
    let daily = schedule(DAILY_15);
    let decision = catch_up(
        &daily,
        Some(at("2025-03-04T15:00:00Z")),
        at(LONG_AGO),
        at("2025-03-04T16:00:00Z"),
        CatchUpPolicy::Once,
    );
    assert_eq!(
        decision,
        CatchUp {
            missed: None,
            next: Some(at("2025-03-05T15:00:00Z"))
        }
    );
}

#[test]
fn a_task_added_today_never_fires_for_earlier_occurrences() {
    let daily = schedule(DAILY_15);
    // Added after today's 15:00: nothing missed, even with runIfMissed.
    let added_late = catch_up(
        &daily,
        None,
        at("2025-03-04T15:30:00Z"),
        at("2025-03-04T16:00:00Z"),
        CatchUpPolicy::Once,
    );
    assert_eq!(added_late.missed, None);
    assert_eq!(added_late.next, Some(at("2025-03-05T15:00:00Z")));
    // Added yesterday at noon, never fired: yesterday's and today's occurrences count.
    let added_yesterday = catch_up(
        &daily,
        None,
        at("2025-03-03T12:00:00Z"),
        at("2025-03-04T16:00:00Z"),
        CatchUpPolicy::Once,
    );
    let missed = added_yesterday.missed.expect("missed");
    assert_eq!(
        (missed.count, missed.earliest),
        (2, at("2025-03-03T15:00:00Z"))
    );
    // A trigger re-created after it last fired counts from its creation.
    let recreated = catch_up(
        &daily,
        Some(at("2025-01-10T15:00:00Z")),
        at("2025-03-04T14:00:00Z"),
        at("2025-03-04T16:00:00Z"),
        CatchUpPolicy::None,
    );
    assert_eq!(
        recreated.missed.map(|m| (m.count, m.earliest)),
        Some((1, at("2025-03-04T15:00:00Z")))
    );
}

#[test]
fn an_occurrence_exactly_at_now_has_passed() {
    let daily = schedule(DAILY_15);
    let decision = catch_up(
        &daily,
        Some(at("2025-03-03T15:00:00Z")),
        at(LONG_AGO),
        at("2025-03-04T15:00:00Z"),
        CatchUpPolicy::Once,
    );
    assert_eq!(decision.late_run(), Some(at("2025-03-04T15:00:00Z")));
    assert_eq!(decision.next, Some(at("2025-03-05T15:00:00Z")));
}

#[test]
fn a_future_last_fired_is_not_fired_again() {
    // Another driver's clock ran ahead and already enqueued 15:00.
    let daily = schedule(DAILY_15);
    let decision = catch_up(
        &daily,
        Some(at("2025-03-04T15:00:00Z")),
        at(LONG_AGO),
        at("2025-03-04T14:59:59Z"),
        CatchUpPolicy::Once,
    );
    assert_eq!(decision.missed, None);
    assert_eq!(decision.next, Some(at("2025-03-05T15:00:00Z")));
}

#[test]
fn a_passed_once_trigger_is_missed_once_and_then_done() {
    let once = schedule(r#"{"recurrence": "once", "start": "2025-03-04T09:00:00"}"#);
    let decision = catch_up(
        &once,
        None,
        at(LONG_AGO),
        at("2025-03-05T00:00:00Z"),
        CatchUpPolicy::Once,
    );
    assert_eq!(decision.late_run(), Some(at("2025-03-04T09:00:00Z")));
    assert_eq!(decision.next, None);
    let after_the_late_run = catch_up(
        &once,
        decision.late_run(),
        at(LONG_AGO),
        at("2025-03-06T00:00:00Z"),
        CatchUpPolicy::Once,
    );
    assert_eq!(
        after_the_late_run,
        CatchUp {
            missed: None,
            next: None
        }
    );
}

#[test]
fn a_long_outage_of_a_frequent_trigger_is_counted_up_to_the_limit() {
    let every_minute = schedule(
        r#"{"recurrence": "minutely", "start": "2025-01-01T00:00:00", "intervalMinutes": 1}"#,
    );
    let started = std::time::Instant::now();
    let decision = catch_up(
        &every_minute,
        Some(at("2025-01-01T00:00:00Z")),
        at(LONG_AGO),
        at("2025-02-01T00:00:30Z"),
        CatchUpPolicy::Once,
    );
    eprintln!(
        "counting {MISSED_COUNT_LIMIT} missed occurrences took {:?}",
        started.elapsed()
    );
    let missed = decision.missed.expect("missed");
    assert_eq!(missed.count, MISSED_COUNT_LIMIT);
    assert_eq!(missed.earliest, at("2025-01-01T00:01:00Z"));
    assert_eq!(missed.latest, at("2025-02-01T00:00:00Z"));
    assert_eq!(decision.next, Some(at("2025-02-01T00:01:00Z")));
}

#[test]
fn expiry_and_disabling_are_honoured() {
    let expiring = schedule(
        r#"{"recurrence": "daily", "start": "2025-03-01T15:00:00", "expires": "2025-03-03T00:00:00"}"#,
    );
    let decision = catch_up(
        &expiring,
        None,
        at(LONG_AGO),
        at("2025-03-10T00:00:00Z"),
        CatchUpPolicy::None,
    );
    let missed = decision.missed.expect("missed");
    assert_eq!(
        (missed.count, missed.latest),
        (2, at("2025-03-02T15:00:00Z"))
    );
    assert_eq!(decision.next, None);

    let disabled =
        schedule(r#"{"recurrence": "daily", "start": "2025-03-01T15:00:00", "enabled": false}"#);
    assert_eq!(
        catch_up(
            &disabled,
            None,
            at(LONG_AGO),
            at("2025-03-10T00:00:00Z"),
            CatchUpPolicy::Once
        ),
        CatchUp {
            missed: None,
            next: None
        }
    );
}

#[test]
fn a_whole_schedule_counts_coinciding_triggers_once_and_per_trigger_decisions_work() {
    let two = schedule(
        r#"{"recurrence": "daily", "start": "2025-03-01T12:00:00"},
           {"recurrence": "minutely", "start": "2025-03-01T00:00:00", "intervalMinutes": 360}"#,
    );
    // 00:00, 06:00, 12:00 (both triggers), 18:00 on March 2nd, then 00:00 on the 3rd.
    let merged = catch_up(
        &two,
        Some(at("2025-03-01T18:00:00Z")),
        at(LONG_AGO),
        at("2025-03-03T01:00:00Z"),
        CatchUpPolicy::Once,
    );
    let missed = merged.missed.expect("missed");
    assert_eq!(
        (missed.count, missed.latest),
        (5, at("2025-03-03T00:00:00Z"))
    );
    assert_eq!(merged.next, Some(at("2025-03-03T06:00:00Z")));

    let daily = &two.triggers()[0];
    let alone = catch_up(
        daily,
        Some(at("2025-03-01T12:00:00Z")),
        at(LONG_AGO),
        at("2025-03-03T01:00:00Z"),
        CatchUpPolicy::Once,
    );
    assert_eq!(alone.missed.map(|m| m.count), Some(1));
    assert_eq!(alone.next, daily.next_after(at("2025-03-03T01:00:00Z")));
}
