//! The Falco condition language: a parser that accepts exactly what libsinsp's filter parser
//! (`userspace/libsinsp/filter/parser.cpp`) accepts, into an [`Expr`] tree.
//!
//! The grammar is recursive descent over a few regular lexemes (field names, identifiers,
//! bare strings, numbers, quoted strings with Falco's escapes). Nesting is bounded by
//! [`MAX_DEPTH`], like upstream.

use std::fmt;

/// Deepest recursion accepted (upstream's default).
pub const MAX_DEPTH: u32 = 100;

/// A parsed condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// `a and b and …`
    And(Vec<Expr>),
    /// `a or b or …`
    Or(Vec<Expr>),
    /// `not a`
    Not(Box<Expr>),
    /// A bare identifier: a macro reference.
    Ident(String),
    /// `operand exists`
    Exists(Operand),
    /// `operand op rhs`
    Compare {
        /// Left-hand side.
        lhs: Operand,
        /// The operator.
        op: CmpOp,
        /// `oneof` / `anyof` / `allof`, for string operators.
        modifier: Option<Modifier>,
        /// Right-hand side.
        rhs: Rhs,
    },
}

/// A value-producing operand: a field, a transformed operand, or a `join`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// `name` or `name[arg]`.
    Field {
        /// Field name, e.g. `ka.user.name`.
        name: String,
        /// Argument between brackets, unescaped.
        arg: Option<String>,
    },
    /// `tolower(x)` and friends.
    Transform(Transformer, Box<Operand>),
    /// `join("sep", (a, b, …))`.
    Join(String, Vec<JoinItem>),
}

/// One item of a `join` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JoinItem {
    /// A field or transformer.
    Operand(Operand),
    /// A literal (quoted string or number).
    Literal(String),
}

/// A single-argument field transformer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transformer {
    /// `tolower(`
    ToLower,
    /// `toupper(`
    ToUpper,
    /// `b64(`: base64 decode.
    B64,
    /// `basename(`
    Basename,
    /// `len(`
    Len,
    /// `val(` (right-hand side only): the field's value.
    Val,
}

