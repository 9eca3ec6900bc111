//! Reading inputs: files, directories (recursive), stdin; documents into objects.
//!
//! This is the only module of the crate that touches the file system. Nothing here stops at the
//! first problem: every unreadable file and unparsable document becomes a [`Diagnostic`] and the
//! rest is still read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::object::Object;
use crate::source::{Location, Pos};
use crate::yaml::{self, Entry, Value, YamlNode};

mod walk;

pub use walk::{ExcludeError, Excludes, Expanded, IGNORE_FILE, expand};

/// Largest file read (bigger files are reported and skipped).
pub const MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// One input to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (named `-`).
    Stdin,
    /// Text already in memory under a name (an object read from a cluster's API).
    Text {
        /// The name used in reports (`cluster:v1/Pod/default/web`).
        name: Arc<str>,
        /// The text.
        text: Arc<str>,
    },
}

impl Input {
    /// The name used in reports.
    #[must_use]
    pub fn display_name(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => "-".to_owned(),
            Self::Text { name, .. } => name.to_string(),
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

/// Whether a file is a Dockerfile by its name, as Trivy's config scanner decides: the name
/// without its last extension is `Dockerfile` or `Containerfile` (`Dockerfile`,
/// `Dockerfile.prod`, `Containerfile`), or the extension is `.dockerfile` or `.containerfile` in
/// any case (`api.Dockerfile`). A manifest extension wins (`Dockerfile.yaml` is a manifest).
#[must_use]
pub fn is_dockerfile_path(path: &Path) -> bool {
    if is_manifest_path(path) {
        return false;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    let (stem, ext) = match name.rfind('.') {
        Some(i) => (name.get(..i).unwrap_or(""), name.get(i + 1..).unwrap_or("")),
        None => (name, ""),
    };
    ["Dockerfile", "Containerfile"].iter().any(|d| stem == *d || (name.contains('.') && ext.eq_ignore_ascii_case(d)))
}

/// Expands command-line paths: files as given, directories recursively (manifest extensions only,
/// hidden entries skipped, sorted by name, `.kguardignore` files applied, Helm charts' templates
/// skipped), `-` as stdin. Missing paths become diagnostics. [`expand`] also takes excludes and
/// counts what was left out.
#[must_use]
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<Input>, Vec<Diagnostic>) {
    let e = expand(paths, Excludes::new());
    (e.inputs, e.diagnostics)
}

/// What a path that is neither a directory nor a regular file is (after following symlinks).
fn special_kind(m: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let t = m.file_type();
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    let _ = m;
    "not a regular file"
}

/// The diagnostic for a device, FIFO or socket among the inputs: never opened (reading
/// `/dev/zero` never ends, opening a FIFO waits for a writer).
fn not_a_file(path: &Path, m: &std::fs::Metadata) -> Diagnostic {
    let kind = special_kind(m);
    let what = if kind.starts_with("not") { kind.to_owned() } else { format!("is {kind}, not a regular file") };
    Diagnostic::error(
        "not-a-file",
        Location::file(path.display().to_string().into()),
        format!("{what}; only regular files (or symlinks to them) are read; skipped"),
    )
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Reads an input as UTF-8 text. Binary, non-UTF-8, oversized and unreadable inputs are errors
/// naming the problem (and, for bad UTF-8, the line and column of the first bad byte). Only
/// regular files are read (devices, FIFOs and sockets are refused before they are opened), and the
/// size limit is enforced while reading, not only from the size the file system reports (which is
/// 0 for `/proc` files and can change between the check and the read).
///
/// # Errors
/// A diagnostic describing why the input cannot be used.
pub fn read_input(input: &Input) -> Result<String, Diagnostic> {
    let name: Arc<str> = input.display_name().into();
    let bytes = match input {
        Input::Stdin => read_capped(std::io::stdin().lock(), MAX_FILE_SIZE).map_err(|e| {
            Diagnostic::error(
                "unreadable",
                Location::file(name.clone()),
                format!("cannot read stdin: {}", io_reason(&e)),
            )
        })?,
        Input::File(path) => read_file(path, &name)?,
        Input::Text { text, .. } => return Ok(text.to_string()),
    };
    decode_text(name, bytes)
}

fn read_file(path: &Path, name: &Arc<str>) -> Result<Vec<u8>, Diagnostic> {
    let unreadable = |e: &std::io::Error| {
        Diagnostic::error("unreadable", Location::file(name.clone()), format!("cannot read: {}", io_reason(e)))
    };
    // Checked before opening: opening a FIFO blocks until a writer comes.
    let meta = std::fs::metadata(path).map_err(|e| unreadable(&e))?;
    if !meta.is_file() {
        return Err(not_a_file(path, &meta));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(Diagnostic::error(
            "too-large",
            Location::file(name.clone()),
            format!("file is {} bytes, more than the {MAX_FILE_SIZE}-byte limit; skipped", meta.len()),
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| unreadable(&e))?;
    // And again on the opened handle, in case the path was replaced in between.
    let meta = file.metadata().map_err(|e| unreadable(&e))?;
    if !meta.is_file() {
        return Err(not_a_file(path, &meta));
    }
    // Sized once from the metadata (growing by doubling would copy a large file several times);
    // a file that grew since is still read only up to the cap.
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    file.take(MAX_FILE_SIZE.saturating_add(1)).read_to_end(&mut buf).map_err(|e| unreadable(&e))?;
    Ok(buf)
}

/// Reads at most `cap + 1` bytes (one more than allowed, so an oversized input is recognised
/// without reading it all); [`decode_text`] rejects the result when it is longer than `cap`.
///
/// # Errors
/// What reading returns.
pub fn read_capped(reader: impl Read, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    Ok(buf)
}

fn too_large(name: &Arc<str>) -> Diagnostic {
    Diagnostic::error(
        "too-large",
        Location::file(name.clone()),
        format!("input is larger than {MAX_FILE_SIZE} bytes; skipped"),
    )
}

/// Checks that bytes are UTF-8 text (not binary, not too large).
///
/// # Errors
/// A diagnostic for binary, oversized or non-UTF-8 content.
pub fn decode_text(name: Arc<str>, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large(&name));
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
    /// No document is a Kubernetes object or tries to be one (a Compose file, a CI
    /// configuration, `package.json`): such a file is skipped quietly and counted. A file with
    /// one object, or one document with `kind`, `apiVersion`, `metadata` or `spec`, is read as
    /// manifests and each document that is not an object is warned about.
    pub not_kubernetes: bool,
    /// A Dockerfile ([`is_dockerfile_path`]): its name and text, for the Dockerfile checks
    /// (no objects, no documents).
    pub dockerfile: Option<(Arc<str>, String)>,
}

/// Parses the text of one file into objects, turning every problem into a diagnostic.
#[must_use]
pub fn parse_text(file: &Arc<str>, text: &str) -> Parsed {
    let mut objects = Vec::new();
    let mut out = parse_text_each(file, text, &mut |obj| objects.push(obj));
    out.objects = objects;
    out
}

/// Parses the text of one file as [`parse_text`] does, but hands each object to `each` as soon as
/// its document is parsed instead of collecting them ([`Parsed::objects`] stays empty): what a scan
/// of a large file does, so that only one document's tree is alive at a time.
pub fn parse_text_each(file: &Arc<str>, text: &str, each: &mut dyn FnMut(Object)) -> Parsed {
    let mut out = Parsed::default();
    let mut objects = 0usize;
    let mut each = |obj: Object| {
        objects += 1;
        each(obj);
    };
    // Warnings for documents that are not objects and do not look like one (no kind, no
    // apiVersion): dropped when the whole file turns out not to be Kubernetes.
    let mut foreign = Vec::new();
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
            Ok(Some(root)) if !looks_like_an_object(&root) => {
                // Without kind and apiVersion this is never an object; the error says why.
                let pos = root.pos;
                let (why, pos) = match Object::from_node(root, file.clone(), doc.index, String::new()) {
                    Err(e) => (e.to_string(), e.pos()),
                    Ok(_) => ("not a Kubernetes object".to_owned(), pos),
                };
                foreign.push(Diagnostic::warning(
                    "not-an-object",
                    Location::at(file.clone(), pos),
                    format!("document {}: {why}; skipped", doc.index + 1),
                ));
            }
            Ok(Some(root)) => add_object(&mut out.diagnostics, &mut each, file, doc.index, root),
        }
    });
    let errors = out.diagnostics.iter().any(|d| d.level == crate::diag::DiagnosticLevel::Error);
    if objects == 0 && !foreign.is_empty() && !errors {
        out.not_kubernetes = true;
    } else {
        out.diagnostics.extend(foreign);
    }
    out
}

/// Whether a document means to be a Kubernetes object: it has at least one of the fields every
/// object (or nearly every one) has. A document with none of them (a Compose file, a CI
/// configuration, Helm values) is not Kubernetes.
fn looks_like_an_object(root: &YamlNode) -> bool {
    ["kind", "apiVersion", "metadata", "spec"].iter().any(|k| root.get(k).is_some())
}

fn add_object(
    diagnostics: &mut Vec<Diagnostic>,
    each: &mut dyn FnMut(Object),
    file: &Arc<str>,
    doc_index: usize,
    root: YamlNode,
) {
    let list_kind = root.get("kind").and_then(YamlNode::as_str).filter(|k| k.ends_with("List")).map(str::to_owned);
    let is_list = list_kind.is_some() && root.get("items").is_some_and(|i| matches!(i.value, Value::Seq(_)));
    if !is_list {
        push_object(diagnostics, each, file, doc_index, root, String::new());
        return;
    }
    // A typed list (`PodList`, as the API returns it) may omit kind and apiVersion on its items:
    // they are the list's item kind and the list's apiVersion. `kind: List` items carry their own.
    let item_kind =
        list_kind.as_deref().and_then(|k| k.strip_suffix("List")).filter(|k| !k.is_empty()).map(str::to_owned);
    let api_version = root.get("apiVersion").and_then(YamlNode::as_str).map(str::to_owned);
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
                        let value = YamlNode { value: Value::Str(value.clone()), pos };
                        fields.push(Entry { key: key.to_owned(), key_pos: pos, value });
                    }
                }
            }
            push_object(diagnostics, each, file, doc_index, item, format!("/items/{i}"));
        }
    }
}

