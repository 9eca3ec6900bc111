//! A small document tree with line positions, read from JSON (with the JSONC leniency bun's
//! lockfile needs: trailing commas and comments) or YAML. Lockfile parsers read their fields
//! through it, so every package can say which lines of its file it came from.
//!
//! Bounded: nesting depth at most [`MAX_DEPTH`], at most [`MAX_NODES`] nodes. Never panics.

use std::fmt;

/// Deepest nesting accepted.
pub const MAX_DEPTH: usize = 128;
/// Most nodes accepted in one document.
pub const MAX_NODES: usize = 4_000_000;

/// A value of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `null` (JSON) or an empty / `~` / `null` plain scalar (YAML).
    Null,
    /// `true` / `false` (JSON only: YAML scalars stay strings).
    Bool(bool),
    /// A number, as written.
    Num(String),
    /// A string (every YAML scalar that is not null).
    Str(String),
    /// An array or sequence.
    Arr(Vec<Node>),
    /// An object or mapping, entries in document order.
    Obj(Vec<(String, Node)>),
}

/// A node: its value and the 1-based lines where it starts and ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub val: Val,
    /// First line.
    pub line: usize,
    /// Last line.
    pub end_line: usize,
}

/// A syntax error with the 1-based line where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line of the error.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl Node {
    /// The value under `key` of an object.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.val {
            Val::Obj(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string value (numbers and booleans as written).
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.val {
            Val::Str(s) | Val::Num(s) => Some(s),
            Val::Bool(true) => Some("true"),
            Val::Bool(false) => Some("false"),
            _ => None,
        }
    }

    /// The string under `key`, empty when absent or not a scalar.
    #[must_use]
    pub fn str_of(&self, key: &str) -> &str {
        self.get(key).and_then(Node::as_str).unwrap_or_default()
    }

    /// Whether the value is `true` (JSON `true`, or a YAML `true` scalar).
    #[must_use]
    pub fn is_true(&self) -> bool {
        match &self.val {
            Val::Bool(b) => *b,
            Val::Str(s) => s == "true",
            _ => false,
        }
    }

    /// The entries of an object (empty for anything else).
    #[must_use]
    pub fn entries(&self) -> &[(String, Node)] {
        match &self.val {
            Val::Obj(e) => e,
            _ => &[],
        }
    }

    /// The items of an array (empty for anything else).
    #[must_use]
    pub fn items(&self) -> &[Node] {
        match &self.val {
            Val::Arr(a) => a,
            _ => &[],
        }
    }

    /// Whether this is an object.
    #[must_use]
    pub fn is_obj(&self) -> bool {
        matches!(self.val, Val::Obj(_))
    }
}

/// Parses JSON; with `lenient`, also `//` and `/* */` comments and trailing commas (JSONC).
///
/// # Errors
/// A [`SyntaxError`] naming the line.
pub fn parse_json(text: &str, lenient: bool) -> Result<Node, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = JsonParser { s: text.as_bytes(), i: 0, line: 1, lenient, nodes: 0 };
    p.ws()?;
    let node = p.value(0)?;
    p.ws()?;
    if p.i < p.s.len() {
        return Err(p.err("unexpected data after the top-level value"));
    }
    Ok(node)
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
    line: usize,
    lenient: bool,
    nodes: usize,
}

