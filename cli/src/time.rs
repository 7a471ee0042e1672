//! The clock, and times given on the command line (Unix seconds or
//! RFC 3339). The calendar arithmetic is [`caduceus_core::time`].

use std::time::{SystemTime, UNIX_EPOCH};

pub use caduceus_core::time::format_rfc3339;

use crate::error::{Result, fail, usage};

/// The current time in Unix seconds.
pub fn now() -> Result<i64> {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| fail("the system clock is set before 1970"))?;
    i64::try_from(d.as_secs()).map_err(|_| fail("the system clock is out of range"))
}

/// Parse a time given as Unix seconds or as RFC 3339
/// (`YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`; fractions are dropped).
pub fn parse_time(s: &str) -> Option<i64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    caduceus_core::time::parse_rfc3339(s)
}

/// The time given with `option` (Unix seconds or RFC 3339), or the clock
/// when the option is absent. A time that does not parse is a usage error
/// that names the option but not the value.
pub fn given_or_now(arg: Option<&str>, option: &str) -> Result<i64> {
    match arg {
        None => now(),
        Some(s) => parse_time(s).ok_or_else(|| {
            usage(format!(
                "{option}: not a time; use Unix seconds or RFC 3339 like 2025-01-31T12:00:00Z"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_time(&format_rfc3339(t)), Some(t));
        }
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_time("0"), Some(0));
        assert_eq!(parse_time("99999999999999999999"), None);
        assert_eq!(
            parse_time("2023-11-15T00:13:20.123+02:00"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_time("2023-11-14T20:13:20-02:00"), Some(1_700_000_000));
        for bad in [
            "",
            "yesterday",
            "2023-02-29T00:00:00Z",
            "2023-11-14T22:13:20",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20+0200",
            "-5",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}
