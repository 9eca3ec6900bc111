//! AARE, AppArmor's path patterns: `*` (within one path component), `**` (across `/`), `?`,
//! `[abc]`, `[^a]`, `[a-z]`, `{a,b}` (nested), `\` escapes. Compiled once to an NFA; matching
//! runs the state-set simulation (linear in the path), and [`Aare::overlaps`] tells whether two
//! patterns match a common path (the product of the two automata).

use std::collections::{BTreeSet, HashSet, VecDeque};

/// Longest pattern compiled (characters after variable expansion).
pub const MAX_PATTERN: usize = 1 << 20;
/// Deepest alternation nesting.
pub const MAX_DEPTH: usize = 64;

/// Checks the syntax of a pattern: balanced `{}`/`[]`, no empty or one-entry alternation, no
/// empty character class. `@{var}` references are allowed (checked when expanded).
///
/// # Errors
/// What is wrong, for the parser to place.
pub fn check_syntax(p: &str) -> Result<(), String> {
    let chars: Vec<char> = p.chars().collect();
    if chars.len() > MAX_PATTERN {
        return Err(format!("pattern longer than {MAX_PATTERN} characters"));
    }
    // stack of alternation entry counts
    let mut stack: Vec<(usize, bool)> = Vec::new(); // (commas, current entry non-empty)
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => i += 1,
            '@' if chars.get(i + 1) == Some(&'{') => {
                let mut j = i + 2;
                while chars.get(j).is_some_and(|c| *c != '}') {
                    j += 1;
                }
                if chars.get(j).is_none() {
                    return Err(format!("unterminated variable reference in '{p}'"));
                }
                i = j;
            }
            '{' => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("alternations nested deeper than {MAX_DEPTH} in '{p}'"));
                }
                stack.push((0, false));
            }
            ',' => {
                if let Some(top) = stack.last_mut() {
                    top.0 += 1;
                }
            }
            '}' => {
                let Some((commas, _)) = stack.pop() else {
                    return Err(format!("unbalanced '}}' in '{p}'"));
                };
                if commas == 0 {
                    return Err(format!("alternation with fewer than two entries in '{p}'"));
                }
            }
            '[' => {
                let mut j = i + 1;
                if chars.get(j) == Some(&'^') {
                    j += 1;
                }
                let first = j;
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while let Some(&d) = chars.get(j) {
                    if d == '\\' {
                        j += 2;
                        continue;
                    }
                    if d == ']' {
                        break;
                    }
                    j += 1;
                }
                if chars.get(j).is_none() {
                    return Err(format!("unterminated '[' in '{p}'"));
                }
                if j == first {
                    return Err(format!("empty character class in '{p}'"));
                }
                i = j;
            }
            ']' => return Err(format!("Regex grouping error: invalid close ']', no matching open '[' in '{p}'")),
            _ => {}
        }
        i += 1;
    }
    if !stack.is_empty() {
        return Err(format!("unbalanced '{{' in '{p}'"));
    }
    Ok(())
}

