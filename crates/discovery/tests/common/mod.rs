//! What kubectl v1.36.2 said against kube-apiserver v1.36.2 (recorded in `tests/kubectl/` by
//! `kube_apiserver.rs` with `KGUARD_RECORD=1`), parsed; and what kguard says of the same inputs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `crates/discovery/tests/<rel>`.
pub fn tests_dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(rel)
}

/// One row of `kubectl api-resources -o wide`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResource {
    pub name: String,
    pub short_names: Vec<String>,
    pub api_version: String,
    pub namespaced: bool,
    pub kind: String,
    pub verbs: Vec<String>,
    pub categories: Vec<String>,
}

/// Parses `kubectl api-resources -o wide` (columns at the header's offsets: empty cells are
/// blank).
pub fn parse_api_resources(text: &str) -> Vec<ApiResource> {
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    let cols = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES"];
    let at: Vec<usize> = cols.iter().map(|c| header.find(c).unwrap_or_else(|| panic!("no {c} column"))).collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cell = |i: usize| {
                let end = at.get(i + 1).copied().unwrap_or(l.len()).min(l.len());
                l.get(at[i].min(l.len())..end).unwrap_or("").trim().to_owned()
            };
            let list = |s: String| -> Vec<String> {
                if s.is_empty() { Vec::new() } else { s.split(',').map(str::to_owned).collect() }
            };
            ApiResource {
                name: cell(0),
                short_names: list(cell(1)),
                api_version: cell(2),
                namespaced: cell(3) == "true",
                kind: cell(4),
                verbs: list(cell(5)),
                categories: list(cell(6)),
            }
        })
        .collect()
}

/// One line of `explain.txt`: a name kubectl resolved (`GROUP/VERSION KIND`, core as `VERSION`),
/// or did not, and the warnings it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    pub name: String,
    /// `Some((api_version, kind))`, `None` when kubectl has no such resource.
    pub resolved: Option<(String, String)>,
    pub warnings: Vec<String>,
}

/// Parses `explain.txt`: `NAME<TAB>API_VERSION<TAB>KIND[<TAB>WARNING]...` or
/// `NAME<TAB>-<TAB>error text`.
pub fn parse_explain(text: &str) -> Vec<Explained> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f[1] == "-" {
                Explained { name: f[0].to_owned(), resolved: None, warnings: Vec::new() }
            } else {
                Explained {
                    name: f[0].to_owned(),
                    resolved: Some((f[1].to_owned(), f[2].to_owned())),
                    warnings: f[3..].iter().map(|w| (*w).to_owned()).collect(),
                }
            }
        })
        .collect()
}

/// The names the explain recording asks kubectl about: every resource name, short name and
/// kind (as written and lower-cased) of the api-resources recording, and a few typos.
pub fn explain_names(rows: &[ApiResource]) -> Vec<String> {
    let mut names = BTreeSet::new();
    for r in rows {
        names.insert(r.name.clone());
        names.insert(r.kind.clone());
        names.insert(r.kind.to_lowercase());
        names.extend(r.short_names.iter().cloned());
    }
    for typo in ["deploymnets", "pod", "svcs", "Ingresss", "netpols", "crd"] {
        names.insert(typo.to_owned());
    }
    names.into_iter().collect()
}

/// One case of `strict.txt`: a manifest of `tests/strict/` and what `kubectl create
/// --dry-run=server --validate=strict -f FILE` printed.
#[derive(Debug, Clone)]
pub struct StrictCase {
    pub file: String,
    pub output: String,
}

pub fn parse_strict(text: &str) -> Vec<StrictCase> {
    let mut out: Vec<StrictCase> = Vec::new();
    for line in text.lines() {
        if let Some(file) = line.strip_prefix("== ") {
            out.push(StrictCase { file: file.to_owned(), output: String::new() });
        } else if let Some(c) = out.last_mut() {
            c.output.push_str(line);
            c.output.push('\n');
        }
    }
    out
}

/// What kubectl's output of one strict case means: the unknown field paths the server listed,
/// or the kind/version kubectl could not map, or nothing (created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictOutcome {
    Created,
    UnknownFields(BTreeSet<String>),
    NoMatch { kind: String, api_version: String },
    Other(String),
}

pub fn kubectl_outcome(output: &str) -> StrictOutcome {
    if output.contains("created (server dry run)") {
        return StrictOutcome::Created;
    }
    if let Some(i) = output.find("no matches for kind \"") {
        let rest = &output[i + "no matches for kind \"".len()..];
        let kind = rest.split('"').next().unwrap().to_owned();
        let j = rest.find("in version \"").unwrap() + "in version \"".len();
        let api_version = rest[j..].split('"').next().unwrap().to_owned();
        return StrictOutcome::NoMatch { kind, api_version };
    }
    if output.contains("strict decoding error") {
        let fields =
            output.split("unknown field \"").skip(1).map(|s| s.split('"').next().unwrap().to_owned()).collect();
        return StrictOutcome::UnknownFields(fields);
    }
    StrictOutcome::Other(output.to_owned())
}

/// The same, from kguard's diagnostics of the manifest.
pub fn kguard_outcome(path: &Path) -> StrictOutcome {
    let parsed = kguard_model::load::load_input(&kguard_model::load::Input::File(path.to_owned()));
    assert!(parsed.diagnostics.is_empty(), "{}: {:?}", path.display(), parsed.diagnostics);
    assert_eq!(parsed.objects.len(), 1, "{}: one object per case", path.display());
    let obj = &parsed.objects[0];
    let diags = kguard_discovery::check_object(obj);
    if diags.is_empty() {
        return StrictOutcome::Created;
    }
    if let Some(d) = diags.iter().find(|d| d.code == "unknown-kind" || d.code == "unserved-version") {
        assert_eq!(diags.len(), 1);
        let _ = d;
        return StrictOutcome::NoMatch { kind: obj.kind().to_owned(), api_version: obj.id.api_version.clone() };
    }
    assert!(diags.iter().all(|d| d.code == "unknown-field"), "{diags:?}");
    let fields = diags
        .iter()
        .map(|d| {
            let m = &d.message;
            let i = m.find("unknown field \"").unwrap() + "unknown field \"".len();
            m[i..].split('"').next().unwrap().to_owned()
        })
        .collect();
    StrictOutcome::UnknownFields(fields)
}
