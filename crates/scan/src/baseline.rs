//! Baselines: the findings a repository accepts for now, so that CI fails only on new ones
//! (`kguard scan --write-baseline FILE`, then `--baseline FILE`).
//!
//! A finding is keyed by what stays true while the file around it changes: its rule (the
//! canonical id, so a rule later renamed to an alias still matches), its object (API group,
//! kind, namespace, name: not the version, not the file, not the line), its container by name and
//! the field it concerns, with the container's list index replaced by its name
//! (`/spec/containers/[app]/securityContext/privileged`), so reordering containers or moving an
//! object to another file keeps it baselined. Findings about no object are keyed by their file.
//! Each key carries a count: three identical findings baselined and a fourth appearing reports
//! the fourth.
//!
//! The file is JSON, sorted, one entry per key, so that it diffs well in review:
//!
//! ```json
//! {"apiVersion": "kguard.io/v1alpha1", "kind": "Baseline", "findings": [
//!   {"rule": "PSS003", "object": "Deployment.apps/prod/web", "container": "app",
//!    "field": "/spec/template/spec/containers/[app]/securityContext/privileged"}]}
//! ```

use std::collections::BTreeMap;

use kguard_model::{Diagnostic, Location};
use kguard_report::Finding;
use serde::{Deserialize, Serialize};

use crate::rules;

/// What identifies a finding across edits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Key {
    /// The rule's canonical id.
    pub rule: String,
    /// `Kind.group/namespace/name` (`Kind/namespace/name` for the core group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The container's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The field, as a JSON pointer with container indexes replaced by names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The file, for findings about no object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    #[serde(flatten)]
    key: Key,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    count: usize,
}