/// A set of characters one NFA step accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Set {
    Lit(char),
    /// Any character but `/`.
    NotSlash,
    /// Any character.
    Any,
    /// `[…]`: ranges, negated; never matches `/` when negated (as upstream).
    Class {
        neg: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Set {
    fn has(&self, c: char) -> bool {
        match self {
            Self::Lit(l) => *l == c,
            Self::NotSlash => c != '/',
            Self::Any => true,
            Self::Class { neg, ranges } => {
                let inside = ranges.iter().any(|(a, b)| *a <= c && c <= *b);
                if *neg { !inside && c != '/' } else { inside }
            }
        }
    }

    fn samples(&self, out: &mut BTreeSet<char>) {
        match self {
            Self::Lit(c) => {
                out.insert(*c);
            }
            Self::Class { ranges, .. } => {
                for (a, b) in ranges {
                    out.insert(*a);
                    out.insert(*b);
                }
            }
            Self::NotSlash | Self::Any => {}
        }
    }
}

#[derive(Clone, Debug)]
enum State {
    Step(Set, usize),
    Split(Vec<usize>),
    Match,
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Aare {
    states: Vec<State>,
    start: usize,
    /// The pattern as given.
    pub source: String,
    /// Whether the pattern has no wildcards (`*`, `?`, `[…]`): exact paths, alternations of
    /// exact paths included.
    pub literal: bool,
}

#[derive(Debug)]
enum Node {
    Set(Set),
    /// `*` or `**`.
    Star(Set),
    Seq(Vec<Node>),
    Alt(Vec<Node>),
}

struct P<'a> {
    c: &'a [char],
    i: usize,
    depth: usize,
    literal: bool,
}

impl P<'_> {
    fn seq(&mut self, in_alt: bool) -> Result<Node, String> {
        let mut items = Vec::new();
        while let Some(&c) = self.c.get(self.i) {
            match c {
                ',' | '}' if in_alt => break,
                '\\' => {
                    self.i += 1;
                    let e = self.c.get(self.i).copied().unwrap_or('\\');
                    items.push(Node::Set(Set::Lit(e)));
                    self.i += 1;
                }
                '*' => {
                    self.literal = false;
                    // after a '/', `*` and `**` match at least one character: `/foo/*` does not
                    // match `/foo/`
                    let after_slash = self.i > 0 && self.c.get(self.i - 1) == Some(&'/');
                    let set = if self.c.get(self.i + 1) == Some(&'*') {
                        while self.c.get(self.i) == Some(&'*') {
                            self.i += 1;
                        }
                        Set::Any
                    } else {
                        self.i += 1;
                        Set::NotSlash
                    };
                    if after_slash {
                        items.push(Node::Set(set.clone()));
                    }
                    items.push(Node::Star(set));
                }
                '?' => {
                    self.literal = false;
                    self.i += 1;
                    items.push(Node::Set(Set::NotSlash));
                }
                '[' => {
                    self.literal = false;
                    items.push(Node::Set(self.class()?));
                }
                '{' => {
                    // an alternation of exact paths is still exact: apparmor_parser lets
                    // `/a/{b,c} PUx` override `/a/* Pix` as it lets `/a/b PUx`
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(format!("alternations nested deeper than {MAX_DEPTH}"));
                    }
                    self.i += 1;
                    let mut alts = vec![self.seq(true)?];
                    while self.c.get(self.i) == Some(&',') {
                        self.i += 1;
                        alts.push(self.seq(true)?);
                    }
                    if self.c.get(self.i) != Some(&'}') {
                        return Err("unbalanced '{'".into());
                    }
                    self.i += 1;
                    self.depth -= 1;
                    items.push(Node::Alt(alts));
                }
                _ => {
                    items.push(Node::Set(Set::Lit(c)));
                    self.i += 1;
                }
            }
        }
        Ok(Node::Seq(items))
    }

    fn class(&mut self) -> Result<Set, String> {
        self.i += 1;
        let mut neg = false;
        if self.c.get(self.i) == Some(&'^') {
            neg = true;
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(&c) = self.c.get(self.i) else { return Err("unterminated '['".into()) };
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            let mut lo = c;
            if c == '\\' {
                self.i += 1;
                lo = self.c.get(self.i).copied().unwrap_or('\\');
            }
            self.i += 1;
            if self.c.get(self.i) == Some(&'-') && self.c.get(self.i + 1).is_some_and(|d| *d != ']') {
                self.i += 1;
                let mut hi = self.c.get(self.i).copied().unwrap_or(lo);
                if hi == '\\' {
                    self.i += 1;
                    hi = self.c.get(self.i).copied().unwrap_or('\\');
                }
                self.i += 1;
                if hi < lo {
                    return Err(format!("bad range {lo}-{hi}"));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Set::Class { neg, ranges })
    }
}

fn build(states: &mut Vec<State>, n: &Node, next: usize) -> usize {
    match n {
        Node::Set(s) => {
            states.push(State::Step(s.clone(), next));
            states.len() - 1
        }
        Node::Star(s) => {
            // loop: split -> (step -> split) | next
            states.push(State::Split(Vec::new()));
            let split = states.len() - 1;
            states.push(State::Step(s.clone(), split));
            let step = states.len() - 1;
            if let Some(State::Split(v)) = states.get_mut(split) {
                v.push(step);
                v.push(next);
            }
            split
        }
        Node::Seq(items) => {
            let mut cur = next;
            for it in items.iter().rev() {
                cur = build(states, it, cur);
            }
            cur
        }
        Node::Alt(alts) => {
            let starts: Vec<usize> = alts.iter().map(|a| build(states, a, next)).collect();
            states.push(State::Split(starts));
            states.len() - 1
        }
    }
}

/// Runs of `/` collapse into one, as apparmor_parser's `filter_slashes` does after variable
/// expansion (`@{PROC}=/proc/` then `@{PROC}/kcore` is `/proc/kcore`); a leading `//` followed
/// by a name is kept.
#[must_use]
pub fn filter_slashes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    if rest.starts_with("//") && !rest.starts_with("///") {
        out.push('/');
        rest = &rest[1..];
    }
    let mut seen_slash = false;
    for c in rest.chars() {
        if c == '/' {
            if !seen_slash {
                out.push(c);
            }
            seen_slash = true;
        } else {
            seen_slash = false;
            out.push(c);
        }
    }
    out
}

