//! Container images as scan inputs, read without a container runtime: `docker save` archives
//! (a tar, optionally gzip-compressed, or its unpacked directory) and OCI image layouts (a
//! directory or a tar of one). Layers are applied in order as the OCI image spec says: a
//! `.wh.NAME` entry deletes `NAME` from the lower layers, `.wh..wh..opq` empties its directory
//! of what the lower layers put there, and a non-directory hides whatever was below its path.
//!
//! Only the files a scan asks for (a `wanted` predicate) are kept, each at most
//! [`crate::pkgdb::MAX_DB`] bytes, so memory does not grow with the image. Every blob named by
//! its digest is verified (`sha256`), and every layer's uncompressed stream against the config's
//! `rootfs.diff_ids`. Nothing is ever written: entries with `..` are skipped and reported, absolute
//! names are taken relative to the image root, symlinks are recorded but never followed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::files::Files;
use crate::lang::installed::{self, Analyzed};
use crate::pkgdb::{MAX_DB, PkgDbError};

/// Most bytes of a manifest, index or config blob.
const MAX_META: u64 = 16 << 20;
/// Default cap on the uncompressed bytes of all layers together (`--max-image-size`).
pub const DEFAULT_MAX_UNCOMPRESSED: u64 = 32 << 30;
/// Executables in a layer stream larger than this are analyzed from a temporary file.
const SPILL: u64 = 8 << 20;
/// How deep symlinks between blobs of a `docker save` archive are followed (inside it only).
const MAX_BLOB_LINKS: usize = 8;
/// How deep image indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Reading failed.
    #[error("{0}: {1}")]
    Io(String, io::Error),
    /// Not an image, or a manifest, index or config that does not say what it must.
    #[error("{0}: {1}")]
    Format(String, String),
    /// A blob whose content does not have its digest.
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    Digest {
        /// The blob or layer.
        what: String,
        /// The digest it is named by.
        expected: String,
        /// The digest of what was read.
        actual: String,
    },
    /// Past the cap on uncompressed bytes.
    #[error("{0}: the layers expand past {1} bytes (raise it with --max-image-size)")]
    TooLarge(String, u64),
}

/// How an image is read.
#[derive(Clone)]
pub struct Options<'a> {
    /// Which files (relative paths, `/`-separated) to keep.
    pub wanted: &'a dyn Fn(&str) -> bool,
    /// Cap on the uncompressed bytes of all layers.
    pub max_uncompressed: u64,
    /// `os/arch[/variant]` to choose from an index with several images.
    pub platform: Option<String>,
    /// Also keep what the installed-language-package scan needs
    /// ([`crate::lang::installed`]): its small metadata files whole, and of each Java archive
    /// and executable ELF file only the packages it holds, analyzed as the layer is read.
    pub lang_packages: bool,
    /// Read every layer whole and check it against the config's `rootfs.diff_ids` (and a blob
    /// named by its digest against that digest). Without it, only layers read whole anyway
    /// (compressed ones) are checked, and an uncompressed layer stored on disk is walked by
    /// seeking past the files the scan does not need, as Trivy reads an archive.
    pub verify_layers: bool,
}

/// The input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `docker save` (`manifest.json`).
    DockerArchive,
    /// OCI image layout (`oci-layout`, `index.json`).
    OciLayout,
}

/// A read image.
#[derive(Debug)]
pub struct Image {
    /// The input as named.
    pub name: String,
    /// Its format.
    pub format: Format,
    /// `sha256:` of the config blob.
    pub image_id: String,
    /// The config's `rootfs.diff_ids`.
    pub diff_ids: Vec<String>,
    /// Tags recorded in the archive.
    pub repo_tags: Vec<String>,
    /// `repository@digest` when the image came from a registry (set by the caller).
    pub repo_digests: Vec<String>,
    /// The image config.
    pub config: Value,
    /// The wanted files of the merged layers.
    pub files: Layered,
    /// Entries skipped (outside the root, too large), with their layer.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>),
    /// An archive or executable, kept as the packages it holds rather than its bytes.
    Analyzed(Analyzed),
    /// Present but not readable as a regular file (symlink, device, too large).
    Other,
}

/// The wanted files of an image's merged layers.
#[derive(Debug, Default)]
pub struct Layered {
    name: String,
    entries: BTreeMap<String, Node>,
}

impl Layered {
    /// The paths kept, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().filter(|(_, n)| matches!(n, Node::File(_))).map(|(k, _)| k.as_str())
    }

    /// Removes `path` and everything below it.
    fn remove_tree(&mut self, path: &str) {
        self.entries.remove(path);
        if !path.is_empty() {
            self.remove_children(path);
        }
    }

    /// Removes everything below directory `dir` (the whole tree for the root).
    fn remove_children(&mut self, dir: &str) {
        if dir.is_empty() {
            self.entries.clear();
            return;
        }
        let prefix = format!("{dir}/");
        let doomed: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.entries.remove(&k);
        }
    }
}

