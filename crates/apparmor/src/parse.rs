//! The profile language parser: preamble (abi, include, variables, booleans, aliases,
//! conditionals), profiles, hats and child profiles, flags and every rule kind, with the checks
//! `apparmor_parser` makes while it compiles a policy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::ast::{Access, Cond, FilePerms, Mode, Policy, Profile, Qualifiers, Rule, RuleKind, Span};
use crate::error::Error;
use crate::names;
use crate::scan::{Fs, NoFs, Scanner};
use crate::vars;

/// Where includes are looked for.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    /// The file system includes are read from.
    pub fs: &'a dyn Fs,
    /// `-I` search directories for `include <…>`.
    pub search: &'a [String],
    /// The directory `include "relative"` is relative to.
    pub base: &'a str,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self { fs: &NoFs, search: &[], base: "." }
    }
}

/// Most rules, profiles and statements in one policy (with its includes).
pub const MAX_ITEMS: usize = 1_000_000;
/// Most nesting of blocks (profiles, conditionals, owner blocks).
pub const MAX_NESTING: usize = 128;

/// Parses a policy file.
///
/// # Errors
/// The first problem `apparmor_parser` would report, with its file and position.
pub fn parse(file: &str, text: &str, opts: Options<'_>) -> Result<Policy, Error> {
    let mut p = Parser {
        s: Scanner::new(Arc::from(file), text, opts.fs, opts.search, opts.base),
        policy: Policy::default(),
        var_pos: BTreeMap::new(),
        items: 0,
        nesting: 0,
    };
    p.top_level()?;
    let mut policy = p.policy;
    vars::expand_policy(&mut policy)?;
    crate::check::policy(&policy)?;
    Ok(policy)
}

struct Parser<'a> {
    s: Scanner<'a>,
    policy: Policy,
    var_pos: BTreeMap<String, Span>,
    items: usize,
    nesting: usize,
}

/// Characters that end a word (besides whitespace).
fn word_stop(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '!' | ',')
}

/// Where a rule appears: at the top of a file, in a profile, in a conditional.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Top,
    Profile,
}

