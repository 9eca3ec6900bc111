//! Data-driven selector/port cases (`tests/netpol/selectors.yaml`), findings, reach, and the
//! large-cluster performance check of the class-based evaluator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use kguard_engine::netpol::{self, Format, Protocol, connlist};
use kguard_model::{Node, Object};

fn objects(text: &str) -> Vec<Object> {
    let file: Arc<str> = "case.yaml".into();
    let mut out = Vec::new();
    kguard_model::yaml::for_each_document(text, |d| {
        if let Ok(Some(root)) = d.root {
            out.extend(netpol::model::document_objects(root, &file, d.index).0);
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
        let name = case.get("name").and_then(Node::as_str).unwrap();
        let objs = objects(case.get("manifests").and_then(Node::as_str).unwrap());
        let analysis = netpol::analyze(&objs);
        assert!(analysis.cluster.warnings.is_empty(), "{name}: {:?}", analysis.cluster.warnings);
        let got = analysis.render(Format::Txt);
        assert_eq!(got, case.get("expect").and_then(Node::as_str).unwrap(), "case {name:?}");
        assert_eq!(connlist::connlist_naive(&analysis.cluster), analysis.connections, "case {name:?}: naive differs");
    }
}

#[test]
fn rules_are_documented_once() {
    let mut ids: Vec<&str> = netpol::RULES.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), netpol::RULES.len());
    for r in netpol::RULES {
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
    let cluster = netpol::Cluster::from_objects(&objs);
    let f = netpol::findings(&objs, &cluster);
    let mut got: Vec<(String, String)> =
        f.iter().map(|f| (f.rule_id.clone(), f.pointer.clone().unwrap_or_default())).collect();
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
    let cluster = netpol::Cluster::from_objects(&objs);
    let r = netpol::reach(&cluster, "shop/batch", "web", Protocol::Tcp, 80).unwrap();
    assert!(!r.allowed, "{r}");
    assert!(r.egress.allowed && !r.ingress.allowed);
    assert_eq!(r.ingress.reasons[0].policy, "[NP] shop/web");
    let r = netpol::reach(&cluster, "web", "8.8.8.8", Protocol::Udp, 53).unwrap();
    assert!(r.allowed, "{r}");
    assert_eq!(r.egress.reasons[0].pointer.as_deref(), Some("/spec/egress/0"));
    let r = netpol::reach(&cluster, "web", "169.254.169.254", Protocol::Tcp, 80).unwrap();
    assert!(!r.allowed, "{r}");
    assert!(netpol::reach(&cluster, "nope", "web", Protocol::Tcp, 80).is_err());
}

/// A synthetic cluster: `ns` namespaces × `per` deployments, `pols` policies.
fn big_cluster(ns: usize, per: usize, pols_per_ns: usize) -> String {
    let mut s = String::new();
    for n in 0..ns {
        let _ = write!(
            s,
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{n}, labels: {{zone: z{}}}}}\n---\n",
            n % 4
        );
        for d in 0..per {
            let _ = write!(
                s,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d{d}, namespace: ns{n}}}\nspec:\n  template:\n    metadata: {{labels: {{app: a{d}, tier: t{}}}}}\n    spec: {{containers: [{{name: c, ports: [{{name: http, containerPort: {}}}]}}]}}\n---\n",
                d % 5,
                8000 + d % 7
            );
        }
        let _ = write!(
            s,
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: ns{n}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}\n---\n"
        );
        for p in 1..pols_per_ns {
            let _ = write!(
                s,
                "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p{p}, namespace: ns{n}}}\nspec:\n  podSelector: {{matchLabels: {{app: a{}}}}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - namespaceSelector: {{matchLabels: {{zone: z{}}}}}\n      podSelector: {{matchLabels: {{tier: t{}}}}}\n    ports: [{{port: http}}, {{port: 9000, endPort: 9100}}]\n  egress:\n  - to: [{{podSelector: {{matchExpressions: [{{key: tier, operator: In, values: [t{}, t{}]}}]}}}}]\n  - to: [{{ipBlock: {{cidr: 10.{n}.0.0/16}}}}]\n    ports: [{{port: 53, protocol: UDP}}]\n---\n",
                p % per,
                p % 4,
                p % 5,
                p % 5,
                (p + 1) % 5
            );
        }
    }
    s
}

#[test]
fn class_based_agrees_with_naive() {
    let objs = objects(&big_cluster(6, 12, 5));
    let cluster = netpol::Cluster::from_objects(&objs);
    assert!(cluster.warnings.is_empty(), "{:?}", cluster.warnings);
    let fast = connlist::connlist(&cluster);
    assert!(!fast.is_empty());
    assert_eq!(connlist::connlist_naive(&cluster), fast);
}

/// 2,000 workloads and 1,000 policies. The bound is generous for unoptimised test builds;
/// the time is printed (optimised builds take a fraction of it).
#[test]
fn large_cluster_connlist_is_fast() {
    let objs = objects(&big_cluster(100, 20, 10));
    let cluster = netpol::Cluster::from_objects(&objs);
    assert_eq!(cluster.workloads.len(), 2000);
    assert_eq!(cluster.policies.len(), 1000);
    let start = Instant::now();
    let conns = connlist::connlist(&cluster);
    let took = start.elapsed();
    println!("connlist of 2000 workloads / 1000 policies: {} connections in {took:?}", conns.len());
    let limit = if cfg!(debug_assertions) { 30.0 } else { 2.0 };
    assert!(took.as_secs_f64() < limit, "took {took:?}");
}
