//! The sidecar proxy's configuration and decisions, pure: `kguard mesh proxy --config FILE`
//! reads its file through [`Config::parse`] (YAML in kguard's style, errors at `line:column`), and
//! the socket side (`kguard_server::mesh_proxy`) asks this module what to do with each
//! connection:
//!
//! * [`route`]: what a port in mode STRICT, PERMISSIVE or DISABLE does with a connection whose
//!   first bytes [`crate::detect`] has judged (mTLS, plaintext, or a refusal with its reason);
//! * [`authorize`]: whether the SPIFFE ID of a verified client certificate may use the port
//!   (the X.509-SVID rules, the trust domain, the port's allow-list);
//! * [`check_peer`]: whether an upstream proxy is who an outbound route expects;
//! * [`server_name`]: the SNI an outbound route sends (a PERMISSIVE port recognises mTLS by it).
//!
//! Every refusal is a [`Denial`]: a stable `reason` label for metrics and a sentence for the log.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use kguard_model::Pos;
use kguard_model::yaml;

use crate::detect::{self, Detected};
use crate::spiffe::{SpiffeId, TrustDomain};
use crate::svid::{self, Role};

/// `apiVersion` of the file.
pub const API_VERSION: &str = "kguard.io/v1alpha1";
/// `kind` of the file.
pub const KIND: &str = "MeshProxyConfig";

/// What a port accepts (Istio's PeerAuthentication modes, UNSET aside).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PortMode {
    /// mTLS only.
    Strict,
    /// mTLS or plaintext, told apart by the first bytes.
    Permissive,
    /// Plaintext only (no detection).
    Disable,
}

impl PortMode {
    /// The spelling of the file and of the metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Strict => "STRICT",
            Self::Permissive => "PERMISSIVE",
            Self::Disable => "DISABLE",
        }
    }
}

/// The file, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    api_version: String,
    kind: String,
    identity: IdentityFile,
    #[serde(default)]
    inbound: Vec<InboundFile>,
    #[serde(default)]
    outbound: Vec<OutboundFile>,
    #[serde(default)]
    admin: Admin,
    #[serde(default)]
    timeouts: Timeouts,
    #[serde(default)]
    limits: Limits,
    #[serde(default = "default_reload")]
    reload_interval_seconds: u64,
    #[serde(default = "default_grace")]
    shutdown_grace_seconds: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IdentityFile {
    cert: PathBuf,
    key: PathBuf,
    bundle: PathBuf,
    #[serde(default = "default_trust_domain")]
    trust_domain: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InboundFile {
    port: u16,
    #[serde(default = "any_address")]
    address: IpAddr,
    app_port: u16,
    mode: PortMode,
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OutboundFile {
    listen: SocketAddr,
    to: String,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    server_name: Option<String>,
    #[serde(default)]
    plaintext: bool,
}

/// The admin port: `/ready` and `/metrics`, plain HTTP.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Admin {
    /// Its address (default `127.0.0.1:15020`).
    #[serde(default = "default_admin")]
    pub listen: SocketAddr,
}

impl Default for Admin {
    fn default() -> Self {
        Self { listen: default_admin() }
    }
}

/// Time limits, seconds; all positive.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timeouts {
    /// From accept to a detection answer on a STRICT or PERMISSIVE port (default 10, linkerd's).
    #[serde(default = "default_detect")]
    pub detect_seconds: u64,
    /// To complete a TLS handshake, either side (default 10).
    #[serde(default = "default_handshake")]
    pub handshake_seconds: u64,
    /// To connect to the app or to the upstream (default 5).
    #[serde(default = "default_connect")]
    pub connect_seconds: u64,
    /// A connection with no byte in either direction for this long is closed (default 300).
    #[serde(default = "default_idle")]
    pub idle_seconds: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            detect_seconds: default_detect(),
            handshake_seconds: default_handshake(),
            connect_seconds: default_connect(),
            idle_seconds: default_idle(),
        }
    }
}

/// Resource bounds.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Open connections, all listeners together (default 4096); more are closed at accept.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// The copy buffer of each direction of a connection, bytes (default 16384; 1024–1048576).
    #[serde(default = "default_buffer")]
    pub buffer_bytes: usize,
    /// What detection may buffer before it decides (default 8192, linkerd's; 512–65536).
    #[serde(default = "default_detect_bytes")]
    pub detect_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: default_connections(),
            buffer_bytes: default_buffer(),
            detect_bytes: default_detect_bytes(),
        }
    }
}