impl Files for Layered {
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, PkgDbError> {
        Ok(match self.entries.get(rel) {
            Some(Node::File(b)) => Some(b.clone()),
            _ => None,
        })
    }

    fn list(&self, rel: &str) -> Result<Vec<String>, PkgDbError> {
        let prefix = format!("{rel}/");
        Ok(self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, n)| matches!(n, Node::File(_)))
            .filter_map(|(k, _)| k.get(prefix.len()..))
            .filter(|n| !n.contains('/'))
            .map(str::to_owned)
            .collect())
    }

    fn is_file(&self, rel: &str) -> bool {
        matches!(self.entries.get(rel), Some(Node::File(_)))
    }

    fn display(&self, rel: &str) -> String {
        format!("{}:/{rel}", self.name)
    }

    fn walk(&self, keep: &dyn Fn(&str, bool) -> bool) -> Result<Vec<(String, bool)>, PkgDbError> {
        Ok(self
            .entries
            .iter()
            .filter_map(|(k, n)| match n {
                Node::File(_) => Some((k, false)),
                Node::Analyzed(_) => Some((k, true)),
                Node::Other => None,
            })
            .filter(|(k, exec)| {
                let mut dirs = k.split('/');
                dirs.next_back();
                let mut at = String::new();
                let skipped = dirs.any(|d| {
                    if !at.is_empty() {
                        at.push('/');
                    }
                    at.push_str(d);
                    crate::files::skipped_dir(&at)
                });
                !skipped && keep(k, *exec)
            })
            .take(installed::MAX_FILES)
            .map(|(k, exec)| (k.clone(), exec))
            .collect())
    }

    fn analyze(&self, rel: &str) -> Result<Option<Analyzed>, PkgDbError> {
        Ok(match self.entries.get(rel) {
            Some(Node::Analyzed(a)) => Some(a.clone()),
            Some(Node::File(b)) => installed::analyze_bytes(rel, b),
            _ => None,
        })
    }
}

/// The relative form of a tar entry name: `./` and leading `/` dropped; `None` when it climbs
/// out with `..` or names the root itself.
#[must_use]
pub fn normalize(raw: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(raw);
    let mut parts: Vec<&str> = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    if parts.is_empty() { None } else { Some(parts.join("/")) }
}

/// Where a symlink in directory `dir` pointing at `target` leads, resolved by name inside the
/// archive (`..` may not climb above its root); `None` when it would leave it.
fn resolve_link(dir: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> =
        if target.starts_with('/') { Vec::new() } else { dir.split('/').filter(|c| !c.is_empty()).collect() };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() { None } else { Some(parts.join("/")) }
}

fn sha256_hex(data: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// A reader that hashes what passes through it (or only counts it, when no digest is needed).
struct Hashing<R> {
    inner: R,
    ctx: Option<aws_lc_rs::digest::Context>,
    n: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self { inner, ctx: Some(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256)), n: 0 }
    }
    fn counting(inner: R) -> Self {
        Self { inner, ctx: None, n: 0 }
    }
    /// `sha256:HEX` (empty when only counting) and the bytes read.
    fn finish(self) -> (String, u64) {
        (self.ctx.map(|c| format!("sha256:{}", hex(c.finish().as_ref()))).unwrap_or_default(), self.n)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let (Some(ctx), Some(b)) = (self.ctx.as_mut(), buf.get(..n)) {
            ctx.update(b);
        }
        self.n += n as u64;
        Ok(n)
    }
}

/// A reader that hashes what passes through it on another thread: each read is copied to a
/// hashing thread over a bounded channel, so that digesting a layer overlaps with reading it.
/// Reads should be large (a `BufReader` of at least 256 KiB above it).
struct ThreadHashing<R> {
    inner: R,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    worker: Option<std::thread::JoinHandle<String>>,
}

impl<R> ThreadHashing<R> {
    fn new(inner: R) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let worker = std::thread::Builder::new()
            .name("kguard-layer-sha256".into())
            .spawn(move || {
                let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
                for chunk in rx {
                    ctx.update(&chunk);
                }
                format!("sha256:{}", hex(ctx.finish().as_ref()))
            })
            .ok();
        // Without a thread (spawn failed), hash nothing here: `finish` then reports no digest
        // and the caller hashes inline instead.
        Self { inner, tx: worker.as_ref().map(|_| tx), worker }
    }

    /// The digest of everything read, or `None` when no thread could be started.
    fn finish(mut self) -> Option<String> {
        drop(self.tx.take());
        self.worker.take().and_then(|w| w.join().ok())
    }
}

impl<R: Read> Read for ThreadHashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let (Some(tx), Some(b)) = (&self.tx, buf.get(..n))
            && n > 0
        {
            tx.send(b.to_vec()).map_err(|_| io::Error::other("the hashing thread stopped"))?;
        }
        Ok(n)
    }
}

/// A reader that fails once more than `left` bytes have passed.
struct Capped<R> {
    inner: R,
    left: u64,
    hit: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.checked_sub(n as u64) {
            Some(l) => {
                self.left = l;
                Ok(n)
            }
            None => {
                self.hit = true;
                Err(io::Error::other("uncompressed size cap reached"))
            }
        }
    }
}

