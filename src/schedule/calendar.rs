//! Which dates a calendar rule allows (daily, weekly, monthly, and the weekday/month filter
//! of a minutely trigger), searched forwards and backwards by arithmetic, never day by day.

use chrono::{Datelike, Days, Month, NaiveDate, Weekday};

/// Searches give up past this year: predictions stop at the end of year 9999.
pub(crate) const LAST_YEAR: i32 = 9999;

/// A set of months; every month when built from an empty list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Months(u16);

impl Months {
    pub(crate) fn new(months: &[Month]) -> Months {
        if months.is_empty() {
            return Months(0b1_1111_1111_1110);
        }
        Months(
            months
                .iter()
                .fold(0, |set, m| set | 1 << m.number_from_month()),
        )
    }

    fn contains(self, month: u32) -> bool {
        self.0 & 1 << month != 0
    }
}

/// A set of weekdays; `default` when built from an empty list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Weekdays(u8);

impl Weekdays {
    pub(crate) fn new(days: &[Weekday], default: &[Weekday]) -> Weekdays {
        let days = if days.is_empty() { default } else { days };
        Weekdays(
            days.iter()
                .fold(0, |set, d| set | 1 << d.num_days_from_monday()),
        )
    }

    pub(crate) const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// Days from `day` to the first weekday of the set on or after it, within its week.
    fn days_to_next(self, day: Weekday) -> Option<u64> {
        let from = day.num_days_from_monday();
        (from..7)
            .find(|d| self.0 & 1 << d != 0)
            .map(|d| u64::from(d - from))
    }

    /// Days back from `day` to the last weekday of the set on or before it, within its week.
    fn days_to_previous(self, day: Weekday) -> Option<u64> {
        let from = day.num_days_from_monday();
        (0..=from)
            .rev()
            .find(|d| self.0 & 1 << d != 0)
            .map(|d| u64::from(from - d))
    }
}

/// Days of the month: bit d for day d, plus the month's last day, plus weekdays of the
/// month: bit `week * 7 + weekday` (week 0..=3 for the first to fourth, 4 for the last;
/// weekday from Monday), plus the n-th weekday (Monday to Friday) or weekend day of the
/// month: bit `kind * 5 + week` of `kinds` (kind 0 weekday, 1 weekend day; week as above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MonthDays {
    pub(crate) days: u32,
    pub(crate) last: bool,
    pub(crate) weekdays: u64,
    pub(crate) kinds: u16,
}

impl MonthDays {
    /// Whether `day` of the month `date` is in (which has `days_in_month` days) matches.
    fn matches(self, date: NaiveDate, day: u32, days_in_month: u32) -> bool {
        if self.days & 1 << day != 0 || (self.last && day == days_in_month) {
            return true;
        }
        if self.weekdays == 0 && self.kinds == 0 {
            return false;
        }
        // The weekday (from Monday) of any day of the month: `date`'s weekday shifted by
        // the distance between them.
        let weekday_of = |d: u32| {
            let shift = (i64::from(d) - i64::from(date.day())).rem_euclid(7) as u32;
            (date.weekday().num_days_from_monday() + shift) % 7
        };
        let weekday = weekday_of(day);
        let nth = (day - 1) / 7;
        let bit = |week: u32| self.weekdays & 1 << (week * 7 + weekday) != 0;
        if (nth < 4 && bit(nth)) || (day + 7 > days_in_month && bit(4)) {
            return true;
        }
        if self.kinds == 0 {
            return false;
        }
        // The rank of `day` among the days of its kind, and whether one comes after it.
        let kind = u32::from(weekday >= 5);
        let same_kind = |d: &u32| u32::from(weekday_of(*d) >= 5) == kind;
        let rank = (1..day).filter(same_kind).count() as u32;
        let last = !(day + 1..=days_in_month).any(|d| same_kind(&d));
        let bit = |week: u32| self.kinds & 1 << (kind * 5 + week) != 0;
        (rank < 4 && bit(rank)) || (last && bit(4))
    }
}

/// The dates, on or after `first`, that a rule allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DateRule {
    first: NaiveDate,
    cadence: Cadence,
    months: Months,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cadence {
    /// Every `every`-th date counted from `first`.
    Daily { every: u64 },
    /// The weekdays of every `every`-th week counted from the Monday of `first`'s week.
    Weekly { every: u64, weekdays: Weekdays },
    /// The days of every month.
    Monthly(MonthDays),
}

