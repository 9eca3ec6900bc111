//! Debian (dpkg) version ordering: `[epoch:]upstream[-revision]`, compared the way dpkg's
//! `verrevcmp` does (non-digit runs with `~` before everything, digit runs numerically).

use std::cmp::Ordering;

/// A parsed dpkg version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebVersion<'a> {
    /// The epoch (0 when absent).
    pub epoch: u64,
    /// The upstream version.
    pub upstream: &'a str,
    /// The Debian revision ("" when absent).
    pub revision: &'a str,
}

/// Why a string is not a valid dpkg version (dpkg's `parseversion` messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebVersionError {
    /// Empty after trimming blanks.
    #[error("version string is empty")]
    Empty,
    /// Epoch is not a number.
    #[error("epoch in version is not number")]
    BadEpoch,
    /// Nothing after the colon.
    #[error("nothing after colon in version number")]
    NothingAfterColon,
    /// Empty revision after a hyphen.
    #[error("revision number is empty")]
    EmptyRevision,
    /// Upstream does not start with a digit.
    #[error("version number does not start with digit")]
    NoLeadingDigit,
    /// A character outside dpkg's allowed set.
    #[error("invalid character in version number")]
    BadUpstreamChar,
    /// A character outside dpkg's allowed set in the revision.
    #[error("invalid character in revision number")]
    BadRevisionChar,
}

/// Splits a version the way dpkg does (leniently: the parts of an invalid version are still
/// returned so that comparison stays total).
#[must_use]
pub fn split(v: &str) -> DebVersion<'_> {
    let v = v.trim_matches(|c| c == ' ' || c == '\t');
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse::<u64>().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    let (upstream, revision) = match rest.rfind('-') {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i + 1..).unwrap_or("")),
        None => (rest, ""),
    };
    DebVersion { epoch, upstream, revision }
}

/// Parses and validates a version as dpkg's `parseversion` does (errors only; warnings such as
/// "version number does not start with digit" are errors here too).
pub fn parse(v: &str) -> Result<DebVersion<'_>, DebVersionError> {
    let t = v.trim_matches(|c| c == ' ' || c == '\t');
    if t.is_empty() {
        return Err(DebVersionError::Empty);
    }
    if let Some((e, rest)) = t.split_once(':') {
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DebVersionError::BadEpoch);
        }
        if rest.is_empty() {
            return Err(DebVersionError::NothingAfterColon);
        }
    }
    let d = split(t);
    if t.ends_with('-') {
        return Err(DebVersionError::EmptyRevision);
    }
    if !d.upstream.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return Err(DebVersionError::NoLeadingDigit);
    }
    if !d.upstream.bytes().all(|b| b.is_ascii_alphanumeric() || b".-+~:".contains(&b)) {
        return Err(DebVersionError::BadUpstreamChar);
    }
    if !d.revision.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b)) {
        return Err(DebVersionError::BadRevisionChar);
    }
    Ok(d)
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` on one part (upstream or revision).
#[must_use]
pub fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0i32;
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        while digit(a, i) && digit(b, j) {
            if first_diff == 0 {
                first_diff = i32::from(a.get(i).copied().unwrap_or(0)) - i32::from(b.get(j).copied().unwrap_or(0));
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

/// Compares two dpkg versions (`dpkg --compare-versions`).
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (split(a), split(b));
    a.epoch
        .cmp(&b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}
