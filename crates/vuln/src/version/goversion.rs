//! The version ordering of `aquasecurity/go-version` (a hashicorp/go-version fork), which
//! Trivy's generic comparer uses for Go, Cargo, Composer, NuGet, Pub, Hex, Conan and Swift
//! advisories: an optional `v`, dotted numeric segments (missing ones are 0), an optional
//! pre-release (after `-`, or letters glued to the last number: `1.1.1q`) and ignored build
//! metadata (after `+`). A pre-release sorts before its release; pre-releases compare by
//! dot-separated parts, numbers numerically and below words.

use std::cmp::Ordering;

/// A parsed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Numeric segments.
    pub segments: Vec<u64>,
    /// Pre-release, empty when none.
    pub pre: String,
}

impl Version {
    /// Parses a version; `None` when it does not start with a number.
    #[must_use]
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let s = s.split('+').next().unwrap_or(s);
        let mut segments = Vec::new();
        let mut rest = s;
        loop {
            let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            segments.push(rest.get(..end)?.parse::<u64>().ok()?);
            rest = rest.get(end..)?;
            match rest.strip_prefix('.') {
                Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => rest = r,
                _ => break,
            }
            if segments.len() > 64 {
                return None;
            }
        }
        let pre = rest.strip_prefix('-').unwrap_or(rest);
        if !pre.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '~')) {
            return None;
        }
        Some(Version { segments, pre: pre.to_owned() })
    }
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..pa.len().max(pb.len()) {
        let o = match (pa.get(i), pb.get(i)) {
            (Some(x), Some(y)) => match (x.parse::<u64>(), y.parse::<u64>()) {
                (Ok(m), Ok(n)) => m.cmp(&n),
                (Ok(_), Err(_)) => Ordering::Less,
                (Err(_), Ok(_)) => Ordering::Greater,
                _ => x.cmp(y),
            },
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        for i in 0..self.segments.len().max(other.segments.len()) {
            let (x, y) = (self.segments.get(i).copied().unwrap_or(0), other.segments.get(i).copied().unwrap_or(0));
            if x != y {
                return x.cmp(&y);
            }
        }
        cmp_pre(&self.pre, &other.pre)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two versions; unparsable ones sort below parsable ones, then by text.
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering() {
        assert_eq!(compare("v2.7.1+incompatible", "v2.8.0"), Ordering::Less);
        assert_eq!(compare("0.35.0", "v0.35.0"), Ordering::Equal);
        assert_eq!(compare("1.0.0-rc1", "1.0.0"), Ordering::Less);
        assert_eq!(compare("1.1.1q", "1.1.1"), Ordering::Less);
        assert_eq!(compare("8.43", "8.44"), Ordering::Less);
        assert_eq!(compare("1.2", "1.2.0"), Ordering::Equal);
        assert!(Version::parse("abc").is_none());
    }
}
