//! Reading inputs: files, directories (recursive), stdin; documents into objects.
//!
//! This is the only module of the crate that touches the file system. Nothing here stops at the
//! first problem: every unreadable file and unparsable document becomes a [`Diagnostic`] and the
//! rest is still read.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::object::Object;
use crate::source::{Location, Pos};
use crate::yaml::{self, Entry, Node, Value};

/// Largest file read (bigger files are reported and skipped).
pub const MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// One input to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (named `-`).
    Stdin,
}

impl Input {
    /// The name used in reports.
    #[must_use]
    pub fn display_name(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => "-".to_owned(),
        }
    }
}

/// Whether a file name has a manifest extension (`.yaml`, `.yml`, `.json`).
#[must_use]
pub fn is_manifest_path(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("json")
    })
}

/// Expands command-line paths: files as given, directories recursively (manifest extensions only,
/// hidden entries skipped, sorted by name), `-` as stdin. Missing paths become diagnostics.
#[must_use]
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<Input>, Vec<Diagnostic>) {
    let mut inputs = Vec::new();
    let mut diags = Vec::new();
    let mut seen_dirs = HashSet::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Err(e) => diags.push(Diagnostic::error(
                "unreadable",
                Location::file(path.display().to_string().into()),
                format!("cannot read: {}", io_reason(&e)),
            )),
            Ok(m) if m.is_dir() => walk(path, &mut inputs, &mut diags, &mut seen_dirs, 0),
            Ok(_) => inputs.push(Input::File(path.clone())),
        }
    }
    (inputs, diags)
}