fn default_trust_domain() -> String {
    "cluster.local".to_owned()
}
const fn any_address() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}
fn default_admin() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 15020))
}
const fn default_reload() -> u64 {
    5
}
const fn default_grace() -> u64 {
    10
}
const fn default_detect() -> u64 {
    10
}
const fn default_handshake() -> u64 {
    10
}
const fn default_connect() -> u64 {
    5
}
const fn default_idle() -> u64 {
    300
}
const fn default_connections() -> usize {
    4096
}
const fn default_buffer() -> usize {
    16 * 1024
}
const fn default_detect_bytes() -> usize {
    detect::DEFAULT_CAPACITY
}

/// The proxy's own identity: its SVID, key and trust bundle (PEM files, reloaded on change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The leaf SVID (and any intermediates), PEM.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
    /// The trust bundle: the CA certificates of the trust domain, PEM.
    pub bundle: PathBuf,
    /// The trust domain; the SVID must be in it, and so must every client.
    pub trust_domain: TrustDomain,
}

/// One inbound port: where the proxy listens, what it accepts, where the app is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// The proxy's listening address (`address:port`; port 0 lets the system choose).
    pub listen: SocketAddr,
    /// The app's port on 127.0.0.1.
    pub app_port: u16,
    /// STRICT, PERMISSIVE or DISABLE.
    pub mode: PortMode,
    /// When not empty, the only SPIFFE IDs an mTLS client may have.
    pub allow: Vec<SpiffeId>,
}

/// One outbound route: the app connects in plaintext to `listen`; the proxy connects to `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound {
    /// The local address the app connects to.
    pub listen: SocketAddr,
    /// The upstream host.
    pub host: String,
    /// The upstream port.
    pub port: u16,
    /// `None`: plaintext passthrough; otherwise mTLS, and the upstream's SVID must name this ID.
    pub identity: Option<SpiffeId>,
    /// The SNI sent (see [`server_name`]).
    pub server_name: String,
}

