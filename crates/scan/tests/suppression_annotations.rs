//! Suppression annotations: Checkov's skips as Checkov reads them (`checkov.io/skip<N>`,
//! `bridgecrew.io/skip<N>`, any N, `ID=reason`), their reason carried into the suppression's
//! justification, and a warning (file:line) for an annotation naming no rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use kguard_model::DiagnosticLevel;
use kguard_podsec::{Level, Version};
use kguard_report::SuppressionKind;
use kguard_scan::{PssDefault, ScanConfig, Selection};

const POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations:
    checkov.io/skip1: CKV_K8S_16=the CNI plugin needs it
    bridgecrew.io/skip27: CKV_K8S_20
    checkov.io/skip3: CKV_K8S_999=a typo
    kguard.io/ignore: KG0O1, KG012
spec:
  containers:
  - name: c
    image: nginx:1.27
    securityContext:
      privileged: true
";

#[test]
fn checkov_skips_and_unknown_names() {
    let file: Arc<str> = "pod.yaml".into();
    let objects = kguard_model::load::parse_text(&file, POD).objects;
    let config = ScanConfig {
        selection: Selection::default(),
        pss: PssDefault { level: Level::Restricted, version: Version::Latest },
        linkerd_default: kguard_scan::LinkerdDefaultPolicy::AllUnauthenticated,
    };
    let out = kguard_scan::scan(&objects, &config);
    let shown: Vec<&str> = out.findings.iter().map(|f| f.rule_id.as_str()).collect();
    for id in ["PSS007", "KG001", "PSS013", "KG002", "KG003", "KG012"] {
        assert!(!shown.contains(&id), "{id} is suppressed: {shown:?}");
    }
    let why = |id: &str| {
        let s = out.suppressed.iter().find(|s| s.finding.rule_id == id).unwrap_or_else(|| panic!("{id} suppressed"));
        assert_eq!(s.kind, SuppressionKind::InSource);
        s.justification.clone()
    };
    assert_eq!(why("PSS007"), "checkov.io/skip1: CKV_K8S_16: the CNI plugin needs it");
    assert_eq!(why("KG001"), "checkov.io/skip1: CKV_K8S_16: the CNI plugin needs it");
    assert_eq!(why("PSS013"), "bridgecrew.io/skip27: CKV_K8S_20: No comment provided");
    assert_eq!(why("KG012"), "kguard.io/ignore: KG0O1, KG012");
    let warnings: Vec<String> = out
        .diagnostics
        .iter()
        .filter(|d| d.code == "unknown-suppression")
        .map(|d| {
            assert_eq!(d.level, DiagnosticLevel::Warning);
            format!("{}:{}", d.location.pos.map_or(0, |p| p.line), d.message)
        })
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[0].starts_with("8:") && warnings[0].contains("CKV_K8S_999"), "{warnings:#?}");
    assert!(warnings[1].starts_with("9:") && warnings[1].contains("`KG0O1`"), "{warnings:#?}");
}
