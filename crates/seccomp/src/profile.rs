//! Seccomp profiles: the OCI runtime-spec / Docker JSON format (moby's `seccomp.Seccomp`, with
//! `archMap`, `includes`/`excludes` and the legacy single `name`) and the
//! security-profiles-operator `SeccompProfile` object, read from our YAML/JSON reader so that
//! every value keeps its line and column.

use std::fmt;

use kguard_model::yaml::{self, Value, YamlNode};
use kguard_model::{Pos, yaml::escape_pointer_token};

use crate::action::Action;
use crate::arch::Arch;
use crate::db::Op;

/// Largest number of syscall blocks, names per block or argument comparisons accepted
/// (keeps a hostile profile from making the filter builder quadratic for minutes).
pub const MAX_ENTRIES: usize = 4096;

/// A problem in a profile: where, the JSON pointer of the field, and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct ProfileError {
    /// Where (line, column).
    pub pos: Pos,
    /// JSON pointer of the field.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

/// A profile action as written: the OCI name (its errno comes from `errnoRet` or the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionName {
    /// `SCMP_ACT_KILL` (the thread, like `SCMP_ACT_KILL_THREAD`).
    Kill,
    /// `SCMP_ACT_KILL_PROCESS`.
    KillProcess,
    /// `SCMP_ACT_KILL_THREAD`.
    KillThread,
    /// `SCMP_ACT_TRAP`.
    Trap,
    /// `SCMP_ACT_ERRNO`.
    Errno,
    /// `SCMP_ACT_TRACE`.
    Trace,
    /// `SCMP_ACT_ALLOW`.
    Allow,
    /// `SCMP_ACT_LOG`.
    Log,
    /// `SCMP_ACT_NOTIFY`.
    Notify,
}

impl ActionName {
    /// Parses `SCMP_ACT_*`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SCMP_ACT_KILL" => Self::Kill,
            "SCMP_ACT_KILL_PROCESS" => Self::KillProcess,
            "SCMP_ACT_KILL_THREAD" => Self::KillThread,
            "SCMP_ACT_TRAP" => Self::Trap,
            "SCMP_ACT_ERRNO" => Self::Errno,
            "SCMP_ACT_TRACE" => Self::Trace,
            "SCMP_ACT_ALLOW" => Self::Allow,
            "SCMP_ACT_LOG" => Self::Log,
            "SCMP_ACT_NOTIFY" => Self::Notify,
            _ => return None,
        })
    }

    /// The filter action, as runc's `getAction` gives it: ERRNO and TRACE return `errno_ret`,
    /// EPERM (1) when unset.
    #[must_use]
    pub fn action(self, errno_ret: Option<u32>) -> Action {
        #[allow(clippy::cast_possible_truncation)]
        let e = errno_ret.map_or(1, |v| (v & 0xffff) as u16);
        match self {
            Self::Kill | Self::KillThread => Action::KillThread,
            Self::KillProcess => Action::KillProcess,
            Self::Trap => Action::Trap,
            Self::Errno => Action::Errno(e),
            Self::Trace => Action::Trace(e),
            Self::Allow => Action::Allow,
            Self::Log => Action::Log,
            Self::Notify => Action::Notify,
        }
    }
}

/// A value with the position where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct At<T> {
    /// The value.
    pub value: T,
    /// Where.
    pub pos: Pos,
    /// JSON pointer (from the profile document's root).
    pub pointer: String,
}

/// One argument comparison (`{index, value, valueTwo, op}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgRule {
    /// Argument index (0–5).
    pub index: u32,
    /// `value`.
    pub value: u64,
    /// `valueTwo`.
    pub value_two: u64,
    /// `op`.
    pub op: Op,
    /// Where the comparison starts.
    pub pos: Pos,
    /// Its pointer.
    pub pointer: String,
}

/// Docker's `includes` / `excludes` conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    /// Capabilities (`CAP_SYS_ADMIN`).
    pub caps: Vec<String>,
    /// Go architecture names (`amd64`, `arm64`, `x32`, …).
    pub arches: Vec<String>,
    /// `major.minor`.
    pub min_kernel: Option<(u32, u32)>,
}

