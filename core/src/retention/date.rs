//! Civil dates (proleptic Gregorian), retention periods and the
//! Europe/Berlin conversions the engine needs. Integer arithmetic only; the
//! calendar itself (day counts, month lengths, RFC 3339) is [`crate::time`].
//!
//! * A [`Date`] is a day count since 1970-01-01, limited to the years
//!   1900..=9999 on input (results of arithmetic may go up to the year 10200).
//! * [`Date::add_period`] adds years and months by the calendar (the same
//!   day number N months later) and then days. When that day does not exist
//!   (29 February in a common year, 31 April), the result is the **first day
//!   of the following month**: the period has then ended with the last day of
//!   the shorter month (§ 188 (3) BGB), so the record becomes erasable on the
//!   next day, never earlier than the full period.
//! * Europe/Berlin is UTC+1 (CET) in winter and UTC+2 (CEST) from the last
//!   Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC (EU
//!   rule since 1996, Directive 2000/84/EC). The end of a calendar year,
//!   31 December 24:00, is always CET: 31 December 23:00 UTC. No time-zone
//!   database is needed.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::{civil_from_days, days_from_civil, days_in_month};

/// Unix seconds as RFC 3339 in UTC, e.g. `2026-01-31T12:00:00Z` (the
/// retention name of [`crate::time::format_rfc3339`]).
pub use crate::time::format_rfc3339 as format_unix;

/// Earliest year accepted on input.
pub const MIN_YEAR: i32 = 1900;
/// Latest year accepted on input.
pub const MAX_YEAR: i32 = 9999;

/// Why a date or time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// Not of the form `YYYY-MM-DD`.
    #[error("not a date: write it as YYYY-MM-DD, e.g. 2026-01-31")]
    Syntax,
    /// The month or day does not exist.
    #[error("no such day in the calendar (month 1 to 12, day within the month)")]
    NoSuchDay,
    /// The year is outside 1900..=9999.
    #[error("year out of range: use a year from 1900 to 9999")]
    OutOfRange,
}

/// A calendar day (proleptic Gregorian), stored as the number of days since
/// 1970-01-01. Ordering is chronological.
///
/// ```
/// use caduceus_core::retention::{Date, Period};
/// let leap: Date = "2016-02-29".parse().unwrap();
/// // One year after 29 February is 1 March of the next (common) year.
/// assert_eq!(leap.add_period(Period::years(1)).to_string(), "2017-03-01");
/// // Ten years from the end of 2016 (31 Dec 2016 24:00, Europe/Berlin).
/// let ended: Date = "2016-06-30".parse().unwrap();
/// assert_eq!(ended.end_of_year().add_period(Period::years(10)).to_string(), "2027-01-01");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// Clamp a day count into the `i32` range (never reached for valid input).
fn clamp_days(z: i64) -> i32 {
    i32::try_from(z).unwrap_or(if z < 0 { i32::MIN } else { i32::MAX })
}

