//! `kguard mesh proxy`: the sidecar proxy, the socket half of [`kguard_mesh::proxy`].
//!
//! * Inbound ports: a STRICT or PERMISSIVE port reads the connection's first bytes through
//!   [`kguard_mesh::detect::Detector`] (within `timeouts.detectSeconds`, at most
//!   `limits.detectBytes`), [`proxy::route`] decides mTLS, plaintext or a refusal, and the bytes
//!   read are replayed to whichever side takes the connection. mTLS is terminated with the
//!   proxy's SVID and requires a client certificate chaining to the trust bundle; the client's
//!   SPIFFE ID then goes through [`proxy::authorize`] (trust domain, allow-list). The stream is
//!   forwarded to `127.0.0.1:appPort`.
//! * Outbound routes: the app connects in plaintext to a local port; the proxy connects to the
//!   route's upstream and originates mTLS with its SVID, accepting only a server certificate that
//!   chains to the bundle and names the route's SPIFFE ID ([`proxy::check_peer`]); or passes the
//!   bytes through (`plaintext: true`).
//! * Identity: the SVID, key and bundle are checked at load ([`proxy::own_svid`]) and reloaded
//!   when their files change (size or mtime, polled every `reloadIntervalSeconds`): new
//!   handshakes use the new TLS configuration, open connections keep theirs. A reload that fails
//!   keeps the previous identity.
//! * Every connection has an idle timeout and bounded buffers; the admin port serves `/ready` and
//!   `/metrics`; SIGTERM/SIGINT stop the listeners and let connections finish for
//!   `shutdownGraceSeconds`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use kguard_mesh::SpiffeId;
use kguard_mesh::detect::{Detected, Detector};
use kguard_mesh::proxy::{self, Config, Denial, PortMode, Route};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;

use crate::ServeError;
use crate::log::Level;
use crate::tls::provider;

fn log(level: Level, message: &str) {
    crate::log(level, message);
}

/// Reads and validates the proxy's configuration file.
///
/// # Errors
/// An unreadable file, or its first problem at `file:line:column`.
pub fn read_config(path: &Path) -> Result<Config, ServeError> {
    let text = std::fs::read_to_string(path).map_err(|e| ServeError::read(path, e))?;
    let base = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(Config::parse(&path.display().to_string(), &text, &base)?)
}

/// The size and modification time of each identity file: a change triggers a reload.
type Stamp = Vec<Option<(u64, SystemTime)>>;

fn stamp(config: &Config) -> Stamp {
    [&config.identity.cert, &config.identity.key, &config.identity.bundle]
        .iter()
        .map(|p| std::fs::metadata(p).ok().and_then(|m| Some((m.len(), m.modified().ok()?))))
        .collect()
}

/// The TLS side of the identity, built from the files at start and at every reload.
struct Tls {
    id: SpiffeId,
    not_after: i64,
    /// For every inbound port (client certificates mandatory).
    server: Arc<ServerConfig>,
    /// One per outbound route (`None`: plaintext).
    clients: Vec<Option<Arc<ClientConfig>>>,
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

fn pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    crate::tls::certificates(path)
}

