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

    /// node-semver's `compareIdentifiers(this, id) === 0`: digit strings compare as numbers.
    fn same(&self, id: &str) -> bool {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match self {
            Ident::Num(n) => digits(id) && id.parse::<u64>().is_ok_and(|m| m == *n),
            Ident::Str(s) => {
                s == id || (digits(s) && digits(id) && s.trim_start_matches('0') == id.trim_start_matches('0'))
            }
        }
    }

    /// Whether JavaScript's `isNaN` is false for it: numbers, and strings `Number()` reads as one
    /// (`0x10`, `1e5`, `-1`, `Infinity`; the characters an identifier may hold).
    fn is_number_like(&self) -> bool {
        match self {
            Ident::Num(_) => true,
            Ident::Str(s) => JS_NUMBER.is_match(s),
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
    // Non-numeric first, as in node-semver: it matters where the match is not anchored (`inc`).
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
    /// `-` and dot-separated identifiers, not anchored (node-semver's `PRERELEASE`).
    prerelease: Regex,
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
        prerelease: re(&pre(loose)),
    }
}

static STRICT: LazyLock<Res> = LazyLock::new(|| build(false));
static LOOSE: LazyLock<Res> = LazyLock::new(|| build(true));
static TILDE_TRIM: LazyLock<Regex> = LazyLock::new(|| re(r"(\s*)(?:~>?)\s+"));
static CARET_TRIM: LazyLock<Regex> = LazyLock::new(|| re(r"(\s*)(?:\^)\s+"));
static STAR: LazyLock<Regex> = LazyLock::new(|| re(r"(<|>)?=?\s*\*"));
/// What JavaScript's `Number()` reads as a number, among strings of `[a-zA-Z0-9-]`.
static JS_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:-?(?:Infinity|[0-9]+(?:[eE]-?[0-9]+)?)|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)?$"));

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

    /// The next version of the `release` kind (node-semver's `SemVer.inc`); `identifier` names
    /// the pre-release (`beta` in `1.2.4-beta.0`, empty = none) and `base` its first number.
    /// `o.loose` decides which identifiers are allowed.
    ///
    /// # Errors
    /// `release` on a version that is no pre-release, an identifier that is no valid pre-release,
    /// [`PreBase::Omit`] without an identifier or with the one the version already has.
    pub fn inc(&self, release: Release, identifier: &str, base: PreBase, o: Options) -> Result<Self, Invalid> {
        if release.is_pre() {
            if identifier.is_empty() && base == PreBase::Omit {
                return Err(Invalid("increment argument", "identifier is empty".to_owned()));
            }
            // The longest valid pre-release at the start of `-identifier` must be all of it.
            let whole = identifier.is_empty()
                || res(o)
                    .prerelease
                    .captures(&format!("-{identifier}"))
                    .and_then(|c| c.get(1))
                    .is_some_and(|m| m.as_str() == identifier);
            if !whole {
                return Err(Invalid("identifier", identifier.to_owned()));
            }
        }
        let one = |n: u64| n.checked_add(1).ok_or_else(|| Invalid("Version", self.to_string()));
        let mut v = self.clone();
        match release {
            Release::Major => {
                if v.minor != 0 || v.patch != 0 || v.pre.is_empty() {
                    v.major = one(v.major)?;
                }
                (v.minor, v.patch) = (0, 0);
                v.pre.clear();
            }
            Release::Minor => {
                if v.patch != 0 || v.pre.is_empty() {
                    v.minor = one(v.minor)?;
                }
                v.patch = 0;
                v.pre.clear();
            }
            Release::Patch => {
                if v.pre.is_empty() {
                    v.patch = one(v.patch)?;
                }
                v.pre.clear();
            }
            Release::PreMajor => {
                (v.major, v.minor, v.patch) = (one(v.major)?, 0, 0);
                v.pre.clear();
                v.bump_pre(identifier, base)?;
            }
            Release::PreMinor => {
                (v.minor, v.patch) = (one(v.minor)?, 0);
                v.pre.clear();
                v.bump_pre(identifier, base)?;
            }
            Release::PrePatch => {
                v.patch = one(v.patch)?;
                v.pre.clear();
                v.bump_pre(identifier, base)?;
            }
            Release::PreRelease => {
                if v.pre.is_empty() {
                    v.patch = one(v.patch)?;
                }
                v.bump_pre(identifier, base)?;
            }
            Release::Release => {
                if v.pre.is_empty() {
                    return Err(Invalid("prerelease", self.to_string()));
                }
                v.pre.clear();
            }
            Release::Pre => v.bump_pre(identifier, base)?,
        }
        Ok(v)
    }

    /// node-semver's `inc('pre')`: bump the last number of the pre-release (or add one), then
    /// switch to `identifier` unless the pre-release already starts with it and a number follows.
    fn bump_pre(&mut self, identifier: &str, base: PreBase) -> Result<(), Invalid> {
        let first = u64::from(base == PreBase::One);
        if self.pre.is_empty() {
            self.pre.push(Ident::Num(first));
        } else if let Some(n) = self.pre.iter_mut().rev().find_map(|i| match i {
            Ident::Num(n) => Some(n),
            Ident::Str(_) => None,
        }) {
            *n = n.checked_add(1).ok_or_else(|| Invalid("prerelease", n.to_string()))?;
        } else {
            if base == PreBase::Omit && self.pre_string() == identifier {
                return Err(Invalid("increment argument", "identifier already exists".to_owned()));
            }
            self.pre.push(Ident::Num(first));
        }
        if identifier.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = identifier.split('.').collect();
        let prefixed = ids.len() <= self.pre.len() && self.pre.iter().zip(&ids).all(|(a, b)| a.same(b));
        if !(prefixed && self.pre.get(ids.len()).is_some_and(Ident::is_number_like)) {
            self.pre = ids.into_iter().map(Ident::parse).collect();
            if base != PreBase::Omit {
                self.pre.push(Ident::Num(first));
            }
        }
        Ok(())
    }

    fn pre_string(&self) -> String {
        self.pre.iter().map(Ident::to_string).collect::<Vec<_>>().join(".")
    }

    /// The version cut down to `release` (node-semver's `truncate`): `major` keeps the major
    /// number, `minor` major and minor, `patch` all three; the `pre…` kinds keep the pre-release
    /// too. Build metadata always goes. `None` for [`Release::Release`] and [`Release::Pre`].
    #[must_use]
    pub fn truncate(&self, release: Release) -> Option<Self> {
        let mut v = SemVer { build: Vec::new(), ..self.clone() };
        match release {
            Release::PreMajor | Release::PreMinor | Release::PrePatch | Release::PreRelease => {}
            Release::Major => (v.minor, v.patch, v.pre) = (0, 0, Vec::new()),
            Release::Minor => (v.patch, v.pre) = (0, Vec::new()),
            Release::Patch => v.pre.clear(),
            Release::Release | Release::Pre => return None,
        }
        Some(v)
    }
}