impl Date {
    /// The date `y-m-d`; the year must be within 1900..=9999.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Result<Self, DateError> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
            return Err(DateError::OutOfRange);
        }
        let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
            return Err(DateError::NoSuchDay);
        }
        Ok(Self(clamp_days(days_from_civil(y, m, d))))
    }

    /// The date with the given day count since 1970-01-01 (no range check;
    /// used for results of arithmetic and for compact storage).
    pub const fn from_days(days: i32) -> Self {
        Self(days)
    }

    /// Days since 1970-01-01.
    pub const fn days(self) -> i32 {
        self.0
    }

    /// Year, month (1..=12) and day (1..=31).
    pub fn ymd(self) -> (i32, u32, u32) {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        (
            i32::try_from(y).unwrap_or(i32::MAX),
            u32::try_from(m).unwrap_or(1),
            u32::try_from(d).unwrap_or(1),
        )
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.ymd().0
    }

    /// The day after.
    pub fn next_day(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// `n` days later.
    pub fn add_days(self, n: i32) -> Self {
        Self(self.0.saturating_add(n))
    }

    /// 1 January of the following year: the instant "end of this calendar
    /// year" (31 December 24:00 Europe/Berlin = 31 December 23:00 UTC) as the
    /// day it opens.
    pub fn end_of_year(self) -> Self {
        let (y, _, _) = civil_from_days(i64::from(self.0));
        Self(clamp_days(days_from_civil(y + 1, 1, 1)))
    }

    /// Add years and months by the calendar, then days (see the module
    /// documentation for a day that does not exist in the target month).
    pub fn add_period(self, p: Period) -> Self {
        self.add_months_days(p.total_months(), u32::from(p.days))
    }

    /// Add `months` calendar months, then `days` days. A day that does not
    /// exist in the target month rolls to the first day of the next month.
    pub(crate) fn add_months_days(self, months: u32, days: u32) -> Self {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        let m0 = (m - 1) + i64::from(months);
        let (ny, nm) = (y + m0.div_euclid(12), m0.rem_euclid(12) + 1);
        let base = if d > days_in_month(ny, nm) {
            // § 188 (3) BGB: the period ended with the month's last day.
            days_from_civil(ny, nm, days_in_month(ny, nm)) + 1
        } else {
            days_from_civil(ny, nm, d)
        };
        Self(clamp_days(base + i64::from(days)))
    }

    /// Add calendar months; a missing day is **clamped** to the last day of
    /// the target month (how § 188 (3) BGB ends a period counted from an
    /// event, used for answer deadlines).
    pub fn add_months_clamped(self, months: u32) -> Self {
        let (y, m, d) = civil_from_days(i64::from(self.0));
        let m0 = (m - 1) + i64::from(months);
        let (ny, nm) = (y + m0.div_euclid(12), m0.rem_euclid(12) + 1);
        Self(clamp_days(days_from_civil(
            ny,
            nm,
            d.min(days_in_month(ny, nm)),
        )))
    }

    /// The Europe/Berlin calendar day of an instant in Unix seconds.
    ///
    /// ```
    /// use caduceus_core::retention::Date;
    /// // 2016-12-31T23:00:00Z is already 1 January 2017 in Berlin (CET, UTC+1).
    /// assert_eq!(Date::from_unix_berlin(1_483_225_200).to_string(), "2017-01-01");
    /// ```
    pub fn from_unix_berlin(secs: i64) -> Self {
        let offset = berlin_offset_at(secs);
        Self(clamp_days(secs.saturating_add(offset).div_euclid(86_400)))
    }

    /// The Unix second at which this day starts in Europe/Berlin (00:00
    /// local time). Midnight is never inside a clock change (those happen
    /// at 02:00/03:00 local time), so it is always well defined.
    pub fn berlin_start_unix(self) -> i64 {
        let local_midnight = i64::from(self.0) * 86_400;
        let (y, _, _) = civil_from_days(i64::from(self.0));
        let (start, end) = dst_days(y);
        // At local midnight of the last Sunday of March it is still CET;
        // at local midnight of the last Sunday of October still CEST.
        let dst = i64::from(self.0) > start && i64::from(self.0) <= end;
        local_midnight - if dst { 7200 } else { 3600 }
    }
}

/// Day counts of the last Sunday of March and of October of year `y`.
fn dst_days(y: i64) -> (i64, i64) {
    let last_sunday = |m: i64| {
        let last = days_from_civil(y, m, 31);
        // 1970-01-01 was a Thursday: weekday 0 = Sunday -> (days + 4) mod 7.
        last - (last + 4).rem_euclid(7)
    };
    (last_sunday(3), last_sunday(10))
}