impl JsonParser<'_> {
    fn err(&self, m: &str) -> SyntaxError {
        SyntaxError { line: self.line, message: m.to_owned() }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn ws(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump();
                }
                Some(b'/') if self.lenient => match self.s.get(self.i + 1) {
                    Some(b'/') => {
                        while let Some(c) = self.peek() {
                            if c == b'\n' {
                                break;
                            }
                            self.bump();
                        }
                    }
                    Some(b'*') => {
                        self.bump();
                        self.bump();
                        loop {
                            match self.bump() {
                                None => return Err(self.err("unterminated comment")),
                                Some(b'*') if self.peek() == Some(b'/') => {
                                    self.bump();
                                    break;
                                }
                                Some(_) => {}
                            }
                        }
                    }
                    _ => return Ok(()),
                },
                _ => return Ok(()),
            }
        }
    }

    fn count(&mut self) -> Result<(), SyntaxError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.err("too many values"));
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Node, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        self.count()?;
        let line = self.line;
        let val = match self.peek() {
            None => return Err(self.err("unexpected end of input")),
            Some(b'{') => {
                self.bump();
                let mut entries = Vec::new();
                loop {
                    self.ws()?;
                    if self.peek() == Some(b'}') {
                        if !entries.is_empty() && !self.lenient {
                            return Err(self.err("trailing comma in object"));
                        }
                        self.bump();
                        break;
                    }
                    if self.peek() != Some(b'"') {
                        return Err(self.err("expected a string key"));
                    }
                    let key = self.string()?;
                    self.ws()?;
                    if self.bump() != Some(b':') {
                        return Err(self.err("expected ':' after an object key"));
                    }
                    self.ws()?;
                    let v = self.value(depth + 1)?;
                    entries.push((key, v));
                    self.ws()?;
                    match self.bump() {
                        Some(b',') => {}
                        Some(b'}') => break,
                        None => return Err(self.err("unexpected end of input in an object")),
                        Some(_) => return Err(self.err("expected ',' or '}' in an object")),
                    }
                }
                Val::Obj(entries)
            }
            Some(b'[') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.ws()?;
                    if self.peek() == Some(b']') {
                        if !items.is_empty() && !self.lenient {
                            return Err(self.err("trailing comma in array"));
                        }
                        self.bump();
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    self.ws()?;
                    match self.bump() {
                        Some(b',') => {}
                        Some(b']') => break,
                        None => return Err(self.err("unexpected end of input in an array")),
                        Some(_) => return Err(self.err("expected ',' or ']' in an array")),
                    }
                }
                Val::Arr(items)
            }
            Some(b'"') => Val::Str(self.string()?),
            Some(b't') => self.word("true", Val::Bool(true))?,
            Some(b'f') => self.word("false", Val::Bool(false))?,
            Some(b'n') => self.word("null", Val::Null)?,
            Some(c) if c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                        self.bump();
                    } else {
                        break;
                    }
                }
                let text = std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default()).unwrap_or_default();
                if text.parse::<f64>().is_err() {
                    return Err(self.err("invalid number"));
                }
                Val::Num(text.to_owned())
            }
            Some(_) => return Err(self.err("unexpected character")),
        };
        Ok(Node { val, line, end_line: self.line })
    }

    fn word(&mut self, w: &str, v: Val) -> Result<Val, SyntaxError> {
        if self.s.get(self.i..self.i + w.len()) == Some(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut n = 0u32;
        for _ in 0..4 {
            let c = self.bump().ok_or_else(|| self.err("unterminated escape"))?;
            let d = char::from(c).to_digit(16).ok_or_else(|| self.err("invalid \\u escape"))?;
            n = n * 16 + d;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.bump(); // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => break,
                Some(b'\n') if !self.lenient => return Err(self.err("newline in a string")),
                Some(b'\\') => {
                    let c = self.bump().ok_or_else(|| self.err("unterminated escape"))?;
                    let ch = match c {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) && self.peek() == Some(b'\\') {
                                self.bump();
                                if self.bump() != Some(b'u') {
                                    return Err(self.err("invalid surrogate pair"));
                                }
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xD800) << 10) + lo.wrapping_sub(0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                Some(c) => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8 in a string"))
    }
}

/// Parses the first YAML document. Every non-null scalar stays a string, as written; aliases
/// read as null (lockfiles have none).
///
/// # Errors
/// A [`SyntaxError`] naming the line.
pub fn parse_yaml(text: &str) -> Result<Node, SyntaxError> {
    use granit_parser::{Event, Parser, ScalarStyle};
    let mut options = granit_parser::Options::default();
    options.set_emit_comments(false);
    let mut parser = Parser::new_from_str_with_options(text, options);
    enum Frame {
        Seq(Vec<Node>, usize),
        Map(Vec<(String, Node)>, Option<String>, usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut last_line = 1usize;
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let line = e.marker().line();
                return Err(SyntaxError { line: line.max(1), message: e.info().to_owned() });
            }
        };
        let line = span.start.line().max(1);
        let end = span.end.line().max(line);
        last_line = last_line.max(end);
        let node = match event {
            Event::DocumentEnd if root.is_some() => break,
            Event::Scalar(text, style, _, _) => {
                let plain = matches!(style, ScalarStyle::Plain);
                let val = if plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                    Val::Null
                } else {
                    Val::Str(text.into_owned())
                };
                Node { val, line, end_line: end }
            }
            Event::Alias(_) => Node { val: Val::Null, line, end_line: end },
            Event::SequenceStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError { line, message: "nesting too deep".into() });
                }
                stack.push(Frame::Seq(Vec::new(), line));
                continue;
            }
            Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError { line, message: "nesting too deep".into() });
                }
                stack.push(Frame::Map(Vec::new(), None, line));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, l)) => Node { val: Val::Arr(items), line: l, end_line: last_line },
                Some(Frame::Map(entries, _, l)) => Node { val: Val::Obj(entries), line: l, end_line: last_line },
                None => return Err(SyntaxError { line, message: "unbalanced end of collection".into() }),
            },
            _ => continue,
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(SyntaxError { line, message: "too many values".into() });
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, pending, _)) => match pending.take() {
                None => *pending = Some(node.as_str().unwrap_or_default().to_owned()),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(root.unwrap_or(Node { val: Val::Null, line: 1, end_line: 1 }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn json_lines_and_errors() {
        let n = parse_json("{\n \"a\": {\n  \"b\": 1\n },\n \"c\": [true, null]\n}", false).unwrap();
        let a = n.get("a").unwrap();
        assert_eq!((a.line, a.end_line), (2, 4));
        assert_eq!(a.str_of("b"), "1");
        assert_eq!(n.get("c").unwrap().items().len(), 2);
        let e = parse_json("{\n \"a\": [1,\n", false).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(parse_json("{\"a\": 1,}", false).is_err());
        assert!(parse_json("{\"a\": 1, // c\n}", true).is_ok());
        assert!(parse_json(&"[".repeat(1000), false).is_err());
        assert_eq!(parse_json("\"\\ud83d\\ude00\"", false).unwrap().as_str(), Some("😀"));
    }

    #[test]
    fn yaml_strings_and_lines() {
        let n = parse_yaml("a:\n  b: 1.10\n  c: ~\nd:\n  - x\n").unwrap();
        assert_eq!(n.get("a").unwrap().str_of("b"), "1.10");
        assert_eq!(n.get("a").unwrap().get("c").unwrap().val, Val::Null);
        assert_eq!(n.get("d").unwrap().items()[0].line, 5);
        assert!(parse_yaml("a: [1,\n").is_err());
    }
}
