//! `kguard mesh explain` and `kguard scan` on Linkerd policy, end to end with the real binary:
//! the answer per port with the deciding object, Istio and Linkerd side by side, the MESH008–MESH013
//! findings with their locations, and the rules in `kguard rules` / `kguard explain`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::{Command, Output};

use serde_json::Value;

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard"))
        .current_dir(kguard_testkit::repo_root())
        .args(args)
        .output()
        .expect("runs kguard")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const FIXTURE: &str = "tests/fixtures/mesh/linkerd.yaml";

#[test]
fn explain_one_linkerd_port_as_json() {
    let o = kguard(&["mesh", "explain", "-f", FIXTURE, "Deployment/books/api:9990", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("ports").is_none(), "no Istio answer without Istio objects: {v}");
    let l = &v["linkerd"];
    assert_eq!(l["meshed"], true);
    assert_eq!(l["defaultPolicy"], "all-authenticated");
    let ports = l["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1);
    let p = &ports[0];
    assert_eq!((p["port"].as_u64(), p["access"].as_str()), (Some(9990), Some("plaintext")));
    assert_eq!(p["decidedBy"]["object"], "Server/books/api-admin");
    assert_eq!(p["decidedBy"]["location"], "tests/fixtures/mesh/linkerd.yaml:118:3");
    let a = &p["authorizations"][0];
    assert_eq!(a["authentication"], "unauthenticated");
    assert_eq!(a["networks"], serde_json::json!(["10.0.0.0/8"]));
    assert_eq!(a["decidedBy"]["object"], "ServerAuthorization/books/api-admin-nodes");

    // The cluster default applies to a port no Server selects when nothing else decides.
    let o =
        kguard(&["mesh", "explain", "-f", FIXTURE, "books/web:9000", "--linkerd-default-policy", "deny", "-o", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    // web's pod template annotation beats the namespace and the cluster.
    assert_eq!(v["linkerd"]["ports"][0]["defaultPolicy"], "all-unauthenticated");
    assert_eq!(v["linkerd"]["ports"][0]["decidedBy"]["level"], "pod");
    assert_eq!(v["linkerd"]["clusterDefaultPolicy"], "deny");
}

#[test]
fn istio_and_linkerd_answers_side_by_side() {
    let o = kguard(&["mesh", "explain", "-f", FIXTURE, "-f", "tests/fixtures/mesh/shop.yaml", "books/api"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(text.starts_with("Deployment/books/api (service account api)\nIstio:\nPORT         MODE"), "{text}");
    assert!(text.contains("\nLinkerd proxy: injected (namespace: Namespace/books"), "{text}");
    assert!(
        text.contains(
            "8080/http    HTTP/1    mtls       server: Server/books/api-http (tests/fixtures/mesh/linkerd.yaml:94:3)"
        ),
        "{text}"
    );
    let o = kguard(&["mesh", "explain", "-f", FIXTURE, "books/api:0"]);
    assert_eq!(o.status.code(), Some(2));
}

fn rule_ids(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            if let (Some(Value::String(id)), Some(loc)) = (m.get("ruleId"), m.get("location")) {
                out.push((id.clone(), format!("{}:{}", loc["line"], loc["column"])));
            }
            m.values().for_each(|x| rule_ids(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| rule_ids(x, out)),
        _ => {}
    }
}

#[test]
fn scan_reports_the_linkerd_rules_and_the_registry_knows_them() {
    let o = kguard(&["scan", FIXTURE, "--select", "MESH", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got = Vec::new();
    rule_ids(&v, &mut got);
    got.sort();
    let want: Vec<(String, String)> = [
        ("MESH008", "164:5"),
        ("MESH008", "50:9"),
        ("MESH010", "190:3"),
        ("MESH010", "195:7"),
        ("MESH011", "126:3"),
        ("MESH011", "176:3"),
        ("MESH012", "107:3"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(got, want);

    let rules = stdout(&kguard(&["rules"]));
    for id in ["MESH008", "MESH009", "MESH010", "MESH011", "MESH012", "MESH013"] {
        assert!(rules.contains(id), "{id} in kguard rules");
        let o = kguard(&["explain", id]);
        assert_eq!(o.status.code(), Some(0), "kguard explain {id}");
        assert!(stdout(&o).contains("linkerd.io"), "{id}: references");
    }
}
