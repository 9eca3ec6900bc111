//! Live: NodeRestriction (`kguard_admission::node_restriction`) against a real kube-apiserver
//! v1.36 (`../shared/bench/kube-apiserver.sh`, which enables `NodeRestriction` and the Node
//! authorizer).
//!
//! The admin creates two Nodes and pods bound to each; then the kubelet of `node1` (the
//! harness's `system:node:node1` token) writes: mirror pods (allowed, and every way of getting
//! one wrong), deletions, status updates and evictions of pods on either node, its own Node and
//! another's (labels it may and may not set), node leases, and TokenRequests bound to pods on
//! either node. Every request is one the Node authorizer lets through, so admission decides:
//! where kguard's `node_restriction` (given the stored objects, as the plugin's listers hold
//! them) allows, the server must succeed; where kguard denies, the server must answer 403 with
//! kguard's message, byte for byte.
//!
//! Skips (visibly) without the harness; under `KGUARD_REQUIRE_SHARED` it must run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::Command;

use kguard_admission::node_restriction::{NodeWrite, node_restriction};
use kguard_request::{Attributes, Operation, UserInfo};
use kguard_testkit::kube::KubeApiserver;
use serde_json::{Value, json};

/// One write by the kubelet of node1.
struct Case {
    note: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    operation: Operation,
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    namespace: &'static str,
    name: String,
    /// The stored object an update or delete replaces (the plugin's `old`).
    old: Option<Value>,
    /// What the pod lister returns for the request.
    pod: Option<Value>,
}

fn kubectl_json(kube: &KubeApiserver, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = kube.kubectl(&all);
    assert!(out.status.success(), "kubectl {all:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn apply(kube: &KubeApiserver, items: Vec<Value>) {
    let path = kube.dir().join("setup.json");
    std::fs::write(&path, serde_json::to_vec(&json!({ "apiVersion": "v1", "kind": "List", "items": items })).unwrap())
        .unwrap();
    let out = kube.kubectl(&["apply", "-f", &path.display().to_string()]);
    assert!(out.status.success(), "kubectl apply: {}", String::from_utf8_lossy(&out.stderr));
}

/// Sends one request as node1; the HTTP status and the parsed body.
fn as_node1(kube: &KubeApiserver, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let out_file = kube.dir().join("answer.json");
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--max-time", "20", "--cacert", kube.env("KUBE_CA_CERT")])
        .args(["-H", &format!("Authorization: Bearer {}", kube.env("KUBE_NODE1_TOKEN"))])
        .args(["-H", "Content-Type: application/json", "-X", method])
        .args(["-o", &out_file.display().to_string(), "-w", "%{http_code}"]);
    if let Some(b) = body {
        cmd.args(["--data-binary", &b.to_string()]);
    }
    cmd.arg(format!("{}{path}", kube.env("KUBE_SERVER")));
    let out = cmd.output().expect("run curl");
    let code: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    let body = std::fs::read(&out_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    (code, body)
}

fn node(name: &str, labels: Value) -> Value {
    json!({ "apiVersion": "v1", "kind": "Node", "metadata": { "name": name, "labels": labels } })
}

fn pod(name: &str, namespace: &str, node: &str) -> Value {
    json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name, "namespace": namespace },
        "spec": { "nodeName": node, "containers": [{ "name": "c", "image": "registry.example/app:1" }] } })
}

/// A mirror pod of node1 in kube-system, owned by the Node (UID `uid`).
fn mirror(name: &str, node: &str, uid: &str) -> Value {
    json!({ "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "kube-system",
            "annotations": { "kubernetes.io/config.mirror": "hash" },
            "ownerReferences": [{ "apiVersion": "v1", "kind": "Node", "name": node, "uid": uid, "controller": true }] },
        "spec": { "nodeName": node, "containers": [{ "name": "c", "image": "registry.example/etcd:1" }] } })
}

fn lease(name: &str) -> Value {
    json!({ "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": { "name": name, "namespace": "kube-node-lease" },
        "spec": { "holderIdentity": name, "leaseDurationSeconds": 40 } })
}

fn token_request(pod: &Value) -> Value {
    json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": { "audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600,
            "boundObjectRef": { "kind": "Pod", "apiVersion": "v1",
                "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"] } } })
}