impl Condition {
    fn is_empty(&self) -> bool {
        self.caps.is_empty() && self.arches.is_empty() && self.min_kernel.is_none()
    }
}

/// One entry of `syscalls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallRule {
    /// `names` (or the legacy `name`).
    pub names: Vec<At<String>>,
    /// `action`.
    pub action: At<ActionName>,
    /// `errnoRet`.
    pub errno_ret: Option<u32>,
    /// `args`.
    pub args: Vec<ArgRule>,
    /// `comment`.
    pub comment: Option<String>,
    /// `includes`.
    pub includes: Condition,
    /// `excludes`.
    pub excludes: Condition,
    /// Where the entry starts.
    pub pos: Pos,
    /// Its pointer.
    pub pointer: String,
}

impl SyscallRule {
    /// The filter action.
    #[must_use]
    pub fn filter_action(&self) -> Action {
        self.action.value.action(self.errno_ret)
    }

    /// Whether the entry is conditional (Docker `includes`/`excludes`).
    #[must_use]
    pub fn is_conditional(&self) -> bool {
        !self.includes.is_empty() || !self.excludes.is_empty()
    }
}

/// An `archMap` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchMapEntry {
    /// `architecture`.
    pub arch: Arch,
    /// `subArchitectures`.
    pub sub: Vec<Arch>,
    /// Where.
    pub pos: Pos,
}

/// Which format a profile came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OCI / Docker JSON.
    Oci,
    /// security-profiles-operator `SeccompProfile` (`spec` holds the profile).
    SeccompProfile,
}

/// A seccomp profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The format.
    pub format: Format,
    /// `metadata.name` of a `SeccompProfile`.
    pub name: Option<String>,
    /// `defaultAction`.
    pub default_action: At<ActionName>,
    /// `defaultErrnoRet`.
    pub default_errno_ret: Option<u32>,
    /// `architectures`.
    pub architectures: Vec<At<Arch>>,
    /// `archMap`.
    pub arch_map: Vec<ArchMapEntry>,
    /// `flags`.
    pub flags: Vec<At<String>>,
    /// `listenerPath`.
    pub listener_path: Option<String>,
    /// `listenerMetadata`.
    pub listener_metadata: Option<String>,
    /// `syscalls`.
    pub syscalls: Vec<SyscallRule>,
    /// `baseProfileName` (SeccompProfile).
    pub base_profile_name: Option<String>,
    /// Where the profile starts.
    pub pos: Pos,
    /// Pointer prefix of the profile fields (`/spec` for a SeccompProfile, else empty).
    pub prefix: String,
}

impl Profile {
    /// The default action of the filter.
    #[must_use]
    pub fn default_filter_action(&self) -> Action {
        self.default_action.value.action(self.default_errno_ret)
    }
}

/// The seccomp flags runc knows.
pub const FLAGS: [&str; 4] = [
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

struct Reader<'a> {
    json: Option<serde_json::Value>,
    errors: Vec<ProfileError>,
    _text: &'a str,
}

