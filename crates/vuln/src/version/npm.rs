//! npm's semver (node-semver 7): versions (strict and loose), SemVer 2.0 precedence, and npm
//! ranges (hyphen ranges, x-ranges, `~`, `^`, `||`) with `includePrerelease`.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

const MAX_LENGTH: usize = 256;
const MAX_SAFE: u64 = 9_007_199_254_740_991;

/// Parsing options (node-semver's `loose` and `includePrerelease`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Accept loose versions (`=1.2.3`, `1.2.3beta`, leading zeros).
    pub loose: bool,
    /// Let ranges match pre-releases of other tuples.
    pub include_prerelease: bool,
}

/// A pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ident {
    /// Numeric.
    Num(u64),
    /// Alphanumeric.
    Str(String),
}

impl Ident {
    /// A pre-release identifier as node-semver stores it: digits below 2^53 - 1 are a number.
    fn parse(id: &str) -> Self {
        match id.parse::<u64>() {
            Ok(n) if n < MAX_SAFE && id.bytes().all(|b| b.is_ascii_digit()) => Ident::Num(n),
            _ => Ident::Str(id.to_owned()),
        }
    }
}

impl Ord for Ident {
    fn cmp(&self, o: &Self) -> Ordering {
        match (self, o) {
            (Ident::Num(a), Ident::Num(b)) => a.cmp(b),
            (Ident::Num(_), Ident::Str(_)) => Ordering::Less,
            (Ident::Str(_), Ident::Num(_)) => Ordering::Greater,
            (Ident::Str(a), Ident::Str(b)) => a.cmp(b),
        }
    }
}
impl PartialOrd for Ident {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl std::fmt::Display for Ident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ident::Num(n) => write!(f, "{n}"),
            Ident::Str(s) => f.write_str(s),
        }
    }
}

/// A semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemVer {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Pre-release identifiers.
    pub pre: Vec<Ident>,
    /// Build identifiers (ignored by precedence).
    pub build: Vec<String>,
}

// `[0-9]`, not `\d`: JavaScript's `\d` is ASCII, the regex crate's is Unicode.
const NUM: &str = r"0|[1-9][0-9]*";
const NUML: &str = r"[0-9]+";
const NONNUM: &str = r"[0-9]*[a-zA-Z-][a-zA-Z0-9-]*";

fn pre(loose: bool) -> String {
    // Non-numeric first, as in node-semver: it matters where the match is not anchored.
    let id = if loose { format!("(?:{NONNUM}|{NUML})") } else { format!("(?:{NONNUM}|{NUM})") };
    if loose { format!(r"(?:-?({id}(?:\.{id})*))") } else { format!(r"(?:-({id}(?:\.{id})*))") }
}
const BUILD: &str = r"(?:\+([a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*))";
fn plain(loose: bool) -> String {
    if loose {
        format!(r"[v=\s]*({NUML})\.({NUML})\.({NUML}){}?{BUILD}?", pre(true))
    } else {
        format!(r"v?({NUM})\.({NUM})\.({NUM}){}?{BUILD}?", pre(false))
    }
}
fn xplain(loose: bool) -> String {
    let x = if loose { format!(r"{NUML}|x|X|\*") } else { format!(r"{NUM}|x|X|\*") };
    format!(r"[v=\s]*({x})(?:\.({x})(?:\.({x})(?:{})?)?)?{BUILD}?", pre(loose))
}

#[allow(clippy::expect_used)] // constant patterns, covered by every test
fn re(s: &str) -> Regex {
    Regex::new(s).expect("semver regex")
}

struct Res {
    full: Regex,
    comparator: Regex,
    xrange: Regex,
    tilde: Regex,
    caret: Regex,
    hyphen: Regex,
    comparator_trim: Regex,
}

