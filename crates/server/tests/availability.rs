//! `kguard serve` under attack and failure: the reproductions of what could starve, stall or
//! loosen the fail-closed webhook, each as a test (silent and flooding clients, slow HTTP/2
//! bodies, large reviews, clients without certificates, shutdown, broken state files).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

use common::{CONFIG_HEAD, Client, http_get, http_get_status, pod, review, tcp_from, write_pki};
use kguard_testkit::TempDir;

const STRICT: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: strict\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n";

fn setup(name: &str, head: &str, extra: &str) -> (TempDir, common::Pki) {
    let dir = TempDir::new(name);
    let pki = write_pki(dir.path());
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/strict.yaml"), STRICT).unwrap();
    std::fs::write(dir.path().join("state/dev.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev}\n")
        .unwrap();
    std::fs::write(dir.path().join("kguard.yaml"), format!("{head}state: {{dir: state}}\n{extra}")).unwrap();
    (dir, pki)
}

fn privileged(name: &str, ns: &str) -> Vec<u8> {
    let mut p = pod(name, ns, "nginx:1.27");
    p["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    review("pods", "Pod", "CREATE", p, "alice")
}

/// A privileged pod in `strict` is denied by Pod Security itself (not by a failure answer).
fn denied_by_pod_security(v: &Value) -> bool {
    v["response"]["allowed"] == false
        && v["response"]["status"]["message"].as_str().is_some_and(|m| m.contains("violates PodSecurity \"restricted"))
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_flooding_clients_cannot_starve_the_webhook() {
    let (dir, pki) = setup(
        "serve-silent",
        CONFIG_HEAD,
        "limits: {handshakeTimeoutSeconds: 1, headerTimeoutSeconds: 1, idleTimeoutSeconds: 2, maxConnectionsPerClient: 20, maxConnections: 100}\n",
    );
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    // One client completes 60 TLS handshakes (HTTP/1.1 and HTTP/2 by ALPN) and then sends
    // nothing; only 20 are let in.
    let silent = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let h2 = Client::with_alpn(&pki, &[b"h2"]);
    let mut held = Vec::new();
    for i in 0..60 {
        let c = if i % 2 == 0 { &client } else { &h2 };
        if let Ok(s) = c.connect_from(silent, server.addr).await {
            held.push(s);
        }
    }
    assert!(held.len() <= 20, "{} silent connections let in", held.len());
    let silent_h2 = held.iter().filter(|s| s.get_ref().1.alpn_protocol() == Some(&b"h2"[..])).count();
    // Another opens 150 TCP connections and never starts TLS.
    let flood = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
    let mut raw = Vec::new();
    for _ in 0..150 {
        if let Ok(s) = tcp_from(flood, server.addr).await {
            raw.push(s);
        }
    }
    // The real client is served at once.
    let started = Instant::now();
    for i in 0..10 {
        let (code, v) = client.post(server.addr, "/validate", privileged(&format!("p{i}"), "strict")).await.unwrap();
        assert_eq!(code, 200);
        assert!(denied_by_pod_security(&v), "{v}");
    }
    assert!(started.elapsed() < Duration::from_secs(3), "served in {:?}", started.elapsed());
    // The silent connections are closed by the server after the header timeout.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut closed = 0;
    for mut s in held {
        // Read what the server sent (an HTTP/2 server's SETTINGS) until the end of the stream.
        let mut buf = vec![0u8; 4096];
        let eof = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if eof.is_ok() {
            closed += 1;
        }
    }
    let metrics = http_get(server.health_addr, "/metrics").await;
    assert_eq!(closed, 20, "every silent connection is closed");
    // HTTP/1.1 ones by hyper's header timeout, HTTP/2 ones (no preface) by kguard's.
    assert!(silent_h2 > 0 && metric(&metrics, "kguard_idle_connections_closed_total") >= silent_h2 as u64, "{metrics}");
    assert!(metric(&metrics, "kguard_tls_handshake_failures_total") >= 1, "{metrics}");
    assert!(metric(&metrics, "kguard_rejected_connections_total") >= 100, "per-client limit: {metrics}");
    drop(raw);
    server.shutdown().await;
}

/// A body that sends one chunk and then nothing, ever.
struct Stall(bool);

impl Body for Stall {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.0 {
            Poll::Pending
        } else {
            self.0 = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{\"apiVersion\":")))))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_http2_bodies_hold_no_evaluation_slot() {
    let (dir, pki) = setup("serve-slow-h2", CONFIG_HEAD, "limits: {maxConcurrentRequests: 2, bodyTimeoutSeconds: 3}\n");
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let h2 = Client::with_alpn(&pki, &[b"h2"]);
    let tls = h2.connect_from(IpAddr::V4(Ipv4Addr::LOCALHOST), server.addr).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
    tokio::spawn(conn);
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut send = send.clone();
        let req = hyper::Request::post("https://localhost/validate")
            .header("content-type", "application/json")
            .body(Stall(false))
            .unwrap();
        stalled.push(tokio::spawn(async move { send.send_request(req).await.map(|r| r.status().as_u16()) }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Twenty stalled uploads, two evaluation slots: the real client is still served.
    let client = Client::new(&pki, true);
    for i in 0..6 {
        let (code, v) = client.post(server.addr, "/validate", privileged(&format!("p{i}"), "strict")).await.unwrap();
        assert_eq!(code, 200, "{v}");
        assert!(denied_by_pod_security(&v), "{v}");
    }
    // The stalled uploads end with 408 at the body timeout.
    for s in stalled {
        let code = tokio::time::timeout(Duration::from_secs(6), s).await.unwrap().unwrap().unwrap();
        assert_eq!(code, 408);
    }
    server.shutdown().await;
}

/// An AdmissionReview of a pod with `n` containers.
fn big_review(n: usize) -> Vec<u8> {
    let containers: Vec<Value> =
        (0..n).map(|i| json!({"name": format!("container-{i}"), "image": format!("registry.example.com/team/application-{i}:1.0.0")})).collect();
    let p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big", "namespace": "dev"},
        "spec": {"containers": containers}});
    review("pods", "Pod", "CREATE", p, "alice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_reviews_do_not_delay_ordinary_ones() {
    let (dir, pki) = setup(
        "serve-heavy",
        CONFIG_HEAD,
        "limits: {evaluationBudgetMs: 1500, evaluationThreads: 1}\nadmission:\n  hardening: {enabled: true, minSeverity: low, action: warn}\n",
    );
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    let big = big_review(4500);
    assert!(big.len() > 256 * 1024 && big.len() < 3 * 1024 * 1024, "{}", big.len());
    let mut heavy = Vec::new();
    for _ in 0..4 {
        let (client, body, addr) = (Client::new(&pki, true), big.clone(), server.addr);
        heavy.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = client.post(addr, "/validate", body).await.unwrap();
            (r, t.elapsed())
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..10 {
        let t = Instant::now();
        let (code, v) = client.post(server.addr, "/validate", privileged(&format!("p{i}"), "strict")).await.unwrap();
        assert_eq!(code, 200);
        assert!(denied_by_pod_security(&v), "an ordinary review is evaluated, not failed: {v}");
        assert!(t.elapsed() < Duration::from_millis(1000), "ordinary review took {:?}", t.elapsed());
    }
    for h in heavy {
        let ((code, v), took) = h.await.unwrap();
        assert_eq!(code, 200);
        // Each large review gets an answer within its budget (plus transfer): its decision, or
        // the failure policy's denial when it ran over.
        assert!(took < Duration::from_secs(6), "large review answered after {took:?}");
        let msg = v["response"]["status"]["message"].as_str().unwrap_or("");
        assert!(v["response"]["allowed"] == true || msg.contains("exceeded its budget"), "{v}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_authentication_and_authorization_need_a_client_certificate() {
    let head = CONFIG_HEAD.replace(
        "tls: {certFile: tls.crt, keyFile: tls.key, clientCAFile: ca.crt}",
        "tls: {certFile: tls.crt, keyFile: tls.key}",
    );
    assert_ne!(head, CONFIG_HEAD);
    let (dir, pki) = setup("serve-noclientca", &head, "audit:\n  log: {path: audit/audit.log}\n");
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let anonymous = Client::new(&pki, false);
    let events = serde_json::to_vec(&json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [
        {"auditID": "forged", "stage": "ResponseComplete", "verb": "delete"}]}))
    .unwrap();
    let sar = serde_json::to_vec(&json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "dev"}}}))
    .unwrap();
    let tr = serde_json::to_vec(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": "x"}}))
    .unwrap();
    for (path, body) in [("/audit", &events), ("/authorize", &sar), ("/authenticate", &tr)] {
        let (code, v) = anonymous.post(server.addr, path, body.clone()).await.unwrap();
        assert_eq!((code, v["reason"].as_str()), (403, Some("Forbidden")), "{path}: {v}");
        assert!(v["message"].as_str().unwrap().contains("needs a client certificate"), "{v}");
    }
    assert!(
        !dir.path().join("audit/audit.log").exists()
            || !std::fs::read_to_string(dir.path().join("audit/audit.log")).unwrap().contains("forged")
    );
    // Admission needs none.
    let (code, v) = anonymous.post(server.addr, "/validate", privileged("p", "strict")).await.unwrap();
    assert_eq!(code, 200);
    assert!(denied_by_pod_security(&v), "{v}");
    server.shutdown().await;

    // Listed explicitly, the audit sink takes unauthenticated clients; authorization still does not.
    let (dir, pki) = setup(
        "serve-allowaudit",
        &head.replace(
            "tls: {certFile: tls.crt, keyFile: tls.key}",
            "tls: {certFile: tls.crt, keyFile: tls.key, allowUnauthenticated: [audit]}",
        ),
        "audit:\n  log: {path: audit/audit.log}\n",
    );
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let anonymous = Client::new(&pki, false);
    assert_eq!(anonymous.post(server.addr, "/audit", events).await.unwrap().0, 200);
    assert_eq!(anonymous.post(server.addr, "/authorize", sar).await.unwrap().0, 403);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_readiness_off_and_keeps_serving_for_the_delay() {
    let head = CONFIG_HEAD.replace("shutdownDelaySeconds: 0", "shutdownDelaySeconds: 2");
    let (dir, pki) = setup("serve-drain", &head, "");
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let (addr, health) = (server.addr, server.health_addr);
    let client = Client::new(&pki, true);
    assert_eq!(http_get_status(health, "/readyz").await.0, 200);
    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(http_get_status(health, "/readyz").await.0, 503, "not ready as soon as shutdown begins");
    let (code, v) = client.post(addr, "/validate", privileged("during", "strict")).await.unwrap();
    assert_eq!(code, 200, "still serving during the delay");
    assert!(denied_by_pod_security(&v));
    let t = Instant::now();
    stopping.await.unwrap();
    assert!(t.elapsed() > Duration::from_millis(1000), "the delay is kept: {:?}", t.elapsed());
    assert!(client.post(addr, "/validate", privileged("after", "strict")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_or_missing_state_file_never_loosens_pod_security() {
    let (dir, pki) = setup("serve-broken-state", CONFIG_HEAD, "");
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    let (_, v) = client.post(server.addr, "/validate", privileged("p", "strict")).await.unwrap();
    assert!(denied_by_pod_security(&v), "{v}");
    // The file is cut mid-write: the reload fails and the previous state stays.
    let path = dir.path().join("state/strict.yaml");
    std::fs::write(&path, &STRICT[..STRICT.len() - 20]).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(4) {
        let (_, v) = client.post(server.addr, "/validate", privileged("p", "strict")).await.unwrap();
        assert!(denied_by_pod_security(&v), "admitted while the state file was broken: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = http_get(server.health_addr, "/metrics").await;
    assert!(metrics.contains("kguard_reloads_total{result=\"failure\"} 1"), "{metrics}");
    // The file is deleted: the namespace is unknown, and unknown is not privileged.
    std::fs::remove_file(&path).unwrap();
    let mut answered = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, v) = client.post(server.addr, "/validate", privileged("p", "strict")).await.unwrap();
        assert_eq!(v["response"]["allowed"], false, "admitted once the namespace was gone: {v}");
        if v["response"]["status"]["code"] == 500 {
            answered = Some(v);
            break;
        }
    }
    let v = answered.expect("the reload without the file happened");
    assert_eq!(v["response"]["status"]["message"], "failed to lookup namespace strict");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kguard_yaml_errors_are_typed_and_located() {
    let dir = TempDir::new("serve-typed");
    write_pki(dir.path());
    std::fs::write(dir.path().join("kguard.yaml"), format!("{CONFIG_HEAD}limits: {{headerTimeoutSeconds: 0}}\n"))
        .unwrap();
    match kguard_server::start(&dir.path().join("kguard.yaml")).await {
        Err(kguard_server::ServeError::Config(e)) => {
            assert!(e.pos.is_some() && e.message.contains("headerTimeoutSeconds must be positive"), "{e}");
        }
        other => panic!("expected a configuration error, got {:?}", other.err()),
    }
    // A state file that does not parse refuses to start.
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/bad.yaml"), "metadata: {name: x\n").unwrap();
    std::fs::write(dir.path().join("kguard.yaml"), format!("{CONFIG_HEAD}state: {{dir: state}}\n")).unwrap();
    match kguard_server::start(&dir.path().join("kguard.yaml")).await {
        Err(kguard_server::ServeError::State { problems, .. }) => {
            assert!(problems.len() == 1 && problems[0].contains("bad.yaml:"), "{problems:?}");
        }
        other => panic!("expected a state error, got {:?}", other.err()),
    }
    let _ = Path::new("");
}
