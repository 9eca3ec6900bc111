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
    /// Falco's kind of item (`rule`, `macro`, `list`, `exception`, `rules content`,
    /// `rules content item`, `required_engine_version`, `required_plugin_versions`).
    pub item_type: &'static str,
    /// The item's name (empty for items without one).
    pub item_name: String,
    /// Falco's code (`LOAD_ERR_YAML_PARSE`, `LOAD_ERR_YAML_VALIDATE`, `LOAD_ERR_VALIDATE`,
    /// `LOAD_ERR_COMPILE_CONDITION`, `LOAD_ERR_COMPILE_OUTPUT`; warnings `LOAD_UNUSED_MACRO`,
    /// `LOAD_UNUSED_LIST`, `LOAD_NO_EVTTYPE`, `LOAD_UNKNOWN_FIELD`, `LOAD_DEPRECATED_ITEM`, …).
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

impl LoadMessage {
    /// A message about an item (`item_type` and `item_name` as Falco names them), its code chosen
    /// from the message as Falco's loader chooses it for that kind of problem.
    #[must_use]
    pub fn new(
        level: Level,
        file: Arc<str>,
        pos: Option<Pos>,
        item_type: &'static str,
        item_name: &str,
        message: String,
    ) -> Self {
        let item = match item_type {
            "" => None,
            "rule" | "macro" | "list" | "exception" => Some(format!("{item_type} '{item_name}'")),
            t => Some(t.to_owned()),
        };
        let code = classify(level, &message);
        Self { level, file, pos, item, item_type, item_name: item_name.to_owned(), code, message }
    }

    /// The same message with another code.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}

/// Falco's load result code for a message, from the kind of problem it reports.
fn classify(level: Level, m: &str) -> &'static str {
    if level == Level::Warning {
        return if m.starts_with("Macro not referred") {
            "LOAD_UNUSED_MACRO"
        } else if m.starts_with("List not referred") {
            "LOAD_UNUSED_LIST"
        } else if m.contains("too many evt.type") {
            "LOAD_NO_EVTTYPE"
        } else if m.contains("nonexistent field") {
            "LOAD_UNKNOWN_FIELD"
        } else if m.contains("deprecated") {
            "LOAD_DEPRECATED_ITEM"
        } else if m.contains("unknown key") {
            "LOAD_UNKNOWN_KEY"
        } else {
            "LOAD_UNKNOWN_ITEM"
        };
    }
    const VALIDATE: &[&str] = &[
        "Undefined macro",
        "reference loop",
        "key but no ",
        "but no rule by that name",
        "Rules require engine version",
        "Plugin requirement",
        "Appended rule must",
        "is not a supported",
        "lists must have equal length",
        "Rule exception must have",
        "re-defined with a different source",
        "Multiple definitions of exception",
        "Can not append exception",
    ];
    if m.starts_with("invalid YAML") || m.starts_with("yaml-cpp") {
        "LOAD_ERR_YAML_PARSE"
    } else if VALIDATE.iter().any(|v| m.contains(v)) {
        "LOAD_ERR_VALIDATE"
    } else if m.starts_with("invalid formatting token") || m.starts_with("invalid output format") {
        "LOAD_ERR_COMPILE_OUTPUT"
    } else {
        "LOAD_ERR_YAML_VALIDATE"
    }
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
    /// `warn_evttypes` (default true): whether a rule matching too many event types is warned
    /// about.
    pub warn_evttypes: bool,
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
    /// Falco's item type and the item's name.
    item: (&'static str, String),
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
        self.messages.push(LoadMessage::new(
            level,
            ctx.file.clone(),
            pos.or(Some(ctx.pos)),
            ctx.item.0,
            &ctx.item.1,
            message.into(),
        ));
    }

    /// A message about an exception of the rule of `ctx`.
    fn exception_msg(&mut self, ctx: &Ctx<'_>, pos: Pos, name: &str, message: impl Into<String>) {
        self.messages.push(LoadMessage::new(
            Level::Error,
            ctx.file.clone(),
            Some(pos),
            "exception",
            name,
            message.into(),
        ));
    }