/// What a [`Window`] reads from: a file (by `pread`, so windows on one file never share a
/// cursor) or bytes in memory.
pub trait ReadAt: Send + Sync {
    /// Reads at `offset`, as `pread(2)`: fewer bytes than asked only at the end.
    ///
    /// # Errors
    /// As the underlying read.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

impl ReadAt for File {
    #[cfg(unix)]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
    #[cfg(windows)]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::windows::fs::FileExt::seek_read(self, buf, offset)
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let rest = usize::try_from(offset).ok().and_then(|o| self.get(o..)).unwrap_or_default();
        let n = rest.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), rest.get(..n)) {
            to.copy_from_slice(from);
        }
        Ok(n)
    }
}

/// `len` bytes of a [`ReadAt`] from `start`, with its own cursor: `Read` and `Seek`, so a tar
/// can be walked by seeking past the entries a scan does not need, and an executable parsed
/// by reading only its headers and sections.
#[derive(Clone)]
pub(crate) struct Window {
    src: Arc<dyn ReadAt>,
    start: u64,
    len: u64,
    pos: u64,
}

impl Window {
    pub(crate) fn new(src: Arc<dyn ReadAt>, start: u64, len: u64) -> Self {
        Self { src, start, len, pos: 0 }
    }

    /// `len` bytes from `at` of this window (cut at its end), with a cursor of their own.
    fn sub(&self, at: u64, len: u64) -> Self {
        let at = at.min(self.len);
        Self { src: Arc::clone(&self.src), start: self.start + at, len: len.min(self.len - at), pos: 0 }
    }

    /// The first `n` bytes (fewer when the window is shorter).
    fn head(&self, n: usize) -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(n);
        self.sub(0, n as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.len.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let Some(buf) = buf.get_mut(..left.min(buf.len())) else { return Ok(0) };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.src.read_at(buf, self.start + self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.pos)
    }
}

/// Where the blobs are: an unpacked directory, or a tar indexed by entry name.
enum Store {
    Dir(PathBuf),
    Tar { file: Arc<File>, index: BTreeMap<String, TarEntry> },
}

#[derive(Debug, Clone)]
enum TarEntry {
    File { offset: u64, size: u64 },
    Link(String),
}

impl Store {
    fn open_input(path: &Path, shown: &str, max: u64) -> Result<Self, ImageError> {
        let io = |e| ImageError::Io(shown.to_owned(), e);
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Ok(Self::Dir(path.to_path_buf()));
        }
        if !meta.is_file() {
            return Err(ImageError::Format(shown.to_owned(), "not a regular file or directory".into()));
        }
        let mut file = File::open(path).map_err(io)?;
        let mut magic = [0u8; 2];
        let got = file.read(&mut magic).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        if got == 2 && magic == [0x1f, 0x8b] {
            // A gzip-compressed archive cannot be read at offsets: unpack it once to an anonymous
            // temporary file (removed when closed), within the size cap.
            let mut tmp = tempfile::tempfile().map_err(io)?;
            let mut src =
                Capped { inner: flate2::read::MultiGzDecoder::new(BufReader::new(file)), left: max, hit: false };
            match io::copy(&mut src, &mut tmp) {
                Ok(_) => {}
                Err(_) if src.hit => return Err(ImageError::TooLarge(shown.to_owned(), max)),
                Err(e) => return Err(io(e)),
            }
            tmp.seek(SeekFrom::Start(0)).map_err(io)?;
            file = tmp;
        }
        let index = index_tar(&mut file, shown)?;
        Ok(Self::Tar { file: Arc::new(file), index })
    }

    fn resolve(&self, name: &str, shown: &str) -> Result<Option<(u64, u64)>, ImageError> {
        let Self::Tar { index, .. } = self else { return Ok(None) };
        let mut name = name.to_owned();
        for _ in 0..MAX_BLOB_LINKS {
            match index.get(&name) {
                Some(TarEntry::File { offset, size }) => return Ok(Some((*offset, *size))),
                Some(TarEntry::Link(t)) => name = t.clone(),
                None => {
                    return Err(ImageError::Format(shown.to_owned(), format!("{name}: no such entry in the archive")));
                }
            }
        }
        Err(ImageError::Format(shown.to_owned(), format!("{name}: too many links")))
    }

    fn exists(&self, name: &str) -> bool {
        match self {
            Self::Dir(d) => std::fs::symlink_metadata(d.join(name)).is_ok(),
            Self::Tar { index, .. } => index.contains_key(name),
        }
    }

    /// One blob, read by position.
    fn open(&self, name: &str, shown: &str) -> Result<Window, ImageError> {
        let what = format!("{shown}: {name}");
        let io = |e| ImageError::Io(what.clone(), e);
        match self {
            Self::Dir(d) => {
                let Some(rel) = normalize(name.as_bytes()) else {
                    return Err(ImageError::Format(shown.to_owned(), format!("{name}: outside the image directory")));
                };
                let p = d.join(&rel);
                // Blobs may be symlinks (docker save shares identical layers), but never to
                // anything outside the image directory.
                let real = p.canonicalize().map_err(io)?;
                let root = d.canonicalize().map_err(io)?;
                if !real.starts_with(&root) {
                    return Err(ImageError::Format(
                        shown.to_owned(),
                        format!("{name}: links outside the image directory"),
                    ));
                }
                let file = File::open(real).map_err(io)?;
                let len = file.metadata().map_err(io)?.len();
                Ok(Window::new(Arc::new(file), 0, len))
            }
            Self::Tar { file, .. } => {
                let Some((offset, size)) = self.resolve(name, shown)? else {
                    return Err(ImageError::Format(shown.to_owned(), format!("{name}: not found")));
                };
                let src: Arc<dyn ReadAt> = Arc::clone(file) as Arc<dyn ReadAt>;
                Ok(Window::new(src, offset, size))
            }
        }
    }

    /// A small blob (manifest, index, config) read whole, at most [`MAX_META`] bytes.
    fn read_small(&self, name: &str, shown: &str) -> Result<Vec<u8>, ImageError> {
        let mut buf = Vec::new();
        self.open(name, shown)?
            .take(MAX_META + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ImageError::Io(format!("{shown}: {name}"), e))?;
        if buf.len() as u64 > MAX_META {
            return Err(ImageError::Format(shown.to_owned(), format!("{name}: larger than {MAX_META} bytes")));
        }
        Ok(buf)
    }
}

