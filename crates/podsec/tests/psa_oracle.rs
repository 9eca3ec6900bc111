//! The upstream PodSecurity fixtures as an oracle: every `pass` pod allowed and every `fail` pod
//! denied, at exactly the level and version of its folder, with the check's expected substring
//! in the aggregate, both as a Pod and wrapped in a Deployment.
//!
//! Data: `$KGUARD_SHARED/oracles/psa/testdata/<level>/v1.<n>/{pass,fail}/*.yaml` (default
//! `../shared` beside the repository). Skipped loudly when absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kguard_model::Object;
use kguard_model::load::parse_text;
use kguard_model::workload::{self, PodView};
use kguard_podsec::{Level, Version};

/// Fixtures known to disagree with upstream behaviour, with the reason. None are expected.
const ALLOW_LIST: &[(&str, &str)] = &[];

/// Expected substring of the aggregate by file prefix (upstream `test/fixtures_*.go`).
fn expected_substring(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "allowprivilegeescalation" => "allowPrivilegeEscalation",
        "apparmorprofile" => "forbidden AppArmor profile",
        "capabilities_baseline" => "capabilities",
        "capabilities_restricted" => "unrestricted capabilities",
        "hostnamespaces" => "host namespaces",
        "hostpathvolumes" => "hostPath",
        "hostports" => "hostPort",
        "hostprobesandhostlifecycle" => "probe or lifecycle host",
        "privileged" => "privileged",
        "procmount" | "procmount_restricted" => "procMount",
        "restrictedvolumes" => "restricted volume types",
        "runasnonroot" => "runAsNonRoot",
        "runasuser" => "runAsUser",
        "seccompprofile_baseline" | "seccompprofile_restricted" => "seccompProfile",
        "selinuxoptions" => "seLinuxOptions",
        "sysctls" => "forbidden sysctl",
        "windowshostprocess" => "hostProcess",
        _ => return None,
    })
}

fn load_one(path: &Path, text: &str) -> Object {
    let parsed = parse_text(&Arc::from(path.display().to_string()), text);
    assert!(
        parsed.diagnostics.iter().all(|d| d.level != kguard_model::DiagnosticLevel::Error),
        "{}: {:?}",
        path.display(),
        parsed.diagnostics
    );
    assert_eq!(parsed.objects.len(), 1, "{}: one object expected", path.display());
    parsed.objects.into_iter().next().unwrap()
}

fn view_of(obj: &Object) -> Result<PodView, String> {
    match workload::pod_view(obj) {
        None => Err(format!("{} has no pod template", obj.id)),
        Some(Err(e)) => Err(e.to_string()),
        Some(Ok(v)) => Ok(v),
    }
}

/// The pod wrapped in a Deployment, as JSON text (which our YAML reader reads).
fn as_deployment(pod: &Object) -> String {
    let json = pod.root.to_json();
    let deployment = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": pod.id.name},
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": json.get("metadata").cloned().unwrap_or_default(), "spec": json.get("spec").cloned().unwrap_or_default()},
        },
    });
    serde_json::to_string_pretty(&deployment).unwrap()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// Checks one fixture; `Err` describes the mismatch.
fn check_fixture(path: &Path, level: Level, version: Version, expect_pass: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let obj = load_one(path, &text);
    let view = view_of(&obj)?;
    let results = kguard_podsec::evaluate(&view, level, version);
    let aggregate = kguard_podsec::aggregate(&results);
    if expect_pass {
        return if results.is_empty() { Ok(()) } else { Err(format!("expected allowed, got: {aggregate}")) };
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let prefix = stem.trim_end_matches(|c: char| c.is_ascii_digit());
    let want = expected_substring(prefix).ok_or_else(|| format!("no expected substring for prefix {prefix:?}"))?;
    if results.is_empty() {
        return Err("expected denied, got allowed".into());
    }
    if !aggregate.contains(want) || aggregate.contains("unknown forbidden reason") {
        return Err(format!("expected {want:?} in: {aggregate}"));
    }
    // The enforce message and the findings of the Pod.
    let enforce = kguard_podsec::enforce_message(&view.name, level, version, &results);
    if !enforce.starts_with(&format!("pods \"{stem}\" is forbidden: violates PodSecurity \"{level}:{version}\": ")) {
        return Err(format!("bad enforce message: {enforce}"));
    }
    let findings = kguard_podsec::findings(&obj, &view, level, version, "enforce");
    if findings.len() != results.len() || !findings.iter().all(|f| f.message.starts_with("pods \"")) {
        return Err(format!("findings do not match results: {findings:?}"));
    }
    // The same pod in a Deployment: reported through the template, warning text.
    let dep_text = as_deployment(&obj);
    let dep = load_one(path, &dep_text);
    let dep_view = view_of(&dep)?;
    if dep_view.is_pod() || dep_view.prefix != "/spec/template" {
        return Err("deployment view not a workload template".into());
    }
    let dep_results = kguard_podsec::evaluate(&dep_view, level, version);
    let warn = kguard_podsec::warn_message(level, version, &dep_results);
    if dep_results.is_empty() || !warn.contains(want) {
        return Err(format!("deployment: expected {want:?} in: {warn}"));
    }
    if let Some(bad) = dep_results.iter().flat_map(|r| &r.pointers).find(|p| !p.starts_with("/spec/template/")) {
        return Err(format!("deployment pointer outside the template: {bad}"));
    }
    let dep_findings = kguard_podsec::findings(&dep, &dep_view, level, version, "enforce");
    if !dep_findings.iter().all(|f| f.message.starts_with("would violate PodSecurity")) {
        return Err("deployment findings should carry the warning text".into());
    }
    Ok(())
}

#[test]
fn psa_oracle() {
    let Some(root) = kguard_testkit::shared_path("oracles/psa/testdata") else { return };
    let (mut passed, mut failed, mut allowed) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for level_dir in sorted_entries(&root).into_iter().filter(|p| p.is_dir()) {
        let level_name = level_dir.file_name().unwrap().to_str().unwrap().to_owned();
        let level = Level::parse(&level_name).unwrap();
        for version_dir in sorted_entries(&level_dir).into_iter().filter(|p| p.is_dir()) {
            let version_name = version_dir.file_name().unwrap().to_str().unwrap().to_owned();
            let version = Version::parse(&version_name).unwrap();
            for (sub, expect_pass) in [("pass", true), ("fail", false)] {
                let dir = version_dir.join(sub);
                if !dir.is_dir() {
                    continue;
                }
                for file in sorted_entries(&dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
                    let rel = file.strip_prefix(&root).unwrap().display().to_string();
                    match check_fixture(&file, level, version, expect_pass) {
                        Ok(()) => passed += 1,
                        Err(e) if ALLOW_LIST.iter().any(|(f, _)| *f == rel) => {
                            allowed += 1;
                            eprintln!("allow-listed mismatch {rel}: {e}");
                        }
                        Err(e) => {
                            failed += 1;
                            failures.push(format!("{rel}: {e}"));
                        }
                    }
                }
            }
        }
    }
    let total = passed + failed + allowed;
    for f in failures.iter().take(50) {
        eprintln!("MISMATCH {f}");
    }
    println!("PSA oracle: {passed} passed, {failed} failed of {total}");
    eprintln!("PSA oracle: {passed} passed, {failed} failed of {total}");
    assert_eq!(failed, 0, "{failed} PSA fixtures disagree (first ones above)");
    // Exact: a fixture lost (an emptied or partial oracle folder) fails too.
    assert_eq!(total, 4537, "the PSA oracle has 4,537 fixtures; found {total} under {}", root.display());
    assert_eq!(passed + allowed, total);
}
