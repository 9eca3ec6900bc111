//! sshd's effective configuration, computed as `sshd -T [-C spec]` computes it (OpenSSH 9.2,
//! Debian 12): the global pass (first value wins, `Include` with globs and paths relative to
//! `/etc/ssh`, accumulating keywords), the `Match` pass for a connection (matching blocks override
//! the global values; inside them the first value wins; an included file's `Match` state does not
//! leak into its parent), aliases, algorithm lists with `+`/`-`/`^`, and every value printed as
//! `sshd -T` prints it. Each value remembers the file and line that decided it.
//!
//! Not modelled: host names in `ListenAddress` are not resolved (printed as written), `Match
//! Group` needs the groups in the [`Connection`], `~` in paths is not expanded.

pub mod algos;
pub mod findings;
pub mod keywords;
pub mod lex;
pub mod matching;

use std::collections::BTreeMap;
use std::fmt;

use crate::source::{Source, glob};
use keywords::{Kind, ORDER, lookup};
use lex::{argv_split, strdelim};
use matching::{addr_match_list, match_hostname, match_pattern_list};

/// The directory relative `Include` paths resolve under.
pub const SSHDIR: &str = "/etc/ssh";
/// The main configuration file.
pub const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
const MAX_DEPTH: usize = 16;

/// A connection to evaluate `Match` blocks for (`sshd -T -C user=…,host=…,addr=…,laddr=…,lport=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// `user=`.
    pub user: Option<String>,
    /// `host=`.
    pub host: Option<String>,
    /// `addr=`.
    pub addr: Option<String>,
    /// `laddr=`.
    pub laddr: Option<String>,
    /// `lport=`.
    pub lport: Option<u16>,
    /// `rdomain=`.
    pub rdomain: Option<String>,
    /// The user's groups (sshd looks them up in the group database; here they are given).
    pub groups: Vec<String>,
}

impl std::str::FromStr for Connection {
    type Err = String;
    /// `parse_server_match_testspec`.
    fn from_str(spec: &str) -> Result<Self, String> {
        let mut c = Self::default();
        for item in spec.split(',') {
            let (k, v) = item.split_once('=').ok_or_else(|| format!("Invalid test mode specification {item}"))?;
            match k {
                "user" => c.user = Some(v.to_owned()),
                "host" => c.host = Some(v.to_owned()),
                "addr" => c.addr = Some(v.to_owned()),
                "laddr" => c.laddr = Some(v.to_owned()),
                "lport" => {
                    c.lport = Some(a2port(v).ok_or_else(|| format!("Invalid -C lport specification {v}"))?);
                }
                "rdomain" => c.rdomain = Some(v.to_owned()),
                "group" | "groups" => c.groups.extend(v.split(':').map(str::to_owned)),
                _ => return Err(format!("Invalid test mode specification {item}")),
            }
        }
        Ok(c)
    }
}

/// Where a value was decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file (absolute path as sshd names it).
    pub file: String,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One option's effective value(s), as `sshd -T` prints them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// One entry per printed line.
    pub values: Vec<String>,
    /// The deciding line (`None`: the built-in default).
    pub origin: Option<Origin>,
}

/// Why sshd refuses a configuration (it exits 255).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: String,
    /// 1-based line (0: not a line).
    pub line: usize,
    /// sshd's message.
    pub message: String,
}

/// The effective configuration.
#[derive(Clone, Debug, Default)]
pub struct Effective {
    settings: BTreeMap<&'static str, Setting>,
    /// sshd's warnings (deprecated and unsupported options).
    pub warnings: Vec<String>,
    /// Files read, in order.
    pub files: Vec<String>,
}

impl Effective {
    /// The effective value of an option (lower-case name as `sshd -T` prints it).
    #[must_use]
    pub fn get(&self, option: &str) -> Option<&Setting> {
        self.settings.get(option)
    }
    /// The first value of an option.
    #[must_use]
    pub fn value(&self, option: &str) -> Option<&str> {
        self.get(option).and_then(|s| s.values.first()).map(String::as_str)
    }
    /// `sshd -T`'s output lines: `keyword value`.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, _) in ORDER {
            if let Some(s) = self.settings.get(name) {
                for v in &s.values {
                    out.push(format!("{name} {v}"));
                }
            }
        }
        out
    }
    /// Every option in output order with its setting.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Setting)> {
        ORDER.iter().filter_map(|(n, _)| self.settings.get(n).map(|s| (*n, s)))
    }
}