fn build(loose: bool) -> Res {
    let gtlt = r"((?:<|>)?=?)";
    Res {
        full: re(&format!("^{}$", plain(loose))),
        comparator: re(&format!(r"^{gtlt}\s*({})$|^$", plain(loose))),
        xrange: re(&format!(r"^{gtlt}\s*{}$", xplain(loose))),
        tilde: re(&format!(r"^(?:~>?){}$", xplain(loose))),
        caret: re(&format!(r"^(?:\^){}$", xplain(loose))),
        hyphen: re(&format!(r"^\s*({})\s+-\s+({})\s*$", xplain(loose), xplain(loose))),
        comparator_trim: re(&format!(r"(\s*){gtlt}\s*({}|{})", plain(true), xplain(false))),
    }
}

static STRICT: LazyLock<Res> = LazyLock::new(|| build(false));
static LOOSE: LazyLock<Res> = LazyLock::new(|| build(true));
static TILDE_TRIM: LazyLock<Regex> = LazyLock::new(|| re(r"(\s*)(?:~>?)\s+"));
static CARET_TRIM: LazyLock<Regex> = LazyLock::new(|| re(r"(\s*)(?:\^)\s+"));
static STAR: LazyLock<Regex> = LazyLock::new(|| re(r"(<|>)?=?\s*\*"));

fn res(o: Options) -> &'static Res {
    if o.loose { &LOOSE } else { &STRICT }
}

/// Why a version or range is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid {0}: {1}")]
pub struct Invalid(pub &'static str, pub String);

fn num(s: &str) -> Option<u64> {
    s.parse::<u64>().ok().filter(|n| *n <= MAX_SAFE)
}

impl SemVer {
    /// Parses a version (`new SemVer(v, options)`).
    pub fn parse(v: &str, o: Options) -> Result<Self, Invalid> {
        let err = || Invalid("Version", v.to_owned());
        if v.len() > MAX_LENGTH {
            return Err(err());
        }
        let caps = res(o).full.captures(v.trim()).ok_or_else(err)?;
        let g = |i| caps.get(i).map_or("", |m| m.as_str());
        let major = num(g(1)).ok_or_else(err)?;
        let minor = num(g(2)).ok_or_else(err)?;
        let patch = num(g(3)).ok_or_else(err)?;
        let pre = if g(4).is_empty() { Vec::new() } else { g(4).split('.').map(Ident::parse).collect() };
        let build = if g(5).is_empty() { Vec::new() } else { g(5).split('.').map(str::to_owned).collect() };
        Ok(SemVer { major, minor, patch, pre, build })
    }

    fn main(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

impl Ord for SemVer {
    fn cmp(&self, o: &Self) -> Ordering {
        self.main().cmp(&o.main()).then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (false, true) => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, false) => self.pre.cmp(&o.pre),
        })
    }
}
impl PartialOrd for SemVer {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl std::fmt::Display for SemVer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            let p: Vec<String> = self.pre.iter().map(Ident::to_string).collect();
            write!(f, "-{}", p.join("."))?;
        }
        Ok(())
    }
}

/// SemVer 2.0 precedence of two strict versions; unparsable versions sort first, as strings.
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    let o = Options::default();
    match (SemVer::parse(a, o), SemVer::parse(b, o)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// A comparator operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=` or none
    Eq,
}

/// One comparator; `None` version = any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparator {
    /// Operator.
    pub op: CmpOp,
    /// The version, `None` for the any-comparator.
    pub version: Option<SemVer>,
}

impl Comparator {
    fn parse(c: &str, o: Options) -> Result<Self, Invalid> {
        let caps = res(o).comparator.captures(c).ok_or_else(|| Invalid("comparator", c.to_owned()))?;
        let op = match caps.get(1).map_or("", |m| m.as_str()) {
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => CmpOp::Eq,
        };
        let version = match caps.get(2) {
            Some(m) => Some(SemVer::parse(m.as_str().split('+').next().unwrap_or_default(), o)?),
            None => None,
        };
        Ok(Comparator { op, version })
    }

