//! Expanding command-line paths into inputs: directories walked recursively (sorted, hidden
//! entries and non-manifest extensions skipped, each directory entered once), excludes applied,
//! Helm charts recognised.
//!
//! **Excludes** are gitignore patterns (the `ignore` crate's matcher, as ripgrep uses):
//! `--exclude` patterns match a path relative to the working directory or relative to the
//! directory named on the command line that the walk started from (either matching excludes; so
//! `--exclude vendor/` and `--exclude '*.tmpl.yaml'` work wherever the scanned directory is); a
//! configuration file's `exclude:` list and `.kguardignore` files are relative to their own
//! directory (a `.kguardignore` is read from the working directory and from every directory
//! walked, and applies to its subtree; a deeper file's patterns, `!negations` included, win).
//! They apply to what a directory walk finds: a file named on the command line is always read,
//! as ruff and ripgrep do. An excluded directory is not entered.
//!
//! **Helm charts**: a directory holding `Chart.yaml` is a chart. Its `templates/` hold Go
//! templates, not manifests, and are not read (one warning per chart says how to render and pipe
//! them); `Chart.yaml`, `Chart.lock`, `values*.yaml`, `values.schema.json` and `requirements.*`
//! are not manifests and are skipped quietly; `crds/` and subcharts are walked as usual.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::{Input, io_reason, is_dockerfile_path, is_manifest_path, not_a_file};
use crate::diag::Diagnostic;
use crate::source::{Location, Pos};

/// The name of the ignore file read in the working directory and in every directory walked.
pub const IGNORE_FILE: &str = ".kguardignore";

/// Paths a walk leaves out: gitignore matchers, each rooted at a directory.
#[derive(Debug, Default)]
pub struct Excludes {
    /// (root, matcher), shallowest first: the last matcher with an opinion decides.
    matchers: Vec<(PathBuf, Gitignore)>,
    /// Matchers of relative paths (`--exclude`): tried on the path relative to the working
    /// directory and relative to the walk's starting directory.
    floating: Vec<Gitignore>,
}

/// A bad exclude pattern or ignore file: where, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ExcludeError {
    /// `--exclude`, a configuration file or an ignore file.
    pub source_name: String,
    /// The line of an ignore file.
    pub line: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl Excludes {
    /// No excludes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds gitignore-style `patterns` relative to `base` (a configuration file's directory for
    /// its `exclude:`).
    ///
    /// # Errors
    /// The first pattern that is not a valid glob, named with `source_name`.
    pub fn add_patterns(&mut self, base: &Path, source_name: &str, patterns: &[String]) -> Result<(), ExcludeError> {
        if patterns.is_empty() {
            return Ok(());
        }
        let root = absolute(base);
        let b = builder(&root, source_name, patterns)?;
        self.push(root, b, source_name)
    }

    /// Adds `--exclude` patterns: matched against paths relative to the working directory and
    /// relative to the directory a walk started from.
    ///
    /// # Errors
    /// The first pattern that is not a valid glob, named with `source_name`.
    pub fn add_floating(&mut self, source_name: &str, patterns: &[String]) -> Result<(), ExcludeError> {
        if patterns.is_empty() {
            return Ok(());
        }
        let g = builder(Path::new(""), source_name, patterns)?.build().map_err(|e| ExcludeError {
            source_name: source_name.to_owned(),
            line: None,
            message: glob_reason(&e),
        })?;
        self.floating.push(g);
        Ok(())
    }

    /// Adds the ignore file at `path` (gitignore syntax, relative to its directory); nothing when
    /// there is no such file.
    ///
    /// # Errors
    /// An unreadable file or a bad pattern, with its line.
    pub fn add_file(&mut self, path: &Path) -> Result<(), ExcludeError> {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ExcludeError { source_name: name, line: None, message: io_reason(&e) }),
        };
        let root = absolute(path.parent().unwrap_or_else(|| Path::new(".")));
        let mut b = GitignoreBuilder::new(&root);
        for (i, line) in text.lines().enumerate() {
            b.add_line(Some(path.to_path_buf()), line).map_err(|e| ExcludeError {
                source_name: name.clone(),
                line: Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                message: format!("{line:?}: {}", glob_reason(&e)),
            })?;
        }
        self.push(root, b, &name)
    }

    fn push(&mut self, root: PathBuf, b: GitignoreBuilder, source_name: &str) -> Result<(), ExcludeError> {
        let g = b.build().map_err(|e| ExcludeError {
            source_name: source_name.to_owned(),
            line: None,
            message: glob_reason(&e),
        })?;
        if !g.is_empty() {
            self.matchers.push((root, g));
            // Shallowest first, so that a deeper ignore file's decision comes last and wins.
            self.matchers.sort_by_key(|(r, _)| r.components().count());
        }
        Ok(())
    }

    /// Whether a walk that started at `start` leaves `path` out.
    #[must_use]
    pub fn excludes(&self, path: &Path, is_dir: bool, start: &Path) -> bool {
        if self.matchers.is_empty() && self.floating.is_empty() {
            return false;
        }
        let abs = absolute(path);
        if !self.floating.is_empty() {
            let bases = [std::env::current_dir().ok().map(|d| absolute(&d)), Some(absolute(start))];
            for base in bases.iter().flatten() {
                let Ok(rel) = abs.strip_prefix(base) else { continue };
                if rel.as_os_str().is_empty() {
                    continue;
                }
                if self.floating.iter().any(|g| g.matched_path_or_any_parents(rel, is_dir).is_ignore()) {
                    return true;
                }
            }
        }
        let mut verdict = false;
        for (root, g) in &self.matchers {
            if !abs.starts_with(root) || abs == *root {
                continue;
            }
            match g.matched_path_or_any_parents(&abs, is_dir) {
                Match::Ignore(_) => verdict = true,
                Match::Whitelist(_) => verdict = false,
                Match::None => {}
            }
        }
        verdict
    }
}

