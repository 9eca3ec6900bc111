//! `kguard mesh proxy` with real sockets on 127.0.0.1: an app client → outbound proxy → inbound
//! proxy → app echo server, in STRICT and PERMISSIVE; plaintext to a STRICT port refused; wrong
//! identities (another trust domain, not in the allow-list, not the route's) refused with their
//! metric; an expired client certificate refused; the SVID rotated under an open connection;
//! garbage and slowloris before a ClientHello timed out; openssl `s_client`/`s_server` interop.
//! Certificates come from `kguard_mesh::ca`, as `kguard mesh ca|issue` writes them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kguard_mesh::ca::MeshCa;
use kguard_mesh::{SpiffeId, TrustDomain};
use kguard_server::mesh_proxy::{self, ProxyHandle};
use kguard_testkit::TempDir;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

/// A trust domain's CA and the files of the SVIDs it issued.
struct Pki {
    ca: MeshCa,
    bundle: PathBuf,
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path, td: &str) -> Self {
        let td = TrustDomain::parse(td).unwrap();
        let (ca, pem) = MeshCa::create(&td, now(), 30).unwrap();
        let dir = dir.join(td.name());
        std::fs::create_dir_all(&dir).unwrap();
        let bundle = dir.join("ca.crt");
        std::fs::write(&bundle, pem.cert).unwrap();
        Self { ca, bundle, dir }
    }

    fn id(&self, ns: &str, sa: &str) -> SpiffeId {
        SpiffeId::for_service_account(self.ca.trust_domain(), ns, sa).unwrap()
    }

    /// Issues `ns/sa` valid from `from` for `days`; writes NAME.crt and NAME.key (by rename).
    fn issue_at(&self, name: &str, ns: &str, sa: &str, from: i64, days: u32) -> (PathBuf, PathBuf) {
        let pem = self.ca.issue(&self.id(ns, sa), from, days).unwrap();
        let (crt, key) = (self.dir.join(format!("{name}.crt")), self.dir.join(format!("{name}.key")));
        for (path, text) in [(&key, &pem.key), (&crt, &pem.cert)] {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, path).unwrap();
        }
        (crt, key)
    }

    fn issue(&self, name: &str, ns: &str, sa: &str) -> (PathBuf, PathBuf) {
        self.issue_at(name, ns, sa, now(), 1)
    }
}

/// Writes a proxy configuration and starts it.
async fn proxy(dir: &Path, name: &str, svid: &(PathBuf, PathBuf), bundle: &Path, td: &str, body: &str) -> ProxyHandle {
    let text = format!(
        "apiVersion: kguard.io/v1alpha1\nkind: MeshProxyConfig\nidentity:\n  cert: {}\n  key: {}\n  bundle: {}\n  trustDomain: {td}\n\
         admin: {{listen: 127.0.0.1:0}}\nreloadIntervalSeconds: 1\nshutdownGraceSeconds: 5\n{body}",
        svid.0.display(),
        svid.1.display(),
        bundle.display()
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    mesh_proxy::start(&path).await.unwrap()
}

fn inbound(mode: &str, app: SocketAddr, extra: &str) -> String {
    format!("inbound:\n- {{port: 0, address: 127.0.0.1, appPort: {}, mode: {mode}{extra}}}\n", app.port())
}

fn outbound(to: SocketAddr, identity: &SpiffeId) -> String {
    format!("outbound:\n- {{listen: 127.0.0.1:0, to: '{to}', identity: {identity}}}\n")
}

/// An echo server: every connection gets back what it sends, until it closes.
async fn echo() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// Sends `msg` on the stream and reads as many bytes back.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    msg: &[u8],
) -> std::io::Result<Vec<u8>> {
    tokio::time::timeout(Duration::from_secs(5), async {
        s.write_all(msg).await?;
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back).await?;
        Ok(back)
    })
    .await
    .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 5 s")))
}

async fn round_trip(addr: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr).await?;
    exchange(&mut s, msg).await
}