impl Reader<'_> {
    fn err(&mut self, node_pos: Pos, pointer: &str, message: impl Into<String>) {
        self.errors.push(ProfileError { pos: node_pos, pointer: pointer.to_owned(), message: message.into() });
    }

    fn string(&mut self, node: &YamlNode, pointer: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.err(node.pos, pointer, format!("{pointer}: expected a string, found {}", node.type_name()));
                None
            }
        }
    }

    fn strings(&mut self, node: &YamlNode, pointer: &str) -> Vec<At<String>> {
        if node.is_null() {
            return Vec::new();
        }
        let Some(items) = node.as_seq() else {
            self.err(node.pos, pointer, format!("{pointer}: expected a list, found {}", node.type_name()));
            return Vec::new();
        };
        if items.len() > MAX_ENTRIES {
            self.err(node.pos, pointer, format!("{pointer}: more than {MAX_ENTRIES} entries"));
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let p = format!("{pointer}/{i}");
            if let Some(s) = self.string(it, &p) {
                out.push(At { value: s, pos: it.pos, pointer: p });
            }
        }
        out
    }

    /// An unsigned integer, exact up to u64::MAX (JSON numbers above i64 are read from the
    /// JSON text itself).
    fn u64(&mut self, node: &YamlNode, pointer: &str, doc_pointer: &str) -> Option<u64> {
        match &node.value {
            Value::Int(i) if *i >= 0 => Some(i.unsigned_abs()),
            Value::Float(_) => {
                if let Some(v) =
                    self.json.as_ref().and_then(|j| j.pointer(doc_pointer)).and_then(serde_json::Value::as_u64)
                {
                    return Some(v);
                }
                self.err(node.pos, pointer, format!("{pointer}: expected an integer between 0 and 2^64-1"));
                None
            }
            _ => {
                self.err(
                    node.pos,
                    pointer,
                    format!("{pointer}: expected a non-negative integer, found {}", node.type_name()),
                );
                None
            }
        }
    }

    fn action(&mut self, node: &YamlNode, pointer: &str) -> Option<At<ActionName>> {
        let s = self.string(node, pointer)?;
        match ActionName::parse(&s) {
            Some(a) => Some(At { value: a, pos: node.pos, pointer: pointer.to_owned() }),
            None => {
                self.err(
                    node.pos,
                    pointer,
                    format!("{pointer}: unknown action {s:?} (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_LOG, SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_NOTIFY)"),
                );
                None
            }
        }
    }

    fn arch(&mut self, node: &YamlNode, pointer: &str) -> Option<Arch> {
        let s = self.string(node, pointer)?;
        match s.strip_prefix("SCMP_ARCH_").and_then(Arch::parse_oci_suffix) {
            Some(a) => Some(a),
            None => {
                self.err(
                    node.pos,
                    pointer,
                    format!("{pointer}: unknown architecture {s:?} (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, …)"),
                );
                None
            }
        }
    }

    fn condition(&mut self, node: &YamlNode, pointer: &str) -> Condition {
        let mut c = Condition::default();
        if node.is_null() {
            return c;
        }
        let Some(entries) = node.as_map() else {
            self.err(node.pos, pointer, format!("{pointer}: expected an object, found {}", node.type_name()));
            return c;
        };
        for e in entries {
            let p = format!("{pointer}/{}", escape_pointer_token(&e.key));
            match e.key.as_str() {
                "caps" => c.caps = self.strings(&e.value, &p).into_iter().map(|a| a.value).collect(),
                "arches" => c.arches = self.strings(&e.value, &p).into_iter().map(|a| a.value).collect(),
                "minKernel" => {
                    if let Some(s) = self.string(&e.value, &p) {
                        match parse_kernel(&s) {
                            Some(v) => c.min_kernel = Some(v),
                            None => self.err(
                                e.value.pos,
                                &p,
                                format!("{p}: invalid kernel version {s:?} (want major.minor)"),
                            ),
                        }
                    }
                }
                _ => {}
            }
        }
        c
    }
}

/// `major.minor` of a kernel version (`5.15`, `5.15.0-91-generic`), as moby compares them.
#[must_use]
pub fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

impl Arch {
    /// The architecture of `SCMP_ARCH_<SUFFIX>`.
    #[must_use]
    pub fn parse_oci_suffix(suffix: &str) -> Option<Arch> {
        Arch::ALL.iter().copied().find(|a| a.name().eq_ignore_ascii_case(suffix))
    }
}