fn builder(root: &Path, source_name: &str, patterns: &[String]) -> Result<GitignoreBuilder, ExcludeError> {
    let mut b = GitignoreBuilder::new(root);
    for p in patterns {
        b.add_line(None, p).map_err(|e| ExcludeError {
            source_name: source_name.to_owned(),
            line: None,
            message: format!("{p:?}: {}", glob_reason(&e)),
        })?;
    }
    Ok(b)
}

fn glob_reason(e: &ignore::Error) -> String {
    // The crate's message names the glob already; keep it on one line.
    e.to_string().replace('\n', " ")
}

/// `path` made absolute against the working directory and normalised lexically (`.` dropped,
/// `..` applied), so that matchers and walked paths compare whatever way they were written.
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// What expanding the command-line paths gave.
#[derive(Debug, Default)]
pub struct Expanded {
    /// The inputs to read, in order.
    pub inputs: Vec<Input>,
    /// Problems (unreadable paths, bad ignore files, Helm charts whose templates are skipped).
    pub diagnostics: Vec<Diagnostic>,
    /// Files and directories left out by excludes.
    pub excluded: usize,
    /// Files of Helm charts that are not manifests (templates, values, `Chart.yaml`), skipped.
    pub chart_files: usize,
}

/// Expands command-line paths: files as given, directories recursively (manifest extensions only,
/// hidden entries skipped, sorted by name, `excludes` and `.kguardignore` files applied, Helm
/// charts' templates skipped), `-` as stdin. Missing paths become diagnostics.
#[must_use]
pub fn expand(paths: &[PathBuf], excludes: Excludes) -> Expanded {
    let mut w = Walker { excludes, out: Expanded::default(), seen: HashSet::new() };
    for path in paths {
        if path.as_os_str() == "-" {
            w.out.inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Err(e) => w.out.diagnostics.push(Diagnostic::error(
                "unreadable",
                Location::file(path.display().to_string().into()),
                format!("cannot read: {}", io_reason(&e)),
            )),
            Ok(m) if m.is_dir() => w.walk(path, path, 0),
            Ok(m) if m.is_file() => w.out.inputs.push(Input::File(path.clone())),
            Ok(m) => w.out.diagnostics.push(not_a_file(path, &m)),
        }
    }
    w.out
}

struct Walker {
    excludes: Excludes,
    out: Expanded,
    seen: HashSet<PathBuf>,
}

