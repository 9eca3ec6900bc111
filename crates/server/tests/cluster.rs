//! `kguard serve` with `state.cluster`: the cluster objects come from a fake API server on
//! loopback (HTTPS, with a certificate made here) that answers kube-rs's LIST requests with
//! lists and its WATCH requests (`?watch=true`) with newline-delimited events kept open; the test
//! pushes events and checks that the server's answers follow them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use common::{CONFIG_HEAD, Client, http_get_status, pod, review, write_pki};
use kguard_testkit::TempDir;

const TOKEN: &str = "fake-api-token";

/// What the fake API server serves and has seen.
struct Api {
    /// Path → the items of its list (`None`: 404, as for a group/version the server lacks).
    lists: HashMap<String, (String, Vec<Value>)>,
    /// Every request, `METHOD path?query`.
    requests: Mutex<Vec<String>>,
    /// Watch events: (path, event line).
    events: broadcast::Sender<(String, String)>,
    /// Lists are answered once this is true.
    open: watch::Receiver<bool>,
}

struct FakeApi {
    addr: SocketAddr,
    api: Arc<Api>,
    open: watch::Sender<bool>,
}

impl FakeApi {
    /// Serves `lists` (path → list kind and items) over HTTPS with the test PKI's server
    /// certificate; lists wait until [`FakeApi::open`].
    async fn start(dir: &Path, lists: &[(&str, &str, Vec<Value>)]) -> Self {
        use rustls_pki_types::pem::PemObject as _;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(dir.join("tls.crt"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(dir.join("tls.key")).unwrap();
        let mut tls = rustls::ServerConfig::builder_with_provider(kguard_server::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let (open, open_rx) = watch::channel(false);
        let api = Arc::new(Api {
            lists: lists.iter().map(|(p, k, items)| ((*p).to_owned(), ((*k).to_owned(), items.clone()))).collect(),
            requests: Mutex::new(Vec::new()),
            events: broadcast::channel(64).0,
            open: open_rx,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::clone(&api);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                let api = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |req| {
                        let api = Arc::clone(&api);
                        async move { Ok::<_, Infallible>(answer(&api, req).await) }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        Self { addr, api, open }
    }

    /// Lets the lists through.
    fn open(&self) {
        self.open.send_replace(true);
    }

    /// Sends a watch event to the watches of `path`.
    fn push(&self, path: &str, kind: &str, object: &Value) {
        let line = json!({"type": kind, "object": object}).to_string();
        self.api.events.send((path.to_owned(), line)).unwrap();
    }

    fn requests(&self) -> Vec<String> {
        self.api.requests.lock().unwrap().clone()
    }

    /// Waits until a request matching `what` has arrived.
    async fn wait_for_request(&self, what: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.requests().iter().any(|r| what(r)) {
            assert!(Instant::now() < deadline, "no such request; got {:#?}", self.requests());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A kubeconfig for this server (context `fake`, bearer token, the test CA).
    fn kubeconfig(&self, ca_pem: &str) -> String {
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {{server: 'https://127.0.0.1:{}', certificate-authority-data: {}}}
users:
- name: kguard
  user: {{token: {TOKEN}}}
contexts:
- name: fake
  context: {{cluster: fake, user: kguard}}
- name: other
  context: {{cluster: nowhere, user: nobody}}
current-context: other
",
            self.addr.port(),
            STANDARD.encode(ca_pem)
        )
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn respond(code: u16, content_type: &str, body: String) -> hyper::Response<Body> {
    hyper::Response::builder()
        .status(code)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)).boxed())
        .unwrap()
}

/// One request, as kube-apiserver would answer it.
async fn answer(api: &Api, req: hyper::Request<Incoming>) -> hyper::Response<Body> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let line = format!("{} {path}?{query}", req.method());
    eprintln!("fake API server: {line}");
    api.requests.lock().unwrap().push(line);
    if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
        let status =
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized", "code": 401});
        return respond(401, "application/json", status.to_string());
    }
    let Some((kind, items)) = api.lists.get(&path) else {
        return respond(404, "text/plain; charset=utf-8", "404 page not found\n".to_owned());
    };
    if query.split('&').any(|kv| kv == "watch=true") {
        let rx = api.events.subscribe();
        let stream = futures_util::stream::unfold((rx, path), |(mut rx, path)| async move {
            loop {
                match rx.recv().await {
                    Ok((p, line)) if p == path => {
                        return Some((Ok::<_, Infallible>(Frame::data(Bytes::from(line + "\n"))), (rx, path)));
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        return hyper::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(StreamBody::new(stream).boxed())
            .unwrap();
    }
    let mut open = api.open.clone();
    let _ = open.wait_for(|o| *o).await;
    let list = json!({"kind": kind, "apiVersion": if path.starts_with("/api/") { "v1".to_owned() } else {
        path.split('/').skip(2).take(2).collect::<Vec<_>>().join("/") },
        "metadata": {"resourceVersion": "1"}, "items": items});
    respond(200, "application/json", list.to_string())
}

/// An object as a list item: no apiVersion or kind (as the API server writes typed lists).
fn item(name: &str, namespace: Option<&str>, rest: Value) -> Value {
    let mut meta = json!({"name": name, "uid": format!("uid-{name}"), "resourceVersion": "1"});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    let mut obj = json!({"metadata": meta});
    if let (Some(o), Value::Object(rest)) = (obj.as_object_mut(), rest) {
        o.extend(rest);
    }
    obj
}

fn namespace(name: &str, level: &str, version: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": format!("uid-{name}"),
        "resourceVersion": version, "labels": {"pod-security.kubernetes.io/enforce": level}}})
}

fn write_config(dir: &Path, kubeconfig: &str, extra: &str) {
    std::fs::write(dir.join("kubeconfig"), kubeconfig).unwrap();
    let config = format!(
        "{CONFIG_HEAD}state:
  cluster: {{kubeconfig: kubeconfig, context: fake}}
{extra}"
    );
    std::fs::write(dir.join("kguard.yaml"), config).unwrap();
}

async fn wait_ready(health: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = http_get_status(health, "/readyz").await;
        if code == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "never ready: {code} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts until `done` holds for the answer (the server applies a change within about a second).
async fn eventually(
    client: &Client,
    addr: SocketAddr,
    path: &str,
    body: &[u8],
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, v) = client.post(addr, path, body.to_vec()).await.unwrap();
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "not applied in time; last answer {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn privileged_pod() -> Vec<u8> {
    let mut p = pod("root", "strict", "nginx:1.27");
    p["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    review("pods", "Pod", "CREATE", p, "alice")
}

fn sar(verb: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "alice", "groups": ["system:authenticated"],
                 "resourceAttributes": {"verb": verb, "resource": "pods", "namespace": "dev"}}}))
    .unwrap()
}

const NAMESPACES: &str = "/api/v1/namespaces";
const ROLEBINDINGS: &str = "/apis/rbac.authorization.k8s.io/v1/rolebindings";
const BOOTSTRAP_SECRETS: &str = "/api/v1/namespaces/kube-system/secrets";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_follows_the_cluster_through_watch_events() {
    let dir = TempDir::new("cluster");
    let pki = write_pki(dir.path());
    let b64 = |s: &str| STANDARD.encode(s);
    let role_binding = item(
        "alice-reads",
        Some("dev"),
        json!({"subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}],
               "roleRef": {"kind": "Role", "name": "pod-reader", "apiGroup": "rbac.authorization.k8s.io"}}),
    );
    let api = FakeApi::start(
        dir.path(),
        &[
            (
                NAMESPACES,
                "NamespaceList",
                vec![
                    item(
                        "strict",
                        None,
                        json!({"metadata": {"name": "strict", "uid": "uid-strict", "resourceVersion": "1",
                    "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
                    ),
                    item("dev", None, json!({})),
                ],
            ),
            ("/api/v1/pods", "PodList", vec![]),
            (
                "/apis/rbac.authorization.k8s.io/v1/roles",
                "RoleList",
                vec![item(
                    "pod-reader",
                    Some("dev"),
                    json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
                )],
            ),
            (ROLEBINDINGS, "RoleBindingList", vec![role_binding.clone()]),
            ("/apis/rbac.authorization.k8s.io/v1/clusterroles", "ClusterRoleList", vec![]),
            ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "ClusterRoleBindingList", vec![]),
            (
                BOOTSTRAP_SECRETS,
                "SecretList",
                vec![item(
                    "bootstrap-token-abcdef",
                    Some("kube-system"),
                    json!({"type": "bootstrap.kubernetes.io/token", "data": {
                    "token-id": b64("abcdef"), "token-secret": b64("0123456789abcdef"),
                    "usage-bootstrap-authentication": b64("true")}}),
                )],
            ),
        ],
    )
    .await;
    write_config(dir.path(), &api.kubeconfig(&pki.ca_pem), "authentication: {bootstrapTokens: true}\n");
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    let addr = server.addr;

    // Until the lists are in, the server is not ready and refuses what depends on the state
    // (rather than judging against an empty one); the image policy still answers.
    api.wait_for_request(|r| r.starts_with(&format!("GET {NAMESPACES}?"))).await;
    let (code, body) = http_get_status(server.health_addr, "/readyz").await;
    assert_eq!(code, 503, "{body}");
    let (code, v) = client.post(addr, "/validate", privileged_pod()).await.unwrap();
    assert_eq!((code, v["reason"].as_str()), (503, Some("ServiceUnavailable")), "{v}");
    let ir = json!({"apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview",
        "spec": {"containers": [{"image": "nginx:1.27"}], "namespace": "dev"}});
    let (code, _) = client.post(addr, "/imagereview", serde_json::to_vec(&ir).unwrap()).await.unwrap();
    assert_eq!(code, 200);
    let (_, metrics) = http_get_status(server.health_addr, "/metrics").await;
    assert!(metrics.contains("kguard_cluster_synced 0"), "{metrics}");

    api.open();
    wait_ready(server.health_addr).await;

    // The restricted namespace's label came from the list.
    let (code, v) = client.post(addr, "/validate", privileged_pod()).await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(v["response"]["allowed"], false, "{v}");
    let msg = v["response"]["status"]["message"].as_str().unwrap();
    assert!(msg.contains("violates PodSecurity \"restricted:latest\": privileged"), "{msg}");
    // RBAC from the lists; a bootstrap token from a listed Secret (data base64-decoded).
    let (_, v) = client.post(addr, "/authorize", sar("get")).await.unwrap();
    assert_eq!(v["status"]["allowed"], true, "{v}");
    let tr = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": "abcdef.0123456789abcdef"}});
    let (_, v) = client.post(addr, "/authenticate", serde_json::to_vec(&tr).unwrap()).await.unwrap();
    assert_eq!(v["status"]["user"]["username"], "system:bootstrap:abcdef", "{v}");

    // Only bootstrap-token Secrets, only in kube-system: a field selector, no cluster-wide list.
    let requests = api.requests();
    assert!(
        requests.iter().any(|r| r.starts_with(&format!("GET {BOOTSTRAP_SECRETS}?"))
            && r.contains("fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken")),
        "{requests:#?}"
    );
    assert!(!requests.iter().any(|r| r.starts_with("GET /api/v1/secrets")), "{requests:#?}");

    // A file reload (kguard.yaml touched) keeps the cluster's objects.
    let config = std::fs::read_to_string(dir.path().join("kguard.yaml")).unwrap();
    std::fs::write(dir.path().join("kguard.yaml"), format!("{config}# touched\n")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, metrics) = http_get_status(server.health_addr, "/metrics").await;
        if metrics.contains("kguard_reloads_total{result=\"success\"} 1") {
            break;
        }
        assert!(Instant::now() < deadline, "no reload: {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, v) = client.post(addr, "/validate", privileged_pod()).await.unwrap();
    assert_eq!(v["response"]["allowed"], false, "the reload kept the namespace label: {v}");

    // A cluster update reads no file: with the serving key moved away (a file reload now fails
    // and keeps the running configuration), watch events still apply.
    std::fs::rename(dir.path().join("tls.key"), dir.path().join("tls.key.away")).unwrap();

    // MODIFIED: the namespace is relabelled privileged, and the same pod is admitted.
    api.wait_for_request(|r| r.starts_with(&format!("GET {NAMESPACES}?")) && r.contains("watch=true")).await;
    api.push(NAMESPACES, "MODIFIED", &namespace("strict", "privileged", "2"));
    eventually(&client, addr, "/validate", &privileged_pod(), |v| v["response"]["allowed"] == true).await;

    // DELETED: alice's RoleBinding goes, and so does her access.
    api.wait_for_request(|r| r.starts_with(&format!("GET {ROLEBINDINGS}?")) && r.contains("watch=true")).await;
    let mut gone = role_binding;
    gone["apiVersion"] = json!("rbac.authorization.k8s.io/v1");
    gone["kind"] = json!("RoleBinding");
    gone["metadata"]["resourceVersion"] = json!("3");
    api.push(ROLEBINDINGS, "DELETED", &gone);
    eventually(&client, addr, "/authorize", &sar("get"), |v| v["status"]["allowed"] == false).await;

    let (_, metrics) = http_get_status(server.health_addr, "/metrics").await;
    for line in [
        "kguard_cluster_synced 1",
        "kguard_cluster_objects{resource=\"namespaces\"} 2",
        "kguard_cluster_objects{resource=\"rolebindings\"} 0",
        "kguard_cluster_objects{resource=\"secrets:bootstrap-token\"} 1",
        "kguard_cluster_watch_errors_total{resource=\"namespaces\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podsecuritypolicies_not_served_are_a_warning() {
    let dir = TempDir::new("cluster-psp");
    let pki = write_pki(dir.path());
    // No PodSecurityPolicy list (Kubernetes ≥ 1.25 answers 404 for policy/v1beta1).
    let api = FakeApi::start(
        dir.path(),
        &[
            (NAMESPACES, "NamespaceList", vec![item("dev", None, json!({}))]),
            ("/api/v1/pods", "PodList", vec![]),
            ("/apis/rbac.authorization.k8s.io/v1/roles", "RoleList", vec![]),
            (ROLEBINDINGS, "RoleBindingList", vec![]),
            ("/apis/rbac.authorization.k8s.io/v1/clusterroles", "ClusterRoleList", vec![]),
            ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", "ClusterRoleBindingList", vec![]),
        ],
    )
    .await;
    api.open();
    write_config(dir.path(), &api.kubeconfig(&pki.ca_pem), "admission: {podSecurityPolicy: {enabled: true}}\n");
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    wait_ready(server.health_addr).await;

    // Ready without PodSecurityPolicies: asked for once, not retried, not watched.
    let psps: Vec<String> =
        api.requests().into_iter().filter(|r| r.contains("/apis/policy/v1beta1/podsecuritypolicies")).collect();
    assert_eq!(psps.len(), 1, "{psps:#?}");
    // PodSecurityPolicy admission runs with no policy, as in a cluster that has none.
    let client = Client::new(&pki, true);
    let (_, v) = client
        .post(server.addr, "/validate", review("pods", "Pod", "CREATE", pod("p", "dev", "nginx:1.27"), "alice"))
        .await
        .unwrap();
    assert_eq!(v["response"]["allowed"], false, "{v}");
    assert!(v["response"]["status"]["message"].as_str().unwrap().contains("PodSecurityPolicy"), "{v}");
    let (_, metrics) = http_get_status(server.health_addr, "/metrics").await;
    assert!(metrics.contains("kguard_cluster_objects{resource=\"podsecuritypolicies\"} 0"), "{metrics}");
    assert!(metrics.contains("kguard_cluster_watch_errors_total{resource=\"podsecuritypolicies\"} 0"), "{metrics}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_kubeconfig_context_is_refused_at_start() {
    let dir = TempDir::new("cluster-bad");
    write_pki(dir.path());
    std::fs::write(dir.path().join("kubeconfig"), "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
        .unwrap();
    write_config(dir.path(), "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n", "");
    let e = kguard_server::start(&dir.path().join("kguard.yaml")).await.err().unwrap();
    assert!(e.to_string().contains("state.cluster.kubeconfig") && e.to_string().contains("fake"), "{e}");
}
