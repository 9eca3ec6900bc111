//! Conditions compiled once into an evaluator: fields resolved to extractors, lists to hash
//! sets, regexes compiled. Evaluation follows libsinsp: a field that cannot be extracted makes
//! every comparison on it false (including `!=`); list fields support only `exists`, `in`
//! (every value in the set) and `intersects` (some value in the set).

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use regex::Regex;

use super::k8saudit::{self, ArgKind, AuditEvent, FieldInfo};
use super::parser::{CmpOp, Expr, JoinItem, Modifier, Operand, Rhs, Transformer};
use super::source::{Event, FieldDef, FieldKind, FieldSource};

/// A compiled condition.
#[derive(Clone, Debug)]
pub enum Filter {
    /// All must hold.
    And(Vec<Filter>),
    /// One must hold.
    Or(Vec<Filter>),
    /// Negation.
    Not(Box<Filter>),
    /// The value can be extracted.
    Exists(Value),
    /// A comparison.
    Cmp(Box<Cmp>),
}

/// A compiled comparison.
#[derive(Clone, Debug)]
pub struct Cmp {
    lhs: Value,
    op: CmpOp,
    rhs: CRhs,
    modifier: Option<Modifier>,
}

/// A compiled value expression.
#[derive(Clone, Debug)]
pub enum Value {
    /// A field with its argument, and its slot in the per-event cache ([`NO_SLOT`]: none).
    Field(FieldRef, Option<String>, usize),
    /// A transformed value.
    Transform(Transformer, Box<Value>),
    /// `join(sep, items)`.
    Join(String, Vec<JoinPart>),
    /// A list value seen as the JSON text of its array (legacy k8s_audit engine semantics).
    JsonList(Box<Value>),
}

/// A resolved field: of the built-in `k8s_audit` source, or of a registered source.
#[derive(Clone, Debug)]
pub enum FieldRef {
    /// A `k8s_audit` field.
    Audit(FieldInfo),
    /// A field of another source.
    Ext(FieldDef),
}

impl FieldRef {
    fn is_list(&self) -> bool {
        match self {
            Self::Audit(f) => f.is_list,
            Self::Ext(f) => f.is_list,
        }
    }
    fn kind(&self) -> FieldKind {
        match self {
            Self::Audit(f) if f.numeric => FieldKind::Number,
            Self::Audit(_) => FieldKind::Text,
            Self::Ext(f) => f.kind,
        }
    }
    fn slot_key(&self) -> (bool, &'static str) {
        match self {
            Self::Audit(f) => (false, f.name),
            Self::Ext(f) => (true, f.name),
        }
    }
}

/// Which source's fields a condition is compiled against.
#[derive(Clone, Copy)]
pub enum Fields<'a> {
    /// `k8s_audit`.
    Audit,
    /// A registered source.
    Ext(&'a dyn FieldSource),
}

/// The event a context evaluates.
#[derive(Clone, Copy)]
enum Ev<'e> {
    Audit(&'e AuditEvent),
    Ext(&'e dyn Event),
}

impl std::fmt::Debug for Ev<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Audit(e) => e.fmt(f),
            Self::Ext(e) => write!(f, "event at {}", e.time_ns()),
        }
    }
}

/// A compiled `join` item.
#[derive(Clone, Debug)]
pub enum JoinPart {
    /// A value.
    Value(Value),
    /// A literal.
    Literal(String),
}

/// FNV-1a: list lookups hash short strings (verbs, resources, names) where SipHash's setup costs
/// more than the hashing; the sets are built from rules files, not from event data.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type StrSet = HashSet<String, BuildHasherDefault<Fnv>>;

/// A field not given a cache slot.
pub const NO_SLOT: usize = usize::MAX;

/// One event being evaluated, with each field's values extracted at most once (fields are
/// given slots by [`Filter::assign_slots`] / [`Value::assign_slots`]).
#[derive(Debug)]
pub struct EvalCtx<'e> {
    ev: Ev<'e>,
    cache: Vec<OnceCell<Option<Vec<String>>>>,
}