/// Whether the connection is closed without an answer to `msg`: EOF or an error, within `within`.
async fn closed_after(s: &mut TcpStream, msg: &[u8], within: Duration) -> bool {
    let _ = s.write_all(msg).await;
    let mut buf = [0u8; 64];
    match tokio::time::timeout(within, s.read(&mut buf)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

async fn refused(addr: SocketAddr, msg: &[u8]) -> bool {
    let mut s = TcpStream::connect(addr).await.unwrap();
    closed_after(&mut s, msg, Duration::from_secs(5)).await
}

/// The value of the metric line that starts with `series` (0 when absent).
fn metric(h: &ProxyHandle, series: &str) -> u64 {
    h.metrics().lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok())).unwrap_or(0)
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// A test client speaking mTLS straight to an inbound port: presents `svid`, accepts any server
/// certificate (the proxy's side of the handshake is what is tested) and records it.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

async fn tls_client(
    addr: SocketAddr,
    svid: &(PathBuf, PathBuf),
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let provider = kguard_server::tls::provider();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&svid.0).unwrap().collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_file(&svid.1).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        .with_client_auth_cert(certs, key)
        .unwrap();
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("api.shop.svc").unwrap(), tcp).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_pair_carries_mtls_and_refuses_plaintext() {
    let tmp = TempDir::new("mesh-proxy-strict");
    let pki = Pki::new(tmp.path(), "cluster.local");
    let app = echo().await;
    let api = proxy(
        tmp.path(),
        "api",
        &pki.issue("api", "shop", "api"),
        &pki.bundle,
        "cluster.local",
        &inbound("STRICT", app, ""),
    )
    .await;
    let web = proxy(
        tmp.path(),
        "web",
        &pki.issue("web", "shop", "web"),
        &pki.bundle,
        "cluster.local",
        &outbound(api.inbound[0], &pki.id("shop", "api")),
    )
    .await;
    assert_eq!(round_trip(web.outbound[0], b"hello through the mesh").await.unwrap(), b"hello through the mesh");
    // 64 KiB each way, more than any buffer.
    let big: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(round_trip(web.outbound[0], &big).await.unwrap(), big);
    let inbound_ok = "kguard_mesh_connections_total{direction=\"inbound\",listener=\"";
    eventually("the inbound metrics", || {
        api.metrics().lines().any(|l| {
            l.starts_with(inbound_ok) && l.contains("mode=\"STRICT\",protocol=\"mtls\",decision=\"allowed\"} 2")
        })
    })
    .await;
    assert_eq!(
        metric(
            &api,
            "kguard_mesh_peer_connections_total{direction=\"inbound\",identity=\"spiffe://cluster.local/ns/shop/sa/web\"}"
        ),
        2
    );
    assert_eq!(
        metric(
            &web,
            "kguard_mesh_peer_connections_total{direction=\"outbound\",identity=\"spiffe://cluster.local/ns/shop/sa/api\"}"
        ),
        2
    );
    // Plaintext to the STRICT port: refused, with its reason.
    assert!(refused(api.inbound[0], b"GET / HTTP/1.1\r\nHost: api\r\n\r\n").await);
    let denied = format!(
        "kguard_mesh_denials_total{{direction=\"inbound\",listener=\"{}\",reason=\"plaintext_refused\"}}",
        api.inbound[0].port()
    );
    eventually("the plaintext denial", || metric(&api, &denied) == 1).await;
    // The admin port.
    let ready = http_get(api.admin, "/ready").await;
    assert!(ready.starts_with("HTTP/1.0 200") || ready.starts_with("HTTP/1.1 200"), "{ready}");
    let metrics = http_get(api.admin, "/metrics").await;
    assert!(
        metrics.contains("# TYPE kguard_mesh_connections_total counter") && metrics.contains("plaintext_refused"),
        "{metrics}"
    );
    assert!(metric(&api, "kguard_mesh_bytes_total{direction=\"inbound\",from=\"downstream\"}") >= 65_536 + 22);
    web.shutdown().await;
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissive_port_takes_mtls_and_plaintext_disable_takes_plaintext() {
    let tmp = TempDir::new("mesh-proxy-permissive");
    let pki = Pki::new(tmp.path(), "cluster.local");
    let app = echo().await;
    let body = format!(
        "inbound:\n- {{port: 0, address: 127.0.0.1, appPort: {p}, mode: PERMISSIVE}}\n- {{port: 0, address: 127.0.0.1, appPort: {p}, mode: DISABLE}}\n",
        p = app.port()
    );
    let api = proxy(tmp.path(), "api", &pki.issue("api", "shop", "api"), &pki.bundle, "cluster.local", &body).await;
    let web = proxy(
        tmp.path(),
        "web",
        &pki.issue("web", "shop", "web"),
        &pki.bundle,
        "cluster.local",
        &outbound(api.inbound[0], &pki.id("shop", "api")),
    )
    .await;
    assert_eq!(round_trip(web.outbound[0], b"mtls").await.unwrap(), b"mtls");
    // linkerd's plaintext sample, and a one-byte request: forwarded as they are.
    let sample = b"GET /TheProject.html HTTP/1.0\r\n\r\n";
    assert_eq!(round_trip(api.inbound[0], sample).await.unwrap(), sample);
    assert_eq!(round_trip(api.inbound[0], b"x").await.unwrap(), b"x");
    assert_eq!(round_trip(api.inbound[1], sample).await.unwrap(), sample);
    let port = api.inbound[0].port();
    eventually("the PERMISSIVE metrics", || {
        let m = api.metrics();
        m.contains(&format!("listener=\"{port}\",mode=\"PERMISSIVE\",protocol=\"mtls\",decision=\"allowed\"}} 1"))
            && m.contains(&format!(
                "listener=\"{port}\",mode=\"PERMISSIVE\",protocol=\"plaintext\",decision=\"allowed\"}} 2"
            ))
            && m.contains("mode=\"DISABLE\",protocol=\"plaintext\",decision=\"allowed\"} 1")
    })
    .await;
    web.shutdown().await;
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_identities_are_refused_with_a_metric() {
    let tmp = TempDir::new("mesh-proxy-identity");
    let pki = Pki::new(tmp.path(), "cluster.local");
    let foreign = Pki::new(tmp.path(), "example.org");
    let app = echo().await;
    let allow = ", allow: [spiffe://cluster.local/ns/shop/sa/web]";
    let api = proxy(
        tmp.path(),
        "api",
        &pki.issue("api", "shop", "api"),
        &pki.bundle,
        "cluster.local",
        &inbound("STRICT", app, allow),
    )
    .await;
    let port = api.inbound[0].port();
    let to_api = outbound(api.inbound[0], &pki.id("shop", "api"));
    // In the allow-list: through.
    let web = proxy(tmp.path(), "web", &pki.issue("web", "shop", "web"), &pki.bundle, "cluster.local", &to_api).await;
    assert_eq!(round_trip(web.outbound[0], b"ok").await.unwrap(), b"ok");
    // Same trust domain, not in the allow-list.
    let batch =
        proxy(tmp.path(), "batch", &pki.issue("batch", "shop", "batch"), &pki.bundle, "cluster.local", &to_api).await;
    assert!(refused(batch.outbound[0], b"hi").await);
    let not_allowed =
        format!("kguard_mesh_denials_total{{direction=\"inbound\",listener=\"{port}\",reason=\"not_allowed\"}}");
    eventually("the allow-list denial", || metric(&api, &not_allowed) == 1).await;
    // Another trust domain, its CA unknown to api: the handshake fails.
    let both = tmp.path().join("both.crt");
    let bundle = std::fs::read_to_string(&pki.bundle).unwrap() + &std::fs::read_to_string(&foreign.bundle).unwrap();
    std::fs::write(&both, bundle).unwrap();
    let stranger =
        proxy(tmp.path(), "stranger", &foreign.issue("x", "shop", "web"), &both, "example.org", &to_api).await;
    assert!(refused(stranger.outbound[0], b"hi").await);
    let unknown = "kguard_mesh_handshake_failures_total{direction=\"inbound\",reason=\"unknown_issuer\"}";
    eventually("the unknown-issuer failure", || metric(&api, unknown) == 1).await;
    // A federated bundle (both CAs) on a port of trust domain cluster.local: the chain verifies,
    // the trust domain does not match.
    let fed =
        proxy(tmp.path(), "fed", &pki.issue("fed", "shop", "fed"), &both, "cluster.local", &inbound("STRICT", app, ""))
            .await;
    let to_fed = outbound(fed.inbound[0], &pki.id("shop", "fed"));
    let stranger2 =
        proxy(tmp.path(), "stranger2", &foreign.issue("y", "shop", "web"), &both, "example.org", &to_fed).await;
    assert!(refused(stranger2.outbound[0], b"hi").await);
    let foreign_td = format!(
        "kguard_mesh_denials_total{{direction=\"inbound\",listener=\"{}\",reason=\"foreign_trust_domain\"}}",
        fed.inbound[0].port()
    );
    eventually("the foreign trust domain denial", || metric(&fed, &foreign_td) == 1).await;
    // The outbound side: the upstream is api, the route expects db.
    let wrong = proxy(
        tmp.path(),
        "wrong",
        &pki.issue("w", "shop", "web"),
        &pki.bundle,
        "cluster.local",
        &outbound(api.inbound[0], &pki.id("shop", "db")),
    )
    .await;
    assert!(refused(wrong.outbound[0], b"hi").await);
    let wrong_id = "kguard_mesh_handshake_failures_total{direction=\"outbound\",reason=\"wrong_identity\"}";
    eventually("the wrong identity failure", || metric(&wrong, wrong_id) == 1).await;
    for h in [web, batch, stranger, stranger2, fed, wrong, api] {
        h.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_client_certificate_is_refused() {
    let tmp = TempDir::new("mesh-proxy-expired");
    let pki = Pki::new(tmp.path(), "cluster.local");
    let app = echo().await;
    let api = proxy(
        tmp.path(),
        "api",
        &pki.issue("api", "shop", "api"),
        &pki.bundle,
        "cluster.local",
        &inbound("STRICT", app, ""),
    )
    .await;
    // A valid client first: the test client works.
    let mut ok = tls_client(api.inbound[0], &pki.issue("web", "shop", "web")).await.unwrap();
    assert_eq!(exchange(&mut ok, b"fresh").await.unwrap(), b"fresh");
    let old = pki.issue_at("old", "shop", "web", now() - 10 * 86_400, 1);
    let refused = match tls_client(api.inbound[0], &old).await {
        Err(_) => true,
        Ok(mut s) => exchange(&mut s, b"stale").await.is_err(),
    };
    assert!(refused);
    let expired = "kguard_mesh_handshake_failures_total{direction=\"inbound\",reason=\"expired\"}";
    eventually("the expired-certificate failure", || metric(&api, expired) == 1).await;
    // The proxy itself refuses to start with an expired SVID.
    let path = tmp.path().join("expired.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: kguard.io/v1alpha1\nkind: MeshProxyConfig\nidentity: {{cert: {}, key: {}, bundle: {}}}\ninbound: [{{port: 0, appPort: 1, mode: STRICT}}]\n",
            old.0.display(),
            old.1.display(),
            pki.bundle.display()
        ),
    )
    .unwrap();
    let Err(e) = mesh_proxy::start(&path).await else { panic!("an expired SVID was accepted") };
    assert!(e.to_string().contains("expired at"), "{e}");
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_open_connections_and_serves_the_new_certificate() {
    let tmp = TempDir::new("mesh-proxy-rotate");
    let pki = Pki::new(tmp.path(), "cluster.local");
    let app = echo().await;
    let api = proxy(
        tmp.path(),
        "api",
        &pki.issue("api", "shop", "api"),
        &pki.bundle,
        "cluster.local",
        &inbound("STRICT", app, ""),
    )
    .await;
    let web = proxy(
        tmp.path(),
        "web",
        &pki.issue("web", "shop", "web"),
        &pki.bundle,
        "cluster.local",
        &outbound(api.inbound[0], &pki.id("shop", "api")),
    )
    .await;
    let client = pki.issue("client", "shop", "web");
    let mut through_pair = TcpStream::connect(web.outbound[0]).await.unwrap();
    assert_eq!(exchange(&mut through_pair, b"before").await.unwrap(), b"before");
    let mut direct = tls_client(api.inbound[0], &client).await.unwrap();
    let first = direct.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert_eq!(exchange(&mut direct, b"before").await.unwrap(), b"before");
    // Rotate api's SVID (a new key, a longer validity).
    let before = metric(&api, "kguard_mesh_identity_not_after_seconds{id=\"spiffe://cluster.local/ns/shop/sa/api\"}");
    let (crt, _) = pki.issue_at("api", "shop", "api", now(), 2);
    eventually("the reload", || metric(&api, "kguard_mesh_identity_reloads_total{result=\"ok\"}") >= 1).await;
    let after = metric(&api, "kguard_mesh_identity_not_after_seconds{id=\"spiffe://cluster.local/ns/shop/sa/api\"}");
    assert!(after > before, "{before} -> {after}");
    // The open connections keep working.
    assert_eq!(exchange(&mut through_pair, b"after").await.unwrap(), b"after");
    assert_eq!(exchange(&mut direct, b"after").await.unwrap(), b"after");
    // New ones get the new certificate.
    let new = CertificateDer::pem_file_iter(&crt).unwrap().next().unwrap().unwrap();
    let fresh = tls_client(api.inbound[0], &client).await.unwrap();
    let served = fresh.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert_eq!(served, new);
    assert_ne!(served, first);
    assert_eq!(round_trip(web.outbound[0], b"new connection").await.unwrap(), b"new connection");
    // A broken write (a key that does not match) is refused and the current identity kept.
    std::fs::write(tmp.path().join("cluster.local/api.key"), pki.ca.issue(&pki.id("shop", "x"), now(), 1).unwrap().key)
        .unwrap();
    eventually("the failed reload", || metric(&api, "kguard_mesh_identity_reloads_total{result=\"failed\"}") >= 1)
        .await;
    assert_eq!(round_trip(web.outbound[0], b"still").await.unwrap(), b"still");
    web.shutdown().await;
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_slowloris_before_a_client_hello_time_out() {
    let tmp = TempDir::new("mesh-proxy-slow");
    let pki = Pki::new(tmp.path(), "cluster.local");
    let app = echo().await;
    let body = format!(
        "inbound:\n- {{port: 0, address: 127.0.0.1, appPort: {p}, mode: PERMISSIVE}}\n- {{port: 0, address: 127.0.0.1, appPort: {p}, mode: STRICT}}\n\
         timeouts: {{detectSeconds: 1, idleSeconds: 1}}\n",
        p = app.port()
    );
    let api = proxy(tmp.path(), "api", &pki.issue("api", "shop", "api"), &pki.bundle, "cluster.local", &body).await;
    let (permissive, strict) = (api.inbound[0], api.inbound[1]);
    // A record header and part of a hello, then nothing: closed by the detection timeout.
    for addr in [permissive, strict] {
        let started = std::time::Instant::now();
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(closed_after(&mut s, b"\x16\x03\x01\x00\xc8\x01\x00", Duration::from_secs(5)).await);
        assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    }
    // Nothing at all on the STRICT port.
    let mut s = TcpStream::connect(strict).await.unwrap();
    assert!(closed_after(&mut s, b"", Duration::from_secs(5)).await);
    eventually("the detection timeouts", || {
        metric(
            &api,
            &format!(
                "kguard_mesh_denials_total{{direction=\"inbound\",listener=\"{}\",reason=\"detect_timeout\"}}",
                strict.port()
            ),
        ) == 2
            && metric(
                &api,
                &format!(
                    "kguard_mesh_denials_total{{direction=\"inbound\",listener=\"{}\",reason=\"detect_timeout\"}}",
                    permissive.port()
                ),
            ) == 1
    })
    .await;
    // Garbage: refused at once on STRICT; a huge record header is TLS that fails its handshake.
    assert!(refused(strict, b"\x00\x01\x02garbage").await);
    let mut huge = b"\x16\x03\x01\xff\xff".to_vec();
    huge.extend(std::iter::repeat_n(0x41, 9000));
    // rustls answers the oversized record with an alert record (0x15) and closes.
    let mut s = TcpStream::connect(strict).await.unwrap();
    let _ = s.write_all(&huge).await;
    let mut back = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut back)).await.unwrap();
    assert!(back.is_empty() || back[0] == 0x15, "{back:?}");
    eventually("the protocol error", || {
        metric(&api, "kguard_mesh_handshake_failures_total{direction=\"inbound\",reason=\"protocol_error\"}") >= 1
    })
    .await;
    // An idle plaintext connection is closed after idleSeconds.
    let mut idle = TcpStream::connect(permissive).await.unwrap();
    assert_eq!(exchange(&mut idle, b"ping").await.unwrap(), b"ping");
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0);
    eventually("the idle close", || metric(&api, "kguard_mesh_idle_closed_total{direction=\"inbound\"}") == 1).await;
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_lets_open_connections_finish() {
    let tmp = TempDir::new("mesh-proxy-shutdown");
    let pki = Pki::new(tmp.path(), "cluster.local");
    let app = echo().await;
    let api = proxy(
        tmp.path(),
        "api",
        &pki.issue("api", "shop", "api"),
        &pki.bundle,
        "cluster.local",
        &inbound("PERMISSIVE", app, ""),
    )
    .await;
    let addr = api.inbound[0];
    let mut open = TcpStream::connect(addr).await.unwrap();
    assert_eq!(exchange(&mut open, b"one").await.unwrap(), b"one");
    let stopping = tokio::spawn(api.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is still open");
    assert_eq!(exchange(&mut open, b"two").await.unwrap(), b"two");
    assert!(!stopping.is_finished());
    drop(open);
    tokio::time::timeout(Duration::from_secs(3), stopping).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_interop() {
    if !kguard_testkit::tool("openssl", "openssl_interop") {
        return;
    }
    let tmp = TempDir::new("mesh-proxy-openssl");
    let pki = Pki::new(tmp.path(), "cluster.local");
    let app = echo().await;
    let api = proxy(
        tmp.path(),
        "api",
        &pki.issue("api", "shop", "api"),
        &pki.bundle,
        "cluster.local",
        &inbound("STRICT", app, ""),
    )
    .await;
    // openssl s_client with a kguard-issued SVID against the STRICT port.
    let (crt, key) = pki.issue("web", "shop", "web");
    let addr = api.inbound[0];
    let bundle = pki.bundle.clone();
    let line = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("openssl")
            .args(["s_client", "-quiet", "-connect", &addr.to_string(), "-servername", "api.shop.svc"])
            .arg("-cert")
            .arg(&crt)
            .arg("-key")
            .arg(&key)
            .arg("-CAfile")
            .arg(&bundle)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.as_mut().unwrap().write_all(b"hello from openssl\n").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        line
    });
    let line = tokio::time::timeout(Duration::from_secs(20), line).await.unwrap().unwrap();
    assert_eq!(line, "hello from openssl\n");
    assert_eq!(
        metric(
            &api,
            "kguard_mesh_peer_connections_total{direction=\"inbound\",identity=\"spiffe://cluster.local/ns/shop/sa/web\"}"
        ),
        1
    );
    // The outbound proxy against openssl s_server -Verify (client certificate required).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (scrt, skey) = pki.issue("db", "shop", "db");
    let mut server = std::process::Command::new("openssl")
        .args(["s_server", "-rev", "-Verify", "1", "-verify_return_error", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&scrt)
        .arg("-key")
        .arg(&skey)
        .arg("-CAfile")
        .arg(&pki.bundle)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // s_server prints ACCEPT once it listens.
    let out = server.stdout.take().unwrap();
    let accepting = tokio::task::spawn_blocking(move || {
        let mut r = std::io::BufReader::new(out);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.contains("ACCEPT") {
                return Some(r);
            }
            line.clear();
        }
        None
    });
    let _stdout = tokio::time::timeout(Duration::from_secs(10), accepting)
        .await
        .unwrap()
        .unwrap()
        .expect("s_server did not start");
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let web = proxy(
        tmp.path(),
        "web",
        &pki.issue("web2", "shop", "web"),
        &pki.bundle,
        "cluster.local",
        &outbound(to, &pki.id("shop", "db")),
    )
    .await;
    let answer = round_trip(web.outbound[0], b"ping\n").await;
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(answer.unwrap(), b"gnip\n");
    web.shutdown().await;
    api.shutdown().await;
}
