//! A Falco-compatible rules engine for Kubernetes audit events (source `k8s_audit`).
//!
//! * [`parser`]: the condition language, as libsinsp parses it.
//! * [`rules`]: rules files (lists, macros, rules, overrides, exceptions) as Falco loads them.
//! * [`k8saudit`]: audit events and the k8saudit plugin's `ka.*` fields (plus `jevt.*`/`json.*`).
//! * conditions are compiled once into an evaluator (`eval.rs`).
//!
//! [`Engine`] compiles a [`rules::RuleSet`] and turns each [`k8saudit::AuditEvent`] into
//! [`Alert`]s, shaped like Falco's JSON output. Rules of other sources (e.g. `syscall`) load
//! and are kept, but never fire on audit events. Pure: callers read files and pass text in.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

mod eval;
mod evttypes;
pub mod k8saudit;
pub mod limits;
pub mod parser;
pub mod rules;
pub mod source;

use std::collections::HashMap;

use kguard_model::yaml::{Value as YValue, YamlNode};

use self::eval::{EvalCtx, Fields, Filter, Resolver, Slots, Value};
use self::k8saudit::AuditEvent;
use self::parser::{CmpOp, Expr, Operand, Rhs};
use self::rules::{ExceptionDef, ExceptionFields, Level, LoadMessage, Loader, Priority, RuleDef, RuleSet};
use self::source::{Event, FieldSource};

/// How many rules may fire per event (`rule_matching` in falco.yaml).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleMatching {
    /// The first matching rule in definition order (Falco's default).
    #[default]
    First,
    /// Every matching rule, in definition order.
    All,
}

/// One part of an output format.
#[derive(Clone, Debug)]
enum OutPart {
    Text(String),
    Field(String, Value),
}

/// Falco's command-line rule selection (`-D`, `-T`, `-t`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// `-D`: disable rules whose name contains one of these.
    pub disable_substrings: Vec<String>,
    /// `-T`: disable rules carrying one of these tags.
    pub disable_tags: Vec<String>,
    /// `-t`: run only rules carrying one of these tags.
    pub only_tags: Vec<String>,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The loaded definition.
    pub def: RuleDef,
    /// The compiled condition (`None` for rules of sources not registered).
    filter: Option<Filter>,
    output: Vec<OutPart>,
}

impl Rule {
    /// Whether this rule can fire on audit events.
    #[must_use]
    pub fn is_k8s_audit(&self) -> bool {
        self.filter.is_some() && self.def.source == k8saudit::SOURCE
    }

    /// Whether this rule was compiled (its source is `k8s_audit` or a registered one).
    #[must_use]
    pub fn is_compiled(&self) -> bool {
        self.filter.is_some()
    }
}

/// One alert, as Falco emits it.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Event time (ns since the epoch).
    pub time_ns: i64,
    /// Rule name.
    pub rule: String,
    /// Rule priority.
    pub priority: Priority,
    /// Event source (`k8s_audit`).
    pub source: String,
    /// Rule tags.
    pub tags: Vec<String>,
    /// The formatted output message (without time and priority).
    pub message: String,
    /// Each `%field` of the output and its value (`None` when not available).
    pub output_fields: Vec<(String, Option<String>)>,
}

impl Alert {
    /// The text line: `<time>: <Priority> <message>`, the time as Falco prints it with
    /// `time_format_iso_8601` (`2016-08-04T16:17:57.881781397+0000`).
    #[must_use]
    pub fn output(&self) -> String {
        let t = kguard_model::time::format_rfc3339_nanos(self.time_ns);
        let t = t.strip_suffix('Z').map_or_else(|| t.clone(), |s| format!("{s}+0000"));
        format!("{t}: {} {}", self.priority, self.message)
    }