fn index_tar(file: &mut File, shown: &str) -> Result<BTreeMap<String, TarEntry>, ImageError> {
    let bad = |e: io::Error| ImageError::Format(shown.to_owned(), format!("not a readable tar archive: {e}"));
    let mut index = BTreeMap::new();
    let len = file.metadata().map_err(|e| ImageError::Io(shown.to_owned(), e))?.len();
    let mut ar = tar::Archive::new(file);
    for entry in ar.entries_with_seek().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        if entry.header().entry_type().is_gnu_sparse() {
            continue; // stored in pieces: not a blob that can be read at one offset
        }
        // Entries are skipped by seeking, so a cut archive shows only here.
        if entry.raw_file_position().checked_add(entry.size()).is_none_or(|end| end > len) {
            return Err(bad(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("entry {:?} runs past the end of the file", String::from_utf8_lossy(&entry.path_bytes())),
            )));
        }
        let Some(name) = normalize(&entry.path_bytes()) else { continue };
        let kind = entry.header().entry_type();
        if kind.is_file() {
            index.insert(name, TarEntry::File { offset: entry.raw_file_position(), size: entry.size() });
        } else if kind.is_symlink() || kind.is_hard_link() {
            let Some(target) = entry.link_name_bytes() else { continue };
            let target = if kind.is_symlink() {
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                resolve_link(dir, &String::from_utf8_lossy(&target))
            } else {
                normalize(&target)
            };
            if let Some(t) = target {
                index.insert(name, TarEntry::Link(t));
            }
        }
    }
    Ok(index)
}

fn parse_json(bytes: &[u8], what: &str) -> Result<Value, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Format(what.to_owned(), format!("invalid JSON: {e}")))
}

/// `blobs/sha256/HEX` for a digest; only sha256 is read.
fn blob_path(digest: &str, shown: &str) -> Result<String, ImageError> {
    match digest.split_once(':') {
        Some(("sha256", h)) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("blobs/sha256/{h}"))
        }
        _ => Err(ImageError::Format(
            shown.to_owned(),
            format!("unsupported or malformed digest {digest:?} (sha256 only)"),
        )),
    }
}

fn str_at<'a>(v: &'a Value, key: &str, what: &str) -> Result<&'a str, ImageError> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| ImageError::Format(what.to_owned(), format!("missing {key:?}")))
}

