//! Civil dates and RFC 3339 timestamps in UTC, with integer arithmetic only
//! (no date-time crate, no clock, no time-zone database).
//!
//! This is the one implementation of the proleptic Gregorian calendar the
//! workspace uses: the retention [`Date`](crate::retention::Date), the
//! consent and audit FHIR exports and the command line all call it.
//!
//! * [`days_from_civil`] / [`civil_from_days`]: a date to and from its day
//!   count since 1970-01-01 (H. Hinnant's algorithms, valid for every year
//!   whose day count fits an `i64`, including years before 1970 and before 1).
//! * [`format_rfc3339`] / [`format_rfc3339_millis`]: Unix seconds or
//!   milliseconds as `YYYY-MM-DDThh:mm:ssZ` / `YYYY-MM-DDThh:mm:ss.sssZ`.
//! * [`parse_rfc3339`]: the inverse, accepting any UTC offset.
//!
//! Leap seconds do not exist in Unix time: a parsed second 60 counts as 59.
//!
//! ```
//! use caduceus_core::time;
//! assert_eq!(time::days_from_civil(2000, 3, 1), 11_017);
//! assert_eq!(time::civil_from_days(-1), (1969, 12, 31));
//! assert_eq!(time::format_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
//! assert_eq!(time::format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
//! assert_eq!(time::parse_rfc3339("2023-11-15T00:13:20+02:00"), Some(1_700_000_000));
//! ```