impl Parser<'_> {
    fn span(&self) -> Span {
        let (file, pos) = self.s.here();
        Span { file, pos }
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, Error> {
        Err(self.s.error(msg))
    }

    fn count(&mut self) -> Result<(), Error> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return self.err(format!("more than {MAX_ITEMS} statements"));
        }
        Ok(())
    }

    /// Reads an identifier `[A-Za-z0-9_-]+` (a keyword candidate).
    fn ident(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.s.cur() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                out.push(c);
                self.s.bump();
            } else {
                break;
            }
        }
        out
    }

    /// Reads a word: characters up to whitespace, `"`, `!` or a `,` that is not followed by a
    /// word character (as the upstream lexer does: `/a/{b,c}` is one word). A backslash escapes
    /// the next character (kept). `extra_stop` adds stops.
    fn word_with(&mut self, extra_stop: &dyn Fn(char) -> bool) -> String {
        let mut out = String::new();
        let mut depth = 0usize;
        while let Some(c) = self.s.cur() {
            if c == '\\' {
                self.s.bump();
                out.push('\\');
                if let Some(n) = self.s.bump() {
                    out.push(n);
                }
                continue;
            }
            if c == ',' && depth == 0 {
                match self.s.peek(1) {
                    Some(n) if !word_stop(n) && !extra_stop(n) => {}
                    _ => break,
                }
            } else if (c == '{' && depth == 0 && !out.ends_with('@') && self.s.peek(1).is_none_or(char::is_whitespace))
                || c.is_whitespace()
                || matches!(c, '"' | '!')
                || (c != ',' && extra_stop(c) && (depth == 0 || matches!(c, '(' | ')')))
            {
                break;
            }
            if c == '{' {
                depth += 1;
            } else if c == '}' {
                depth = depth.saturating_sub(1);
            }
            out.push(c);
            self.s.bump();
        }
        out
    }

    /// A list item: like a word, but a comma outside braces always ends it.
    fn list_item(&mut self) -> Result<String, Error> {
        if self.s.cur() == Some('"') {
            return self.quoted();
        }
        let mut out = String::new();
        let mut depth = 0usize;
        while let Some(c) = self.s.cur() {
            if c == '\\' {
                self.s.bump();
                out.push('\\');
                if let Some(n) = self.s.bump() {
                    out.push(n);
                }
                continue;
            }
            if c.is_whitespace() || matches!(c, '"' | '(' | ')') || (c == ',' && depth == 0) {
                break;
            }
            if c == '{' {
                depth += 1;
            } else if c == '}' {
                depth = depth.saturating_sub(1);
            }
            out.push(c);
            self.s.bump();
        }
        Ok(out)
    }

    fn word(&mut self) -> String {
        self.word_with(&|_| false)
    }

    /// A quoted string (at `"`), unquoted with escapes kept.
    fn quoted(&mut self) -> Result<String, Error> {
        let start = self.s.error("unterminated quoted string");
        self.s.bump();
        let mut out = String::new();
        loop {
            match self.s.bump() {
                None => return Err(start),
                Some('"') => return Ok(out),
                Some('\\') => {
                    out.push('\\');
                    if let Some(n) = self.s.bump() {
                        out.push(n);
                    }
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// A word or a quoted string.
    fn value(&mut self, extra_stop: &dyn Fn(char) -> bool) -> Result<String, Error> {
        if self.s.cur() == Some('"') { self.quoted() } else { Ok(self.word_with(extra_stop)) }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), Error> {
        self.s.skip_ws();
        if self.s.cur() == Some(c) {
            self.s.bump();
            Ok(())
        } else {
            let found = self.s.cur().map_or_else(|| "end of file".to_owned(), |c| format!("'{c}'"));
            self.err(format!("syntax error, expected {what}, found {found}"))
        }
    }

    fn expect_comma(&mut self) -> Result<(), Error> {
        self.expect(',', "',' at the end of the rule")
    }

    /// Whether the input continues with `key` then optional blanks then `=` (not `+=`).
    fn at_key_eq(&self, key: &str) -> bool {
        if !self.s.looking_at(key) {
            return false;
        }
        let mut k = key.len();
        while matches!(self.s.peek(k), Some(' ' | '\t')) {
            k += 1;
        }
        self.s.peek(k) == Some('=')
    }

    /// Consumes `key` `=` (after `at_key_eq`).
    fn eat_key_eq(&mut self, key: &str) {
        for _ in key.chars() {
            self.s.bump();
        }
        while matches!(self.s.cur(), Some(' ' | '\t')) {
            self.s.bump();
        }
        self.s.bump();
        while matches!(self.s.cur(), Some(' ' | '\t')) {
            self.s.bump();
        }
    }

    /// Whether the input is a path-like word: `/…`, `@{…}`, `"…"`.
    fn at_path(&mut self) -> bool {
        match self.s.cur() {
            Some('/') => true,
            Some('@') => self.s.peek(1) == Some('{'),
            Some('"') => true,
            _ => false,
        }
    }

    /// `( item item, item )` of plain words.
    fn paren_list(&mut self) -> Result<Vec<String>, Error> {
        self.expect('(', "'('")?;
        let mut out = Vec::new();
        loop {
            self.s.skip_ws();
            match self.s.cur() {
                Some(')') => {
                    self.s.bump();
                    return Ok(out);
                }
                Some(',') => {
                    self.s.bump();
                }
                None => return self.err("unterminated '(' list"),
                Some('(') => return self.err("unexpected '(' in a list"),
                Some(_) => {
                    let v = self.list_item()?;
                    if v.is_empty() {
                        return self.err("unexpected character in a list");
                    }
                    out.push(v);
                }
            }
        }
    }

    // ---------------------------------------------------------------- top level

    fn top_level(&mut self) -> Result<(), Error> {
        loop {
            self.s.skip_ws();
            if self.s.at_end() {
                return Ok(());
            }
            self.count()?;
            self.statement(Ctx::Top, None, &Qualifiers::default())?;
        }
    }

    /// An include directive at the current position (`#include`, `include`), if any.
    fn try_include(&mut self) -> Result<bool, Error> {
        let m = self.s.mark();
        if self.s.at_hash_include() {
            self.s.bump();
            while matches!(self.s.cur(), Some(' ' | '\t')) {
                self.s.bump();
            }
        }
        if !(self.s.looking_at("include") && self.s.peek(7).is_some_and(char::is_whitespace)) {
            self.s.reset(m);
            return Ok(false);
        }
        for _ in 0..7 {
            self.s.bump();
        }
        self.skip_blanks();
        let mut if_exists = false;
        if self.s.looking_at("if") && self.s.peek(2).is_some_and(char::is_whitespace) {
            self.s.bump();
            self.s.bump();
            self.skip_blanks();
            if !(self.s.looking_at("exists") && self.s.peek(6).is_some_and(char::is_whitespace)) {
                return self.err("syntax error in 'include if exists'");
            }
            for _ in 0..6 {
                self.s.bump();
            }
            self.skip_blanks();
            if_exists = true;
        }
        let (name, angle) = match self.s.cur() {
            Some('<') => {
                self.s.bump();
                let mut n = String::new();
                loop {
                    match self.s.cur() {
                        Some('>') => {
                            self.s.bump();
                            break;
                        }
                        Some('\n') | None => return self.err("unterminated include '<…>'"),
                        Some(c) => {
                            n.push(c);
                            self.s.bump();
                        }
                    }
                }
                (n, true)
            }
            Some('"') => (self.quoted()?, false),
            Some(c) if !c.is_whitespace() => (self.word(), false),
            _ => return self.err("include needs <name> or \"name\""),
        };
        let name = name.trim();
        let name = name.strip_prefix('"').and_then(|n| n.strip_suffix('"')).unwrap_or(name).to_owned();
        if name.is_empty() {
            return self.err("empty include name");
        }
        self.nesting += 1;
        let r = self.s.include(&name, angle, if_exists);
        self.nesting -= 1;
        r.map(|()| true)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.s.cur(), Some(' ' | '\t')) {
            self.s.bump();
        }
    }

    /// One statement at the top level or in a profile body.
    fn statement(&mut self, ctx: Ctx, profile: Option<&mut Profile>, outer: &Qualifiers) -> Result<(), Error> {
        if self.try_include()? {
            return Ok(());
        }
        let start = self.span();
        match self.s.cur() {
            Some('@') if ctx == Ctx::Top => {
                let m = self.s.mark();
                self.s.bump();
                let braced = self.s.cur() == Some('{');
                if braced {
                    self.s.bump();
                }
                let mut name = String::new();
                while let Some(c) = self.s.cur() {
                    if c == '}' || c.is_whitespace() || (!braced && matches!(c, '=' | '+' | '?' | ':')) {
                        break;
                    }
                    name.push(c);
                    self.s.bump();
                }
                if braced {
                    if self.s.cur() != Some('}') {
                        return self.err("unterminated @{ in a variable name");
                    }
                    self.s.bump();
                }
                self.skip_blanks();
                let op = if self.s.cur() == Some('=') {
                    Some('=')
                } else if matches!(self.s.cur(), Some('+' | '?' | ':')) && self.s.peek(1) == Some('=') {
                    self.s.cur()
                } else {
                    None
                };
                if let Some(op) = op {
                    return self.var_assign(name, op, start);
                }
                self.s.reset(m);
            }
            Some('$') => {
                if ctx != Ctx::Top {
                    return self.err("boolean assignment inside a profile");
                }
                return self.bool_assign();
            }
            _ => {}
        }
        if ctx == Ctx::Top {
            let m = self.s.mark();
            let kw = self.ident();
            match kw.as_str() {
                "abi" => return self.abi(),
                "alias" => return self.alias(),
                "if" => return self.conditional(ctx, None, outer),
                "profile" => {
                    let p = self.profile(true, false, start)?;
                    self.policy.profiles.push(p);
                    return Ok(());
                }
                // `hat NAME {…}` and `^NAME {…}` are accepted at the top level too (a profile
                // flagged as a hat, usually named `PARENT//HAT`)
                "hat" => {
                    let p = self.profile(true, true, start)?;
                    self.policy.profiles.push(p);
                    return Ok(());
                }
                _ => {}
            }
            self.s.reset(m);
            if self.at_path() || self.s.cur() == Some(':') {
                let p = self.profile(false, false, start)?;
                self.policy.profiles.push(p);
                return Ok(());
            }
            if self.s.cur() == Some('^') {
                self.s.bump();
                let p = self.profile(true, true, start)?;
                self.policy.profiles.push(p);
                return Ok(());
            }
            let w = self.word();
            return self.err(format!("syntax error, unexpected '{w}' outside of a profile"));
        }
        let Some(profile) = profile else { return self.err("internal: no profile") };
        self.body_item(profile, outer, start)
    }

    fn abi(&mut self) -> Result<(), Error> {
        self.skip_blanks();
        let name = match self.s.cur() {
            Some('<') => {
                self.s.bump();
                let mut n = String::new();
                loop {
                    match self.s.bump() {
                        Some('>') => break,
                        Some('\n') | None => return self.err("unterminated abi '<…>'"),
                        Some(c) => n.push(c),
                    }
                }
                // `<"path">` exactly, or `<path>` without quotes or tabs, trimmed of spaces
                let unq = n.strip_prefix('"').and_then(|x| x.strip_suffix('"'));
                match unq {
                    Some(u) => u.to_owned(),
                    None if n.contains(['"', '\t', '\r']) => {
                        return self.err("abi path: quotes must enclose the whole path, as <\"…\">");
                    }
                    None => n.trim_matches(' ').to_owned(),
                }
            }
            Some('"') => self.quoted()?,
            Some(_) => self.word(),
            None => return self.err("abi needs <path> or \"path\""),
        };
        if name.is_empty() {
            return self.err("empty abi path");
        }
        self.expect(',', "',' after abi")?;
        self.policy.abi.push(name);
        Ok(())
    }

    fn alias(&mut self) -> Result<(), Error> {
        self.s.skip_ws();
        let from = self.value(&|_| false)?;
        self.s.skip_ws();
        if !self.s.looking_at("->") {
            return self.err("alias needs '->'");
        }
        self.s.bump();
        self.s.bump();
        self.s.skip_ws();
        let to = self.value(&|_| false)?;
        if !from.starts_with('/') || !to.starts_with('/') {
            return self.err("alias paths must be absolute");
        }
        self.expect_comma()?;
        self.policy.aliases.push((from, to));
        Ok(())
    }

    fn var_assign(&mut self, name: String, op: char, start: Span) -> Result<(), Error> {
        if !valid_var_name(&name) {
            return Err(Error {
                file: start.file,
                pos: start.pos,
                message: format!("invalid variable name '@{{{name}}}'"),
            });
        }
        let add = op == '+';
        if op != '=' {
            self.s.bump();
        }
        self.s.bump();
        // values: words or quoted strings to the end of the line
        let mut values = Vec::new();
        loop {
            while matches!(self.s.cur(), Some(' ' | '\t')) {
                self.s.bump();
            }
            match self.s.cur() {
                None | Some('\n') => break,
                Some('#') => {
                    while !matches!(self.s.cur(), None | Some('\n')) {
                        self.s.bump();
                    }
                    break;
                }
                Some('"') => {
                    let v = self.quoted()?;
                    values.push(v);
                }
                Some(',') => return self.err(format!("unexpected ',' in the value of @{{{name}}}")),
                Some(_) => {
                    let v = self.word_with(&|c| c == '\n');
                    if v.is_empty() {
                        let c = self.s.cur().unwrap_or(' ');
                        return self.err(format!("unexpected character '{c}' in the value of @{{{name}}}"));
                    }
                    if v.ends_with(',') {
                        return self.err(format!("trailing ',' in the value of @{{{name}}}"));
                    }
                    values.push(v);
                }
            }
        }
        if values.is_empty() {
            return Err(Error { file: start.file, pos: start.pos, message: format!("@{{{name}}} has no value") });
        }
        if op != ':' && self.policy.booleans.contains_key(&name) {
            return Err(Error { file: start.file, pos: start.pos, message: format!("'{name}' is a boolean") });
        }
        if op == '?' && self.policy.variables.contains_key(&name) {
            return Ok(());
        }
        if op == ':' {
            // `:=` replaces whatever the name held (or defines it)
            self.policy.booleans.remove(&name);
            self.policy.variables.insert(name.clone(), values);
            self.var_pos.insert(name, start);
            return Ok(());
        }
        if add {
            match self.policy.variables.get_mut(&name) {
                Some(v) => v.extend(values),
                None => {
                    return Err(Error {
                        file: start.file,
                        pos: start.pos,
                        message: format!("adding to undefined variable '@{{{name}}}'"),
                    });
                }
            }
        } else {
            if self.policy.variables.contains_key(&name) {
                return Err(Error {
                    file: start.file,
                    pos: start.pos,
                    message: format!("redefinition of variable '@{{{name}}}'"),
                });
            }
            self.policy.variables.insert(name.clone(), values);
            self.var_pos.insert(name, start);
        }
        Ok(())
    }

    fn bool_assign(&mut self) -> Result<(), Error> {
        self.s.bump();
        let name = self.bool_name()?;
        self.skip_blanks();
        let cond = self.s.cur() == Some('?') && self.s.peek(1) == Some('=');
        let over = self.s.cur() == Some(':') && self.s.peek(1) == Some('=');
        if cond || over {
            self.s.bump();
        }
        if self.s.cur() != Some('=') {
            return self.err(format!("expected '=' after ${name}"));
        }
        self.s.bump();
        self.s.skip_ws();
        let v = self.word();
        let value = match v.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return self.err(format!("boolean ${name} must be true or false, not '{v}'")),
        };
        if over {
            // `:=` replaces whatever the name held (or defines it)
            self.policy.variables.remove(&name);
            self.policy.booleans.insert(name, value);
            return Ok(());
        }
        if self.policy.variables.contains_key(&name) {
            return self.err(format!("'{name}' is already a set variable"));
        }
        if self.policy.booleans.contains_key(&name) {
            if cond {
                return Ok(());
            }
            return self.err(format!("redefinition of boolean ${name}"));
        }
        self.policy.booleans.insert(name, value);
        Ok(())
    }

    /// After `$`: `NAME` or `{NAME}`.
    fn bool_name(&mut self) -> Result<String, Error> {
        let braced = self.s.cur() == Some('{');
        if braced {
            self.s.bump();
        }
        let name = self.ident();
        if braced {
            if self.s.cur() != Some('}') {
                return self.err("unterminated ${");
            }
            self.s.bump();
        }
        if !valid_var_name(&name) {
            return self.err(format!("invalid boolean name '${name}'"));
        }
        Ok(name)
    }

    /// `if COND { … } [else if COND { … }]* [else { … }]`, both branches parsed; the taken
    /// branch's content is kept.
    fn conditional(&mut self, ctx: Ctx, mut profile: Option<&mut Profile>, outer: &Qualifiers) -> Result<(), Error> {
        let mut taken_any = false;
        loop {
            let cond = self.cond_expr()?;
            let take = cond && !taken_any;
            taken_any |= cond;
            self.block(ctx, profile.as_deref_mut(), outer, take)?;
            // else?
            let m = self.s.mark();
            self.s.skip_ws();
            let m2 = self.s.mark();
            let kw = self.ident();
            if kw != "else" {
                self.s.reset(m2);
                let _ = m;
                return Ok(());
            }
            self.s.skip_ws();
            let m3 = self.s.mark();
            let kw2 = self.ident();
            if kw2 == "if" {
                continue;
            }
            self.s.reset(m3);
            let take = !taken_any;
            return self.block(ctx, profile.as_deref_mut(), outer, take);
        }
    }

    /// `{ statements }`; when `take` is false the statements are checked and dropped.
    fn block(&mut self, ctx: Ctx, profile: Option<&mut Profile>, outer: &Qualifiers, take: bool) -> Result<(), Error> {
        self.expect('{', "'{'")?;
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return self.err(format!("blocks nested deeper than {MAX_NESTING}"));
        }
        let saved_profiles = self.policy.profiles.len();
        let mut scratch =
            profile.as_ref().map(|p| Profile { rules: Vec::new(), children: Vec::new(), ..(**p).clone() });
        loop {
            self.s.skip_ws();
            match self.s.cur() {
                None => return self.err("unterminated '{' block (missing '}')"),
                Some('}') => {
                    self.s.bump();
                    break;
                }
                Some(_) => {
                    self.count()?;
                    self.statement(ctx, scratch.as_mut(), outer)?;
                }
            }
        }
        self.nesting -= 1;
        if let (Some(p), Some(sc)) = (profile, scratch) {
            if take {
                p.rules.extend(sc.rules);
                p.children.extend(sc.children);
            }
        } else if !take {
            self.policy.profiles.truncate(saved_profiles);
        }
        Ok(())
    }

    /// A condition: `[not] $bool`, `defined @{var}`, `defined $bool`, with `and`/`or` and
    /// parentheses.
    fn cond_expr(&mut self) -> Result<bool, Error> {
        let mut v = self.cond_and()?;
        loop {
            self.s.skip_ws();
            let m = self.s.mark();
            if self.ident() == "or" {
                let r = self.cond_and()?;
                v = v || r;
            } else {
                self.s.reset(m);
                return Ok(v);
            }
        }
    }

    fn cond_and(&mut self) -> Result<bool, Error> {
        let mut v = self.cond_atom()?;
        loop {
            self.s.skip_ws();
            let m = self.s.mark();
            if self.ident() == "and" {
                let r = self.cond_atom()?;
                v = v && r;
            } else {
                self.s.reset(m);
                return Ok(v);
            }
        }
    }

    fn cond_atom(&mut self) -> Result<bool, Error> {
        self.s.skip_ws();
        if self.s.cur() == Some('(') {
            self.s.bump();
            let v = self.cond_expr()?;
            self.expect(')', "')'")?;
            return Ok(v);
        }
        let m = self.s.mark();
        let kw = self.ident();
        match kw.as_str() {
            "true" => return Ok(true),
            "false" => return Ok(false),
            "not" => return self.cond_atom().map(|v| !v),
            "defined" => {
                self.s.skip_ws();
                return match self.s.cur() {
                    Some('@') => {
                        let name = self.var_ref()?;
                        Ok(self.policy.variables.contains_key(&name))
                    }
                    Some('$') => {
                        self.s.bump();
                        let name = self.bool_name()?;
                        Ok(self.policy.booleans.contains_key(&name))
                    }
                    _ => self.err("'defined' needs @{var} or $bool"),
                };
            }
            _ => self.s.reset(m),
        }
        match self.s.cur() {
            Some('$') => {
                self.s.bump();
                let name = self.bool_name()?;
                match self.policy.booleans.get(&name) {
                    Some(v) => Ok(*v),
                    None if self.policy.variables.contains_key(&name) => {
                        self.err(format!("${name} is a set variable, not a boolean"))
                    }
                    None => self.err(format!("unknown boolean ${name}")),
                }
            }
            Some(_) => self.comparison(),
            None => self.err("unexpected end of file in a condition"),
        }
    }

    /// A comparison operand: `@{VAR}`, a number, a path or a quoted string; its values.
    fn operand(&mut self) -> Result<Vec<String>, Error> {
        self.s.skip_ws();
        match self.s.cur() {
            Some('@') => {
                let name = self.var_ref()?;
                match self.policy.variables.get(&name) {
                    Some(v) => {
                        let vars = self.policy.variables.clone();
                        v.clone()
                            .iter()
                            .map(|x| vars::expand(x, &vars, &[]))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|m| self.s.error(m))
                    }
                    None => self.err(format!("Found reference to variable {name}, but is never declared")),
                }
            }
            Some('"') => Ok(vec![self.quoted()?]),
            Some(_) => {
                let w = self.word_with(&|c| c == '{');
                if w.is_empty() {
                    return self.err("syntax error in a comparison");
                }
                Ok(vec![w])
            }
            None => self.err("unexpected end of file in a condition"),
        }
    }

    /// `A OP B` with OP one of `== != < <= > >= in`.
    fn comparison(&mut self) -> Result<bool, Error> {
        let a = self.operand()?;
        self.s.skip_ws();
        let op: String = if self.s.looking_at("in") && self.s.peek(2).is_some_and(char::is_whitespace) {
            "in".into()
        } else {
            let mut op = String::new();
            while let Some(c) = self.s.cur() {
                if matches!(c, '=' | '!' | '<' | '>') && op.len() < 2 {
                    op.push(c);
                    self.s.bump();
                } else {
                    break;
                }
            }
            op
        };
        if op == "in" {
            self.s.bump();
            self.s.bump();
        }
        if !matches!(op.as_str(), "==" | "!=" | "<" | "<=" | ">" | ">=" | "in") {
            return self.err(format!("expected a comparison operator, found '{op}'"));
        }
        let b = self.operand()?;
        let number = |v: &[String]| match v {
            [one] => one.parse::<i64>().ok().filter(|_| one.chars().all(|c| c.is_ascii_digit())),
            _ => None,
        };
        let (na, nb) = (number(&a), number(&b));
        let sa: BTreeSet<&String> = a.iter().collect();
        let sb: BTreeSet<&String> = b.iter().collect();
        Ok(match op.as_str() {
            "==" => sa == sb,
            "!=" => sa != sb,
            "in" => sa.is_subset(&sb),
            _ => {
                let ord = match (na, nb) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (None, None) => {
                        if sa == sb {
                            std::cmp::Ordering::Equal
                        } else if sa.is_subset(&sb) {
                            std::cmp::Ordering::Less
                        } else if sa.is_superset(&sb) {
                            std::cmp::Ordering::Greater
                        } else {
                            return Ok(false);
                        }
                    }
                    _ => return self.err(format!("'{op}' compares a number with something that is not a number")),
                };
                match op.as_str() {
                    "<" => ord.is_lt(),
                    "<=" => ord.is_le(),
                    ">" => ord.is_gt(),
                    _ => ord.is_ge(),
                }
            }
        })
    }

    fn var_ref(&mut self) -> Result<String, Error> {
        if self.s.cur() != Some('@') {
            return self.err("expected @{var}");
        }
        self.s.bump();
        let braced = self.s.cur() == Some('{');
        if braced {
            self.s.bump();
        }
        let name = self.ident();
        if braced {
            if self.s.cur() != Some('}') {
                return self.err("unterminated @{var}");
            }
            self.s.bump();
        }
        Ok(name)
    }

    // ---------------------------------------------------------------- profiles

    /// A profile header and body. `keyword`: written with `profile` (or `hat`).
    fn profile(&mut self, keyword: bool, hat: bool, start: Span) -> Result<Profile, Error> {
        self.s.skip_ws();
        if self.s.cur() == Some('{') {
            return self.err("profile without a name");
        }
        let raw = self.value(&|_| false)?;
        if raw.is_empty() {
            return self.err("profile without a name");
        }
        let (namespace, name) = split_namespace(&raw).map_err(|m| self.s.error(m))?;
        if name.is_empty() {
            return self.err("profile without a name");
        }
        // without a keyword, the name as written (before variables expand) must be a path
        if !keyword && namespace.is_none() && !name.starts_with('/') {
            return Err(Error {
                file: start.file,
                pos: start.pos,
                message: format!("profile '{name}' needs the 'profile' keyword (its name is not a path)"),
            });
        }
        let mut attachment = (name.starts_with('/') || name.starts_with('@')).then(|| name.clone());
        let mut p = Profile {
            name,
            namespace,
            attachment: None,
            hat,
            mode: Mode::Enforce,
            flags: Vec::new(),
            xattrs: Vec::new(),
            rules: Vec::new(),
            children: Vec::new(),
            span: start,
        };
        self.s.skip_ws();
        if self.at_path() {
            let a = self.value(&|_| false)?;
            if a.is_empty() {
                return self.err("empty attachment");
            }
            attachment = Some(a);
        }
        // upstream's order: `xattrs=(…)`, then `+ identities=(…)`…, then `flags=(…)`, each at most once
        let mut stage = 0u8;
        loop {
            self.s.skip_ws();
            if self.at_key_eq("xattrs") {
                if stage >= 1 {
                    return self.err("xattrs=(…) must come before identities and flags, once");
                }
                if hat {
                    return self.err("hat profiles can't use xattrs matches");
                }
                stage = 1;
                self.eat_key_eq("xattrs");
                p.xattrs = self.xattrs()?;
            } else if self.at_key_eq("flags") || self.s.cur() == Some('(') {
                if stage >= 3 {
                    return self.err("flags given twice");
                }
                stage = 3;
                if self.s.cur() != Some('(') {
                    self.eat_key_eq("flags");
                }
                let flags = if self.s.cur() == Some('(') {
                    self.paren_list()?
                } else {
                    return self.err("flags need parentheses");
                };
                p.mode = check_flags(&flags, &self.policy.variables).map_err(|m| self.s.error(m))?;
                p.flags = flags;
            } else if self.s.cur() == Some('+') {
                // `+ identities=(…)`
                if stage >= 3 {
                    return self.err("identities must come before flags");
                }
                stage = 2;
                self.s.bump();
                self.s.skip_ws();
                if !self.at_key_eq("identities") {
                    return self.err("expected 'identities=' after '+'");
                }
                self.eat_key_eq("identities");
                let ids = self.paren_list()?;
                if ids.is_empty() {
                    return self.err("empty identities=()");
                }
                if let Some(id) = ids.iter().find(|id| !id.starts_with('/') && id.contains(' ')) {
                    return self.err(format!("Space character not allowed in identities: '{id}'"));
                }
            } else {
                break;
            }
        }
        if !hat {
            p.attachment = attachment;
        }
        self.expect('{', "'{' to open the profile")?;
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return self.err(format!("profiles nested deeper than {MAX_NESTING}"));
        }
        loop {
            self.s.skip_ws();
            match self.s.cur() {
                None => return self.err(format!("profile '{}' is not closed (missing '}}')", p.name)),
                Some('}') => {
                    if self.nesting == 1 && !hat && p.name.starts_with('/') {
                        let (file, pos) = self.s.here();
                        self.policy.warnings.push(crate::error::Warning {
                            file,
                            pos,
                            message: "The use of file paths as profile names is deprecated. See man apparmor.d for more information".into(),
                        });
                    }
                    self.s.bump();
                    break;
                }
                Some(_) => {
                    self.count()?;
                    let q = Qualifiers::default();
                    self.statement(Ctx::Profile, Some(&mut p), &q)?;
                }
            }
        }
        self.nesting -= 1;
        Ok(p)
    }

    fn xattrs(&mut self) -> Result<Vec<(String, Option<String>)>, Error> {
        self.expect('(', "'(' after xattrs=")?;
        let mut out = Vec::new();
        loop {
            self.s.skip_ws();
            match self.s.cur() {
                Some(')') => {
                    self.s.bump();
                    break;
                }
                Some(',') => {
                    self.s.bump();
                }
                None => return self.err("unterminated xattrs=("),
                Some(_) => {
                    let key = self.word_with(&|c| matches!(c, '=' | ')' | '('));
                    if key.is_empty() {
                        return self.err("bad xattrs entry");
                    }
                    let mut val = None;
                    if self.s.cur() == Some('=') {
                        self.s.bump();
                        val = Some(self.value(&|c| matches!(c, ')' | '('))?);
                    }
                    out.push((key, val));
                }
            }
        }
        if out.is_empty() {
            return self.err("empty xattrs=()");
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- rules

    fn body_item(&mut self, profile: &mut Profile, outer: &Qualifiers, start: Span) -> Result<(), Error> {
        if self.s.cur() == Some('^') {
            if *outer != Qualifiers::default() {
                return self.err("qualifiers in front of a hat");
            }
            self.s.bump();
            let child = self.profile(true, true, start)?;
            push_child(profile, child).map_err(|m| self.s.error(m))?;
            return Ok(());
        }
        let q = self.qualifiers(outer)?;
        self.s.skip_ws();
        let start = if q == *outer { start } else { self.span() };
        if self.s.cur() == Some('{') && q != *outer {
            // `owner { … }`, `audit { … }`, `deny { … }`
            self.s.bump();
            self.nesting += 1;
            if self.nesting > MAX_NESTING {
                return self.err(format!("blocks nested deeper than {MAX_NESTING}"));
            }
            loop {
                self.s.skip_ws();
                match self.s.cur() {
                    None => return self.err("unterminated qualifier block (missing '}')"),
                    Some('}') => {
                        self.s.bump();
                        break;
                    }
                    Some(_) => {
                        self.count()?;
                        if self.try_include()? {
                            continue;
                        }
                        let st = self.span();
                        self.rule(profile, &q, st)?;
                    }
                }
            }
            self.nesting -= 1;
            return Ok(());
        }
        let m = self.s.mark();
        let kw = self.ident();
        let after = self.s.cur();
        let kw_ok = after.is_none_or(|c| c.is_whitespace() || matches!(c, ',' | '(' | '{' | '-' | '<' | '='));
        if q == *outer && kw_ok {
            match kw.as_str() {
                "profile" => {
                    let child = self.profile(true, false, start)?;
                    push_child(profile, child).map_err(|m| self.s.error(m))?;
                    return Ok(());
                }
                "hat" => {
                    let child = self.profile(true, true, start)?;
                    push_child(profile, child).map_err(|m| self.s.error(m))?;
                    return Ok(());
                }
                "if" => return self.conditional(Ctx::Profile, Some(profile), outer),
                "abi" => return self.abi(),
                "alias" => return self.err("'alias' is only allowed in the preamble"),
                _ => {}
            }
        }
        self.s.reset(m);
        self.rule(profile, &q, start)
    }

    /// `[priority=N] [audit] [allow|deny] [owner|other]`, in this order.
    fn qualifiers(&mut self, outer: &Qualifiers) -> Result<Qualifiers, Error> {
        let mut q = outer.clone();
        let mut stage = 0u8; // 1 priority, 2 audit, 3 access, 4 owner
        loop {
            self.s.skip_ws();
            if self.at_key_eq("priority") {
                if stage >= 1 {
                    return self.err("priority must come first");
                }
                self.eat_key_eq("priority");
                let w = self.word();
                let n: i32 = w.parse().map_err(|_| self.s.error(format!("invalid priority '{w}'")))?;
                if !(-1000..=1000).contains(&n) {
                    return self.err(format!("priority {n} is out of range (-1000 to 1000)"));
                }
                q.priority = Some(n);
                stage = 1;
                continue;
            }
            let m = self.s.mark();
            let kw = self.ident();
            let next = self.s.cur();
            if !next.is_none_or(|c| c.is_whitespace() || c == '{' || c == ',') {
                self.s.reset(m);
                return Ok(q);
            }
            match kw.as_str() {
                "audit" => {
                    if stage >= 2 {
                        return self.err("'audit' must come before allow/deny/owner");
                    }
                    q.audit = true;
                    stage = 2;
                }
                "allow" | "deny" => {
                    if stage >= 3 {
                        return self.err(format!("'{kw}' is out of order (audit, allow/deny, owner)"));
                    }
                    q.access = if kw == "deny" { Access::Deny } else { Access::Allow };
                    q.explicit_allow = kw == "allow";
                    stage = 3;
                }
                "owner" | "other" => {
                    if stage >= 4 {
                        return self.err(format!("'{kw}' given twice"));
                    }
                    q.owner = kw == "owner";
                    stage = 4;
                }
                _ => {
                    self.s.reset(m);
                    return Ok(q);
                }
            }
        }
    }

    fn push_rule(profile: &mut Profile, q: &Qualifiers, kind: RuleKind, span: Span) {
        profile.rules.push(Rule { q: q.clone(), kind, span });
    }

    fn rule(&mut self, profile: &mut Profile, q: &Qualifiers, start: Span) -> Result<(), Error> {
        self.s.skip_ws();
        if self.at_path() {
            return self.file_rule(profile, q, start, false);
        }
        let m = self.s.mark();
        let kw = self.ident();
        let after = self.s.cur();
        let is_kw = after.is_none_or(|c| c.is_whitespace() || matches!(c, ',' | '(' | '<'));
        if !is_kw {
            self.s.reset(m);
            return self.file_rule(profile, q, start, false);
        }
        let no_owner = |p: &Self, what: &str| -> Result<(), Error> {
            if q.owner { p.err(format!("'owner' is not allowed on {what} rules")) } else { Ok(()) }
        };
        match kw.as_str() {
            "capability" => {
                no_owner(self, "capability")?;
                let mut caps = Vec::new();
                loop {
                    self.s.skip_ws();
                    if self.s.cur() == Some(',') {
                        self.s.bump();
                        break;
                    }
                    let w = self.word();
                    if w.is_empty() {
                        return self.err("syntax error in capability rule");
                    }
                    if !names::CAPABILITIES.contains(&w.as_str()) {
                        return self.err(format!("Invalid capability {w}."));
                    }
                    caps.push(w);
                }
                Self::push_rule(profile, q, RuleKind::Capability(caps), start);
            }
            "network" => {
                no_owner(self, "network")?;
                let kind = self.network()?;
                Self::push_rule(profile, q, kind, start);
            }
            "mount" | "remount" | "umount" | "unmount" | "pivot_root" => {
                no_owner(self, "mount")?;
                let kind = self.mount(&kw)?;
                Self::push_rule(profile, q, kind, start);
            }
            "signal" | "ptrace" | "unix" | "dbus" | "mqueue" | "io_uring" | "userns" => {
                no_owner(self, &kw)?;
                let kind = self.mediated(&kw, q)?;
                Self::push_rule(profile, q, kind, start);
            }
            "change_profile" => {
                no_owner(self, "change_profile")?;
                let kind = self.change_profile()?;
                Self::push_rule(profile, q, kind, start);
            }
            "change_hat" => {
                return self.err("change_hat is not a rule (hats are declared with ^name { })");
            }
            "set" => {
                no_owner(self, "rlimit")?;
                if q.audit || q.access == Access::Deny {
                    return self.err("rlimit rules take no audit/deny");
                }
                let kind = self.rlimit()?;
                Self::push_rule(profile, q, kind, start);
            }
            "all" => {
                no_owner(self, "all")?;
                self.expect_comma()?;
                Self::push_rule(profile, q, RuleKind::All, start);
            }
            "link" => {
                self.s.skip_ws();
                let mut subset = false;
                let m2 = self.s.mark();
                if self.ident() == "subset" {
                    subset = true;
                } else {
                    self.s.reset(m2);
                }
                self.s.skip_ws();
                let from = self.value(&|_| false)?;
                if from.is_empty() {
                    return self.err("link rule needs a path");
                }
                self.s.skip_ws();
                if !self.s.looking_at("->") {
                    return self.err("link rule needs '->'");
                }
                self.s.bump();
                self.s.bump();
                self.s.skip_ws();
                let to = self.value(&|_| false)?;
                if to.is_empty() {
                    return self.err("link rule needs a target");
                }
                check_path(&from).map_err(|m| self.s.error(m))?;
                check_path(&to).map_err(|m| self.s.error(m))?;
                self.expect_comma()?;
                Self::push_rule(profile, q, RuleKind::Link { subset, from, to }, start);
            }
            "file" => {
                self.s.skip_ws();
                if self.s.cur() == Some(',') {
                    self.s.bump();
                    Self::push_rule(
                        profile,
                        q,
                        RuleKind::File { path: None, perms: FilePerms::default(), target: None, exec_cond: None },
                        start,
                    );
                    return Ok(());
                }
                return self.file_rule(profile, q, start, true);
            }
            _ => {
                self.s.reset(m);
                return self.file_rule(profile, q, start, false);
            }
        }
        Ok(())
    }

    /// `PATH PERMS [-> TARGET],` or `[safe|unsafe] PERMS PATH [-> TARGET],`.
    fn file_rule(&mut self, profile: &mut Profile, q: &Qualifiers, start: Span, _kw: bool) -> Result<(), Error> {
        self.s.skip_ws();
        let (path, perms_text, exec_cond);
        let leading = !self.at_path();
        if !leading {
            path = self.rule_path()?;
            self.s.skip_ws();
            if self.s.cur() == Some(',') {
                return self.err(format!("file rule '{path}' has no permissions"));
            }
            let m = self.s.mark();
            let w = self.word();
            if w == "owner" || w == "audit" || w == "deny" || w == "allow" {
                self.s.reset(m);
                return self.err(format!("'{w}' must come before the path"));
            }
            if !w.is_empty() && !w.chars().all(|c| "rwalkmxiuUpPcCIRWALMX".contains(c)) {
                return self.err("syntax error, unexpected TOK_ID, expecting TOK_MODE");
            }
            perms_text = w;
            exec_cond = None;
        } else {
            let mut w = self.word();
            let mut ec = None;
            if w == "safe" || w == "unsafe" {
                ec = Some(w);
                self.s.skip_ws();
                if self.at_path() {
                    // `safe PATH PERMS`
                    let path = self.rule_path()?;
                    self.s.skip_ws();
                    let perms_text = self.word();
                    let written = Written { perms: &perms_text, exec_cond: ec, leading: false };
                    return self.file_rule_rest(profile, q, start, path, written);
                }
                w = self.word();
            }
            if w.is_empty() {
                let c = self.s.cur().map_or_else(|| "end of file".to_owned(), |c| format!("'{c}'"));
                return self.err(format!("syntax error, unexpected {c}"));
            }
            if matches!(w.as_str(), "owner" | "audit" | "deny" | "allow" | "priority") || w.starts_with("priority=") {
                return self.err(format!("'{w}' is out of place"));
            }
            if !w.chars().all(|c| "rwalkmxiuUpPcCIRWALMX".contains(c)) {
                return self.err(format!("syntax error, unexpected '{w}'"));
            }
            perms_text = w;
            exec_cond = ec;
            self.s.skip_ws();
            if !self.at_path() {
                return self.err("a path must follow the permissions");
            }
            path = self.rule_path()?;
        }
        self.file_rule_rest(profile, q, start, path, Written { perms: &perms_text, exec_cond, leading })
    }

    /// A file rule's path. Unquoted, `@{VAR}` followed by `=`, `+` or `?` is a variable and an
    /// assignment operator to the upstream lexer, never a path: such a rule is refused.
    fn rule_path(&mut self) -> Result<String, Error> {
        let quoted = self.s.cur() == Some('"');
        let path = self.value(&|_| false)?;
        if !quoted && let Some(c) = assignment_after_variable(&path) {
            return self.err(format!(
                "syntax error: '{c}' right after the variable in '{path}' (an assignment inside a profile?)"
            ));
        }
        Ok(path)
    }

    fn file_rule_rest(
        &mut self,
        profile: &mut Profile,
        q: &Qualifiers,
        start: Span,
        path: String,
        written: Written<'_>,
    ) -> Result<(), Error> {
        let Written { perms: perms_text, exec_cond, leading } = written;
        let deny = q.access == Access::Deny;
        if path.is_empty() {
            return self.err("empty path");
        }
        let perms = parse_perms(perms_text, deny).map_err(|m| self.s.error(m))?;
        if let (Some(c), Some(x)) = (&exec_cond, &perms.exec) {
            let _ = (c, x);
        } else if exec_cond.is_some() {
            return self.err("'safe'/'unsafe' needs an exec permission");
        }
        self.s.skip_ws();
        let mut target = None;
        if self.s.looking_at("->") {
            self.s.bump();
            self.s.bump();
            self.s.skip_ws();
            let t = self.value(&|_| false)?;
            if t.is_empty() {
                return self.err("'->' needs a target");
            }
            let ok = perms.exec.as_deref().is_some_and(|x| x.contains(['p', 'P', 'c', 'C']));
            if !ok && !perms.link {
                return self.err("a transition target needs px, cx (or their variants)");
            }
            // `l` with an exec transition: written after the path, `->` names the exec
            // target (upstream warns); written before it, the rule is refused
            if leading && perms.link && perms.exec.is_some() {
                return self.err("link and exec perms conflict on a file rule using ->");
            }
            target = Some(t);
        }
        check_path(&path).map_err(|m| self.s.error(m))?;
        self.expect_comma()?;
        Self::push_rule(profile, q, RuleKind::File { path: Some(path), perms, target, exec_cond }, start);
        Ok(())
    }

    /// Conditions `key=v`, `key=(v…)`, `key in (v…)`, `peer=(…)` and plain words, up to `,`.
    #[allow(clippy::type_complexity)]
    fn items(&mut self) -> Result<(Vec<String>, Vec<Cond>, Vec<(String, crate::ast::Span)>), Error> {
        let mut words = Vec::new();
        let mut conds = Vec::new();
        let mut word_spans = Vec::new();
        loop {
            self.s.skip_ws();
            match self.s.cur() {
                Some(',') => {
                    self.s.bump();
                    return Ok((words, conds, word_spans));
                }
                None => return self.err("syntax error, missing ',' at the end of the rule"),
                Some('(') => {
                    let list = self.paren_list()?;
                    words.push(format!("({})", list.join(" ")));
                }
                Some(_) => {
                    if self.s.looking_at("->") {
                        self.s.bump();
                        self.s.bump();
                        words.push("->".into());
                        continue;
                    }
                    let m = self.s.mark();
                    let key = self.ident();
                    if !key.is_empty() {
                        let m2 = self.s.mark();
                        self.skip_blanks();
                        let set = self.s.cur() == Some(':') && self.s.peek(1) == Some('=');
                        if set || self.s.cur() == Some('=') {
                            if set {
                                self.s.bump();
                            }
                            self.s.bump();
                            self.skip_blanks();
                            let mut c = self.cond_value(key)?;
                            c.set = set;
                            conds.push(c);
                            continue;
                        }
                        self.s.reset(m2);
                        if matches!(self.s.cur(), Some(' ' | '\t')) {
                            self.skip_blanks();
                            if self.s.looking_at("in") && matches!(self.s.peek(2), Some(' ' | '\t' | '(')) {
                                self.s.bump();
                                self.s.bump();
                                self.skip_blanks();
                                let values = self.paren_list()?;
                                conds.push(Cond { key, values, is_in: true, set: false, nested: Vec::new() });
                                continue;
                            }
                        }
                    }
                    self.s.reset(m);
                    let sp = self.span();
                    let quoted = self.s.cur() == Some('"');
                    let w = self.value(&|c| matches!(c, '(' | ')'))?;
                    if w.is_empty() && !quoted {
                        let c = self.s.cur().unwrap_or(' ');
                        return self.err(format!("unexpected character '{c}'"));
                    }
                    words.push(w.clone());
                    word_spans.push((w, sp));
                }
            }
        }
    }

    fn cond_value(&mut self, key: String) -> Result<Cond, Error> {
        if self.s.cur() == Some('(') {
            if key == "peer" {
                self.s.bump();
                let mut nested = Vec::new();
                loop {
                    self.s.skip_ws();
                    match self.s.cur() {
                        Some(')') => {
                            self.s.bump();
                            break;
                        }
                        Some(',') => {
                            self.s.bump();
                        }
                        None => return self.err("unterminated peer=("),
                        Some(_) => {
                            let k = self.ident();
                            self.skip_blanks();
                            let set = self.s.cur() == Some(':') && self.s.peek(1) == Some('=');
                            if set {
                                self.s.bump();
                            }
                            if k.is_empty() || self.s.cur() != Some('=') {
                                return self.err("peer=( ) holds key=value conditions");
                            }
                            self.s.bump();
                            self.skip_blanks();
                            if self.s.cur() == Some('(') {
                                let values = self.paren_list()?;
                                nested.push(Cond { key: k, values, is_in: false, set, nested: Vec::new() });
                            } else {
                                let v = self.value(&|c| matches!(c, '(' | ')'))?;
                                if v.is_empty() {
                                    return self.err(format!("{k}= needs a value"));
                                }
                                nested.push(Cond { key: k, values: vec![v], is_in: false, set, nested: Vec::new() });
                            }
                        }
                    }
                }
                return Ok(Cond { key, values: Vec::new(), is_in: false, set: false, nested });
            }
            let values = self.paren_list()?;
            return Ok(Cond { key, values, is_in: false, set: false, nested: Vec::new() });
        }
        let v = self.value(&|c| matches!(c, '(' | ')'))?;
        if v.is_empty() {
            return self.err(format!("{key}= needs a value"));
        }
        Ok(Cond { key, values: vec![v], is_in: false, set: false, nested: Vec::new() })
    }

    fn network(&mut self) -> Result<RuleKind, Error> {
        let (words, conds, _) = self.items()?;
        crate::check::network(words, conds).map_err(|m| self.s.error(m))
    }

    fn mount(&mut self, op: &str) -> Result<RuleKind, Error> {
        let (words, conds, _) = self.items()?;
        crate::check::mount(op, words, conds).map_err(|m| self.s.error(m))
    }

    fn mediated(&mut self, class: &str, q: &Qualifiers) -> Result<RuleKind, Error> {
        let (words, conds, _) = self.items()?;
        crate::check::mediated(class, words, conds, q).map_err(|m| self.s.error(m))
    }

    fn change_profile(&mut self) -> Result<RuleKind, Error> {
        let (words, conds, _) = self.items()?;
        if !conds.is_empty() {
            return self.err("change_profile takes no conditions");
        }
        let mut it = words.into_iter().peekable();
        let mut exec_mode = None;
        if it.peek().is_some_and(|w| w == "safe" || w == "unsafe") {
            exec_mode = it.next();
        }
        let mut exec = None;
        if it.peek().is_some_and(|w| w != "->") {
            exec = it.next();
        }
        let mut target = None;
        if it.peek().is_some_and(|w| w == "->") {
            it.next();
            target = it.next();
            if target.is_none() {
                return self.err("'->' needs a profile name");
            }
        }
        if let Some(w) = it.next() {
            return self.err(format!("unexpected '{w}' in change_profile rule"));
        }
        if exec_mode.is_some() && exec.is_none() {
            return self.err("change_profile 'safe'/'unsafe' needs an exec condition");
        }
        if let Some(e) = &exec {
            if !(e.starts_with('/') || e.starts_with('@')) {
                return self.err(format!("change_profile exec condition '{e}' must be a path"));
            }
            check_path(e).map_err(|m| self.s.error(m))?;
        }
        Ok(RuleKind::ChangeProfile { exec_mode, exec, target })
    }

    fn rlimit(&mut self) -> Result<RuleKind, Error> {
        self.s.skip_ws();
        if self.ident() != "rlimit" {
            return self.err("expected 'set rlimit'");
        }
        self.s.skip_ws();
        let resource = self.ident();
        self.s.skip_ws();
        if !self.s.looking_at("<=") {
            return self.err("rlimit needs '<='");
        }
        self.s.bump();
        self.s.bump();
        self.s.skip_ws();
        let value = self.word();
        crate::check::rlimit(&resource, &value).map_err(|m| self.s.error(m))?;
        self.expect_comma()?;
        Ok(RuleKind::Rlimit { resource, value })
    }
}

/// A variable or boolean name: a letter, then letters, digits and `_`.
fn valid_var_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn push_child(parent: &mut Profile, child: Profile) -> Result<(), String> {
    if parent.children.iter().any(|c| c.name == child.name && c.namespace == child.namespace) {
        return Err(format!("'{}' is defined twice in profile '{}'", child.name, parent.name));
    }
    parent.children.push(child);
    Ok(())
}

/// `:ns:name`, `:ns://name` → (Some(ns), name).
fn split_namespace(raw: &str) -> Result<(Option<String>, String), String> {
    let Some(rest) = raw.strip_prefix(':') else { return Ok((None, raw.to_owned())) };
    let Some(end) = rest.find(':') else { return Err(format!("namespace in '{raw}' has no closing ':'")) };
    let ns = rest.get(..end).unwrap_or_default();
    let mut name = rest.get(end + 1..).unwrap_or_default();
    if let Some(n) = name.strip_prefix("//") {
        name = n;
    }
    if ns.is_empty() {
        return Err(format!("empty namespace in '{raw}'"));
    }
    Ok((Some(ns.to_owned()), name.to_owned()))
}

/// Checks the profile flags; returns the mode.
fn check_flags(flags: &[String], vars: &BTreeMap<String, Vec<String>>) -> Result<Mode, String> {
    if flags.is_empty() {
        return Err("empty flags=()".into());
    }
    let mut mode: Option<Mode> = None;
    let mut seen = BTreeSet::new();
    // flags with a value: the same flag may repeat only with the same value
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for f in flags {
        let (key, val) = match f.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (f.as_str(), None),
        };
        let m = match key {
            "enforce" => Some(Mode::Enforce),
            "complain" => Some(Mode::Complain),
            "kill" => Some(Mode::Kill),
            "unconfined" => Some(Mode::Unconfined),
            "prompt" => Some(Mode::Prompt),
            "default_allow" => Some(Mode::DefaultAllow),
            _ => None,
        };
        if let Some(m) = m {
            if val.is_some() {
                return Err(format!("flag '{f}' takes no value"));
            }
            if let Some(old) = mode
                && old != m
            {
                return Err(format!("conflicting profile mode flags '{}' and '{}'", old.as_str(), m.as_str()));
            }
            mode = Some(m);
            continue;
        }
        match key {
            "audit"
            | "mediate_deleted"
            | "delegate_deleted"
            | "attach_disconnected"
            | "no_attach_disconnected"
            | "chroot_relative"
            | "namespace_relative"
            | "chroot_attach"
            | "chroot_no_attach"
            | "interruptible"
            | "debug" => {
                if val.is_some() {
                    return Err(format!("flag '{f}' takes no value"));
                }
            }
            "attach_disconnected.path" if val.is_none() => return Err(format!("Invalid profile flag: {f}.")),
            "attach_disconnected.path" | "attach_disconnected.ipc" => {
                if let Some(v) = val {
                    if let Some(old) = values.insert(key.to_owned(), v.to_owned())
                        && old != v
                    {
                        return Err(format!("Profile flag {key} set to conflicting values: '{old}' and '{v}'"));
                    }
                    let e = vars::expand(v, vars, &[])?;
                    if !e.starts_with('/') || (v.starts_with("@{") && e.ends_with('/') && !v.ends_with('/')) {
                        return Err(format!("{key} must be an absolute path, not '{v}'"));
                    }
                }
            }
            "error" => {
                let v = val.unwrap_or_default();
                if !names::ERRNOS.contains(&v) {
                    return Err(format!("unknown error code '{v}' in flags"));
                }
                if let Some(old) = values.insert(key.to_owned(), v.to_owned())
                    && old != v
                {
                    return Err(format!("Profile flag error set to conflicting values: '{old}' and '{v}'"));
                }
            }
            "kill.signal" => {
                let v = val.unwrap_or_default();
                let Some(n) = names::signal_number(v) else {
                    return Err(format!("unknown signal '{v}' in flags"));
                };
                if let Some(old) = values.insert(key.to_owned(), n.to_string())
                    && old != n.to_string()
                {
                    return Err(format!("Profile flag kill.signal set to conflicting values: '{old}' and '{n}'"));
                }
            }
            _ => return Err(format!("Invalid profile flag: {f}.")),
        }
        // `attach_disconnected.path=` attaches disconnected paths as `attach_disconnected` does
        seen.insert(if key == "attach_disconnected.path" { "attach_disconnected" } else { key }.to_owned());
    }
    for (a, b) in [
        ("chroot_relative", "namespace_relative"),
        ("mediate_deleted", "delegate_deleted"),
        ("attach_disconnected", "no_attach_disconnected"),
        ("attach_disconnected.ipc", "no_attach_disconnected"),
        ("chroot_attach", "chroot_no_attach"),
    ] {
        if seen.contains(a) && seen.contains(b) {
            return Err(format!("conflicting flags '{a}' and '{b}'"));
        }
    }
    Ok(mode.unwrap_or_default())
}