impl Transformer {
    /// The name as written (without the parenthesis).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ToLower => "tolower",
            Self::ToUpper => "toupper",
            Self::B64 => "b64",
            Self::Basename => "basename",
            Self::Len => "len",
            Self::Val => "val",
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains`
    Contains,
    /// `icontains`
    IContains,
    /// `bcontains` (hex bytes)
    BContains,
    /// `startswith`
    StartsWith,
    /// `bstartswith` (hex bytes)
    BStartsWith,
    /// `endswith`
    EndsWith,
    /// `glob`
    Glob,
    /// `iglob`
    IGlob,
    /// `regex`
    Regex,
    /// `in`
    In,
    /// `intersects`
    Intersects,
    /// `pmatch`
    PMatch,
}

impl CmpOp {
    /// The operator as Falco prints it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Contains => "contains",
            Self::IContains => "icontains",
            Self::BContains => "bcontains",
            Self::StartsWith => "startswith",
            Self::BStartsWith => "bstartswith",
            Self::EndsWith => "endswith",
            Self::Glob => "glob",
            Self::IGlob => "iglob",
            Self::Regex => "regex",
            Self::In => "in",
            Self::Intersects => "intersects",
            Self::PMatch => "pmatch",
        }
    }

    /// Parses an operator name as used in exception `comps`.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "=" | "==" => Self::Eq,
            "!=" => Self::Ne,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            "contains" => Self::Contains,
            "icontains" => Self::IContains,
            "bcontains" => Self::BContains,
            "startswith" => Self::StartsWith,
            "bstartswith" => Self::BStartsWith,
            "endswith" => Self::EndsWith,
            "glob" => Self::Glob,
            "iglob" => Self::IGlob,
            "regex" => Self::Regex,
            "in" => Self::In,
            "intersects" => Self::Intersects,
            "pmatch" => Self::PMatch,
            _ => return None,
        })
    }

    /// Whether the right-hand side is a list (`in`, `intersects`, `pmatch`).
    #[must_use]
    pub const fn is_list_op(self) -> bool {
        matches!(self, Self::In | Self::Intersects | Self::PMatch)
    }
}

/// A string-operator modifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// Exactly one item matches.
    OneOf,
    /// At least one item matches.
    AnyOf,
    /// Every item matches.
    AllOf,
}

/// The right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rhs {
    /// A single literal value.
    Value(String),
    /// A parenthesised list `(a, b)`; an item may name a list.
    List(Vec<String>),
    /// A bare identifier after a list operator: a list name (or a literal when no such list).
    ListRef(String),
    /// Another field (`val(f)` or a transformer).
    Operand(Operand),
}

/// A syntax error with its byte offset and 1-based line/column in the condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong (upstream's wording where it has one).
    pub message: String,
    /// Byte offset in the condition.
    pub offset: usize,
    /// 1-based line in the condition.
    pub line: u32,
    /// 1-based column in the condition.
    pub column: u32,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at line {}, column {})", self.message, self.line, self.column)
    }
}

impl std::error::Error for ParseError {}

/// Parses a condition.
///
/// # Errors
/// A [`ParseError`] when the text is not a valid Falco condition.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser { s: input.as_bytes(), i: 0, depth: 0, last: String::new() };
    if input.is_empty() {
        return Err(p.err("filter input string is empty"));
    }
    let e = p.parse_or()?;
    if p.i != p.s.len() {
        let msg = format!("unexpected token after '{}', expecting 'or', 'and'", p.last);
        return Err(p.err(&msg));
    }
    Ok(e)
}

const STR_OPS: &[(&str, CmpOp)] = &[
    ("==", CmpOp::Eq),
    ("=", CmpOp::Eq),
    ("!=", CmpOp::Ne),
    ("glob ", CmpOp::Glob),
    ("iglob ", CmpOp::IGlob),
    ("contains ", CmpOp::Contains),
    ("icontains ", CmpOp::IContains),
    ("bcontains ", CmpOp::BContains),
    ("startswith ", CmpOp::StartsWith),
    ("bstartswith ", CmpOp::BStartsWith),
    ("endswith ", CmpOp::EndsWith),
    ("regex ", CmpOp::Regex),
];
const NUM_OPS: &[(&str, CmpOp)] = &[("<=", CmpOp::Le), ("<", CmpOp::Lt), (">=", CmpOp::Ge), (">", CmpOp::Gt)];
const LIST_OPS: &[(&str, CmpOp)] = &[("intersects", CmpOp::Intersects), ("in", CmpOp::In), ("pmatch", CmpOp::PMatch)];
const TRANSFORMERS: &[(&str, Transformer)] = &[
    ("tolower(", Transformer::ToLower),
    ("toupper(", Transformer::ToUpper),
    ("b64(", Transformer::B64),
    ("basename(", Transformer::Basename),
    ("len(", Transformer::Len),
];
const MODIFIERS: &[(&str, Modifier)] =
    &[("oneof", Modifier::OneOf), ("anyof", Modifier::AnyOf), ("allof", Modifier::AllOf)];

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
    last: String,
}

type PResult<T> = Result<T, ParseError>;

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | 8 | b'\r' | b'\n')
}
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 11 | 12)
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> ParseError {
        let upto = self.s.get(..self.i).unwrap_or(self.s);
        let mut line = 1u32;
        let mut column = 1u32;
        for &c in upto {
            if c == b'\n' || c == b'\r' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        ParseError { message: msg.to_owned(), offset: self.i, line, column }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }
    fn rest(&self) -> &[u8] {
        self.s.get(self.i..).unwrap_or(&[])
    }
    fn text(&self, from: usize, to: usize) -> String {
        String::from_utf8_lossy(self.s.get(from..to).unwrap_or(&[])).into_owned()
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.err(&format!("exceeded max depth limit of {MAX_DEPTH}")));
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn blank(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(is_blank) {
            self.i += 1;
        }
        self.i > start
    }

    fn lit(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s.as_bytes()) {
            self.i += s.len();
            s.clone_into(&mut self.last);
            true
        } else {
            false
        }
    }

    fn lit_list<T: Copy>(&mut self, list: &[(&str, T)]) -> Option<T> {
        list.iter().find_map(|(s, v)| self.lit(s).then_some(*v))
    }

    /// Length of an identifier `[a-zA-Z]+[a-zA-Z0-9_]*` at offset `at`.
    fn ident_len_at(&self, at: usize) -> usize {
        let s = self.s.get(at..).unwrap_or(&[]);
        match s.first() {
            Some(c) if c.is_ascii_alphabetic() => {}
            _ => return 0,
        }
        s.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count()
    }

    fn take(&mut self, n: usize) -> String {
        let t = self.text(self.i, self.i + n);
        self.i += n;
        self.last.clone_from(&t);
        t
    }

    fn identifier(&mut self) -> Option<String> {
        let n = self.ident_len_at(self.i);
        (n > 0).then(|| self.take(n))
    }

    fn field_name(&mut self) -> Option<String> {
        let mut n = self.ident_len_at(self.i);
        if n == 0 {
            return None;
        }
        let mut segments = 0;
        while self.s.get(self.i + n) == Some(&b'.') {
            let k = self.ident_len_at(self.i + n + 1);
            if k == 0 {
                break;
            }
            n += 1 + k;
            segments += 1;
        }
        (segments > 0).then(|| self.take(n))
    }

    fn run_len(&self, ok: impl Fn(u8) -> bool) -> usize {
        self.rest().iter().take_while(|c| ok(**c)).count()
    }

    fn field_arg_bare(&mut self) -> Option<String> {
        let n = self.run_len(|c| !matches!(c, b'[' | b']' | b'"' | b'\'') && !is_space(c));
        (n > 0).then(|| self.take(n))
    }

    fn bare_str(&mut self) -> Option<String> {
        let n = self.run_len(|c| !matches!(c, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_space(c));
        (n > 0).then(|| self.take(n))
    }

    fn hex_num(&mut self) -> Option<String> {
        let r = self.rest();
        if r.len() >= 3 && r.first() == Some(&b'0') && matches!(r.get(1), Some(b'x' | b'X')) {
            let n = r.iter().skip(2).take_while(|c| c.is_ascii_alphanumeric()).count();
            if n > 0 {
                return Some(self.take(n + 2));
            }
        }
        None
    }

    fn num(&mut self) -> Option<String> {
        let r = self.rest();
        let mut n = 0;
        if matches!(r.first(), Some(b'+' | b'-')) {
            n += 1;
        }
        let digits = r.iter().skip(n).take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        n += digits;
        if r.get(n) == Some(&b'.') {
            n += 1;
        }
        n += r.iter().skip(n).take_while(|c| c.is_ascii_digit()).count();
        if matches!(r.get(n), Some(b'e' | b'E')) && matches!(r.get(n + 1), Some(b'+' | b'-')) {
            let k = r.iter().skip(n + 2).take_while(|c| c.is_ascii_digit()).count();
            if k > 0 {
                n += 2 + k;
            }
        }
        Some(self.take(n))
    }

    /// A quoted string, unescaped. `Ok(None)` when there is none here.
    fn quoted(&mut self) -> PResult<Option<String>> {
        let Some(delim) = self.peek().filter(|c| *c == b'"' || *c == b'\'') else { return Ok(None) };
        let start = self.i;
        let mut prev = b'\\';
        let mut j = self.i;
        while let Some(&c) = self.s.get(j) {
            if c == delim && prev != b'\\' {
                let raw = self.s.get(start..=j).unwrap_or(&[]);
                self.i = j + 1;
                let un = unescape(raw).map_err(|m| self.err(&m))?;
                self.last.clone_from(&un);
                return Ok(Some(un));
            }
            prev = c;
            j += 1;
        }
        Ok(None)
    }

    fn parse_or(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.blank();
        let mut children = vec![self.parse_and()?];
        self.blank();
        while self.lit("or") {
            let child = if self.blank() {
                self.parse_and()?
            } else if self.lit("(") {
                self.parse_embedded_remainder()?
            } else {
                return Err(self.err("expected blank or '(' after 'or'"));
            };
            children.push(child);
            self.blank();
        }
        self.leave();
        Ok(if children.len() == 1 { children.remove(0) } else { Expr::Or(children) })
    }

    fn parse_and(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.blank();
        let mut children = vec![self.parse_not()?];
        self.blank();
        while self.lit("and") {
            let child = if self.blank() {
                self.parse_not()?
            } else if self.lit("(") {
                self.parse_embedded_remainder()?
            } else {
                return Err(self.err("expected blank or '(' after 'and'"));
            };
            children.push(child);
            self.blank();
        }
        self.leave();
        Ok(if children.len() == 1 { children.remove(0) } else { Expr::And(children) })
    }

    fn not_blank(&mut self) -> bool {
        if self.rest().starts_with(b"not") && self.peek_at(3).is_some_and(is_space) {
            self.i += 3;
            while self.peek().is_some_and(is_space) {
                self.i += 1;
            }
            "not ".clone_into(&mut self.last);
            true
        } else {
            false
        }
    }

    fn parse_not(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.blank();
        let mut negate = false;
        while self.not_blank() {
            negate = !negate;
        }
        let child = if self.lit("not(") {
            negate = !negate;
            self.parse_embedded_remainder()?
        } else {
            self.parse_check()?
        };
        self.leave();
        Ok(if negate { Expr::Not(Box::new(child)) } else { child })
    }

    fn parse_embedded_remainder(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.blank();
        let child = self.parse_or()?;
        self.blank();
        if !self.lit(")") {
            return Err(self.err("expected a ')' token"));
        }
        self.leave();
        Ok(child)
    }

    fn parse_check(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.blank();
        let r = if self.lit("(") {
            self.parse_embedded_remainder()?
        } else if let Some(name) = self.field_name() {
            let lhs = self.parse_field_remainder(name)?;
            self.parse_condition(lhs)?
        } else if let Some(lhs) = self.try_transformer_lhs()? {
            self.parse_condition(lhs)?
        } else if let Some(id) = self.identifier() {
            Expr::Ident(id)
        } else {
            return Err(self.err("expected a '(' token, a field check, or an identifier"));
        };
        self.leave();
        Ok(r)
    }

    /// A transformer (not `val`) or `join` at the cursor, with its argument.
    fn try_transformer_lhs(&mut self) -> PResult<Option<Operand>> {
        if self.lit("join(") {
            return self.parse_join_remainder().map(Some);
        }
        if let Some(t) = self.lit_list(TRANSFORMERS) {
            self.blank();
            return self.parse_field_or_transformer_remainder(t).map(Some);
        }
        Ok(None)
    }

    fn parse_field_remainder(&mut self, name: String) -> PResult<Operand> {
        let mut arg = None;
        if self.lit("[") {
            let a = match self.quoted()? {
                Some(q) => q,
                None => self
                    .field_arg_bare()
                    .ok_or_else(|| self.err("expected a valid field argument: a quoted string or a bare string"))?,
            };
            arg = Some(a);
            if !self.lit("]") {
                return Err(self.err("expected a ']' token"));
            }
        }
        Ok(Operand::Field { name, arg })
    }

    fn parse_field_or_transformer_remainder(&mut self, t: Transformer) -> PResult<Operand> {
        self.enter()?;
        self.blank();
        let child = if let Some(inner) = self.try_transformer_lhs()? {
            inner
        } else if let Some(name) = self.field_name() {
            self.parse_field_remainder(name)?
        } else {
            return Err(self.err(
                "expected a field or a nested valid transformer: 'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join'",
            ));
        };
        self.blank();
        if !self.lit(")") {
            return Err(self.err("expected a ')' token closing the transformer"));
        }
        self.leave();
        Ok(Operand::Transform(t, Box::new(child)))
    }

    /// After `join(`: `"sep", (item, …))`.
    fn parse_join_remainder(&mut self) -> PResult<Operand> {
        self.enter()?;
        self.blank();
        let sep = self.quoted()?.ok_or_else(|| self.err("expected a quoted separator string in 'join'"))?;
        self.blank();
        if !self.lit(",") {
            return Err(self.err("expected ',' after the 'join' separator"));
        }
        self.blank();
        if !self.lit("(") {
            return Err(self.err("expected a '(' opening the 'join' list"));
        }
        self.blank();
        let mut items = Vec::new();
        if !self.lit(")") {
            loop {
                self.blank();
                items.push(self.parse_join_item()?);
                self.blank();
                if self.lit(",") {
                    continue;
                }
                if self.lit(")") {
                    break;
                }
                return Err(self.err("expected ',' or ')' in the 'join' list"));
            }
        }
        self.blank();
        if !self.lit(")") {
            return Err(self.err("expected a ')' token closing the transformer"));
        }
        self.leave();
        Ok(Operand::Join(sep, items))
    }

    fn parse_join_item(&mut self) -> PResult<JoinItem> {
        if let Some(op) = self.try_transformer_lhs()? {
            return Ok(JoinItem::Operand(op));
        }
        if let Some(name) = self.field_name() {
            return Ok(JoinItem::Operand(self.parse_field_remainder(name)?));
        }
        if let Some(q) = self.quoted()? {
            return Ok(JoinItem::Literal(q));
        }
        let save = self.i;
        if let Some(n) = self.hex_num().or_else(|| self.num()) {
            // a number must end here (not be the start of a bare word)
            if self.peek().is_none_or(|c| is_blank(c) || c == b',' || c == b')') {
                return Ok(JoinItem::Literal(n));
            }
            self.i = save;
        }
        Err(self.err("expected a field, a transformer or a literal in the 'join' list"))
    }

    fn parse_condition(&mut self, lhs: Operand) -> PResult<Expr> {
        self.enter()?;
        self.blank();
        if self.lit("exists") {
            self.leave();
            return Ok(Expr::Exists(lhs));
        }
        self.blank();
        let r = if let Some(op) = self.lit_list(NUM_OPS) {
            let rhs = self.parse_num_value_or_transformer()?;
            Expr::Compare { lhs, op, modifier: None, rhs }
        } else if let Some(op) = self.lit_list(STR_OPS) {
            let spaced = self.last.ends_with(' ');
            let blank = self.blank();
            if let Some(m) = self.try_modifier(spaced || blank) {
                let rhs = self.parse_modifier_list()?;
                Expr::Compare { lhs, op, modifier: Some(m), rhs }
            } else {
                let rhs = self.parse_str_value_or_transformer()?;
                Expr::Compare { lhs, op, modifier: None, rhs }
            }
        } else if let Some(op) = self.lit_list(LIST_OPS) {
            let rhs = self.parse_list_value_or_transformer()?;
            Expr::Compare { lhs, op, modifier: None, rhs }
        } else {
            return Err(self.err(
                "expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'",
            ));
        };
        self.leave();
        Ok(r)
    }

    /// `oneof`/`anyof`/`allof` followed by blanks and a list or a list name (not `and`/`or`).
    fn try_modifier(&mut self, preceded_by_space: bool) -> Option<Modifier> {
        if !preceded_by_space {
            return None;
        }
        let (word, m) = MODIFIERS.iter().find(|(w, _)| self.rest().starts_with(w.as_bytes()))?;
        let mut j = self.i + word.len();
        let ws = self.s.get(j..).unwrap_or(&[]).iter().take_while(|c| is_blank(**c)).count();
        if ws == 0 {
            return None;
        }
        j += ws;
        let ok = match self.s.get(j) {
            Some(b'(') => true,
            Some(_) => {
                let n = self.ident_len_at(j);
                let id = self.s.get(j..j + n).unwrap_or(&[]);
                n > 0 && id != b"and" && id != b"or"
            }
            None => false,
        };
        if ok {
            self.i = j;
            Some(*m)
        } else {
            None
        }
    }

    fn parse_modifier_list(&mut self) -> PResult<Rhs> {
        if self.lit("(") {
            return self.parse_list_items();
        }
        match self.identifier() {
            Some(id) => Ok(Rhs::ListRef(id)),
            None => Err(self.err("expected a list or a list name")),
        }
    }

    fn parse_num_value_or_transformer(&mut self) -> PResult<Rhs> {
        self.enter()?;
        self.blank();
        let r = if let Some(op) = self.try_transformer_or_val()? {
            Rhs::Operand(op)
        } else if let Some(n) = self.hex_num().or_else(|| self.num()) {
            Rhs::Value(n)
        } else {
            return Err(self.err("expected a number value or a field with a valid transformer"));
        };
        self.leave();
        Ok(r)
    }

    fn str_value(&mut self) -> PResult<Option<String>> {
        if let Some(q) = self.quoted()? {
            return Ok(Some(q));
        }
        Ok(self.bare_str())
    }

    fn parse_str_value_or_transformer(&mut self) -> PResult<Rhs> {
        self.enter()?;
        self.blank();
        let r = if let Some(op) = self.try_transformer_or_val()? {
            Rhs::Operand(op)
        } else if let Some(v) = self.str_value()? {
            Rhs::Value(v)
        } else {
            return Err(self.err("expected a string value or a field with a valid transformer"));
        };
        self.leave();
        Ok(r)
    }

    /// After `(`: comma-separated string values, then `)`.
    fn parse_list_items(&mut self) -> PResult<Rhs> {
        self.blank();
        let mut values = Vec::new();
        if let Some(v) = self.str_value()? {
            values.push(v);
            self.blank();
            while self.lit(",") {
                self.blank();
                let v = self.str_value()?.ok_or_else(|| self.err("expected a string value"))?;
                values.push(v);
                self.blank();
            }
        }
        if !self.lit(")") {
            return Err(self.err("expected a ')' token"));
        }
        Ok(Rhs::List(values))
    }

    fn parse_list_value_or_transformer(&mut self) -> PResult<Rhs> {
        self.enter()?;
        self.blank();
        let r = if self.lit("(") {
            self.parse_list_items()?
        } else if let Some(op) = self.try_transformer_or_val()? {
            Rhs::Operand(op)
        } else if let Some(id) = self.identifier() {
            Rhs::ListRef(id)
        } else {
            return Err(self.err("expected a list, an identifier, or a field with a valid transformer"));
        };
        self.leave();
        Ok(r)
    }

    fn try_transformer_or_val(&mut self) -> PResult<Option<Operand>> {
        self.enter()?;
        self.blank();
        let r = if self.lit("val(") {
            self.blank();
            let name = self.field_name().ok_or_else(|| self.err("expected a field within 'val' transformer"))?;
            let child = self.parse_field_remainder(name)?;
            self.blank();
            if !self.lit(")") {
                return Err(self.err("expected a ')' token closing the transformer"));
            }
            Some(Operand::Transform(Transformer::Val, Box::new(child)))
        } else {
            self.try_transformer_lhs()?
        };
        self.leave();
        Ok(r)
    }
}

/// Falco's `unescape_str` over a quoted token (delimiters included).
fn unescape(raw: &[u8]) -> Result<String, String> {
    let delim = raw.first().copied().unwrap_or(b'"');
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or(&[]);
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &c in inner {
        if !escaped {
            if c == b'\\' {
                escaped = true;
            } else {
                out.push(c);
            }
            continue;
        }
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b' ' | b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'"' | b'\'' => {
                if c != delim {
                    return Err(if c == b'"' {
                        "invalid \\\" escape in '-quoted string".to_owned()
                    } else {
                        "invalid \\' escape in \"-quoted string".to_owned()
                    });
                }
                out.push(c);
            }
            other => return Err(format!("unsupported string escape sequence: \\{}", char::from(other))),
        }
        escaped = false;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Quotes a value for re-insertion into condition text (exceptions), the way Falco does:
/// values with blanks or special characters are double-quoted with escapes.
#[must_use]
pub fn quote_value(v: &str) -> String {
    let needs =
        v.is_empty() || v.bytes().any(|c| is_space(c) || matches!(c, b'(' | b')' | b'"' | b'\'' | b'=' | b',' | b'\\'));
    if !needs {
        return v.to_owned();
    }
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for ch in v.chars() {
        match ch {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}