impl Outbound {
    /// `host:port` as configured (IPv6 hosts in brackets).
    #[must_use]
    pub fn to(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The validated configuration; relative paths are resolved against the file's directory.
#[derive(Clone, Debug)]
pub struct Config {
    /// The proxy's identity files.
    pub identity: Identity,
    /// Inbound ports, in file order.
    pub inbound: Vec<Inbound>,
    /// Outbound routes, in file order.
    pub outbound: Vec<Outbound>,
    /// The admin port.
    pub admin: Admin,
    /// Time limits.
    pub timeouts: Timeouts,
    /// Resource bounds.
    pub limits: Limits,
    /// Seconds between checks of the identity files for changes (0: never).
    pub reload_interval_seconds: u64,
    /// Seconds connections may take to finish after SIGTERM, once the listeners are closed.
    pub shutdown_grace_seconds: u64,
}

/// A configuration error: the file, where in it (when known) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub file: String,
    /// Line and column of the field concerned.
    pub pos: Option<Pos>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    /// `file:line:column: message` (or `file: message`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Splits `host:port` (`[v6]:port` for IPv6).
fn host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = match host.strip_prefix('[') {
        Some(v6) => {
            let v6 = v6.strip_suffix(']')?;
            v6.parse::<std::net::Ipv6Addr>().ok()?;
            v6
        }
        None if host.contains(':') => return None,
        None => host,
    };
    if host.is_empty() || !(host.parse::<IpAddr>().is_ok() || detect::is_dns_name(host) || is_dns_like(host)) {
        return None;
    }
    Some((host.to_owned(), port))
}

/// A host name with an all-numeric last label (`10.0.0.1` is caught by the IP parse above), e.g.
/// `svc-1`: any name of DNS characters.
fn is_dns_like(host: &str) -> bool {
    host.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// The SNI an outbound route sends: `serverName` when set; else the upstream host when it is a
/// DNS name; else, for an Istio-form ID, linkerd's identity name
/// `SA.NS.serviceaccount.identity.TD`; else the trust domain. A ClientHello without SNI is not
/// TLS to linkerd's detection, so an IP upstream still gets a name.
#[must_use]
pub fn server_name(host: &str, identity: Option<&SpiffeId>, configured: Option<&str>) -> String {
    if let Some(n) = configured {
        return n.to_owned();
    }
    if detect::is_dns_name(host) {
        return host.trim_end_matches('.').to_ascii_lowercase();
    }
    let Some(id) = identity else { return host.to_owned() };
    let td = id.trust_domain();
    if let Some((ns, sa)) = id.istio_service_account() {
        let name = format!("{sa}.{ns}.serviceaccount.identity.{}", td.name()).to_ascii_lowercase();
        if detect::is_dns_name(&name) {
            return name;
        }
    }
    td.name().to_owned()
}

impl Config {
    /// Parses and validates the proxy's configuration; relative paths are resolved against `base`.
    ///
    /// # Errors
    /// `file:line:column: message` for syntax errors, unknown or mistyped fields and invalid values.
    pub fn parse(file: &str, text: &str, base: &Path) -> Result<Self, ConfigError> {
        let err = |pos: Option<Pos>, message: String| ConfigError { file: file.to_owned(), pos, message };
        let docs = yaml::parse_documents(text);
        let doc = docs.into_iter().find(|d| !matches!(d.root, Ok(None)));
        if let Some(w) = doc.as_ref().and_then(|d| d.warnings.iter().find(|w| w.code == "duplicate-key")) {
            return Err(err(Some(w.pos), w.message.clone()));
        }
        let root = match doc.map(|d| d.root) {
            None | Some(Ok(None)) => return Err(err(None, "empty configuration".to_owned())),
            Some(Err(e)) => return Err(err(Some(e.pos), e.message)),
            Some(Ok(Some(root))) => root,
        };
        let f: File = serde_path_to_error::deserialize(root.to_json()).map_err(|e| {
            let pointer = kguard_model::pod::path_to_pointer(e.path());
            let field = if pointer.is_empty() { String::new() } else { format!(" (at {})", e.path()) };
            err(Some(root.locate(&pointer)), format!("{}{field}", e.inner()))
        })?;
        let at = |pointer: &str, message: String| err(Some(root.locate(pointer)), message);
        if f.api_version != API_VERSION || f.kind != KIND {
            return Err(at(
                "/kind",
                format!("expected apiVersion {API_VERSION} and kind {KIND}, found {} {}", f.api_version, f.kind),
            ));
        }
        let trust_domain = TrustDomain::parse(&f.identity.trust_domain)
            .map_err(|e| at("/identity/trustDomain", format!("identity.trustDomain: {e}")))?;
        if f.inbound.is_empty() && f.outbound.is_empty() {
            return Err(at("", "nothing to proxy: no inbound port and no outbound route".to_owned()));
        }
        let mut listens: Vec<(SocketAddr, String)> = vec![(f.admin.listen, "admin.listen".to_owned())];
        let mut taken = |addr: SocketAddr, pointer: String, name: String| -> Result<(), ConfigError> {
            if addr.port() != 0
                && let Some((_, first)) = listens.iter().find(|(a, _)| {
                    a.port() == addr.port()
                        && (a.ip() == addr.ip() || a.ip().is_unspecified() || addr.ip().is_unspecified())
                })
            {
                return Err(at(&pointer, format!("{addr} is already the address of {first}")));
            }
            listens.push((addr, name));
            Ok(())
        };
        let mut inbound = Vec::new();
        for (i, p) in f.inbound.iter().enumerate() {
            let listen = SocketAddr::new(p.address, p.port);
            taken(listen, format!("/inbound/{i}/port"), format!("inbound[{i}]"))?;
            if p.app_port == 0 {
                return Err(at(&format!("/inbound/{i}/appPort"), "inbound.appPort must be a port 1-65535".to_owned()));
            }
            if p.app_port == p.port && (p.address.is_loopback() || p.address.is_unspecified()) {
                return Err(at(
                    &format!("/inbound/{i}/appPort"),
                    format!(
                        "inbound.appPort {} is the proxy's own port: the proxy would connect to itself",
                        p.app_port
                    ),
                ));
            }
            if p.mode == PortMode::Disable && !p.allow.is_empty() {
                return Err(at(
                    &format!("/inbound/{i}/allow"),
                    "inbound.allow on a DISABLE port: plaintext clients have no identity to allow".to_owned(),
                ));
            }
            let mut allow = Vec::new();
            for (j, a) in p.allow.iter().enumerate() {
                let pointer = format!("/inbound/{i}/allow/{j}");
                let id = SpiffeId::parse(a).map_err(|e| at(&pointer, format!("{a:?}: {e}")))?;
                if id.trust_domain() != trust_domain {
                    return Err(at(
                        &pointer,
                        format!("{a} never matches: clients must be in the trust domain {trust_domain}"),
                    ));
                }
                allow.push(id);
            }
            inbound.push(Inbound { listen, app_port: p.app_port, mode: p.mode, allow });
        }
        let mut outbound = Vec::new();
        for (i, r) in f.outbound.iter().enumerate() {
            taken(r.listen, format!("/outbound/{i}/listen"), format!("outbound[{i}]"))?;
            let (host, port) = host_port(&r.to).ok_or_else(|| {
                at(&format!("/outbound/{i}/to"), format!("outbound.to: expected host:port, found {:?}", r.to))
            })?;
            let identity = match (&r.identity, r.plaintext) {
                (Some(_), true) => {
                    return Err(at(
                        &format!("/outbound/{i}/plaintext"),
                        "outbound: plaintext and identity exclude each other (a plaintext upstream proves no identity)"
                            .to_owned(),
                    ));
                }
                (None, false) => {
                    return Err(at(
                        &format!("/outbound/{i}"),
                        "outbound: identity (the upstream's SPIFFE ID) is required unless plaintext: true".to_owned(),
                    ));
                }
                (None, true) => None,
                (Some(s), false) => Some(
                    SpiffeId::parse(s).map_err(|e| at(&format!("/outbound/{i}/identity"), format!("{s:?}: {e}")))?,
                ),
            };
            if let Some(n) = &r.server_name
                && !detect::is_dns_name(n)
            {
                return Err(at(
                    &format!("/outbound/{i}/serverName"),
                    format!(
                        "outbound.serverName {n:?} is not a DNS name (a PERMISSIVE port would take the hello for plaintext)"
                    ),
                ));
            }
            let server_name = server_name(&host, identity.as_ref(), r.server_name.as_deref());
            outbound.push(Outbound { listen: r.listen, host, port, identity, server_name });
        }
        let t = &f.timeouts;
        for (name, v) in [
            ("detectSeconds", t.detect_seconds),
            ("handshakeSeconds", t.handshake_seconds),
            ("connectSeconds", t.connect_seconds),
            ("idleSeconds", t.idle_seconds),
        ] {
            if v == 0 {
                return Err(at(&format!("/timeouts/{name}"), format!("timeouts.{name} must be positive")));
            }
        }
        let l = &f.limits;
        if l.max_connections == 0 {
            return Err(at("/limits/maxConnections", "limits.maxConnections must be positive".to_owned()));
        }
        if !(1024..=1 << 20).contains(&l.buffer_bytes) {
            return Err(at(
                "/limits/bufferBytes",
                format!("limits.bufferBytes must be 1024-1048576, found {}", l.buffer_bytes),
            ));
        }
        if !(detect::PEEK_SIZE..=64 * 1024).contains(&l.detect_bytes) {
            return Err(at(
                "/limits/detectBytes",
                format!("limits.detectBytes must be {}-65536, found {}", detect::PEEK_SIZE, l.detect_bytes),
            ));
        }
        let fix = |p: &PathBuf| if p.is_relative() { base.join(p) } else { p.clone() };
        let identity = Identity {
            cert: fix(&f.identity.cert),
            key: fix(&f.identity.key),
            bundle: fix(&f.identity.bundle),
            trust_domain,
        };
        Ok(Self {
            identity,
            inbound,
            outbound,
            admin: f.admin,
            timeouts: f.timeouts,
            limits: f.limits,
            reload_interval_seconds: f.reload_interval_seconds,
            shutdown_grace_seconds: f.shutdown_grace_seconds,
        })
    }
}

/// Why a connection is refused (or, for [`Denial::Handshake`], failed): [`Denial::reason`] is
/// the metric label, the `Display` text the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// Not a TLS ClientHello on a STRICT port.
    PlaintextRefused,
    /// No detection answer within the timeout (slowloris, garbage that looks like a record).
    DetectTimeout,
    /// The TLS handshake failed (reason as classified by the TLS stack).
    Handshake(String),
    /// The client's certificate chains to the bundle but is no X.509-SVID.
    NotSvid(String),
    /// The client's SPIFFE ID is in another trust domain.
    ForeignTrustDomain(SpiffeId),
    /// The client's SPIFFE ID is not in the port's allow-list.
    NotAllowed(SpiffeId),
    /// The upstream's SVID names another identity than the route expects.
    WrongIdentity {
        /// The route's identity.
        expected: SpiffeId,
        /// What the upstream's certificate says (or why it says nothing usable).
        found: String,
    },
}

impl Denial {
    /// The metric label.
    #[must_use]
    pub fn reason(&self) -> &str {
        match self {
            Self::PlaintextRefused => "plaintext_refused",
            Self::DetectTimeout => "detect_timeout",
            Self::Handshake(r) => r,
            Self::NotSvid(_) => "not_svid",
            Self::ForeignTrustDomain(_) => "foreign_trust_domain",
            Self::NotAllowed(_) => "not_allowed",
            Self::WrongIdentity { .. } => "wrong_identity",
        }
    }
}

impl std::fmt::Display for Denial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PlaintextRefused => f.write_str("plaintext on a STRICT port (no TLS ClientHello)"),
            Self::DetectTimeout => f.write_str("no protocol detected within the detection timeout"),
            Self::Handshake(r) => write!(f, "TLS handshake failed: {r}"),
            Self::NotSvid(e) => write!(f, "the client certificate is not an X.509-SVID: {e}"),
            Self::ForeignTrustDomain(id) => write!(f, "{id} is not in this trust domain"),
            Self::NotAllowed(id) => write!(f, "{id} is not in the port's allow-list"),
            Self::WrongIdentity { expected, found } => write!(f, "upstream is {found}, expected {expected}"),
        }
    }
}