/// What [`SemVer::inc`] bumps: node-semver's release types, `release` and `pre`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// `major`: `1.2.3` → `2.0.0`, `2.0.0-1` → `2.0.0`.
    Major,
    /// `premajor`: `1.2.3` → `2.0.0-0`.
    PreMajor,
    /// `minor`: `1.2.3` → `1.3.0`, `1.3.0-1` → `1.3.0`.
    Minor,
    /// `preminor`: `1.2.3` → `1.3.0-0`.
    PreMinor,
    /// `patch`: `1.2.3` → `1.2.4`, `1.2.4-1` → `1.2.4`.
    Patch,
    /// `prepatch`: `1.2.3` → `1.2.4-0`.
    PrePatch,
    /// `prerelease`: `1.2.3-0` → `1.2.3-1`, `1.2.3` → `1.2.4-0`.
    PreRelease,
    /// `release`: `1.2.3-0` → `1.2.3` (an error without a pre-release).
    Release,
    /// `pre`: `1.2.3-0` → `1.2.3-1`, `1.2.3` → `1.2.3-0`.
    Pre,
}

impl Release {
    /// node-semver's name of it (`"premajor"`); `None` for anything else.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "major" => Release::Major,
            "premajor" => Release::PreMajor,
            "minor" => Release::Minor,
            "preminor" => Release::PreMinor,
            "patch" => Release::Patch,
            "prepatch" => Release::PrePatch,
            "prerelease" => Release::PreRelease,
            "release" => Release::Release,
            "pre" => Release::Pre,
            _ => return None,
        })
    }

    fn is_pre(self) -> bool {
        matches!(self, Release::PreMajor | Release::PreMinor | Release::PrePatch | Release::PreRelease | Release::Pre)
    }
}

