//! Time as Kubernetes writes it: RFC 3339 timestamps (`2026-11-29T04:28:07Z`,
//! `2018-10-26T13:38:34.867116Z`, `...+01:00`), read and written in one place for every domain
//! (bootstrap-token expirations, audit-event times, certificate and token validity in messages,
//! log and backup-file stamps). Parsing is Go's `time.Parse(time.RFC3339, s)`, which is what
//! Kubernetes and Falco's plugins call: the `time` crate's RFC 3339 grammar, with Go's stricter
//! letters (an upper-case `T` between date and time, an upper-case `Z` for UTC, no space) and no
//! leap second (`:60`).

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A timestamp that is not RFC 3339, or is outside the range kguard represents (years 1–9999).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 time {input:?}: {reason}")]
pub struct TimeError {
    /// What was read.
    pub input: String,
    /// Why it is not a time.
    pub reason: String,
}

/// Parses an RFC 3339 timestamp to nanoseconds since the Unix epoch.
///
/// # Errors
/// A [`TimeError`] naming the input when it is not RFC 3339 (or is beyond 2262, the range of
/// `i64` nanoseconds).
pub fn parse_rfc3339_nanos(s: &str) -> Result<i64, TimeError> {
    let t = parse(s)?;
    i64::try_from(t.unix_timestamp_nanos())
        .map_err(|_| TimeError { input: s.to_owned(), reason: "beyond the year 2262".to_owned() })
}

/// Parses an RFC 3339 timestamp to whole seconds since the Unix epoch (fractions dropped).
///
/// # Errors
/// A [`TimeError`] naming the input when it is not RFC 3339.
pub fn parse_rfc3339(s: &str) -> Result<i64, TimeError> {
    parse(s).map(OffsetDateTime::unix_timestamp)
}

fn parse(s: &str) -> Result<OffsetDateTime, TimeError> {
    let err = |reason: &str| TimeError { input: s.to_owned(), reason: reason.to_owned() };
    let b = s.as_bytes();
    if b.get(10).is_some_and(|&c| c != b'T') {
        return Err(err("expected an upper-case 'T' between date and time"));
    }
    if b.last() == Some(&b'z') {
        return Err(err("expected an upper-case 'Z' for UTC"));
    }
    if s.get(17..19) == Some("60") {
        return Err(err("second out of range"));
    }
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| err(&e.to_string()))
}

fn utc(unix_nanos: i128) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(unix_nanos).unwrap_or(if unix_nanos < 0 {
        OffsetDateTime::UNIX_EPOCH.replace_year(1).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    } else {
        OffsetDateTime::UNIX_EPOCH.replace_year(9999).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    })
}

/// Unix seconds as RFC 3339 UTC with whole seconds (`2026-11-29T04:28:07Z`), as Go prints times
/// in messages. Times beyond years 1–9999 are clamped to them.
#[must_use]
pub fn format_rfc3339(unix_secs: i64) -> String {
    let t = utc(i128::from(unix_secs) * 1_000_000_000);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", t.hour(), t.minute(), t.second())
}

/// Unix nanoseconds as RFC 3339 UTC with milliseconds (`2026-11-29T04:28:07.123Z`), for log lines.
#[must_use]
pub fn format_rfc3339_millis(unix_nanos: i128) -> String {
    let t = utc(unix_nanos);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z", t.hour(), t.minute(), t.second(), t.millisecond())
}

/// Unix nanoseconds as RFC 3339 UTC with nine fractional digits
/// (`2018-10-26T13:38:34.867116000Z`), as Falco prints event times.
#[must_use]
pub fn format_rfc3339_nanos(unix_nanos: i64) -> String {
    let t = utc(i128::from(unix_nanos));
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z", t.hour(), t.minute(), t.second(), t.nanosecond())
}

/// A duration that is not seconds or Go-style hours, minutes and seconds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {0:?} (expected seconds or e.g. 10m, 1h, 1h30m)")]
pub struct DurationError(pub String);

/// Parses a duration as kube flags take it, to seconds: `3600`, `3600s`, `10m`, `1h30m`, `8760h`.
///
/// # Errors
/// Anything else (other units, fractions, a trailing number without unit, overflow).
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    let bad = || DurationError(s.to_owned());
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = total.checked_add(n.checked_mul(unit).ok_or_else(bad)?).ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() || s.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// Now, as Unix seconds (0 if the clock is before 1970).
#[must_use]
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Now, as Unix nanoseconds (0 if the clock is before 1970).
#[must_use]
pub fn now_nanos() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_795_926_487), "2026-11-29T04:28:07Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(i64::MAX), "9999-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_millis(1_700_000_000_123_456_789), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_rfc3339_nanos(1_540_561_114_867_116_000), "2018-10-26T13:38:34.867116000Z");
        assert_eq!(format_rfc3339_nanos(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("8760h"), Ok(31_536_000));
        for bad in ["", "1d", "1.5h", "10m5", "h", "99999999999999999999h"] {
            assert_eq!(parse_duration(bad), Err(DurationError(bad.to_owned())), "{bad}");
        }
        assert!(parse_duration("1d").unwrap_err().to_string().contains("expected seconds"));
    }

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_rfc3339("2026-11-29T04:28:07Z"), Ok(1_795_926_487));
        assert_eq!(parse_rfc3339("2026-11-29T05:28:07+01:00"), Ok(1_795_926_487));
        assert_eq!(parse_rfc3339("2026-11-29T04:28:07.999Z"), Ok(1_795_926_487));
        assert_eq!(parse_rfc3339_nanos("2018-10-26T13:38:34.867116Z"), Ok(1_540_561_114_867_116_000));
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00.000000001Z"), Ok(1));
        for bad in [
            "",
            "2026-11-29",
            "2026-11-29T04:28:07",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-29T24:00:00Z",
            "2026-11-29T04:28:07+1:00",
            // Go's time.Parse(time.RFC3339) rejects these, so a bootstrap token with such an
            // expiration is treated as expired upstream.
            "2026-11-29 04:28:07Z",
            "2026-11-29t04:28:07Z",
            "2026-11-29T04:28:07z",
            "2016-12-31T23:59:60Z",
            "9999999-01-01T00:00:00Z",
        ] {
            let e = parse_rfc3339(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        assert!(parse_rfc3339_nanos("2300-01-01T00:00:00Z").unwrap_err().reason.contains("2262"));
    }
}