#[allow(clippy::too_many_lines)]
fn cases(kube: &KubeApiserver, node1: &Value) -> Vec<Case> {
    let uid = node1["metadata"]["uid"].as_str().unwrap().to_owned();
    let web = kubectl_json(kube, &["get", "pod", "web", "-n", "app"]);
    let other = kubectl_json(kube, &["get", "pod", "other", "-n", "app"]);
    let node2 = kubectl_json(kube, &["get", "node", "node2"]);
    let pods = "/api/v1/namespaces";
    let create = |note, namespace: &'static str, body: Value| Case {
        note,
        method: "POST",
        path: format!("{pods}/{namespace}/pods"),
        name: body["metadata"]["name"].as_str().unwrap_or("").to_owned(),
        body: Some(body),
        operation: Operation::Create,
        verb: "create",
        group: "",
        resource: "pods",
        namespace,
        old: None,
        pod: None,
    };
    let mut out = vec![
        create("mirror pod bound to itself, owned by its Node", "kube-system", mirror("etcd-node1", "node1", &uid)),
        create("not a mirror pod", "app", pod("plain", "app", "node1")),
        create("mirror pod bound to another node", "kube-system", mirror("m2", "node2", &uid)),
        {
            let mut m = mirror("m3", "node1", &uid);
            m["metadata"]["ownerReferences"] = json!([]);
            create("mirror pod without an owner reference", "kube-system", m)
        },
        create("mirror pod owned by its Node with another UID", "kube-system", mirror("m4", "node1", "not-the-uid")),
        {
            let mut m = mirror("m5", "node1", &uid);
            m["metadata"]["ownerReferences"][0]["kind"] = json!("Pod");
            create("mirror pod owned by a Pod", "kube-system", m)
        },
        // (a mirror pod with a secret volume or a service account is refused first by the
        // ServiceAccount admission plugin, in its own words: the unit cases cover those texts)
        {
            let mut m = mirror("m8", "node1", &uid);
            m["spec"]["containers"][0]["envFrom"] = json!([{ "configMapRef": { "name": "cm" } }]);
            create("mirror pod reading a configmap", "kube-system", m)
        },
    ];
    // status updates and evictions of pods on each node
    for (p, note_status, note_evict) in [
        (&web, "status of a pod on itself", "eviction of a pod on itself"),
        (&other, "status of a pod on another node", "eviction of a pod on another node"),
    ] {
        let name = p["metadata"]["name"].as_str().unwrap().to_owned();
        let mut updated = p.clone();
        updated["status"]["message"] = json!("updated by node1");
        out.push(Case {
            note: note_status,
            method: "PUT",
            path: format!("{pods}/app/pods/{name}/status"),
            body: Some(updated),
            operation: Operation::Update,
            verb: "update",
            group: "",
            resource: "pods/status",
            namespace: "app",
            name: name.clone(),
            old: Some(p.clone()),
            pod: Some(p.clone()),
        });
        out.push(Case {
            note: note_evict,
            method: "POST",
            path: format!("{pods}/app/pods/{name}/eviction"),
            body: Some(json!({ "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": { "name": name, "namespace": "app" } })),
            operation: Operation::Create,
            verb: "create",
            group: "",
            resource: "pods/eviction",
            namespace: "app",
            name,
            old: None,
            pod: Some(p.clone()),
        });
    }
    // TokenRequests bound to pods on each node, for audiences the pod uses or not
    for (p, audiences, note) in [
        (&web, json!(["vault"]), "token bound to a pod on itself, an audience its projected volume names"),
        (&web, json!(["elsewhere"]), "token bound to a pod on itself, an audience it does not use"),
        (&web, json!(["vault", "elsewhere"]), "token bound to a pod on itself, two audiences"),
        (&web, json!([]), "token bound to a pod on itself, no audience"),
        (&other, json!(["vault"]), "token bound to a pod on another node"),
    ] {
        let mut body = token_request(p);
        body["spec"]["audiences"] = audiences;
        out.push(Case {
            note,
            method: "POST",
            path: format!("{pods}/app/serviceaccounts/default/token"),
            body: Some(body),
            operation: Operation::Create,
            verb: "create",
            group: "",
            resource: "serviceaccounts/token",
            namespace: "app",
            name: "default".into(),
            old: None,
            pod: Some(p.clone()),
        });
    }
    // its own Node and another's
    let node_update = |note, stored: &Value, labels: Value| {
        let mut n = stored.clone();
        // an unconditional update: the cases write one after another
        n["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        for (k, v) in labels.as_object().unwrap() {
            n["metadata"]["labels"][k] = v.clone();
        }
        let name = stored["metadata"]["name"].as_str().unwrap().to_owned();
        Case {
            note,
            method: "PUT",
            path: format!("/api/v1/nodes/{name}"),
            body: Some(n),
            operation: Operation::Update,
            verb: "update",
            group: "",
            resource: "nodes",
            namespace: "",
            name,
            old: Some(stored.clone()),
            pod: None,
        }
    };
    out.push(node_update("own node: a kubelet label", node1, json!({ "node.kubernetes.io/instance-type": "big" })));
    out.push(node_update(
        "own node: a node-restriction.kubernetes.io label",
        node1,
        json!({ "node-restriction.kubernetes.io/pool": "secure" }),
    ));
    out.push(node_update(
        "own node: an unlisted kubernetes.io label",
        node1,
        json!({ "kubernetes.io/role": "master" }),
    ));
    out.push(node_update("own node: a label outside kubernetes.io", node1, json!({ "team.example.com/owner": "a" })));
    out.push(node_update("another node", &node2, json!({ "x": "y" })));
    let mut taints = node1.clone();
    taints["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    taints["spec"]["taints"] = json!([{ "key": "k", "value": "v", "effect": "NoSchedule" }]);
    out.push(Case { body: Some(taints), ..node_update("own node: taints", node1, json!({})) });
    out.push(Case {
        note: "create another node",
        method: "POST",
        path: "/api/v1/nodes".into(),
        body: Some(node("node3", json!({}))),
        operation: Operation::Create,
        verb: "create",
        group: "",
        resource: "nodes",
        namespace: "",
        name: "node3".into(),
        old: None,
        pod: None,
    });
    // node leases
    for (name, note) in [("node1", "its own node lease"), ("node2", "another node's lease")] {
        out.push(Case {
            note,
            method: "POST",
            path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases".into(),
            body: Some(lease(name)),
            operation: Operation::Create,
            verb: "create",
            group: "coordination.k8s.io",
            resource: "leases",
            namespace: "kube-node-lease",
            name: name.into(),
            old: None,
            pod: None,
        });
    }
    // deletions last: they change what the listers hold
    for (p, note) in [(&other, "delete a pod on another node"), (&web, "delete a pod on itself")] {
        let name = p["metadata"]["name"].as_str().unwrap().to_owned();
        out.push(Case {
            note,
            method: "DELETE",
            path: format!("{pods}/app/pods/{name}"),
            body: None,
            operation: Operation::Delete,
            verb: "delete",
            group: "",
            resource: "pods",
            namespace: "app",
            name,
            old: Some(p.clone()),
            pod: Some(p.clone()),
        });
    }
    out
}

