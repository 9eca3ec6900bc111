//! `/mutate` injects the `kguard mesh proxy` native sidecar (`admission.meshInject`): real
//! AdmissionReviews over mutual TLS to the running server, the exact JSON Patch, and the pods that
//! get none (a namespace that did not opt in, a pod already injected) or are refused (a container
//! or volume of the sidecar's names that is not the sidecar).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

use common::{CONFIG_HEAD, Client, pod, review, write_pki};
use kguard_testkit::TempDir;

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
  labels: {kguard.io/mesh-inject: disabled}
";

const INJECT: &str = "  meshInject:
    image: ghcr.io/kguard/kguard:0.1.0
    imagePullPolicy: IfNotPresent
";

fn write_config(dir: &Path, admission: &str) {
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("state/namespaces.yaml"), STATE).unwrap();
    std::fs::write(dir.join("kguard.yaml"), format!("{CONFIG_HEAD}state: {{dir: state}}\nadmission:\n{admission}"))
        .unwrap();
}

/// The sidecar the default configuration injects (what docs/mesh.md shows).
fn sidecar() -> Value {
    json!({
        "name": "kguard-mesh-proxy",
        "image": "ghcr.io/kguard/kguard:0.1.0",
        "imagePullPolicy": "IfNotPresent",
        "args": ["mesh", "proxy", "--config", "/etc/kguard-mesh/proxy.yaml", "--log-format", "json"],
        "restartPolicy": "Always",
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsGroup": 65532,
            "runAsNonRoot": true,
            "runAsUser": 65532,
            "seccompProfile": {"type": "RuntimeDefault"}
        },
        "volumeMounts": [
            {"name": "kguard-mesh-config", "mountPath": "/etc/kguard-mesh", "readOnly": true},
            {"name": "kguard-mesh-identity", "mountPath": "/var/run/secrets/kguard-mesh", "readOnly": true}
        ]
    })
}

fn volumes(sa: &str) -> Value {
    json!([
        {"name": "kguard-mesh-config", "configMap": {"name": format!("kguard-mesh-{sa}")}},
        {"name": "kguard-mesh-identity", "secret": {"secretName": format!("kguard-svid-{sa}")}}
    ])
}

struct Server {
    _dir: TempDir,
    server: kguard_server::Handle,
    client: Client,
}

async fn server(name: &str, admission: &str) -> Server {
    let dir = TempDir::new(name);
    let pki = write_pki(dir.path());
    write_config(dir.path(), admission);
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    Server { _dir: dir, server, client: Client::new(&pki, true) }
}

impl Server {
    async fn stop(self) {
        self.server.shutdown().await;
    }

