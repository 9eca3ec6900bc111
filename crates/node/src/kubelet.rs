//! The kubelet's effective settings: its `KubeletConfiguration` file (`--config`), the drop-ins
//! of `--config-dir`, and its command-line flags, merged as the kubelet merges them
//! (`cmd/kubelet/app/server.go`, `options.go`), then judged against the CIS kubelet checks.
//!
//! Precedence, as in the kubelet: defaults, then the config file, then the drop-ins in lexical
//! order (`*.conf`, JSON merge patch: maps merge, other values replace), then the flags (the
//! kubelet parses its command line again over the loaded file, `kubeletConfigFlagPrecedence`;
//! `--feature-gates` merges per gate, the flag's gates winning). The defaults are those of
//! `kubelet.config.k8s.io/v1beta1` (v1.3x) when a config file is given, and the kubelet's legacy
//! command-line defaults when none is (`applyLegacyDefaults`: anonymous auth on, webhook
//! authentication off, `AlwaysAllow`, read-only port 10255).
//!
//! Every value remembers what decided it: a config field's `file:line`, a flag, or the default.

use std::fmt;
use std::sync::Arc;

use kguard_model::yaml::{YamlNode, parse_documents};
use kguard_model::{Location, Pos};
use kguard_report::{Finding, RuleMeta, Severity};

use crate::source::Source;

/// A field's type, for parsing flags and config values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `true` / `false`; a bare flag means true.
    Bool,
    /// An integer (`int32`).
    Int,
    /// A string.
    Str,
    /// A Go duration (`4h0m0s`, `5m`, `0`).
    Duration,
    /// A list of strings (comma-separated on the command line).
    List,
    /// `name=bool` pairs (`--feature-gates`).
    Map,
}

/// A modelled field: its config path, its flag, its type and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Dotted path in the `KubeletConfiguration` (`authentication.anonymous.enabled`); empty for
    /// a flag that has no config field.
    pub path: &'static str,
    /// The command-line flag without dashes (`anonymous-auth`).
    pub flag: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The `v1beta1` default (`""` = unset).
    pub default: &'static str,
    /// The legacy command-line default when no config file is given, where it differs.
    pub legacy: Option<&'static str>,
}

const fn f(path: &'static str, flag: &'static str, kind: Kind, default: &'static str) -> Field {
    Field { path, flag, kind, default, legacy: None }
}

/// The fields kguard models (the ones the CIS kubelet checks read, and what decides them).
pub const FIELDS: &[Field] = &[
    Field { legacy: Some("true"), ..f("authentication.anonymous.enabled", "anonymous-auth", Kind::Bool, "false") },
    Field {
        legacy: Some("false"),
        ..f("authentication.webhook.enabled", "authentication-token-webhook", Kind::Bool, "true")
    },
    f("authentication.x509.clientCAFile", "client-ca-file", Kind::Str, ""),
    Field { legacy: Some("AlwaysAllow"), ..f("authorization.mode", "authorization-mode", Kind::Str, "Webhook") },
    Field { legacy: Some("10255"), ..f("readOnlyPort", "read-only-port", Kind::Int, "0") },
    f("port", "port", Kind::Int, "10250"),
    f("address", "address", Kind::Str, "0.0.0.0"),
    f("tlsCertFile", "tls-cert-file", Kind::Str, ""),
    f("tlsPrivateKeyFile", "tls-private-key-file", Kind::Str, ""),
    f("tlsCipherSuites", "tls-cipher-suites", Kind::List, ""),
    f("tlsMinVersion", "tls-min-version", Kind::Str, ""),
    f("protectKernelDefaults", "protect-kernel-defaults", Kind::Bool, "false"),
    f("rotateCertificates", "rotate-certificates", Kind::Bool, "false"),
    f("serverTLSBootstrap", "rotate-server-certificates", Kind::Bool, "false"),
    f("eventRecordQPS", "event-qps", Kind::Int, "50"),
    f("streamingConnectionIdleTimeout", "streaming-connection-idle-timeout", Kind::Duration, "4h0m0s"),
    f("makeIPTablesUtilChains", "make-iptables-util-chains", Kind::Bool, "true"),
    f("podPidsLimit", "pod-max-pids", Kind::Int, "-1"),
    f("seccompDefault", "seccomp-default", Kind::Bool, "false"),
    f("featureGates", "feature-gates", Kind::Map, ""),
    f("", "hostname-override", Kind::Str, ""),
];

/// Boolean flags of the kubelet beyond [`FIELDS`] (pflag lets them stand alone, so the word after
/// them is not their value).
const OTHER_BOOL_FLAGS: &[&str] = &[
    "fail-swap-on",
    "register-node",
    "register-schedulable",
    "enable-server",
    "enable-debugging-handlers",
    "enable-controller-attach-detach",
    "cgroups-per-qos",
    "exit-on-lock-contention",
    "serialize-image-pulls",
    "kernel-memcg-notification",
    "keep-terminated-pod-volumes",
    "local-storage-capacity-isolation",
    "enable-load-reader",
    "help",
    "version",
    "logtostderr",
    "alsologtostderr",
    "one-output",
    "skip-headers",
    "skip-log-headers",
    "add-dir-header",
];

