//! Data-driven selector/port cases (`tests/netpol/selectors.yaml`), findings, reach, and the
//! large-cluster performance check of the class-based evaluator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Instant;

use kguard_model::{Object, YamlNode};
use kguard_netpol::{Format, Protocol, connlist};

fn objects(text: &str) -> Vec<Object> {
    let file: Arc<str> = "case.yaml".into();
    let mut out = Vec::new();
    kguard_model::yaml::for_each_document(text, |d| {
        if let Ok(Some(root)) = d.root {
            out.extend(kguard_netpol::model::document_objects(root, &file, d.index).0);
        }
    });
    out
}

#[test]
fn selector_cases() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/netpol/selectors.yaml")).unwrap();
    let docs = kguard_model::yaml::parse_documents(&text);
    let root = docs[0].root.as_ref().unwrap().as_ref().unwrap();
    let cases = root.as_seq().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let name = case.get("name").and_then(YamlNode::as_str).unwrap();
        let objs = objects(case.get("manifests").and_then(YamlNode::as_str).unwrap());
        let analysis = kguard_netpol::analyze(&objs);
        assert!(analysis.cluster.warnings.is_empty(), "{name}: {:?}", analysis.cluster.warnings);
        let got = analysis.render(Format::Txt);
        assert_eq!(got, case.get("expect").and_then(YamlNode::as_str).unwrap(), "case {name:?}");
        assert_eq!(connlist::connlist_naive(&analysis.cluster), analysis.connections, "case {name:?}: naive differs");
    }
}

#[test]
fn rules_are_documented_once() {
    let mut ids: Vec<&str> = kguard_netpol::RULES.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), kguard_netpol::RULES.len());
    for r in kguard_netpol::RULES {
        assert!(r.id.starts_with("NP") && r.family == "netpol");
        assert!(r.what.len() > 40 && r.why.len() > 40 && r.fix.len() > 20 && !r.references.is_empty(), "{}", r.id);
    }
}

const FINDINGS_CASE: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: batch, namespace: shop}
spec:
  template:
    metadata: {labels: {app: batch}}
    spec: {containers: [{name: c}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
  ingress:
  - ports: [{port: htttp}]
  egress:
  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [169.254.169.254/32]}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: typo, namespace: shop}
spec:
  podSelector: {matchLabels: {app: wbe}}
  ingress:
  - from: [{namespaceSelector: {}}]
";

#[test]
fn findings_point_at_fields() {
    let objs = objects(FINDINGS_CASE);
    let cluster = kguard_netpol::Cluster::from_objects(&objs);
    let f = kguard_netpol::findings(&objs, &cluster);
    let mut got: Vec<(String, String)> =
        f.iter().map(|f| (f.rule_id.clone(), f.pointer.as_deref().unwrap_or_default().to_owned())).collect();
    got.sort();
    let want: Vec<(String, String)> = [
        ("NP001", ""),
        ("NP002", ""),
        ("NP003", "/spec/template/metadata/labels"),
        ("NP004", "/spec/podSelector"),
        ("NP005", "/spec/ingress/0"),
        ("NP005", "/spec/ingress/0"),
        ("NP006", "/spec/egress/0"),
        ("NP007", "/spec/ingress/0/ports/0/port"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(got, want, "{f:#?}");
    let np7 = f.iter().find(|f| f.rule_id == "NP007").unwrap();
    assert_eq!(np7.location.as_ref().unwrap().to_string(), "case.yaml:28:14");
}

#[test]
fn reach_explains_both_sides() {
    let objs = objects(FINDINGS_CASE);
    let cluster = kguard_netpol::Cluster::from_objects(&objs);
    let r = kguard_netpol::reach(&cluster, "shop/batch", "web", Protocol::Tcp, 80).unwrap();
    assert!(!r.allowed, "{r}");
    assert!(r.egress.allowed && !r.ingress.allowed);
    assert_eq!(r.ingress.reasons[0].policy, "[NP] shop/web");
    let r = kguard_netpol::reach(&cluster, "web", "8.8.8.8", Protocol::Udp, 53).unwrap();
    assert!(r.allowed, "{r}");
    assert_eq!(r.egress.reasons[0].pointer.as_deref(), Some("/spec/egress/0"));
    let r = kguard_netpol::reach(&cluster, "web", "169.254.169.254", Protocol::Tcp, 80).unwrap();
    assert!(!r.allowed, "{r}");
    assert!(kguard_netpol::reach(&cluster, "nope", "web", Protocol::Tcp, 80).is_err());
}

#[test]
fn class_based_agrees_with_naive() {
    let objs = objects(&kguard_testkit::generate::netpol_cluster(6, 12, 5));
    let cluster = kguard_netpol::Cluster::from_objects(&objs);
    assert!(cluster.warnings.is_empty(), "{:?}", cluster.warnings);
    let fast = connlist::connlist(&cluster);
    assert!(!fast.is_empty());
    assert_eq!(connlist::connlist_naive(&cluster), fast);
}

/// 2,000 workloads and 1,000 policies. The bound is generous for unoptimised test builds;
/// the time is printed (optimised builds take a fraction of it).
#[test]
fn large_cluster_connlist_is_fast() {
    let objs = objects(&kguard_testkit::generate::netpol_cluster(100, 20, 10));
    let cluster = kguard_netpol::Cluster::from_objects(&objs);
    assert_eq!(cluster.workloads.len(), 2000);
    assert_eq!(cluster.policies.len(), 1000);
    let start = Instant::now();
    let conns = connlist::connlist(&cluster);
    let took = start.elapsed();
    println!("connlist of 2000 workloads / 1000 policies: {} connections in {took:?}", conns.len());
    let limit = if cfg!(debug_assertions) { 30.0 } else { 2.0 };
    assert!(took.as_secs_f64() < limit, "took {took:?}");
}