    /// Falco's JSON alert (`hostname`, `output`, `output_fields`, `priority`, `rule`, `source`,
    /// `tags`, `time`).
    #[must_use]
    pub fn to_json(&self, hostname: &str) -> serde_json::Value {
        let mut fields = serde_json::Map::new();
        for (k, v) in &self.output_fields {
            fields.insert(k.clone(), v.clone().map_or(serde_json::Value::Null, serde_json::Value::String));
        }
        serde_json::json!({
            "hostname": hostname,
            "output": self.output(),
            "output_fields": fields,
            "priority": self.priority.as_str(),
            "rule": self.rule,
            "source": self.source,
            "tags": self.tags,
            "time": kguard_model::time::format_rfc3339_nanos(self.time_ns),
        })
    }
}

/// A message of Falco's own (source `internal`), such as the syscall event drop alert: Falco's
/// `handle_msg` shape, with string `output_fields` and no tags.
#[derive(Clone, Debug, PartialEq)]
pub struct InternalAlert {
    /// Time (ns since the epoch).
    pub time_ns: i64,
    /// Rule name (`Falco internal: …`).
    pub rule: String,
    /// Priority.
    pub priority: Priority,
    /// The message.
    pub message: String,
    /// The fields, in the order given: strings, or numbers where Falco writes numbers (the
    /// metrics snapshot).
    pub output_fields: Vec<(String, serde_json::Value)>,
}

impl InternalAlert {
    /// The text line: `<time>: <Priority> <message> (k1="v1" k2="v2" ...)`, the time as in
    /// [`Alert::output`].
    #[must_use]
    pub fn output(&self) -> String {
        let t = kguard_model::time::format_rfc3339_nanos(self.time_ns);
        let t = t.strip_suffix('Z').map_or_else(|| t.clone(), |s| format!("{s}+0000"));
        let fields: Vec<String> = self.output_fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{t}: {} {} ({})", self.priority, self.message, fields.join(" "))
    }

    /// Falco's JSON (`hostname`, `output` (the message alone), `output_fields`, `priority`,
    /// `rule`, `source` = `internal`, `time`).
    #[must_use]
    pub fn to_json(&self, hostname: &str) -> serde_json::Value {
        let mut fields = serde_json::Map::new();
        for (k, v) in &self.output_fields {
            fields.insert(k.clone(), v.clone());
        }
        serde_json::json!({
            "hostname": hostname,
            "output": self.message,
            "output_fields": fields,
            "priority": self.priority.as_str(),
            "rule": self.rule,
            "source": "internal",
            "time": kguard_model::time::format_rfc3339_nanos(self.time_ns),
        })
    }
}

/// Compiled rules, ready to evaluate events.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    rules: Vec<Rule>,
    /// How many rules may fire per event.
    pub rule_matching: RuleMatching,
    /// Rules below this priority do not fire (Falco's `priority`; default `Debug`: all).
    pub min_priority: Option<Priority>,
    /// The number of distinct fields (per-event cache slots).
    slots: usize,
}

struct Names<'a> {
    macros: HashMap<&'a str, Expr>,
    lists: HashMap<&'a str, Vec<String>>,
}

impl Resolver for Names<'_> {
    fn macro_expr(&self, name: &str) -> Option<&Expr> {
        self.macros.get(name)
    }
    fn list_items(&self, name: &str) -> Option<Vec<String>> {
        self.lists.get(name).cloned()
    }
}

/// Loads rules files (name, text) in order and compiles them.
///
/// # Errors
/// Every error (and warning) found, when any error was found.
pub fn load(files: &[(&str, &str)]) -> Result<(Engine, Vec<LoadMessage>), Vec<LoadMessage>> {
    load_with(files, &[])
}

/// Loads rules files as [`load`] does, compiling the rules of the registered `sources` too.
///
/// # Errors
/// Every error (and warning) found, when any error was found.
pub fn load_with(
    files: &[(&str, &str)],
    sources: &[&dyn FieldSource],
) -> Result<(Engine, Vec<LoadMessage>), Vec<LoadMessage>> {
    let mut loader = Loader::new();
    for (name, text) in files {
        loader.add_file(name, text);
    }
    let (set, mut messages) = loader.finish();
    if messages.iter().any(|m| m.level == Level::Error) {
        return Err(messages);
    }
    let (engine, more) = Engine::compile_with(&set, sources);
    messages.extend(more);
    match engine {
        Some(e) => Ok((e, messages)),
        None => Err(messages),
    }
}