    /// The response of a `/mutate` review of a Pod CREATE, and its patch decoded.
    async fn mutate(&self, pod: Value) -> (Value, Option<Value>) {
        let (code, v) =
            self.client.post(self.server.addr, "/mutate", review("pods", "Pod", "CREATE", pod, "alice")).await.unwrap();
        assert_eq!(code, 200, "{v}");
        let r = v["response"].clone();
        let patch = r["patch"]
            .as_str()
            .map(|p| serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(p).unwrap()).unwrap());
        (r, patch)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sidecar_is_injected_into_pods_of_namespaces_that_opt_in() {
    let s = server("inject", INJECT).await;

    // A pod without init containers or volumes: both lists are created.
    let (r, patch) = s.mutate(pod("web", "shop", "nginx:1.27")).await;
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(r["patchType"], "JSONPatch");
    assert_eq!(r["auditAnnotations"]["mesh-inject"], "kguard-mesh-proxy");
    assert_eq!(
        patch.unwrap(),
        json!([
            {"op": "add", "path": "/spec/initContainers", "value": [sidecar()]},
            {"op": "add", "path": "/spec/volumes", "value": volumes("default")}
        ])
    );

    // With its own init container and volume: the sidecar goes first (it starts before the
    // other init containers), the volumes after the pod's; the names follow the service account.
    let mut p = pod("api", "shop", "nginx:1.27");
    p["spec"]["serviceAccountName"] = json!("api");
    p["spec"]["initContainers"] = json!([{"name": "migrate", "image": "migrate:1"}]);
    p["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
    let (r, patch) = s.mutate(p.clone()).await;
    assert_eq!(r["allowed"], true, "{r}");
    let patch = patch.unwrap();
    assert_eq!(
        patch,
        json!([
            {"op": "add", "path": "/spec/initContainers/0", "value": sidecar()},
            {"op": "add", "path": "/spec/volumes/1", "value": volumes("api")[0]},
            {"op": "add", "path": "/spec/volumes/2", "value": volumes("api")[1]}
        ])
    );
    // Applied, it gives the pod kube-apiserver will store.
    let ops: Vec<kguard_admission::jsonpatch::PatchOp> = patch
        .as_array()
        .unwrap()
        .iter()
        .map(|op| kguard_admission::jsonpatch::PatchOp::Add {
            path: op["path"].as_str().unwrap().to_owned(),
            value: op["value"].clone(),
        })
        .collect();
    let mut patched = p.clone();
    kguard_admission::jsonpatch::apply(&mut patched, &ops).unwrap();
    assert_eq!(patched["spec"]["initContainers"][0]["name"], "kguard-mesh-proxy");
    assert_eq!(patched["spec"]["initContainers"][1]["name"], "migrate");
    assert_eq!(patched["spec"]["volumes"].as_array().unwrap().len(), 3);

    // Only CREATE is mutated, and only in the namespaces that opt in (label value "enabled").
    let (code, v) = s
        .client
        .post(s.server.addr, "/mutate", review("pods", "Pod", "UPDATE", pod("web", "shop", "nginx:1.27"), "alice"))
        .await
        .unwrap();
    assert_eq!((code, v["response"]["allowed"].as_bool(), v["response"].get("patch")), (200, Some(true), None));
    let (r, patch) = s.mutate(pod("web", "plain", "nginx:1.27")).await;
    assert_eq!((r["allowed"].as_bool(), patch), (Some(true), None), "{r}");
    assert!(r.get("auditAnnotations").is_none_or(|a| a.get("mesh-inject").is_none()), "{r}");
    // The pod cannot opt itself out (nor in): its labels and annotations are not read.
    let mut p = pod("web", "shop", "nginx:1.27");
    p["metadata"]["labels"] = json!({"kguard.io/mesh-inject": "disabled", "sidecar.istio.io/inject": "false"});
    p["metadata"]["annotations"] = json!({"kguard.io/mesh-inject": "disabled"});
    let (_, patch) = s.mutate(p).await;
    assert_eq!(patch.unwrap()[0]["path"], "/spec/initContainers");
    let mut p = pod("web", "plain", "nginx:1.27");
    p["metadata"]["labels"] = json!({"kguard.io/mesh-inject": "enabled"});
    assert_eq!(s.mutate(p).await.1, None);
    // A namespace the state does not hold: the lookup fails, as for Pod Security (fail closed).
    let (r, _) = s.mutate(pod("web", "ghost", "nginx:1.27")).await;
    assert_eq!((r["allowed"].as_bool(), r["status"]["code"].as_u64()), (Some(false), Some(500)), "{r}");
    assert_eq!(r["status"]["message"], "failed to lookup namespace ghost");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_already_injected_is_not_injected_twice() {
    let s = server("inject-twice", INJECT).await;
    // The sidecar as kube-apiserver stores it (its defaults filled in), e.g. a pod re-created
    // from `kubectl get pod -o yaml`.
    let mut stored = sidecar();
    stored["terminationMessagePath"] = json!("/dev/termination-log");
    stored["terminationMessagePolicy"] = json!("File");
    let mut vols = volumes("default");
    vols[0]["configMap"]["defaultMode"] = json!(420);
    vols[1]["secret"]["defaultMode"] = json!(420);
    let mut p = pod("web", "shop", "nginx:1.27");
    p["spec"]["initContainers"] = json!([stored]);
    p["spec"]["volumes"] = vols;
    let (r, patch) = s.mutate(p.clone()).await;
    assert_eq!((r["allowed"].as_bool(), patch), (Some(true), None), "{r}");
    assert_eq!(r["auditAnnotations"]["mesh-inject"], "already-injected");

    // The same with a changed command line is not the sidecar: refused, not skipped.
    let mut changed = p.clone();
    changed["spec"]["initContainers"][0]["args"] = json!(["mesh", "proxy", "--config", "/tmp/allow-all.yaml"]);
    let (r, patch) = s.mutate(changed).await;
    assert_eq!((r["allowed"].as_bool(), r["status"]["code"].as_u64(), patch), (Some(false), Some(403), None), "{r}");
    // Its volumes pointing elsewhere: refused too.
    let mut moved = p;
    moved["spec"]["volumes"][1]["secret"]["secretName"] = json!("someone-else");
    let (r, _) = s.mutate(moved).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["status"]["message"].as_str().unwrap().starts_with(
            "pods \"web\" is forbidden: kguard mesh sidecar injection: volumes[1] is named \"kguard-mesh-identity\""
        ),
        "{r}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_with_a_container_of_the_sidecars_name_is_refused() {
    let s = server("inject-conflict", INJECT).await;
    let mut p = pod("web", "shop", "nginx:1.27");
    p["spec"]["containers"] = json!([{"name": "kguard-mesh-proxy", "image": "evil:1"}]);
    let (r, patch) = s.mutate(p).await;
    assert_eq!((r["allowed"].as_bool(), patch), (Some(false), None), "{r}");
    assert_eq!(r["status"]["code"], 403);
    assert_eq!(
        r["status"]["message"],
        "pods \"web\" is forbidden: kguard mesh sidecar injection: containers[0] is named \"kguard-mesh-proxy\", the sidecar's name, but is not the sidecar this server injects (image ghcr.io/kguard/kguard:0.1.0, restartPolicy Always, its arguments, mounts and securityContext)"
    );
    // A volume of the sidecar's names on a pod without the sidecar: refused.
    let mut p = pod("web", "shop", "nginx:1.27");
    p["spec"]["volumes"] = json!([{"name": "kguard-mesh-config", "emptyDir": {}}]);
    let (r, _) = s.mutate(p).await;
    assert_eq!(r["allowed"], false, "{r}");
    // The same pod in a namespace that did not opt in is none of injection's business.
    let mut p = pod("web", "plain", "nginx:1.27");
    p["spec"]["containers"] = json!([{"name": "kguard-mesh-proxy", "image": "mine:1"}]);
    let (r, patch) = s.mutate(p).await;
    assert_eq!((r["allowed"].as_bool(), patch), (Some(true), None), "{r}");
    s.stop().await;
}

/// Injection and the secure defaults in one patch: the defaults see the sidecar (which needs
/// none) and the app's containers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secure_defaults_follow_the_injection() {
    let s = server("inject-defaults", &format!("{INJECT}  mutate: {{disallowPrivilegeEscalation: true}}\n")).await;
    let (r, patch) = s.mutate(pod("web", "shop", "nginx:1.27")).await;
    assert_eq!(r["auditAnnotations"]["mutated"], "allowPrivilegeEscalation", "{r}");
    assert_eq!(
        patch.unwrap(),
        json!([
            {"op": "add", "path": "/spec/initContainers", "value": [sidecar()]},
            {"op": "add", "path": "/spec/volumes", "value": volumes("default")},
            {"op": "add", "path": "/spec/containers/0/securityContext", "value": {"allowPrivilegeEscalation": false}}
        ])
    );
    s.stop().await;
}

#[test]
fn a_bad_mesh_inject_section_is_refused_with_its_line() {
    let parse = |admission: &str, state: &str| {
        let text = format!("{CONFIG_HEAD}{state}admission:\n{admission}");
        kguard_server::config::Config::parse("kguard.yaml", &text, Path::new("/")).err().map(|e| e.to_string())
    };
    let state = "state: {dir: state}\n";
    assert_eq!(parse(INJECT, state), None);
    assert_eq!(
        parse(INJECT, "").unwrap(),
        "kguard.yaml:10:3: admission.meshInject needs state.dir or state.cluster: namespaces opt in by a label kguard must know"
    );
    assert_eq!(
        parse("  meshInject: {image: 'kguard:1', imagePullPolicy: Sometimes}\n", state).unwrap(),
        "kguard.yaml:11:35: admission.meshInject.imagePullPolicy: expected Always, IfNotPresent or Never, found \"Sometimes\""
    );
    assert_eq!(
        parse("  meshInject: {image: 'kguard:1', containerName: Proxy}\n", state).unwrap(),
        "kguard.yaml:11:35: admission.meshInject.containerName: not a container name (a DNS label: lowercase letters, digits, '-', at most 63): \"Proxy\""
    );
    assert_eq!(
        parse("  meshInject: {image: 'kguard:1', secret: 'svid-{namespace}'}\n", state).unwrap(),
        "kguard.yaml:11:35: admission.meshInject.secret: \"svid-{namespace}\" does not make an object name (a DNS subdomain; {serviceAccount} is the only placeholder)"
    );
    assert_eq!(
        parse("  meshInject:\n    image: 'kguard:1'\n    resources: {limits: {memory: 128MB}}\n", state).unwrap(),
        "kguard.yaml:13:26: admission.meshInject.resources.limits.memory: not a Kubernetes quantity: \"128MB\""
    );
    let missing = parse("  meshInject: {containerName: proxy}\n", state).unwrap();
    assert!(missing.starts_with("kguard.yaml:11:3: missing field `image`"), "{missing}");
}