    /// Loads one file's text. Errors are recorded (see [`Loader::messages`]); items of a file
    /// with errors are still kept where they could be read.
    pub fn add_file(&mut self, file: &str, text: &str) {
        let file: Arc<str> = Arc::from(file);
        let docs = yaml::parse_documents(text);
        let mut any = false;
        for doc in docs {
            let ctx = Ctx { file: &file, item: ("rules content", String::new()), pos: doc.pos };
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
                let m = if root.as_map().is_some() {
                    "Rules content is not yaml array of objects"
                } else {
                    "Rules content is not yaml"
                };
                self.msg(Level::Error, &ctx, Some(root.pos), m);
                continue;
            };
            for item in items {
                self.add_item(&file, item);
            }
        }
        let _ = any;
    }

    fn add_item(&mut self, file: &Arc<str>, item: &YamlNode) {
        let mut ctx = Ctx { file, item: ("rules content item", String::new()), pos: item.pos };
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
            ctx.item = ("required_engine_version", String::new());
            match parse_version(v) {
                Some(ver) => {
                    if ver > ENGINE_VERSION {
                        let (a, b, c) = ver;
                        let (x, y, z) = ENGINE_VERSION;
                        // as written: an integer N (the older form) or x.y.z
                        let want = v.as_i64().map_or_else(|| format!("{a}.{b}.{c}"), |n| n.to_string());
                        self.msg(
                            Level::Error,
                            &ctx,
                            Some(v.pos),
                            format!("Rules require engine version {want}, but engine version is {x}.{y}.{z}"),
                        );
                    }
                    let cur = self.set.required_engine_version.unwrap_or((0, 0, 0));
                    self.set.required_engine_version = Some(cur.max(ver));
                }
                None => self.msg(Level::Error, &ctx, Some(v.pos), "Can't decode YAML scalar value"),
            }
        } else if let Some(v) = item.get("required_plugin_versions") {
            ctx.item = ("required_plugin_versions", String::new());
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

    fn name_of(&mut self, n: &YamlNode, what: &'static str, ctx: &mut Ctx<'_>) -> Option<String> {
        match n.as_str() {
            Some(s) if !s.is_empty() => Some(s.to_owned()),
            _ => {
                ctx.item = (what, String::new());
                let m = if n.is_null() || n.as_str() == Some("") {
                    format!("Mapping for key '{what}' is empty")
                } else {
                    format!("Value of {what} must be a non-empty string")
                };
                self.msg(Level::Error, ctx, Some(n.pos), m);
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
        ctx.item = ("list", name.clone());
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
                        "List has '{}' key but no list by that name already exists",
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
        ctx.item = ("macro", name.clone());
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
                        "Macro has '{}' key but no macro by that name already exists",
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
                self.exception_msg(ctx, e.pos, "", "Item has no mapping for key 'name'");
                return None;
            };
            if out.iter().any(|x| x.name == name) {
                let m = format!("Multiple definitions of exception '{name}' in the same rule");
                self.exception_msg(ctx, e.pos, &name, m);
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
                    let m = "Value of exception fields must be a string or a sequence of strings";
                    self.exception_msg(ctx, p, &name, m);
                    return None;
                }
            };
            let comps = match fields_of(e.get("comps")) {
                Ok(c) => c,
                Err(p) => {
                    let m = "Value of exception comps must be a string or a sequence of strings";
                    self.exception_msg(ctx, p, &name, m);
                    return None;
                }
            };
            let values = match e.get("values") {
                None => Vec::new(),
                Some(v) => match v.as_seq() {
                    Some(s) => s.to_vec(),
                    None if v.is_null() => Vec::new(),
                    None => {
                        self.exception_msg(ctx, v.pos, &name, "Value of exception values must be a sequence");
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
        ctx.item = ("rule", name.clone());
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
                        "Rule has '{}' key but no rule by that name already exists",
                        if append { "append" } else { "override" }
                    ),
                );
                return;
            };
            if append && item.get("condition").is_none() && item.get("exceptions").is_none() {
                self.msg(Level::Error, ctx, None, "Appended rule must have exceptions or condition property");
                return;
            }
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
                                let (file, pos) = (ctx.file.clone(), ex.pos);
                                self.messages.push(LoadMessage::new(
                                    Level::Error,
                                    file,
                                    Some(pos),
                                    "exception",
                                    &ex.name,
                                    msg,
                                ));
                                return;
                            }
                            cur.values.extend(ex.values);
                        } else if ex.fields.is_none() {
                            let (file, pos, name) = (ctx.file.clone(), ex.pos, ex.name);
                            let m = "Rule exception must have fields property with a list of fields".to_owned();
                            self.messages.push(LoadMessage::new(Level::Error, file, Some(pos), "exception", &name, m));
                            return;
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
        if let Some(ex) = exceptions.iter().flatten().find(|e| e.fields.is_none()) {
            let (file, pos) = (ctx.file.clone(), ex.pos);
            let m = "Item has no mapping for key 'fields'".to_owned();
            self.messages.push(LoadMessage::new(Level::Error, file, Some(pos), "exception", &ex.name, m));
            return;
        }
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
            warn_evttypes: item.get("warn_evttypes").and_then(YamlNode::as_bool).unwrap_or(true),
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