#[derive(Clone, Debug)]
struct Raw {
    values: Vec<String>,
    origin: Origin,
}

#[derive(Default)]
struct Opts {
    map: BTreeMap<&'static str, Raw>,
    rekey_interval: Option<(String, Origin)>,
}

const MATCH_ONLY: u8 = 1;
const NEVERMATCH: u8 = 2;

struct Parser<'a> {
    src: &'a dyn Source,
    /// Include cache: (selector, file) — file `None` for a glob that matched nothing.
    includes: Vec<(String, Option<String>)>,
    contents: BTreeMap<String, String>,
    warnings: Vec<String>,
    files: Vec<String>,
}

fn err(file: &str, line: usize, message: impl Into<String>) -> ConfigError {
    ConfigError { file: file.to_owned(), line, message: message.into() }
}

fn a2port(s: &str) -> Option<u16> {
    let v: i64 = s.parse().ok()?;
    u16::try_from(v).ok().filter(|p| *p > 0)
}

/// `strtonum(s, 0, INT_MAX)`.
fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i64>().ok().filter(|v| *v <= i64::from(i32::MAX))
}

/// `convtime`: `90`, `1m30s`, `1h`, … in seconds.
#[must_use]
pub fn convtime(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    while i < b.len() {
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let secs: i64 = s.get(start..i)?.parse().ok()?;
        let mult = match b.get(i) {
            None => 1,
            Some(c) => {
                i += 1;
                match c {
                    b's' | b'S' => 1,
                    b'm' | b'M' => 60,
                    b'h' | b'H' => 3600,
                    b'd' | b'D' => 86400,
                    b'w' | b'W' => 604_800,
                    _ => return None,
                }
            }
        };
        total = total.checked_add(secs.checked_mul(mult)?)?;
        if total > i64::from(i32::MAX) {
            return None;
        }
    }
    Some(total)
}

/// `scan_scaled`: `1G` → 1073741824.
fn scan_scaled(s: &str) -> Option<i64> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n: i64 = s.get(..digits)?.parse().ok()?;
    let shift = match s.get(digits..)? {
        "" | "b" | "B" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        "t" | "T" => 40,
        "p" | "P" => 50,
        "e" | "E" => 60,
        _ => return None,
    };
    n.checked_mul(1i64.checked_shl(shift)?)
}

const IPQOS: &[(&str, u32)] = &[
    ("af11", 0x28),
    ("af12", 0x30),
    ("af13", 0x38),
    ("af21", 0x48),
    ("af22", 0x50),
    ("af23", 0x58),
    ("af31", 0x68),
    ("af32", 0x70),
    ("af33", 0x78),
    ("af41", 0x88),
    ("af42", 0x90),
    ("af43", 0x98),
    ("cs0", 0x00),
    ("cs1", 0x20),
    ("cs2", 0x40),
    ("cs3", 0x60),
    ("cs4", 0x80),
    ("cs5", 0xa0),
    ("cs6", 0xc0),
    ("cs7", 0xe0),
    ("ef", 0xb8),
    ("le", 0x04),
    ("lowdelay", 0x10),
    ("throughput", 0x08),
    ("reliability", 0x04),
];

fn parse_ipqos(s: &str) -> Option<u32> {
    if let Some((_, v)) = IPQOS.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(*v);
    }
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(s.get(1..)?, 8).ok()?
    } else {
        s.parse().ok()?
    };
    (v <= 255).then_some(v)
}

fn iptos2str(v: u32) -> String {
    IPQOS.iter().find(|(_, x)| *x == v).map_or_else(|| format!("0x{v:02x}"), |(n, _)| (*n).to_owned())
}

/// Computes the effective configuration of `main` (an absolute path in `src`) for `conn`
/// (`None`: the global configuration only, like `sshd -T` without `-C`).
///
/// # Errors
/// The configuration sshd would refuse (exit 255), with its message.
pub fn effective(src: &dyn Source, main: &str, conn: Option<&Connection>) -> Result<Effective, ConfigError> {
    let mut p =
        Parser { src, includes: Vec::new(), contents: BTreeMap::new(), warnings: Vec::new(), files: Vec::new() };
    let text = src.read(main).map_err(|e| err(main, 0, e))?;
    p.files.push(main.to_owned());
    let mut global = Opts::default();
    let mut active = true;
    p.parse_depth(&mut global, main, &text, None, 0, &mut active, 0)?;
    let mut matched = Opts::default();
    if let Some(ci) = conn {
        let mut active = false;
        p.parse_depth(&mut matched, main, &text, Some(ci), MATCH_ONLY, &mut active, 0)?;
    }
    finish(global, matched, p.warnings, p.files)
}

