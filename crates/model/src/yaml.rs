//! A YAML reader that sees what Kubernetes sees, and remembers where everything is.
//!
//! Kubernetes reads manifests through sigs.k8s.io/yaml, a go-yaml v2 fork that resolves plain
//! scalars the YAML 1.1 way. We follow it, because a policy engine that reads `hostNetwork: yes`
//! as the string `"yes"` while the API server reads `true` can be walked around:
//!
//! * `y`, `yes`, `on`, `true` (any of their usual casings) are `true`; `n`, `no`, `off`, `false` are `false`;
//! * `0644` is octal (420), `0x1F` hex, `0b101` binary, `0o17` octal; `_` in numbers is ignored;
//! * `~`, `null` and the empty plain scalar are null;
//! * `<<` merge keys are applied in document order, a later key overriding an earlier one
//!   (go-yaml v2: a merge overrides explicit keys written before it);
//! * quoted and block scalars are always strings; `!!str` forces a string.
//!
//! Every node keeps the 1-based line and column where it starts, and every mapping entry the
//! position of its key, so a finding can point at `file:line:column` of any field.
//!
//! Untrusted input is bounded: nesting depth, alias expansion (a node budget and a byte budget
//! per document, "billion laughs") and document size. An alias counts as the copy it expands to:
//! its nodes and bytes against the budgets, its nesting against the depth limit at the place it
//! is used, so aliases of aliases cannot build a tree deeper than [`MAX_DEPTH`] (whose recursive
//! walks would overflow a thread's stack). Nothing here panics on any input.

use std::collections::HashMap;
use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

use crate::source::Pos;

/// Deepest nesting accepted in one document.
pub const MAX_DEPTH: usize = 256;
/// Most nodes one document may expand to (aliases count every copy).
pub const MAX_NODES: usize = 2_000_000;
/// Largest single document (between `---` separators) parsed, in bytes.
pub const MAX_DOCUMENT_SIZE: usize = 64 * 1024 * 1024;
/// Most scalar and key text one document may expand to, in bytes (aliases count every copy; a
/// document without aliases stays below it, since no scalar is longer than its source text).
pub const MAX_EXPANDED_BYTES: usize = MAX_DOCUMENT_SIZE;

/// A node in a parsed document: a value and the position where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct YamlNode {
    /// The value.
    pub value: Value,
    /// Where the node starts in its file.
    pub pos: Pos,
}

/// One mapping entry: key text, the key's position, and the value.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key as a string (non-string keys are rendered as Kubernetes does: `true`, `1`).
    pub key: String,
    /// Where the key starts.
    pub key_pos: Pos,
    /// The value.
    pub value: YamlNode,
}

/// The value of a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `null`, `~` or empty.
    Null,
    /// A boolean (YAML 1.1 spellings included).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number (always finite).
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<YamlNode>),
    /// A mapping, entries in document order, keys unique (last one wins).
    Map(Vec<Entry>),
}