fn msg_at(level: Level, origin: &rules::Origin, item: (&'static str, &str), message: String) -> LoadMessage {
    LoadMessage::new(level, origin.file.clone(), Some(origin.pos), item.0, item.1, message)
}

/// The error for a rule whose condition expands too far: at the innermost macro over the node limit
/// when there is one (naming the rule that uses it), else at the rule.
fn too_large(set: &RuleSet, rule: &rules::Origin, item: (&'static str, &str), e: &limits::TooLarge) -> LoadMessage {
    match e {
        limits::TooLarge::Nodes { macro_name } => {
            let limit = limits::MAX_CONDITION_NODES;
            match macro_name.as_deref().and_then(|m| set.macros.iter().find(|d| d.name == m)) {
                Some(m) => msg_at(
                    Level::Error,
                    &m.origin,
                    ("macro", &m.name),
                    format!(
                        "Macro expands to more than {limit} nodes (macros and lists expanded), used by {} '{}'",
                        item.0, item.1
                    ),
                ),
                None => msg_at(
                    Level::Error,
                    rule,
                    item,
                    format!("Condition expands to more than {limit} nodes (macros and lists expanded)"),
                ),
            }
        }
        limits::TooLarge::Depth { chain } => msg_at(
            Level::Error,
            rule,
            item,
            format!(
                "Condition nests deeper than {} levels once macros are expanded (through {} macros, from '{}')",
                limits::MAX_EXPANSION_DEPTH,
                chain.len(),
                chain.first().map_or("", String::as_str)
            ),
        ),
    }
}

impl Engine {
    /// Compiles a loaded rule set: lists expanded, macros parsed, `k8s_audit` rules compiled
    /// (conditions, exceptions, outputs). Returns `None` with the messages when any error.
    #[must_use]
    pub fn compile(set: &RuleSet) -> (Option<Self>, Vec<LoadMessage>) {
        Self::compile_with(set, &[])
    }

    /// Compiles as [`Engine::compile`] does, the rules of the registered `sources` too.
    #[must_use]
    pub fn compile_with(set: &RuleSet, sources: &[&dyn FieldSource]) -> (Option<Self>, Vec<LoadMessage>) {
        let mut messages = Vec::new();
        // Lists: items naming an earlier list are expanded, within the limits.
        let mut lists: HashMap<&str, Vec<String>> = HashMap::new();
        let mut list_items = 0usize;
        for l in &set.lists {
            let len = l.items.iter().fold(0usize, |n, i| n.saturating_add(lists.get(i.as_str()).map_or(1, Vec::len)));
            let over = if len > limits::MAX_LIST_ITEMS {
                Some(format!("List expands to more than {} items (lists named in it expanded)", limits::MAX_LIST_ITEMS))
            } else if list_items.saturating_add(len) > limits::MAX_TOTAL_LIST_ITEMS {
                Some(format!("Lists expand to more than {} items in all", limits::MAX_TOTAL_LIST_ITEMS))
            } else {
                None
            };
            if let Some(m) = over {
                messages.push(msg_at(Level::Error, &l.origin, ("list", &l.name), m));
                return (None, messages);
            }
            list_items += len;
            let mut items = Vec::with_capacity(len);
            for i in &l.items {
                match lists.get(i.as_str()) {
                    Some(v) => items.extend(v.iter().cloned()),
                    None => items.push(i.clone()),
                }
            }
            lists.insert(l.name.as_str(), items);
        }
        let mut macros = HashMap::new();
        for m in &set.macros {
            match parser::parse(&m.condition) {
                Ok(e) => {
                    macros.insert(m.name.as_str(), e);
                }
                Err(e) => messages.push(
                    msg_at(Level::Error, &m.origin, ("macro", &m.name), e.message.clone())
                        .with_code("LOAD_ERR_COMPILE_CONDITION"),
                ),
            }
        }
        // Falco checks every macro on its own, used or not: macros it names must exist and must
        // not lead back to it.
        let mut checked = std::collections::HashSet::new();
        for m in &set.macros {
            if let Some(e) = macros.get(m.name.as_str())
                && let Err(msg) = check_macro(&m.name, e, &macros, &mut Vec::new(), &mut checked)
            {
                messages.push(msg_at(Level::Error, &m.origin, ("macro", &m.name), msg).with_code("LOAD_ERR_VALIDATE"));
            }
        }
        unused_warnings(set, &macros, &mut messages);
        let names = Names { macros, lists };
        let mut sizer = limits::Sizer::new(&names.macros, &names.lists);
        let mut total_nodes = 0usize;
        let mut rules = Vec::new();
        for r in &set.rules {
            let item = ("rule", r.name.as_str());
            let expr = match parser::parse(&r.condition) {
                Ok(e) => e,
                Err(e) => {
                    messages.push(
                        msg_at(Level::Error, &r.origin, item, e.message.clone())
                            .with_code("LOAD_ERR_COMPILE_CONDITION"),
                    );
                    continue;
                }
            };
            let fields = if r.source == k8saudit::SOURCE {
                Fields::Audit
            } else if let Some(src) = sources.iter().find(|s| s.name() == r.source) {
                Fields::Ext(*src)
            } else {
                rules.push(Rule { def: r.clone(), filter: None, output: Vec::new() });
                continue;
            };
            let expr = match with_exceptions(expr, &r.exceptions, fields) {
                Ok(e) => e,
                Err((name, m)) => {
                    let pos = r.exceptions.iter().find(|x| x.name == name).map_or(r.origin.pos, |x| x.pos);
                    let at = rules::Origin { file: r.origin.file.clone(), pos };
                    messages.push(msg_at(Level::Error, &at, ("exception", &name), m).with_code("LOAD_ERR_VALIDATE"));
                    continue;
                }
            };
            match sizer.measure(&expr) {
                Ok(n) if total_nodes.saturating_add(n) > limits::MAX_TOTAL_NODES => {
                    let m = format!(
                        "Rule conditions expand to more than {} nodes in all (macros and lists expanded)",
                        limits::MAX_TOTAL_NODES
                    );
                    messages.push(msg_at(Level::Error, &r.origin, item, m));
                    return (None, messages);
                }
                Ok(n) => total_nodes += n,
                Err(e) => {
                    messages.push(too_large(set, &r.origin, item, &e));
                    continue;
                }
            }
            if let Fields::Ext(src) = fields {
                let types = src.event_types();
                if !types.is_empty() {
                    match evttypes::codes(&expr, &names.macros, &names.lists, &types) {
                        Err(m) => {
                            messages
                                .push(msg_at(Level::Error, &r.origin, item, m).with_code("LOAD_ERR_COMPILE_CONDITION"));
                            continue;
                        }
                        Ok(n) if r.warn_evttypes && (n == 0 || n > 100) => messages.push(msg_at(
                            Level::Warning,
                            &r.origin,
                            item,
                            "Rule matches too many evt.type values. This has a significant performance penalty."
                                .to_owned(),
                        )),
                        Ok(_) => {}
                    }
                }
            }
            let filter = match eval::compile(&expr, &names, fields) {
                Ok(f) => f,
                Err(m) if r.skip_if_unknown_filter && m.starts_with("filter_check called with nonexistent field") => {
                    // the rule is skipped, with Falco's warning
                    messages.push(msg_at(Level::Warning, &r.origin, item, m).with_code("LOAD_UNKNOWN_FIELD"));
                    rules.push(Rule { def: r.clone(), filter: None, output: Vec::new() });
                    continue;
                }
                Err(m) => {
                    let code = if m.starts_with("Undefined macro") {
                        "LOAD_ERR_VALIDATE"
                    } else {
                        "LOAD_ERR_COMPILE_CONDITION"
                    };
                    messages.push(msg_at(Level::Error, &r.origin, item, m).with_code(code));
                    continue;
                }
            };
            let output = match compile_output(&r.output, fields) {
                Ok(o) => o,
                Err(m) => {
                    messages.push(msg_at(Level::Error, &r.origin, item, m).with_code("LOAD_ERR_COMPILE_OUTPUT"));
                    continue;
                }
            };
            rules.push(Rule { def: r.clone(), filter: Some(filter), output });
        }
        if messages.iter().any(|m| m.level == Level::Error) {
            return (None, messages);
        }
        // every distinct field gets a slot: one extraction per event, shared by all rules
        let mut slots = Slots::default();
        for r in &mut rules {
            if let Some(f) = &mut r.filter {
                f.assign_slots(&mut slots);
            }
            for p in &mut r.output {
                if let OutPart::Field(_, v) = p {
                    v.assign_slots(&mut slots);
                }
            }
        }
        (Some(Self { rules, rule_matching: RuleMatching::First, min_priority: None, slots: slots.len() }), messages)
    }

    /// Applies Falco's command-line rule selection: `-D` (disable every rule whose name contains
    /// the text), `-T` (disable rules carrying the tag) and `-t` (only rules carrying one of the
    /// tags run; they run even when their file says `enabled: false`, as in Falco, which first
    /// disables every rule and then enables the tagged ones).
    ///
    /// # Errors
    /// Falco's refusal when `-t` is combined with `-D` or `-T`.
    pub fn select(&mut self, sel: &Selection) -> Result<(), String> {
        if !sel.only_tags.is_empty() && (!sel.disable_substrings.is_empty() || !sel.disable_tags.is_empty()) {
            return Err("You can not specify both disabled (-D/-T) and enabled (-t) rules".to_owned());
        }
        for r in &mut self.rules {
            if sel.disable_substrings.iter().any(|s| r.def.name.contains(s.as_str()))
                || r.def.tags.iter().any(|t| sel.disable_tags.contains(t))
            {
                r.def.enabled = false;
            }
            if !sel.only_tags.is_empty() {
                r.def.enabled = r.def.tags.iter().any(|t| sel.only_tags.contains(t));
            }
        }
        Ok(())
    }

    /// All rules, in definition order (including disabled ones and those of other sources).
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Evaluates one event: the alerts of the matching enabled `k8s_audit` rules.
    #[must_use]
    pub fn process(&self, ev: &AuditEvent) -> Vec<Alert> {
        self.run(k8saudit::SOURCE, &EvalCtx::new(ev, self.slots))
    }

    /// Evaluates one event of the registered source `source`: the alerts of its matching
    /// enabled rules.
    #[must_use]
    pub fn process_event(&self, source: &str, ev: &dyn Event) -> Vec<Alert> {
        self.run(source, &EvalCtx::new_ext(ev, self.slots))
    }

    fn run(&self, source: &str, cx: &EvalCtx<'_>) -> Vec<Alert> {
        let mut out = Vec::new();
        for r in &self.rules {
            if !r.def.enabled || self.min_priority.is_some_and(|p| r.def.priority > p) || r.def.source != source {
                continue;
            }
            let Some(f) = &r.filter else { continue };
            if f.matches_in(cx) {
                out.push(make_alert(r, cx));
                if self.rule_matching == RuleMatching::First {
                    break;
                }
            }
        }
        out
    }
}

fn make_alert(r: &Rule, cx: &EvalCtx<'_>) -> Alert {
    let mut message = String::new();
    let mut output_fields: Vec<(String, Option<String>)> = Vec::new();
    for p in &r.output {
        match p {
            OutPart::Text(t) => message.push_str(t),
            OutPart::Field(name, v) => {
                let val = v
                    .eval_in(cx)
                    .map(|vals| if v.is_list() { format!("({})", vals.join(",")) } else { vals.join(",") });
                message.push_str(val.as_deref().unwrap_or("<NA>"));
                if !output_fields.iter().any(|(k, _)| k == name) {
                    output_fields.push((name.clone(), val));
                }
            }
        }
    }
    Alert {
        time_ns: cx.time_ns(),
        rule: r.def.name.clone(),
        priority: r.def.priority,
        source: r.def.source.clone(),
        tags: r.def.tags.clone(),
        message: message.trim_end().to_owned(),
        output_fields,
    }
}

/// Compiles an output format: `%field`, `%field[arg]`, `%transformer(field)`; `%%` is `%`.
fn compile_output(fmt: &str, fields: Fields<'_>) -> Result<Vec<OutPart>, String> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut rest = fmt;
    while let Some(i) = rest.find('%') {
        text.push_str(rest.get(..i).unwrap_or(""));
        let after = rest.get(i + 1..).unwrap_or("");
        if let Some(r) = after.strip_prefix('%') {
            text.push('%');
            rest = r;
            continue;
        }
        let (name, operand, consumed) = output_token(after, fields)?;
        if !text.is_empty() {
            parts.push(OutPart::Text(std::mem::take(&mut text)));
        }
        parts.push(OutPart::Field(name, eval::compile_operand(&operand, fields)?));
        rest = after.get(consumed..).unwrap_or("");
    }
    text.push_str(rest);
    if !text.is_empty() {
        parts.push(OutPart::Text(text));
    }
    Ok(parts)
}

/// Reads one output token after `%`: (display name, operand, bytes consumed).
fn output_token(s: &str, fields: Fields<'_>) -> Result<(String, Operand, usize), String> {
    let b = s.as_bytes();
    let word = b.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'.').count();
    if b.get(word) == Some(&b'(') {
        // transformer: parse `name(...)` with the condition parser
        let close = s.find(')').ok_or_else(|| format!("unclosed transformer in '%{s}'"))?;
        let tok = s.get(..=close).unwrap_or("");
        let depth_fix = tok.matches('(').count().saturating_sub(tok.matches(')').count());
        let mut end = close + 1;
        for _ in 0..depth_fix {
            end = s.get(end..).and_then(|r| r.find(')')).map_or(end, |k| end + k + 1);
        }
        let tok = s.get(..end).unwrap_or("");
        let e =
            parser::parse(&format!("{tok} exists")).map_err(|e| format!("invalid token '%{tok}': {}", e.message))?;
        let Expr::Exists(op) = e else { return Err(format!("invalid token '%{tok}'")) };
        return Ok((tok.to_owned(), op, end));
    }
    let mut n = word;
    let candidate = loop {
        let name = s.get(..n).unwrap_or("").trim_end_matches('.');
        if name.is_empty() {
            return Err(format!("invalid formatting token '%{}'", s.get(..word).unwrap_or("")));
        }
        if eval::knows_field(name, fields) {
            break name;
        }
        match name.rfind('.') {
            Some(k) => n = k,
            None => return Err(format!("invalid formatting token {}", s.get(..word).unwrap_or(""))),
        }
    };
    let mut consumed = candidate.len();
    let mut arg = None;
    if s.get(consumed..).is_some_and(|r| r.starts_with('[')) {
        let close = s.get(consumed..).and_then(|r| r.find(']')).ok_or("unclosed '[' in output field")?;
        arg = s.get(consumed + 1..consumed + close).map(str::to_owned);
        consumed += close + 1;
    }
    let display = s.get(..consumed).unwrap_or(candidate).to_owned();
    Ok((display, Operand::Field { name: candidate.to_owned(), arg }, consumed))
}

/// Follows the macros a macro names: an undefined one or a loop back is an error in Falco's words.
fn check_macro<'a>(
    name: &'a str,
    e: &'a Expr,
    macros: &'a HashMap<&str, Expr>,
    stack: &mut Vec<&'a str>,
    checked: &mut std::collections::HashSet<&'a str>,
) -> Result<(), String> {
    if checked.contains(name) {
        return Ok(());
    }
    if stack.contains(&name) {
        return Err(format!("reference loop in macro '{name}'"));
    }
    if stack.len() >= limits::MAX_EXPANSION_DEPTH {
        return Err(format!(
            "Macro nests deeper than {} levels (through '{}')",
            limits::MAX_EXPANSION_DEPTH,
            stack.first().copied().unwrap_or(name)
        ));
    }
    stack.push(name);
    let mut refs = Vec::new();
    idents(e, &mut refs);
    for r in refs {
        let Some((k, inner)) = macros.get_key_value(r) else {
            stack.pop();
            return Err(format!("Undefined macro '{r}' used in filter."));
        };
        if let Err(m) = check_macro(k, inner, macros, stack, checked) {
            stack.pop();
            return Err(m);
        }
    }
    stack.pop();
    checked.insert(name);
    Ok(())
}