impl Parser<'_> {
    #[allow(clippy::too_many_arguments)]
    fn parse_depth(
        &mut self,
        opts: &mut Opts,
        file: &str,
        text: &str,
        ci: Option<&Connection>,
        mut flags: u8,
        active: &mut bool,
        depth: usize,
    ) -> Result<(), ConfigError> {
        if depth > MAX_DEPTH {
            return Err(err(file, 0, "Too many recursive configuration includes"));
        }
        for (i, line) in text.split('\n').enumerate() {
            self.line(opts, line, file, i + 1, active, ci, &mut flags, depth)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments, clippy::too_many_lines)]
    fn line(
        &mut self,
        opts: &mut Opts,
        line: &str,
        file: &str,
        linenum: usize,
        active: &mut bool,
        ci: Option<&Connection>,
        flags: &mut u8,
        depth: usize,
    ) -> Result<(), ConfigError> {
        let e = |m: String| err(file, linenum, m);
        let line = line.trim_end_matches([' ', '\t', '\r', '\n', '\x0c']);
        let line = line.trim_start_matches([' ', '\t', '\r', '\n']);
        if line.is_empty() {
            return Ok(());
        }
        let (keyword, rest) = strdelim(line).map_err(|()| e("invalid quotes".into()))?;
        if keyword.is_empty() || keyword.starts_with('#') {
            return Ok(());
        }
        let Some(rest) = rest.filter(|r| !r.is_empty()) else {
            return Err(e(format!("no argument after keyword \"{keyword}\"")));
        };
        let Some(kw) = lookup(&keyword) else {
            return Err(e(format!("Bad configuration option: {keyword}")));
        };
        let args = argv_split(rest).map_err(|()| e("invalid quotes".into()))?;
        if !*active && !kw.in_match {
            if ci.is_none() {
                return Err(e(format!("Directive '{keyword}' is not allowed within a Match block")));
            }
            return Ok(());
        }
        let origin = Origin { file: file.to_owned(), line: linenum };
        let mut args = args.into_iter();
        let mut next_arg = |what: &str| -> Result<String, ConfigError> {
            match args.next() {
                Some(a) if !a.is_empty() => Ok(a),
                _ => Err(e(format!("{keyword} missing {what}"))),
            }
        };
        let first_wins = |opts: &mut Opts, values: Vec<String>| {
            if *active && !opts.map.contains_key(kw.option) {
                opts.map.insert(kw.option, Raw { values, origin: origin.clone() });
            }
        };
        match kw.kind {
            Kind::Choice(table) => {
                let a = next_arg("argument")?;
                let Some((_, printed)) = table.iter().find(|(k, _)| k.eq_ignore_ascii_case(&a)) else {
                    return Err(e(format!("unsupported option \"{a}\".")));
                };
                first_wins(opts, vec![(*printed).to_owned()]);
            }
            Kind::Int => {
                let a = next_arg("integer value")?;
                let v = parse_int(&a).ok_or_else(|| e(format!("{keyword} integer value invalid.")))?;
                first_wins(opts, vec![v.to_string()]);
            }
            Kind::Time => {
                let a = next_arg("time value")?;
                let v = convtime(&a).ok_or_else(|| e("invalid time value.".to_string()))?;
                first_wins(opts, vec![v.to_string()]);
            }
            Kind::TimeOrNone => {
                let a = next_arg("time value")?;
                let v = if a == "none" {
                    "none".to_owned()
                } else {
                    let t = convtime(&a).ok_or_else(|| e("invalid time value.".to_owned()))?;
                    if t == 0 { "none".to_owned() } else { t.to_string() }
                };
                first_wins(opts, vec![v]);
            }
            Kind::IntOrNone => {
                let a = next_arg("argument")?;
                let v = if a == "none" {
                    "none".to_owned()
                } else {
                    parse_int(&a).ok_or_else(|| e(format!("{keyword} integer value invalid.")))?.to_string()
                };
                first_wins(opts, vec![v]);
            }
            Kind::Word => {
                let a = next_arg("argument")?;
                first_wins(opts, vec![a]);
            }
            Kind::Rest => {
                let raw = rest.trim_start_matches([' ', '\t', '\r', '\n']).to_owned();
                args.by_ref().for_each(drop);
                first_wins(opts, vec![raw]);
            }
            Kind::Algos(algo) => {
                let a = next_arg("argument")?;
                if !algo.valid(&a) {
                    return Err(e(format!("Bad {keyword} spec '{a}'.")));
                }
                first_wins(opts, vec![a]);
            }
            Kind::OneLine | Kind::FirstLineEach => {
                let all: Vec<String> = args.by_ref().collect();
                if all.is_empty() || all.iter().any(String::is_empty) {
                    return Err(e(format!("{keyword} missing argument")));
                }
                if kw.option == "setenv" && all.iter().any(|a| !a.contains('=')) {
                    return Err(e("Invalid environment.".to_owned()));
                }
                if kw.option == "authenticationmethods" && all.len() > 1 && all.iter().any(|a| a == "any") {
                    return Err(e("\"any\" must appear alone in AuthenticationMethods".to_owned()));
                }
                let values = if kw.kind == Kind::OneLine { vec![all.join(" ")] } else { all };
                first_wins(opts, values);
            }
            Kind::Accumulate => {
                let all: Vec<String> = args.by_ref().collect();
                if all.iter().any(String::is_empty) {
                    return Err(e(format!("{keyword} empty argument")));
                }
                if *active {
                    let entry =
                        opts.map.entry(kw.option).or_insert_with(|| Raw { values: Vec::new(), origin: origin.clone() });
                    entry.values.extend(all);
                }
            }
            Kind::AccumulateOne => {
                let a = next_arg("file name")?;
                if *active {
                    let entry =
                        opts.map.entry(kw.option).or_insert_with(|| Raw { values: Vec::new(), origin: origin.clone() });
                    entry.values.push(a);
                }
            }
            Kind::Port => {
                let a = next_arg("port number")?;
                let p = a2port(&a).ok_or_else(|| e("Badly formatted port number.".to_owned()))?;
                let entry =
                    opts.map.entry("port").or_insert_with(|| Raw { values: Vec::new(), origin: origin.clone() });
                entry.values.push(p.to_string());
            }
            Kind::Listen => {
                let a = next_arg("address")?;
                let (host, port) = split_listen(&a).ok_or_else(|| e("bad address:port usage".to_owned()))?;
                if let Some(r) = args.next()
                    && (r != "rdomain" || args.next().is_none())
                {
                    return Err(e("bad ListenAddress syntax".to_owned()));
                }
                let entry = opts
                    .map
                    .entry("listenaddress")
                    .or_insert_with(|| Raw { values: Vec::new(), origin: origin.clone() });
                entry.values.push(format!("{host}\u{0}{}", port.map(|p| p.to_string()).unwrap_or_default()));
            }
            Kind::Subsystem => {
                let name = next_arg("subsystem name")?;
                let cmd = next_arg("subsystem command")?;
                let more: Vec<String> = args.by_ref().collect();
                let entry =
                    opts.map.entry("subsystem").or_insert_with(|| Raw { values: Vec::new(), origin: origin.clone() });
                if entry.values.iter().any(|v| v.split(' ').next() == Some(name.as_str())) {
                    return Err(e(format!("Subsystem '{name}' already defined.")));
                }
                let mut v = format!("{name} {cmd}");
                for m in more {
                    v.push(' ');
                    v.push_str(&m);
                }
                entry.values.push(v);
            }
            Kind::MaxStartups => {
                let a = next_arg("argument")?;
                let bad = || e(format!("Invalid {keyword} spec."));
                let parts: Vec<&str> = a.splitn(3, ':').collect();
                let lead = |s: &str| -> Option<i64> {
                    let t = s.trim_start();
                    let neg = t.starts_with('-');
                    let t = t.trim_start_matches(['+', '-']);
                    let d: String = t.chars().take_while(char::is_ascii_digit).collect();
                    let v: i64 = d.parse().ok()?;
                    Some(if neg { -v } else { v })
                };
                let prev = opts.map.get("maxstartups").map(|r| r.values.clone());
                let prev_rate = prev
                    .as_ref()
                    .and_then(|v| v.first())
                    .and_then(|s| s.split(':').nth(1))
                    .and_then(|r| r.parse::<i64>().ok())
                    .unwrap_or(30);
                let (begin, rate, full) = match parts.as_slice() {
                    [b, r, f] if lead(b).is_some() && lead(r).is_some() && lead(f).is_some() => {
                        let (b, r, f) = (lead(b).unwrap_or(0), lead(r).unwrap_or(0), lead(f).unwrap_or(0));
                        if b > f || !(1..=100).contains(&r) {
                            return Err(bad());
                        }
                        (b, r, f)
                    }
                    [b, ..]
                        if lead(b).is_some()
                            && (parts.len() == 1 || lead(parts.get(1).copied().unwrap_or("")).is_none()) =>
                    {
                        let b = lead(b).unwrap_or(0);
                        (b, prev_rate, b)
                    }
                    _ => return Err(bad()),
                };
                if begin <= 0 || full <= 0 {
                    return Err(bad());
                }
                // No "first value wins" here: sshd overwrites it on every line.
                opts.map.insert(
                    "maxstartups",
                    Raw { values: vec![format!("{begin}:{rate}:{full}")], origin: origin.clone() },
                );
            }
            Kind::NetBlock => {
                let a = next_arg("argument")?;
                let bad = || e(format!("Invalid {keyword} spec."));
                let (v4, v6) = match a.split_once(':') {
                    Some((x, y)) => (parse_int(x).ok_or_else(bad)?, parse_int(y).ok_or_else(bad)?),
                    None => (parse_int(&a).ok_or_else(bad)?, 128),
                };
                if !(0..=32).contains(&v4) || !(0..=128).contains(&v6) {
                    return Err(bad());
                }
                first_wins(opts, vec![format!("{v4}:{v6}")]);
            }
            Kind::IpQos => {
                let a = next_arg("argument")?;
                let v1 = parse_ipqos(&a).ok_or_else(|| e(format!("Bad {keyword} value: {a}")))?;
                let v2 = match args.next() {
                    Some(b) => parse_ipqos(&b).ok_or_else(|| e(format!("Bad {keyword} value: {b}")))?,
                    None => v1,
                };
                // No "first value wins" here: sshd 9.2 overwrites IPQoS on every active line.
                if *active {
                    opts.map.insert(
                        kw.option,
                        Raw { values: vec![format!("{} {}", iptos2str(v1), iptos2str(v2))], origin: origin.clone() },
                    );
                }
            }
            Kind::RekeyLimit => {
                let a = next_arg("argument")?;
                let limit = if a == "default" {
                    0
                } else {
                    let v = scan_scaled(&a).ok_or_else(|| e(format!("Bad {keyword} value: {a}")))?;
                    if v != 0 && v < 16 {
                        return Err(e("RekeyLimit too small".to_owned()));
                    }
                    v
                };
                first_wins(opts, vec![limit.to_string()]);
                if let Some(t) = args.next()
                    && t != "none"
                {
                    let secs = convtime(&t).ok_or_else(|| e("invalid time value.".to_owned()))?;
                    if *active && opts.rekey_interval.is_none() {
                        opts.rekey_interval = Some((secs.to_string(), origin.clone()));
                    }
                }
            }
            Kind::Octal => {
                let a = next_arg("argument")?;
                let v = u32::from_str_radix(&a, 8).ok().filter(|v| *v <= 0o777);
                let v = v.ok_or_else(|| e("Bad mask.".to_string()))?;
                first_wins(opts, vec![format!("0{v:o}")]);
            }
            Kind::Ignore => {
                args.by_ref().for_each(drop);
            }
            Kind::Deprecated => {
                self.warnings.push(format!("{file} line {linenum}: Deprecated option {keyword}"));
                args.by_ref().for_each(drop);
            }
            Kind::Unsupported => {
                self.warnings.push(format!("{file} line {linenum}: Unsupported option {keyword}"));
                args.by_ref().for_each(drop);
            }
            Kind::Include => {
                let all: Vec<String> = args.by_ref().collect();
                if all.is_empty() {
                    return Err(e(format!("{keyword} missing filename argument")));
                }
                for a in all {
                    if a.is_empty() {
                        return Err(e(format!("keyword {keyword} empty argument")));
                    }
                    let sel =
                        if a.starts_with('/') || a.starts_with('~') { a.clone() } else { format!("{SSHDIR}/{a}") };
                    let oactive = *active;
                    let sub_flags = if *flags & MATCH_ONLY != 0 {
                        MATCH_ONLY
                    } else if oactive {
                        0
                    } else {
                        NEVERMATCH
                    };
                    let cached: Vec<Option<String>> =
                        self.includes.iter().filter(|(s, _)| *s == sel).map(|(_, f)| f.clone()).collect();
                    if !cached.is_empty() {
                        for f in cached.into_iter().flatten() {
                            let text = self.contents.get(&f).cloned().unwrap_or_default();
                            self.parse_depth(opts, &f, &text, ci, sub_flags, active, depth + 1)?;
                            *active = oactive;
                        }
                        *active = oactive;
                        continue;
                    }
                    let found = glob(self.src, &sel);
                    if found.is_empty() {
                        self.includes.push((sel.clone(), None));
                    }
                    for f in found {
                        let text = self.src.read(&f).map_err(|m| err(&f, 0, m))?;
                        self.files.push(f.clone());
                        self.contents.insert(f.clone(), text.clone());
                        // Cached before parsing, as sshd appends after: same result for a static tree.
                        self.parse_depth(opts, &f, &text, ci, if oactive { 0 } else { NEVERMATCH }, active, depth + 1)?;
                        *active = oactive;
                        self.includes.push((sel.clone(), Some(f)));
                    }
                }
            }
            Kind::Match => {
                let eval_ci = if *flags & NEVERMATCH != 0 { None } else { ci };
                let v = match_line(rest, eval_ci).map_err(&e)?;
                *active = if *flags & NEVERMATCH != 0 { false } else { v };
                *flags &= !MATCH_ONLY;
                return Ok(());
            }
        }
        if args.next().is_some() {
            return Err(e(format!("keyword {keyword} extra arguments at end of line")));
        }
        Ok(())
    }
}

