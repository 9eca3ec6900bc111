//! Rules files as Falco loads them: a YAML sequence of `rule`, `macro`, `list`,
//! `required_engine_version` and `required_plugin_versions` items; several files in order;
//! redefinition, legacy `append: true`, `override:` (append/replace), `enabled`, `exceptions`.
//! Every problem names `file:line:column` of the item concerned.

use std::fmt;
use std::sync::Arc;

use kguard_model::Pos;
use kguard_model::yaml::{self, Value, YamlNode};

/// The engine version we implement (Falco's `FALCO_ENGINE_VERSION`): the condition language
/// (operators, transformers, field-to-field comparisons) and the fields that the current stable
/// rules (`falco-rules-5.1.0`, which requires 0.57.0) use; every one of its rules compiles.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 57, 0);

/// Plugins whose fields we provide, with the version we are compatible with. `container`: the
/// `container.*` fields come with the syscall source (`kguard-runtime`), as the container plugin
/// adds them to Falco's.
pub const PROVIDED_PLUGINS: &[(&str, &str)] = &[("k8saudit", "0.18.0"), ("json", "0.7.0"), ("container", "0.4.0")];

/// How bad a load message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Loading goes on.
    Warning,
    /// The rules cannot be used.
    Error,
}

/// A problem found while loading rules files, with its place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadMessage {
    /// Error or warning.
    pub level: Level,
    /// The file as named by the caller.
    pub file: Arc<str>,
    /// Position of the item (or key) concerned.
    pub pos: Option<Pos>,
    /// The item, e.g. `rule 'Create Privileged Pod'`.
    pub item: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{}:{}:{}: ", self.file, p.line, p.column)?,
            None => write!(f, "{}: ", self.file)?,
        }
        f.write_str(if self.level == Level::Error { "error" } else { "warning" })?;
        write!(f, ": {}", self.message)?;
        if let Some(i) = &self.item {
            write!(f, " ({i})")?;
        }
        Ok(())
    }
}

/// Where an item was defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// File.
    pub file: Arc<str>,
    /// Position of the item.
    pub pos: Pos,
}

/// Falco priorities, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// EMERGENCY
    Emergency,
    /// ALERT
    Alert,
    /// CRITICAL
    Critical,
    /// ERROR
    Error,
    /// WARNING
    Warning,
    /// NOTICE
    Notice,
    /// INFO / INFORMATIONAL
    Informational,
    /// DEBUG
    Debug,
}

impl Priority {
    /// Parses a priority (case-insensitive; `info` is accepted).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "emergency" => Self::Emergency,
            "alert" => Self::Alert,
            "critical" => Self::Critical,
            "error" => Self::Error,
            "warning" => Self::Warning,
            "notice" => Self::Notice,
            "info" | "informational" => Self::Informational,
            "debug" => Self::Debug,
            _ => return None,
        })
    }

    /// The name Falco prints (`Warning`, `Informational`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Emergency => "Emergency",
            Self::Alert => "Alert",
            Self::Critical => "Critical",
            Self::Error => "Error",
            Self::Warning => "Warning",
            Self::Notice => "Notice",
            Self::Informational => "Informational",
            Self::Debug => "Debug",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `list` item.
#[derive(Clone, Debug, PartialEq)]
pub struct ListDef {
    /// Name.
    pub name: String,
    /// Items as written (names of earlier lists are expanded at compile time).
    pub items: Vec<String>,
    /// Where.
    pub origin: Origin,
}

/// A `macro` item.
#[derive(Clone, Debug, PartialEq)]
pub struct MacroDef {
    /// Name.
    pub name: String,
    /// Condition text (appends concatenated with a space).
    pub condition: String,
    /// Where.
    pub origin: Origin,
}

/// The `fields` / `comps` of an exception: one field, or a tuple.
#[derive(Clone, Debug, PartialEq)]
pub enum ExceptionFields {
    /// `fields: ka.target.name`
    One(String),
    /// `fields: [a, b]`
    Many(Vec<String>),
}

