//! RFC 3339 timestamps <-> unix seconds. The clock is never read here: "now" is always a
//! parameter supplied by the caller, which keeps the core deterministic and fuzzable.
//!
//! Envelope and attachment timestamps are RFC 3339 (`2026-01-01T00:00:00Z`); webhook and
//! federation headers carry unix seconds. [`Timestamp`] accepts both so callers need not guess.

use std::fmt;
use std::str::FromStr;

/// Earliest instant RFC 3339 can write: 0000-01-01T00:00:00Z.
pub const MIN_RFC3339_SECS: i64 = -62_167_219_200;
/// Latest instant RFC 3339 can write: 9999-12-31T23:59:59Z.
pub const MAX_RFC3339_SECS: i64 = 253_402_300_799;

/// Why a timestamp was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("timestamp is empty: give RFC 3339 like 2026-01-01T00:00:00Z")]
    Empty,
    #[error("timestamp is {len} bytes long: an RFC 3339 timestamp is at most 64")]
    TooLong { len: usize },
    #[error(
        "`{input}` is not an RFC 3339 timestamp ({detail}): use YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"
    )]
    Invalid { input: String, detail: String },
    #[error("unix time {secs} is outside the years 0000-9999 that RFC 3339 can write")]
    OutOfRange { secs: i64 },
    #[error("`{input}` is neither RFC 3339 nor unix seconds")]
    NotATimestamp { input: String },
}

const MAX_INPUT: usize = 64;

/// Format unix seconds as RFC 3339 UTC with a `Z` suffix and no fraction.
///
/// Values outside the years 0000-9999 are clamped to the nearest representable instant, so this
/// never fails; use [`try_format_rfc3339`] to detect that case.
pub fn format_rfc3339(unix_secs: i64) -> String {
    let clamped = unix_secs.clamp(MIN_RFC3339_SECS, MAX_RFC3339_SECS);
    let days = clamped.div_euclid(86_400);
    let rem = clamped.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// [`format_rfc3339`] that refuses instants RFC 3339 cannot write instead of clamping.
pub fn try_format_rfc3339(unix_secs: i64) -> Result<String, TimeError> {
    if (MIN_RFC3339_SECS..=MAX_RFC3339_SECS).contains(&unix_secs) {
        Ok(format_rfc3339(unix_secs))
    } else {
        Err(TimeError::OutOfRange { secs: unix_secs })
    }
}

/// Parse an RFC 3339 date-time (offsets and fractional seconds allowed; the fraction is
/// truncated toward the earlier second) into unix seconds.
pub fn parse_rfc3339(s: &str) -> Result<i64, TimeError> {
    if s.is_empty() {
        return Err(TimeError::Empty);
    }
    if s.len() > MAX_INPUT {
        return Err(TimeError::TooLong { len: s.len() });
    }
    let dt = ::time::OffsetDateTime::parse(s, &::time::format_description::well_known::Rfc3339)
        .map_err(|e| TimeError::Invalid {
            input: s.to_string(),
            detail: e.to_string(),
        })?;
    Ok(dt.unix_timestamp())
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian), exact for any day count
/// within the RFC 3339 range.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// An instant in whole unix seconds, written as RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }
    pub fn unix(self) -> i64 {
        self.0
    }
    /// Parse RFC 3339.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
        parse_rfc3339(s).map(Timestamp)
    }
    /// Parse either RFC 3339 or plain unix seconds (ASCII digits with an optional leading `-`,
    /// as webhook and federation timestamp headers carry them).
    pub fn parse_any(s: &str) -> Result<Timestamp, TimeError> {
        let digits = s.strip_prefix('-').unwrap_or(s);
        if !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse::<i64>()
                .map(Timestamp)
                .map_err(|_| TimeError::NotATimestamp {
                    input: s.chars().take(MAX_INPUT).collect(),
                });
        }
        parse_rfc3339(s).map(Timestamp).map_err(|e| match e {
            TimeError::Invalid { input, .. } => TimeError::NotATimestamp { input },
            other => other,
        })
    }
    /// Seconds from `self` to `later` (negative when `later` is earlier), saturating.
    pub fn seconds_until(self, later: Timestamp) -> i64 {
        later.0.saturating_sub(self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_rfc3339(self.0))
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_rfc3339(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(MAX_RFC3339_SECS), "9999-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(MIN_RFC3339_SECS), "0000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(i64::MIN), "0000-01-01T00:00:00Z");
        assert!(try_format_rfc3339(i64::MAX).is_err());
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Ok(1_767_225_600));
        assert_eq!(
            parse_rfc3339("2026-01-01T01:30:00+01:30"),
            Ok(1_767_225_600)
        );
        assert_eq!(
            parse_rfc3339("2025-12-31T19:00:00-05:00"),
            Ok(1_767_225_600)
        );
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00.999Z"), Ok(1_767_225_600));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.5Z"), Ok(-1));
    }

    #[test]
    fn rejects_non_rfc3339() {
        for s in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "1767225600",
            "2026-01-01T00:00:00+0100",
            "garbage",
            "2026-01-01T00:00:00Z ",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s:?}");
        }
        assert!(matches!(
            parse_rfc3339(&"9".repeat(1000)),
            Err(TimeError::TooLong { len: 1000 })
        ));
    }

    #[test]
    fn round_trip_over_the_whole_range() {
        let mut secs = MIN_RFC3339_SECS;
        while secs <= MAX_RFC3339_SECS {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Ok(secs), "{secs}");
            secs += 86_399 * 37 + 12_345;
        }
    }

    #[test]
    fn timestamp_parse_any() {
        assert_eq!(
            Timestamp::parse_any("1767225600").map(Timestamp::unix),
            Ok(1_767_225_600)
        );
        assert_eq!(
            Timestamp::parse_any("2026-01-01T00:00:00Z").map(Timestamp::unix),
            Ok(1_767_225_600)
        );
        assert_eq!(Timestamp::parse_any("-5").map(Timestamp::unix), Ok(-5));
        assert!(Timestamp::parse_any("99999999999999999999").is_err());
        assert!(Timestamp::parse_any("12a").is_err());
        assert!(Timestamp::parse_any("").is_err());
        assert_eq!(Timestamp::from_unix(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix(10).seconds_until(Timestamp::from_unix(4)),
            -6
        );
    }
}