/// A `ListenAddress` argument: (host as printed, port if given).
fn split_listen(a: &str) -> Option<(String, Option<u16>)> {
    if !a.contains('[')
        && let Some(i) = a.find(':')
        && a.get(i + 1..).is_some_and(|r| r.contains(':'))
    {
        return Some((a.to_owned(), None));
    }
    if let Some(inner) = a.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        return match after {
            "" => Some((host.to_owned(), None)),
            _ => {
                let p = after.strip_prefix(':')?;
                Some((host.to_owned(), Some(a2port(p)?)))
            }
        };
    }
    match a.split_once(':') {
        Some((h, p)) => Some((h.to_owned(), Some(a2port(p)?))),
        None => Some((a.to_owned(), None)),
    }
}

fn format_listen(host: &str, port: &str) -> String {
    let h = host.parse::<std::net::IpAddr>().map_or_else(|_| host.to_owned(), |ip| ip.to_string());
    if h.contains(':') { format!("[{h}]:{port}") } else { format!("{h}:{port}") }
}

/// `match_cfg_line`: whether a `Match` line's criteria hold for `ci` (`None`: syntax check only,
/// never matches).
fn match_line(cond: &str, ci: Option<&Connection>) -> Result<bool, String> {
    let mut cp = Some(cond);
    let mut result = true;
    let mut attributes = 0;
    let next = |cp: &mut Option<&str>| -> Result<Option<String>, String> {
        let Some(s) = *cp else { return Ok(None) };
        let (tok, rest) = strdelim(s).map_err(|()| "invalid quotes".to_owned())?;
        *cp = rest;
        Ok(Some(tok))
    };
    while let Some(attrib) = next(&mut cp)? {
        if attrib.is_empty() {
            break;
        }
        if attrib.starts_with('#') {
            break;
        }
        attributes += 1;
        if attrib.eq_ignore_ascii_case("all") {
            let a = next(&mut cp)?;
            if attributes > 1 || a.as_deref().is_some_and(|a| !a.is_empty() && !a.starts_with('#')) {
                return Err("'all' cannot be combined with other Match attributes".to_owned());
            }
            // `Match all` holds even without a connection (sshd's first pass applies it).
            return Ok(true);
        }
        let arg = match next(&mut cp)? {
            Some(a) if !a.is_empty() && !a.starts_with('#') => a,
            _ => return Err(format!("Missing Match criteria for {attrib}")),
        };
        match attrib.to_ascii_lowercase().as_str() {
            "user" => match ci.and_then(|c| c.user.as_deref()) {
                Some(u) if match_pattern_list(u, &arg, false) == 1 => {}
                _ => result = false,
            },
            "group" => match ci.and_then(|c| c.user.as_ref().map(|_| &c.groups)) {
                Some(groups) if groups.iter().any(|g| match_pattern_list(g, &arg, false) == 1) => {}
                _ => result = false,
            },
            "host" => match ci.and_then(|c| c.host.as_deref()) {
                Some(h) if match_hostname(h, &arg) == 1 => {}
                _ => result = false,
            },
            "address" | "localaddress" => {
                let which = if attrib.eq_ignore_ascii_case("address") { "address" } else { "localaddress" };
                let a = ci.and_then(|c| if which == "address" { c.addr.as_deref() } else { c.laddr.as_deref() });
                match a {
                    None => {
                        if addr_match_list(None, &arg) != 0 {
                            return Err(format!("Invalid Match {which} argument '{arg}'"));
                        }
                        result = false;
                    }
                    Some(a) => match addr_match_list(Some(a), &arg) {
                        1 => {}
                        -2 => return Err("Bad Match condition".to_owned()),
                        _ => result = false,
                    },
                }
            }
            "localport" => {
                let port = a2port(&arg).ok_or_else(|| format!("Invalid LocalPort '{arg}' on Match line"))?;
                if ci.and_then(|c| c.lport) != Some(port) {
                    result = false;
                }
            }
            "rdomain" => {
                if ci.and_then(|c| c.rdomain.as_deref()).is_none_or(|r| match_pattern_list(r, &arg, false) != 1) {
                    result = false;
                }
            }
            _ => return Err(format!("Unsupported Match attribute {attrib}")),
        }
    }
    if attributes == 0 {
        return Err("One or more attributes required for Match".to_owned());
    }
    Ok(ci.is_some() && result)
}

