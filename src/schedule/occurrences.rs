//! The one question every trigger and schedule answers: when does it fire around `t`?

use chrono::{DateTime, TimeDelta, Utc};

/// A set of firing instants (a trigger's or a whole task's), queried by arithmetic.
///
/// Occurrences fall on whole seconds. Implementations are pure and cheap: no stepping
/// through minutes, so a year of predictions takes microseconds to milliseconds.
pub trait Occurrences {
    /// The first occurrence strictly after `t`; `None` when there is none (expired,
    /// disabled, a past `once`, or beyond year 9999).
    fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>>;

    /// The last occurrence at or before `t`; `None` when there is none.
    fn previous_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>>;

    /// The first occurrence at or after `t`.
    fn next_at_or_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Occurrences are whole seconds, so none lies strictly between t - 1ns and t.
        self.next_after(t.checked_sub_signed(TimeDelta::nanoseconds(1))?)
    }
}