impl std::error::Error for Denial {}

/// Checks the proxy's own certificate (DER leaf) at load: an X.509-SVID leaf in `trust_domain`,
/// valid at `now` (Unix seconds). Returns its SPIFFE ID and `notAfter`.
///
/// # Errors
/// A sentence saying what is wrong.
pub fn own_svid(leaf: &[u8], trust_domain: &TrustDomain, now: i64) -> Result<(SpiffeId, i64), String> {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let id = match svid::validate_cert(&cert, Role::Leaf) {
        Ok(Some(id)) => id,
        Ok(None) => return Err("not an X.509-SVID: no SPIFFE ID".to_owned()),
        Err(e) => return Err(format!("not an X.509-SVID: {e}")),
    };
    if id.trust_domain() != *trust_domain {
        return Err(format!("{id} is not in the trust domain {trust_domain}"));
    }
    let v = cert.validity();
    let (from, until) = (v.not_before.timestamp(), v.not_after.timestamp());
    if now < from {
        return Err(format!("not valid before {} (Unix {from})", v.not_before));
    }
    if now > until {
        return Err(format!("expired at {} (Unix {until})", v.not_after));
    }
    Ok((id, until))
}

/// Checks one certificate of the trust bundle (DER): an X.509-SVID signing certificate.
///
/// # Errors
/// Why it is not one.
pub fn bundle_cert(der: &[u8]) -> Result<Option<SpiffeId>, String> {
    svid::validate(der, Role::Signing).map_err(|e| format!("not an X.509-SVID signing certificate: {e}"))
}