/// sshd's start-up check: at least one `AuthenticationMethods` list whose methods are all enabled.
fn check_auth_methods(map: &BTreeMap<&'static str, Raw>) -> Result<(), ConfigError> {
    let Some(raw) = map.get("authenticationmethods") else { return Ok(()) };
    let enabled =
        |opt: &str, default: &str| map.get(opt).and_then(|r| r.values.first()).map_or(default, String::as_str) == "yes";
    let lists: Vec<&str> = raw.values.first().map(|v| v.split(' ').collect()).unwrap_or_default();
    if lists.contains(&"any") {
        return Ok(());
    }
    let satisfiable = lists.iter().any(|list| {
        list.split(',').all(|m| match m.split(':').next().unwrap_or(m) {
            "publickey" => enabled("pubkeyauthentication", "yes"),
            "password" => enabled("passwordauthentication", "yes"),
            "keyboard-interactive" => enabled("kbdinteractiveauthentication", "yes"),
            "hostbased" => enabled("hostbasedauthentication", "no"),
            "gssapi-with-mic" => enabled("gssapiauthentication", "no"),
            _ => false,
        })
    });
    if satisfiable {
        Ok(())
    } else {
        Err(err(
            &raw.origin.file,
            raw.origin.line,
            "AuthenticationMethods cannot be satisfied by enabled authentication methods",
        ))
    }
}

