//! Small text helpers shared by the renderers.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `1 file`, `2 files`: `count` followed by `singular` or `plural`.
pub(crate) fn plural(count: usize, singular: &str, plural: &str) -> String {
    if count == 1 { format!("{count} {singular}") } else { format!("{count} {plural}") }
}

/// Makes untrusted text (messages, object names, paths from the input) safe to print on one
/// terminal line: control characters (newlines, tabs, escape sequences, C1 controls, ...) are
/// shown escaped (`\n`, `\t`, `\u{1b}`) instead of being interpreted by the terminal.
pub(crate) fn terminal_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// 64-bit FNV-1a: a small, dependency-free hash that is the same on every platform and in every
/// release (unlike `std`'s `DefaultHasher`), for fingerprints that must stay stable across runs.
pub(crate) fn fnv1a64(parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A separator byte that cannot occur in UTF-8, so ("ab", "c") != ("a", "bc").
            hash ^= 0xff;
            hash = hash.wrapping_mul(PRIME);
        }
        for b in part.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_forms() {
        assert_eq!(plural(0, "file", "files"), "0 files");
        assert_eq!(plural(1, "file", "files"), "1 file");
        assert_eq!(plural(2, "file", "files"), "2 files");
    }

    #[test]
    fn terminal_safe_escapes_controls() {
        assert!(matches!(terminal_safe("plain <&> \"text\""), Cow::Borrowed(_)));
        assert_eq!(terminal_safe("a\nb\tc\u{1b}[31m\u{9b}"), "a\\nb\\tc\\u{1b}[31m\\u{9b}");
    }

    #[test]
    fn fnv_is_stable_and_separates_parts() {
        // Reference value of FNV-1a 64 for "a".
        assert_eq!(fnv1a64(&["a"]), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a64(&["ab", "c"]), fnv1a64(&["a", "bc"]));
    }
}