/// The macro names a condition refers to.
fn idents<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| idents(x, out)),
        Expr::Not(x) => idents(x, out),
        Expr::Ident(n) => out.push(n),
        Expr::Exists(_) | Expr::Compare { .. } => {}
    }
}

/// Falco's `LOAD_UNUSED_MACRO` and `LOAD_UNUSED_LIST` warnings: a macro no rule or macro names,
/// a list whose name appears (as a whole word) in no condition, list or exception.
fn unused_warnings(set: &RuleSet, macros: &HashMap<&str, Expr>, messages: &mut Vec<LoadMessage>) {
    let mut used = std::collections::HashSet::new();
    let mut refs = Vec::new();
    for e in macros.values() {
        idents(e, &mut refs);
    }
    let rule_exprs: Vec<Expr> = set.rules.iter().filter_map(|r| parser::parse(&r.condition).ok()).collect();
    for e in &rule_exprs {
        idents(e, &mut refs);
    }
    used.extend(refs);
    for m in &set.macros {
        if !used.contains(m.name.as_str()) {
            messages.push(msg_at(
                Level::Warning,
                &m.origin,
                ("macro", &m.name),
                "Macro not referred to by any other rule/macro".to_owned(),
            ));
        }
    }
    let mut words = std::collections::HashSet::new();
    let mut add = |t: &str| {
        for w in t.split(|c: char| c.is_whitespace() || "(),=".contains(c)) {
            if !w.is_empty() {
                words.insert(w.to_owned());
            }
        }
    };
    set.macros.iter().for_each(|m| add(&m.condition));
    set.rules.iter().for_each(|r| add(&r.condition));
    for l in &set.lists {
        l.items.iter().for_each(|i| add(i));
    }
    for r in &set.rules {
        for ex in &r.exceptions {
            for v in &ex.values {
                node_to_items(v).iter().for_each(|i| add(i));
                for n in v.as_seq().unwrap_or(&[]) {
                    node_to_items(n).iter().for_each(|i| add(i));
                }
            }
        }
    }
    for l in &set.lists {
        if !words.contains(&l.name) {
            messages.push(msg_at(
                Level::Warning,
                &l.origin,
                ("list", &l.name),
                "List not referred to by any other rule/macro".to_owned(),
            ));
        }
    }
}

