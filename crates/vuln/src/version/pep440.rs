//! Python versions (PEP 440) as `packaging` parses, normalises and orders them, and version
//! specifiers (`==`, `!=`, `<=`, `>=`, `<`, `>`, `~=`, `===`, prefix `==X.*`).

use std::cmp::Ordering;

/// A pre-release label, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pre {
    /// `a`
    Alpha,
    /// `b`
    Beta,
    /// `rc`
    Rc,
}

impl Pre {
    fn as_str(self) -> &'static str {
        match self {
            Pre::Alpha => "a",
            Pre::Beta => "b",
            Pre::Rc => "rc",
        }
    }
}

/// One segment of a local version label: numbers sort after strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Local {
    /// A lower-cased alphanumeric segment.
    Str(String),
    /// A numeric segment.
    Num(u128),
}

/// A parsed PEP 440 version.
#[derive(Debug, Clone)]
pub struct Version {
    /// `N!`
    pub epoch: u128,
    /// The release numbers.
    pub release: Vec<u128>,
    /// Pre-release.
    pub pre: Option<(Pre, u128)>,
    /// Post-release.
    pub post: Option<u128>,
    /// Development release.
    pub dev: Option<u128>,
    /// Local label.
    pub local: Option<Vec<Local>>,
}

struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).map(u8::to_ascii_lowercase)
    }
    fn num(&mut self) -> Option<u128> {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        if start == self.i {
            return None;
        }
        let digits = std::str::from_utf8(self.s.get(start..self.i)?).ok()?;
        // Overlong numbers: saturate (ordering of absurd versions only).
        Some(digits.parse().unwrap_or(u128::MAX))
    }
    fn sep(&mut self) -> bool {
        if matches!(self.peek(), Some(b'-' | b'_' | b'.')) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        for (k, w) in words.iter().enumerate() {
            let end = self.i + w.len();
            if let Some(s) = self.s.get(self.i..end)
                && s.eq_ignore_ascii_case(w.as_bytes())
            {
                self.i = end;
                return Some(k);
            }
        }
        None
    }
}

/// Why a version string is not PEP 440.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid version: {0:?}")]
pub struct InvalidVersion(pub String);

impl std::str::FromStr for Version {
    type Err = InvalidVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl Version {
    /// Parses a version the way `packaging.version.Version` does.
    pub fn parse(input: &str) -> Result<Self, InvalidVersion> {
        let err = || InvalidVersion(input.to_owned());
        let t = input.trim_matches(char::is_whitespace);
        if t.len() > 4096 {
            return Err(err());
        }
        let mut c = Cur { s: t.as_bytes(), i: 0 };
        if c.peek() == Some(b'v') {
            c.i += 1;
        }
        let first = c.num().ok_or_else(err)?;
        let (epoch, mut release) = if c.peek() == Some(b'!') {
            c.i += 1;
            (first, vec![c.num().ok_or_else(err)?])
        } else {
            (0, vec![first])
        };
        while c.peek() == Some(b'.') && c.s.get(c.i + 1).is_some_and(u8::is_ascii_digit) {
            c.i += 1;
            release.push(c.num().ok_or_else(err)?);
        }
        // pre
        let mut pre = None;
        {
            let save = c.i;
            c.sep();
            match c.word(&["alpha", "a", "beta", "b", "preview", "pre", "c", "rc"]) {
                Some(k) => {
                    let l = match k {
                        0 | 1 => Pre::Alpha,
                        2 | 3 => Pre::Beta,
                        _ => Pre::Rc,
                    };
                    let s2 = c.i;
                    let had = c.sep();
                    let n = c.num();
                    if n.is_none() && had && !matches!(c.peek(), None | Some(b'+')) && !next_group(&c) {
                        c.i = s2;
                    }
                    pre = Some((l, n.unwrap_or(0)));
                }
                None => c.i = save,
            }
        }
        // post
        let mut post = None;
        {
            let save = c.i;
            if c.peek() == Some(b'-') && c.s.get(c.i + 1).is_some_and(u8::is_ascii_digit) {
                c.i += 1;
                post = c.num();
            } else {
                c.sep();
                if c.word(&["post", "rev", "r"]).is_some() {
                    let s2 = c.i;
                    let had = c.sep();
                    let n = c.num();
                    if n.is_none() && had && !matches!(c.peek(), None | Some(b'+')) && !next_group(&c) {
                        c.i = s2;
                    }
                    post = Some(n.unwrap_or(0));
                } else {
                    c.i = save;
                }
            }
        }
        // dev
        let mut dev = None;
        {
            let save = c.i;
            c.sep();
            if c.word(&["dev"]).is_some() {
                let s2 = c.i;
                let had = c.sep();
                let n = c.num();
                if n.is_none() && had && !matches!(c.peek(), None | Some(b'+')) {
                    c.i = s2;
                }
                dev = Some(n.unwrap_or(0));
            } else {
                c.i = save;
            }
        }
        let mut local = None;
        if c.peek() == Some(b'+') {
            let rest = t.get(c.i + 1..).ok_or_else(err)?;
            let mut segs = Vec::new();
            for part in rest.split(['-', '_', '.']) {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(err());
                }
                segs.push(if part.bytes().all(|b| b.is_ascii_digit()) {
                    Local::Num(part.parse().unwrap_or(u128::MAX))
                } else {
                    Local::Str(part.to_ascii_lowercase())
                });
            }
            local = Some(segs);
            c.i = t.len();
        }
        if c.i != t.len() {
            return Err(err());
        }
        Ok(Version { epoch, release, pre, post, dev, local })
    }