/// The number a new pre-release counter starts at (node-semver's `identifierBase`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PreBase {
    /// `0` (`beta.0`), also what any value JavaScript's `Number()` reads as 0 or NaN gives.
    #[default]
    Zero,
    /// `1` (`beta.1`), what any non-zero number gives.
    One,
    /// No number (`beta`): node-semver's `false`.
    Omit,
}

/// `semver.inc(version, release, options, identifier, identifierBase)`: the incremented
/// version, `None` where the version, release or identifier is invalid.
#[must_use]
pub fn inc(version: &str, release: &str, o: Options, identifier: &str, base: PreBase) -> Option<String> {
    let release = Release::parse(release)?;
    SemVer::parse(version, o).ok()?.inc(release, identifier, base, o).ok().map(|v| v.to_string())
}

/// `semver.truncate(version, truncation, options)`: `None` where the version is invalid or
/// `truncation` is no release type (`major` … `prerelease`).
#[must_use]
pub fn truncate(version: &str, truncation: &str, o: Options) -> Option<String> {
    let release = Release::parse(truncation)?;
    SemVer::parse(version, o).ok()?.truncate(release).map(|v| v.to_string())
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
    /// Parses one comparator (`new Comparator(c, options)`): `>=1.2.3`, `1.2.3`, or empty for any.
    ///
    /// # Errors
    /// Anything else, including x-ranges, `~` and `^` (those are ranges).
    pub fn new(c: &str, o: Options) -> Result<Self, Invalid> {
        Self::parse(&c.split_whitespace().collect::<Vec<_>>().join(" "), o)
    }

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

    /// Whether some version satisfies both comparators (node-semver's `Comparator.intersects`).
    #[must_use]
    pub fn intersects(&self, other: &Comparator, o: Options) -> bool {
        // An exact version: does the other side, read as a range, take it?
        let within = |c: &Comparator, v: &SemVer| Range::parse(&c.to_string(), o).is_ok_and(|r| r.test(v));
        let (a, b) = match (&self.version, &other.version) {
            (None, _) => return true,
            (Some(a), _) if self.op == CmpOp::Eq => return within(other, a),
            (_, None) => return true,
            (Some(_), Some(b)) if other.op == CmpOp::Eq => return within(self, b),
            (Some(a), Some(b)) => (a, b),
        };
        // Nothing lies below 0.0.0-0 (below 0.0.0 without pre-releases).
        let (this, that) = (self.to_string(), other.to_string());
        if o.include_prerelease {
            if this == "<0.0.0-0" || that == "<0.0.0-0" {
                return false;
            }
        } else if this.starts_with("<0.0.0") || that.starts_with("<0.0.0") {
            return false;
        }
        let up = |op| matches!(op, CmpOp::Gt | CmpOp::Ge);
        let down = |op| matches!(op, CmpOp::Lt | CmpOp::Le);
        let closed = |op| matches!(op, CmpOp::Ge | CmpOp::Le);
        let (x, y) = (self.op, other.op);
        (up(x) && up(y))
            || (down(x) && down(y))
            || (a.cmp(b) == Ordering::Equal && closed(x) && closed(y))
            || (a < b && up(x) && down(y))
            || (a > b && down(x) && up(y))
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

fn succ(s: &str) -> String {
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
        format!("<{}.0.0-0", succ(tm))
    } else if is_x(tp) {
        format!("<{tm}.{}.0-0", succ(tmi))
    } else if !tpr.is_empty() {
        format!("<={tm}.{tmi}.{tp}-{tpr}")
    } else if inc_pr {
        format!("<{tm}.{tmi}.{}-0", succ(tp))
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
        format!(">={m}.0.0{z} <{}.0.0-0", succ(m))
    } else if is_x(p) {
        format!(">={m}.{mi}.0{z} <{m}.{}.0-0", succ(mi))
    } else if !pr.is_empty() {
        format!(">={m}.{mi}.{p}-{pr} <{m}.{}.0-0", succ(mi))
    } else {
        format!(">={m}.{mi}.{p} <{m}.{}.0-0", succ(mi))
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
        format!(">={m}.0.0{z} <{}.0.0-0", succ(m))
    } else if is_x(p) {
        if m == "0" {
            format!(">={m}.{mi}.0{z} <{m}.{}.0-0", succ(mi))
        } else {
            format!(">={m}.{mi}.0{z} <{}.0.0-0", succ(m))
        }
    } else if !pr.is_empty() {
        if m == "0" {
            if mi == "0" {
                format!(">={m}.{mi}.{p}-{pr} <{m}.{mi}.{}-0", succ(p))
            } else {
                format!(">={m}.{mi}.{p}-{pr} <{m}.{}.0-0", succ(mi))
            }
        } else {
            format!(">={m}.{mi}.{p}-{pr} <{}.0.0-0", succ(m))
        }
    } else if m == "0" {
        if mi == "0" {
            format!(">={m}.{mi}.{p} <{m}.{mi}.{}-0", succ(p))
        } else {
            format!(">={m}.{mi}.{p} <{m}.{}.0-0", succ(mi))
        }
    } else {
        format!(">={m}.{mi}.{p} <{}.0.0-0", succ(m))
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
                mm = succ(&mm);
                mmi = "0".to_owned();
            } else {
                mmi = succ(&mmi);
            }
            pp = "0".to_owned();
        } else if gtlt == "<=" {
            gtlt = "<".to_owned();
            if xmi {
                mm = succ(&mm);
            } else {
                mmi = succ(&mmi);
            }
        }
        if gtlt == "<" {
            pr = "-0";
        }
        format!("{gtlt}{mm}.{mmi}.{pp}{pr}")
    } else if xmi {
        format!(">={m}.0.0{pr} <{}.0.0-0", succ(m))
    } else if xp {
        format!(">={m}.{mi}.0{pr} <{m}.{}.0-0", succ(mi))
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

    /// Whether some comparator set of each range can hold together (node-semver's
    /// `Range.intersects`): every comparator of one intersects every comparator of the other.
    #[must_use]
    pub fn intersects(&self, other: &Range, o: Options) -> bool {
        self.set.iter().any(|mine| {
            satisfiable(mine, o)
                && other.set.iter().any(|theirs| {
                    satisfiable(theirs, o) && mine.iter().all(|a| theirs.iter().all(|b| a.intersects(b, o)))
                })
        })
    }

    /// Whether `v` lies beyond every version the range allows, on `side` (node-semver's
    /// `outside`, what `gtr` and `ltr` ask).
    #[must_use]
    pub fn outside(&self, v: &SemVer, side: Side) -> bool {
        if self.test(v) {
            return false;
        }
        // `comp`/`ecomp` in node-semver: the operators that leave the range open on `side`.
        let (beyond, open, open_eq) = match side {
            Side::Above => (Ordering::Greater, CmpOp::Gt, CmpOp::Ge),
            Side::Below => (Ordering::Less, CmpOp::Lt, CmpOp::Le),
        };
        let zero = SemVer { major: 0, minor: 0, patch: 0, pre: Vec::new(), build: Vec::new() };
        for set in &self.set {
            // The any-comparator counts as `>=0.0.0`.
            let mut comps = set.iter().map(|c| c.version.as_ref().map_or((CmpOp::Ge, &zero), |s| (c.op, s)));
            let Some(first) = comps.next() else { continue };
            // The comparator furthest towards `side` (the first of equals) and the one furthest back.
            let (mut edge, mut back) = (first, first);
            for c in comps {
                if c.1.cmp(edge.1) == beyond {
                    edge = c;
                } else if c.1.cmp(back.1) == beyond.reverse() {
                    back = c;
                }
            }
            if edge.0 == open || edge.0 == open_eq {
                return false;
            }
            let at = v.cmp(back.1);
            if ((back.0 == CmpOp::Eq || back.0 == open) && at != beyond)
                || (back.0 == open_eq && at == beyond.reverse())
            {
                return false;
            }
        }
        true
    }
}

