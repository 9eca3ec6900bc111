//! End to end with a real kube-apiserver v1.36 (`../shared/bench/kube-apiserver.sh`): `kguard
//! serve` registered as two mutating webhooks on `/mutate`, as `deploy/kubernetes/webhooks.yaml`
//! registers it (the defaults webhook, then `pods.mesh-inject.kguard.io` failing closed). A pod
//! created (server-side dry-run) in a namespace that opts in comes back with the sidecar, which
//! kube-apiserver validated, defaulted and admitted under Pod Security `restricted`, and which the
//! second webhook recognised as already injected; a pod elsewhere comes back without; a pod with
//! a container of the sidecar's name is refused with kguard's message. `deploy/mesh/example-app.yaml`
//! is applied too (valid, no Pod Security warning).
//!
//! Skips (visibly) without the harness; under `KGUARD_REQUIRE_SHARED` it must run where the
//! harness exists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use common::write_pki;
use kguard_testkit::TempDir;
use kguard_testkit::kube::KubeApiserver;

const STATE: &str = r"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {kguard.io/mesh-inject: enabled, pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Namespace
metadata:
  name: plain
  labels: {pod-security.kubernetes.io/enforce: restricted}
";

fn webhook(name: &str, url: &str, ca: &str, failure: &str, selector: Value) -> Value {
    json!({
        "name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
        "failurePolicy": failure, "matchPolicy": "Equivalent", "reinvocationPolicy": "Never", "timeoutSeconds": 5,
        "clientConfig": {"url": url, "caBundle": ca},
        "namespaceSelector": selector,
        "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"}]
    })
}

/// A pod `restricted` admits.
fn app_pod(name: &str, ns: &str, container: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {
            "serviceAccountName": "api",
            "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": container, "image": "hashicorp/http-echo:1.0",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_apiserver_admits_the_injected_pod() {
    let Some(kube) = KubeApiserver::start("mesh_inject_apiserver", &[], &[]) else { return };
    let dir = TempDir::new("inject-kube");
    let pki = write_pki(dir.path());
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/namespaces.yaml"), STATE).unwrap();
    // kube-apiserver calls admission webhooks without a client certificate here.
    std::fs::write(
        dir.path().join("kguard.yaml"),
        "apiVersion: kguard.io/v1alpha1
kind: ServerConfig
listen: 127.0.0.1:0
healthListen: 127.0.0.1:0
reloadIntervalSeconds: 0
shutdownDelaySeconds: 0
tls: {certFile: tls.crt, keyFile: tls.key}
state: {dir: state}
admission:
  meshInject: {image: 'ghcr.io/kguard/kguard:0.1.0', imagePullPolicy: IfNotPresent}
",
    )
    .unwrap();
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let url = format!("https://127.0.0.1:{}/mutate", server.addr.port());
    let ca = base64::engine::general_purpose::STANDARD.encode(&pki.ca_pem);

    let not_system = json!({"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]});
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop",
            "labels": {"kguard.io/mesh-inject": "enabled", "pod-security.kubernetes.io/enforce": "restricted"}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain",
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api", "namespace": "shop"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "api", "namespace": "plain"}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "kguard"}, "webhooks": [
            webhook("pods.mutate.kguard.io", &url, &ca, "Ignore", json!({"matchExpressions": [not_system]})),
            webhook("pods.mesh-inject.kguard.io", &url, &ca, "Fail", json!({"matchExpressions": [
                {"key": "kguard.io/mesh-inject", "operator": "In", "values": ["enabled"]}, not_system]})),
        ]}
    ]});
    let file = dir.path().join("objects.json");
    std::fs::write(&file, objects.to_string()).unwrap();
    let out = kube.kubectl(&["apply", "-f", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let create = |pod: &Value| {
        let f = dir.path().join("pod.json");
        std::fs::write(&f, pod.to_string()).unwrap();
        let out = kube.kubectl(&["create", "--dry-run=server", "-o", "json", "-f", f.to_str().unwrap()]);
        (
            out.status.success(),
            serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The webhook configuration takes effect once kube-apiserver's informer has it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let stored = loop {
        let (ok, pod, err) = create(&app_pod("web", "shop", "app"));
        assert!(ok, "kube-apiserver refused the pod: {err}");
        if pod.pointer("/spec/initContainers/0").is_some() || Instant::now() > deadline {
            break pod;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let sidecar = &stored["spec"]["initContainers"][0];
    assert_eq!(sidecar["name"], "kguard-mesh-proxy", "{stored}");
    assert_eq!(sidecar["restartPolicy"], "Always");
    assert_eq!(sidecar["image"], "ghcr.io/kguard/kguard:0.1.0");
    assert_eq!(sidecar["terminationMessagePath"], "/dev/termination-log", "kube-apiserver defaulted it");
    let volumes = stored["spec"]["volumes"].as_array().unwrap();
    assert!(volumes.iter().any(|v| v["configMap"]["name"] == "kguard-mesh-api"), "{stored}");
    assert!(volumes.iter().any(|v| v["secret"]["secretName"] == "kguard-svid-api"), "{stored}");
    assert_eq!(stored["spec"]["initContainers"].as_array().unwrap().len(), 1, "injected once: {stored}");
    // Both webhooks answered: the first injected, the second found its sidecar.
    let metrics = common::http_get(server.health_addr, "/metrics").await;
    let mutates = metrics
        .lines()
        .find(|l| l.starts_with("kguard_decisions_total{endpoint=\"mutate\",decision=\"allowed\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(mutates >= 2, "{metrics}");

    // Not opted in: no sidecar.
    let (ok, pod, err) = create(&app_pod("web", "plain", "app"));
    assert!(ok, "{err}");
    assert!(pod.pointer("/spec/initContainers").is_none(), "{pod}");

    // A container of the sidecar's name: refused, with kguard's words.
    let (ok, _, err) = create(&app_pod("web", "shop", "kguard-mesh-proxy"));
    assert!(!ok);
    assert!(
        err.contains(
            "pods \"web\" is forbidden: kguard mesh sidecar injection: containers[0] is named \"kguard-mesh-proxy\""
        ),
        "{err}"
    );

    // The hand-written example of deploy/mesh is valid for kube-apiserver v1.36 too, and its pod
    // templates pass Pod Security `restricted` (no warning for the Deployments).
    let example = kguard_testkit::repo_root().join("deploy/mesh/example-app.yaml");
    let out = kube.kubectl(&["apply", "-f", example.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("PodSecurity"), "{stderr}");
    let out = kube.kubectl(&["-n", "shop", "get", "deployment", "api", "-o", "json"]);
    let api: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(api["spec"]["template"]["spec"]["initContainers"][0]["restartPolicy"], "Always", "{api}");
    server.shutdown().await;
}
