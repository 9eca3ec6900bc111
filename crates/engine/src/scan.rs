//! `kguard scan` orchestration: which checks run on which object, with which Pod Security
//! policy, and what is suppressed. Pure: objects in, findings and diagnostics out.

use std::collections::{HashMap, HashSet};

use kguard_model::{Diagnostic, Object};
use kguard_report::{Finding, RuleMeta};

use crate::podsec::{self, Level, NamespacePolicy, Version};
use crate::rules::{self, IGNORE_ANNOTATION, Selection};
use crate::workload;

/// The Pod Security policy used where the input says nothing (no Namespace object with
/// `pod-security.kubernetes.io/*` labels for the object's namespace).
#[derive(Clone, Copy, Debug)]
pub struct PssDefault {
    /// Level.
    pub level: Level,
    /// Version.
    pub version: Version,
}

/// What a scan runs.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// Rule selection.
    pub selection: Selection,
    /// Pod Security default.
    pub pss: PssDefault,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    /// Findings (unsorted).
    pub findings: Vec<Finding>,
    /// Problems with objects (malformed fields, bad labels) and notes (skipped kinds).
    pub diagnostics: Vec<Diagnostic>,
    /// Objects at least one engine evaluated.
    pub scanned: usize,
    /// Objects no engine applies to.
    pub skipped: usize,
}

/// Scans objects.
#[must_use]
pub fn scan(objects: &[Object], config: &ScanConfig) -> ScanOutcome {
    let mut out = ScanOutcome::default();
    let mut namespaces: HashMap<&str, NamespacePolicy> = HashMap::new();
    for obj in objects.iter().filter(|o| o.kind() == "Namespace" && o.group().is_empty()) {
        let (policy, errors) = podsec::NamespacePolicy::from_labels(obj.labels());
        for (key, message) in errors {
            let pointer = format!("/metadata/labels/{}", kguard_model::yaml::escape_pointer_token(&key));
            out.diagnostics.push(Diagnostic::warning("pss-label", obj.location(&pointer), message));
        }
        if policy.has_labels() {
            namespaces.insert(obj.id.name.as_str(), policy);
        }
    }
    for obj in objects {
        match workload::pod_view(obj) {
            None => {
                if obj.kind() == "Namespace" {
                    out.scanned += 1;
                } else {
                    out.skipped += 1;
                    out.diagnostics.push(Diagnostic::note(
                        "skipped-kind",
                        obj.location(""),
                        format!("{}: no rule applies to kind {} ({})", obj.id, obj.id.kind, obj.id.api_version),
                    ));
                }
            }
            Some(Err(e)) => {
                out.diagnostics.push(Diagnostic::error(
                    "invalid-object",
                    obj.location(&e.pointer),
                    format!("{}: {}", obj.id, e.message),
                ));
            }
            Some(Ok(view)) => {
                out.scanned += 1;
                let namespace = obj.id.namespace.as_deref().unwrap_or("default");
                let modes = match namespaces.get(namespace) {
                    Some(policy) => policy.modes(view.is_pod()),
                    None => podsec::default_modes(config.pss.level, config.pss.version, view.is_pod()),
                };
                let suppress: Vec<&str> =
                    [obj.annotation(IGNORE_ANNOTATION), view.template_annotation(IGNORE_ANNOTATION)]
                        .into_iter()
                        .flatten()
                        .collect();
                let keep = |rule: &RuleMeta| {
                    config.selection.enabled(rule) && !suppress.iter().any(|s| rules::suppressed_by(s, rule))
                };
                // Modes come strictest-consequence first (enforce, audit, warn); a check already
                // reported for the same field by an earlier mode is not repeated.
                let mut seen: HashSet<(String, Option<String>)> = HashSet::new();
                for (mode, level, version) in modes {
                    for finding in podsec::findings(obj, &view, level, version, mode) {
                        if !rules::find(&finding.rule_id).is_none_or(&keep) {
                            continue;
                        }
                        if seen.insert((finding.rule_id.clone(), finding.pointer.clone())) {
                            out.findings.push(finding);
                        }
                    }
                }
            }
        }
    }
    out
}