impl YamlNode {
    /// The value of key `key` when this is a mapping.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&YamlNode> {
        self.entry(key).map(|e| &e.value)
    }

    /// The entry of key `key` when this is a mapping.
    #[must_use]
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The string value, if this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean value, if this is a boolean.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The integer value, if this is an integer (or a float with an integral value).
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            #[allow(clippy::cast_possible_truncation)]
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    #[must_use]
    pub fn as_seq(&self) -> Option<&[YamlNode]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    #[must_use]
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// Whether this is null.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// A short name of the node's type, for messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }

    /// The node at an RFC 6901 JSON pointer (`""` is this node).
    #[must_use]
    pub fn pointer(&self, pointer: &str) -> Option<&YamlNode> {
        let mut node = self;
        for token in pointer_tokens(pointer)? {
            node = node.child(&token)?;
        }
        Some(node)
    }

    /// The position of the field at `pointer`: the key of the deepest existing mapping entry
    /// on the path (or the item's start for sequence items). When the path leaves the document,
    /// the position of the nearest existing parent.
    #[must_use]
    pub fn locate(&self, pointer: &str) -> Pos {
        let mut node = self;
        let mut pos = self.pos;
        let Some(tokens) = pointer_tokens(pointer) else { return pos };
        for token in tokens {
            match &node.value {
                Value::Map(entries) => match entries.iter().find(|e| e.key == token) {
                    Some(e) => {
                        pos = e.key_pos;
                        node = &e.value;
                    }
                    None => return pos,
                },
                Value::Seq(items) => match token.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(item) => {
                        pos = item.pos;
                        node = item;
                    }
                    None => return pos,
                },
                _ => return pos,
            }
        }
        pos
    }

    fn child(&self, token: &str) -> Option<&YamlNode> {
        match &self.value {
            Value::Map(_) => self.get(token),
            Value::Seq(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    }

    /// Builds a node from JSON (a webhook request's object): every position is `1:1`, since the
    /// text it came from is not a manifest a user edits. Numbers that fit an `i64` become
    /// integers; others floats (non-finite values cannot occur in JSON).
    #[must_use]
    pub fn from_json(value: &serde_json::Value) -> YamlNode {
        use serde_json::Value as J;
        let pos = Pos::new(1, 1);
        let value = match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Seq(items.iter().map(YamlNode::from_json).collect()),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| Entry { key: k.clone(), key_pos: pos, value: YamlNode::from_json(v) })
                    .collect(),
            ),
        };
        YamlNode { value, pos }
    }

    /// Converts to a `serde_json::Value` (for typed deserialisation).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(YamlNode::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect()),
        }
    }
}

/// Splits an RFC 6901 pointer into unescaped tokens; `None` when it does not start with `/`.
fn pointer_tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect())
}

/// Escapes one JSON-pointer token (`~` → `~0`, `/` → `~1`).
#[must_use]
pub fn escape_pointer_token(token: &str) -> String {
    if token.contains(['~', '/']) { token.replace('~', "~0").replace('/', "~1") } else { token.to_owned() }
}

/// A problem found while reading one YAML document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// Where (1-based; relative to the whole file).
    pub pos: Pos,
    /// What, in the parser's words.
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

/// A non-fatal observation about a document (duplicate keys, for example).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlWarning {
    /// Where.
    pub pos: Pos,
    /// Stable code, e.g. `duplicate-key`.
    pub code: &'static str,
    /// What.
    pub message: String,
}

/// One document of a stream: its index in the file, and its root or the error that stopped it.
#[derive(Debug)]
pub struct Document {
    /// 0-based index of the document in its file (counting empty documents too).
    pub index: usize,
    /// Where the document starts.
    pub pos: Pos,
    /// The root node, `None` for an empty or comment-only document; or the parse error.
    pub root: Result<Option<YamlNode>, YamlError>,
    /// Warnings (e.g. duplicate keys) found in this document.
    pub warnings: Vec<YamlWarning>,
}

/// Reads every document of a YAML (or JSON) stream, calling `each` once per document in order.
///
/// The stream is first split at `---` separator lines the way kubectl splits it
/// (k8s.io/apimachinery's YAMLReader), so a syntax error in one document does not lose the others.
pub fn for_each_document(text: &str, mut each: impl FnMut(Document)) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut index = 0usize;
    for (chunk, first_line) in split_documents(text) {
        parse_chunk(chunk, first_line, &mut index, &mut each);
    }
}

/// Parses a whole stream into documents (convenience over [`for_each_document`]).
#[must_use]
pub fn parse_documents(text: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    for_each_document(text, |d| docs.push(d));
    docs
}

/// Splits at lines that are `---` followed only by blanks or a comment. Yields each chunk with
/// the 0-based line number its first line has in the whole text.
fn split_documents(text: &str) -> Vec<(&str, usize)> {
    let mut chunks = Vec::new();
    let mut start = 0usize;
    let mut start_line = 0usize;
    let mut offset = 0usize;
    for (line_no, line) in text.split_inclusive('\n').enumerate() {
        if is_separator(line) {
            chunks.push((text.get(start..offset).unwrap_or(""), start_line));
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
    }
    chunks.push((text.get(start..).unwrap_or(""), start_line));
    chunks
}

fn is_separator(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("---") else { return false };
    let rest = rest.trim();
    rest.is_empty() || rest.starts_with('#')
}

fn pos_of(span: &Span, first_line: usize) -> Pos {
    let line = span.start.line().saturating_add(first_line);
    Pos::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(span.start.col() + 1).unwrap_or(u32::MAX))
}