/// Loads and checks the identity files and builds the TLS configurations.
fn load_tls(config: &Config) -> Result<Tls, ServeError> {
    let ident = &config.identity;
    let certs = pem_certs(&ident.cert)?;
    let leaf = certs.first().ok_or_else(|| ServeError::invalid(&ident.cert, "no certificate"))?;
    let (id, not_after) =
        proxy::own_svid(leaf, &ident.trust_domain, now_unix()).map_err(|e| ServeError::invalid(&ident.cert, e))?;
    let key_pem = std::fs::read(&ident.key).map_err(|e| ServeError::read(&ident.key, e))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| ServeError::invalid(&ident.key, format!("no usable private key: {e}")))?;
    let mut roots = RootCertStore::empty();
    for (i, ca) in pem_certs(&ident.bundle)?.into_iter().enumerate() {
        proxy::bundle_cert(&ca)
            .map_err(|e| ServeError::invalid(&ident.bundle, format!("certificate {}: {e}", i + 1)))?;
        roots.add(ca).map_err(|e| ServeError::invalid(&ident.bundle, format!("certificate {}: {e}", i + 1)))?;
    }
    let roots = Arc::new(roots);
    let provider = provider();
    rustls::sign::CertifiedKey::from_der(certs.clone(), key.clone_key(), &provider)
        .map_err(|e| ServeError::invalid(&ident.key, format!("does not match {}: {e}", ident.cert.display())))?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
        .build()
        .map_err(|e| ServeError::invalid(&ident.bundle, e))?;
    let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| ServeError::Runtime(format!("TLS versions: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs.clone(), key.clone_key())
        .map_err(|e| ServeError::invalid(&ident.cert, e))?;
    let mut clients = Vec::new();
    for route in &config.outbound {
        let Some(expected) = &route.identity else {
            clients.push(None);
            continue;
        };
        let verifier =
            SpiffeVerifier { roots: Arc::clone(&roots), expected: expected.clone(), provider: Arc::clone(&provider) };
        let client = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(|e| ServeError::Runtime(format!("TLS versions: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(certs.clone(), key.clone_key())
            .map_err(|e| ServeError::invalid(&ident.cert, e))?;
        clients.push(Some(Arc::new(client)));
    }
    Ok(Tls { id, not_after, server: Arc::new(server), clients })
}

/// An upstream's certificate: the chain to the trust bundle (webpki, serverAuth), then the
/// route's SPIFFE ID instead of a DNS name.
#[derive(Debug)]
struct SpiffeVerifier {
    roots: Arc<RootCertStore>,
    expected: SpiffeId,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for SpiffeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        proxy::check_peer(&self.expected, end_entity.as_ref())
            .map_err(|d| rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(d)))))?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// What a failed handshake says, as a metric label (and, for a wrong upstream identity, the
/// denial itself).
fn handshake_failure(e: &io::Error) -> Denial {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return Denial::Handshake(
            match e.kind() {
                io::ErrorKind::UnexpectedEof => "eof",
                io::ErrorKind::ConnectionReset => "reset",
                _ => "io",
            }
            .to_owned(),
        );
    };
    let reason = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired",
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => "not_yet_valid",
            CertificateError::UnknownIssuer => "unknown_issuer",
            CertificateError::Other(OtherError(inner)) => {
                if let Some(d) = inner.downcast_ref::<Denial>() {
                    return d.clone();
                }
                "bad_certificate"
            }
            _ => "bad_certificate",
        },
        rustls::Error::NoCertificatesPresented => "no_client_certificate",
        rustls::Error::AlertReceived(_) => "alert_received",
        rustls::Error::PeerIncompatible(_) => "incompatible",
        _ => "protocol_error",
    };
    Denial::Handshake(reason.to_owned())
}

/// The proxy's counters, rendered in the Prometheus text format.
#[derive(Default)]
struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    active: AtomicI64,
}

/// Copies both ways between `a` and `b` until both directions have ended (each end of stream
/// passed on as a shutdown of the other side's write), as `tokio::io::copy_bidirectional` does,
/// but each direction holds its `size`-byte buffer only while data is on its way: the buffer is
/// made when a read is tried and given back when the read finds nothing and all is written, so an
/// idle connection holds no copy buffers.
async fn copy_both<A, B>(a: &mut A, b: &mut B, size: usize) -> io::Result<()>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut ab, mut ba) = (Pipe::default(), Pipe::default());
    std::future::poll_fn(|cx| {
        let ab_ready = ab.done || ab.poll(cx, Pin::new(&mut *a), Pin::new(&mut *b), size)?.is_ready();
        let ba_ready = ba.done || ba.poll(cx, Pin::new(&mut *b), Pin::new(&mut *a), size)?.is_ready();
        if ab_ready && ba_ready { Poll::Ready(Ok(())) } else { Poll::Pending }
    })
    .await
}

