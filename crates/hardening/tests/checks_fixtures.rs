//! Hardening-rule details beyond the fixture pairs (those are in `rule_conformance.rs`, over
//! `tests/fixtures/rules/<ID>/`): suppression annotations, messages, pointers and positions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

/// The hardened pod of KG002's `passes.yaml` triggers no hardening rule at all (not even an
/// opt-in one): every rule's "does not fire" case could start from it.
#[test]
fn hardened_pod_is_clean() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/rules/KG002/passes.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = kguard_model::load::parse_text(&Arc::from(path.display().to_string()), &text);
    assert_eq!(parsed.objects.len(), 1);
    let found = kguard_hardening::findings(&parsed.objects[0], None);
    assert!(found.is_empty(), "{found:#?}");
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
    let fired: BTreeSet<_> = kguard_hardening::findings(obj, None).into_iter().map(|f| f.rule_id).collect();
    for id in ["KG001", "KG020", "KG021"] {
        assert!(fired.contains(id), "{id} fires");
        assert!(kguard_hardening::suppressed(obj, kguard_hardening::rule(id).unwrap()), "{id} suppressed");
    }
    assert!(!kguard_hardening::suppressed(obj, &kguard_hardening::HOST_IPC));
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
    let found = kguard_hardening::findings(&parsed.objects[0], None);
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

/// KG026 consults the pod's ServiceAccount when the input holds it (the pod's own field wins).
#[test]
fn automount_defers_to_the_service_account_in_the_input() {
    let case = |pod_field: &str, sa_ns: &str, sa_field: &str| -> Vec<String> {
        let yaml = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d, namespace: apps}}\nspec:\n  template:\n    \
             spec:\n      serviceAccountName: app\n{pod_field}      containers: [{{name: a, image: a:1}}]\n---\n\
             apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: app, namespace: {sa_ns}}}\n{sa_field}"
        );
        let parsed = kguard_model::load::parse_text(&Arc::from("d.yaml"), &yaml);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        let inventory = kguard_hardening::Inventory::from_objects(&parsed.objects);
        kguard_hardening::findings_in(&parsed.objects[0], None, &inventory)
            .into_iter()
            .filter(|f| f.rule_id == "KG026")
            .map(|f| f.message)
            .collect()
    };
    let off = "automountServiceAccountToken: false\n";
    let on = "automountServiceAccountToken: true\n";
    let pod_on = "      automountServiceAccountToken: true\n";
    let pod_off = "      automountServiceAccountToken: false\n";
    assert!(case("", "apps", off).is_empty(), "the ServiceAccount disables it");
    assert!(case(pod_off, "apps", on).is_empty(), "the pod disables it");
    assert_eq!(case(pod_on, "apps", off), ["pod sets `automountServiceAccountToken: true`"]);
    assert_eq!(
        case("", "apps", on),
        ["pod does not set `automountServiceAccountToken: false` and its ServiceAccount apps/app sets \
          `automountServiceAccountToken: true`"]
    );
    assert_eq!(
        case("", "apps", ""),
        ["pod does not set `automountServiceAccountToken: false`, nor does its ServiceAccount apps/app"]
    );
    let elsewhere = case("", "other", off);
    assert!(elsewhere.len() == 1 && elsewhere[0].contains("unless its ServiceAccount"), "{elsewhere:?}");
    // Object-local (no inventory): fires.
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: a:1}]}\n";
    let parsed = kguard_model::load::parse_text(&Arc::from("p.yaml"), yaml);
    assert!(kguard_hardening::findings(&parsed.objects[0], None).iter().any(|f| f.rule_id == "KG026"));
}