    fn test(&self, v: &SemVer) -> bool {
        let Some(s) = &self.version else { return true };
        let c = v.cmp(s);
        match self.op {
            CmpOp::Lt => c == Ordering::Less,
            CmpOp::Le => c != Ordering::Greater,
            CmpOp::Gt => c == Ordering::Greater,
            CmpOp::Ge => c != Ordering::Less,
            CmpOp::Eq => c == Ordering::Equal,
        }
    }

    fn is_null_set(&self) -> bool {
        self.op == CmpOp::Lt && self.version.as_ref().is_some_and(|v| v.to_string() == "0.0.0-0")
    }
}

impl std::fmt::Display for Comparator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(v) = &self.version else { return Ok(()) };
        let op = match self.op {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "",
        };
        write!(f, "{op}{v}")
    }
}

/// An npm range: alternatives (`||`) of comparator sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// The comparator sets.
    pub set: Vec<Vec<Comparator>>,
    /// Options the range was parsed with.
    pub options: Options,
}

fn is_x(s: &str) -> bool {
    s.is_empty() || s.eq_ignore_ascii_case("x") || s == "*"
}

fn inc(s: &str) -> String {
    // A number past u64 (node-semver would already refuse it beyond MAX_SAFE_INTEGER) is NaN too.
    s.parse::<u64>().ok().and_then(|n| n.checked_add(1)).map_or_else(|| "NaN".to_owned(), |n| n.to_string())
}

fn hyphen_replace(caps: &regex::Captures<'_>, inc_pr: bool) -> String {
    let g = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let z = if inc_pr { "-0" } else { "" };
    // groups: 1 from, 2-4 M m p, 5 pr, 6 build, 7 to, 8-10, 11 pr, 12 build
    let (fm, fmi, fp, fpr) = (g(2), g(3), g(4), g(5));
    let from = if is_x(fm) {
        String::new()
    } else if is_x(fmi) {
        format!(">={fm}.0.0{z}")
    } else if is_x(fp) {
        format!(">={fm}.{fmi}.0{z}")
    } else if !fpr.is_empty() {
        format!(">={}", g(1))
    } else {
        format!(">={}{z}", g(1))
    };
    let (tm, tmi, tp, tpr) = (g(8), g(9), g(10), g(11));
    let to = if is_x(tm) {
        String::new()
    } else if is_x(tmi) {
        format!("<{}.0.0-0", inc(tm))
    } else if is_x(tp) {
        format!("<{tm}.{}.0-0", inc(tmi))
    } else if !tpr.is_empty() {
        format!("<={tm}.{tmi}.{tp}-{tpr}")
    } else if inc_pr {
        format!("<{tm}.{tmi}.{}-0", inc(tp))
    } else {
        format!("<={}", g(7))
    };
    format!("{from} {to}").trim().to_owned()
}

fn replace_tilde(c: &str, o: Options) -> String {
    let Some(caps) = res(o).tilde.captures(c) else { return c.to_owned() };
    let g = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let z = if o.include_prerelease { "-0" } else { "" };
    let (m, mi, p, pr) = (g(1), g(2), g(3), g(4));
    if is_x(m) {
        String::new()
    } else if is_x(mi) {
        format!(">={m}.0.0{z} <{}.0.0-0", inc(m))
    } else if is_x(p) {
        format!(">={m}.{mi}.0{z} <{m}.{}.0-0", inc(mi))
    } else if !pr.is_empty() {
        format!(">={m}.{mi}.{p}-{pr} <{m}.{}.0-0", inc(mi))
    } else {
        format!(">={m}.{mi}.{p} <{m}.{}.0-0", inc(mi))
    }
}