/// One direction of [`copy_both`].
#[derive(Default)]
struct Pipe {
    /// The buffer, while data is on its way.
    buf: Option<Box<[u8]>>,
    /// The unwritten part of the buffer.
    start: usize,
    end: usize,
    /// The reader reached its end.
    read_done: bool,
    /// Written since the last flush.
    need_flush: bool,
    /// The writer is shut down: this direction is over.
    done: bool,
}

impl Pipe {
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
        size: usize,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if self.start == self.end && !self.read_done {
                let buf = self.buf.get_or_insert_with(|| vec![0; size].into_boxed_slice());
                let mut read = ReadBuf::new(buf);
                match reader.as_mut().poll_read(cx, &mut read) {
                    Poll::Pending => {
                        // Nothing to read and nothing left to write: the buffer goes.
                        self.buf = None;
                        if self.need_flush {
                            std::task::ready!(writer.as_mut().poll_flush(cx))?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => {
                        let n = read.filled().len();
                        self.start = 0;
                        self.end = n;
                        self.read_done = n == 0;
                    }
                }
            }
            while self.start < self.end {
                let pending = self.buf.as_deref().and_then(|b| b.get(self.start..self.end)).unwrap_or_default();
                let n = std::task::ready!(writer.as_mut().poll_write(cx, pending))?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::WriteZero, "the peer takes no more data")));
                }
                self.start += n;
                self.need_flush = true;
            }
            if self.read_done {
                self.buf = None;
                std::task::ready!(writer.as_mut().poll_shutdown(cx))?;
                self.done = true;
                return Poll::Ready(Ok(()));
            }
        }
    }
}

const HELP: &[(&str, &str, &str)] = &[
    (
        "kguard_mesh_connections_total",
        "counter",
        "Connections by direction, listener, port mode, protocol and decision.",
    ),
    ("kguard_mesh_denials_total", "counter", "Connections refused or failed, by direction, listener and reason."),
    ("kguard_mesh_handshake_failures_total", "counter", "TLS handshakes that failed, by direction and reason."),
    ("kguard_mesh_peer_connections_total", "counter", "Allowed mTLS connections by direction and peer SPIFFE ID."),
    (
        "kguard_mesh_bytes_total",
        "counter",
        "Bytes proxied, by direction and the side that sent them (downstream: the connecting client).",
    ),
    ("kguard_mesh_idle_closed_total", "counter", "Connections closed by the idle timeout."),
    ("kguard_mesh_identity_reloads_total", "counter", "Reloads of the identity files, by result."),
];

impl Metrics {
    fn add(&self, name: &'static str, labels: String, n: u64) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry((name, labels)).or_insert(0) += n;
        }
    }

    fn render(&self, tls: &Tls) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((_, labels), v) in counters.iter().filter(|((n, _), _)| n == name) {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP kguard_mesh_active_connections Open proxied connections.\n# TYPE kguard_mesh_active_connections gauge\nkguard_mesh_active_connections {}",
            self.active.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP kguard_mesh_identity_not_after_seconds The proxy SVID's notAfter, Unix seconds.\n# TYPE kguard_mesh_identity_not_after_seconds gauge\nkguard_mesh_identity_not_after_seconds{{id=\"{}\"}} {}",
            label(tls.id.as_str()),
            tls.not_after
        );
        out
    }
}

/// A Prometheus label value, escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Open connections, to wait for at shutdown.
#[derive(Default)]
struct Tracker {
    open: AtomicUsize,
    idle: Notify,
}

struct Guard(Arc<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.metrics.active.fetch_sub(1, Ordering::Relaxed);
        if self.0.tracker.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.tracker.idle.notify_waiters();
        }
    }
}

/// What every connection shares.
struct Shared {
    config: Config,
    tls: RwLock<Arc<Tls>>,
    metrics: Metrics,
    ready: AtomicBool,
    slots: Arc<Semaphore>,
    tracker: Tracker,
    /// Set when the grace period is over: connections still open are closed.
    kill: watch::Receiver<bool>,
    epoch: Instant,
}