fn finish(global: Opts, matched: Opts, warnings: Vec<String>, files: Vec<String>) -> Result<Effective, ConfigError> {
    check_auth_methods(&global.map)?;
    let mut map = global.map;
    // copy_set_server_options: a matching block's values replace the global ones, for the
    // options allowed in Match (a global-only option under `Match all` counts in the first pass only).
    for (k, v) in matched.map {
        if lookup(k).is_some_and(|kw| kw.in_match) {
            map.insert(k, v);
        }
    }
    let rekey_interval = matched.rekey_interval.or(global.rekey_interval);
    let mut settings: BTreeMap<&'static str, Setting> = BTreeMap::new();
    for (name, default) in ORDER {
        let raw = map.get(name);
        let origin = raw.map(|r| r.origin.clone());
        let values: Vec<String> = match *name {
            "port" => raw.map_or_else(|| vec!["22".to_owned()], |r| r.values.clone()),
            "listenaddress" => listen_values(raw, &map)?,
            "ciphers"
            | "macs"
            | "kexalgorithms"
            | "casignaturealgorithms"
            | "hostbasedacceptedalgorithms"
            | "hostkeyalgorithms"
            | "pubkeyacceptedalgorithms"
            | "gssapikexalgorithms" => {
                let Some(kw) = lookup(name) else { continue };
                let Kind::Algos(algo) = kw.kind else { continue };
                let list = raw.and_then(|r| r.values.first()).map(String::as_str);
                match algos::assemble(list, algo) {
                    Some(v) => vec![v],
                    None => {
                        let o = origin.clone().unwrap_or(Origin { file: String::new(), line: 0 });
                        return Err(err(&o.file, o.line, format!("{name} list invalid")));
                    }
                }
            }
            "rekeylimit" => {
                let limit = raw.and_then(|r| r.values.first()).cloned().unwrap_or_else(|| "0".to_owned());
                let interval = rekey_interval.as_ref().map_or("0", |(s, _)| s.as_str());
                vec![format!("{limit} {interval}")]
            }
            _ => raw.map_or_else(|| default.iter().map(|s| (*s).to_owned()).collect(), |r| r.values.clone()),
        };
        if values.is_empty() {
            continue;
        }
        let origin = if *name == "rekeylimit" {
            origin.or_else(|| rekey_interval.as_ref().map(|(_, o)| o.clone()))
        } else {
            origin
        };
        settings.insert(name, Setting { values, origin });
    }
    Ok(Effective { settings, warnings, files })
}