impl DateRule {
    pub(crate) fn new(first: NaiveDate, cadence: Cadence, months: Months) -> DateRule {
        DateRule {
            first,
            cadence,
            months,
        }
    }

    /// The first allowed date on or after `date`.
    pub(crate) fn next_on_or_after(&self, date: NaiveDate) -> Option<NaiveDate> {
        let mut date = date.max(self.first);
        loop {
            if date.year() > LAST_YEAR {
                return None;
            }
            if !self.months.contains(date.month()) {
                date = first_of_next_month(date)?;
                continue;
            }
            // The first date on or after `date` the cadence allows; the loop then checks
            // its month, so a candidate that crossed into a filtered-out month moves on.
            let candidate = match self.cadence {
                Cadence::Daily { every } => {
                    let rest = self.days_since_first(date) % every;
                    date.checked_add_days(Days::new((every - rest) % every))?
                }
                Cadence::Weekly { every, weekdays } => {
                    let week = self.days_since_first_monday(date) / 7;
                    let rest = week % every;
                    match weekdays.days_to_next(date.weekday()) {
                        Some(days) if rest == 0 => date.checked_add_days(Days::new(days))?,
                        _ => self
                            .first_monday()
                            .checked_add_days(Days::new((week - rest + every) * 7))?,
                    }
                }
                Cadence::Monthly(days) => {
                    let in_month = days_in_month(date);
                    match (date.day()..=in_month).find(|day| days.matches(date, *day, in_month)) {
                        Some(day) => date.with_day(day)?,
                        None => first_of_next_month(date)?,
                    }
                }
            };
            if candidate == date {
                return Some(date);
            }
            date = candidate;
        }
    }

    /// The last allowed date on or before `date`.
    pub(crate) fn previous_on_or_before(&self, mut date: NaiveDate) -> Option<NaiveDate> {
        loop {
            if date < self.first {
                return None;
            }
            if !self.months.contains(date.month()) {
                date = date.with_day(1)?.pred_opt()?;
                continue;
            }
            // The last date on or before `date` the cadence allows (mirror of the above).
            let candidate = match self.cadence {
                Cadence::Daily { every } => {
                    let rest = self.days_since_first(date) % every;
                    date.checked_sub_days(Days::new(rest))?
                }
                Cadence::Weekly { every, weekdays } => {
                    let week = self.days_since_first_monday(date) / 7;
                    let rest = week % every;
                    match weekdays.days_to_previous(date.weekday()) {
                        Some(days) if rest == 0 => date.checked_sub_days(Days::new(days))?,
                        _ => {
                            // The Sunday of the last allowed week before this one.
                            let week =
                                (week - rest).checked_sub(if rest == 0 { every } else { 0 })?;
                            self.first_monday()
                                .checked_add_days(Days::new(week * 7 + 6))?
                        }
                    }
                }
                Cadence::Monthly(days) => {
                    let in_month = days_in_month(date);
                    match (1..=date.day())
                        .rev()
                        .find(|day| days.matches(date, *day, in_month))
                    {
                        Some(day) => date.with_day(day)?,
                        None => date.with_day(1)?.pred_opt()?,
                    }
                }
            };
            if candidate == date {
                return Some(date);
            }
            date = candidate;
        }
    }

    /// Whether `date` is allowed (for tests and assertions: the searches are the API).
    #[cfg(test)]
    fn allows(&self, date: NaiveDate) -> bool {
        self.next_on_or_after(date) == Some(date)
    }

    fn first_monday(&self) -> NaiveDate {
        monday_of(self.first)
    }

    fn days_since_first(&self, date: NaiveDate) -> u64 {
        (date - self.first).num_days().unsigned_abs()
    }

    fn days_since_first_monday(&self, date: NaiveDate) -> u64 {
        (date - self.first_monday()).num_days().unsigned_abs()
    }
}

/// The Monday of `date`'s week.
fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    date.with_day(1)?.checked_add_months(chrono::Months::new(1))
}