fn walk(dir: &Path, inputs: &mut Vec<Input>, diags: &mut Vec<Diagnostic>, seen: &mut HashSet<PathBuf>, depth: usize) {
    let name: Arc<str> = dir.display().to_string().into();
    if depth > 64 {
        diags.push(Diagnostic::warning(
            "too-deep",
            Location::file(name),
            "directory nesting deeper than 64; not entered",
        ));
        return;
    }
    if let Ok(canonical) = std::fs::canonicalize(dir)
        && !seen.insert(canonical)
    {
        return; // a symlink loop or a directory named twice
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            diags.push(Diagnostic::error(
                "unreadable",
                Location::file(name),
                format!("cannot read directory: {}", io_reason(&e)),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk(&path, inputs, diags, seen, depth + 1),
            Ok(_) if is_manifest_path(&path) => inputs.push(Input::File(path)),
            Ok(_) => {}
            Err(e) => diags.push(Diagnostic::error(
                "unreadable",
                Location::file(path.display().to_string().into()),
                format!("cannot read: {}", io_reason(&e)),
            )),
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Reads an input as UTF-8 text. Binary, non-UTF-8, oversized and unreadable inputs are errors
/// naming the problem (and, for bad UTF-8, the line and column of the first bad byte).
///
/// # Errors
/// A diagnostic describing why the input cannot be used.
pub fn read_input(input: &Input) -> Result<String, Diagnostic> {
    let name: Arc<str> = input.display_name().into();
    let bytes = match input {
        Input::Stdin => {
            let mut buf = Vec::new();
            std::io::stdin().lock().take(MAX_FILE_SIZE + 1).read_to_end(&mut buf).map_err(|e| {
                Diagnostic::error(
                    "unreadable",
                    Location::file(name.clone()),
                    format!("cannot read stdin: {}", io_reason(&e)),
                )
            })?;
            buf
        }
        Input::File(path) => {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if size > MAX_FILE_SIZE {
                return Err(Diagnostic::error(
                    "too-large",
                    Location::file(name),
                    format!("file is {size} bytes, more than the {MAX_FILE_SIZE}-byte limit; skipped"),
                ));
            }
            std::fs::read(path).map_err(|e| {
                Diagnostic::error("unreadable", Location::file(name.clone()), format!("cannot read: {}", io_reason(&e)))
            })?
        }
    };
    decode_text(name, bytes)
}

/// Checks that bytes are UTF-8 text (not binary, not too large).
///
/// # Errors
/// A diagnostic for binary, oversized or non-UTF-8 content.
pub fn decode_text(name: Arc<str>, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Diagnostic::error(
            "too-large",
            Location::file(name),
            format!("input is larger than {MAX_FILE_SIZE} bytes; skipped"),
        ));
    }
    let head = bytes.get(..bytes.len().min(8192)).unwrap_or(&[]);
    if head.contains(&0) {
        return Err(Diagnostic::error(
            "binary",
            Location::file(name),
            "binary file (contains NUL bytes), not a manifest; skipped",
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = e.as_bytes().get(..e.utf8_error().valid_up_to()).unwrap_or(&[]);
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(good.get(line_start..).unwrap_or(&[])).chars().count() + 1;
        Diagnostic::error(
            "not-utf8",
            Location::at(
                name,
                Pos::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(col).unwrap_or(u32::MAX)),
            ),
            "invalid UTF-8; Kubernetes manifests must be UTF-8 text; file skipped",
        )
    })
}

/// What one input yielded.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The objects, in document order (`List` items expanded in place).
    pub objects: Vec<Object>,
    /// Problems met.
    pub diagnostics: Vec<Diagnostic>,
    /// Number of documents (empty ones included).
    pub documents: usize,
}

/// Parses the text of one file into objects, turning every problem into a diagnostic.
#[must_use]
pub fn parse_text(file: &Arc<str>, text: &str) -> Parsed {
    let mut out = Parsed::default();
    yaml::for_each_document(text, |doc| {
        out.documents += 1;
        for w in doc.warnings {
            out.diagnostics.push(Diagnostic::warning(w.code, Location::at(file.clone(), w.pos), w.message));
        }
        match doc.root {
            Err(e) => out.diagnostics.push(Diagnostic::error(
                "yaml-syntax",
                Location::at(file.clone(), e.pos),
                format!("document {} cannot be parsed: {}", doc.index + 1, e.message),
            )),
            Ok(None) => {}
            Ok(Some(root)) if root.is_null() => {}
            Ok(Some(root)) => add_object(&mut out, file, doc.index, root),
        }
    });
    out
}

fn add_object(out: &mut Parsed, file: &Arc<str>, doc_index: usize, root: Node) {
    let list_kind = root.get("kind").and_then(Node::as_str).filter(|k| k.ends_with("List")).map(str::to_owned);
    let is_list = list_kind.is_some() && root.get("items").is_some_and(|i| matches!(i.value, Value::Seq(_)));
    if !is_list {
        push_object(out, file, doc_index, root, String::new());
        return;
    }
    // A typed list (`PodList`, as the API returns it) may omit kind and apiVersion on its items:
    // they are the list's item kind and the list's apiVersion. `kind: List` items carry their own.
    let item_kind =
        list_kind.as_deref().and_then(|k| k.strip_suffix("List")).filter(|k| !k.is_empty()).map(str::to_owned);
    let api_version = root.get("apiVersion").and_then(Node::as_str).map(str::to_owned);
    let Value::Map(entries) = root.value else { return };
    for entry in entries {
        if entry.key != "items" {
            continue;
        }
        let Value::Seq(items) = entry.value.value else { continue };
        for (i, mut item) in items.into_iter().enumerate() {
            if item.is_null() {
                continue;
            }
            let pos = item.pos;
            if let Value::Map(fields) = &mut item.value {
                for (key, value) in [("kind", &item_kind), ("apiVersion", &api_version)] {
                    if let Some(value) = value
                        && !fields.iter().any(|e| e.key == key)
                    {
                        let value = Node { value: Value::Str(value.clone()), pos };
                        fields.push(Entry { key: key.to_owned(), key_pos: pos, value });
                    }
                }
            }
            push_object(out, file, doc_index, item, format!("/items/{i}"));
        }
    }
}

fn push_object(out: &mut Parsed, file: &Arc<str>, doc_index: usize, node: Node, doc_pointer: String) {
    match Object::from_node(node, file.clone(), doc_index, doc_pointer) {
        Ok(obj) => {
            for field in ["name", "namespace", "generateName"] {
                let pointer = format!("/metadata/{field}");
                if let Some(value) = obj.root.pointer(&pointer).and_then(Node::as_str)
                    && is_placeholder(value)
                {
                    out.diagnostics.push(Diagnostic::warning(
                        "template-placeholder",
                        obj.location(&pointer),
                        format!(
                            "{}: metadata.{field} {value:?} looks like an unrendered template placeholder \
                             (Helm `{{{{ }}}}` or envsubst `${{}}`); scanned as written",
                            obj.id
                        ),
                    ));
                }
            }
            out.objects.push(obj);
        }
        Err((pos, message)) => out.diagnostics.push(Diagnostic::warning(
            "not-an-object",
            Location::at(file.clone(), pos),
            format!("document {}: {message}; skipped", doc_index + 1),
        )),
    }
}

/// Reads and parses one input.
#[must_use]
pub fn load_input(input: &Input) -> Parsed {
    match read_input(input) {
        Ok(text) => parse_text(&input.display_name().into(), &text),
        Err(d) => Parsed { diagnostics: vec![d], ..Parsed::default() },
    }
}

/// Whether a value holds a template placeholder: `{{ ... }}` (Helm, Go templates) or `${...}`
/// (envsubst, Kustomize vars).
fn is_placeholder(value: &str) -> bool {
    let braces = value.find("{{").is_some_and(|i| value.get(i..).is_some_and(|rest| rest.contains("}}")));
    let dollar = value.find("${").is_some_and(|i| value.get(i..).is_some_and(|rest| rest.contains('}')));
    braces || dollar
}