/// Reads an image: a `docker save` tar (plain or gzip) or its directory, or an OCI layout
/// (directory or tar).
pub fn open(path: &Path, opts: &Options<'_>) -> Result<Image, ImageError> {
    let shown = path.display().to_string();
    let store = Store::open_input(path, &shown, opts.max_uncompressed)?;
    let (format, config_name, config_digest, layers, repo_tags) = if store.exists("manifest.json") {
        docker_manifest(&store, &shown)?
    } else if store.exists("index.json") && store.exists("oci-layout") {
        oci_manifest(&store, &shown, opts.platform.as_deref())?
    } else {
        return Err(ImageError::Format(
            shown,
            "not an image: expected a `docker save` archive (manifest.json) or an OCI image layout (oci-layout, index.json)"
                .into(),
        ));
    };
    let config_bytes = store.read_small(&config_name, &shown)?;
    let image_id = format!("sha256:{}", sha256_hex(&config_bytes));
    if let Some(expected) = config_digest
        && expected != image_id
    {
        return Err(ImageError::Digest { what: format!("{shown}: {config_name}"), expected, actual: image_id });
    }
    let config = parse_json(&config_bytes, &format!("{shown}: {config_name}"))?;
    let diff_ids: Vec<String> = config
        .pointer("/rootfs/diff_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    if diff_ids.len() != layers.len() {
        return Err(ImageError::Format(
            format!("{shown}: {config_name}"),
            format!("rootfs.diff_ids has {} entries for {} layers", diff_ids.len(), layers.len()),
        ));
    }
    let mut files = Layered { name: shown.clone(), entries: BTreeMap::new() };
    let mut warnings = Vec::new();
    let mut budget = opts.max_uncompressed;
    for (i, ((name, blob_digest), diff_id)) in layers.iter().zip(&diff_ids).enumerate() {
        let what = format!("{shown}: layer {} ({name})", i + 1);
        let blob = store.open(name, &shown)?;
        let head = blob.head(4).map_err(|e| ImageError::Io(what.clone(), e))?;
        let plain = !head.starts_with(&[0x1f, 0x8b]) && !head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        if plain && !opts.verify_layers {
            // An uncompressed layer stored on disk: walk its tar by seeking past what the scan
            // does not need. Its bytes are not all read, so its digests are not checked.
            apply_seekable(&mut files, blob, &what, opts, &mut budget, &mut warnings)?;
            continue;
        }
        // Read whole: the stored blob is hashed when it is named by a digest (OCI blobs,
        // Docker 25+), the uncompressed stream against the config's diff_id.
        let raw = if blob_digest.is_some() { Hashing::new(blob) } else { Hashing::counting(blob) };
        let (raw_digest, _) = apply_layer(&mut files, raw, &what, opts, &mut budget, &mut warnings, Some(diff_id))?;
        if let Some(expected) = blob_digest
            && *expected != raw_digest
        {
            return Err(ImageError::Digest { what, expected: expected.clone(), actual: raw_digest });
        }
    }
    Ok(Image { name: shown, format, image_id, diff_ids, repo_tags, repo_digests: Vec::new(), config, files, warnings })
}

/// Applies one layer stream (a tar, plain, gzip or zstd) to an empty tree: the wanted files it
/// holds, and its warnings. The tar walker alone, as [`open`] runs it for each layer.
pub fn read_layer<R: Read>(reader: R, name: &str, opts: &Options<'_>) -> Result<(Layered, Vec<String>), ImageError> {
    let mut files = Layered { name: name.to_owned(), entries: BTreeMap::new() };
    let mut warnings = Vec::new();
    let mut budget = opts.max_uncompressed;
    apply_layer(&mut files, Hashing::new(reader), name, opts, &mut budget, &mut warnings, None)?;
    Ok((files, warnings))
}

/// [`read_layer`] for an uncompressed layer held whole (in memory or a file): the walk that
/// seeks past the entries it does not need, as [`open`] runs it for an uncompressed layer
/// stored on disk when [`Options::verify_layers`] is off.
///
/// # Errors
/// As [`open`] for one layer.
pub fn read_layer_at(
    src: Arc<dyn ReadAt>,
    len: u64,
    name: &str,
    opts: &Options<'_>,
) -> Result<(Layered, Vec<String>), ImageError> {
    let mut files = Layered { name: name.to_owned(), entries: BTreeMap::new() };
    let mut warnings = Vec::new();
    let mut budget = opts.max_uncompressed;
    apply_seekable(&mut files, Window::new(src, 0, len), name, opts, &mut budget, &mut warnings)?;
    Ok((files, warnings))
}

type Manifest = (Format, String, Option<String>, Vec<(String, Option<String>)>, Vec<String>);

/// `manifest.json` of `docker save`: the first image it lists.
fn docker_manifest(store: &Store, shown: &str) -> Result<Manifest, ImageError> {
    let what = format!("{shown}: manifest.json");
    let m = parse_json(&store.read_small("manifest.json", shown)?, &what)?;
    let Some(first) = m.as_array().and_then(|a| a.first()) else {
        return Err(ImageError::Format(what, "expected a list with at least one image".into()));
    };
    let config = str_at(first, "Config", &what)?.to_owned();
    let config_name = normalize(config.as_bytes())
        .ok_or_else(|| ImageError::Format(what.clone(), format!("bad Config {config:?}")))?;
    // Blobs named by their digest (`blobs/sha256/HEX`, or the old `HEX.json` config) are verified.
    let digest_of = |name: &str| -> Option<String> {
        let h = name.strip_prefix("blobs/sha256/").or_else(|| name.strip_suffix(".json"))?;
        (h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{h}"))
    };
    let mut layers = Vec::new();
    for l in first.get("Layers").and_then(Value::as_array).into_iter().flatten() {
        let l = l.as_str().ok_or_else(|| ImageError::Format(what.clone(), "Layers: expected strings".into()))?;
        let n =
            normalize(l.as_bytes()).ok_or_else(|| ImageError::Format(what.clone(), format!("bad layer name {l:?}")))?;
        let d = n.strip_prefix("blobs/sha256/").and_then(|_| digest_of(&n));
        layers.push((n, d));
    }
    let tags = first
        .get("RepoTags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let cd = digest_of(&config_name);
    Ok((Format::DockerArchive, config_name, cd, layers, tags))
}

fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        a => a,
    };
    format!("linux/{arch}")
}

