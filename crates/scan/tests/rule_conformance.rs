//! Conformance of the rule registry: every rule `kguard scan` can report has its documentation
//! (title, what, why, fix, at least one reference) and a fixture pair in
//! `tests/fixtures/rules/<ID>/`: `fires.yaml` (the rule fires) and `passes.yaml` (it does not),
//! each a stream of Kubernetes objects scanned together by the whole scan engine
//! ([`kguard_scan::scan`]) with only that rule selected and Pod Security `restricted`
//! `latest` as the default policy. Cross-object rules (NetworkPolicy isolation, RBAC risks,
//! ServiceAccount lookups) put every object they need in the same file. The Dockerfile rules
//! (family `dockerfile`) have `fires.Dockerfile` and `passes.Dockerfile` instead, checked by
//! [`kguard_scan::dockerfile_findings`]; their findings name a file and line, not an object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kguard_model::DiagnosticLevel;
use kguard_podsec::{Level, Version};
use kguard_report::Finding;
use kguard_scan::{PssDefault, ScanConfig};
use kguard_scan::{Selection, rules};

/// Rules `kguard scan` reports that cannot have a file-based fixture pair, with the reason.
/// The test fails if one of them gets fixtures or stops being a scan rule (the list must not go
/// stale). Empty today: every scan rule is decided from manifests alone.
const NO_FIXTURE: &[(&str, &str)] = &[];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rules")
}

/// Scans one fixture file with only `id` selected; returns the findings of that rule.
fn scan_fixture(path: &Path, id: &str) -> Result<Vec<Finding>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: Arc<str> = Arc::from(path.display().to_string());
    if kguard_model::load::is_dockerfile_path(path) {
        let selection = Selection { select: vec![id.to_owned()], ignore: vec![] };
        let (findings, diagnostics) = kguard_scan::dockerfile_findings(&file, &text, &selection);
        if !diagnostics.is_empty() {
            return Err(format!("{}: {diagnostics:#?}", path.display()));
        }
        if let Some(f) = findings.iter().find(|f| f.rule_id != id) {
            return Err(format!("{}: selection leaked other rules {f:#?}", path.display()));
        }
        return Ok(findings);
    }
    let parsed = kguard_model::load::parse_text(&file, &text);
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).collect();
    if !errors.is_empty() || parsed.objects.is_empty() {
        return Err(format!("{}: no objects or load errors {errors:#?}", path.display()));
    }
    let config = ScanConfig {
        selection: Selection { select: vec![id.to_owned()], ignore: vec![] },
        pss: PssDefault { level: Level::Restricted, version: Version::Latest },
        linkerd_default: kguard_scan::LinkerdDefaultPolicy::AllUnauthenticated,
    };
    let out = kguard_scan::scan(&parsed.objects, &config);
    let errors: Vec<_> = out.diagnostics.iter().filter(|d| d.level == DiagnosticLevel::Error).collect();
    if !errors.is_empty() {
        return Err(format!("{}: scan errors {errors:#?}", path.display()));
    }
    let other: Vec<_> = out.findings.iter().filter(|f| f.rule_id != id).map(|f| &f.rule_id).collect();
    if !other.is_empty() {
        return Err(format!("{}: selection leaked other rules {other:?}", path.display()));
    }
    Ok(out.findings)
}

