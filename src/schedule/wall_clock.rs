//! Wall-clock time in a zone to instants, with the daylight-saving rules of the contract:
//! a local time inside a gap (spring forward) means the end of the gap; a local time
//! inside a repeated hour (fall back) means its first occurrence.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The instant a wall-clock time `local` in `tz` stands for.
///
/// - A time that exists once is that instant.
/// - A time inside a repeated hour is its first occurrence (the earlier instant).
/// - A time inside a gap is the end of the gap: the first instant after the jump
///   (02:30 on a spring-forward day in New York is 03:00 EDT).
///
/// The function is monotonic: a later wall-clock time never maps to an earlier instant,
/// which is what lets the trigger code search wall-clock candidates in order.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        LocalResult::None => end_of_gap(tz, local),
    }
}

/// The wall-clock time of `at` in `tz`.
pub fn local_time(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&tz).naive_local()
}

/// A wall-clock time no earlier than any that [`resolve`] maps to `at` or earlier.
///
/// Usually `at`'s own wall-clock time; later when `at` lies in the second pass of a
/// repeated hour, whose wall-clock times still resolve to the first pass.
pub fn local_upper_bound(tz: Tz, at: DateTime<Utc>) -> NaiveDateTime {
    let local = local_time(tz, at);
    // A fold that `at` may be inside began less than a day before it (real zones never
    // change offset twice within a day), so the offset a day earlier is the pre-fold one.
    let offset_now = local - at.naive_utc();
    let offset_before = at
        .checked_sub_signed(Duration::days(1))
        .map(|earlier| local_time(tz, earlier) - earlier.naive_utc())
        .unwrap_or(offset_now);
    if offset_before > offset_now {
        local + (offset_before - offset_now)
    } else {
        local
    }
}

/// The first instant whose wall-clock time is after `local`, for a `local` inside a gap.
fn end_of_gap(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // Binary search over whole seconds: before the transition the wall clock reads
    // earlier than `local`, from the transition on it reads later. Offsets are under a
    // day, so the transition lies within two days of `local` read as UTC, and no real
    // zone folds back within that window, which keeps the predicate monotonic.
    let centre = local.and_utc().timestamp();
    let (mut before, mut after) = (centre - 2 * 86_400, centre + 2 * 86_400);
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        match DateTime::from_timestamp(middle, 0) {
            Some(at) if local_time(tz, at) > local => after = middle,
            _ => before = middle,
        }
    }
    DateTime::from_timestamp(after, 0).unwrap_or_else(|| local.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use chrono_tz::America::New_York;
    use chrono_tz::Australia::Lord_Howe;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn gap_resolves_to_its_end() {
        assert_eq!(
            resolve(New_York, local(2024, 3, 10, 2, 30)),
            at("2024-03-10T03:00:00-04:00")
        );
        assert_eq!(
            resolve(New_York, local(2024, 3, 10, 2, 0)),
            at("2024-03-10T03:00:00-04:00")
        );
        assert_eq!(
            resolve(New_York, local(2024, 3, 10, 3, 0)),
            at("2024-03-10T03:00:00-04:00")
        );
        // Lord Howe springs forward by 30 minutes, 02:00 -> 02:30.
        assert_eq!(
            resolve(Lord_Howe, local(2024, 10, 6, 2, 10)),
            at("2024-10-06T02:30:00+11:00")
        );
    }

    #[test]
    fn fold_resolves_to_the_first_pass() {
        assert_eq!(
            resolve(New_York, local(2024, 11, 3, 1, 30)),
            at("2024-11-03T01:30:00-04:00")
        );
        assert_eq!(
            resolve(New_York, local(2024, 11, 3, 2, 0)),
            at("2024-11-03T02:00:00-05:00")
        );
    }

    #[test]
    fn upper_bound_covers_the_second_pass() {
        let second_pass = at("2024-11-03T01:20:00-05:00");
        assert_eq!(
            local_upper_bound(New_York, second_pass),
            local(2024, 11, 3, 2, 20)
        );
        let ordinary = at("2024-07-01T12:00:00-04:00");
        assert_eq!(
            local_upper_bound(New_York, ordinary),
            local(2024, 7, 1, 12, 0)
        );
    }
}