fn replace_caret(c: &str, o: Options) -> String {
    let Some(caps) = res(o).caret.captures(c) else { return c.to_owned() };
    let g = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let z = if o.include_prerelease { "-0" } else { "" };
    let (m, mi, p, pr) = (g(1), g(2), g(3), g(4));
    if is_x(m) {
        String::new()
    } else if is_x(mi) {
        format!(">={m}.0.0{z} <{}.0.0-0", inc(m))
    } else if is_x(p) {
        if m == "0" {
            format!(">={m}.{mi}.0{z} <{m}.{}.0-0", inc(mi))
        } else {
            format!(">={m}.{mi}.0{z} <{}.0.0-0", inc(m))
        }
    } else if !pr.is_empty() {
        if m == "0" {
            if mi == "0" {
                format!(">={m}.{mi}.{p}-{pr} <{m}.{mi}.{}-0", inc(p))
            } else {
                format!(">={m}.{mi}.{p}-{pr} <{m}.{}.0-0", inc(mi))
            }
        } else {
            format!(">={m}.{mi}.{p}-{pr} <{}.0.0-0", inc(m))
        }
    } else if m == "0" {
        if mi == "0" {
            format!(">={m}.{mi}.{p} <{m}.{mi}.{}-0", inc(p))
        } else {
            format!(">={m}.{mi}.{p} <{m}.{}.0-0", inc(mi))
        }
    } else {
        format!(">={m}.{mi}.{p} <{}.0.0-0", inc(m))
    }
}

fn replace_xrange(c: &str, o: Options) -> String {
    let c = c.trim();
    let Some(caps) = res(o).xrange.captures(c) else { return c.to_owned() };
    let g = |i: usize| caps.get(i).map_or("", |m| m.as_str());
    let mut gtlt = g(1).to_owned();
    let (m, mi, p) = (g(2), g(3), g(4));
    let xm = is_x(m);
    let xmi = xm || is_x(mi);
    let xp = xmi || is_x(p);
    let any_x = xp;
    if gtlt == "=" && any_x {
        gtlt.clear();
    }
    let mut pr = if o.include_prerelease { "-0" } else { "" };
    if xm {
        if gtlt == ">" || gtlt == "<" { "<0.0.0-0".to_owned() } else { "*".to_owned() }
    } else if !gtlt.is_empty() && any_x {
        let (mut mm, mut mmi, mut pp) =
            (m.to_owned(), if xmi { "0".to_owned() } else { mi.to_owned() }, "0".to_owned());
        if gtlt == ">" {
            gtlt = ">=".to_owned();
            if xmi {
                mm = inc(&mm);
                mmi = "0".to_owned();
            } else {
                mmi = inc(&mmi);
            }
            pp = "0".to_owned();
        } else if gtlt == "<=" {
            gtlt = "<".to_owned();
            if xmi {
                mm = inc(&mm);
            } else {
                mmi = inc(&mmi);
            }
        }
        if gtlt == "<" {
            pr = "-0";
        }
        format!("{gtlt}{mm}.{mmi}.{pp}{pr}")
    } else if xmi {
        format!(">={m}.0.0{pr} <{}.0.0-0", inc(m))
    } else if xp {
        format!(">={m}.{mi}.0{pr} <{m}.{}.0-0", inc(mi))
    } else {
        c.to_owned()
    }
}

/// An x-range with a number after a wildcard (`1.x.5`, `x.1`) is invalid.
fn bad_x(c: &str, o: Options) -> bool {
    let rs = res(o);
    [&rs.xrange, &rs.tilde, &rs.caret].iter().any(|r| {
        r.captures(c).is_some_and(|caps| {
            let off = usize::from(std::ptr::eq(*r, &rs.xrange));
            let g = |i: usize| caps.get(i + off).map_or("", |m| m.as_str());
            let parts = [g(1), g(2), g(3)];
            parts
                .iter()
                .enumerate()
                .any(|(i, x)| is_x(x) && !x.is_empty() && parts.iter().skip(i + 1).any(|y| !y.is_empty() && !is_x(y)))
        })
    })
}

fn parse_comparator(c: &str, o: Options) -> String {
    let s: Vec<String> = c.split_whitespace().map(|x| replace_caret(x, o)).collect();
    let s: Vec<String> = s.join(" ").split_whitespace().map(|x| replace_tilde(x, o)).collect();
    let s: Vec<String> = s.join(" ").split_whitespace().map(|x| replace_xrange(x, o)).collect();
    STAR.replace_all(s.join(" ").trim(), "").into_owned()
}