/// Seconds in a civil day (Unix time has no leap seconds).
const DAY: i64 = 86_400;

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d` (month
/// 1..=12, day 1..=31; H. Hinnant's `days_from_civil`). Dates before 1970
/// give negative counts. The day is not checked against the month: use
/// [`days_in_month`] first where that matters.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month 1..=12, day 1..=31)` of a day
/// count since 1970-01-01 (H. Hinnant's `civil_from_days`); the inverse of
/// [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// True for a Gregorian leap year (divisible by 4, except centuries not
/// divisible by 400).
pub fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Number of days of month `m` (1..=12) in year `y`.
pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap_year(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DDThh:mm:ss` of Unix seconds in UTC, without a zone designator.
fn date_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(DAY));
    let rem = secs.rem_euclid(DAY);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Unix seconds as RFC 3339 in UTC, e.g. `2026-01-31T12:00:00Z`. Times
/// before 1970 are negative; years after 9999 get more than four digits.
pub fn format_rfc3339(secs: i64) -> String {
    let mut s = date_time(secs);
    s.push('Z');
    s
}

/// Unix **milliseconds** as an RFC 3339 instant in UTC with exactly three
/// fraction digits, e.g. `2025-11-22T08:26:40.123Z` (the FHIR `instant`
/// form).
pub fn format_rfc3339_millis(time_ms: i64) -> String {
    let ms = time_ms.rem_euclid(1000);
    format!("{}.{ms:03}Z", date_time(time_ms.div_euclid(1000)))
}

/// `n` ASCII digits of `s` at byte offset `at`.
fn digits(s: &str, at: usize, n: usize) -> Option<i64> {
    let part = s.get(at..at + n)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Parse an RFC 3339 date-time, `YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)`,
/// into Unix seconds. `t` and a space are accepted for `T`, `z` for `Z`;
/// fractions are dropped and a leap second (`:60`) counts as `:59`. Returns
/// `None` for anything else, including days that do not exist.
///
/// ```
/// use caduceus_core::time::parse_rfc3339;
/// assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
/// assert_eq!(parse_rfc3339("2024-02-29T12:00:00.5-01:00"), Some(1_709_211_600));
/// assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
/// ```
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let (y, mo, d) = (digits(s, 0, 4)?, digits(s, 5, 2)?, digits(s, 8, 2)?);
    let (h, mi, se) = (digits(s, 11, 2)?, digits(s, 14, 2)?, digits(s, 17, 2)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = frac.get(n..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.get(3..4)? != ":" {
                return None;
            }
            let (oh, om) = (digits(rest, 1, 2)?, digits(rest, 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + se.min(59) - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_roundtrip_and_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(1900, 1, 1), -25_567);
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
        assert_eq!(civil_from_days(2_932_897), (10_000, 1, 1));
        // Every day from 1887 to 2298 natively; every 101st under Miri
        // (about 1000x slower).
        for z in (-30_000..120_000).step_by(if cfg!(miri) { 101 } else { 1 }) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        for z in [-800_000, -719_469, 2_932_896, 3_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn leap_years_and_month_lengths() {
        for (y, leap) in [
            (1900, false),
            (2000, true),
            (2023, false),
            (2024, true),
            (2100, false),
            (2400, true),
            (9996, true),
            (9999, false),
        ] {
            assert_eq!(is_leap_year(y), leap, "{y}");
            assert_eq!(days_in_month(y, 2), if leap { 29 } else { 28 }, "{y}");
            assert_eq!(
                days_from_civil(y + 1, 1, 1) - days_from_civil(y, 1, 1),
                if leap { 366 } else { 365 },
                "{y}"
            );
        }
        let lengths: Vec<i64> = (1..=12).map(|m| days_in_month(2025, m)).collect();
        assert_eq!(lengths, [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]);
        // Each month ends where the next begins.
        for m in 1..12 {
            assert_eq!(
                days_from_civil(2024, m, days_in_month(2024, m)) + 1,
                days_from_civil(2024, m + 1, 1)
            );
        }
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(-2_208_988_800), "1900-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(253_402_300_800), "10000-01-01T00:00:00Z");
    }

    #[test]
    fn formats_milliseconds() {
        assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_millis(1_763_800_000_123),
            "2025-11-22T08:26:40.123Z"
        );
        assert_eq!(format_rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_rfc3339_millis(-1000), "1969-12-31T23:59:59.000Z");
        assert_eq!(
            format_rfc3339_millis(951_782_400_007),
            "2000-02-29T00:00:00.007Z"
        );
        for ms in [-86_400_001, -1, 0, 999, 1_000, 1_763_800_000_123] {
            let s = format_rfc3339_millis(ms);
            assert_eq!(parse_rfc3339(&s), Some(ms.div_euclid(1000)), "{s}");
        }
    }

    #[test]
    fn parses_what_it_formats() {
        for t in [
            -2_208_988_800,
            -86_401,
            -1,
            0,
            951_782_400,
            1_700_000_000,
            4_102_444_799,
            253_402_300_799,
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t), "{t}");
        }
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00Z"), Some(-62_167_219_200));
    }

    #[test]
    fn parses_offsets_fractions_and_leap_seconds() {
        let t = Some(1_700_000_000);
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), t);
        assert_eq!(parse_rfc3339("2023-11-14t22:13:20z"), t);
        assert_eq!(parse_rfc3339("2023-11-14 22:13:20Z"), t);
        assert_eq!(parse_rfc3339("2023-11-15T00:13:20.123+02:00"), t);
        assert_eq!(parse_rfc3339("2023-11-14T20:13:20-02:00"), t);
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20.999999999Z"), t);
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            parse_rfc3339("2016-12-31T23:59:59Z")
        );
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    }

    #[test]
    fn parse_rejects() {
        for bad in [
            "",
            "yesterday",
            "1700000000",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2023-04-31T00:00:00Z",
            "2023-00-10T00:00:00Z",
            "2023-13-10T00:00:00Z",
            "2023-11-00T00:00:00Z",
            "2023-11-14T22:13:20",
            "2023-11-14T24:00:00Z",
            "2023-11-14T23:60:00Z",
            "2023-11-14T23:59:61Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+0200",
            "2023-11-14T22:13:20+24:00",
            "2023-11-14T22:13:20+02:60",
            "2023-11-14X22:13:20Z",
            "-023-11-14T22:13:20Z",
            "2023-11-14T22:13:20Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