impl Walker {
    fn walk(&mut self, start: &Path, dir: &Path, depth: usize) {
        let name: Arc<str> = dir.display().to_string().into();
        if depth > 64 {
            self.out.diagnostics.push(Diagnostic::warning(
                "too-deep",
                Location::file(name),
                "directory nesting deeper than 64; not entered",
            ));
            return;
        }
        if let Ok(canonical) = std::fs::canonicalize(dir)
            && !self.seen.insert(canonical)
        {
            return; // a symlink loop or a directory named twice
        }
        if let Err(e) = self.excludes.add_file(&dir.join(IGNORE_FILE)) {
            let line = e.line.map(|l| Pos::new(l, 1));
            let file: Arc<str> = e.source_name.clone().into();
            let location = line.map_or_else(|| Location::file(file.clone()), |p| Location::at(file.clone(), p));
            self.out.diagnostics.push(Diagnostic::error("bad-ignore-file", location, e.message));
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.out.diagnostics.push(Diagnostic::error(
                    "unreadable",
                    Location::file(name),
                    format!("cannot read directory: {}", io_reason(&e)),
                ));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        let chart = paths.iter().any(|p| p.file_name().is_some_and(|n| n == "Chart.yaml") && p.is_file());
        if chart {
            let templates = dir.join("templates");
            if templates.is_dir() && !self.excludes.excludes(&templates, true, start) {
                self.out.diagnostics.push(Diagnostic::warning(
                    "helm-chart",
                    Location::file(templates.display().to_string().into()),
                    format!(
                        "a Helm chart's templates are Go templates, not manifests: not scanned; render them and \
                         pipe the result: helm template {} | kguard scan -",
                        shell_word(&dir.display().to_string())
                    ),
                ));
            }
        }
        for path in paths {
            let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if file_name.starts_with('.') {
                continue;
            }
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {
                    if self.excludes.excludes(&path, true, start) {
                        self.out.excluded += 1;
                    } else if chart && file_name == "templates" {
                        self.out.chart_files += count_manifests(&path);
                    } else {
                        self.walk(start, &path, depth + 1);
                    }
                }
                Ok(_) if !is_manifest_path(&path) && !is_dockerfile_path(&path) => {}
                Ok(_) if self.excludes.excludes(&path, false, start) => self.out.excluded += 1,
                Ok(_) if chart && is_chart_metadata(file_name) => self.out.chart_files += 1,
                Ok(m) if m.is_file() => self.out.inputs.push(Input::File(path)),
                Ok(m) => self.out.diagnostics.push(not_a_file(&path, &m)),
                Err(e) => self.out.diagnostics.push(Diagnostic::error(
                    "unreadable",
                    Location::file(path.display().to_string().into()),
                    format!("cannot read: {}", io_reason(&e)),
                )),
            }
        }
    }
}

/// A chart's own files that are not manifests.
fn is_chart_metadata(name: &str) -> bool {
    matches!(name, "Chart.yaml" | "Chart.lock" | "values.schema.json" | "requirements.yaml" | "requirements.lock")
        || (name.starts_with("values") && (name.ends_with(".yaml") || name.ends_with(".yml")))
}

/// Manifest-named files under a skipped `templates/` (for the count), without following links
/// out of it; bounded in depth.
fn count_manifests(dir: &Path) -> usize {
    fn go(dir: &Path, depth: usize) -> usize {
        if depth > 16 {
            return 0;
        }
        let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
        rd.filter_map(Result::ok)
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => go(&e.path(), depth + 1),
                Ok(t) if t.is_file() && is_manifest_path(&e.path()) => 1,
                _ => 0,
            })
            .sum()
    }
    go(dir, 0)
}