#[test]
fn node_restriction_agrees_with_kube_apiserver() {
    let Some(kube) = KubeApiserver::start("noderestriction_live", &[], &[]) else {
        return;
    };
    apply(
        &kube,
        vec![
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "app" } }),
            json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "default", "namespace": "app" } }),
            node("node1", json!({ "kubernetes.io/hostname": "node1" })),
            node("node2", json!({ "kubernetes.io/hostname": "node2" })),
        ],
    );
    let mut web = pod("web", "app", "node1");
    web["spec"]["volumes"] = json!([{ "name": "vault-token", "projected": { "sources": [{ "serviceAccountToken": { "audience": "vault", "path": "t" } }] } }]);
    web["spec"]["containers"][0]["volumeMounts"] = json!([{ "name": "vault-token", "mountPath": "/var/run/vault" }]);
    apply(&kube, vec![web, pod("other", "app", "node2")]);
    let node1 = kubectl_json(&kube, &["get", "node", "node1"]);
    // the Node authorizer must have seen the pods before node1 can reach them
    let mut tries = 0;
    while as_node1(&kube, "GET", "/api/v1/namespaces/app/pods?fieldSelector=spec.nodeName%3Dnode1", None).0 != 200 {
        tries += 1;
        assert!(tries < 100, "node1 never got to list its pods");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let user = UserInfo::new(
        "system:node:node1".to_owned(),
        vec!["system:nodes".to_owned(), "system:authenticated".to_owned()],
    );
    let cases = cases(&kube, &node1);
    let (mut agree, mut denied) = (0usize, 0usize);
    let mut disagreements = Vec::new();
    for c in &cases {
        let full = c.resource;
        let attrs = Attributes::resource(user.clone(), c.verb, c.group, full, c.namespace, &c.name);
        let mut w = NodeWrite::new(&attrs, c.operation);
        w.object = c.body.as_ref();
        w.old_object = c.old.as_ref();
        w.pod = c.pod.as_ref();
        w.node = Some(&node1);
        let ours = node_restriction(&w).map_err(|e| e.to_string());
        let (code, answer) = as_node1(&kube, c.method, &c.path, c.body.as_ref());
        let theirs = answer["message"].as_str().unwrap_or("");
        let same = match &ours {
            Ok(()) => (200..300).contains(&code),
            Err(msg) => code == 403 && theirs == msg,
        };
        denied += usize::from(ours.is_err());
        if same {
            agree += 1;
        } else {
            disagreements
                .push(format!("{}: {} {}: server {code} {theirs:?}, kguard {ours:?}", c.note, c.method, c.path));
        }
    }
    eprintln!(
        "noderestriction live oracle: {agree} agree of {} writes by node1 ({denied} denied by kguard, with the server's exact message)",
        cases.len()
    );
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}