#[test]
fn every_scan_rule_has_docs_and_a_fixture_pair() {
    let dir = fixtures_dir();
    let scan_rules: Vec<_> = rules::all().filter(|r| kguard_scan::produces(r)).collect();
    assert!(scan_rules.len() >= 80, "the registry lost rules: {}", scan_rules.len());
    let mut failures = Vec::new();
    let mut pairs = 0;
    for rule in &scan_rules {
        let id = rule.id;
        if rule.title.is_empty() || rule.what.is_empty() || rule.why.is_empty() || rule.fix.is_empty() {
            failures.push(format!("{id}: title/what/why/fix missing"));
        }
        if rule.references.is_empty() || rule.references.iter().any(|r| !r.starts_with("https://")) {
            failures.push(format!("{id}: needs at least one https reference: {:?}", rule.references));
        }
        if rules::find(id).map(|r| r.id) != Some(id) {
            failures.push(format!("{id}: `kguard explain {id}` would not find it"));
        }
        let dockerfile = rule.family == kguard_dockerfile::FAMILY;
        let ext = if dockerfile { "Dockerfile" } else { "yaml" };
        let fires = dir.join(id).join(format!("fires.{ext}"));
        let passes = dir.join(id).join(format!("passes.{ext}"));
        if let Some((_, why)) = NO_FIXTURE.iter().find(|(n, _)| *n == id) {
            if fires.exists() || passes.exists() {
                failures.push(format!("{id}: has fixtures but is listed in NO_FIXTURE ({why})"));
            }
            continue;
        }
        if !fires.exists() || !passes.exists() {
            failures.push(format!("{id}: missing {} or {}", fires.display(), passes.display()));
            continue;
        }
        match scan_fixture(&fires, id) {
            Err(e) => failures.push(e),
            Ok(found) if found.is_empty() => failures.push(format!("{id}: does not fire on {}", fires.display())),
            Ok(found) => {
                for f in found {
                    let placed = if dockerfile {
                        f.pointer.is_none() && f.object.is_none()
                    } else {
                        f.pointer.as_deref().is_some_and(|p| p.is_empty() || p.starts_with('/')) && f.object.is_some()
                    };
                    let ok = placed
                        && f.location.is_some()
                        && f.remediation.as_deref() == Some(rule.fix)
                        && !f.references.is_empty()
                        && !f.message.is_empty()
                        && f.severity == rule.severity;
                    if !ok {
                        failures.push(format!("{id}: incomplete finding {f:#?}"));
                    }
                }
            }
        }
        match scan_fixture(&passes, id) {
            Err(e) => failures.push(e),
            Ok(found) if !found.is_empty() => {
                failures.push(format!("{id}: fires on {}: {found:#?}", passes.display()));
            }
            Ok(_) => {}
        }
        pairs += 1;
    }
    // No fixtures for rules that do not exist or that scan cannot report, and no stale allow-list.
    let mut known: BTreeSet<&str> = scan_rules.iter().map(|r| r.id).collect();
    known.extend(kguard_apparmor::node::RULES.iter().map(|r| r.id));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !known.contains(name.as_str()) {
            failures.push(format!("{}: fixtures for a rule scan does not report", dir.join(name).display()));
        }
    }
    for (id, _) in NO_FIXTURE {
        if !known.contains(id) {
            failures.push(format!("NO_FIXTURE lists {id}, which is not a scan rule"));
        }
    }
    println!("rule conformance: {} scan rules, {pairs} fixture pairs", scan_rules.len());
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

/// The AppArmor node rules (`kguard scan --apparmor-profiles`) need the node's profiles: each
/// has `fires.yaml` and `passes.yaml` as the scan rules do, and `profiles`, the node's
/// loaded-profile list both are checked against ([`kguard_scan::apparmor_findings`]).
#[test]
fn apparmor_node_rules_have_fixture_pairs() {
    let dir = fixtures_dir();
    let mut failures = Vec::new();
    for rule in kguard_apparmor::node::RULES {
        let id = rule.id;
        assert_eq!(rules::find(id).map(|r| r.id), Some(id), "{id} is not in the registry");
        let list = dir.join(id).join("profiles");
        let text = std::fs::read_to_string(&list).unwrap_or_else(|e| panic!("{}: {e}", list.display()));
        let node = kguard_apparmor::node::NodeProfiles::from_loaded(&list.display().to_string(), &text);
        for (name, fires) in [("fires.yaml", true), ("passes.yaml", false)] {
            let path = dir.join(id).join(name);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let parsed = kguard_model::load::parse_text(&Arc::from(path.display().to_string()), &text);
            assert!(!parsed.objects.is_empty(), "{}: no objects", path.display());
            let selection = Selection { select: vec![id.to_owned()], ignore: vec![] };
            let found = kguard_scan::apparmor_findings(&parsed.objects, &selection, &node);
            if found.iter().any(|f| f.rule_id != id) {
                failures.push(format!("{}: selection leaked other rules {found:#?}", path.display()));
            }
            if fires && found.is_empty() {
                failures.push(format!("{id}: does not fire on {}", path.display()));
            }
            if !fires && !found.is_empty() {
                failures.push(format!("{id}: fires on {}: {found:#?}", path.display()));
            }
            for f in &found {
                let ok = f.pointer.as_deref().is_some_and(|p| p.starts_with('/'))
                    && f.location.as_ref().is_some_and(|l| l.pos.is_some())
                    && f.object.is_some()
                    && f.remediation.as_deref() == Some(rule.fix)
                    && f.severity == rule.severity;
                if !ok {
                    failures.push(format!("{id}: incomplete finding {f:#?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

/// Rules scan does not report from manifests alone (audit-policy lint, certificate inspection,
/// seccomp and AppArmor profile lint, and the `--seccomp-root` and `--apparmor-profiles` node
/// checks) have their own commands and tests; they must still be documented.
#[test]
fn non_scan_rules_are_documented() {
    for rule in rules::all().filter(|r| !kguard_scan::produces(r)) {
        assert!(
            matches!(rule.family, "audit" | "pki" | "seccomp" | "apparmor") || rule.family.starts_with("node-"),
            "{}",
            rule.id
        );
        assert!(!rule.what.is_empty() && !rule.why.is_empty() && !rule.fix.is_empty(), "{}", rule.id);
    }
}