/// How an accepted inbound connection is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Terminate mTLS, then forward the decrypted stream.
    Tls,
    /// Forward the bytes as they are.
    Plaintext,
}

/// Whether the bytes start a TLS handshake record (`0x16 0x03`): a ClientHello without SNI,
/// which linkerd's detection calls plaintext but Envoy's `tls_inspector` (Istio) calls TLS.
#[must_use]
pub fn is_tls_record(bytes: &[u8]) -> bool {
    matches!(bytes, [0x16, 0x03, ..])
}

/// What a port does with a connection: `detected` is the detector's answer
/// ([`Detected::Tls`] or [`Detected::Plaintext`]; [`Detected::NeedMore`] means the detection
/// timeout passed), `bytes` what it read. DISABLE forwards everything (it does not detect); a
/// TLS record without SNI is TLS (as Istio's `tls_inspector`), not plaintext.
///
/// # Errors
/// Plaintext on a STRICT port, or no answer within the timeout.
pub fn route(mode: PortMode, detected: &Detected, bytes: &[u8]) -> Result<Route, Denial> {
    match (mode, detected) {
        (PortMode::Disable, _) => Ok(Route::Plaintext),
        (_, Detected::NeedMore) => Err(Denial::DetectTimeout),
        (_, Detected::Tls(_)) => Ok(Route::Tls),
        (_, Detected::Plaintext) if is_tls_record(bytes) => Ok(Route::Tls),
        (PortMode::Strict, Detected::Plaintext) => Err(Denial::PlaintextRefused),
        (PortMode::Permissive, Detected::Plaintext) => Ok(Route::Plaintext),
    }
}