/// `s` quoted for a POSIX shell when it needs quoting.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kguard-walk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    fn names(e: &Expanded, root: &Path) -> Vec<String> {
        e.inputs
            .iter()
            .filter_map(|i| match i {
                Input::File(p) => Some(p.strip_prefix(root).unwrap().display().to_string()),
                Input::Stdin | Input::Text { .. } => None,
            })
            .collect()
    }

    #[test]
    fn excludes_patterns_and_ignore_files_like_gitignore() {
        let root = tree(
            "excludes",
            &[
                ("a.yaml", ""),
                ("vendor/b.yaml", ""),
                ("app/c.yaml", ""),
                ("app/c.tmpl.yaml", ""),
                ("app/.kguardignore", "*.yaml\n!keep.yaml\n"),
                ("app/keep.yaml", ""),
                ("other/d.yaml", ""),
            ],
        );
        let mut ex = Excludes::new();
        ex.add_floating("--exclude", &["vendor/".into(), "*.tmpl.yaml".into()]).unwrap();
        let e = expand(std::slice::from_ref(&root), ex);
        assert_eq!(names(&e, &root), ["a.yaml", "app/keep.yaml", "other/d.yaml"]);
        // vendor/ (a directory, not entered), app/c.tmpl.yaml and app/c.yaml.
        assert_eq!(e.excluded, 3);
        // A file named on the command line is read whatever the excludes say.
        let mut ex = Excludes::new();
        ex.add_floating("--exclude", &["*.yaml".into()]).unwrap();
        let e = expand(&[root.join("a.yaml")], ex);
        assert_eq!(e.inputs.len(), 1);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn exclude_patterns_are_relative_to_the_scanned_directory_too() {
        let root = tree("floating", &[("k8s/legacy/a.yaml", ""), ("k8s/b.yaml", ""), ("k8s/sub/legacy/c.yaml", "")]);
        let mut ex = Excludes::new();
        // Anchored (a slash inside): relative to the walk's start, k8s/.
        ex.add_floating("--exclude", &["/legacy".into()]).unwrap();
        let e = expand(&[root.join("k8s")], ex);
        assert_eq!(names(&e, &root), ["k8s/b.yaml", "k8s/sub/legacy/c.yaml"]);
        // A configuration's patterns are relative to its directory.
        let mut ex = Excludes::new();
        ex.add_patterns(&root, "kguard.yaml", &["k8s/sub/".into()]).unwrap();
        let e = expand(&[root.join("k8s")], ex);
        assert_eq!(names(&e, &root), ["k8s/b.yaml", "k8s/legacy/a.yaml"]);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn bad_patterns_name_their_source_and_line() {
        let mut ex = Excludes::new();
        let e = ex.add_floating("--exclude", &["a{b".into()]).unwrap_err();
        assert!(e.to_string().starts_with("--exclude: \"a{b\": "), "{e}");
        let root = tree("badignore", &[(".kguardignore", "ok.yaml\n\nb{[\n"), ("x.yaml", "")]);
        let e = expand(std::slice::from_ref(&root), Excludes::new());
        let d = e.diagnostics.iter().find(|d| d.code == "bad-ignore-file").unwrap();
        assert_eq!(d.location.pos.map(|p| p.line), Some(3), "{d}");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn helm_charts_skip_templates_and_metadata_with_one_warning() {
        let root = tree(
            "chart",
            &[
                ("web/Chart.yaml", "apiVersion: v2\nname: web\n"),
                ("web/values.yaml", "replicas: 2\n"),
                ("web/values-prod.yaml", "replicas: 3\n"),
                ("web/templates/deployment.yaml", "kind: Deployment\nmetadata: {name: {{ .Release.Name }}}\n"),
                ("web/templates/_helpers.tpl", ""),
                ("web/templates/tests/t.yaml", ""),
                ("web/crds/crd.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"),
                ("web/charts/db/Chart.yaml", "apiVersion: v2\nname: db\n"),
                ("web/charts/db/templates/s.yaml", ""),
            ],
        );
        let e = expand(std::slice::from_ref(&root), Excludes::new());
        assert_eq!(names(&e, &root), ["web/crds/crd.yaml"]);
        let warnings: Vec<_> = e.diagnostics.iter().filter(|d| d.code == "helm-chart").collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].message.ends_with(&format!("helm template {}/web | kguard scan -", root.display())));
        // Chart.yaml, values.yaml, values-prod.yaml, 2 templates; db's Chart.yaml and 1 template.
        assert_eq!(e.chart_files, 7);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn dockerfiles_are_found_by_name_as_trivy_finds_them() {
        let root = tree(
            "dockerfiles",
            &[
                ("Dockerfile", "FROM a\n"),
                ("Dockerfile.prod", ""),
                ("api.Dockerfile", ""),
                ("web.dockerfile", ""),
                ("Containerfile", ""),
                ("dockerfile", ""),
                ("Dockerfile.a.b", ""),
                ("myDockerfile", ""),
                ("Dockerfile.yaml", ""),
                ("sub/Containerfile.dev", ""),
            ],
        );
        let e = expand(std::slice::from_ref(&root), Excludes::new());
        assert_eq!(
            names(&e, &root),
            [
                "Containerfile",
                "Dockerfile",
                "Dockerfile.prod",
                "Dockerfile.yaml",
                "api.Dockerfile",
                "sub/Containerfile.dev",
                "web.dockerfile"
            ]
        );
        assert!(!is_dockerfile_path(&root.join("Dockerfile.yaml")));
        let p = super::super::load_input(&Input::File(root.join("Dockerfile")));
        assert_eq!(p.dockerfile.map(|(_, t)| t).as_deref(), Some("FROM a\n"));
        assert_eq!((p.documents, p.objects.len()), (0, 0));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("charts/web"), "charts/web");
        assert_eq!(shell_word("my chart's"), "'my chart'\\''s'");
    }
}