impl<'e> EvalCtx<'e> {
    /// A context for the audit event `ev` with `slots` cache slots.
    #[must_use]
    pub fn new(ev: &'e AuditEvent, slots: usize) -> Self {
        Self { ev: Ev::Audit(ev), cache: std::iter::repeat_with(OnceCell::new).take(slots).collect() }
    }

    /// A context for an event of a registered source.
    #[must_use]
    pub fn new_ext(ev: &'e dyn Event, slots: usize) -> Self {
        Self { ev: Ev::Ext(ev), cache: std::iter::repeat_with(OnceCell::new).take(slots).collect() }
    }

    /// The event's time (ns since the epoch).
    #[must_use]
    pub fn time_ns(&self) -> i64 {
        match self.ev {
            Ev::Audit(e) => e.time_ns,
            Ev::Ext(e) => e.time_ns(),
        }
    }
}

/// Distinct (field, argument) pairs and their slots.
#[derive(Debug, Default)]
pub struct Slots(Vec<((bool, &'static str), Option<String>)>);

impl Slots {
    /// The number of slots given.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }
    fn slot(&mut self, name: (bool, &'static str), arg: Option<&String>) -> usize {
        if let Some(i) = self.0.iter().position(|(n, a)| *n == name && a.as_ref() == arg) {
            return i;
        }
        self.0.push((name, arg.cloned()));
        self.0.len() - 1
    }
}

#[derive(Clone, Debug)]
enum CRhs {
    Str(String),
    Num(f64, String),
    Set(StrSet),
    Items(Vec<String>),
    Regex(Regex),
    Hex(Vec<u8>),
    PMatch(Vec<Vec<String>>),
    Operand(Value),
    Regexes(Vec<Regex>),
    Hexes(Vec<Vec<u8>>),
}

/// Resolves macro and list names while compiling.
pub trait Resolver {
    /// The (parsed) condition of a macro.
    fn macro_expr(&self, name: &str) -> Option<&Expr>;
    /// The expanded items of a list.
    fn list_items(&self, name: &str) -> Option<Vec<String>>;
}

/// A compile error (message in upstream's words where it has one).
pub type CompileError = String;

/// Compiles a parsed condition against the fields of one source.
///
/// # Errors
/// Undefined macros, unknown fields, unsupported operators for a field, invalid regexes.
pub fn compile(expr: &Expr, r: &dyn Resolver, fields: Fields<'_>) -> Result<Filter, CompileError> {
    let mut stack = Vec::new();
    compile_inner(expr, r, fields, &mut stack)
}

fn compile_inner(
    expr: &Expr,
    r: &dyn Resolver,
    fields: Fields<'_>,
    stack: &mut Vec<String>,
) -> Result<Filter, CompileError> {
    Ok(match expr {
        Expr::And(v) => Filter::And(v.iter().map(|e| compile_inner(e, r, fields, stack)).collect::<Result<_, _>>()?),
        Expr::Or(v) => Filter::Or(v.iter().map(|e| compile_inner(e, r, fields, stack)).collect::<Result<_, _>>()?),
        Expr::Not(e) => Filter::Not(Box::new(compile_inner(e, r, fields, stack)?)),
        Expr::Ident(name) => {
            if stack.iter().any(|s| s == name) {
                return Err(format!("Macro '{name}' is defined recursively"));
            }
            let Some(m) = r.macro_expr(name) else { return Err(format!("Undefined macro '{name}' used in filter.")) };
            stack.push(name.clone());
            let f = compile_inner(m, r, fields, stack);
            stack.pop();
            f?
        }
        Expr::Exists(op) => Filter::Exists(compile_operand(op, fields)?),
        Expr::Compare { lhs, op, modifier, rhs } => {
            let lhs = compile_operand(lhs, fields)?;
            // libsinsp rejects other operators on list fields ("List filter … only supports
            // operators 'exists', 'in' and 'intersects'"). Rules written for the legacy built-in
            // k8s_audit engine (engine version <= 4) still use them, on the JSON text of the
            // array; we keep that meaning so those rules files load.
            let lhs = if value_is_list(&lhs)
                && !matches!(op, CmpOp::In | CmpOp::Intersects)
                && matches!(fields, Fields::Audit)
            {
                Value::JsonList(Box::new(lhs))
            } else {
                lhs
            };
            if value_is_list(&lhs) && !matches!(op, CmpOp::In | CmpOp::Intersects) {
                return Err(format!(
                    "List filter '{}' only supports operators 'exists', 'in' and 'intersects'",
                    value_name(&lhs)
                ));
            }
            let rhs = compile_rhs(*op, *modifier, rhs, r, fields)?;
            Filter::Cmp(Box::new(Cmp { lhs, op: *op, rhs, modifier: *modifier }))
        }
    })
}

fn value_is_list(v: &Value) -> bool {
    match v {
        Value::Field(f, ..) => f.is_list(),
        Value::Transform(Transformer::Len, _) | Value::Join(..) | Value::JsonList(_) => false,
        Value::Transform(_, inner) => value_is_list(inner),
    }
}

fn value_name(v: &Value) -> &'static str {
    match v {
        Value::Field(f, ..) => f.slot_key().1,
        Value::Transform(_, inner) | Value::JsonList(inner) => value_name(inner),
        Value::Join(..) => "join",
    }
}

/// Resolves a field reference (name and argument) of the `k8s_audit` source.
///
/// # Errors
/// Unknown field, or an argument the field does not take / lacks.
pub fn resolve_field(name: &str, arg: Option<&str>) -> Result<FieldInfo, CompileError> {
    let info = k8saudit::field(name).ok_or_else(|| format!("filter_check called with nonexistent field {name}"))?;
    match (info.arg, arg) {
        (ArgKind::Key, None) => Err(format!("filter {name} requires an argument")),
        (ArgKind::None, Some(_)) => Err(format!("filter {name} does not allow an argument")),
        _ => Ok(info),
    }
}

/// Whether `name` is a field of the source (for output tokens).
#[must_use]
pub fn knows_field(name: &str, fields: Fields<'_>) -> bool {
    match fields {
        Fields::Audit => k8saudit::field(name).is_some(),
        Fields::Ext(src) => src.knows(name),
    }
}

/// Compiles an operand (field, transformer, join) against a source's fields.
///
/// # Errors
/// As [`resolve_field`].
pub fn compile_operand(op: &Operand, fields: Fields<'_>) -> Result<Value, CompileError> {
    Ok(match op {
        Operand::Field { name, arg } => match fields {
            Fields::Audit => Value::Field(FieldRef::Audit(resolve_field(name, arg.as_deref())?), arg.clone(), NO_SLOT),
            Fields::Ext(src) => {
                let (def, arg) = src.resolve(name, arg.as_deref())?;
                Value::Field(FieldRef::Ext(def), arg, NO_SLOT)
            }
        },
        Operand::Transform(t, inner) => Value::Transform(*t, Box::new(compile_operand(inner, fields)?)),
        Operand::Join(sep, items) => Value::Join(
            sep.clone(),
            items
                .iter()
                .map(|i| match i {
                    JoinItem::Operand(o) => compile_operand(o, fields).map(JoinPart::Value),
                    JoinItem::Literal(l) => Ok(JoinPart::Literal(l.clone())),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn expand_items(items: &[String], r: &dyn Resolver) -> Vec<String> {
    let mut out = Vec::new();
    for i in items {
        match r.list_items(i) {
            Some(v) => out.extend(v),
            None => out.push(i.clone()),
        }
    }
    out
}

fn compile_rhs(
    op: CmpOp,
    modifier: Option<Modifier>,
    rhs: &Rhs,
    r: &dyn Resolver,
    fields: Fields<'_>,
) -> Result<CRhs, CompileError> {
    let items = match rhs {
        Rhs::Operand(o) => return Ok(CRhs::Operand(compile_operand(o, fields)?)),
        Rhs::Value(v) if modifier.is_none() && !op.is_list_op() => {
            // A value that names a list of one item stands for that item (Falco substitutes list
            // names wherever they appear as a whole word: `proc.name=cat_binaries`).
            if let Some(items) = r.list_items(v)
                && let [only] = items.as_slice()
            {
                return single_rhs(op, only);
            }
            return single_rhs(op, v);
        }
        Rhs::Value(v) => expand_items(std::slice::from_ref(v), r),
        Rhs::List(v) => expand_items(v, r),
        Rhs::ListRef(name) => r.list_items(name).unwrap_or_else(|| vec![name.clone()]),
    };
    if modifier.is_some() {
        return Ok(match op {
            CmpOp::Regex => CRhs::Regexes(items.iter().map(|s| compile_regex(s)).collect::<Result<_, _>>()?),
            CmpOp::BContains | CmpOp::BStartsWith => {
                CRhs::Hexes(items.iter().map(|s| parse_hex(s)).collect::<Result<_, _>>()?)
            }
            _ => CRhs::Items(items),
        });
    }
    match op {
        CmpOp::In | CmpOp::Intersects => Ok(CRhs::Set(items.into_iter().collect())),
        CmpOp::PMatch => Ok(CRhs::PMatch(items.iter().map(|p| path_components(p)).collect())),
        _ => Err(format!("operator '{}' does not take a list", op.as_str())),
    }
}

fn single_rhs(op: CmpOp, v: &str) -> Result<CRhs, CompileError> {
    Ok(match op {
        CmpOp::Regex => CRhs::Regex(compile_regex(v)?),
        CmpOp::BContains | CmpOp::BStartsWith => CRhs::Hex(parse_hex(v)?),
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => match parse_num(v) {
            Some(n) => CRhs::Num(n, v.to_owned()),
            None => CRhs::Str(v.to_owned()),
        },
        _ => CRhs::Str(v.to_owned()),
    })
}

fn compile_regex(s: &str) -> Result<Regex, CompileError> {
    Regex::new(&format!("^(?:{s})$")).map_err(|e| format!("invalid regular expression {s:?}: {e}"))
}

fn parse_hex(s: &str) -> Result<Vec<u8>, CompileError> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err(format!("invalid hex string {s:?}: odd length"));
    }
    b.chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid hex string {s:?}"))
        })
        .collect()
}

fn parse_num(s: &str) -> Option<f64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn path_components(p: &str) -> Vec<String> {
    p.split('/').filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

impl Filter {
    /// Whether the event of `cx` matches, extracting each slotted field once per context.
    #[must_use]
    pub fn matches_in(&self, cx: &EvalCtx<'_>) -> bool {
        match self {
            Self::And(v) => v.iter().all(|f| f.matches_in(cx)),
            Self::Or(v) => v.iter().any(|f| f.matches_in(cx)),
            Self::Not(f) => !f.matches_in(cx),
            Self::Exists(v) => v.eval_in(cx).is_some(),
            Self::Cmp(c) => c.matches(cx),
        }
    }

    /// Gives every field of the filter a cache slot.
    pub fn assign_slots(&mut self, slots: &mut Slots) {
        match self {
            Self::And(v) | Self::Or(v) => v.iter_mut().for_each(|f| f.assign_slots(slots)),
            Self::Not(f) => f.assign_slots(slots),
            Self::Exists(v) => v.assign_slots(slots),
            Self::Cmp(c) => {
                c.lhs.assign_slots(slots);
                if let CRhs::Operand(v) = &mut c.rhs {
                    v.assign_slots(slots);
                }
            }
        }
    }
}

impl Value {
    /// Extracts the value(s) of the event of `cx`, from its cache for slotted fields.
    #[must_use]
    pub fn eval_in<'c>(&self, cx: &'c EvalCtx<'_>) -> Option<Cow<'c, [String]>> {
        match self {
            Self::Field(info, arg, slot) => {
                let extract = || {
                    let v = match (info, cx.ev) {
                        (FieldRef::Audit(f), Ev::Audit(ev)) => k8saudit::extract(f, arg.as_deref(), ev)?,
                        (FieldRef::Ext(f), Ev::Ext(ev)) => ev.extract(f, arg.as_deref())?,
                        _ => return None,
                    };
                    // An empty list is reported as "no value", like libsinsp does for plugin fields.
                    if v.is_empty() { None } else { Some(v) }
                };
                match cx.cache.get(*slot) {
                    Some(cell) => cell.get_or_init(extract).as_deref().map(Cow::Borrowed),
                    None => extract().map(Cow::Owned),
                }
            }
            Self::Transform(Transformer::Val, inner) => inner.eval_in(cx),
            Self::Transform(Transformer::Len, inner) => {
                let v = inner.eval_in(cx)?;
                let n = if value_is_list(inner) { v.len() } else { v.first().map_or(0, String::len) };
                Some(Cow::Owned(vec![n.to_string()]))
            }
            Self::Transform(t, inner) => {
                let v = inner.eval_in(cx)?;
                v.iter().map(|s| transform(*t, s)).collect::<Option<Vec<_>>>().map(Cow::Owned)
            }
            Self::JsonList(inner) => {
                let v = inner.eval_in(cx)?;
                Some(Cow::Owned(vec![serde_json::to_string(&*v).unwrap_or_default()]))
            }
            Self::Join(sep, parts) => {
                let mut pieces = Vec::new();
                for p in parts {
                    match p {
                        JoinPart::Literal(l) => pieces.push(l.clone()),
                        JoinPart::Value(v) => pieces.extend(v.eval_in(cx)?.iter().cloned()),
                    }
                }
                Some(Cow::Owned(vec![pieces.join(sep)]))
            }
        }
    }

    /// Gives every field of the value a cache slot.
    pub fn assign_slots(&mut self, slots: &mut Slots) {
        match self {
            Self::Field(info, arg, slot) => *slot = slots.slot(info.slot_key(), arg.as_ref()),
            Self::Transform(_, inner) | Self::JsonList(inner) => inner.assign_slots(slots),
            Self::Join(_, parts) => {
                for p in parts {
                    if let JoinPart::Value(v) = p {
                        v.assign_slots(slots);
                    }
                }
            }
        }
    }

    /// Whether the value is a list (for output formatting).
    #[must_use]
    pub fn is_list(&self) -> bool {
        value_is_list(self)
    }
}

fn transform(t: Transformer, s: &str) -> Option<String> {
    Some(match t {
        Transformer::ToLower => s.to_lowercase(),
        Transformer::ToUpper => s.to_uppercase(),
        Transformer::B64 => String::from_utf8_lossy(&b64_decode(s)?).into_owned(),
        Transformer::Basename => {
            if s.ends_with('/') {
                String::new()
            } else {
                s.rsplit('/').next().unwrap_or(s).to_owned()
            }
        }
        Transformer::Len => s.len().to_string(),
        Transformer::Val => s.to_owned(),
    })
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b'\n' | b'\r' => continue,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

impl Cmp {
    fn matches(&self, cx: &EvalCtx<'_>) -> bool {
        let Some(lhs) = self.lhs.eval_in(cx) else { return false };
        let rhs_vals;
        let rhs = match &self.rhs {
            CRhs::Operand(v) => {
                let Some(vals) = v.eval_in(cx) else { return false };
                rhs_vals = vals;
                match self.op {
                    CmpOp::In | CmpOp::Intersects => {
                        let set: HashSet<&str> = rhs_vals.iter().map(String::as_str).collect();
                        return if self.op == CmpOp::In && value_is_list(&self.lhs) {
                            lhs.iter().all(|v| set.contains(v.as_str()))
                        } else {
                            lhs.iter().any(|v| set.contains(v.as_str()))
                        };
                    }
                    CmpOp::PMatch => {
                        let pats: Vec<Vec<String>> = rhs_vals.iter().map(|p| path_components(p)).collect();
                        return lhs.first().is_some_and(|v| pmatch(&pats, v));
                    }
                    _ => {}
                }
                let Some(first) = rhs_vals.first() else { return false };
                return lhs.first().is_some_and(|l| cmp_str(self.op, l, first, self.lhs_numeric()));
            }
            r => r,
        };
        if value_is_list(&self.lhs) {
            let CRhs::Set(set) = rhs else { return false };
            return match self.op {
                CmpOp::In => lhs.iter().all(|v| set.contains(v)),
                _ => lhs.iter().any(|v| set.contains(v)),
            };
        }
        let Some(l) = lhs.first() else { return false };
        if matches!(self.lhs_kind(), FieldKind::IpAddr | FieldKind::IpNet) {
            match (self.op, rhs) {
                (CmpOp::Eq, CRhs::Str(s)) => return ip_match(l, s),
                (CmpOp::Ne, CRhs::Str(s)) => return !ip_match(l, s),
                (CmpOp::In | CmpOp::Intersects, CRhs::Set(set)) => return set.iter().any(|s| ip_match(l, s)),
                _ => {}
            }
        }
        match rhs {
            CRhs::Str(s) => cmp_str(self.op, l, s, self.lhs_numeric()),
            CRhs::Num(n, s) => match parse_num(l) {
                Some(x) => num_cmp(self.op, x, *n),
                None => cmp_str(self.op, l, s, false),
            },
            CRhs::Set(set) => set.contains(l),
            CRhs::PMatch(p) => pmatch(p, l),
            CRhs::Regex(re) => re.is_match(l),
            CRhs::Hex(h) => hex_cmp(self.op, l.as_bytes(), h),
            CRhs::Items(items) => {
                let n = items.iter().filter(|s| cmp_str(self.op, l, s, self.lhs_numeric())).count();
                combine(self.modifier, n, items.len())
            }
            CRhs::Regexes(res) => combine(self.modifier, res.iter().filter(|r| r.is_match(l)).count(), res.len()),
            CRhs::Hexes(hs) => {
                combine(self.modifier, hs.iter().filter(|h| hex_cmp(self.op, l.as_bytes(), h)).count(), hs.len())
            }
            CRhs::Operand(_) => false,
        }
    }

    fn lhs_kind(&self) -> FieldKind {
        match &self.lhs {
            Value::Field(f, ..) => f.kind(),
            Value::Transform(Transformer::Len, _) => FieldKind::Number,
            _ => FieldKind::Text,
        }
    }

    fn lhs_numeric(&self) -> bool {
        self.lhs_kind() == FieldKind::Number
    }
}

/// libsinsp's address comparison: the pattern is an address (equal) or a network `addr/len`
/// (contains); text that is neither compares as text.
fn ip_match(value: &str, pattern: &str) -> bool {
    use std::net::IpAddr;
    let Ok(v) = value.parse::<IpAddr>() else { return value == pattern };
    match pattern.split_once('/') {
        Some((net, len)) => {
            let (Ok(net), Ok(len)) = (net.parse::<IpAddr>(), len.parse::<u32>()) else { return false };
            match (v, net) {
                (IpAddr::V4(a), IpAddr::V4(n)) if len <= 32 => {
                    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                    u32::from(a) & mask == u32::from(n) & mask
                }
                (IpAddr::V6(a), IpAddr::V6(n)) if len <= 128 => {
                    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                    u128::from(a) & mask == u128::from(n) & mask
                }
                _ => false,
            }
        }
        None => pattern.parse::<IpAddr>().is_ok_and(|p| p == v),
    }
}

fn combine(m: Option<Modifier>, hits: usize, total: usize) -> bool {
    match m {
        Some(Modifier::AllOf) => hits == total,
        Some(Modifier::OneOf) => hits == 1,
        Some(Modifier::AnyOf) | None => hits > 0,
    }
}

fn num_cmp(op: CmpOp, a: f64, b: f64) -> bool {
    match op {
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        _ => false,
    }
}

fn hex_cmp(op: CmpOp, hay: &[u8], needle: &[u8]) -> bool {
    match op {
        CmpOp::BStartsWith => hay.starts_with(needle),
        _ => needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle),
    }
}

fn cmp_str(op: CmpOp, l: &str, r: &str, numeric: bool) -> bool {
    if numeric && let (Some(a), Some(b)) = (parse_num(l), parse_num(r)) {
        return num_cmp(op, a, b);
    }
    match op {
        CmpOp::Eq | CmpOp::In | CmpOp::Intersects => l == r,
        CmpOp::Ne => l != r,
        CmpOp::Lt => l < r,
        CmpOp::Le => l <= r,
        CmpOp::Gt => l > r,
        CmpOp::Ge => l >= r,
        CmpOp::Contains => l.contains(r),
        CmpOp::IContains => l.to_lowercase().contains(&r.to_lowercase()),
        CmpOp::StartsWith => l.starts_with(r),
        CmpOp::EndsWith => l.ends_with(r),
        CmpOp::Glob => glob_match(r.as_bytes(), l.as_bytes()),
        CmpOp::IGlob => glob_match(r.to_lowercase().as_bytes(), l.to_lowercase().as_bytes()),
        CmpOp::Regex => compile_regex(r).is_ok_and(|re| re.is_match(l)),
        CmpOp::BContains | CmpOp::BStartsWith => parse_hex(r).is_ok_and(|h| hex_cmp(op, l.as_bytes(), &h)),
        CmpOp::PMatch => pmatch(&[path_components(r)], l),
    }
}

/// Path-prefix match: `prefix` components must equal (or glob-match) the first components of `path`.
fn pmatch(prefixes: &[Vec<String>], path: &str) -> bool {
    let comps = path_components(path);
    prefixes.iter().any(|p| {
        p.len() <= comps.len()
            && p.iter().zip(comps.iter()).all(|(pat, c)| pat == c || glob_match(pat.as_bytes(), c.as_bytes()))
    })
}

/// POSIX `fnmatch(pattern, s, 0)`: `*` (also across `/`), `?`, `[...]` classes, `\` escapes.
#[must_use]
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(&pc) = pat.get(p) {
            match pc {
                b'*' => {
                    star = Some((p, i));
                    p += 1;
                    continue;
                }
                b'?' if i < s.len() => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' if i < s.len() => {
                    if let Some((ok, next)) = class_match(pat, p, s.get(i).copied().unwrap_or(0)) {
                        if ok {
                            p = next;
                            i += 1;
                            continue;
                        }
                    } else if s.get(i) == Some(&b'[') {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
                b'\\' if pat.get(p + 1).is_some() && s.get(i) == pat.get(p + 1) => {
                    p += 2;
                    i += 1;
                    continue;
                }
                c if c != b'*' && c != b'?' && c != b'[' && s.get(i) == Some(&c) => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            }
        } else if i == s.len() {
            return true;
        }
        match star {
            Some((sp, si)) if si < s.len() => {
                star = Some((sp, si + 1));
                p = sp + 1;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

/// Matches `c` against the class starting at `pat[p] == '['`; returns (matched, index after `]`),
/// or `None` when the class is not closed (then `[` is literal).
fn class_match(pat: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = matches!(pat.get(j), Some(b'!' | b'^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let &pc = pat.get(j)?;
        if pc == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        let lo = if pc == b'\\' {
            j += 1;
            *pat.get(j)?
        } else {
            pc
        };
        if pat.get(j + 1) == Some(&b'-') && pat.get(j + 2).is_some_and(|x| *x != b']') {
            let hi = *pat.get(j + 2)?;
            if lo <= c && c <= hi {
                matched = true;
            }
            j += 3;
        } else {
            if lo == c {
                matched = true;
            }
            j += 1;
        }
    }
}