    /// Whether this is a pre-release (pre or dev).
    #[must_use]
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// Whether this is a post-release.
    #[must_use]
    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    /// Whether this is a development release.
    #[must_use]
    pub fn is_devrelease(&self) -> bool {
        self.dev.is_some()
    }

    /// The version without its local label.
    #[must_use]
    pub fn public(&self) -> Version {
        Version { local: None, ..self.clone() }
    }

    /// `epoch!release` only.
    #[must_use]
    pub fn base(&self) -> Version {
        Version { epoch: self.epoch, release: self.release.clone(), pre: None, post: None, dev: None, local: None }
    }

    /// The local label as `packaging` prints it.
    #[must_use]
    pub fn local_str(&self) -> Option<String> {
        self.local.as_ref().map(|l| {
            l.iter()
                .map(|s| match s {
                    Local::Str(s) => s.clone(),
                    Local::Num(n) => n.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        })
    }

    fn key(&self) -> impl Ord + '_ {
        let mut rel: &[u128] = &self.release;
        while let [head @ .., 0] = rel {
            rel = head;
        }
        // pre: no pre/post but dev => before everything; no pre => after every pre.
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (0u8, None),
            (None, _, _) => (2, None),
            (Some(p), _, _) => (1, Some(p)),
        };
        let post = self.post.map_or((0u8, 0), |p| (1, p));
        let dev = self.dev.map_or((1u8, 0), |d| (0, d));
        let local = self.local.as_ref().map_or((0u8, &[][..]), |l| (1, &l[..]));
        (self.epoch, rel, pre, post, dev, local)
    }
}

fn next_group(c: &Cur<'_>) -> bool {
    let rest = c.s.get(c.i..).unwrap_or_default().to_ascii_lowercase();
    ["post", "rev", "r", "dev"].iter().any(|w| rest.starts_with(w.as_bytes()))
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let rel: Vec<String> = self.release.iter().map(u128::to_string).collect();
        f.write_str(&rel.join("."))?;
        if let Some((l, n)) = self.pre {
            write!(f, "{}{n}", l.as_str())?;
        }
        if let Some(p) = self.post {
            write!(f, ".post{p}")?;
        }
        if let Some(d) = self.dev {
            write!(f, ".dev{d}")?;
        }
        if let Some(l) = self.local_str() {
            write!(f, "+{l}")?;
        }
        Ok(())
    }
}

/// Compares two versions; invalid versions sort before valid ones and among themselves as strings.
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// A version specifier operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `~=`
    Compatible,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `===`
    Arbitrary,
}

/// One specifier such as `>=1.0` or `==2.*`.
#[derive(Debug, Clone)]
pub struct Specifier {
    /// The operator.
    pub op: Op,
    /// The version text as written (without blanks), `.*` included.
    pub version: String,
}

/// Why a specifier is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid specifier: {0:?}")]
pub struct InvalidSpecifier(pub String);

fn is_release_only(v: &str) -> bool {
    Version::parse(v).is_ok_and(|x| x.pre.is_none() && x.post.is_none() && x.dev.is_none() && x.local.is_none())
        && !v.trim().starts_with(['v', 'V'])
}