/// node-semver's `isSatisfiable`: each comparator intersects every one before it.
fn satisfiable(set: &[Comparator], o: Options) -> bool {
    let mut rest = set;
    while let Some((last, before)) = rest.split_last() {
        if !before.iter().all(|c| last.intersects(c, o)) {
            return false;
        }
        rest = before;
    }
    true
}

/// Which side of a range [`Range::outside`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Above every version of the range (`gtr`, hilo `>`).
    Above,
    /// Below every version of the range (`ltr`, hilo `<`).
    Below,
}

/// `semver.outside(version, range, hilo, options)`.
///
/// # Errors
/// An invalid version or range.
pub fn outside(version: &str, range: &str, side: Side, o: Options) -> Result<bool, Invalid> {
    let v = SemVer::parse(version, o)?;
    Ok(Range::parse(range, o)?.outside(&v, side))
}

/// `semver.gtr(version, range, options)`: `version` is above every version of `range`.
///
/// # Errors
/// An invalid version or range.
pub fn gtr(version: &str, range: &str, o: Options) -> Result<bool, Invalid> {
    outside(version, range, Side::Above, o)
}

/// `semver.ltr(version, range, options)`: `version` is below every version of `range`.
///
/// # Errors
/// An invalid version or range.
pub fn ltr(version: &str, range: &str, o: Options) -> Result<bool, Invalid> {
    outside(version, range, Side::Below, o)
}