fn node_to_items(n: &YamlNode) -> Vec<String> {
    match &n.value {
        YValue::Seq(items) => items.iter().filter_map(rules::scalar_text).map(|s| unquote(&s)).collect(),
        _ => match rules::scalar_text(n) {
            // `(a, b)` or `(list_name)`: Falco pastes it into the condition as a list
            Some(s) if s.starts_with('(') && s.ends_with(')') && s.len() >= 2 => s
                .get(1..s.len() - 1)
                .unwrap_or("")
                .split(',')
                .map(|i| unquote(i.trim()))
                .filter(|i| !i.is_empty())
                .collect(),
            Some(s) => vec![unquote(&s)],
            None => Vec::new(),
        },
    }
}

/// A value written with its own quotes (`'"cat /dev/null"'`) is pasted into the condition as
/// it is, so the quotes delimit it and are not part of it.
fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&q @ (b'"' | b'\'')), Some(&e)) if b.len() >= 2 && q == e => {
            s.get(1..s.len() - 1).unwrap_or("").to_owned()
        }
        _ => s.to_owned(),
    }
}

fn exception_field(f: &str) -> Result<Operand, String> {
    match parser::parse(&format!("{f} exists")) {
        Ok(Expr::Exists(op)) => Ok(op),
        _ => Err(format!("invalid exception field '{f}'")),
    }
}