/// What decided a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A config field: the file and the line of its key.
    File {
        /// The file as named (under the root).
        file: String,
        /// 1-based line of the key.
        line: u32,
    },
    /// A command-line flag (`--read-only-port=10255`), from `source` (`/proc/1234/cmdline` or
    /// `--kubelet-flags`).
    Flag {
        /// The flag as written.
        flag: String,
        /// Where the command line came from.
        source: String,
    },
    /// The `v1beta1` default (a config file is in use).
    Default,
    /// The kubelet's legacy command-line default (no config file).
    LegacyDefault,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { file, line } => write!(f, "{file}:{line}"),
            Self::Flag { flag, .. } => write!(f, "flag {flag}"),
            Self::Default => f.write_str("the kubelet's default"),
            Self::LegacyDefault => f.write_str("the kubelet's command-line default (no --config file)"),
        }
    }
}

/// One effective value.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// The field.
    pub field: Field,
    /// The value, typed (`null` when unset).
    pub value: serde_json::Value,
    /// What decided it. For `featureGates`, each gate's origin is in [`Effective::feature_gates`].
    pub origin: Origin,
}

/// A parsed command-line flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    /// Its name without dashes, normalized (`_` → `-`) as the kubelet's flag set does.
    pub name: String,
    /// Its value (`true` for a bare boolean flag).
    pub value: String,
    /// As written (`--read-only-port=0`, `--read-only-port 0`).
    pub raw: String,
}

/// A problem the kubelet would refuse to start for, or that stops a file from being read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file (or the flags' source).
    pub file: String,
    /// 1-based line, where known.
    pub line: Option<u32>,
    /// What.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Splits a command line written as a shell would (`--a=1 --b "x y"`): blanks separate words,
/// single and double quotes group, a backslash escapes the next character outside single quotes.
#[must_use]
pub fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    cur.push(d);
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                cur.push(e);
                            }
                        }
                        _ => cur.push(d),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    cur.push(e);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn is_bool_flag(name: &str) -> bool {
    FIELDS.iter().any(|f| f.flag == name && f.kind == Kind::Bool) || OTHER_BOOL_FLAGS.contains(&name)
}

/// Parses the kubelet's arguments (without the program name) as its pflag set does:
/// `--name=value`, `--name value` for a flag that takes a value, a bare boolean flag = true,
/// `-v=2` shorthands; `_` in names reads as `-`. A word that is no flag is an error (the kubelet
/// refuses positional arguments), as is a boolean flag given a non-boolean value.
///
/// # Errors
/// The first argument the kubelet would refuse.
pub fn parse_flags(args: &[String]) -> Result<Vec<Flag>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            if let Some(rest) = args.get(i) {
                return Err(format!("unknown command {rest:?}"));
            }
            break;
        }
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-').filter(|b| !b.is_empty())) else {
            return Err(format!("unknown command {arg:?}"));
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n.replace('_', "-"), Some(v.to_owned())),
            None => (body.replace('_', "-"), None),
        };
        let (value, raw) = match value {
            Some(v) => (v, arg.clone()),
            None if is_bool_flag(&name) => ("true".to_owned(), arg.clone()),
            None => match args.get(i) {
                Some(v) => {
                    i += 1;
                    (v.clone(), format!("{arg} {v}"))
                }
                None => return Err(format!("flag needs an argument: {arg}")),
            },
        };
        if is_bool_flag(&name) && parse_go_bool(&value).is_none() {
            return Err(format!(
                "invalid argument {value:?} for \"{arg}\" flag: strconv.ParseBool: parsing {value:?}: invalid syntax"
            ));
        }
        out.push(Flag { name, value, raw });
    }
    Ok(out)
}