fn scan_error(e: &ScanError, first_line: usize) -> YamlError {
    let m = e.marker();
    let line = m.line().saturating_add(first_line);
    YamlError {
        pos: Pos::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(m.col() + 1).unwrap_or(u32::MAX)),
        message: e.info(),
    }
}

/// A collection being built, with the height of its tallest child so far (0: only scalars).
enum Frame {
    Seq { items: Vec<YamlNode>, pos: Pos, anchor: usize, height: usize },
    Map { entries: MapEntries, pending_key: Option<(String, Pos, bool)>, pos: Pos, anchor: usize, height: usize },
}

/// The entries of a mapping being built. Keys are unique (a repeated key replaces the value in
/// place), so each new key is looked up: in the entries while there are few, through a hash
/// index once there are more than [`MapEntries::INDEX_FROM`] (a mapping with 80,000 keys took
/// 7.8 s to read with the linear search alone).
#[derive(Default)]
struct MapEntries {
    entries: Vec<Entry>,
    /// Key → position in `entries`, once the mapping is large.
    index: Option<HashMap<String, usize>>,
}

impl MapEntries {
    const INDEX_FROM: usize = 16;

    fn find_mut(&mut self, key: &str) -> Option<&mut Entry> {
        match &self.index {
            Some(index) => index.get(key).copied().and_then(|i| self.entries.get_mut(i)),
            None => self.entries.iter_mut().find(|e| e.key == key),
        }
    }

    /// Appends an entry whose key is not there yet.
    fn push_new(&mut self, entry: Entry) {
        if let Some(index) = &mut self.index {
            index.insert(entry.key.clone(), self.entries.len());
        } else if self.entries.len() >= Self::INDEX_FROM {
            let mut index: HashMap<String, usize> =
                self.entries.iter().enumerate().map(|(i, e)| (e.key.clone(), i)).collect();
            index.insert(entry.key.clone(), self.entries.len());
            self.index = Some(index);
        }
        self.entries.push(entry);
    }
}

/// An anchored node and what one copy of it costs: its height (collection levels: 0 for a
/// scalar), its nodes and its text bytes.
struct Anchor {
    id: usize,
    node: YamlNode,
    height: usize,
    nodes: usize,
    bytes: usize,
}

struct Builder {
    stack: Vec<Frame>,
    anchors: Vec<Anchor>,
    nodes: usize,
    bytes: usize,
    root: Option<YamlNode>,
    warnings: Vec<YamlWarning>,
}