impl Range {
    /// Parses a range (`new Range(r, options)`).
    pub fn parse(raw: &str, o: Options) -> Result<Self, Invalid> {
        if raw.len() > 4096 {
            return Err(Invalid("SemVer Range", raw.to_owned()));
        }
        let raw = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut set = Vec::new();
        for part in raw.split("||") {
            let comps = Self::parse_range(part.trim(), o)?;
            if !comps.is_empty() {
                set.push(comps);
            }
        }
        if set.is_empty() {
            return Err(Invalid("SemVer Range", raw));
        }
        if set.len() > 1 {
            let first = set.first().cloned().unwrap_or_default();
            set.retain(|c| !c.first().is_some_and(Comparator::is_null_set));
            if set.is_empty() {
                set = vec![first];
            } else if let Some(any) =
                set.iter().find(|c| c.len() == 1 && c.first().is_some_and(|x| x.version.is_none()))
            {
                set = vec![any.clone()];
            }
        }
        Ok(Range { set, options: o })
    }

    fn parse_range(r: &str, o: Options) -> Result<Vec<Comparator>, Invalid> {
        let rs = res(o);
        let r = match rs.hyphen.captures(r) {
            Some(caps) => hyphen_replace(&caps, o.include_prerelease),
            None => r.to_owned(),
        };
        let r = rs.comparator_trim.replace_all(&r, "$1$2$3");
        let r = TILDE_TRIM.replace_all(&r, "$1~");
        let r = CARET_TRIM.replace_all(&r, "$1^");
        if r.split_whitespace().any(|c| bad_x(c, o)) {
            return Err(Invalid("comparator", r.into_owned()));
        }
        let parsed: Vec<String> = r.split(' ').map(|c| parse_comparator(c, o)).collect();
        let mut list: Vec<String> = parsed
            .join(" ")
            .split_whitespace()
            .map(|c| {
                if o.include_prerelease {
                    if c == ">=0.0.0-0" { String::new() } else { c.to_owned() }
                } else if c == ">=0.0.0" {
                    String::new()
                } else {
                    c.to_owned()
                }
            })
            .collect();
        if list.is_empty() {
            list.push(String::new());
        }
        if o.loose {
            list.retain(|c| LOOSE.comparator.is_match(c));
        }
        let mut out: Vec<Comparator> = Vec::new();
        for c in list {
            let comp = Comparator::parse(&c, o)?;
            if comp.is_null_set() {
                return Ok(vec![comp]);
            }
            if !out.contains(&comp) {
                out.push(comp);
            }
        }
        if out.len() > 1 {
            out.retain(|c| c.version.is_some());
        }
        Ok(out)
    }

    /// Whether `v` satisfies the range (node-semver's `Range.test`).
    #[must_use]
    pub fn test(&self, v: &SemVer) -> bool {
        self.set.iter().any(|set| {
            if !set.iter().all(|c| c.test(v)) {
                return false;
            }
            if !v.pre.is_empty() && !self.options.include_prerelease {
                return set
                    .iter()
                    .any(|c| c.version.as_ref().is_some_and(|s| !s.pre.is_empty() && s.main() == v.main()));
            }
            true
        })
    }

    /// `semver.satisfies(version, range, options)`.
    #[must_use]
    pub fn satisfies(version: &str, range: &str, o: Options) -> bool {
        let Ok(r) = Range::parse(range, o) else { return false };
        SemVer::parse(version, o).is_ok_and(|v| r.test(&v))
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sets: Vec<String> = self
            .set
            .iter()
            .map(|s| s.iter().map(Comparator::to_string).collect::<Vec<_>>().join(" ").trim().to_owned())
            .collect();
        f.write_str(sets.join("||").trim())
    }
}

#[cfg(test)]
mod tests {
    use super::inc;

    #[test]
    fn inc_past_u64_is_nan_not_an_overflow() {
        assert_eq!(inc("41"), "42");
        assert_eq!(inc("18446744073709551615"), "NaN");
        assert_eq!(inc("x"), "NaN");
    }
}