/// One exception of a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ExceptionDef {
    /// Unique name within the rule.
    pub name: String,
    /// Fields (`None` when only values are given, in an append).
    pub fields: Option<ExceptionFields>,
    /// Operators: one string, or one per field.
    pub comps: Option<ExceptionFields>,
    /// Values: for a single field, a flat list; for a tuple, a list of tuples (each item may be a list).
    pub values: Vec<YamlNode>,
    /// Where.
    pub pos: Pos,
}

/// A `rule` item.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDef {
    /// Name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Condition text.
    pub condition: String,
    /// Output format.
    pub output: String,
    /// Priority.
    pub priority: Priority,
    /// Event source (`syscall` by default).
    pub source: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Enabled.
    pub enabled: bool,
    /// Exceptions.
    pub exceptions: Vec<ExceptionDef>,
    /// `skip-if-unknown-filter`: a condition naming a field this engine lacks skips the rule
    /// with a warning instead of failing the load.
    pub skip_if_unknown_filter: bool,
    /// Where.
    pub origin: Origin,
}

/// Everything loaded from rules files, before compilation.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    /// Lists in definition order.
    pub lists: Vec<ListDef>,
    /// Macros in definition order.
    pub macros: Vec<MacroDef>,
    /// Rules in definition order.
    pub rules: Vec<RuleDef>,
    /// Highest `required_engine_version` seen.
    pub required_engine_version: Option<(u64, u64, u64)>,
}

/// Parses a version: an integer `N` means `0.N.0`; else `x.y.z`.
#[must_use]
pub fn parse_version(node: &YamlNode) -> Option<(u64, u64, u64)> {
    if let Some(i) = node.as_i64() {
        return u64::try_from(i).ok().map(|n| (0, n, 0));
    }
    let s = scalar_text(node)?;
    let mut it = s.trim().split('.').map(|p| p.parse::<u64>().ok());
    let a = it.next()??;
    let b = it.next().unwrap_or(Some(0))?;
    let c = it.next().unwrap_or(Some(0))?;
    if it.next().is_some() {
        return None;
    }
    Some((a, b, c))
}

/// The text of a scalar node, as Falco's YAML reader would see it.
#[must_use]
pub fn scalar_text(node: &YamlNode) -> Option<String> {
    match &node.value {
        Value::Str(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
    }
}

const LIST_KEYS: &[&str] = &["list", "items", "append", "override"];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override"];
const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "source",
    "tags",
    "enabled",
    "exceptions",
    "override",
    "append",
    "capture",
    "capture_duration",
    "warn_evttypes",
    "skip-if-unknown-filter",
];
const RULE_APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
];

/// Loads rules files one after the other into a [`RuleSet`].
#[derive(Debug, Default)]
pub struct Loader {
    set: RuleSet,
    messages: Vec<LoadMessage>,
}

struct Ctx<'a> {
    file: &'a Arc<str>,
    item: Option<String>,
    pos: Pos,
}

impl Loader {
    /// An empty loader.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Messages so far (errors and warnings).
    #[must_use]
    pub fn messages(&self) -> &[LoadMessage] {
        &self.messages
    }