impl Aare {
    /// Compiles a pattern (variables already expanded).
    ///
    /// # Errors
    /// A syntax error, or a pattern beyond the bounds.
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let pattern = &filter_slashes(pattern);
        let chars: Vec<char> = pattern.chars().collect();
        if chars.len() > MAX_PATTERN {
            return Err(format!("pattern longer than {MAX_PATTERN} characters"));
        }
        let mut p = P { c: &chars, i: 0, depth: 0, literal: true };
        let node = p.seq(false)?;
        if p.i != chars.len() {
            return Err(format!("unexpected '{}' in '{pattern}'", chars.get(p.i).copied().unwrap_or(' ')));
        }
        let mut states = vec![State::Match];
        let start = build(&mut states, &node, 0);
        Ok(Self { states, start, source: pattern.to_owned(), literal: p.literal })
    }

    fn closure(&self, set: &mut Vec<usize>, seen: &mut HashSet<usize>, s: usize) {
        let mut stack = vec![s];
        while let Some(s) = stack.pop() {
            if !seen.insert(s) {
                continue;
            }
            match self.states.get(s) {
                Some(State::Split(v)) => stack.extend(v.iter().copied()),
                Some(_) => set.push(s),
                None => {}
            }
        }
    }

    /// Whether the pattern matches the whole of `path`.
    #[must_use]
    pub fn matches(&self, path: &str) -> bool {
        let mut cur = Vec::new();
        let mut seen = HashSet::new();
        self.closure(&mut cur, &mut seen, self.start);
        for c in path.chars() {
            let mut next = Vec::new();
            let mut seen = HashSet::new();
            for &s in &cur {
                if let Some(State::Step(set, to)) = self.states.get(s)
                    && set.has(c)
                {
                    self.closure(&mut next, &mut seen, *to);
                }
            }
            if next.is_empty() {
                return false;
            }
            cur = next;
        }
        cur.iter().any(|s| matches!(self.states.get(*s), Some(State::Match)))
    }

    /// Whether some path matches both patterns.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        let mut samples = BTreeSet::new();
        for st in self.states.iter().chain(other.states.iter()) {
            if let State::Step(s, _) = st {
                s.samples(&mut samples);
            }
        }
        samples.extend(['/', 'a', '.', '\u{1}', '\u{10ffff}']);
        let samples: Vec<char> = samples.into_iter().collect();
        let mut a0 = Vec::new();
        self.closure(&mut a0, &mut HashSet::new(), self.start);
        let mut b0 = Vec::new();
        other.closure(&mut b0, &mut HashSet::new(), other.start);
        let mut seen = HashSet::new();
        let mut queue = VecDeque::new();
        for &a in &a0 {
            for &b in &b0 {
                if seen.insert((a, b)) {
                    queue.push_back((a, b));
                }
            }
        }
        while let Some((a, b)) = queue.pop_front() {
            match (self.states.get(a), other.states.get(b)) {
                (Some(State::Match), Some(State::Match)) => return true,
                (Some(State::Step(sa, ta)), Some(State::Step(sb, tb)))
                    if samples.iter().any(|&c| sa.has(c) && sb.has(c)) =>
                {
                    let mut na = Vec::new();
                    self.closure(&mut na, &mut HashSet::new(), *ta);
                    let mut nb = Vec::new();
                    other.closure(&mut nb, &mut HashSet::new(), *tb);
                    for &x in &na {
                        for &y in &nb {
                            if seen.insert((x, y)) {
                                queue.push_back((x, y));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        let m = |p: &str, s: &str| Aare::compile(p).unwrap().matches(s);
        assert!(m("/proc//sysrq-trigger", "/proc/sysrq-trigger"), "runs of slashes collapse");
        assert_eq!(filter_slashes("//foo"), "//foo");
        assert_eq!(filter_slashes("///a//b/"), "/a/b/");
        assert!(m("/foo/*", "/foo/bar"));
        assert!(!m("/foo/*", "/foo/bar/baz"));
        assert!(m("/foo/**", "/foo/bar/baz"));
        assert!(m("/foo/{a,b}c", "/foo/bc"));
        assert!(m("/foo/[a-c]", "/foo/b"));
        assert!(!m("/foo/[^a-c]", "/foo/b"));
        assert!(Aare::compile("/bin/a*").unwrap().overlaps(&Aare::compile("/bin/*b").unwrap()));
        assert!(!Aare::compile("/bin/a").unwrap().overlaps(&Aare::compile("/bin/b").unwrap()));
    }
}
