//! aa-logprof's "Glob" and "Glob with extension" suggestions: the next wider pattern for a path
//! taken from a log (`/foo/bar/baz` → `/foo/bar/*` → `/foo/**`; with the extension kept,
//! `/foo/bar/baz.log` → `/foo/bar/*.log` → `/foo/**.log`). The same rewrites as upstream's
//! `AARE.glob_path` and `AARE.glob_path_withext`, pattern for pattern.

use std::sync::LazyLock;

use regex::{NoExpand, Regex};

/// Which suggestion to apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Glob {
    /// The path as logged.
    #[default]
    None,
    /// Glob the last path component (`/a/b/c` → `/a/b/*`, `/a/b/*` → `/a/**`).
    Path,
    /// Glob the last component but keep its extension (`/a/b/c.log` → `/a/b/*.log`); paths
    /// without an extension and directories are kept.
    Ext,
}

fn re(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static DIR_STAR_DIR: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+/\*{1,2}/$"));
static DIR_STARSTAR_IN: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+\*\*[^/]*/$"));
static DIR_STARSTAR_LEAD: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/\*\*[^/]+/$"));
static DIR_LAST: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+/$"));
static FILE_STAR: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+/\*{1,2}$"));
static FILE_STARSTAR_IN: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]*\*\*[^/]+$"));
static FILE_STARSTAR_END: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+\*\*$"));
static FILE_LAST: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+$"));
static EXT_STAR: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/\*{1,2}(\.[^/]+)$"));
static EXT_STAR_PARENT: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+/\*{1,2}\.[^/]+$"));
static EXT_STARSTAR_IN: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+\*\*[^/]*(\.[^/]+)$"));
static EXT_STARSTAR_LEAD: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/\*\*[^/]+(\.[^/]+)$"));
static EXT_LAST: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"/[^/]+(\.[^/]+)$"));

fn found(r: &LazyLock<Option<Regex>>, s: &str) -> bool {
    r.as_ref().is_some_and(|r| r.is_match(s))
}

/// `s` with the (one, end-anchored) match of `r` replaced by `with`.
fn sub(r: &LazyLock<Option<Regex>>, s: &str, with: &str) -> String {
    match r.as_ref() {
        Some(r) => r.replace(s, NoExpand(with)).into_owned(),
        None => s.to_owned(),
    }
}

/// The extension captured by `r` in `s` (group 1).
fn ext<'a>(r: &LazyLock<Option<Regex>>, s: &'a str) -> Option<&'a str> {
    r.as_ref()?.captures(s)?.get(1).map(|m| m.as_str())
}

/// aa-logprof's "Glob" of a file or directory path (a trailing `/` is a directory).
#[must_use]
pub fn glob_path(path: &str) -> String {
    if path.ends_with('/') {
        if path.ends_with("/**/") || path.ends_with("/*/") {
            sub(&DIR_STAR_DIR, path, "/**/")
        } else if found(&DIR_STARSTAR_IN, path) {
            sub(&DIR_STARSTAR_IN, path, "/**/")
        } else if found(&DIR_STARSTAR_LEAD, path) {
            sub(&DIR_STARSTAR_LEAD, path, "/**/")
        } else {
            sub(&DIR_LAST, path, "/*/")
        }
    } else if path.ends_with("/**") || path.ends_with("/*") {
        sub(&FILE_STAR, path, "/**")
    } else if found(&FILE_STARSTAR_IN, path) {
        sub(&FILE_STARSTAR_IN, path, "/**")
    } else if found(&FILE_STARSTAR_END, path) {
        sub(&FILE_STARSTAR_END, path, "/**")
    } else {
        sub(&FILE_LAST, path, "/*")
    }
}

/// aa-logprof's "Glob with extension": files without an extension and directories are kept.
#[must_use]
pub fn glob_path_withext(path: &str) -> String {
    if let Some(e) = ext(&EXT_STAR, path) {
        sub(&EXT_STAR_PARENT, path, &format!("/**{e}"))
    } else if let Some(e) = ext(&EXT_STARSTAR_IN, path) {
        sub(&EXT_STARSTAR_IN, path, &format!("/**{e}"))
    } else if let Some(e) = ext(&EXT_STARSTAR_LEAD, path) {
        sub(&EXT_STARSTAR_LEAD, path, &format!("/**{e}"))
    } else if let Some(e) = ext(&EXT_LAST, path) {
        sub(&EXT_LAST, path, &format!("/*{e}"))
    } else {
        path.to_owned()
    }
}

impl Glob {
    /// `path` globbed as this option says.
    #[must_use]
    pub fn apply(self, path: &str) -> String {
        match self {
            Glob::None => path.to_owned(),
            Glob::Path => glob_path(path),
            Glob::Ext => glob_path_withext(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_widen_step_by_step() {
        assert_eq!(glob_path("/var/log/app/x.log"), "/var/log/app/*");
        assert_eq!(glob_path("/var/log/app/*"), "/var/log/**");
        assert_eq!(glob_path("/var/log/app/"), "/var/log/*/");
        assert_eq!(glob_path_withext("/var/log/app/x.log"), "/var/log/app/*.log");
        assert_eq!(glob_path_withext("/var/log/app/*.log"), "/var/log/**.log");
        assert_eq!(glob_path_withext("/var/log/app/"), "/var/log/app/");
        assert_eq!(Glob::None.apply("/a/b"), "/a/b");
    }
}