/// File permissions: `r w a l k m`, exec modes (`ix px Px cx Cx ux Ux pix Pix cix Cix pux PUx
/// cux CUx`; plain `x` only in deny rules). The same exec mode may repeat; different ones
/// conflict. Upper-case `R W A L K M X` are the old spellings of the lower-case ones.
pub fn parse_perms(text: &str, deny: bool) -> Result<FilePerms, String> {
    let mut p = FilePerms::default();
    let mut modifier = String::new();
    if text.is_empty() {
        return Err("missing permissions".into());
    }
    for c in text.chars() {
        if !modifier.is_empty() && !matches!(c, 'i' | 'I' | 'u' | 'U' | 'p' | 'P' | 'c' | 'C' | 'x' | 'X') {
            return Err(format!("exec qualifier '{modifier}' must be followed by 'x' in '{text}'"));
        }
        match c {
            'r' | 'R' => p.read = true,
            'w' | 'W' => p.write = true,
            'a' | 'A' => p.append = true,
            'l' | 'L' => p.link = true,
            'k' => p.lock = true,
            'm' | 'M' => p.mmap_exec = true,
            'i' | 'I' | 'u' | 'U' | 'p' | 'P' | 'c' | 'C' => modifier.push(c),
            'x' | 'X' => {
                let m: Vec<char> = modifier.chars().collect();
                let ok = matches!(
                    m.as_slice(),
                    [] | ['i' | 'u' | 'U' | 'p' | 'P' | 'c' | 'C'] | ['p' | 'P' | 'c' | 'C', 'i' | 'I' | 'u' | 'U']
                );
                if !ok {
                    return Err(format!("invalid exec mode '{modifier}x' in '{text}'"));
                }
                if deny && !modifier.is_empty() {
                    return Err(format!("deny rules take a plain 'x', not '{modifier}x'"));
                }
                if !deny && modifier.is_empty() {
                    return Err("'x' must be preceded by an exec qualifier 'i', 'p', 'c' or 'u'".into());
                }
                let mode = format!("{modifier}x");
                if p.exec.as_ref().is_some_and(|old| *old != mode) {
                    return Err(format!("conflicting exec modes in '{text}'"));
                }
                p.exec = Some(mode);
                modifier.clear();
            }
            _ => return Err(format!("invalid permission '{c}' in '{text}'")),
        }
    }
    if !modifier.is_empty() {
        return Err(format!("exec qualifier '{modifier}' without 'x' in '{text}'"));
    }
    if p.write && p.append {
        return Err("conflicting permissions: 'w' and 'a' are mutually exclusive".into());
    }
    Ok(p)
}

/// A path as written (before variable expansion) must be absolute or start with a variable;
/// the pattern syntax is checked after expansion.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.starts_with('/') || path.starts_with('@') {
        Ok(())
    } else {
        Err(format!("'{path}' is not an absolute path"))
    }
}

/// A file rule's permissions as written: the text, `safe`/`unsafe`, and whether they come
/// before the path (`r /x,`) or after it (`/x r,`).
struct Written<'a> {
    perms: &'a str,
    exec_cond: Option<String>,
    leading: bool,
}

/// The upstream lexer reads `@{VAR}` followed by `=`, `+` or `?` as a variable and an
/// assignment operator, never as the start of a path: a rule written that way is refused.
fn assignment_after_variable(path: &str) -> Option<char> {
    let rest = path.strip_prefix('@')?;
    let after = if let Some(braced) = rest.strip_prefix('{') {
        let end = braced.find('}')?;
        braced.get(end + 1..)?
    } else {
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if end == 0 || !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return None;
        }
        rest.get(end..)?
    };
    after.chars().next().filter(|c| matches!(c, '=' | '+' | '?'))
}