impl Builder {
    fn err(pos: Pos, message: impl Into<String>) -> YamlError {
        YamlError { pos, message: message.into() }
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(Self::err(
                pos,
                format!("document expands to more than {MAX_NODES} nodes (alias bomb?); not read"),
            ));
        }
        Ok(())
    }

    fn count_bytes(&mut self, n: usize, pos: Pos) -> Result<(), YamlError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > MAX_EXPANDED_BYTES {
            return Err(Self::err(
                pos,
                format!("document expands to more than {MAX_EXPANDED_BYTES} bytes of text (alias bomb?); not read"),
            ));
        }
        Ok(())
    }

    /// Refuses a collection `height` levels tall at the current place: the open collections
    /// plus its own levels may not exceed [`MAX_DEPTH`].
    fn check_depth(&self, height: usize, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len().saturating_add(height) > MAX_DEPTH {
            return Err(Self::err(pos, format!("nesting deeper than {MAX_DEPTH} levels; not read")));
        }
        Ok(())
    }

    /// Adds a finished node of height `height` to the collection on top of the stack (or makes
    /// it the root).
    fn push(&mut self, node: YamlNode, height: usize, plain_scalar: bool) -> Result<(), YamlError> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, height: h, .. }) => {
                *h = (*h).max(height);
                items.push(node);
                Ok(())
            }
            Some(Frame::Map { entries, pending_key, height: h, .. }) => match pending_key.take() {
                None => {
                    let (key, is_str) = match node_to_key(&node) {
                        Some(k) => k,
                        None => {
                            return Err(Self::err(
                                node.pos,
                                format!("a mapping key must be a scalar, found a {}", node.type_name()),
                            ));
                        }
                    };
                    *pending_key = Some((key, node.pos, is_str && plain_scalar));
                    Ok(())
                }
                Some((key, key_pos, plain)) => {
                    *h = (*h).max(height);
                    if key == "<<" && plain {
                        merge_into(entries, node)
                    } else {
                        if let Some(existing) = entries.find_mut(&key) {
                            self.warnings.push(YamlWarning {
                                pos: key_pos,
                                code: "duplicate-key",
                                message: format!(
                                    "duplicate key {key:?} (first at line {}); the last value is used, \
                                     as kube-apiserver does without strict field validation",
                                    existing.key_pos.line
                                ),
                            });
                            existing.key_pos = key_pos;
                            existing.value = node;
                        } else {
                            entries.push_new(Entry { key, key_pos, value: node });
                        }
                        Ok(())
                    }
                }
            },
        }
    }
}

/// Applies a `<<` merge: the value is a mapping or a sequence of mappings; their entries are
/// written into `entries` in order (overriding what is there, like go-yaml v2).
fn merge_into(entries: &mut MapEntries, value: YamlNode) -> Result<(), YamlError> {
    let sources: Vec<YamlNode> = match value.value {
        Value::Map(_) => vec![value],
        Value::Seq(items) => items,
        _ => {
            return Err(YamlError {
                pos: value.pos,
                message: format!("the value of a merge key `<<` must be a mapping, found a {}", value.type_name()),
            });
        }
    };
    for src in sources {
        let Value::Map(src_entries) = src.value else {
            return Err(YamlError {
                pos: src.pos,
                message: "a merge key `<<` sequence may hold only mappings".to_owned(),
            });
        };
        for e in src_entries {
            if let Some(existing) = entries.find_mut(&e.key) {
                existing.value = e.value;
            } else {
                entries.push_new(e);
            }
        }
    }
    Ok(())
}

/// The string form of a scalar key, and whether it was a plain `<<` candidate.
fn node_to_key(node: &YamlNode) -> Option<(String, bool)> {
    Some(match &node.value {
        Value::Str(s) => (s.clone(), true),
        Value::Null => (String::new(), false),
        Value::Bool(b) => (b.to_string(), false),
        Value::Int(i) => (i.to_string(), false),
        Value::Float(f) => (f.to_string(), false),
        Value::Seq(_) | Value::Map(_) => return None,
    })
}