impl Shared {
    fn tls(&self) -> Arc<Tls> {
        match self.tls.read() {
            Ok(t) => Arc::clone(&t),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn open(self: &Arc<Self>) -> Guard {
        self.tracker.open.fetch_add(1, Ordering::SeqCst);
        self.metrics.active.fetch_add(1, Ordering::Relaxed);
        Guard(Arc::clone(self))
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A running proxy.
pub struct ProxyHandle {
    /// The inbound listeners' addresses, in configuration order (useful with port 0).
    pub inbound: Vec<SocketAddr>,
    /// The outbound listeners' addresses, in configuration order.
    pub outbound: Vec<SocketAddr>,
    /// The admin address.
    pub admin: SocketAddr,
    /// The SPIFFE ID of the proxy's current SVID.
    pub id: SpiffeId,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    kill: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl ProxyHandle {
    /// The metrics, as `/metrics` answers.
    #[must_use]
    pub fn metrics(&self) -> String {
        self.shared.metrics.render(&self.shared.tls())
    }

    /// Shuts down as on SIGTERM: not ready, listeners closed, open connections given
    /// `shutdownGraceSeconds` to finish, then closed.
    pub async fn shutdown(self) {
        let shared = &self.shared;
        shared.ready.store(false, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let open = shared.tracker.open.load(Ordering::SeqCst);
        log(Level::Info, &format!("mesh proxy: shutting down: listeners closed, {open} connection(s) open"));
        let grace = Duration::from_secs(shared.config.shutdown_grace_seconds);
        let drained = tokio::time::timeout(grace, async {
            loop {
                let notified = shared.tracker.idle.notified();
                if shared.tracker.open.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        })
        .await;
        if drained.is_err() {
            let open = shared.tracker.open.load(Ordering::SeqCst);
            log(Level::Warning, &format!("mesh proxy: grace period over, closing {open} connection(s)"));
        }
        let _ = self.kill.send(true);
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Checks a configuration and the files it names (`--check`); returns a one-line summary.
///
/// # Errors
/// As [`start`], without binding anything.
pub fn check(config_path: &Path) -> Result<String, ServeError> {
    let config = read_config(config_path)?;
    let tls = load_tls(&config)?;
    Ok(format!(
        "{}: ok (identity {}, valid until Unix {}, {} inbound port(s), {} outbound route(s))",
        config_path.display(),
        tls.id,
        tls.not_after,
        config.inbound.len(),
        config.outbound.len()
    ))
}

/// Starts the proxy; returns once every listener is bound.
///
/// # Errors
/// Invalid configuration, unusable identity files, addresses that cannot be bound.
pub async fn start(config_path: &Path) -> Result<ProxyHandle, ServeError> {
    let config = read_config(config_path)?;
    let tls = Arc::new(load_tls(&config)?);
    let bind = |what: &'static str, addr: SocketAddr| async move {
        let l = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { what, addr, source })?;
        let local = l.local_addr().map_err(|source| ServeError::Bind { what, addr, source })?;
        Ok::<_, ServeError>((l, local))
    };
    let mut inbound = Vec::new();
    for p in &config.inbound {
        inbound.push(bind("inbound", p.listen).await?);
    }
    let mut outbound = Vec::new();
    for r in &config.outbound {
        outbound.push(bind("outbound", r.listen).await?);
    }
    let (admin_listener, admin) = bind("admin", config.admin.listen).await?;
    let (stop, stop_rx) = watch::channel(false);
    let (kill, kill_rx) = watch::channel(false);
    let id = tls.id.clone();
    log(
        Level::Info,
        &format!(
            "kguard mesh proxy: identity {id}; inbound {}; outbound {}; admin http://{admin}",
            describe(inbound.iter().map(|(_, a)| a).zip(config.inbound.iter().map(|p| format!(
                "{} -> 127.0.0.1:{}",
                p.mode.as_str(),
                p.app_port
            )))),
            describe(outbound.iter().map(|(_, a)| a).zip(config.outbound.iter().map(|r| match &r.identity {
                Some(i) => format!("mTLS {} ({i})", r.to()),
                None => format!("plaintext {}", r.to()),
            }))),
        ),
    );
    let shared = Arc::new(Shared {
        slots: Arc::new(Semaphore::new(config.limits.max_connections)),
        config,
        tls: RwLock::new(tls),
        metrics: Metrics::default(),
        ready: AtomicBool::new(true),
        tracker: Tracker::default(),
        kill: kill_rx,
        epoch: Instant::now(),
    });
    let mut tasks = Vec::new();
    let (inbound_addrs, outbound_addrs) =
        (inbound.iter().map(|(_, a)| *a).collect(), outbound.iter().map(|(_, a)| *a).collect());
    for (i, (l, addr)) in inbound.into_iter().enumerate() {
        tasks.push(tokio::spawn(accept_loop(Arc::clone(&shared), l, stop_rx.clone(), Side::Inbound(i), addr)));
    }
    for (i, (l, addr)) in outbound.into_iter().enumerate() {
        tasks.push(tokio::spawn(accept_loop(Arc::clone(&shared), l, stop_rx.clone(), Side::Outbound(i), addr)));
    }
    tasks.push(tokio::spawn(admin_loop(Arc::clone(&shared), admin_listener)));
    tasks.push(tokio::spawn(reload_loop(Arc::clone(&shared), stop_rx)));
    Ok(ProxyHandle { inbound: inbound_addrs, outbound: outbound_addrs, admin, id, shared, stop, kill, tasks })
}

fn describe<'a>(items: impl Iterator<Item = (&'a SocketAddr, String)>) -> String {
    let v: Vec<String> = items.map(|(a, d)| format!("{a} {d}")).collect();
    if v.is_empty() { "none".to_owned() } else { v.join(", ") }
}

/// Runs the proxy until SIGTERM or SIGINT, then shuts down as [`ProxyHandle::shutdown`] does.
///
/// # Errors
/// As [`start`].
pub fn run(config_path: &Path, threads: usize) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| ServeError::Runtime(format!("tokio runtime: {e}")))?;
    rt.block_on(async {
        let signals = crate::Signals::install();
        let handle = start(config_path).await?;
        signals.wait().await;
        handle.shutdown().await;
        log(Level::Info, "mesh proxy: stopped");
        Ok(())
    })
}

/// Which listener a connection came to.
#[derive(Clone, Copy)]
enum Side {
    Inbound(usize),
    Outbound(usize),
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
    side: Side,
    addr: SocketAddr,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (direction, listener_label) = match side {
            Side::Inbound(_) => ("inbound", addr.port()),
            Side::Outbound(_) => ("outbound", addr.port()),
        };
        let Ok(permit) = Arc::clone(&shared.slots).try_acquire_owned() else {
            shared.metrics.add(
                "kguard_mesh_denials_total",
                format!("direction=\"{direction}\",listener=\"{listener_label}\",reason=\"over_limit\""),
                1,
            );
            log(
                Level::Warning,
                &format!("mesh proxy: {direction} {listener_label}: {peer}: refused: maxConnections reached"),
            );
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _permit = permit;
            let guard = shared.open();
            let mut kill = shared.kill.clone();
            let conn = Conn { shared: &shared, direction, listener: listener_label, peer };
            let work = async {
                match side {
                    Side::Inbound(i) => conn.inbound(i, tcp).await,
                    Side::Outbound(i) => conn.outbound(i, tcp).await,
                }
            };
            tokio::select! {
                () = work => {}
                _ = kill.wait_for(|k| *k) => {}
            }
            drop(guard);
        });
    }
}

/// One connection's context, for its metrics and log lines.
struct Conn<'a> {
    shared: &'a Arc<Shared>,
    direction: &'static str,
    listener: u16,
    peer: SocketAddr,
}

