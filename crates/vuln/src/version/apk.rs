//! Alpine (apk) version ordering: `digit{.digit}...{letter}{_suf{#}}...{~hash}{-r#}`, with
//! apk-tools' tokenizer (string sort for components with leading zeros, pre-release suffixes
//! before the plain version) and its fuzzy (`~`) prefix match.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tok {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

// Suffix order: alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p.
const NONE: u8 = 5;

fn suffix_value(s: &[u8]) -> Option<u8> {
    let v = match s {
        b"alpha" => 1,
        b"beta" => 2,
        b"pre" => 3,
        b"rc" => 4,
        b"cvs" => 6,
        b"svn" => 7,
        b"git" => 8,
        b"hg" => 9,
        b"p" => 10,
        _ => return None,
    };
    Some(v)
}

struct State<'a> {
    tok: Tok,
    suffix: u8,
    number: u64,
    value: &'a [u8],
    rest: &'a [u8],
}

impl<'a> State<'a> {
    fn first(s: &'a [u8]) -> Self {
        let mut st = State { tok: Tok::InitialDigit, suffix: 0, number: 0, value: &[], rest: s };
        st.digits();
        st
    }

    fn digits(&mut self) {
        let n = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let (v, rest) = self.rest.split_at(n);
        self.number = v.iter().fold(0u64, |acc, c| acc.wrapping_mul(10).wrapping_add(u64::from(c - b'0')));
        self.value = v;
        self.rest = rest;
        if n == 0 {
            self.tok = Tok::Invalid;
        }
    }

    fn next(&mut self) {
        let Some(&c) = self.rest.first() else {
            self.tok = Tok::End;
            return;
        };
        match c {
            b'a'..=b'z' => {
                if self.tok > Tok::Digit {
                    return self.invalid();
                }
                self.value = self.rest.get(..1).unwrap_or_default();
                self.tok = Tok::Letter;
                self.rest = self.rest.get(1..).unwrap_or_default();
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if self.tok > Tok::Digit {
                        return self.invalid();
                    }
                    self.rest = self.rest.get(1..).unwrap_or_default();
                }
                self.tok = match self.tok {
                    Tok::InitialDigit | Tok::Digit => Tok::Digit,
                    Tok::Suffix => Tok::SuffixNo,
                    _ => return self.invalid(),
                };
                self.digits();
            }
            b'_' => {
                if self.tok > Tok::SuffixNo {
                    return self.invalid();
                }
                let r = self.rest.get(1..).unwrap_or_default();
                let n = r.iter().take_while(|c| c.is_ascii_lowercase()).count();
                let (v, rest) = r.split_at(n);
                self.value = v;
                self.rest = rest;
                match suffix_value(v) {
                    Some(s) => {
                        self.suffix = s;
                        self.tok = Tok::Suffix;
                    }
                    None => self.invalid(),
                }
            }
            b'~' => {
                if self.tok >= Tok::CommitHash {
                    return self.invalid();
                }
                let r = self.rest.get(1..).unwrap_or_default();
                let n = r.iter().take_while(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)).count();
                let (v, rest) = r.split_at(n);
                self.value = v;
                self.rest = rest;
                if n == 0 {
                    return self.invalid();
                }
                self.tok = Tok::CommitHash;
            }
            b'-' => {
                if self.tok >= Tok::RevisionNo {
                    return self.invalid();
                }
                match self.rest.strip_prefix(b"-r") {
                    Some(r) => {
                        self.rest = r;
                        self.tok = Tok::RevisionNo;
                        self.digits();
                    }
                    None => self.invalid(),
                }
            }
            _ => self.invalid(),
        }
    }

    fn invalid(&mut self) {
        self.tok = Tok::Invalid;
    }
}

fn blob_sort(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    a.get(..n).cmp(&b.get(..n)).then(a.len().cmp(&b.len()))
}

fn token_cmp(a: &State<'_>, b: &State<'_>) -> Ordering {
    match a.tok {
        Tok::Digit if a.value.first() == Some(&b'0') || b.value.first() == Some(&b'0') => blob_sort(a.value, b.value),
        Tok::Digit | Tok::InitialDigit | Tok::SuffixNo | Tok::RevisionNo => a.number.cmp(&b.number),
        Tok::Letter => a.value.first().cmp(&b.value.first()),
        Tok::Suffix => a.suffix.cmp(&b.suffix),
        _ => blob_sort(a.value, b.value),
    }
}

/// Whether apk considers `v` a valid version.
#[must_use]
pub fn validate(v: &str) -> bool {
    let mut t = State::first(v.as_bytes());
    while t.tok < Tok::End {
        t.next();
    }
    t.tok == Tok::End
}

fn compare_fuzzy(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let mut ta = State::first(a.as_bytes());
    let mut tb = State::first(b.as_bytes());
    while ta.tok == tb.tok && ta.tok < Tok::End {
        let r = token_cmp(&ta, &tb);
        if r != Ordering::Equal {
            return r;
        }
        ta.next();
        tb.next();
    }
    if ta.tok == tb.tok || (tb.tok == Tok::End && fuzzy) {
        return Ordering::Equal;
    }
    if ta.tok == Tok::Suffix && ta.suffix < NONE {
        return Ordering::Less;
    }
    if tb.tok == Tok::Suffix && tb.suffix < NONE {
        return Ordering::Greater;
    }
    tb.tok.cmp(&ta.tok)
}

/// Compares two apk versions (`apk version -t`).
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_fuzzy(a, b, false)
}

/// apk's `apk_version_match`: whether `a OP b` holds, `op` made of `<`, `>`, `=` and `~`
/// (fuzzy: `b` a prefix of `a`). An unknown operator matches nothing.
#[must_use]
pub fn matches(a: &str, op: &str, b: &str) -> bool {
    let (mut less, mut greater, mut equal, mut fuzzy) = (false, false, false, false);
    for c in op.chars() {
        match c {
            '<' => less = true,
            '>' => greater = true,
            '=' => equal = true,
            '~' => {
                fuzzy = true;
                equal = true;
            }
            _ => return false,
        }
    }
    if less && greater && equal {
        return true;
    }
    match compare_fuzzy(a, b, fuzzy) {
        Ordering::Less => less,
        Ordering::Greater => greater,
        Ordering::Equal => equal,
    }
}