fn platform_of(d: &Value) -> Option<String> {
    let p = d.get("platform")?;
    let os = p.get("os")?.as_str()?;
    let arch = p.get("architecture")?.as_str()?;
    Some(match p.get("variant").and_then(Value::as_str) {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    })
}

/// Chooses one image of an index's `manifests`: the one for `platform` (`os/arch[/variant]`),
/// else the only one, else this machine's; attestation manifests (`unknown/unknown`) are not
/// images. The error lists the platforms the index holds.
pub fn choose_platform(list: &[Value], platform: Option<&str>) -> Result<usize, String> {
    let matches =
        |d: &Value, want: &str| platform_of(d).is_some_and(|p| p == want || p.starts_with(&format!("{want}/")));
    let images: Vec<(usize, &Value)> =
        list.iter().enumerate().filter(|(_, d)| platform_of(d).is_none_or(|p| !p.starts_with("unknown/"))).collect();
    let chosen = match platform {
        Some(want) => images.iter().find(|(_, d)| matches(d, want)),
        None if images.len() == 1 => images.first(),
        None => {
            let host = host_platform();
            images.iter().find(|(_, d)| matches(d, &host))
        }
    };
    chosen.map(|(i, _)| *i).ok_or_else(|| {
        let have: Vec<String> = images.iter().map(|(_, d)| platform_of(d).unwrap_or_else(|| "?".into())).collect();
        format!(
            "no image for platform {} (have: {}); choose one with --platform",
            platform.map_or_else(host_platform, str::to_owned),
            have.join(", ")
        )
    })
}

/// `index.json` of an OCI layout, down to one image manifest.
fn oci_manifest(store: &Store, shown: &str, platform: Option<&str>) -> Result<Manifest, ImageError> {
    let layout = parse_json(&store.read_small("oci-layout", shown)?, &format!("{shown}: oci-layout"))?;
    if layout.get("imageLayoutVersion").and_then(Value::as_str).is_none() {
        return Err(ImageError::Format(format!("{shown}: oci-layout"), "missing \"imageLayoutVersion\"".into()));
    }
    let mut doc = parse_json(&store.read_small("index.json", shown)?, &format!("{shown}: index.json"))?;
    let mut doc_name = "index.json".to_owned();
    let mut tags: Vec<String> = Vec::new();
    for _ in 0..MAX_INDEX_DEPTH {
        let what = format!("{shown}: {doc_name}");
        if let Some(list) = doc.get("manifests").and_then(Value::as_array) {
            let i = choose_platform(list, platform).map_err(|e| ImageError::Format(what.clone(), e))?;
            let Some(d) = list.get(i) else {
                return Err(ImageError::Format(what, "no image chosen".into()));
            };
            for key in ["org.opencontainers.image.ref.name", "io.containerd.image.name"] {
                if let Some(t) = d.pointer(&format!("/annotations/{}", key.replace('/', "~1"))).and_then(Value::as_str)
                    && !tags.iter().any(|x| x == t)
                {
                    tags.push(t.to_owned());
                }
            }
            let digest = str_at(d, "digest", &what)?.to_owned();
            let name = blob_path(&digest, &what)?;
            let bytes = store.read_small(&name, shown)?;
            let actual = format!("sha256:{}", sha256_hex(&bytes));
            if actual != digest {
                return Err(ImageError::Digest { what: format!("{shown}: {name}"), expected: digest, actual });
            }
            doc = parse_json(&bytes, &format!("{shown}: {name}"))?;
            doc_name = name;
            continue;
        }
        let Some(cfg) = doc.get("config") else {
            return Err(ImageError::Format(
                what,
                "neither an image index (manifests) nor an image manifest (config)".into(),
            ));
        };
        let cd = str_at(cfg, "digest", &what)?.to_owned();
        let config_name = blob_path(&cd, &what)?;
        let mut layers = Vec::new();
        for l in doc.get("layers").and_then(Value::as_array).into_iter().flatten() {
            let d = str_at(l, "digest", &what)?.to_owned();
            let mt = l.get("mediaType").and_then(Value::as_str).unwrap_or_default();
            if mt.contains("foreign") || mt.contains("nondistributable") {
                return Err(ImageError::Format(what, format!("layer {d}: {mt} layers are not in the layout")));
            }
            layers.push((blob_path(&d, &what)?, Some(d)));
        }
        return Ok((Format::OciLayout, config_name, Some(cd), layers, tags));
    }
    Err(ImageError::Format(shown.to_owned(), "image indexes nested too deep".into()))
}