fn listen_values(raw: Option<&Raw>, map: &BTreeMap<&'static str, Raw>) -> Result<Vec<String>, ConfigError> {
    let ports: Vec<String> = map.get("port").map_or_else(|| vec!["22".to_owned()], |r| r.values.clone());
    let family = map.get("addressfamily").and_then(|r| r.values.first()).map_or("any", String::as_str);
    let mut out = Vec::new();
    match raw {
        None => {
            for p in &ports {
                if family != "inet" {
                    out.push(format!("[::]:{p}"));
                }
                if family != "inet6" {
                    out.push(format!("0.0.0.0:{p}"));
                }
            }
        }
        Some(r) => {
            for v in &r.values {
                let (host, port) = v.split_once('\u{0}').unwrap_or((v, ""));
                if let Ok(ip) = host.parse::<std::net::IpAddr>()
                    && ((family == "inet" && ip.is_ipv6()) || (family == "inet6" && ip.is_ipv4()))
                {
                    return Err(err(
                        &r.origin.file,
                        r.origin.line,
                        format!("bad addr or host: {host} (Address family for hostname not supported)"),
                    ));
                }
                if port.is_empty() {
                    for p in &ports {
                        out.push(format_listen(host, p));
                    }
                } else {
                    out.push(format_listen(host, port));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn eff(text: &str, conn: Option<&str>) -> Result<Effective, ConfigError> {
        let mut m = MemSource::new();
        m.insert("/etc/ssh/sshd_config", text);
        let c = conn.map(|c| c.parse::<Connection>().unwrap());
        effective(&m, "/etc/ssh/sshd_config", c.as_ref())
    }

    #[test]
    fn first_value_wins_and_origin() {
        let e = eff("PermitRootLogin no\npermitrootlogin yes\n", None).unwrap();
        assert_eq!(e.value("permitrootlogin"), Some("no"));
        assert_eq!(e.get("permitrootlogin").unwrap().origin.as_ref().unwrap().to_string(), "/etc/ssh/sshd_config:1");
    }

    #[test]
    fn match_overrides_global() {
        let t = "PasswordAuthentication no\nMatch User alice\n PasswordAuthentication yes\n";
        assert_eq!(eff(t, Some("user=alice")).unwrap().value("passwordauthentication"), Some("yes"));
        assert_eq!(eff(t, Some("user=bob")).unwrap().value("passwordauthentication"), Some("no"));
        assert!(eff("Match User a\n Port 22\n", None).is_err());
        assert!(eff("Junk\n", None).is_err());
        assert!(eff("Bogus yes\n", None).is_err());
    }

    #[test]
    fn times_and_sizes() {
        assert_eq!(convtime("1m30s"), Some(90));
        assert_eq!(convtime("x"), None);
        let e = eff("RekeyLimit 1G 1h\nMaxStartups 5\n", None).unwrap();
        assert_eq!(e.value("rekeylimit"), Some("1073741824 3600"));
        assert_eq!(e.value("maxstartups"), Some("5:30:5"));
    }
}