/// Parses one profile document: OCI/Docker JSON, or a `SeccompProfile` object (its `spec`).
///
/// `text` is the whole file (for exact 64-bit values of JSON input); `root` the document.
///
/// # Errors
/// Every problem found, each with its position.
pub fn parse(text: &str, root: &YamlNode) -> Result<Profile, Vec<ProfileError>> {
    let json = serde_json::from_str::<serde_json::Value>(text).ok();
    let mut r = Reader { json, errors: Vec::new(), _text: text };
    let Some(_) = root.as_map() else {
        return Err(vec![ProfileError {
            pos: root.pos,
            pointer: String::new(),
            message: format!("a seccomp profile is a JSON object, found {}", root.type_name()),
        }]);
    };
    let (format, body, prefix, name) = match root.get("kind").and_then(YamlNode::as_str) {
        Some("SeccompProfile") => {
            let name = root.pointer("/metadata/name").and_then(YamlNode::as_str).map(str::to_owned);
            match root.get("spec") {
                Some(spec) if spec.as_map().is_some() => (Format::SeccompProfile, spec, "/spec".to_owned(), name),
                _ => {
                    return Err(vec![ProfileError {
                        pos: root.pos,
                        pointer: "/spec".to_owned(),
                        message: "SeccompProfile: spec is missing or not an object".to_owned(),
                    }]);
                }
            }
        }
        Some(other) => {
            return Err(vec![ProfileError {
                pos: root.get("kind").map_or(root.pos, |k| k.pos),
                pointer: "/kind".to_owned(),
                message: format!(
                    "kind {other:?} is not a seccomp profile (an OCI/Docker JSON profile or a SeccompProfile)"
                ),
            }]);
        }
        None => (Format::Oci, root, String::new(), None),
    };
    let ptr = |rel: &str| format!("{prefix}{rel}");
    let mut default_action = None;
    let mut p = Profile {
        format,
        name,
        default_action: At { value: ActionName::Allow, pos: body.pos, pointer: ptr("/defaultAction") },
        default_errno_ret: None,
        architectures: Vec::new(),
        arch_map: Vec::new(),
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        syscalls: Vec::new(),
        base_profile_name: None,
        pos: body.pos,
        prefix: prefix.clone(),
    };
    for e in body.as_map().unwrap_or_default() {
        let key_ptr = ptr(&format!("/{}", escape_pointer_token(&e.key)));
        let v = &e.value;
        match e.key.as_str() {
            "defaultAction" => default_action = r.action(v, &key_ptr),
            "defaultErrnoRet" => {
                p.default_errno_ret = r.u64(v, &key_ptr, &key_ptr).map(|x| u32::try_from(x).unwrap_or(u32::MAX));
            }
            "architectures" => {
                if let Some(items) = v.as_seq() {
                    for (i, it) in items.iter().enumerate().take(MAX_ENTRIES) {
                        let ip = format!("{key_ptr}/{i}");
                        if let Some(a) = r.arch(it, &ip) {
                            p.architectures.push(At { value: a, pos: it.pos, pointer: ip });
                        }
                    }
                } else if !v.is_null() {
                    r.err(v.pos, &key_ptr, format!("{key_ptr}: expected a list, found {}", v.type_name()));
                }
            }
            "archMap" => {
                if let Some(items) = v.as_seq() {
                    for (i, it) in items.iter().enumerate().take(MAX_ENTRIES) {
                        let ip = format!("{key_ptr}/{i}");
                        let Some(arch_node) = it.get("architecture") else {
                            r.err(it.pos, &ip, format!("{ip}: archMap entry without architecture"));
                            continue;
                        };
                        let Some(arch) = r.arch(arch_node, &format!("{ip}/architecture")) else { continue };
                        let mut sub = Vec::new();
                        if let Some(s) = it.get("subArchitectures") {
                            let sp = format!("{ip}/subArchitectures");
                            for (j, sa) in s.as_seq().unwrap_or_default().iter().enumerate() {
                                if let Some(a) = r.arch(sa, &format!("{sp}/{j}")) {
                                    sub.push(a);
                                }
                            }
                        }
                        p.arch_map.push(ArchMapEntry { arch, sub, pos: it.pos });
                    }
                } else if !v.is_null() {
                    r.err(v.pos, &key_ptr, format!("{key_ptr}: expected a list, found {}", v.type_name()));
                }
            }
            "flags" => {
                p.flags = r.strings(v, &key_ptr);
                for f in &p.flags {
                    if !FLAGS.contains(&f.value.as_str()) {
                        r.err(
                            f.pos,
                            &f.pointer,
                            format!("{}: unknown flag {:?} ({})", f.pointer, f.value, FLAGS.join(", ")),
                        );
                    }
                }
            }
            "listenerPath" => p.listener_path = r.string(v, &key_ptr),
            "listenerMetadata" => p.listener_metadata = r.string(v, &key_ptr),
            "baseProfileName" => p.base_profile_name = r.string(v, &key_ptr),
            "syscalls" => {
                if v.is_null() {
                    continue;
                }
                let Some(items) = v.as_seq() else {
                    r.err(v.pos, &key_ptr, format!("{key_ptr}: expected a list, found {}", v.type_name()));
                    continue;
                };
                if items.len() > MAX_ENTRIES {
                    r.err(v.pos, &key_ptr, format!("{key_ptr}: more than {MAX_ENTRIES} entries"));
                    continue;
                }
                for (i, it) in items.iter().enumerate() {
                    if let Some(s) = syscall_rule(&mut r, it, &format!("{key_ptr}/{i}")) {
                        p.syscalls.push(s);
                    }
                }
            }
            _ => {}
        }
    }
    match default_action {
        Some(a) => p.default_action = a,
        None if r.errors.is_empty() => {
            r.err(body.pos, &ptr("/defaultAction"), format!("{}: required field is missing", ptr("/defaultAction")));
        }
        None => {}
    }
    if !p.architectures.is_empty() && !p.arch_map.is_empty() {
        r.err(
            body.pos,
            &ptr(""),
            "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'",
        );
    }
    if r.errors.is_empty() { Ok(p) } else { Err(r.errors) }
}