fn parse_chunk(chunk: &str, first_line: usize, index: &mut usize, each: &mut impl FnMut(Document)) {
    if chunk.len() > MAX_DOCUMENT_SIZE {
        let pos = Pos::new(u32::try_from(first_line + 1).unwrap_or(u32::MAX), 1);
        let message = format!("document is larger than {MAX_DOCUMENT_SIZE} bytes; not read");
        each(Document { index: *index, pos, root: Err(YamlError { pos, message }), warnings: Vec::new() });
        *index += 1;
        return;
    }
    // Comment events are not data. The parser emits them when its `comments` feature is on, which
    // another crate in the build can turn on (kube's kubeconfig reader does): switch them off here.
    let mut options = granit_parser::Options::default();
    options.set_emit_comments(false);
    let mut parser = Parser::new_from_str_with_options(chunk, options);
    let mut builder: Option<Builder> = None;
    let mut doc_pos = Pos::new(u32::try_from(first_line + 1).unwrap_or(u32::MAX), 1);
    loop {
        let (event, span) = match parser.next_event() {
            None => return,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let err = scan_error(&e, first_line);
                let warnings = builder.take().map(|b| b.warnings).unwrap_or_default();
                each(Document { index: *index, pos: doc_pos, root: Err(err), warnings });
                *index += 1;
                return;
            }
        };
        let pos = pos_of(&span, first_line);
        let step: Result<(), YamlError> = match event {
            Event::StreamStart => Ok(()),
            Event::StreamEnd => return,
            Event::DocumentStart(..) => {
                doc_pos = pos;
                builder = Some(Builder {
                    stack: Vec::new(),
                    anchors: Vec::new(),
                    nodes: 0,
                    bytes: 0,
                    root: None,
                    warnings: Vec::new(),
                });
                Ok(())
            }
            Event::DocumentEnd => {
                let (root, warnings) = builder.take().map(|b| (b.root, b.warnings)).unwrap_or_default();
                each(Document { index: *index, pos: doc_pos, root: Ok(root), warnings });
                *index += 1;
                Ok(())
            }
            other => match builder.as_mut() {
                None => Err(Builder::err(pos, "content outside a document")),
                Some(b) => handle_node_event(b, other, pos),
            },
        };
        if let Err(err) = step {
            let warnings = builder.take().map(|b| b.warnings).unwrap_or_default();
            each(Document { index: *index, pos: doc_pos, root: Err(err), warnings });
            *index += 1;
            // The rest of this chunk cannot be trusted after a structural error.
            return;
        }
    }
}

fn handle_node_event(b: &mut Builder, event: Event<'_>, pos: Pos) -> Result<(), YamlError> {
    match event {
        Event::Scalar(text, style, anchor, tag) => {
            b.count(1, pos)?;
            b.count_bytes(text.len(), pos)?;
            let value = resolve_scalar(&text, style, tag.as_deref()).map_err(|m| Builder::err(pos, m))?;
            let node = YamlNode { value, pos };
            if anchor > 0 {
                b.anchors.push(Anchor { id: anchor, node: node.clone(), height: 0, nodes: 1, bytes: text.len() });
            }
            b.push(node, 0, matches!(style, ScalarStyle::Plain))
        }
        Event::SequenceStart(_, anchor, _) => {
            b.count(1, pos)?;
            b.check_depth(1, pos)?;
            b.stack.push(Frame::Seq { items: Vec::new(), pos, anchor, height: 0 });
            Ok(())
        }
        Event::MappingStart(_, anchor, _) => {
            b.count(1, pos)?;
            b.check_depth(1, pos)?;
            b.stack.push(Frame::Map { entries: MapEntries::default(), pending_key: None, pos, anchor, height: 0 });
            Ok(())
        }
        Event::SequenceEnd | Event::MappingEnd => {
            let (node, anchor, height) = match b.stack.pop() {
                Some(Frame::Seq { mut items, pos, anchor, height }) => {
                    // Trees are kept until the scan is over: no spare capacity.
                    items.shrink_to_fit();
                    (YamlNode { value: Value::Seq(items), pos }, anchor, height + 1)
                }
                Some(Frame::Map { entries, pending_key, pos, anchor, height }) => {
                    if let Some((key, key_pos, _)) = pending_key {
                        return Err(Builder::err(key_pos, format!("key {key:?} has no value")));
                    }
                    let mut entries = entries.entries;
                    entries.shrink_to_fit();
                    (YamlNode { value: Value::Map(entries), pos }, anchor, height + 1)
                }
                None => return Err(Builder::err(pos, "unbalanced end of collection")),
            };
            if anchor > 0 {
                // The stored copy counts as nodes too (its text is not counted twice, so a
                // document without aliases never reaches the byte budget). Walking the node
                // recurses at most MAX_DEPTH levels.
                let (nodes, bytes) = (count_nodes(&node), text_bytes(&node));
                b.count(nodes, pos)?;
                b.anchors.push(Anchor { id: anchor, node: node.clone(), height, nodes, bytes });
            }
            b.push(node, height, false)
        }
        Event::Alias(id) => {
            let Some(target) = b.anchors.iter().rposition(|a| a.id == id) else {
                return Err(Builder::err(pos, "alias to an unknown anchor"));
            };
            let Some(&Anchor { height, nodes, bytes, .. }) = b.anchors.get(target) else {
                return Err(Builder::err(pos, "alias to an unknown anchor"));
            };
            // Checked before copying: the copy is what the budgets bound.
            b.check_depth(height, pos)?;
            b.count(nodes, pos)?;
            b.count_bytes(bytes, pos)?;
            let node = b.anchors.get(target).map(|a| a.node.clone());
            match node {
                Some(node) => b.push(node, height, false),
                None => Err(Builder::err(pos, "alias to an unknown anchor")),
            }
        }
        _ => Ok(()),
    }
}