/// Go's `strconv.ParseBool`.
#[must_use]
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.ParseDuration`, in nanoseconds (`0` alone is allowed; units ns us µs ms s m h).
#[must_use]
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * scale;
        rest = next;
    }
    #[allow(clippy::cast_possible_truncation)]
    let ns = total as i128;
    Some(if neg { -ns } else { ns })
}

fn typed(kind: Kind, text: &str) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    match kind {
        Kind::Bool => parse_go_bool(text).map(J::Bool).ok_or_else(|| format!("{text:?} is not a boolean")),
        Kind::Int => {
            text.trim().parse::<i32>().map(|n| J::from(i64::from(n))).map_err(|_| format!("{text:?} is not an int32"))
        }
        Kind::Str => Ok(J::String(text.to_owned())),
        Kind::Duration => match parse_go_duration(text) {
            Some(_) => Ok(J::String(text.to_owned())),
            None => Err(format!("{text:?} is not a duration")),
        },
        Kind::List => Ok(J::Array(
            text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| J::String(s.to_owned())).collect(),
        )),
        Kind::Map => {
            let mut m = serde_json::Map::new();
            for kv in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once('=').ok_or_else(|| format!("missing bool value for {kv}"))?;
                let b = parse_go_bool(v.trim()).ok_or_else(|| format!("invalid value of {k}={v}"))?;
                m.insert(k.trim().to_owned(), J::Bool(b));
            }
            Ok(J::Object(m))
        }
    }
}

/// A config field's value as the kubelet's decoder accepts it.
fn from_yaml(kind: Kind, node: &YamlNode) -> Result<serde_json::Value, String> {
    use kguard_model::yaml::Value as Y;
    use serde_json::Value as J;
    match (kind, &node.value) {
        (_, Y::Null) => Ok(J::Null),
        (Kind::Bool, Y::Bool(b)) => Ok(J::Bool(*b)),
        (Kind::Int, Y::Int(i)) if i32::try_from(*i).is_ok() => Ok(J::from(*i)),
        (Kind::Str, Y::Str(s)) => Ok(J::String(s.clone())),
        (Kind::Duration, Y::Str(s)) => typed(Kind::Duration, s),
        (Kind::List, Y::Seq(items)) => items
            .iter()
            .map(|n| n.as_str().map(|s| J::String(s.to_owned())).ok_or_else(|| "expected a list of strings".to_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map(J::Array),
        (Kind::Map, Y::Map(entries)) => {
            let mut m = serde_json::Map::new();
            for e in entries {
                let b = e.value.as_bool().ok_or_else(|| format!("featureGates.{}: expected a boolean", e.key))?;
                m.insert(e.key.clone(), J::Bool(b));
            }
            Ok(J::Object(m))
        }
        (k, _) => Err(format!("expected {}, found {}", kind_name(k), node.type_name())),
    }
}

const fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Bool => "a boolean",
        Kind::Int => "an int32",
        Kind::Str => "a string",
        Kind::Duration => "a duration string",
        Kind::List => "a list of strings",
        Kind::Map => "a map of booleans",
    }
}

/// A loaded config file (the `--config` file or a drop-in).
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// The path as named.
    pub file: String,
    /// The document.
    pub root: YamlNode,
}

fn node_at<'a>(root: &'a YamlNode, path: &str) -> Option<(&'a YamlNode, Pos)> {
    let mut node = root;
    let mut pos = root.pos;
    for part in path.split('.') {
        let e = node.entry(part)?;
        pos = e.key_pos;
        node = &e.value;
    }
    Some((node, pos))
}

/// Reads a `KubeletConfiguration` file (YAML or JSON) as the kubelet does: it must be one
/// mapping of kind `KubeletConfiguration` in `kubelet.config.k8s.io/v1beta1`, and every modelled
/// field must have its type.
///
/// # Errors
/// What the kubelet would refuse the file for.
pub fn load_config(src: &dyn Source, file: &str) -> Result<ConfigFile, Problem> {
    let problem = |line: Option<u32>, message: String| Problem { file: file.to_owned(), line, message };
    let text = src.read(file).map_err(|e| problem(None, format!("cannot read: {e}")))?;
    let root = parse_documents(&text)
        .into_iter()
        .find_map(|d| match d.root {
            Ok(Some(n)) => Some(Ok(n)),
            Ok(None) => None,
            Err(e) => Some(Err(problem(None, e.to_string()))),
        })
        .unwrap_or_else(|| Err(problem(None, "empty file".to_owned())))?;
    if root.as_map().is_none() {
        return Err(problem(Some(root.pos.line), format!("expected a mapping, found {}", root.type_name())));
    }
    let kind = root.get("kind").and_then(YamlNode::as_str).unwrap_or("");
    let api = root.get("apiVersion").and_then(YamlNode::as_str).unwrap_or("");
    if kind != "KubeletConfiguration" || api != "kubelet.config.k8s.io/v1beta1" {
        return Err(problem(
            Some(root.pos.line),
            format!("not a kubelet.config.k8s.io/v1beta1 KubeletConfiguration (apiVersion {api:?}, kind {kind:?})"),
        ));
    }
    for field in FIELDS.iter().filter(|f| !f.path.is_empty()) {
        if let Some((node, pos)) = node_at(&root, field.path) {
            from_yaml(field.kind, node).map_err(|e| problem(Some(pos.line), format!("{}: {e}", field.path)))?;
        }
    }
    Ok(ConfigFile { file: file.to_owned(), root })
}

/// The kubelet's inputs: its flags (with where they came from) and the root to read its files.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The command-line flags.
    pub flags: Vec<Flag>,
    /// Where the flags came from (`/proc/1234/cmdline`, `--kubelet-flags`).
    pub flags_source: String,
    /// A config file given apart from the flags (`kguard … --kubelet-config`): it replaces the
    /// flags' `--config`.
    pub config: Option<String>,
}

/// The merged result.
#[derive(Clone, Debug, Default)]
pub struct Effective {
    /// The files read, in precedence order (config file, then drop-ins).
    pub files: Vec<String>,
    /// Every modelled field's value.
    pub settings: Vec<Setting>,
    /// Each feature gate set, with its origin.
    pub feature_gates: Vec<(String, bool, Origin)>,
    /// Problems (a file the kubelet would refuse; the rest is still evaluated without it).
    pub problems: Vec<Problem>,
}

impl Effective {
    /// The setting of a config path or flag name.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.field.path == key || s.field.flag == key)
    }
    /// A feature gate's explicit value.
    #[must_use]
    pub fn gate(&self, name: &str) -> Option<(bool, &Origin)> {
        self.feature_gates.iter().find(|g| g.0 == name).map(|g| (g.1, &g.2))
    }
    /// JSON: each field by config path (or flag), with its value and origin.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let mut settings = serde_json::Map::new();
        for s in &self.settings {
            let key = if s.field.path.is_empty() { format!("--{}", s.field.flag) } else { s.field.path.to_owned() };
            settings.insert(
                key,
                serde_json::json!({"value": s.value, "flag": format!("--{}", s.field.flag), "origin": s.origin.to_string()}),
            );
        }
        let gates: serde_json::Map<String, serde_json::Value> = self
            .feature_gates
            .iter()
            .map(|(k, v, o)| (k.clone(), serde_json::json!({"value": v, "origin": o.to_string()})))
            .collect();
        serde_json::json!({
            "files": self.files,
            "settings": settings,
            "featureGates": gates,
            "problems": self.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    }
}

/// Merges defaults, the config file (`inputs.config`, else the `--config` flag), the
/// `--config-dir` drop-ins and the flags, as the kubelet does.
#[must_use]
pub fn effective(src: &dyn Source, inputs: &Inputs) -> Effective {
    let mut eff = Effective::default();
    let flag_of = |name: &str| inputs.flags.iter().rev().find(|f| f.name == name);
    let config_path = inputs.config.clone().or_else(|| flag_of("config").map(|f| f.value.clone()));
    let mut layers: Vec<ConfigFile> = Vec::new();
    let has_config = config_path.as_deref().is_some_and(|p| !p.is_empty());
    if let Some(path) = config_path.filter(|p| !p.is_empty()) {
        match load_config(src, &path) {
            Ok(c) => layers.push(c),
            Err(p) => eff.problems.push(p),
        }
    }
    if let Some(dir) = flag_of("config-dir").map(|f| f.value.clone()).filter(|d| !d.is_empty()) {
        let dir = dir.trim_end_matches('/').to_owned();
        for name in src.list_dir(&dir).into_iter().filter(|n| n.ends_with(".conf")) {
            match load_config(src, &format!("{dir}/{name}")) {
                Ok(c) => layers.push(c),
                Err(p) => eff.problems.push(p),
            }
        }
    }
    eff.files = layers.iter().map(|l| l.file.clone()).collect();
    for field in FIELDS {
        // The last flag wins; a list flag given several times accumulates (pflag's string slice).
        let flags: Vec<&Flag> = inputs.flags.iter().filter(|f| f.name == field.flag).collect();
        let from_flag = if field.kind == Kind::Map {
            None
        } else if let Some(last) = flags.last() {
            let text = if field.kind == Kind::List {
                flags.iter().map(|f| f.value.as_str()).collect::<Vec<_>>().join(",")
            } else {
                last.value.clone()
            };
            match typed(field.kind, &text) {
                Ok(v) => Some((v, Origin::Flag { flag: last.raw.clone(), source: inputs.flags_source.clone() })),
                Err(e) => {
                    eff.problems.push(Problem {
                        file: inputs.flags_source.clone(),
                        line: None,
                        message: format!("invalid argument for --{}: {e}", field.flag),
                    });
                    None
                }
            }
        } else {
            None
        };
        let from_file = || {
            if field.path.is_empty() {
                return None;
            }
            layers.iter().rev().find_map(|l| {
                let (node, pos) = node_at(&l.root, field.path)?;
                let v = from_yaml(field.kind, node).ok()?;
                Some((v, Origin::File { file: l.file.clone(), line: pos.line }))
            })
        };
        let (value, origin) = from_flag.or_else(from_file).unwrap_or_else(|| {
            let (text, origin) = match field.legacy {
                Some(l) if !has_config => (l, Origin::LegacyDefault),
                _ => (field.default, Origin::Default),
            };
            let v = if text.is_empty() && field.kind != Kind::List {
                serde_json::Value::Null
            } else {
                typed(field.kind, text).unwrap_or(serde_json::Value::Null)
            };
            (v, origin)
        });
        eff.settings.push(Setting { field: *field, value, origin });
    }
    // Feature gates: the files' gates (later layers win), then the flags' gates per gate.
    let mut gates: Vec<(String, bool, Origin)> = Vec::new();
    let mut set_gate = |name: &str, v: bool, o: Origin| match gates.iter_mut().find(|g| g.0 == name) {
        Some(g) => *g = (name.to_owned(), v, o),
        None => gates.push((name.to_owned(), v, o)),
    };
    for l in &layers {
        if let Some(entries) = l.root.get("featureGates").and_then(YamlNode::as_map) {
            for e in entries {
                if let Some(b) = e.value.as_bool() {
                    set_gate(&e.key, b, Origin::File { file: l.file.clone(), line: e.key_pos.line });
                }
            }
        }
    }
    for fl in inputs.flags.iter().filter(|f| f.name == "feature-gates") {
        match typed(Kind::Map, &fl.value) {
            Ok(serde_json::Value::Object(m)) => {
                for (k, v) in m {
                    let o = Origin::Flag { flag: fl.raw.clone(), source: inputs.flags_source.clone() };
                    set_gate(&k, v.as_bool().unwrap_or(false), o);
                }
            }
            Ok(_) => {}
            Err(e) => eff.problems.push(Problem {
                file: inputs.flags_source.clone(),
                line: None,
                message: format!("invalid argument for --feature-gates: {e}"),
            }),
        }
    }
    eff.feature_gates = gates;
    eff
}

/// A kubelet process found under the root's `/proc`: its pid and arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// The pid.
    pub pid: u32,
    /// The arguments after the program name (after `kubelet` for `hyperkube kubelet`).
    pub args: Vec<String>,
}

/// The first (lowest pid) process whose program is `kubelet` (or `hyperkube kubelet`).
#[must_use]
pub fn find_process(src: &dyn Source) -> Option<Process> {
    let mut pids: Vec<u32> = src.list_dir("/proc").iter().filter_map(|p| p.parse().ok()).collect();
    pids.sort_unstable();
    pids.into_iter().find_map(|pid| {
        let cmdline = src.read(&format!("/proc/{pid}/cmdline")).ok()?;
        let words: Vec<String> = cmdline.trim_end_matches('\0').split('\0').map(str::to_owned).collect();
        let prog = words.first()?.rsplit('/').next()?.to_owned();
        let skip = if prog == "kubelet" {
            1
        } else if prog == "hyperkube" && words.get(1).is_some_and(|w| w == "kubelet") {
            2
        } else {
            return None;
        };
        Some(Process { pid, args: words.into_iter().skip(skip).collect() })
    })
}

const KUBELET_DOC: &str = "https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/";
const KUBELET_AUTH_DOC: &str = "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/";

macro_rules! rule {
    ($c:ident, $id:literal, $name:literal, $sev:ident, $title:literal, $what:literal, $why:literal, $fix:literal, $cis:literal) => {
        #[doc = $title]
        pub const $c: RuleMeta = RuleMeta {
            id: $id,
            name: $name,
            family: "node-kubelet",
            severity: Severity::$sev,
            title: $title,
            what: $what,
            why: $why,
            fix: $fix,
            references: &[KUBELET_DOC, KUBELET_AUTH_DOC],
            aliases: &[$cis],
            opt_in: false,
        };
    };
}

rule!(
    ANONYMOUS_AUTH,
    "KUBELET001",
    "kubelet-anonymous-auth",
    High,
    "The kubelet accepts anonymous requests",
    "authentication.anonymous.enabled (--anonymous-auth) is true in the kubelet's effective settings. Without a config file the kubelet's command-line default is true.",
    "Anonymous requests to the kubelet API (port 10250) reach pods' logs, exec and the node's metrics as system:anonymous; with AlwaysAllow they are allowed everything.",
    "Set `authentication: {anonymous: {enabled: false}}` in the KubeletConfiguration (or `--anonymous-auth=false`).",
    "cis-4.2.1"
);
rule!(
    ALWAYS_ALLOW,
    "KUBELET002",
    "kubelet-authorization-always-allow",
    Critical,
    "The kubelet authorizes every request (AlwaysAllow)",
    "authorization.mode (--authorization-mode) is AlwaysAllow, the kubelet's command-line default when it runs without a config file.",
    "Any client that reaches port 10250 (anonymous ones too when anonymous auth is on) can exec into every pod of the node.",
    "Set `authorization: {mode: Webhook}` and `authentication: {webhook: {enabled: true}}`.",
    "cis-4.2.2"
);
rule!(
    NO_CLIENT_CA,
    "KUBELET003",
    "kubelet-no-client-ca",
    Medium,
    "The kubelet has no client CA file",
    "authentication.x509.clientCAFile (--client-ca-file) is unset, so the kubelet cannot authenticate clients by certificate (the API server's own calls included).",
    "Without it the API server authenticates to the kubelet with nothing the kubelet can verify.",
    "Set `authentication: {x509: {clientCAFile: /etc/kubernetes/pki/ca.crt}}`.",
    "cis-4.2.3"
);
rule!(
    READ_ONLY_PORT,
    "KUBELET004",
    "kubelet-read-only-port",
    High,
    "The kubelet serves its unauthenticated read-only port",
    "readOnlyPort (--read-only-port) is not 0; 10255 is the command-line default without a config file.",
    "The read-only port serves pod specs (environment variables included) and metrics with neither authentication nor authorization.",
    "Set `readOnlyPort: 0`.",
    "cis-4.2.4"
);
rule!(
    STREAMING_IDLE,
    "KUBELET005",
    "kubelet-streaming-idle-timeout",
    Medium,
    "The kubelet never times out idle streaming connections",
    "streamingConnectionIdleTimeout (--streaming-connection-idle-timeout) is 0.",
    "Idle exec/attach/port-forward connections stay open forever and exhaust the node.",
    "Set `streamingConnectionIdleTimeout: 5m` (the default is 4h).",
    "cis-4.2.5"
);
rule!(
    PROTECT_KERNEL,
    "KUBELET006",
    "kubelet-protect-kernel-defaults",
    Low,
    "The kubelet does not protect the kernel's defaults",
    "protectKernelDefaults (--protect-kernel-defaults) is false: the kubelet changes kernel tunables it disagrees with instead of refusing to start.",
    "With it set, a node whose sysctls differ from what the kubelet expects fails loudly instead of being silently modified.",
    "Set `protectKernelDefaults: true` after setting the kernel parameters the kubelet needs.",
    "cis-1.8-4.2.6"
);
rule!(
    IPTABLES_CHAINS,
    "KUBELET007",
    "kubelet-iptables-util-chains",
    Low,
    "The kubelet does not manage its iptables chains",
    "makeIPTablesUtilChains (--make-iptables-util-chains) is false.",
    "The kubelet's chains keep iptables rules consistent with the pods' networking; without them rules drift.",
    "Remove the setting or set `makeIPTablesUtilChains: true`.",
    "cis-4.2.6"
);
rule!(
    HOSTNAME_OVERRIDE,
    "KUBELET008",
    "kubelet-hostname-override",
    Low,
    "The kubelet overrides the node's host name",
    "--hostname-override is set.",
    "A node name that differs from the host name can break TLS between the kubelet and the API server.",
    "Remove --hostname-override (cloud providers that need it are the exception).",
    "cis-4.2.7"
);
rule!(
    EVENT_QPS,
    "KUBELET009",
    "kubelet-event-qps",
    Low,
    "The kubelet's event rate limit is invalid",
    "eventRecordQPS (--event-qps) is negative (0 means unlimited; the default is 50).",
    "Events record what happens on the node; a limit that drops them hides it.",
    "Set `eventRecordQPS` to 0 or a level that captures the node's events.",
    "cis-4.2.8"
);
rule!(
    NO_TLS_CERT,
    "KUBELET010",
    "kubelet-no-serving-certificate",
    Medium,
    "The kubelet serves with a self-signed certificate",
    "tlsCertFile and tlsPrivateKeyFile (--tls-cert-file, --tls-private-key-file) are unset and serverTLSBootstrap is false: the kubelet generates a self-signed serving certificate.",
    "Clients cannot verify a self-signed certificate, so the API server's connections to the kubelet are open to interception.",
    "Set `serverTLSBootstrap: true` (and approve the CSRs) or `tlsCertFile` and `tlsPrivateKeyFile`.",
    "cis-4.2.9"
);
rule!(
    NO_ROTATION,
    "KUBELET011",
    "kubelet-certificate-rotation",
    Medium,
    "The kubelet does not rotate its client certificate",
    "rotateCertificates (--rotate-certificates) is false.",
    "A client certificate that is never rotated expires (the node goes NotReady) or lives for years once stolen.",
    "Set `rotateCertificates: true`.",
    "cis-4.2.10"
);
rule!(
    NO_SERVER_ROTATION,
    "KUBELET012",
    "kubelet-server-certificate-rotation",
    Low,
    "The kubelet does not rotate its serving certificate",
    "serverTLSBootstrap (--rotate-server-certificates) is false, or the RotateKubeletServerCertificate feature gate is off.",
    "A static serving certificate is never renewed by the cluster's CA.",
    "Set `serverTLSBootstrap: true` and leave the RotateKubeletServerCertificate gate on.",
    "cis-4.2.11"
);
rule!(
    WEAK_CIPHERS,
    "KUBELET013",
    "kubelet-weak-tls-ciphers",
    Medium,
    "The kubelet allows TLS cipher suites outside CIS's strong list",
    "tlsCipherSuites (--tls-cipher-suites) names a suite outside the list of kube-bench's check 4.2.12 (ECDHE with AES-GCM or ChaCha20-Poly1305).",
    "CBC and RSA key-exchange suites lack forward secrecy or have known attacks.",
    "List only TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384.",
    "cis-4.2.12"
);
rule!(
    TLS_MIN_VERSION,
    "KUBELET014",
    "kubelet-tls-min-version",
    Medium,
    "The kubelet accepts TLS below 1.2",
    "tlsMinVersion (--tls-min-version) is VersionTLS10 or VersionTLS11.",
    "TLS 1.0 and 1.1 are deprecated (RFC 8996).",
    "Set `tlsMinVersion: VersionTLS12` (or VersionTLS13), or leave it unset (Go's default is 1.2).",
    "tls-min-version"
);
rule!(
    NO_PID_LIMIT,
    "KUBELET015",
    "kubelet-pod-pids-limit",
    Low,
    "The kubelet sets no limit on pod PIDs",
    "podPidsLimit (--pod-max-pids) is unset or -1.",
    "One pod can fork-bomb the node.",
    "Set `podPidsLimit` to a bound the workloads need (e.g. 4096).",
    "cis-4.2.13"
);
rule!(
    NO_SECCOMP_DEFAULT,
    "KUBELET016",
    "kubelet-seccomp-default",
    Low,
    "The kubelet does not default pods to RuntimeDefault seccomp",
    "seccompDefault (--seccomp-default) is false: containers that name no seccomp profile run Unconfined.",
    "The runtime's default profile blocks dozens of syscalls used in container escapes.",
    "Set `seccompDefault: true`.",
    "cis-4.2.14"
);

/// kube-bench's (cis-1.12 check 4.2.12) strong cipher suites.
pub const STRONG_CIPHERS: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
];

/// The kubelet's rules.
pub const RULES: &[RuleMeta] = &[
    ANONYMOUS_AUTH,
    ALWAYS_ALLOW,
    NO_CLIENT_CA,
    READ_ONLY_PORT,
    STREAMING_IDLE,
    PROTECT_KERNEL,
    IPTABLES_CHAINS,
    HOSTNAME_OVERRIDE,
    EVENT_QPS,
    NO_TLS_CERT,
    NO_ROTATION,
    NO_SERVER_ROTATION,
    WEAK_CIPHERS,
    TLS_MIN_VERSION,
    NO_PID_LIMIT,
    NO_SECCOMP_DEFAULT,
];

fn location(origin: &Origin) -> Option<Location> {
    match origin {
        Origin::File { file, line } => {
            Some(Location { file: Arc::from(file.as_str()), pos: Some(Pos { line: *line, column: 1 }) })
        }
        Origin::Flag { source, .. } if !source.is_empty() => Some(Location::file(Arc::from(source.as_str()))),
        _ => None,
    }
}

/// The findings of the effective settings.
#[must_use]
pub fn check(eff: &Effective) -> Vec<Finding> {
    use serde_json::Value as J;
    let mut out = Vec::new();
    let mut emit = |rule: &RuleMeta, s: &Setting, detail: String| {
        let key = if s.field.path.is_empty() { format!("--{}", s.field.flag) } else { s.field.path.to_owned() };
        let mut f =
            Finding::new(rule, format!("{detail} ({})", s.origin), None, Some(key.clone()), location(&s.origin));
        f.pointer = Some(Arc::from(key.as_str()));
        out.push(f);
    };
    let get = |k: &str| eff.get(k);
    let as_bool = |k: &str| get(k).and_then(|s| s.value.as_bool());
    let as_int = |k: &str| get(k).and_then(|s| s.value.as_i64());
    let as_str = |k: &str| get(k).and_then(|s| s.value.as_str()).unwrap_or("").to_owned();
    if let Some(s) =
        get("authentication.anonymous.enabled").filter(|_| as_bool("authentication.anonymous.enabled") == Some(true))
    {
        emit(&ANONYMOUS_AUTH, s, "authentication.anonymous.enabled is true".to_owned());
    }
    if let Some(s) =
        get("authorization.mode").filter(|_| as_str("authorization.mode").split(',').any(|m| m == "AlwaysAllow"))
    {
        emit(&ALWAYS_ALLOW, s, format!("authorization.mode is {}", as_str("authorization.mode")));
    }
    if let Some(s) =
        get("authentication.x509.clientCAFile").filter(|_| as_str("authentication.x509.clientCAFile").is_empty())
    {
        emit(&NO_CLIENT_CA, s, "authentication.x509.clientCAFile is unset".to_owned());
    }
    if let Some((s, n)) = get("readOnlyPort").zip(as_int("readOnlyPort")).filter(|(_, n)| *n != 0) {
        emit(&READ_ONLY_PORT, s, format!("readOnlyPort is {n}"));
    }
    if let Some(s) = get("streamingConnectionIdleTimeout") {
        let text = s.value.as_str().unwrap_or("");
        if parse_go_duration(text) == Some(0) {
            emit(&STREAMING_IDLE, s, format!("streamingConnectionIdleTimeout is {text}"));
        }
    }
    if let Some(s) = get("protectKernelDefaults").filter(|_| as_bool("protectKernelDefaults") == Some(false)) {
        emit(&PROTECT_KERNEL, s, "protectKernelDefaults is false".to_owned());
    }
    if let Some(s) = get("makeIPTablesUtilChains").filter(|_| as_bool("makeIPTablesUtilChains") == Some(false)) {
        emit(&IPTABLES_CHAINS, s, "makeIPTablesUtilChains is false".to_owned());
    }
    if let Some(s) = get("hostname-override").filter(|_| !as_str("hostname-override").is_empty()) {
        emit(&HOSTNAME_OVERRIDE, s, format!("--hostname-override is {}", as_str("hostname-override")));
    }
    if let Some((s, n)) = get("eventRecordQPS").zip(as_int("eventRecordQPS")).filter(|(_, n)| *n < 0) {
        emit(&EVENT_QPS, s, format!("eventRecordQPS is {n}"));
    }
    let bootstrap = as_bool("serverTLSBootstrap") == Some(true);
    if !bootstrap && (as_str("tlsCertFile").is_empty() || as_str("tlsPrivateKeyFile").is_empty()) {
        let which = if as_str("tlsCertFile").is_empty() { "tlsCertFile" } else { "tlsPrivateKeyFile" };
        if let Some(s) = get(which) {
            emit(&NO_TLS_CERT, s, format!("{which} is unset and serverTLSBootstrap is false"));
        }
    }
    if let Some(s) = get("rotateCertificates").filter(|_| as_bool("rotateCertificates") == Some(false)) {
        emit(&NO_ROTATION, s, "rotateCertificates is false".to_owned());
    }
    match eff.gate("RotateKubeletServerCertificate") {
        Some((false, origin)) => {
            if let Some(s) = get("featureGates") {
                let s2 = Setting { origin: origin.clone(), ..s.clone() };
                emit(&NO_SERVER_ROTATION, &s2, "feature gate RotateKubeletServerCertificate is false".to_owned());
            }
        }
        _ => {
            if let Some(s) = get("serverTLSBootstrap").filter(|_| !bootstrap) {
                emit(&NO_SERVER_ROTATION, s, "serverTLSBootstrap is false".to_owned());
            }
        }
    }
    if let Some(s) = get("tlsCipherSuites") {
        let weak: Vec<&str> = s
            .value
            .as_array()
            .map(|a| a.iter().filter_map(J::as_str).filter(|c| !STRONG_CIPHERS.contains(c)).collect())
            .unwrap_or_default();
        if !weak.is_empty() {
            emit(&WEAK_CIPHERS, s, format!("tlsCipherSuites includes {}", weak.join(",")));
        }
    }
    if let Some(s) = get("tlsMinVersion") {
        let v = s.value.as_str().unwrap_or("");
        if v == "VersionTLS10" || v == "VersionTLS11" {
            emit(&TLS_MIN_VERSION, s, format!("tlsMinVersion is {v}"));
        }
    }
    if let Some((s, n)) = get("podPidsLimit").zip(as_int("podPidsLimit")).filter(|(_, n)| *n < 0) {
        emit(&NO_PID_LIMIT, s, format!("podPidsLimit is {n}"));
    }
    if let Some(s) = get("seccompDefault").filter(|_| as_bool("seccompDefault") == Some(false)) {
        emit(&NO_SECCOMP_DEFAULT, s, "seccompDefault is false".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn flags(s: &str) -> Vec<Flag> {
        parse_flags(&split_words(s)).unwrap()
    }

    const CONFIG: &str = "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
readOnlyPort: 10255
rotateCertificates: true
featureGates:
  RotateKubeletServerCertificate: true
";

    #[test]
    fn words_and_flags() {
        assert_eq!(split_words(r#"--a=1  --b "x y" 'z w'\ v"#), ["--a=1", "--b", "x y", "z w v"]);
        let f = flags("--anonymous-auth --read-only-port 0 --tls_min_version=VersionTLS13 -v=2");
        assert_eq!(
            f.iter().map(|f| (f.name.as_str(), f.value.as_str())).collect::<Vec<_>>(),
            [("anonymous-auth", "true"), ("read-only-port", "0"), ("tls-min-version", "VersionTLS13"), ("v", "2")]
        );
        assert!(parse_flags(&split_words("--anonymous-auth false")).is_err(), "a bool flag takes no separate value");
        assert!(parse_flags(&split_words("--port")).is_err());
        assert!(parse_flags(&split_words("--anonymous-auth=maybe")).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("4h0m0s"), Some(4 * 3600 * 1_000_000_000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("0s"), Some(0));
        assert_eq!(parse_go_duration("1.5m"), Some(90 * 1_000_000_000));
        assert_eq!(parse_go_duration("5"), None);
    }

    #[test]
    fn legacy_defaults_without_config_file() {
        let eff = effective(&MemSource::new(), &Inputs::default());
        let ids: Vec<String> = check(&eff).iter().map(|f| f.rule_id.clone()).collect();
        for id in ["KUBELET001", "KUBELET002", "KUBELET003", "KUBELET004"] {
            assert!(ids.iter().any(|i| i == id), "{id} in {ids:?}");
        }
        assert_eq!(eff.get("readOnlyPort").unwrap().origin, Origin::LegacyDefault);
    }

    #[test]
    fn config_then_flags() {
        let mut src = MemSource::new();
        src.insert("/var/lib/kubelet/config.yaml", CONFIG);
        let inputs = Inputs {
            flags: flags(
                "--config=/var/lib/kubelet/config.yaml --read-only-port=0 --feature-gates=RotateKubeletServerCertificate=false",
            ),
            flags_source: "--kubelet-flags".to_owned(),
            config: None,
        };
        let eff = effective(&src, &inputs);
        assert!(eff.problems.is_empty(), "{:?}", eff.problems);
        let anon = eff.get("authentication.anonymous.enabled").unwrap();
        assert_eq!(anon.value, serde_json::json!(false));
        assert_eq!(anon.origin, Origin::File { file: "/var/lib/kubelet/config.yaml".into(), line: 5 });
        let ro = eff.get("readOnlyPort").unwrap();
        assert_eq!(ro.value, serde_json::json!(0));
        assert!(matches!(&ro.origin, Origin::Flag { flag, .. } if flag == "--read-only-port=0"));
        // v1beta1 defaults, since a config file is in use.
        assert_eq!(eff.get("authentication.webhook.enabled").unwrap().origin, Origin::Default);
        let gate = eff.gate("RotateKubeletServerCertificate").unwrap();
        assert!(!gate.0 && matches!(gate.1, Origin::Flag { .. }));
        let ids: Vec<String> = check(&eff).iter().map(|f| f.rule_id.clone()).collect();
        assert!(!ids.iter().any(|i| i == "KUBELET001" || i == "KUBELET002" || i == "KUBELET004"), "{ids:?}");
        assert!(ids.iter().any(|i| i == "KUBELET012"), "{ids:?}");
    }

    #[test]
    fn drop_ins_override_the_config_file() {
        let mut src = MemSource::new();
        src.insert("/etc/kubelet.yaml", CONFIG);
        src.insert(
            "/etc/kubelet.conf.d/10-a.conf",
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 0\n",
        );
        src.insert("/etc/kubelet.conf.d/ignored.yaml", "readOnlyPort: 1\n");
        let inputs =
            Inputs { flags: flags("--config /etc/kubelet.yaml --config-dir=/etc/kubelet.conf.d"), ..Inputs::default() };
        let eff = effective(&src, &inputs);
        assert_eq!(eff.files, ["/etc/kubelet.yaml", "/etc/kubelet.conf.d/10-a.conf"]);
        let ro = eff.get("readOnlyPort").unwrap();
        assert_eq!(
            (ro.value.clone(), ro.origin.to_string()),
            (serde_json::json!(0), "/etc/kubelet.conf.d/10-a.conf:3".to_owned())
        );
    }

    #[test]
    fn refused_files_are_problems() {
        let mut src = MemSource::new();
        src.insert(
            "/c.yaml",
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: abc\n",
        );
        src.insert("/d.yaml", "kind: Pod\n");
        for (file, want) in [
            ("/c.yaml", "/c.yaml:3: readOnlyPort: expected an int32"),
            ("/d.yaml", "/d.yaml:1: not a kubelet"),
            ("/e.yaml", "/e.yaml: cannot read"),
        ] {
            let eff = effective(&src, &Inputs { config: Some(file.to_owned()), ..Inputs::default() });
            assert!(eff.problems.first().is_some_and(|p| p.to_string().starts_with(want)), "{:?}", eff.problems);
        }
    }

    #[test]
    fn kubelet_process_from_proc() {
        let mut src = MemSource::new();
        src.insert("/proc/1/cmdline", "/sbin/init\0");
        src.insert("/proc/812/cmdline", "/usr/bin/kubelet\0--config=/var/lib/kubelet/config.yaml\0--v=2\0");
        let p = find_process(&src).unwrap();
        assert_eq!((p.pid, p.args.len()), (812, 2));
    }
}