const fn one() -> usize {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
const fn is_one(n: &usize) -> bool {
    *n == 1
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BaselineFile {
    api_version: String,
    kind: String,
    findings: Vec<Entry>,
}

/// The key of a finding.
#[must_use]
pub fn key(f: &Finding) -> Key {
    let rule = rules::find(&f.rule_id).map_or_else(|| f.rule_id.clone(), |r| r.id.to_owned());
    let object = f.object.as_deref().map(|o| {
        let group = o.api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
        let kind = if group.is_empty() { o.kind.clone() } else { format!("{}.{group}", o.kind) };
        match &o.namespace {
            Some(ns) => format!("{kind}/{ns}/{}", o.name),
            None => format!("{kind}/{}", o.name),
        }
    });
    let container = f.container.as_deref().map(str::to_owned);
    let field = f.pointer.as_deref().map(|p| named_containers(p, container.as_deref()));
    let file = if object.is_none() { f.location.as_ref().map(|l| l.file.to_string()) } else { None };
    Key { rule, object, container, field, file }
}

/// `/spec/containers/0/image` → `/spec/containers/[app]/image` when the finding names its
/// container.
fn named_containers(pointer: &str, container: Option<&str>) -> String {
    let Some(name) = container else { return pointer.to_owned() };
    let mut out = Vec::new();
    let mut after_list = false;
    for seg in pointer.split('/') {
        if after_list && seg.bytes().all(|b| b.is_ascii_digit()) && !seg.is_empty() {
            out.push(format!("[{name}]"));
        } else {
            out.push(seg.to_owned());
        }
        after_list = matches!(seg, "containers" | "initContainers" | "ephemeralContainers");
    }
    out.join("/")
}

/// A loaded baseline: how many findings of each key it accepts.
#[derive(Debug, Default)]
pub struct Baseline {
    left: BTreeMap<Key, usize>,
}

impl Baseline {
    /// Parses a baseline file.
    ///
    /// # Errors
    /// A diagnostic naming the file (and line and column) when it is not a baseline.
    pub fn parse(file: &str, text: &str) -> Result<Self, Diagnostic> {
        let parsed: BaselineFile = serde_json::from_str(text).map_err(|e| {
            let pos = kguard_model::Pos::new(
                u32::try_from(e.line()).unwrap_or(u32::MAX),
                u32::try_from(e.column()).unwrap_or(u32::MAX),
            );
            Diagnostic::error("baseline", Location::at(file.into(), pos), format!("not a kguard baseline: {e}"))
        })?;
        if parsed.api_version != "kguard.io/v1alpha1" || parsed.kind != "Baseline" {
            return Err(Diagnostic::error(
                "baseline",
                Location::file(file.into()),
                format!(
                    "expected apiVersion kguard.io/v1alpha1 and kind Baseline, found {} {}",
                    parsed.api_version, parsed.kind
                ),
            ));
        }
        let mut left = BTreeMap::new();
        for mut e in parsed.findings {
            // A rule renamed since (its old id now an alias) keeps matching.
            if let Some(r) = rules::find(&e.key.rule) {
                r.id.clone_into(&mut e.key.rule);
            }
            *left.entry(e.key).or_insert(0) += e.count;
        }
        Ok(Self { left })
    }

    /// Whether the baseline accepts `f` (using up one of its key's count).
    pub fn accepts(&mut self, f: &Finding) -> bool {
        match self.left.get_mut(&key(f)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Entries the findings did not use up: fixed since (worth removing from the file).
    #[must_use]
    pub fn unused(&self) -> usize {
        self.left.values().sum()
    }
}

/// The baseline file accepting exactly `findings`.
#[must_use]
pub fn write<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> String {
    let mut counts: BTreeMap<Key, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(key(f)).or_insert(0) += 1;
    }
    let file = BaselineFile {
        api_version: "kguard.io/v1alpha1".to_owned(),
        kind: "Baseline".to_owned(),
        findings: counts.into_iter().map(|(key, count)| Entry { key, count }).collect(),
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use kguard_model::ObjectRef;

    use super::*;

    fn finding(rule: &str, api_version: &str, container: Option<&str>, pointer: &str, line: u32) -> Finding {
        let object = ObjectRef {
            api_version: api_version.into(),
            kind: "Deployment".into(),
            namespace: Some("prod".into()),
            name: "web".into(),
        };
        let location = Location::at("a.yaml".into(), kguard_model::Pos::new(line, 3));
        let mut f =
            Finding::new(rules::find(rule).unwrap(), "m".into(), Some(object), Some(pointer.into()), Some(location));
        f.container = container.map(Into::into);
        f
    }

    #[test]
    fn keys_survive_moves_reorders_and_version_bumps() {
        let before = finding(
            "PSS003",
            "apps/v1",
            Some("app"),
            "/spec/template/spec/containers/0/securityContext/privileged",
            10,
        );
        let text = write([&before]);
        assert!(text.contains("\"object\": \"Deployment.apps/prod/web\""), "{text}");
        assert!(text.contains("/containers/[app]/securityContext"), "{text}");
        assert!(!text.contains("\"count\""), "{text}");
        let mut b = Baseline::parse("b.json", &text).unwrap();
        // Same container, now second in the list, 40 lines further down, apps/v1beta2.
        let after = finding(
            "PSS003",
            "apps/v1beta2",
            Some("app"),
            "/spec/template/spec/containers/1/securityContext/privileged",
            50,
        );
        assert!(b.accepts(&after));
        // The count is used up: the same finding twice is one new finding.
        assert!(!b.accepts(&after));
        // Another container is another finding.
        let mut b = Baseline::parse("b.json", &text).unwrap();
        let other = finding(
            "PSS003",
            "apps/v1",
            Some("sidecar"),
            "/spec/template/spec/containers/1/securityContext/privileged",
            50,
        );
        assert!(!b.accepts(&other));
        assert_eq!(b.unused(), 1);
    }

    #[test]
    fn counts_and_errors() {
        let f = finding("KG001", "apps/v1", None, "/spec", 1);
        let text = write([&f, &f, &f]);
        assert!(text.contains("\"count\": 3"), "{text}");
        let mut b = Baseline::parse("b.json", &text).unwrap();
        assert!((0..3).all(|_| b.accepts(&f)) && !b.accepts(&f));
        let e = Baseline::parse(
            "b.json",
            "{\"apiVersion\": \"kguard.io/v1alpha1\",\n \"kind\": \"Baseline\", \"findings\": [{\"rul\": 1}]}",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("b.json:2:"), "{e}");
        let e = Baseline::parse("b.json", "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"findings\": []}").unwrap_err();
        assert!(e.to_string().contains("expected apiVersion kguard.io/v1alpha1 and kind Baseline"), "{e}");
    }
}
