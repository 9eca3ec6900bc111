//! Test support: finding the external oracles and corpus in `../shared`.
//!
//! Tests never copy upstream data into the project; they read it from `$KGUARD_SHARED` or, by
//! default, the `shared/` folder beside the repository. Where it is absent (a fresh clone), a test
//! calling [`shared_path`] prints a loud `SKIPPED` line and gets `None`. CI sets
//! `KGUARD_REQUIRE_SHARED=1`, which turns a missing folder into a test failure instead.
#![allow(clippy::panic)] // test support: failing loudly is its purpose

use std::path::PathBuf;

/// The shared folder: `$KGUARD_SHARED`, else `<repo>/../shared`.
#[must_use]
pub fn shared_root() -> PathBuf {
    std::env::var_os("KGUARD_SHARED").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared"))
}

/// `shared_root()/rel` when it exists. When it does not: `None` after printing a loud reason,
/// or a panic when `KGUARD_REQUIRE_SHARED` is set (CI).
#[must_use]
pub fn shared_path(rel: &str) -> Option<PathBuf> {
    let path = shared_root().join(rel);
    if path.exists() {
        return Some(path);
    }
    let msg = format!("{} not found (set KGUARD_SHARED to the folder holding oracles/ and corpus/)", path.display());
    if std::env::var_os("KGUARD_REQUIRE_SHARED").is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("KGUARD_REQUIRE_SHARED is set but {msg}");
    }
    eprintln!("SKIPPED: {msg}");
    None
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
