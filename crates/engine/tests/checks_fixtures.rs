//! Data-driven fixture pairs for the hardening rules: `tests/checks/KGnnn-<name>.yaml`, one per
//! rule, each a YAML stream of cases `{case, rule, fires, clean?, manifest}`. A case with
//! `fires: true` must make `rule` fire; `fires: false` must not; `clean: true` means no rule at all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use kguard_engine::checks;
use kguard_model::Object;
use kguard_model::yaml::parse_documents;

#[test]
fn every_rule_has_a_fixture_pair() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/checks");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut seen: BTreeSet<(String, bool)> = BTreeSet::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let file: Arc<str> = Arc::from(path.display().to_string());
        let text = std::fs::read_to_string(path).unwrap();
        for doc in parse_documents(&text) {
            let Some(root) = doc.root.unwrap() else { continue };
            let name = root.get("case").and_then(|n| n.as_str()).unwrap().to_owned();
            let rule = root.get("rule").and_then(|n| n.as_str()).unwrap().to_owned();
            let fires = root.get("fires").and_then(|n| n.as_bool()).unwrap();
            let clean = root.get("clean").and_then(|n| n.as_bool()).unwrap_or(false);
            let manifest = root.get("manifest").unwrap().clone();
            let obj = Object::from_node(manifest, file.clone(), doc.index, "/manifest".to_owned()).unwrap();
            assert!(checks::applies_to(&obj), "{file} {name}: rules do not apply");
            assert!(checks::rule(&rule).is_some(), "{file}: unknown rule {rule}");
            let found = checks::findings(&obj, None);
            let ids: BTreeSet<_> = found.iter().map(|f| f.rule_id.as_str()).collect();
            if ids.contains(rule.as_str()) != fires {
                failures.push(format!("{file} {name}: {rule} expected fires={fires}, got {ids:?}"));
            }
            if clean && !found.is_empty() {
                failures.push(format!("{file} {name}: expected no findings, got {found:#?}"));
            }
            for f in found.iter().filter(|f| f.rule_id == rule) {
                assert!(f.pointer.as_deref().is_some_and(|p| p.starts_with('/')), "{f:?}");
                assert!(f.location.is_some() && f.remediation.is_some() && !f.references.is_empty());
                assert!(!f.message.is_empty());
            }
            seen.insert((rule, fires));
            cases += 1;
        }
    }
    println!("checks fixtures: {cases} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for r in checks::RULES {
        for fires in [true, false] {
            assert!(seen.contains(&(r.id.to_owned(), fires)), "{} has no fixture with fires={fires}", r.id);
        }
    }
}

#[test]
fn suppression_annotations_on_pod_template() {
    let yaml = r"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  annotations:
    checkov.io/skip1: CKV_K8S_16=CNI plugin needs it
spec:
  template:
    metadata:
      annotations:
        ignore-check.kube-linter.io/host-network: node agent
        polaris.fairwinds.com/hostPIDSet-exempt: 'true'
    spec:
      hostNetwork: true
      hostPID: true
      containers: [{name: a, image: a:1, securityContext: {privileged: true}}]
";
    let parsed = kguard_model::load::parse_text(&Arc::from("d.yaml"), yaml);
    let obj = &parsed.objects[0];
    let fired: BTreeSet<_> = checks::findings(obj, None).into_iter().map(|f| f.rule_id).collect();
    for id in ["KG001", "KG020", "KG021"] {
        assert!(fired.contains(id), "{id} fires");
        assert!(checks::suppressed(obj, checks::rule(id).unwrap()), "{id} suppressed");
    }
    assert!(!checks::suppressed(obj, &checks::HOST_IPC));
}

#[test]
fn messages_and_pointers() {
    let yaml = r"
apiVersion: batch/v1
kind: CronJob
metadata: {name: c}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          securityContext: {runAsUser: 0}
          initContainers:
          - name: init
            image: busybox
          containers:
          - name: main
            image: app:1.0
            securityContext: {runAsUser: 20000}
";
    let parsed = kguard_model::load::parse_text(&Arc::from("c.yaml"), yaml);
    let found = checks::findings(&parsed.objects[0], None);
    let root: Vec<_> = found.iter().filter(|f| f.rule_id == "KG008").collect();
    assert_eq!(root.len(), 1, "only the init container inherits UID 0: {root:#?}");
    assert_eq!(root[0].container.as_deref(), Some("init"));
    assert_eq!(root[0].pointer.as_deref(), Some("/spec/jobTemplate/spec/template/spec/securityContext/runAsUser"));
    assert!(root[0].message.contains("init container `init`"));
    let loc = root[0].location.as_ref().unwrap();
    assert_eq!(loc.to_string(), "c.yaml:10:29");
    let tag: Vec<_> = found.iter().filter(|f| f.rule_id == "KG030").collect();
    assert_eq!(tag.len(), 1);
    assert_eq!(tag[0].pointer.as_deref(), Some("/spec/jobTemplate/spec/template/spec/initContainers/0/image"));
}
