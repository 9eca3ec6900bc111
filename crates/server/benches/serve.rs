//! Load generator for `kguard serve`: validating AdmissionReviews of a realistic Pod (Pod
//! Security restricted + hardening rules) over HTTPS keep-alive connections.
//!
//! `cargo bench -p kguard-server --bench serve [-- --seconds 10 --connections 16]`
//!
//! Phase 1 (closed loop): every connection sends its next request as soon as the previous answer
//! arrives → maximum throughput. Phase 2 (open loop): requests paced at half that rate →
//! latency percentiles at a sustainable load. Server and load generator share this process and
//! this machine's cores, so the throughput is a lower bound for the server alone; the RSS printed
//! is the whole process's peak (server + clients).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

// The allocator the `kguard` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A validating AdmissionReview of a realistic two-container Pod (2.1 kB; `bench/serve-wrk.sh`
/// sends the same file).
fn body() -> Vec<u8> {
    include_bytes!("pod-review.json").to_vec()
}

fn setup(dir: &std::path::Path) -> Arc<rustls::ClientConfig> {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "bench-ca");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(
        dir.join("state/ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("kguard.yaml"),
        "apiVersion: kguard.io/v1alpha1\nkind: ServerConfig\nlisten: 127.0.0.1:0\nhealthListen: 127.0.0.1:0\nreloadIntervalSeconds: 0\n\
         tls: {certFile: tls.crt, keyFile: tls.key}\nstate: {dir: state, defaultRbac: false}\n\
         admission:\n  hardening: {enabled: true, minSeverity: high, action: deny}\n",
    )
    .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(kguard_server::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: std::net::SocketAddr, tls: Arc<rustls::ClientConfig>) -> Sender {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(rustls_pki_types::ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    send
}

async fn one(send: &mut Sender, body: &Bytes) -> Duration {
    let start = Instant::now();
    let req = hyper::Request::post("/validate")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Full::new(body.clone()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("\"allowed\":true"), "{text}");
    start.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo test --benches asks for a list
    }
    let seconds = arg("--seconds", 10);
    let connections = arg("--connections", 16);
    let dir = std::env::temp_dir().join(format!("kguard-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tls = setup(&dir);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let server = kguard_server::start(&dir.join("kguard.yaml")).await.unwrap();
        let body = Bytes::from(body());
        println!("kguard serve load test: {} byte AdmissionReview, {connections} keep-alive HTTPS connections, 2 worker threads", body.len());

        // Phase 1: closed loop.
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (stop, count, body, tls) = (Arc::clone(&stop), Arc::clone(&count), body.clone(), Arc::clone(&tls));
            let addr = server.addr;
            tasks.push(tokio::spawn(async move {
                let mut send = connect(addr, tls).await;
                while !stop.load(Ordering::Relaxed) {
                    one(&mut send, &body).await;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
        let c0 = count.load(Ordering::Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let done = count.load(Ordering::Relaxed) - c0;
        #[allow(clippy::cast_precision_loss)]
        let rate = done as f64 / t0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        println!("max throughput: {rate:.0} requests/s ({done} in {:.1} s)", t0.elapsed().as_secs_f64());

        // Phase 2: open loop at half the rate.
        let target = (rate / 2.0).max(1.0);
        let per_conn = target / connections as f64;
        let interval = Duration::from_secs_f64(1.0 / per_conn);
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (body, tls) = (body.clone(), Arc::clone(&tls));
            let addr = server.addr;
            tasks.push(tokio::spawn(async move {
                let mut send = connect(addr, tls).await;
                let mut latencies = Vec::new();
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let end = Instant::now() + Duration::from_secs(seconds);
                while Instant::now() < end {
                    tick.tick().await;
                    latencies.push(one(&mut send, &body).await);
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        println!(
            "at {target:.0} requests/s: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} requests)",
            percentile(&all, 0.50).as_secs_f64() * 1e3,
            percentile(&all, 0.99).as_secs_f64() * 1e3,
            percentile(&all, 0.999).as_secs_f64() * 1e3,
            all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            all.len()
        );
        println!("peak RSS (server + load generator, one process): {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
        server.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