fn count_nodes(node: &YamlNode) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|e| 1 + count_nodes(&e.value)).sum::<usize>(),
        _ => 1,
    }
}

/// The scalar and key text a node holds, in bytes.
fn text_bytes(node: &YamlNode) -> usize {
    match &node.value {
        Value::Str(s) => s.len(),
        Value::Seq(items) => items.iter().map(text_bytes).sum(),
        Value::Map(entries) => entries.iter().map(|e| e.key.len() + text_bytes(&e.value)).sum(),
        _ => 0,
    }
}

/// Resolves a scalar the way sigs.k8s.io/yaml (go-yaml v2) does.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle() == "tag:yaml.org,2002:" || tag.handle() == "!!" {
            return match tag.suffix() {
                "str" | "binary" | "timestamp" => Ok(Value::Str(text.to_owned())),
                "null" => Ok(Value::Null),
                "bool" => match resolve_plain(text) {
                    v @ Value::Bool(_) => Ok(v),
                    _ => Err(format!("cannot read {text:?} as !!bool")),
                },
                "int" => match resolve_plain(text) {
                    v @ Value::Int(_) => Ok(v),
                    _ => Err(format!("cannot read {text:?} as !!int")),
                },
                "float" => match resolve_plain(text) {
                    Value::Int(i) => Ok(Value::Float(i as f64)),
                    v @ Value::Float(_) => Ok(v),
                    _ => Err(format!("cannot read {text:?} as !!float")),
                },
                _ => Ok(resolve_by_style(text, style)),
            };
        }
        if tag.handle() == "!" && tag.suffix().is_empty() {
            // The non-specific tag `!` forces a string.
            return Ok(Value::Str(text.to_owned()));
        }
    }
    let v = resolve_by_style(text, style);
    if let Value::Str(s) = &v
        && matches!(style, ScalarStyle::Plain)
        && is_special_float(s)
    {
        return Err(format!("{s:?} is an infinite or NaN number, which Kubernetes cannot represent in JSON"));
    }
    Ok(v)
}

fn resolve_by_style(text: &str, style: ScalarStyle) -> Value {
    match style {
        ScalarStyle::Plain => resolve_plain(text),
        _ => Value::Str(text.to_owned()),
    }
}

fn is_special_float(s: &str) -> bool {
    matches!(
        s,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN"
    )
}

/// YAML 1.1 resolution of a plain scalar (go-yaml v2's `resolve`).
#[must_use]
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let first = text.as_bytes().first().copied().unwrap_or(b'x');
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Value::Str(text.to_owned());
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(i) = parse_go_int(&plain) {
        return Value::Int(i);
    }
    if is_yaml_float(&plain)
        && let Ok(f) = plain.parse::<f64>()
        && f.is_finite()
    {
        return Value::Float(f);
    }
    // Integers beyond i64 (go-yaml tries uint64, then float).
    if plain.bytes().all(|c| c.is_ascii_digit())
        && let Ok(f) = plain.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, then `0x`, `0o`, `0b` or leading-`0` octal prefixes.
fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, s.get(1..)?),
        b'+' => (false, s.get(1..)?),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, body.get(1..)?)
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if neg {
        if magnitude == 1u64 << 63 { Some(i64::MIN) } else { i64::try_from(magnitude).ok().map(|m| -m) }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// go-yaml v2's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    } else {
        if !digits(&mut i) {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests;