/// Applies one uncompressed layer over `files`, reading only the tar headers and the entries
/// the scan needs (of executables, only their headers and the sections holding packages).
fn apply_seekable(
    files: &mut Layered,
    blob: Window,
    what: &str,
    opts: &Options<'_>,
    budget: &mut u64,
    warnings: &mut Vec<String>,
) -> Result<(), ImageError> {
    if blob.len > *budget {
        return Err(ImageError::TooLarge(what.to_owned(), opts.max_uncompressed));
    }
    let mut new: BTreeMap<String, Node> = BTreeMap::new();
    let mut ar = tar::Archive::new(blob.clone());
    let walked = ar
        .entries_with_seek()
        .and_then(|entries| read_entries(entries, files, &mut new, what, opts, warnings, Some(&blob)));
    if let Err(e) = walked {
        return Err(ImageError::Format(what.to_owned(), format!("not a readable layer: {e}")));
    }
    *budget -= blob.len;
    files.entries.extend(new);
    Ok(())
}

/// Applies one layer over `files`; returns the digest and size of the raw blob.
fn apply_layer<R: Read>(
    files: &mut Layered,
    raw: Hashing<R>,
    what: &str,
    opts: &Options<'_>,
    budget: &mut u64,
    warnings: &mut Vec<String>,
    diff_id: Option<&str>,
) -> Result<(String, u64), ImageError> {
    let io = |e| ImageError::Io(what.to_owned(), e);
    let mut buffered = BufReader::with_capacity(256 << 10, raw);
    let head = buffered.fill_buf().map_err(io)?;
    let (gzip, zstd) = (head.starts_with(&[0x1f, 0x8b]), head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]));
    let decoder: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(&mut buffered))
    } else if zstd {
        Box::new(
            ruzstd::decoding::StreamingDecoder::new(&mut buffered)
                .map_err(|e| ImageError::Format(what.to_owned(), format!("bad zstd stream: {e}")))?,
        )
    } else {
        Box::new(&mut buffered)
    };
    let mut new: BTreeMap<String, Node> = BTreeMap::new();
    let (actual_diff, drained, hit, left) = {
        // Uncompressed bytes: capped, hashed on another thread in 1 MiB reads, then parsed.
        let hashed = ThreadHashing::new(Capped { inner: decoder, left: *budget, hit: false });
        let mut plain = BufReader::with_capacity(1 << 20, hashed);
        let result = tar::Archive::new(&mut plain)
            .entries()
            .and_then(|entries| read_entries(entries, files, &mut new, what, opts, warnings, None));
        // The rest of the stream (the tar's end blocks and padding) counts for the digests.
        let drained = result.and_then(|()| io::copy(&mut plain, &mut io::sink()).map(|_| ()));
        let hashed = plain.into_inner();
        let (hit, left) = (hashed.inner.hit, hashed.inner.left);
        let digest = hashed.finish();
        (digest, drained, hit, left)
    };
    if let Err(e) = drained {
        if hit {
            return Err(ImageError::TooLarge(what.to_owned(), opts.max_uncompressed));
        }
        return Err(ImageError::Format(what.to_owned(), format!("not a readable layer: {e}")));
    }
    *budget = left;
    if let Some(expected) = diff_id {
        let Some(actual) = actual_diff else {
            return Err(ImageError::Format(
                what.to_owned(),
                "could not start the thread that verifies the layer digest".into(),
            ));
        };
        if actual != expected {
            return Err(ImageError::Digest { what: what.to_owned(), expected: expected.to_owned(), actual });
        }
    }
    let mut raw = buffered.into_inner();
    io::copy(&mut raw, &mut io::sink()).map_err(io)?;
    for (k, v) in new {
        files.entries.insert(k, v);
    }
    Ok(raw.finish())
}