impl Conn<'_> {
    fn deny(&self, mode: &str, protocol: &str, d: &Denial) {
        self.deny_with(mode, protocol, d, None);
    }

    /// [`Conn::deny`] with the TLS stack's own words in the log line.
    fn deny_with(&self, mode: &str, protocol: &str, d: &Denial, detail: Option<&io::Error>) {
        let m = &self.shared.metrics;
        let (dir, l) = (self.direction, self.listener);
        m.add(
            "kguard_mesh_connections_total",
            format!("direction=\"{dir}\",listener=\"{l}\",mode=\"{mode}\",protocol=\"{protocol}\",decision=\"denied\""),
            1,
        );
        m.add(
            "kguard_mesh_denials_total",
            format!("direction=\"{dir}\",listener=\"{l}\",reason=\"{}\"", label(d.reason())),
            1,
        );
        if matches!(d, Denial::Handshake(_) | Denial::WrongIdentity { .. }) {
            m.add(
                "kguard_mesh_handshake_failures_total",
                format!("direction=\"{dir}\",reason=\"{}\"", label(d.reason())),
                1,
            );
        }
        let detail = match (d, detail) {
            (Denial::Handshake(_), Some(e)) => format!(" ({e})"),
            _ => String::new(),
        };
        log(Level::Warning, &format!("mesh proxy: {dir} {l}: {}: denied ({}): {d}{detail}", self.peer, d.reason()));
    }

    fn allow(&self, mode: &str, protocol: &str, id: Option<&SpiffeId>) {
        let m = &self.shared.metrics;
        let (dir, l) = (self.direction, self.listener);
        m.add(
            "kguard_mesh_connections_total",
            format!(
                "direction=\"{dir}\",listener=\"{l}\",mode=\"{mode}\",protocol=\"{protocol}\",decision=\"allowed\""
            ),
            1,
        );
        if let Some(id) = id {
            m.add(
                "kguard_mesh_peer_connections_total",
                format!("direction=\"{dir}\",identity=\"{}\"", label(id.as_str())),
                1,
            );
        }
        if crate::log::enabled(Level::Debug) {
            let who = id.map_or_else(|| "plaintext".to_owned(), ToString::to_string);
            log(Level::Debug, &format!("mesh proxy: {dir} {l}: {}: allowed ({who})", self.peer));
        }
    }

    fn failed(&self, what: &str, e: &io::Error) {
        let (dir, l) = (self.direction, self.listener);
        self.shared.metrics.add(
            "kguard_mesh_denials_total",
            format!("direction=\"{dir}\",listener=\"{l}\",reason=\"{what}\""),
            1,
        );
        log(Level::Warning, &format!("mesh proxy: {dir} {l}: {}: {what}: {e}", self.peer));
    }

    async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, io::Error> {
        let t = Duration::from_secs(self.shared.config.timeouts.connect_seconds);
        let tcp = tokio::time::timeout(t, TcpStream::connect((host, port)))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("connect to {host}:{port}: timed out")))??;
        let _ = tcp.set_nodelay(true);
        Ok(tcp)
    }

    async fn inbound(&self, index: usize, mut tcp: TcpStream) {
        let shared = self.shared;
        let Some(port) = shared.config.inbound.get(index) else { return };
        let mode = port.mode;
        let mut replay = Vec::new();
        let route = if mode == PortMode::Disable {
            Route::Plaintext
        } else {
            let mut det = Detector::new(shared.config.limits.detect_bytes);
            let t = Duration::from_secs(shared.config.timeouts.detect_seconds);
            let detected = tokio::time::timeout(t, async {
                let mut buf = [0u8; 4096];
                loop {
                    let want = det.want().clamp(1, buf.len());
                    let n = tcp.read(buf.get_mut(..want).unwrap_or(&mut [])).await?;
                    if n == 0 {
                        return Ok::<_, io::Error>(det.finish());
                    }
                    match det.push(buf.get(..n).unwrap_or(&[])) {
                        Detected::NeedMore => {}
                        d => return Ok(d),
                    }
                }
            })
            .await;
            let detected = match detected {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => return self.failed("read_error", &e),
                Err(_) => Detected::NeedMore,
            };
            match proxy::route(mode, &detected, det.buffered()) {
                Ok(r) => {
                    replay = det.into_buffered();
                    r
                }
                Err(d) => return self.deny(mode.as_str(), "unknown", &d),
            }
        };
        let downstream = Rewind { prefix: replay, pos: 0, inner: tcp };
        match route {
            Route::Plaintext => {
                let app = match self.connect("127.0.0.1", port.app_port).await {
                    Ok(a) => a,
                    Err(e) => return self.failed("app_unreachable", &e),
                };
                self.allow(mode.as_str(), "plaintext", None);
                self.splice(downstream, app).await;
            }
            Route::Tls => {
                let tls = shared.tls();
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.server));
                let t = Duration::from_secs(shared.config.timeouts.handshake_seconds);
                let stream = match tokio::time::timeout(t, acceptor.accept(downstream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return self.deny_with(mode.as_str(), "mtls", &handshake_failure(&e), Some(&e)),
                    Err(_) => {
                        return self.deny(mode.as_str(), "mtls", &Denial::Handshake("handshake_timeout".to_owned()));
                    }
                };
                let leaf = stream.get_ref().1.peer_certificates().and_then(|c| c.first());
                let Some(leaf) = leaf else {
                    return self.deny(mode.as_str(), "mtls", &Denial::Handshake("no_client_certificate".to_owned()));
                };
                let id = match proxy::authorize(&shared.config.identity.trust_domain, &port.allow, leaf) {
                    Ok(id) => id,
                    Err(d) => return self.deny(mode.as_str(), "mtls", &d),
                };
                let app = match self.connect("127.0.0.1", port.app_port).await {
                    Ok(a) => a,
                    Err(e) => return self.failed("app_unreachable", &e),
                };
                self.allow(mode.as_str(), "mtls", Some(&id));
                self.splice(stream, app).await;
            }
        }
    }

    async fn outbound(&self, index: usize, app: TcpStream) {
        let shared = self.shared;
        let Some(route) = shared.config.outbound.get(index) else { return };
        let upstream = match self.connect(&route.host, route.port).await {
            Ok(u) => u,
            Err(e) => return self.failed("upstream_unreachable", &e),
        };
        let tls = shared.tls();
        match tls.clients.get(index).cloned().flatten() {
            None => {
                self.allow("PLAINTEXT", "plaintext", None);
                self.splice(app, upstream).await;
            }
            Some(client) => {
                let Ok(name) = ServerName::try_from(route.server_name.clone()) else { return };
                let connector = tokio_rustls::TlsConnector::from(client);
                let t = Duration::from_secs(shared.config.timeouts.handshake_seconds);
                let stream = match tokio::time::timeout(t, connector.connect(name, upstream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return self.deny_with("MTLS", "mtls", &handshake_failure(&e), Some(&e)),
                    Err(_) => return self.deny("MTLS", "mtls", &Denial::Handshake("handshake_timeout".to_owned())),
                };
                self.allow("MTLS", "mtls", route.identity.as_ref());
                self.splice(app, stream).await;
            }
        }
    }

    /// Copies both ways until both sides are done or the connection is idle for
    /// `timeouts.idleSeconds`; counts the bytes.
    async fn splice<A, B>(&self, downstream: A, upstream: B)
    where
        A: AsyncRead + AsyncWrite + Unpin,
        B: AsyncRead + AsyncWrite + Unpin,
    {
        let shared = self.shared;
        let last = AtomicU64::new(shared.millis());
        let (down_bytes, up_bytes) = (AtomicU64::new(0), AtomicU64::new(0));
        let mut a = Counted { inner: downstream, shared, last: &last, bytes: &down_bytes };
        let mut b = Counted { inner: upstream, shared, last: &last, bytes: &up_bytes };
        let size = shared.config.limits.buffer_bytes;
        let idle = Duration::from_secs(shared.config.timeouts.idle_seconds);
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        let watch = async {
            loop {
                let deadline = last.load(Ordering::Relaxed).saturating_add(idle_ms);
                let now = shared.millis();
                if now >= deadline {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(deadline - now)).await;
            }
        };
        tokio::select! {
            _ = copy_both(&mut a, &mut b, size) => {}
            () = watch => {
                shared.metrics.add("kguard_mesh_idle_closed_total", format!("direction=\"{}\"", self.direction), 1);
                log(Level::Debug, &format!("mesh proxy: {} {}: {}: idle for {}s, closed", self.direction, self.listener, self.peer, idle.as_secs()));
            }
        }
        let m = &shared.metrics;
        m.add(
            "kguard_mesh_bytes_total",
            format!("direction=\"{}\",from=\"downstream\"", self.direction),
            down_bytes.load(Ordering::Relaxed),
        );
        m.add(
            "kguard_mesh_bytes_total",
            format!("direction=\"{}\",from=\"upstream\"", self.direction),
            up_bytes.load(Ordering::Relaxed),
        );
    }
}