impl Specifier {
    /// Parses one specifier with `packaging`'s validation rules.
    pub fn parse(s: &str) -> Result<Self, InvalidSpecifier> {
        let err = || InvalidSpecifier(s.to_owned());
        let t = s.trim_matches(char::is_whitespace);
        let (op, rest) = [
            ("===", Op::Arbitrary),
            ("~=", Op::Compatible),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .iter()
        .find_map(|(p, op)| t.strip_prefix(p).map(|r| (*op, r)))
        .ok_or_else(err)?;
        let v = rest.trim_start_matches(char::is_whitespace);
        if v.is_empty() || v.contains(char::is_whitespace) {
            return Err(err());
        }
        match op {
            Op::Arbitrary => {}
            Op::Eq | Op::Ne => {
                if let Some(prefix) = v.strip_suffix(".*") {
                    let ok = Version::parse(prefix)
                        .is_ok_and(|x| x.pre.is_none() && x.post.is_none() && x.dev.is_none() && x.local.is_none());
                    if !ok {
                        return Err(err());
                    }
                } else if Version::parse(v).is_err() {
                    return Err(err());
                }
            }
            Op::Compatible => {
                let x = Version::parse(v).map_err(|_| err())?;
                if x.local.is_some() || x.release.len() < 2 {
                    return Err(err());
                }
            }
            _ => {
                let x = Version::parse(v).map_err(|_| err())?;
                if x.local.is_some() {
                    return Err(err());
                }
            }
        }
        let _ = is_release_only;
        Ok(Specifier { op, version: v.to_owned() })
    }

    /// Whether `item` satisfies this specifier (pre-releases match, as `packaging` 26 does
    /// for a single version).
    #[must_use]
    pub fn contains(&self, item: &str) -> bool {
        if self.op == Op::Arbitrary {
            return item.trim().eq_ignore_ascii_case(&self.version);
        }
        let Ok(v) = Version::parse(item) else { return false };
        self.contains_version(&v)
    }

    /// [`Specifier::contains`] for a parsed version.
    #[must_use]
    pub fn contains_version(&self, v: &Version) -> bool {
        let spec = || Version::parse(&self.version).ok();
        match self.op {
            Op::Arbitrary => v.to_string().eq_ignore_ascii_case(&self.version),
            Op::Eq => equal(v, &self.version),
            Op::Ne => !equal(v, &self.version),
            Op::Le => spec().is_some_and(|s| v.public() <= s),
            Op::Ge => spec().is_some_and(|s| v.public() >= s),
            Op::Lt => {
                spec().is_some_and(|s| v < &s && !(!s.is_prerelease() && v.is_prerelease() && v.base() == s.base()))
            }
            Op::Gt => spec().is_some_and(|s| {
                v > &s
                    && !(!s.is_postrelease() && v.is_postrelease() && v.base() == s.base())
                    && !(v.local.is_some() && v.public() == s)
            }),
            Op::Compatible => spec().is_some_and(|s| {
                let mut rel = s.release.clone();
                rel.pop();
                let prefix = Version { epoch: s.epoch, release: rel, pre: None, post: None, dev: None, local: None };
                v.public() >= s && equal(v, &format!("{prefix}.*"))
            }),
        }
    }
}

fn split_release(v: &Version) -> Vec<String> {
    let mut out = vec![format!("{}!", v.epoch)];
    out.extend(v.release.iter().map(u128::to_string));
    out
}

fn equal(v: &Version, spec: &str) -> bool {
    if let Some(prefix) = spec.strip_suffix(".*") {
        let Ok(p) = Version::parse(prefix) else { return false };
        let want = split_release(&p);
        // The candidate's public version split into epoch, release numbers and then its
        // pre/post/dev parts; release padded with zeros to the prefix's length.
        let mut have = split_release(v);
        while have.len() < want.len() {
            have.push("0".to_owned());
        }
        if v.pre.is_some() || v.post.is_some() || v.dev.is_some() {
            // pre/post/dev follow the release: they only matter if the prefix is longer.
            let n = 1 + v.release.len();
            if want.len() > n.max(1) && have.len() == n {
                return false;
            }
        }
        return have.get(..want.len()) == Some(&want[..]);
    }
    let Ok(s) = Version::parse(spec) else { return false };
    if s.local.is_none() { v.public() == s } else { *v == s }
}

/// A comma-separated set of specifiers (all must hold).
#[derive(Debug, Clone, Default)]
pub struct SpecifierSet(pub Vec<Specifier>);

impl SpecifierSet {
    /// Parses `">=1.0, <2"`; an empty string is the empty set (matches everything).
    pub fn parse(s: &str) -> Result<Self, InvalidSpecifier> {
        let mut out = Vec::new();
        for part in s.split(',') {
            if part.trim().is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(InvalidSpecifier(s.to_owned()));
            }
            out.push(Specifier::parse(part)?);
        }
        Ok(SpecifierSet(out))
    }

    /// Whether every specifier contains `item`.
    #[must_use]
    pub fn contains(&self, item: &str) -> bool {
        self.0.iter().all(|s| s.contains(item))
    }
}