fn syscall_rule(r: &mut Reader<'_>, node: &YamlNode, pointer: &str) -> Option<SyscallRule> {
    let Some(entries) = node.as_map() else {
        r.err(node.pos, pointer, format!("{pointer}: expected an object, found {}", node.type_name()));
        return None;
    };
    let mut names = Vec::new();
    let mut legacy = None;
    let mut action = None;
    let mut errno_ret = None;
    let mut args = Vec::new();
    let mut comment = None;
    let mut includes = Condition::default();
    let mut excludes = Condition::default();
    for e in entries {
        let p = format!("{pointer}/{}", escape_pointer_token(&e.key));
        let v = &e.value;
        match e.key.as_str() {
            "names" => names = r.strings(v, &p),
            "name" => {
                legacy = r.string(v, &p).map(|s| At { value: s, pos: v.pos, pointer: p.clone() });
            }
            "action" => action = r.action(v, &p),
            "errnoRet" => errno_ret = r.u64(v, &p, &p).map(|x| u32::try_from(x).unwrap_or(u32::MAX)),
            "comment" => comment = v.as_str().map(str::to_owned),
            "includes" => includes = r.condition(v, &p),
            "excludes" => excludes = r.condition(v, &p),
            "args" => {
                if v.is_null() {
                    continue;
                }
                let Some(items) = v.as_seq() else {
                    r.err(v.pos, &p, format!("{p}: expected a list, found {}", v.type_name()));
                    continue;
                };
                if items.len() > MAX_ENTRIES {
                    r.err(v.pos, &p, format!("{p}: more than {MAX_ENTRIES} entries"));
                    continue;
                }
                for (i, a) in items.iter().enumerate() {
                    if let Some(arg) = arg_rule(r, a, &format!("{p}/{i}")) {
                        args.push(arg);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(l) = legacy {
        if names.is_empty() {
            names.push(l);
        } else {
            r.err(node.pos, pointer, format!("{pointer}: use either 'name' or 'names'"));
        }
    }
    if names.is_empty() {
        r.err(node.pos, pointer, format!("{pointer}: no syscall names ('names' is empty)"));
    }
    let Some(action) = action else {
        if entries.iter().all(|e| e.key != "action") {
            r.err(node.pos, pointer, format!("{pointer}/action: required field is missing"));
        }
        return None;
    };
    Some(SyscallRule {
        names,
        action,
        errno_ret,
        args,
        comment,
        includes,
        excludes,
        pos: node.pos,
        pointer: pointer.to_owned(),
    })
}

fn arg_rule(r: &mut Reader<'_>, node: &YamlNode, pointer: &str) -> Option<ArgRule> {
    if node.as_map().is_none() {
        r.err(node.pos, pointer, format!("{pointer}: expected an object, found {}", node.type_name()));
        return None;
    }
    let field = |k: &str| node.get(k);
    let index = match field("index") {
        Some(v) => {
            let x = r.u64(v, &format!("{pointer}/index"), &format!("{pointer}/index"))?;
            if x > 5 {
                r.err(
                    v.pos,
                    &format!("{pointer}/index"),
                    format!("{pointer}/index: argument index {x} is out of range (a syscall has 6 arguments, 0-5)"),
                );
                return None;
            }
            u32::try_from(x).unwrap_or(0)
        }
        None => {
            r.err(node.pos, pointer, format!("{pointer}/index: required field is missing"));
            return None;
        }
    };
    let value = match field("value") {
        Some(v) => r.u64(v, &format!("{pointer}/value"), &format!("{pointer}/value"))?,
        None => 0,
    };
    let value_two = match field("valueTwo") {
        Some(v) => r.u64(v, &format!("{pointer}/valueTwo"), &format!("{pointer}/valueTwo"))?,
        None => 0,
    };
    let op = match field("op") {
        Some(v) => {
            let s = r.string(v, &format!("{pointer}/op"))?;
            match Op::parse(&s).filter(|_| s.starts_with("SCMP_CMP_")) {
                Some(o) => o,
                None => {
                    r.err(v.pos, &format!("{pointer}/op"), format!("{pointer}/op: unknown operator {s:?} (SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_EQ, SCMP_CMP_GE, SCMP_CMP_GT, SCMP_CMP_MASKED_EQ)"));
                    return None;
                }
            }
        }
        None => {
            r.err(node.pos, pointer, format!("{pointer}/op: required field is missing"));
            return None;
        }
    };
    Some(ArgRule { index, value, value_two, op, pos: node.pos, pointer: pointer.to_owned() })
}

/// Parses every profile in a file (one JSON profile, or YAML documents holding `SeccompProfile`
/// objects). Documents that are not profiles are skipped when the file holds several.
///
/// # Errors
/// Syntax errors and profile errors, with positions.
pub fn parse_file(text: &str) -> Result<Vec<Profile>, Vec<ProfileError>> {
    let docs = yaml::parse_documents(text);
    let many = docs.len() > 1;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for d in docs {
        match d.root {
            Ok(None) => {}
            Err(e) => errors.push(ProfileError {
                pos: e.pos,
                pointer: String::new(),
                message: format!("syntax error: {}", e.message),
            }),
            Ok(Some(root)) => {
                if many && root.get("kind").and_then(YamlNode::as_str).is_some_and(|k| k != "SeccompProfile") {
                    continue;
                }
                match parse(if many { "" } else { text }, &root) {
                    Ok(p) => out.push(p),
                    Err(e) => errors.extend(e),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if out.is_empty() {
        return Err(vec![ProfileError {
            pos: Pos::new(1, 1),
            pointer: String::new(),
            message: "no seccomp profile in the file".to_owned(),
        }]);
    }
    Ok(out)
}

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kill => "SCMP_ACT_KILL",
            Self::KillProcess => "SCMP_ACT_KILL_PROCESS",
            Self::KillThread => "SCMP_ACT_KILL_THREAD",
            Self::Trap => "SCMP_ACT_TRAP",
            Self::Errno => "SCMP_ACT_ERRNO",
            Self::Trace => "SCMP_ACT_TRACE",
            Self::Allow => "SCMP_ACT_ALLOW",
            Self::Log => "SCMP_ACT_LOG",
            Self::Notify => "SCMP_ACT_NOTIFY",
        })
    }
}