    /// Whether an error was reported.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.messages.iter().any(|m| m.level == Level::Error)
    }

    /// The rule set and all messages.
    #[must_use]
    pub fn finish(self) -> (RuleSet, Vec<LoadMessage>) {
        (self.set, self.messages)
    }

    fn msg(&mut self, level: Level, ctx: &Ctx<'_>, pos: Option<Pos>, message: impl Into<String>) {
        self.messages.push(LoadMessage {
            level,
            file: ctx.file.clone(),
            pos: pos.or(Some(ctx.pos)),
            item: ctx.item.clone(),
            message: message.into(),
        });
    }

    /// Loads one file's text. Errors are recorded (see [`Loader::messages`]); items of a file
    /// with errors are still kept where they could be read.
    pub fn add_file(&mut self, file: &str, text: &str) {
        let file: Arc<str> = Arc::from(file);
        let docs = yaml::parse_documents(text);
        let mut any = false;
        for doc in docs {
            let ctx = Ctx { file: &file, item: None, pos: doc.pos };
            let root = match doc.root {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e) => {
                    self.msg(Level::Error, &ctx, Some(e.pos), format!("invalid YAML: {}", e.message));
                    continue;
                }
            };
            any = true;
            let Some(items) = root.as_seq() else {
                self.msg(Level::Error, &ctx, Some(root.pos), "Rules content is not yaml array of objects");
                continue;
            };
            for item in items {
                self.add_item(&file, item);
            }
        }
        let _ = any;
    }

    fn add_item(&mut self, file: &Arc<str>, item: &YamlNode) {
        let mut ctx = Ctx { file, item: None, pos: item.pos };
        if item.is_null() {
            self.msg(Level::Warning, &ctx, None, "empty item ignored");
            return;
        }
        let Some(_) = item.as_map() else {
            self.msg(
                Level::Error,
                &ctx,
                None,
                "Unexpected element type. Each element should be a yaml associative array.",
            );
            return;
        };
        if let Some(v) = item.get("required_engine_version") {
            ctx.item = Some("required_engine_version".to_owned());
            match parse_version(v) {
                Some(ver) => {
                    if ver > ENGINE_VERSION {
                        let (a, b, c) = ver;
                        let (x, y, z) = ENGINE_VERSION;
                        self.msg(
                            Level::Error,
                            &ctx,
                            Some(v.pos),
                            format!("Rules require engine version {a}.{b}.{c}, but engine version is {x}.{y}.{z}"),
                        );
                    }
                    let cur = self.set.required_engine_version.unwrap_or((0, 0, 0));
                    self.set.required_engine_version = Some(cur.max(ver));
                }
                None => self.msg(Level::Error, &ctx, Some(v.pos), "Unable to parse engine version"),
            }
        } else if let Some(v) = item.get("required_plugin_versions") {
            ctx.item = Some("required_plugin_versions".to_owned());
            self.plugin_versions(&ctx, v);
        } else if let Some(n) = item.get("list") {
            self.add_list(file, item, n, &mut ctx);
        } else if let Some(n) = item.get("macro") {
            self.add_macro(file, item, n, &mut ctx);
        } else if let Some(n) = item.get("rule") {
            self.add_rule(file, item, n, &mut ctx);
        } else {
            self.msg(Level::Error, &ctx, None, "Unknown top level item");
        }
    }

    fn plugin_versions(&mut self, ctx: &Ctx<'_>, v: &YamlNode) {
        let Some(reqs) = v.as_seq() else {
            self.msg(Level::Error, ctx, Some(v.pos), "Value of required_plugin_versions must be a sequence");
            return;
        };
        for req in reqs {
            let mut options = vec![req];
            if let Some(alts) = req.get("alternatives").and_then(YamlNode::as_seq) {
                options.extend(alts.iter());
            }
            let mut names = Vec::new();
            let mut ok = false;
            for o in &options {
                let (Some(name), Some(ver)) =
                    (o.get("name").and_then(scalar_text), o.get("version").and_then(parse_version))
                else {
                    self.msg(
                        Level::Error,
                        ctx,
                        Some(o.pos),
                        "required_plugin_versions entries need 'name' and 'version'",
                    );
                    return;
                };
                names.push(format!("{name} {}.{}.{}", ver.0, ver.1, ver.2));
                if let Some((_, have)) = PROVIDED_PLUGINS.iter().find(|(n, _)| *n == name) {
                    let have = parse_version(&YamlNode { value: Value::Str((*have).to_owned()), pos: o.pos });
                    if have.is_some_and(|h| h.0 == ver.0 && h >= ver) {
                        ok = true;
                    }
                }
            }
            if !ok {
                self.msg(
                    Level::Error,
                    ctx,
                    Some(req.pos),
                    format!("Plugin requirement not satisfied, must load one of: {}", names.join(", ")),
                );
            }
        }
    }

    fn name_of(&mut self, n: &YamlNode, what: &str, ctx: &Ctx<'_>) -> Option<String> {
        match n.as_str() {
            Some(s) if !s.is_empty() => Some(s.to_owned()),
            _ => {
                self.msg(Level::Error, ctx, Some(n.pos), format!("Value of {what} must be a non-empty string"));
                None
            }
        }
    }

    fn check_keys(&mut self, item: &YamlNode, allowed: &[&str], ctx: &Ctx<'_>) {
        for e in item.as_map().unwrap_or(&[]) {
            if !allowed.contains(&e.key.as_str()) {
                self.msg(Level::Warning, ctx, Some(e.key_pos), format!("unknown key '{}' (schema validation)", e.key));
            }
        }
    }

    /// Reads `override:`; returns (append keys, replace keys), or `None` after an error.
    fn overrides(
        &mut self,
        item: &YamlNode,
        ctx: &Ctx<'_>,
        appendable: &[&str],
        replaceable: &[&str],
    ) -> Option<(Vec<String>, Vec<String>)> {
        let Some(ov) = item.get("override") else { return Some((Vec::new(), Vec::new())) };
        let Some(entries) = ov.as_map().filter(|m| !m.is_empty()) else {
            self.msg(Level::Error, ctx, Some(ov.pos), "Value of 'override' must be a non-empty map");
            return None;
        };
        let (mut app, mut rep) = (Vec::new(), Vec::new());
        for e in entries {
            let mode = e.value.as_str().unwrap_or("");
            let allowed = match mode {
                "append" => appendable,
                "replace" => replaceable,
                _ => {
                    self.msg(
                        Level::Error,
                        ctx,
                        Some(e.value.pos),
                        format!("Invalid override mode '{mode}' for key '{}': expected append or replace", e.key),
                    );
                    return None;
                }
            };
            if !allowed.contains(&e.key.as_str()) {
                self.msg(
                    Level::Error,
                    ctx,
                    Some(e.key_pos),
                    format!("Key '{}' cannot be overridden with mode '{mode}'", e.key),
                );
                return None;
            }
            if item.get(&e.key).is_none() {
                self.msg(
                    Level::Error,
                    ctx,
                    Some(e.key_pos),
                    format!("An override is defined for '{}' but the item has no such key", e.key),
                );
                return None;
            }
            if mode == "append" { app.push(e.key.clone()) } else { rep.push(e.key.clone()) }
        }
        for e in item.as_map().unwrap_or(&[]) {
            let k = e.key.as_str();
            if !matches!(k, "rule" | "macro" | "list" | "override") && !app.iter().chain(rep.iter()).any(|x| x == k) {
                self.msg(
                    Level::Error,
                    ctx,
                    Some(e.key_pos),
                    format!("Key '{k}' has no override mode; with 'override', every key must have one"),
                );
                return None;
            }
        }
        Some((app, rep))
    }

    fn append_flag(&mut self, item: &YamlNode, ctx: &Ctx<'_>) -> bool {
        match item.get("append") {
            None => false,
            Some(n) => match n.as_bool() {
                Some(b) => {
                    if b && item.get("override").is_some() {
                        self.msg(
                            Level::Error,
                            ctx,
                            Some(n.pos),
                            "Keys 'override' and 'append: true' cannot be used together",
                        );
                    }
                    b
                }
                None => {
                    self.msg(Level::Error, ctx, Some(n.pos), "Value of 'append' must be a boolean");
                    false
                }
            },
        }
    }

    fn string_list(&mut self, n: &YamlNode, what: &str, ctx: &Ctx<'_>) -> Option<Vec<String>> {
        let Some(seq) = n.as_seq() else {
            self.msg(Level::Error, ctx, Some(n.pos), format!("Value of {what} must be a sequence"));
            return None;
        };
        let mut out = Vec::new();
        for i in seq {
            match scalar_text(i) {
                Some(s) => out.push(s),
                None => {
                    self.msg(Level::Error, ctx, Some(i.pos), format!("Items of {what} must be strings"));
                    return None;
                }
            }
        }
        Some(out)
    }

    fn add_list(&mut self, file: &Arc<str>, item: &YamlNode, n: &YamlNode, ctx: &mut Ctx<'_>) {
        let Some(name) = self.name_of(n, "list", ctx) else { return };
        ctx.item = Some(format!("list '{name}'"));
        self.check_keys(item, LIST_KEYS, ctx);
        let append = self.append_flag(item, ctx);
        let Some((app, rep)) = self.overrides(item, ctx, &["items"], &["items"]) else { return };
        let Some(items_node) = item.get("items") else {
            self.msg(Level::Error, ctx, None, "Item has no mapping for key 'items'");
            return;
        };
        let Some(items) = self.string_list(items_node, "items", ctx) else { return };
        let existing = self.set.lists.iter().position(|l| l.name == name);
        if append || !app.is_empty() || !rep.is_empty() {
            let Some(i) = existing else {
                self.msg(
                    Level::Error,
                    ctx,
                    None,
                    format!(
                        "List has '{}' but no list by that name already exists",
                        if append { "append" } else { "override" }
                    ),
                );
                return;
            };
            if let Some(l) = self.set.lists.get_mut(i) {
                if append || !app.is_empty() { l.items.extend(items) } else { l.items = items }
            }
            return;
        }
        let def = ListDef { name, items, origin: Origin { file: file.clone(), pos: item.pos } };
        match existing.and_then(|i| self.set.lists.get_mut(i)) {
            Some(slot) => *slot = def,
            None => self.set.lists.push(def),
        }
    }

    fn add_macro(&mut self, file: &Arc<str>, item: &YamlNode, n: &YamlNode, ctx: &mut Ctx<'_>) {
        let Some(name) = self.name_of(n, "macro", ctx) else { return };
        ctx.item = Some(format!("macro '{name}'"));
        self.check_keys(item, MACRO_KEYS, ctx);
        let append = self.append_flag(item, ctx);
        let Some((app, rep)) = self.overrides(item, ctx, &["condition"], &["condition"]) else { return };
        let Some(cond_node) = item.get("condition") else {
            self.msg(Level::Error, ctx, None, "Item has no mapping for key 'condition'");
            return;
        };
        let Some(cond) = scalar_text(cond_node) else {
            self.msg(Level::Error, ctx, Some(cond_node.pos), "Value of condition must be a string");
            return;
        };
        let existing = self.set.macros.iter().position(|m| m.name == name);
        if append || !app.is_empty() || !rep.is_empty() {
            let Some(i) = existing else {
                self.msg(
                    Level::Error,
                    ctx,
                    None,
                    format!(
                        "Macro has '{}' but no macro by that name already exists",
                        if append { "append" } else { "override" }
                    ),
                );
                return;
            };
            if let Some(m) = self.set.macros.get_mut(i) {
                if append || !app.is_empty() {
                    m.condition = format!("{} {cond}", m.condition);
                } else {
                    m.condition = cond;
                }
            }
            return;
        }
        let def = MacroDef { name, condition: cond, origin: Origin { file: file.clone(), pos: item.pos } };
        match existing.and_then(|i| self.set.macros.get_mut(i)) {
            Some(slot) => *slot = def,
            None => self.set.macros.push(def),
        }
    }

    fn exceptions(&mut self, n: &YamlNode, ctx: &Ctx<'_>) -> Option<Vec<ExceptionDef>> {
        let Some(seq) = n.as_seq() else {
            self.msg(Level::Error, ctx, Some(n.pos), "Value of exceptions must be a sequence");
            return None;
        };
        let mut out: Vec<ExceptionDef> = Vec::new();
        for e in seq {
            let Some(name) = e.get("name").and_then(scalar_text) else {
                self.msg(Level::Error, ctx, Some(e.pos), "Item has no mapping for key 'name'");
                return None;
            };
            if out.iter().any(|x| x.name == name) {
                self.msg(
                    Level::Error,
                    ctx,
                    Some(e.pos),
                    format!("Multiple definitions of exception '{name}' in the same rule"),
                );
                return None;
            }
            for k in e.as_map().unwrap_or(&[]) {
                if !matches!(k.key.as_str(), "name" | "fields" | "comps" | "values") {
                    self.msg(
                        Level::Warning,
                        ctx,
                        Some(k.key_pos),
                        format!("unknown key '{}' in exception (schema validation)", k.key),
                    );
                }
            }
            let fields_of = |node: Option<&YamlNode>| -> Result<Option<ExceptionFields>, Pos> {
                match node {
                    None => Ok(None),
                    Some(f) => match &f.value {
                        Value::Seq(items) => items
                            .iter()
                            .map(|i| scalar_text(i).ok_or(i.pos))
                            .collect::<Result<Vec<_>, _>>()
                            .map(|v| Some(ExceptionFields::Many(v))),
                        _ => scalar_text(f).map(|s| Some(ExceptionFields::One(s))).ok_or(f.pos),
                    },
                }
            };
            let fields = match fields_of(e.get("fields")) {
                Ok(f) => f,
                Err(p) => {
                    self.msg(
                        Level::Error,
                        ctx,
                        Some(p),
                        "Value of exception fields must be a string or a sequence of strings",
                    );
                    return None;
                }
            };
            let comps = match fields_of(e.get("comps")) {
                Ok(c) => c,
                Err(p) => {
                    self.msg(
                        Level::Error,
                        ctx,
                        Some(p),
                        "Value of exception comps must be a string or a sequence of strings",
                    );
                    return None;
                }
            };
            let values = match e.get("values") {
                None => Vec::new(),
                Some(v) => match v.as_seq() {
                    Some(s) => s.to_vec(),
                    None if v.is_null() => Vec::new(),
                    None => {
                        self.msg(Level::Error, ctx, Some(v.pos), "Value of exception values must be a sequence");
                        return None;
                    }
                },
            };
            out.push(ExceptionDef { name, fields, comps, values, pos: e.pos });
        }
        Some(out)
    }

    #[allow(clippy::too_many_lines)]
    fn add_rule(&mut self, file: &Arc<str>, item: &YamlNode, n: &YamlNode, ctx: &mut Ctx<'_>) {
        let Some(name) = self.name_of(n, "rule", ctx) else { return };
        ctx.item = Some(format!("rule '{name}'"));
        self.check_keys(item, RULE_KEYS, ctx);
        let append = self.append_flag(item, ctx);
        let Some((app, rep)) = self.overrides(item, ctx, RULE_APPENDABLE, RULE_REPLACEABLE) else { return };
        let text = |k: &str| item.get(k).and_then(scalar_text);
        let existing = self.set.rules.iter().position(|r| r.name == name);
        let enabled = match item.get("enabled") {
            None => None,
            Some(e) => match e.as_bool() {
                Some(b) => Some(b),
                None => {
                    self.msg(Level::Error, ctx, Some(e.pos), "Value of enabled must be a boolean");
                    return;
                }
            },
        };
        let priority = match item.get("priority") {
            None => None,
            Some(p) => match scalar_text(p).as_deref().and_then(Priority::parse) {
                Some(p) => Some(p),
                None => {
                    self.msg(
                        Level::Error,
                        ctx,
                        Some(p.pos),
                        format!("Invalid priority '{}'", scalar_text(p).unwrap_or_default()),
                    );
                    return;
                }
            },
        };
        let tags = match item.get("tags") {
            None => None,
            Some(t) => match self.string_list(t, "tags", ctx) {
                Some(v) => Some(v),
                None => return,
            },
        };
        let exceptions = match item.get("exceptions") {
            None => None,
            Some(x) => match self.exceptions(x, ctx) {
                Some(v) => Some(v),
                None => return,
            },
        };
        if let (Some(src), Some(i)) = (item.get("source"), existing)
            && let Some(s) = scalar_text(src)
            && self.set.rules.get(i).is_some_and(|r| r.source != s)
            && (append || !app.is_empty() || !rep.is_empty() || item.get("condition").is_some())
        {
            self.msg(
                Level::Error,
                ctx,
                Some(src.pos),
                format!("Rule has been re-defined with a different source ({s})"),
            );
            return;
        }

        if append || !app.is_empty() || !rep.is_empty() {
            let Some(i) = existing else {
                self.msg(
                    Level::Error,
                    ctx,
                    None,
                    format!(
                        "Rule has '{}' but no rule by that name already exists",
                        if append { "append" } else { "override" }
                    ),
                );
                return;
            };
            let Some(r) = self.set.rules.get_mut(i) else { return };
            let is_app = |k: &str| append || app.iter().any(|x| x == k);
            let is_rep = |k: &str| !append && rep.iter().any(|x| x == k);
            if let Some(c) = text("condition") {
                if is_app("condition") {
                    r.condition = format!("{} {c}", r.condition)
                } else if is_rep("condition") {
                    r.condition = c
                }
            }
            if let Some(o) = text("output") {
                if is_app("output") {
                    r.output = format!("{} {o}", r.output)
                } else if is_rep("output") {
                    r.output = o
                }
            }
            if let Some(d) = text("desc") {
                if is_app("desc") {
                    r.desc = format!("{} {d}", r.desc)
                } else if is_rep("desc") {
                    r.desc = d
                }
            }
            if let Some(t) = tags {
                if is_app("tags") {
                    r.tags.extend(t)
                } else if is_rep("tags") {
                    r.tags = t
                }
            }
            if let Some(p) = priority.filter(|_| is_rep("priority")) {
                r.priority = p;
            }
            if let Some(b) = item.get("skip-if-unknown-filter").and_then(YamlNode::as_bool)
                && (append || is_rep("skip-if-unknown-filter"))
            {
                r.skip_if_unknown_filter = b;
            }
            if let Some(e) = enabled.filter(|_| is_rep("enabled") || append) {
                r.enabled = e;
            }
            if let Some(exs) = exceptions {
                if is_rep("exceptions") {
                    r.exceptions = exs;
                } else if is_app("exceptions") {
                    for ex in exs {
                        if let Some(cur) = r.exceptions.iter_mut().find(|c| c.name == ex.name) {
                            if ex.fields.is_some() || ex.comps.is_some() {
                                let msg = format!(
                                    "Can not append exception '{}' with fields or comps: an existing exception has that name",
                                    ex.name
                                );
                                self.messages.push(LoadMessage {
                                    level: Level::Error,
                                    file: ctx.file.clone(),
                                    pos: Some(ex.pos),
                                    item: ctx.item.clone(),
                                    message: msg,
                                });
                                return;
                            }
                            cur.values.extend(ex.values);
                        } else {
                            r.exceptions.push(ex);
                        }
                    }
                }
            }
            return;
        }

        // Enabling/disabling an existing rule by name only (deprecated form).
        let only_enabled =
            item.as_map().is_some_and(|m| m.iter().all(|e| matches!(e.key.as_str(), "rule" | "enabled")));
        if only_enabled && enabled.is_some() {
            if let Some(r) = existing.and_then(|i| self.set.rules.get_mut(i)) {
                r.enabled = enabled.unwrap_or(true);
                return;
            }
            self.msg(Level::Error, ctx, None, "Rule has 'enabled' but no rule by that name already exists");
            return;
        }
        if enabled == Some(true) {
            self.msg(Level::Warning, ctx, None, "The 'enabled' key with value true is deprecated without 'override'");
        }
        let mut missing = Vec::new();
        for k in ["condition", "output", "desc", "priority"] {
            if item.get(k).is_none() {
                missing.push(k);
            }
        }
        if let Some(k) = missing.first() {
            self.msg(Level::Error, ctx, None, format!("Item has no mapping for key '{k}'"));
            return;
        }
        let (Some(condition), Some(output), Some(desc), Some(priority)) =
            (text("condition"), text("output"), text("desc"), priority)
        else {
            self.msg(Level::Error, ctx, None, "Values of condition, output and desc must be strings");
            return;
        };
        let source = text("source").unwrap_or_else(|| "syscall".to_owned());
        let def = RuleDef {
            name,
            desc,
            condition,
            output,
            priority,
            source,
            tags: tags.unwrap_or_default(),
            enabled: enabled.unwrap_or(true),
            exceptions: exceptions.unwrap_or_default(),
            skip_if_unknown_filter: item.get("skip-if-unknown-filter").and_then(YamlNode::as_bool).unwrap_or(false),
            origin: Origin { file: file.clone(), pos: item.pos },
        };
        match existing.and_then(|i| self.set.rules.get_mut(i)) {
            Some(slot) => {
                if slot.source != def.source {
                    let msg = format!("Rule has been re-defined with a different source ({})", def.source);
                    self.msg(Level::Error, ctx, None, msg);
                    return;
                }
                *slot = def;
            }
            None => self.set.rules.push(def),
        }
    }
}