/// `semver.intersects(r1, r2, options)`: some version satisfies both ranges.
///
/// # Errors
/// An invalid range.
pub fn intersects(r1: &str, r2: &str, o: Options) -> Result<bool, Invalid> {
    Ok(Range::parse(r1, o)?.intersects(&Range::parse(r2, o)?, o))
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
    use super::*;

    #[test]
    fn succ_past_u64_is_nan_not_an_overflow() {
        assert_eq!(succ("41"), "42");
        assert_eq!(succ("18446744073709551615"), "NaN");
        assert_eq!(succ("x"), "NaN");
    }

    // Expected values below are what node-semver 7.8.5 gives.

    fn inc_str(v: &str, release: &str, id: &str, base: PreBase) -> Option<String> {
        inc(v, release, Options::default(), id, base)
    }

    #[test]
    fn inc_keeps_a_following_identifier_javascript_reads_as_a_number() {
        // isNaN("0x10"), isNaN("1e5"), isNaN("-1"), isNaN("Infinity") are all false.
        for tail in ["0x10", "1e5", "-1", "Infinity"] {
            let want = format!("1.2.3-dev.{tail}.0");
            assert_eq!(inc_str(&format!("1.2.3-dev.{tail}"), "prerelease", "dev", PreBase::Zero), Some(want));
        }
        assert_eq!(inc_str("1.2.3-a.01x", "prerelease", "a", PreBase::Zero).as_deref(), Some("1.2.3-a.0"));
    }

    #[test]
    fn inc_prerelease_numbers_stop_being_numbers_at_2_pow_53_minus_1() {
        let v = inc_str("1.2.3-beta.9007199254740990", "prerelease", "", PreBase::Zero);
        assert_eq!(v.as_deref(), Some("1.2.3-beta.9007199254740991"));
        // Now a string identifier: a new counter is appended.
        let v = inc_str("1.2.3-beta.9007199254740991", "prerelease", "", PreBase::Zero);
        assert_eq!(v.as_deref(), Some("1.2.3-beta.9007199254740991.0"));
    }

    #[test]
    fn inc_pre_and_identifier_checks() {
        assert_eq!(inc_str("1.2.3", "pre", "", PreBase::Zero).as_deref(), Some("1.2.3-0"));
        assert_eq!(inc_str("1.2.3", "pre", "alpha", PreBase::One).as_deref(), Some("1.2.3-alpha.1"));
        assert_eq!(inc_str("1.2.3-alpha", "pre", "alpha", PreBase::Omit), None, "identifier already exists");
        assert_eq!(inc_str("1.2.3-a.b", "prerelease", "a.b.c", PreBase::Zero).as_deref(), Some("1.2.3-a.b.c.0"));
        assert_eq!(inc_str("1.2.3", "prerelease", "01", PreBase::Zero), None, "leading zero");
        assert_eq!(inc_str("1.2.3", "prerelease", "1a", PreBase::Zero).as_deref(), Some("1.2.4-1a.0"));
        let loose = Options { loose: true, include_prerelease: false };
        assert_eq!(inc("1.2.3beta", "prerelease", loose, "1a", PreBase::Zero).as_deref(), Some("1.2.3-1a.0"));
        // Past u64 is an error, not an overflow.
        let max = SemVer { major: u64::MAX, minor: 0, patch: 0, pre: Vec::new(), build: Vec::new() };
        assert!(max.inc(Release::Major, "", PreBase::Zero, Options::default()).is_err());
    }

    #[test]
    fn unicode_digits_are_no_digits() {
        assert!(SemVer::parse("1.2.3-\u{661}a", Options::default()).is_err());
        assert!(SemVer::parse("1.2.3-\u{661}a", Options { loose: true, include_prerelease: false }).is_err());
    }

    #[test]
    fn truncate_only_release_types() {
        assert_eq!(truncate("1.2.3-x+b", "release", Options::default()), None);
        assert_eq!(truncate("1.2.3", "pre", Options::default()), None);
        assert_eq!(truncate("v1.2.3", "minor", Options::default()).as_deref(), Some("1.2.0"));
    }

    #[test]
    fn outside_and_intersects_edges() {
        let o = Options::default();
        assert_eq!(gtr("2.0.0", "*", o), Ok(false));
        assert_eq!(ltr("0.0.0", "*", o), Ok(false));
        assert_eq!(gtr("3.0.0", ">=1.0.0 <2.0.0 || <0.5.0", o), Ok(true));
        assert_eq!(ltr("0.0.1", ">=1.0.0 <2.0.0 || 0.5.0", o), Ok(true));
        assert!(gtr("x", "1.0.0", o).is_err());
        // Pre-releases only meet a range that names their tuple (or with includePrerelease).
        assert_eq!(intersects(">=1.0.0-beta", "1.0.0-alpha", o), Ok(false));
        assert_eq!(intersects("1.0.0-rc.1", ">=0.9.0", o), Ok(false));
        let ip = Options { loose: false, include_prerelease: true };
        assert_eq!(intersects("1.0.0-rc.1", ">=0.9.0", ip), Ok(true));
        // 1.0.1-0 is above 1.0.0 and below 1.0.1, but `>1.0.0` takes no pre-release of 1.0.1.
        assert_eq!(intersects(">1.0.0 <1.0.1", "1.0.1-0", o), Ok(false));
        let any = Comparator::new("", o);
        assert!(any.is_ok_and(|a| a.intersects(&Comparator { op: CmpOp::Lt, version: None }, o)));
    }
}