fn push_object(
    diagnostics: &mut Vec<Diagnostic>,
    each: &mut dyn FnMut(Object),
    file: &Arc<str>,
    doc_index: usize,
    node: YamlNode,
    doc_pointer: String,
) {
    match Object::from_node(node, file.clone(), doc_index, doc_pointer) {
        Ok(obj) => {
            for field in ["name", "namespace", "generateName"] {
                let pointer = format!("/metadata/{field}");
                if let Some(value) = obj.root.pointer(&pointer).and_then(YamlNode::as_str)
                    && is_placeholder(value)
                {
                    diagnostics.push(Diagnostic::warning(
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
            each(obj);
        }
        Err(e) => diagnostics.push(Diagnostic::warning(
            "not-an-object",
            Location::at(file.clone(), e.pos()),
            format!("document {}: {e}; skipped", doc_index + 1),
        )),
    }
}

/// Reads and parses one input.
#[must_use]
pub fn load_input(input: &Input) -> Parsed {
    match read_input(input) {
        Ok(text) if matches!(input, Input::File(p) if is_dockerfile_path(p)) => {
            Parsed { dockerfile: Some((input.display_name().into(), text)), ..Parsed::default() }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An endless reader (what `/dev/zero` or `yes |` gives).
    struct Endless;

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            buf.fill(b'a');
            Ok(buf.len())
        }
    }

    #[test]
    fn reading_stops_one_byte_past_the_cap() {
        assert_eq!(read_capped(Endless, 1000).unwrap().len(), 1001);
        assert_eq!(read_capped(&b"abc"[..], 1000).unwrap(), b"abc");
        let e = decode_text("-".into(), read_capped(Endless, MAX_FILE_SIZE).unwrap()).unwrap_err();
        assert_eq!(e.code, "too-large");
    }

    /// Reproduction (issue "Trustworthy under attack and failure", item 10): a symlink to
    /// `/dev/zero` in a scanned directory was read until the OOM killer came, a FIFO blocked the
    /// scan forever. Both are refused when paths are expanded, before anything is opened.
    #[cfg(unix)]
    #[test]
    fn devices_fifos_and_sockets_are_not_inputs() {
        let dir = std::env::temp_dir().join(format!("kguard-model-special-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.yaml")).unwrap();
        let fifo = dir.join("pipe.yaml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let _socket = std::os::unix::net::UnixListener::bind(dir.join("socket.yaml")).unwrap();
        std::fs::write(dir.join("ok.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").unwrap();
        std::os::unix::fs::symlink(dir.join("ok.yaml"), dir.join("link.yaml")).unwrap();

        let (inputs, diags) = expand_paths(&[dir.clone(), PathBuf::from("/dev/zero")]);
        assert_eq!(inputs, vec![Input::File(dir.join("link.yaml")), Input::File(dir.join("ok.yaml"))]);
        let messages: Vec<String> = diags.iter().map(ToString::to_string).collect();
        assert_eq!(diags.len(), 4, "{messages:#?}");
        assert!(diags.iter().all(|d| d.code == "not-a-file"), "{messages:#?}");
        for (path, kind) in [
            (fifo.display().to_string(), "a FIFO (named pipe)"),
            (dir.join("zero.yaml").display().to_string(), "a character device"),
            (dir.join("socket.yaml").display().to_string(), "a socket"),
            ("/dev/zero".to_owned(), "a character device"),
        ] {
            assert!(
                diags.iter().any(|d| *d.location.file == path && d.message.contains(kind)),
                "{path}: {kind} in {messages:#?}"
            );
        }
        // Named directly to the reader, a device is refused as well (not opened, not read).
        let e = read_input(&Input::File(dir.join("zero.yaml"))).unwrap_err();
        assert_eq!(e.code, "not-a-file");
        let e = read_input(&Input::File(fifo)).unwrap_err();
        assert_eq!(e.code, "not-a-file");
        assert_eq!(load_input(&Input::File(dir.join("link.yaml"))).objects.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