/// Whether a client whose certificate chain the TLS stack verified against the bundle may use
/// the port: its leaf (DER) must be an X.509-SVID in `trust_domain`, and in `allow` when that is
/// not empty. Returns the client's SPIFFE ID.
///
/// # Errors
/// The first rule the client breaks.
pub fn authorize(trust_domain: &TrustDomain, allow: &[SpiffeId], leaf: &[u8]) -> Result<SpiffeId, Denial> {
    let id = match svid::validate(leaf, Role::Leaf) {
        Ok(Some(id)) => id,
        Ok(None) => return Err(Denial::NotSvid("no SPIFFE ID".to_owned())),
        Err(e) => return Err(Denial::NotSvid(e.to_string())),
    };
    if id.trust_domain() != *trust_domain {
        return Err(Denial::ForeignTrustDomain(id));
    }
    if !allow.is_empty() && !allow.contains(&id) {
        return Err(Denial::NotAllowed(id));
    }
    Ok(id)
}

/// Whether the upstream's leaf certificate (DER, its chain already verified) is an X.509-SVID
/// naming `expected`.
///
/// # Errors
/// [`Denial::WrongIdentity`] with what the certificate names instead.
pub fn check_peer(expected: &SpiffeId, leaf: &[u8]) -> Result<(), Denial> {
    match svid::validate(leaf, Role::Leaf) {
        Ok(Some(id)) if id == *expected => Ok(()),
        Ok(Some(id)) => Err(Denial::WrongIdentity { expected: expected.clone(), found: id.to_string() }),
        Ok(None) => Err(Denial::WrongIdentity { expected: expected.clone(), found: "no SPIFFE ID".to_owned() }),
        Err(e) => Err(Denial::WrongIdentity { expected: expected.clone(), found: format!("not an X.509-SVID ({e})") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "apiVersion: kguard.io/v1alpha1\nkind: MeshProxyConfig\nidentity: {cert: svid.crt, key: svid.key, bundle: ca.crt}\n";

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::parse("proxy.yaml", &format!("{MINIMAL}{extra}"), Path::new("/etc/kguard"))
    }

    #[test]
    fn a_full_configuration() {
        let c = parse(
            "inbound:\n- {port: 15006, appPort: 8080, mode: STRICT, allow: [spiffe://cluster.local/ns/shop/sa/web]}\n\
             - {port: 15007, address: 127.0.0.1, appPort: 9090, mode: PERMISSIVE}\n\
             outbound:\n- {listen: 127.0.0.1:15001, to: api.shop:15006, identity: spiffe://cluster.local/ns/shop/sa/api}\n\
             - {listen: 127.0.0.1:15002, to: '10.0.0.1:15006', identity: spiffe://cluster.local/ns/shop/sa/db}\n\
             - {listen: 127.0.0.1:15003, to: '[::1]:80', plaintext: true}\n\
             timeouts: {detectSeconds: 1}\n",
        )
        .unwrap();
        assert_eq!(c.identity.cert, Path::new("/etc/kguard/svid.crt"));
        assert_eq!(c.identity.trust_domain.name(), "cluster.local");
        assert_eq!(c.inbound[0].listen, "0.0.0.0:15006".parse().unwrap());
        assert_eq!(c.inbound[0].allow[0].as_str(), "spiffe://cluster.local/ns/shop/sa/web");
        assert_eq!(c.inbound[1].mode, PortMode::Permissive);
        assert_eq!((c.outbound[0].host.as_str(), c.outbound[0].port), ("api.shop", 15006));
        assert_eq!(c.outbound[0].server_name, "api.shop");
        assert_eq!(c.outbound[1].server_name, "db.shop.serviceaccount.identity.cluster.local");
        assert_eq!((c.outbound[2].to(), c.outbound[2].identity.as_ref()), ("[::1]:80".to_owned(), None));
        assert_eq!((c.timeouts.detect_seconds, c.timeouts.idle_seconds), (1, 300));
        assert_eq!(c.admin.listen, "127.0.0.1:15020".parse().unwrap());
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = |extra: &str| parse(extra).unwrap_err().to_string();
        assert_eq!(e(""), "proxy.yaml:1:1: nothing to proxy: no inbound port and no outbound route");
        assert!(
            e("inbound:\n- {port: 1, appPort: 2, mode: LAX}\n").starts_with("proxy.yaml:5:25: unknown variant `LAX`")
        );
        assert!(
            e("inbound:\n- port: 1\n  appPort: 2\n  mode: STRICT\n  alow: []\n")
                .starts_with("proxy.yaml:8:3: unknown field `alow`")
        );
        assert_eq!(
            e("inbound:\n- port: 1\n  appPort: 2\n  mode: STRICT\n  allow:\n  - spiffe://example.org/ns/a/sa/b\n"),
            "proxy.yaml:9:5: spiffe://example.org/ns/a/sa/b never matches: clients must be in the trust domain cluster.local"
        );
        assert_eq!(
            e("inbound:\n- {port: 1, appPort: 2, mode: DISABLE, allow: [spiffe://cluster.local/a]}\n"),
            "proxy.yaml:5:40: inbound.allow on a DISABLE port: plaintext clients have no identity to allow"
        );
        assert_eq!(
            e("outbound:\n- listen: 127.0.0.1:1\n  to: a:1\n"),
            "proxy.yaml:5:3: outbound: identity (the upstream's SPIFFE ID) is required unless plaintext: true"
        );
        assert!(
            e("outbound:\n- listen: 127.0.0.1:1\n  to: a\n  plaintext: true\n")
                .starts_with("proxy.yaml:6:3: outbound.to: expected host:port")
        );
        assert!(
            e("outbound:\n- {listen: 127.0.0.1:15020, to: a:1, plaintext: true}\n")
                .starts_with("proxy.yaml:5:4: 127.0.0.1:15020 is already the address of admin.listen")
        );
        assert!(
            e("inbound:\n- {port: 1, appPort: 2, mode: STRICT}\n- {port: 1, appPort: 3, mode: STRICT}\n")
                .starts_with("proxy.yaml:6:4: 0.0.0.0:1 is already the address of inbound[0]")
        );
        assert!(
            e("inbound:\n- {port: 1, appPort: 2, mode: STRICT}\ntimeouts: {idleSeconds: 0}\n")
                .contains("timeouts.idleSeconds must be positive")
        );
        let k = Config::parse(
            "p.yaml",
            "apiVersion: v1\nkind: Pod\nidentity: {cert: a, key: b, bundle: c}\n",
            Path::new("/"),
        );
        assert_eq!(
            k.unwrap_err().to_string(),
            "p.yaml:2:1: expected apiVersion kguard.io/v1alpha1 and kind MeshProxyConfig, found v1 Pod"
        );
        assert!(Config::parse("p.yaml", "", Path::new("/")).unwrap_err().to_string().contains("empty configuration"));
        assert!(Config::parse("p.yaml", "a: [\n", Path::new("/")).unwrap_err().to_string().starts_with("p.yaml:"));
        assert!(e("identity: {cert: a, key: b, bundle: c}\n").contains("duplicate"));
    }

    #[test]
    fn routes_by_mode_and_detection() {
        let hello = Detected::Tls("a.b".to_owned());
        let plain = Detected::Plaintext;
        assert_eq!(route(PortMode::Strict, &hello, b"\x16\x03\x01"), Ok(Route::Tls));
        assert_eq!(route(PortMode::Strict, &plain, b"GET / HTTP/1.1"), Err(Denial::PlaintextRefused));
        assert_eq!(route(PortMode::Strict, &plain, b"\x16\x03\x01\x00\x05"), Ok(Route::Tls));
        assert_eq!(route(PortMode::Permissive, &plain, b"GET /"), Ok(Route::Plaintext));
        assert_eq!(route(PortMode::Permissive, &hello, b""), Ok(Route::Tls));
        assert_eq!(route(PortMode::Permissive, &Detected::NeedMore, b"\x16"), Err(Denial::DetectTimeout));
        assert_eq!(route(PortMode::Disable, &Detected::NeedMore, b""), Ok(Route::Plaintext));
        assert_eq!(Denial::PlaintextRefused.reason(), "plaintext_refused");
    }

    #[test]
    fn identities_are_checked_against_the_trust_domain_and_allow_list() {
        let td = TrustDomain::parse("cluster.local").unwrap();
        let (ca, _) = crate::ca::MeshCa::create(&td, 1_800_000_000, 1).unwrap();
        let web = SpiffeId::parse("spiffe://cluster.local/ns/shop/sa/web").unwrap();
        let api = SpiffeId::parse("spiffe://cluster.local/ns/shop/sa/api").unwrap();
        let der = |pem: &str| x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents;
        let leaf = der(&ca.issue(&web, 1_800_000_000, 1).unwrap().cert);
        assert_eq!(authorize(&td, &[], &leaf), Ok(web.clone()));
        assert_eq!(authorize(&td, std::slice::from_ref(&web), &leaf), Ok(web.clone()));
        assert_eq!(authorize(&td, std::slice::from_ref(&api), &leaf), Err(Denial::NotAllowed(web.clone())));
        let other = TrustDomain::parse("example.org").unwrap();
        assert_eq!(authorize(&other, &[], &leaf), Err(Denial::ForeignTrustDomain(web.clone())));
        assert!(matches!(authorize(&td, &[], b"junk"), Err(Denial::NotSvid(_))));
        assert_eq!(check_peer(&web, &leaf), Ok(()));
        let e = check_peer(&api, &leaf).unwrap_err();
        assert_eq!(
            e.to_string(),
            "upstream is spiffe://cluster.local/ns/shop/sa/web, expected spiffe://cluster.local/ns/shop/sa/api"
        );
        assert_eq!(e.reason(), "wrong_identity");
    }

    #[test]
    fn own_svid_is_checked_at_load() {
        let td = TrustDomain::parse("cluster.local").unwrap();
        let (ca, ca_pem) = crate::ca::MeshCa::create(&td, 1_800_000_000, 10).unwrap();
        let der = |pem: &str| x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents;
        let id = SpiffeId::parse("spiffe://cluster.local/ns/a/sa/b").unwrap();
        let leaf = der(&ca.issue(&id, 1_800_000_000, 1).unwrap().cert);
        assert_eq!(own_svid(&leaf, &td, 1_800_000_100), Ok((id, 1_800_086_400)));
        assert!(own_svid(&leaf, &td, 1_900_000_000).unwrap_err().starts_with("expired at"));
        let other = TrustDomain::parse("example.org").unwrap();
        assert!(own_svid(&leaf, &other, 1_800_000_100).unwrap_err().contains("not in the trust domain example.org"));
        assert!(own_svid(&der(&ca_pem.cert), &td, 1_800_000_100).unwrap_err().contains("non-root path"));
        assert!(bundle_cert(&der(&ca_pem.cert)).is_ok() && bundle_cert(&leaf).is_err());
    }

    #[test]
    fn the_documented_configuration_parses() {
        let root = kguard_testkit::repo_root();
        let fixture = std::fs::read_to_string(root.join("tests/fixtures/mesh/proxy.yaml")).unwrap();
        let docs = std::fs::read_to_string(root.join("docs/mesh.md")).unwrap();
        let body = fixture.split_once('\n').unwrap().1;
        assert!(
            docs.contains(&format!("```yaml\n{body}```")),
            "docs/mesh.md and tests/fixtures/mesh/proxy.yaml differ"
        );
        let c = Config::parse("proxy.yaml", &fixture, Path::new("/etc/kguard")).unwrap();
        assert_eq!((c.inbound.len(), c.outbound.len()), (2, 2));
        assert_eq!(c.inbound[0].allow.len(), 1);
        assert_eq!(c.outbound[0].server_name, "db.shop.svc.cluster.local");
        assert_eq!(c.outbound[1].identity, None);
        assert_eq!(c.identity.bundle, Path::new("/etc/kguard/mesh-pki/ca.crt"));
    }

    #[test]
    fn server_names() {
        let id = SpiffeId::parse("spiffe://cluster.local/ns/shop/sa/api").unwrap();
        assert_eq!(server_name("Api.Shop.", Some(&id), None), "api.shop");
        assert_eq!(server_name("10.1.2.3", Some(&id), None), "api.shop.serviceaccount.identity.cluster.local");
        assert_eq!(server_name("10.1.2.3", Some(&SpiffeId::parse("spiffe://td.x/job").unwrap()), None), "td.x");
        assert_eq!(server_name("10.1.2.3", Some(&id), Some("x.y")), "x.y");
    }
}
