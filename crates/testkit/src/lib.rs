//! Test support: finding the external oracles and corpus in `../shared`; temporary directories;
//! a loopback HTTP receiver ([`http_receiver`]) standing in for webhook and alert endpoints;
//! generated pod-heavy manifests ([`pods`]) for the scaling tests and `bench/scan-memory.sh`.
//!
//! Tests never copy upstream data into the project; they read it from `$KGUARD_SHARED` or, by
//! default, the `shared/` folder beside the repository. Where it is absent (a fresh clone), a test
//! calling [`shared_path`] prints a loud `SKIPPED` line and gets `None`. CI sets
//! `KGUARD_REQUIRE_SHARED=1`, which turns a missing folder into a test failure instead.
#![allow(clippy::panic)] // test support: failing loudly is its purpose

pub mod generate;
pub mod kube;

use std::path::PathBuf;

pub mod pods;

/// The shared folder: `$KGUARD_SHARED`, else `<repo>/../shared`.
#[must_use]
pub fn shared_root() -> PathBuf {
    std::env::var_os("KGUARD_SHARED").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared"))
}

/// Whether this run must not skip (CI sets `KGUARD_REQUIRE_SHARED=1`): a missing oracle folder or
/// tool is then a failure.
#[must_use]
pub fn strict() -> bool {
    std::env::var_os("KGUARD_REQUIRE_SHARED").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Says that a test skips, and why, where a reader sees it: written straight to the process's
/// stderr, which the test harness does not capture (its capture takes only `print!` and
/// `eprint!`), so the line shows in `cargo test` output even when the test passes.
pub fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// `shared_root()/rel` when it exists. When it does not: `None` after a visible [`skip`] line,
/// or a panic when [`strict`] (CI).
#[must_use]
pub fn shared_path(rel: &str) -> Option<PathBuf> {
    let path = shared_root().join(rel);
    if path.exists() {
        return Some(path);
    }
    let msg = format!("{} not found (set KGUARD_SHARED to the folder holding oracles/ and corpus/)", path.display());
    if strict() {
        panic!("KGUARD_REQUIRE_SHARED is set but {msg}");
    }
    skip(rel, &msg);
    None
}

/// Whether the external tool `name` (curl, openssl) runs (`name --version`, or `version` for
/// openssl). When it does not: `false` after a visible [`skip`] line naming `test`, or a panic
/// when [`strict`] (CI installs them).
#[must_use]
pub fn tool(name: &str, test: &str) -> bool {
    let arg = if name == "openssl" { "version" } else { "--version" };
    let ok = std::process::Command::new(name)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if strict() {
            panic!("KGUARD_REQUIRE_SHARED is set (CI) but `{name}` is not installed: {test} needs it");
        }
        skip(test, &format!("`{name}` is not installed"));
    }
    ok
}

/// The repository root (for fixtures inside the project).
///
/// Taken from the `CARGO_MANIFEST_DIR` that cargo sets when it runs a test (every crate lives at
/// `crates/<name>`), so it is right even when a build cache compiled this crate in another
/// checkout; the compile-time value is the fallback.
#[must_use]
pub fn repo_root() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    crate_dir.join("../..")
}

/// A temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/kguard-<label>-<pid>-<n>`.
    ///
    /// # Panics
    /// When the directory cannot be created (tests only).
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn new(label: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("kguard-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    /// The path.
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One HTTP/1.1 request as a test receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    /// `POST /falco HTTP/1.1`.
    pub line: String,
    /// Header names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (`content-length` bytes).
    pub body: Vec<u8>,
}

/// A loopback HTTP/1.1 receiver (a webhook or alert endpoint stand-in): one connection per
/// request, answered with `codes` in turn (empty body, `connection: close`), then it stops.
/// Returns its base URL (`http://127.0.0.1:PORT`) and the thread, which yields what it received.
///
/// # Panics
/// When loopback cannot be bound, or a request is not HTTP/1.1 as expected (tests only).
#[must_use]
#[allow(clippy::expect_used, clippy::unwrap_used)]
pub fn http_receiver(codes: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<Received>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for code in codes {
            let (stream, _) = listener.accept().expect("accept");
            let mut r = BufReader::new(stream);
            let mut line = String::new();
            r.read_line(&mut line).expect("request line");
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).expect("header");
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').expect("header name: value");
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
            let len: usize = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            r.read_exact(&mut body).expect("body");
            let reply = format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            r.into_inner().write_all(reply.as_bytes()).expect("reply");
            seen.push(Received { line: line.trim_end().to_owned(), headers, body });
        }
        seen
    });
    (url, handle)
}

/// The bytes of `path` in the layers of the `docker save` archive `archive` (the first layer
/// that holds it), for tests that build other inputs from a fixture image's files.
///
/// # Panics
/// When the archive cannot be read or holds no such file.
#[must_use]
#[allow(clippy::expect_used)]
pub fn image_file(archive: &std::path::Path, path: &str) -> Vec<u8> {
    use std::io::Read as _;
    let mut outer = tar::Archive::new(std::fs::File::open(archive).expect("open the image archive"));
    for e in outer.entries().expect("read the image archive") {
        let mut e = e.expect("read an archive entry");
        if !e.path().expect("an entry name").to_string_lossy().ends_with("layer.tar") {
            continue;
        }
        let mut layer = Vec::new();
        e.read_to_end(&mut layer).expect("read a layer");
        for f in tar::Archive::new(&layer[..]).entries().expect("read a layer's entries") {
            let mut f = f.expect("read a layer entry");
            if f.path().expect("an entry name").to_string_lossy().trim_start_matches("./") == path {
                let mut b = Vec::new();
                f.read_to_end(&mut b).expect("read the file");
                return b;
            }
        }
    }
    panic!("{path} is not in {}", archive.display());
}