/// Applies a layer's entries; `seekable` is the layer itself when its entries can be read by
/// position (then an entry that runs past its end is an error here, as reading it would be).
fn read_entries<R: Read>(
    entries: tar::Entries<'_, R>,
    lower: &mut Layered,
    new: &mut BTreeMap<String, Node>,
    what: &str,
    opts: &Options<'_>,
    warnings: &mut Vec<String>,
    seekable: Option<&Window>,
) -> io::Result<()> {
    for entry in entries {
        let mut e = entry?;
        // (A sparse entry's size is that of the file it expands to, not of what is stored.)
        if let Some(layer) = seekable
            && !e.header().entry_type().is_gnu_sparse()
            && e.raw_file_position().checked_add(e.size()).is_none_or(|end| end > layer.len)
        {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("entry {:?} runs past the end of the layer", String::from_utf8_lossy(&e.path_bytes())),
            ));
        }
        let raw = e.path_bytes().into_owned();
        let Some(path) = normalize(&raw) else {
            if !matches!(&*String::from_utf8_lossy(&raw), "" | "." | "./" | "/") {
                warnings.push(format!(
                    "{what}: entry {:?} climbs out of the image root; skipped",
                    String::from_utf8_lossy(&raw)
                ));
            }
            continue;
        };
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if base == ".wh..wh..opq" {
            // Opaque: what the lower layers had in `dir` is gone; this layer's entries stay.
            lower.remove_children(dir);
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let target = if dir.is_empty() { hidden.to_owned() } else { format!("{dir}/{hidden}") };
            lower.remove_tree(&target);
            continue;
        }
        let kind = e.header().entry_type();
        if kind.is_dir() {
            // A directory hides a lower file of the same name, not a lower directory's contents.
            if matches!(lower.entries.get(&path), Some(Node::File(_) | Node::Other)) {
                lower.entries.remove(&path);
            }
            new.remove(&path);
            continue;
        }
        lower.remove_tree(&path);
        let wanted = (opts.wanted)(&path) || (opts.lang_packages && installed::wanted(&path));
        if !wanted && opts.lang_packages && kind.is_file() {
            let archive = installed::is_analyzed_archive(&path);
            let exec = e.header().mode().is_ok_and(|m| m & 0o111 != 0);
            if archive || exec {
                // A sparse entry's stored bytes are not the file: it is read through the tar.
                let node = match seekable {
                    Some(layer) if !e.header().entry_type().is_gnu_sparse() => {
                        analyze_at(&layer.sub(e.raw_file_position(), e.size()), &path, archive, what, warnings)?
                    }
                    _ => analyze_entry(&mut e, &path, archive, what, warnings)?,
                };
                if let Some(node) = node {
                    new.insert(path, node);
                }
                continue;
            }
        }
        let linked_analysis = opts.lang_packages && kind.is_hard_link() && !wanted;
        if !wanted && !linked_analysis {
            continue;
        }
        let node = if kind.is_file() {
            if e.size() > MAX_DB {
                warnings.push(format!("{what}: {path}: {} bytes, more than the {MAX_DB} read; skipped", e.size()));
                Node::Other
            } else {
                let mut buf = Vec::with_capacity(usize::try_from(e.size()).unwrap_or(0));
                (&mut e).take(MAX_DB).read_to_end(&mut buf)?;
                Node::File(buf)
            }
        } else if kind.is_hard_link() {
            let target = e.link_name_bytes().and_then(|t| normalize(&t));
            match target.and_then(|t| new.get(&t).or_else(|| lower.entries.get(&t)).cloned()) {
                Some(Node::Analyzed(a)) if linked_analysis => Node::Analyzed(a),
                _ if linked_analysis => continue,
                Some(n) => n,
                None => Node::Other,
            }
        } else {
            Node::Other
        };
        new.insert(path, node);
    }
    Ok(())
}

/// Reads an archive or executable entry and keeps only what it holds: `None` for an
/// executable that is not ELF, PE, Mach-O or WebAssembly (only its first four bytes are read)
/// or holds no Go build information or Rust dependency list.
fn analyze_entry<R: Read>(
    e: &mut tar::Entry<'_, R>,
    path: &str,
    archive: bool,
    what: &str,
    warnings: &mut Vec<String>,
) -> io::Result<Option<Node>> {
    let mut buf = Vec::with_capacity(4);
    (&mut *e).take(4).read_to_end(&mut buf)?;
    if !archive && !crate::lang::rustbinary::is_binary_format(&buf) {
        return Ok(None);
    }
    if e.size() > MAX_DB {
        warnings.push(format!("{what}: {path}: {} bytes, more than the {MAX_DB} read; skipped", e.size()));
        return Ok(None);
    }
    if !archive && e.size() > SPILL {
        // A large executable in a stream: copied to an unnamed temporary file (gone when
        // closed) and read by position there, so memory does not grow with the binary.
        let mut tmp = tempfile::tempfile()?;
        io::Write::write_all(&mut tmp, &buf)?;
        io::copy(&mut (&mut *e).take(MAX_DB), &mut tmp)?;
        let len = tmp.metadata()?.len();
        let data = Window::new(Arc::new(tmp), 0, len);
        return Ok(installed::analyze_executable(&object::ReadCache::new(data)).map(Node::Analyzed));
    }
    buf.reserve(usize::try_from(e.size()).unwrap_or(0));
    (&mut *e).take(MAX_DB).read_to_end(&mut buf)?;
    Ok(installed::analyze_bytes(path, &buf).map(Node::Analyzed))
}

/// [`analyze_entry`] by position: an executable's headers and package sections only.
fn analyze_at(
    data: &Window,
    path: &str,
    archive: bool,
    what: &str,
    warnings: &mut Vec<String>,
) -> io::Result<Option<Node>> {
    let head = data.head(4)?;
    if !archive && !crate::lang::rustbinary::is_binary_format(&head) {
        return Ok(None);
    }
    if data.len > MAX_DB {
        warnings.push(format!("{what}: {path}: {} bytes, more than the {MAX_DB} read; skipped", data.len));
        return Ok(None);
    }
    if archive {
        let mut buf = Vec::with_capacity(usize::try_from(data.len).unwrap_or(0));
        data.clone().read_to_end(&mut buf)?;
        return Ok(installed::analyze_bytes(path, &buf).map(Node::Analyzed));
    }
    Ok(installed::analyze_executable(&object::ReadCache::new(data.clone())).map(Node::Analyzed))
}