fn exception_op(c: &str) -> Result<CmpOp, String> {
    CmpOp::from_name(c).ok_or_else(|| format!("'{c}' is not a supported comparison operator"))
}

fn compare(lhs: Operand, op: CmpOp, v: &YamlNode) -> Expr {
    let rhs = if op.is_list_op() {
        Rhs::List(node_to_items(v))
    } else {
        Rhs::Value(unquote(&rules::scalar_text(v).unwrap_or_default()))
    };
    Expr::Compare { lhs, op, modifier: None, rhs }
}

/// `(<cond>) and not (<exception> or …)` for the exceptions that have values.
fn with_exceptions(cond: Expr, exceptions: &[ExceptionDef], src: Fields<'_>) -> Result<Expr, (String, String)> {
    let mut alts = Vec::new();
    for ex in exceptions {
        let err = |m: String| (ex.name.clone(), m);
        let field = |f: &str| -> Result<Operand, (String, String)> {
            let op = exception_field(f).map_err(err)?;
            eval::compile_operand(&op, src).map_err(|e| {
                err(if e.contains("nonexistent field") { format!("'{f}' is not a supported filter field") } else { e })
            })?;
            Ok(op)
        };
        let Some(fields) = &ex.fields else {
            return Err(err("Rule exception must have fields property with a list of fields".to_owned()));
        };
        match fields {
            ExceptionFields::One(f) => {
                let comp = match &ex.comps {
                    None => CmpOp::In,
                    Some(ExceptionFields::One(c)) => exception_op(c).map_err(err)?,
                    Some(ExceptionFields::Many(_)) => {
                        return Err(err("Fields is a single value but comps is a list".to_owned()));
                    }
                };
                if !matches!(comp, CmpOp::In | CmpOp::PMatch | CmpOp::Intersects) {
                    return Err(err("With a single field, comps must be one of in, pmatch, intersects".to_owned()));
                }
                let lhs = field(f)?;
                let items: Vec<String> = ex.values.iter().flat_map(node_to_items).collect();
                if !items.is_empty() {
                    alts.push(Expr::Compare { lhs, op: comp, modifier: None, rhs: Rhs::List(items) });
                }
            }
            ExceptionFields::Many(fs) => {
                let comps: Vec<CmpOp> = match &ex.comps {
                    None => vec![CmpOp::Eq; fs.len()],
                    Some(ExceptionFields::Many(cs)) => {
                        cs.iter().map(|c| exception_op(c)).collect::<Result<_, _>>().map_err(err)?
                    }
                    Some(ExceptionFields::One(_)) => {
                        return Err(err("Fields is a list but comps is a single value".to_owned()));
                    }
                };
                if comps.len() != fs.len() {
                    return Err(err("Fields and comps lists must have equal length".to_owned()));
                }
                let lhss: Vec<Operand> = fs.iter().map(|f| field(f)).collect::<Result<_, _>>()?;
                for tuple in &ex.values {
                    let Some(vals) = tuple.as_seq().filter(|v| v.len() == fs.len()) else {
                        return Err(err("Fields and values lists must have equal length".to_owned()));
                    };
                    let checks: Vec<Expr> = lhss
                        .iter()
                        .zip(comps.iter())
                        .zip(vals.iter())
                        .map(|((l, c), v)| compare(l.clone(), *c, v))
                        .collect();
                    alts.push(if checks.len() == 1 {
                        checks.into_iter().next().unwrap_or(Expr::And(Vec::new()))
                    } else {
                        Expr::And(checks)
                    });
                }
            }
        }
    }
    if alts.is_empty() {
        return Ok(cond);
    }
    Ok(Expr::And(vec![cond, Expr::Not(Box::new(Expr::Or(alts)))]))
}