/// UTC offset of Europe/Berlin, in seconds, at the instant `secs`.
pub fn berlin_offset_at(secs: i64) -> i64 {
    let (y, _, _) = civil_from_days(secs.div_euclid(86_400));
    let (start, end) = dst_days(y);
    // Clock changes at 01:00 UTC on both Sundays.
    let (from, to) = (start * 86_400 + 3600, end * 86_400 + 3600);
    if secs >= from && secs < to {
        7200
    } else {
        3600
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Date {
    /// German form `TT.MM.JJJJ`, for texts to patients.
    pub fn to_german(self) -> String {
        let (y, m, d) = self.ymd();
        format!("{d:02}.{m:02}.{y:04}")
    }
}

impl FromStr for Date {
    type Err = DateError;

    /// Parse `YYYY-MM-DD` (exactly 10 characters).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return Err(DateError::Syntax);
        }
        let num = |r: core::ops::Range<usize>| -> Result<u32, DateError> {
            let part = s.get(r).ok_or(DateError::Syntax)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(DateError::Syntax);
            }
            part.parse().map_err(|_| DateError::Syntax)
        };
        let y = i32::try_from(num(0..4)?).map_err(|_| DateError::Syntax)?;
        Self::from_ymd(y, num(5..7)?, num(8..10)?)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A retention period: years, months and days (each 0..=65535; a policy
/// limits the total to 150 years).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Period {
    /// Calendar years.
    pub years: u16,
    /// Calendar months.
    pub months: u16,
    /// Days.
    pub days: u16,
}

impl Period {
    /// `n` years.
    pub const fn years(n: u16) -> Self {
        Self {
            years: n,
            months: 0,
            days: 0,
        }
    }

    /// Years and months together, in months.
    pub fn total_months(self) -> u32 {
        u32::from(self.years) * 12 + u32::from(self.months)
    }

    /// True if all parts are zero.
    pub fn is_zero(self) -> bool {
        self.years == 0 && self.months == 0 && self.days == 0
    }

    /// The shortest length of the period in days (365-day years, 28-day
    /// months), for comparing periods without an anchor.
    pub fn min_days(self) -> u32 {
        u32::from(self.years) * 365 + u32::from(self.months) * 28 + u32::from(self.days)
    }

    /// English words, e.g. `10 years`, `2 years 6 months`, `30 days`.
    pub fn to_english(self) -> String {
        words(self, ["year", "years", "month", "months", "day", "days"])
    }

    /// German words, e.g. `10 Jahre`, `30 Tage`.
    pub fn to_german(self) -> String {
        words(self, ["Jahr", "Jahre", "Monat", "Monate", "Tag", "Tage"])
    }
}

fn words(p: Period, w: [&str; 6]) -> String {
    let mut parts = Vec::new();
    for (n, one, many) in [
        (p.years, w[0], w[1]),
        (p.months, w[2], w[3]),
        (p.days, w[4], w[5]),
    ] {
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    if parts.is_empty() {
        parts.push(format!("0 {}", w[5]));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn known_days() {
        assert_eq!(d("1970-01-01").days(), 0);
        assert_eq!(d("2000-03-01").days(), 11_017);
        assert_eq!(d("1900-01-01").days(), -25_567);
        assert_eq!(d("9999-12-31").days(), 2_932_896);
        assert_eq!(Date::from_days(-1).to_string(), "1969-12-31");
        assert_eq!(d("9999-12-31").next_day().to_string(), "10000-01-01");
        assert_eq!("10000-01-01".parse::<Date>(), Err(DateError::Syntax));
    }

    #[test]
    fn periods_over_leap_days_and_month_ends() {
        assert_eq!(
            d("2016-02-29").add_period(Period::years(1)),
            d("2017-03-01")
        );
        assert_eq!(
            d("2016-02-29").add_period(Period::years(4)),
            d("2020-02-29")
        );
        let one_month = Period {
            years: 0,
            months: 1,
            days: 0,
        };
        assert_eq!(d("2026-01-31").add_period(one_month), d("2026-03-01"));
        assert_eq!(d("2026-01-31").add_months_clamped(1), d("2026-02-28"));
        assert_eq!(d("2024-01-31").add_months_clamped(1), d("2024-02-29"));
        let days = Period {
            years: 0,
            months: 0,
            days: 30,
        };
        assert_eq!(d("2026-12-15").add_period(days), d("2027-01-14"));
        assert_eq!(d("2016-06-30").end_of_year(), d("2017-01-01"));
        assert_eq!(d("2016-12-31").end_of_year(), d("2017-01-01"));
    }

    #[test]
    fn berlin_offsets() {
        // 2026: DST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let mar29 = d("2026-03-29").days() as i64 * 86_400;
        assert_eq!(berlin_offset_at(mar29 + 3599), 3600);
        assert_eq!(berlin_offset_at(mar29 + 3600), 7200);
        let oct25 = d("2026-10-25").days() as i64 * 86_400;
        assert_eq!(berlin_offset_at(oct25 + 3599), 7200);
        assert_eq!(berlin_offset_at(oct25 + 3600), 3600);
        assert_eq!(d("2027-01-01").berlin_start_unix(), 1_798_758_000);
        assert_eq!(format_unix(1_798_758_000), "2026-12-31T23:00:00Z");
        assert_eq!(d("2026-07-01").berlin_start_unix() % 86_400, 86_400 - 7200);
        assert_eq!(d("2026-03-29").berlin_start_unix() % 86_400, 86_400 - 3600);
        assert_eq!(d("2026-10-25").berlin_start_unix() % 86_400, 86_400 - 7200);
        for day in [
            d("2026-03-29"),
            d("2026-10-25"),
            d("2026-07-01"),
            d("2027-01-01"),
        ] {
            assert_eq!(Date::from_unix_berlin(day.berlin_start_unix()), day);
            assert_eq!(
                Date::from_unix_berlin(day.berlin_start_unix() - 1),
                day.add_days(-1)
            );
        }
    }

    #[test]
    fn parse_rejects() {
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "26-01-01",
            "2026-1-01",
            "1899-12-31",
            "+026-01-01",
            "",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert_eq!(d("2024-02-29").to_german(), "29.02.2024");
    }
}