fn days_in_month(date: NaiveDate) -> u32 {
    first_of_next_month(date)
        .and_then(|next| next.pred_opt())
        .map_or(31, |last| last.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Checks both searches against `allows` day by day over two years.
    fn check(rule: &DateRule) {
        let from = date(2023, 12, 1);
        let allowed: Vec<NaiveDate> = from
            .iter_days()
            .take(3000)
            .filter(|day| {
                let naive = day_rule_allows(rule, *day);
                assert_eq!(naive, rule.allows(*day), "{rule:?} on {day}");
                naive
            })
            .collect();
        for day in from.iter_days().take(760) {
            let next = allowed.iter().find(|a| **a >= day).copied();
            assert_eq!(rule.next_on_or_after(day), next, "{rule:?} next from {day}");
            let previous = allowed.iter().rev().find(|a| **a <= day).copied();
            assert_eq!(
                rule.previous_on_or_before(day),
                previous,
                "{rule:?} previous from {day}"
            );
        }
    }

    /// The rule written out plainly, date by date.
    fn day_rule_allows(rule: &DateRule, day: NaiveDate) -> bool {
        day >= rule.first
            && rule.months.contains(day.month())
            && match rule.cadence {
                Cadence::Daily { every } => (day - rule.first).num_days() as u64 % every == 0,
                Cadence::Weekly { every, weekdays } => {
                    let week = (monday_of(day) - monday_of(rule.first)).num_days() as u64 / 7;
                    week % every == 0 && weekdays.0 & 1 << day.weekday().num_days_from_monday() != 0
                }
                Cadence::Monthly(days) => {
                    let (d, in_month) = (day.day(), days_in_month(day));
                    let weekday = day.weekday().num_days_from_monday();
                    let named = |week: u32| days.weekdays & 1 << (week * 7 + weekday) != 0;
                    // The n-th weekday or weekend day, counted plainly.
                    let kind = u32::from(weekday >= 5);
                    let of_kind = |other: NaiveDate| {
                        u32::from(other.weekday().num_days_from_monday() >= 5) == kind
                    };
                    let month: Vec<NaiveDate> = day
                        .with_day(1)
                        .unwrap()
                        .iter_days()
                        .take_while(|other| other.month() == day.month())
                        .filter(|other| of_kind(*other))
                        .collect();
                    let rank = month.iter().position(|other| *other == day).unwrap() as u32;
                    let counted = |week: u32| days.kinds & 1 << (kind * 5 + week) != 0;
                    days.days & 1 << d != 0
                        || (days.last && d == in_month)
                        || (rank < 4 && counted(rank))
                        || (month.last() == Some(&day) && counted(4))
                        || (d <= 7 && named(0))
                        || ((8..=14).contains(&d) && named(1))
                        || ((15..=21).contains(&d) && named(2))
                        || ((22..=28).contains(&d) && named(3))
                        || (d > in_month - 7 && named(4))
                }
            }
    }

    #[test]
    fn searches_agree_with_the_plain_rule() {
        let first = date(2024, 1, 17);
        let summer = Months::new(&[Month::June, Month::July, Month::December]);
        let all = Months::new(&[]);
        let weekdays = Weekdays::new(&[Weekday::Mon, Weekday::Fri], &[]);
        let cadences = [
            Cadence::Daily { every: 1 },
            Cadence::Daily { every: 3 },
            Cadence::Daily { every: 45 },
            Cadence::Weekly { every: 1, weekdays },
            Cadence::Weekly { every: 3, weekdays },
            Cadence::Monthly(MonthDays {
                days: 1 << 31 | 1 << 3 | 1 << 29,
                last: false,
                weekdays: 0,
                kinds: 0,
            }),
            Cadence::Monthly(MonthDays {
                days: 1 << 30,
                last: true,
                weekdays: 0,
                kinds: 0,
            }),
            // The first Monday, the third Wednesday, the last Friday and Sunday.
            Cadence::Monthly(MonthDays {
                days: 0,
                last: false,
                weekdays: 1 | 1 << (2 * 7 + 2) | 1 << (4 * 7 + 4) | 1 << (4 * 7 + 6),
                kinds: 0,
            }),
            // The fourth and the last Saturday (the same date in a 28-day February).
            Cadence::Monthly(MonthDays {
                days: 1 << 10,
                last: false,
                weekdays: 1 << (3 * 7 + 5) | 1 << (4 * 7 + 5),
                kinds: 0,
            }),
            // The first and last weekday, the second weekend day.
            Cadence::Monthly(MonthDays {
                days: 0,
                last: false,
                weekdays: 0,
                kinds: 1 | 1 << 4 | 1 << (5 + 1),
            }),
            // The fourth weekday and weekend day, the last weekend day, and the 15th.
            Cadence::Monthly(MonthDays {
                days: 1 << 15,
                last: false,
                weekdays: 1 << 3,
                kinds: 1 << 3 | 1 << (5 + 3) | 1 << (5 + 4),
            }),
        ];
        for cadence in cadences {
            for months in [all, summer] {
                check(&DateRule::new(first, cadence.clone(), months));
            }
        }
    }
}
