//! NodeRestriction admission cases (`tests/node_restriction/cases.yaml`): every rule of
//! `node_restriction`, allowed and denied, with upstream's exact error texts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use kguard_admission::node_restriction::{NodeWrite, node_restriction};
use kguard_model::yaml;
use kguard_request::Operation;
use kguard_request::{Attributes, UserInfo};
use serde::Deserialize;
use serde_json::Value as J;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    note: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    operation: String,
    resource: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    object: Option<J>,
    #[serde(default)]
    old: Option<J>,
    #[serde(default)]
    expansion_recovery: Option<bool>,
    want: String,
    #[serde(default)]
    prefix: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    nodes: Vec<J>,
    pods: Vec<J>,
    cases: Vec<Case>,
}

fn s<'a>(v: &'a J, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(J::as_str).unwrap_or("")
}

#[test]
fn node_restriction_cases() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node_restriction/cases.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let docs = yaml::parse_documents(&text);
    let root = docs[0].root.as_ref().unwrap().as_ref().unwrap();
    let file: File = serde_json::from_value(root.to_json()).unwrap();
    assert!(file.cases.len() >= 60, "{} cases", file.cases.len());
    let mut failures = Vec::new();
    for (i, c) in file.cases.iter().enumerate() {
        let user_name = c.user.clone().unwrap_or_else(|| "system:node:node1".to_owned());
        let groups =
            c.groups.clone().unwrap_or_else(|| vec!["system:nodes".to_owned(), "system:authenticated".to_owned()]);
        let user = UserInfo::new(user_name.clone(), groups);
        let (operation, verb) = match c.operation.as_str() {
            "CREATE" => (Operation::Create, "create"),
            "UPDATE" => (Operation::Update, "update"),
            "DELETE" => (Operation::Delete, "delete"),
            "CONNECT" => (Operation::Connect, "create"),
            other => panic!("case {i}: operation {other}"),
        };
        let attrs = Attributes::resource(user, verb, &c.group, &c.resource, &c.namespace, &c.name);
        // what the listers return: the pod the request names (request, Eviction body or a
        // TokenRequest's bound object) and the requesting node
        let pod_name = [
            c.name.as_str(),
            c.object.as_ref().map_or("", |o| s(o, "/metadata/name")),
            c.object.as_ref().map_or("", |o| s(o, "/spec/boundObjectRef/name")),
        ];
        let pod_name = if c.resource == "serviceaccounts/token" {
            pod_name[2]
        } else {
            pod_name[..2].iter().copied().find(|n| !n.is_empty()).unwrap_or("")
        };
        let pod =
            file.pods.iter().find(|p| s(p, "/metadata/name") == pod_name && s(p, "/metadata/namespace") == c.namespace);
        let node_name = user_name.strip_prefix("system:node:").unwrap_or("");
        let node = file.nodes.iter().find(|n| s(n, "/metadata/name") == node_name);
        let mut w = NodeWrite::new(&attrs, operation);
        w.object = c.object.as_ref();
        w.old_object = c.old.as_ref();
        w.pod = pod;
        w.node = node;
        w.expansion_recovery = c.expansion_recovery.unwrap_or(true);
        let got = match node_restriction(&w) {
            Ok(()) => "allow".to_owned(),
            Err(e) => e.to_string(),
        };
        let ok = if c.prefix { got.starts_with(&c.want) && got.len() > c.want.len() } else { got == c.want };
        if !ok {
            failures.push(format!("case {i} ({}):\n  want {:?}\n  got  {got:?}", c.note, c.want));
        }
    }
    eprintln!("node restriction cases: {} of {} pass", file.cases.len() - failures.len(), file.cases.len());
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn kubelet_labels() {
    use kguard_admission::node_restriction::is_allowed_node_label;
    for ok in [
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "node.kubernetes.io/instance-type",
        "node.kubernetes.io/anything",
        "feature.node.kubernetes.io/cpu",
        "kubelet.kubernetes.io/x",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "example.com/x",
        "no-prefix",
        "notkubernetes.io/x",
    ] {
        assert!(is_allowed_node_label(ok), "{ok}");
    }
    for bad in [
        "node-restriction.kubernetes.io/x",
        "a.node-restriction.kubernetes.io/x",
        "node-role.kubernetes.io/control-plane",
        "kubernetes.io/role",
        "k8s.io/x",
        "x.k8s.io/y",
        "topology.kubernetes.io/rack",
        "beta.kubernetes.io/fluentd-ds-ready",
    ] {
        assert!(!is_allowed_node_label(bad), "{bad}");
    }
}
