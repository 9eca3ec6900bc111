//! RPM version ordering: `rpmvercmp` on version and release strings, and full
//! `[epoch:]version[-release]` comparison (epoch numeric, missing = 0).

use std::cmp::Ordering;

/// rpm's `rpmvercmp`: alphanumeric segments, digits beat letters, `~` sorts before anything
/// (even the end), `^` after the end but before anything else.
#[must_use]
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let at = |s: &[u8], k: usize| s.get(k).copied();
    let skip = |s: &[u8], k: &mut usize| {
        while let Some(c) = s.get(*k) {
            if c.is_ascii_alphanumeric() || *c == b'~' || *c == b'^' {
                break;
            }
            *k += 1;
        }
    };
    while i < a.len() || j < b.len() {
        skip(a, &mut i);
        skip(b, &mut j);
        if at(a, i) == Some(b'~') || at(b, j) == Some(b'~') {
            if at(a, i) != Some(b'~') {
                return Ordering::Greater;
            }
            if at(b, j) != Some(b'~') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if at(a, i) == Some(b'^') || at(b, j) == Some(b'^') {
            if i >= a.len() {
                return Ordering::Less;
            }
            if j >= b.len() {
                return Ordering::Greater;
            }
            if at(a, i) != Some(b'^') {
                return Ordering::Greater;
            }
            if at(b, j) != Some(b'^') {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        let isnum = a.get(i).is_some_and(u8::is_ascii_digit);
        let class = |c: &u8| if isnum { c.is_ascii_digit() } else { c.is_ascii_alphabetic() };
        let (si, sj) = (i, j);
        while a.get(i).is_some_and(class) {
            i += 1;
        }
        while b.get(j).is_some_and(class) {
            j += 1;
        }
        let sa = a.get(si..i).unwrap_or_default();
        let sb = b.get(sj..j).unwrap_or_default();
        if sa.is_empty() {
            return Ordering::Less; // cannot happen
        }
        if sb.is_empty() {
            return if isnum { Ordering::Greater } else { Ordering::Less };
        }
        let ord = if isnum {
            let za = sa.iter().position(|&c| c != b'0').map_or(&[][..], |p| sa.get(p..).unwrap_or_default());
            let zb = sb.iter().position(|&c| c != b'0').map_or(&[][..], |p| sb.get(p..).unwrap_or_default());
            za.len().cmp(&zb.len()).then_with(|| za.cmp(zb))
        } else {
            sa.cmp(sb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// An `[epoch:]version[-release]` split (release after the last `-`).
#[must_use]
pub fn split_evr(v: &str) -> (u64, &str, Option<&str>) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => (e.parse().unwrap_or(0), rest),
        _ => (0, v),
    };
    match rest.rfind('-') {
        Some(i) => (epoch, rest.get(..i).unwrap_or(rest), rest.get(i + 1..)),
        None => (epoch, rest, None),
    }
}

/// Compares two `[epoch:]version[-release]` strings; a release missing on either side is not
/// compared (rpm's `rpmVersionCompare` semantics for dependency ranges).
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_evr(a);
    let (eb, vb, rb) = split_evr(b);
    ea.cmp(&eb).then_with(|| rpmvercmp(va, vb)).then_with(|| match (ra, rb) {
        (Some(x), Some(y)) => rpmvercmp(x, y),
        _ => Ordering::Equal,
    })
}
