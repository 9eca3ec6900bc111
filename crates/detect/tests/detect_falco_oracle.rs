//! Oracle: Falco's k8s audit detection tests (falco@65435d44 test/falco_k8s_audit_tests.yaml):
//! per case, ordered rules files, a trace file, whether anything is detected, the level, and
//! the alert count per rule. Falco ran with its defaults (`rule_matching: first`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use kguard_detect::k8saudit;
use kguard_model::yaml::{self, YamlNode};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn rules_path(test_dir: &Path, rel: &str) -> std::path::PathBuf {
    match rel.strip_prefix("../rules/") {
        Some(r) => test_dir.parent().unwrap().join("rules").join(r),
        None => test_dir.join(rel.trim_start_matches("./")),
    }
}

/// Runs one case; Err(reason) when it does not behave as expected.
fn run_case(test_dir: &Path, case: &YamlNode) -> Result<(), String> {
    let files: Vec<String> = case
        .get("rules_file")
        .and_then(YamlNode::as_seq)
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    let texts: Vec<(String, String)> = files.iter().map(|f| (f.clone(), read(&rules_path(test_dir, f)))).collect();
    let refs: Vec<(&str, &str)> = texts.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (engine, _) = kguard_detect::load(&refs)
        .map_err(|m| format!("load failed: {}", m.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))?;
    let trace = read(&test_dir.join(case.get("trace_file").unwrap().as_str().unwrap()));
    let (events, err) = k8saudit::parse_events(&trace, 1);
    if let Some(want) = case.get("stderr_contains").and_then(YamlNode::as_str) {
        let got = err.as_ref().map(|e| e.message.clone()).unwrap_or_default();
        if !got.contains(want) {
            return Err(format!("stderr {got:?} lacks {want:?}"));
        }
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut levels: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for ev in &events {
        for a in engine.process(ev) {
            total += 1;
            *counts.entry(a.rule.clone()).or_default() += 1;
            *levels.entry(a.priority.as_str().to_ascii_lowercase()).or_default() += 1;
        }
    }
    let detect = case.get("detect").and_then(YamlNode::as_bool).unwrap();
    if !detect {
        return if total == 0 { Ok(()) } else { Err(format!("expected no detection, got {counts:?}")) };
    }
    if total == 0 {
        return Err("expected detections, got none".into());
    }
    if let Some(level) = case.get("detect_level").and_then(YamlNode::as_str) {
        let l = level.to_ascii_lowercase();
        let l = if l == "info" { "informational".to_owned() } else { l };
        if levels.get(&l).copied().unwrap_or(0) == 0 {
            return Err(format!("no alert at level {level}: {levels:?}"));
        }
    }
    for dc in case.get("detect_counts").and_then(YamlNode::as_seq).unwrap_or(&[]) {
        for e in dc.as_map().unwrap() {
            let want = usize::try_from(e.value.as_i64().unwrap()).unwrap();
            let got = counts.get(&e.key).copied().unwrap_or(0);
            if want != got {
                return Err(format!("rule {:?}: expected {want}, got {got} (all: {counts:?})", e.key));
            }
        }
    }
    Ok(())
}

#[test]
fn falco_k8s_audit_oracle() {
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-k8saudit") else { return };
    let test_dir = dir.join("test");
    let text = read(&test_dir.join("falco_k8s_audit_tests.yaml"));
    let docs = yaml::parse_documents(&text);
    let root = docs.into_iter().next().unwrap().root.unwrap().unwrap();
    let cases = root.get("trace_files").unwrap().as_map().unwrap();
    let (mut passed, mut failed) = (0, Vec::new());
    for c in cases {
        match run_case(&test_dir, &c.value) {
            Ok(()) => passed += 1,
            Err(e) => failed.push(format!("{}: {e}", c.key)),
        }
    }
    println!("falco k8saudit oracle: {passed} passed, {} failed of {}", failed.len(), cases.len());
    for f in &failed {
        println!("  FAILED {f}");
    }
    assert_eq!(cases.len(), 66);
    assert!(failed.is_empty());
}

#[test]
fn upstream_rules_files_load() {
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-k8saudit") else { return };
    for f in ["falco_rules.yaml", "k8s_audit_rules.yaml", "k8s_audit_rules.current.yaml"] {
        let text = read(&dir.join("rules").join(f));
        let r = kguard_detect::load(&[(f, &text)]);
        match r {
            Ok((e, msgs)) => {
                let k8s = e.rules().iter().filter(|r| r.is_k8s_audit()).count();
                println!("{f}: {} rules ({k8s} k8s_audit), {} warnings", e.rules().len(), msgs.len());
            }
            Err(m) => panic!("{f}: {}", m.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
        }
    }
}