/// A stream that first yields bytes already read (detection's), then the stream's.
struct Rewind<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(rest) = this.prefix.get(this.pos..)
            && !rest.is_empty()
        {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or(&[]));
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A stream that counts what it reads and notes the time of every read and write.
struct Counted<'a, S> {
    inner: S,
    shared: &'a Shared,
    last: &'a AtomicU64,
    bytes: &'a AtomicU64,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<'_, S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.bytes.fetch_add(n as u64, Ordering::Relaxed);
            self.last.store(self.shared.millis(), Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<'_, S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r
            && *n > 0
        {
            self.last.store(self.shared.millis(), Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Polls the identity files; a change rebuilds the TLS configurations for new handshakes.
async fn reload_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let every = shared.config.reload_interval_seconds;
    if every == 0 {
        return;
    }
    let mut seen = stamp(&shared.config);
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(every)) => {}
            _ = stop.changed() => return,
        }
        let now = stamp(&shared.config);
        if now == seen {
            continue;
        }
        // A writer may still be replacing the files one by one: wait for them to settle.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let settled = stamp(&shared.config);
        if settled != now {
            continue;
        }
        seen = settled;
        match load_tls(&shared.config) {
            Ok(tls) => {
                log(
                    Level::Info,
                    &format!("mesh proxy: identity reloaded: {} (valid until Unix {})", tls.id, tls.not_after),
                );
                if let Ok(mut t) = shared.tls.write() {
                    *t = Arc::new(tls);
                }
                shared.metrics.add("kguard_mesh_identity_reloads_total", "result=\"ok\"".to_owned(), 1);
            }
            Err(e) => {
                log(Level::Error, &format!("mesh proxy: identity reload failed, keeping the previous one: {e}"));
                shared.metrics.add("kguard_mesh_identity_reloads_total", "result=\"failed\"".to_owned(), 1);
            }
        }
    }
}

/// The admin port: `/ready` (503 once shutdown has begun), `/healthz`, `/metrics`.
async fn admin_loop(shared: Arc<Shared>, listener: TcpListener) {
    let open = Arc::new(Semaphore::new(16));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else { continue };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(admin_answer(&shared, &req)) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(tcp), service);
            let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
        });
    }
}

fn admin_answer(shared: &Shared, req: &hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (code, body, ct) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => (StatusCode::OK, "ok".to_owned(), "text/plain"),
        (&Method::GET, "/ready") => {
            if shared.ready.load(Ordering::SeqCst) {
                (StatusCode::OK, "ready".to_owned(), "text/plain")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down".to_owned(), "text/plain")
            }
        }
        (&Method::GET, "/metrics") => {
            (StatusCode::OK, shared.metrics.render(&shared.tls()), "text/plain; version=0.0.4")
        }
        _ => (StatusCode::NOT_FOUND, "not found".to_owned(), "text/plain"),
    };
    crate::routes::text(code, body, ct)
}
