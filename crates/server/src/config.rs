//! `kguard.yaml`: the server's one configuration file (documented in `docs/serve.md`).
//!
//! It reuses kube-apiserver's own file formats where they exist: the token file
//! (`--token-auth-file`), the ABAC policy (`--authorization-policy-file`), the
//! `PodSecurityConfiguration`/`AdmissionConfiguration`, Falco rules files. Relative paths are
//! resolved against the directory of `kguard.yaml`. Unknown fields are errors, named with their
//! line and column.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use kguard_model::yaml::{self, YamlNode};

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// `kguard.io/v1alpha1`.
    pub api_version: String,
    /// `ServerConfig`.
    pub kind: String,
    /// HTTPS address of the webhooks (default: `$POD_IP:8443` when the `POD_IP` environment
    /// variable holds an address, as the deploy manifest sets it from the downward API;
    /// `127.0.0.1:8443` otherwise). Never all interfaces unless written explicitly.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Plain-HTTP address of `/healthz`, `/readyz`, `/metrics` (default `127.0.0.1:8080`).
    #[serde(default = "default_health_listen")]
    pub health_listen: SocketAddr,
    /// TLS.
    pub tls: Tls,
    /// Request limits.
    #[serde(default)]
    pub limits: Limits,
    /// What an internal evaluation error answers: `Fail` (deny, default) or `Ignore` (allow).
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// Where the cluster objects come from.
    #[serde(default)]
    pub state: State,
    /// Admission policies.
    #[serde(default)]
    pub admission: Admission,
    /// TokenReview.
    #[serde(default)]
    pub authentication: Authentication,
    /// SubjectAccessReview.
    #[serde(default)]
    pub authorization: Authorization,
    /// The audit webhook backend.
    #[serde(default)]
    pub audit: Audit,
    /// Seconds between checks of the config, certificate and state files for changes (0: never).
    #[serde(default = "default_reload")]
    pub reload_interval_seconds: u64,
    /// Seconds between SIGTERM/SIGINT and closing the listener: `/readyz` answers 503 while the
    /// webhooks keep serving, so load balancers and endpoints stop routing here first (default 5).
    #[serde(default = "default_shutdown_delay")]
    pub shutdown_delay_seconds: u64,
    /// Seconds to wait for in-flight requests once the listener is closed.
    #[serde(default = "default_grace")]
    pub shutdown_grace_seconds: u64,
}

/// The webhooks' default address: the pod's own IP (`POD_IP`) or loopback.
fn default_listen() -> SocketAddr {
    let ip = std::env::var("POD_IP")
        .ok()
        .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    SocketAddr::new(ip, 8443)
}
const fn default_shutdown_delay() -> u64 {
    5
}
fn default_health_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
const fn default_reload() -> u64 {
    5
}
const fn default_grace() -> u64 {
    25
}
const fn yes() -> bool {
    true
}

/// TLS settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tls {
    /// Serving certificate chain (PEM).
    pub cert_file: PathBuf,
    /// Its private key (PEM).
    pub key_file: PathBuf,
    /// CA bundle for client certificates; when set, clients must present one (kube-apiserver
    /// authenticates to webhooks with the client certificate of its webhook kubeconfig).
    #[serde(rename = "clientCAFile")]
    pub client_ca_file: Option<PathBuf>,
    /// `"1.2"` (default) or `"1.3"`.
    #[serde(default = "default_tls_version")]
    pub min_version: String,
    /// Endpoints served to clients without a verified certificate, among `audit`,
    /// `authenticate` and `authorize` (default: none). Without `clientCAFile` no client has one,
    /// so these endpoints refuse every request unless listed here: a forged audit event or a
    /// probe of the authorizer needs a certificate. The admission endpoints and the image review
    /// do not need one (their answers reveal nothing and change nothing).
    #[serde(default)]
    pub allow_unauthenticated: Vec<String>,
}

/// The endpoints that need an authenticated client unless `tls.allowUnauthenticated` lists them.
pub const AUTHENTICATED_ENDPOINTS: [&str; 3] = ["audit", "authenticate", "authorize"];

fn default_tls_version() -> String {
    "1.2".to_owned()
}

/// Request limits: every phase of a connection is time-bound, and what a client can hold is
/// bounded per client and in total.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Largest request body (default 3 MiB, kube-apiserver's own request limit); larger → 413.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Request bodies held in memory at once, all connections together (default 64 MiB); a
    /// request that would exceed it waits for room (within its body timeout), then gets 429.
    #[serde(default = "default_buffered")]
    pub max_buffered_body_bytes: usize,
    /// Time to complete the TLS handshake (default 5 s).
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_seconds: u64,
    /// Time after the handshake to start a first request, and to receive a request's headers
    /// once it has started (default 10 s).
    #[serde(default = "default_header_timeout")]
    pub header_timeout_seconds: u64,
    /// Time to read a request body (default 10 s).
    #[serde(default = "default_body_timeout")]
    pub body_timeout_seconds: u64,
    /// A connection with no request in flight for this long is closed (default 90 s).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u64,
    /// Requests whose body has been read, waiting for or in evaluation (default 1024); more get
    /// 429. A request counts only once its body is read, so slow senders hold no slot.
    #[serde(default = "default_concurrency")]
    pub max_concurrent_requests: usize,
    /// Threads that evaluate requests, off the connection threads (default: the number of CPUs).
    #[serde(default)]
    pub evaluation_threads: Option<usize>,
    /// Requests with a larger body are evaluated one at a time on a thread of their own, so that
    /// they cannot delay ordinary reviews (default 256 KiB).
    #[serde(default = "default_heavy")]
    pub heavy_body_bytes: usize,
    /// Milliseconds a request may wait for an evaluation thread and be evaluated (default 2000;
    /// keep it below the webhook's `timeoutSeconds`). Past it, the request gets the failure
    /// policy's answer.
    #[serde(default = "default_budget")]
    pub evaluation_budget_ms: u64,
    /// Open connections at once (default 4096); more are closed at accept.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
    /// Open connections from one client address (default 256).
    #[serde(default = "default_per_client")]
    pub max_connections_per_client: usize,
    /// HTTP/2 streams in flight on one connection (default 64).
    #[serde(default = "default_streams")]
    pub max_streams_per_connection: u32,
    /// Open connections to the health port (default 32).
    #[serde(default = "default_health_connections")]
    pub max_health_connections: usize,
}

const fn default_body() -> usize {
    3 * 1024 * 1024
}
const fn default_buffered() -> usize {
    64 * 1024 * 1024
}
const fn default_handshake_timeout() -> u64 {
    5
}
const fn default_header_timeout() -> u64 {
    10
}
const fn default_body_timeout() -> u64 {
    10
}
const fn default_idle_timeout() -> u64 {
    90
}
const fn default_concurrency() -> usize {
    1024
}
const fn default_heavy() -> usize {
    256 * 1024
}
const fn default_budget() -> u64 {
    2000
}
const fn default_connections() -> usize {
    4096
}
const fn default_per_client() -> usize {
    256
}
const fn default_streams() -> u32 {
    64
}
const fn default_health_connections() -> usize {
    32
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: default_body(),
            max_buffered_body_bytes: default_buffered(),
            handshake_timeout_seconds: default_handshake_timeout(),
            header_timeout_seconds: default_header_timeout(),
            body_timeout_seconds: default_body_timeout(),
            idle_timeout_seconds: default_idle_timeout(),
            max_concurrent_requests: default_concurrency(),
            evaluation_threads: None,
            heavy_body_bytes: default_heavy(),
            evaluation_budget_ms: default_budget(),
            max_connections: default_connections(),
            max_connections_per_client: default_per_client(),
            max_streams_per_connection: default_streams(),
            max_health_connections: default_health_connections(),
        }
    }
}

impl Limits {
    /// Evaluation threads: the configured number, or the CPUs available.
    #[must_use]
    pub fn evaluation_threads(&self) -> usize {
        self.evaluation_threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from)).max(1)
    }
}

/// Fail closed or open on internal errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum FailurePolicy {
    /// Deny (admission, image review), unauthenticated, no opinion (authorization).
    #[default]
    Fail,
    /// Allow.
    Ignore,
}

/// The cluster objects the engines need, from one of two sources: a directory of manifests
/// (`dir`) or the cluster itself (`cluster`); neither means no objects.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct State {
    /// A directory (or file) of manifests: Namespaces, RBAC, PodSecurityPolicies,
    /// ServiceAccounts, bootstrap-token Secrets, Pods. Reloaded on change. Excludes `cluster`.
    pub dir: Option<PathBuf>,
    /// The objects of a live cluster, listed and watched through its API (kube-rs reflectors),
    /// applied within about a second of a change. Excludes `dir`.
    pub cluster: Option<Cluster>,
    /// Add the default RBAC policy of a v1.36 cluster, those the state does not
    /// define itself (default: true with `dir` or no source, false with `cluster`, which has its
    /// own). See [`State::with_default_rbac`].
    pub default_rbac: Option<bool>,
}

impl State {
    /// Whether the default ClusterRoles and bindings are added (`defaultRbac`, or its default).
    #[must_use]
    pub fn with_default_rbac(&self) -> bool {
        self.default_rbac.unwrap_or(self.cluster.is_none())
    }
}

/// How to reach the cluster of `state.cluster`: the pod's service account (`inCluster: true`), a
/// kubeconfig file, or, with neither, what kubectl would use (`$KUBECONFIG`, then
/// `~/.kube/config`), falling back to the in-cluster configuration. Fixed at start: a reload that
/// changes it fails (restart to change it).
///
/// ```yaml
/// state:
///   cluster: {inCluster: true}
///   # or: cluster: {kubeconfig: /etc/kguard/kubeconfig, context: prod}
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// A kubeconfig file (relative paths resolve against `kguard.yaml`'s directory).
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its `current-context`).
    pub context: Option<String>,
    /// Use the pod's service account token and CA and `KUBERNETES_SERVICE_HOST`/`_PORT`
    /// (default false). Excludes `kubeconfig` and `context`.
    #[serde(default)]
    pub in_cluster: bool,
}

/// Admission policies, each switchable.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Admission {
    /// The PodSecurity plugin.
    #[serde(default)]
    pub pod_security: PodSecurity,
    /// PodSecurityPolicy (policy/v1beta1, from the state).
    #[serde(default)]
    pub pod_security_policy: Toggle,
    /// `kguard scan`'s workload rules.
    #[serde(default)]
    pub hardening: Hardening,
    /// Image policy (also `/imagereview`).
    #[serde(default)]
    pub images: Images,
    /// Secure defaults applied by `/mutate`.
    #[serde(default)]
    pub mutate: Mutate,
    /// Localhost seccomp profiles checked against a profile directory (off when absent).
    pub seccomp: Option<Seccomp>,
    /// Localhost AppArmor profiles checked against the nodes' loaded profiles (off when absent).
    pub apparmor: Option<AppArmor>,
    /// The `kguard mesh proxy` sidecar `/mutate` adds to pods of the namespaces that opt in (off
    /// when absent).
    pub mesh_inject: Option<MeshInject>,
}

/// Injection of the `kguard mesh proxy` native sidecar by `/mutate` (see `docs/mesh.md`).
///
/// ```yaml
/// admission:
///   meshInject:
///     image: ghcr.io/kguard/kguard:0.1.0
///     namespaceLabel: kguard.io/mesh-inject        # the namespace opts in with the value "enabled"
///     configMap: kguard-mesh-{serviceAccount}      # holds proxy.yaml
///     secret: kguard-svid-{serviceAccount}         # holds tls.crt, tls.key, ca.crt
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshInject {
    /// The kguard image the sidecar runs (*required*).
    pub image: String,
    /// `Always`, `IfNotPresent` or `Never` (default: unset, kube-apiserver's default).
    pub image_pull_policy: Option<String>,
    /// The namespace label that opts a namespace in with the value `enabled` (default
    /// `kguard.io/mesh-inject`), read from the namespaces of the state, never from the pod.
    #[serde(default = "default_inject_label")]
    pub namespace_label: String,
    /// The sidecar container's name (default `kguard-mesh-proxy`).
    #[serde(default = "default_inject_name")]
    pub container_name: String,
    /// The ConfigMap with the proxy's `proxy.yaml`; `{serviceAccount}` is the pod's service
    /// account (default `kguard-mesh-{serviceAccount}`).
    #[serde(default = "default_inject_config_map")]
    pub config_map: String,
    /// The Secret with the SVID (`tls.crt`, `tls.key`, `ca.crt`); `{serviceAccount}` as above
    /// (default `kguard-svid-{serviceAccount}`).
    #[serde(default = "default_inject_secret")]
    pub secret: String,
    /// The container's resources (`requests`/`limits` of `cpu` and `memory`).
    #[serde(default)]
    pub resources: InjectResources,
    /// The container's `runAsUser` and `runAsGroup` (default 65532, the image's user).
    #[serde(default = "default_inject_user")]
    pub run_as_user: i64,
}

/// The sidecar's resources.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InjectResources {
    /// `cpu`, `memory` (default `{cpu: 10m, memory: 32Mi}`).
    #[serde(default = "default_inject_requests")]
    pub requests: std::collections::BTreeMap<String, String>,
    /// `cpu`, `memory` (default `{memory: 128Mi}`).
    #[serde(default = "default_inject_limits")]
    pub limits: std::collections::BTreeMap<String, String>,
}

impl Default for InjectResources {
    fn default() -> Self {
        Self { requests: default_inject_requests(), limits: default_inject_limits() }
    }
}

fn default_inject_label() -> String {
    "kguard.io/mesh-inject".to_owned()
}
fn default_inject_name() -> String {
    "kguard-mesh-proxy".to_owned()
}
fn default_inject_config_map() -> String {
    "kguard-mesh-{serviceAccount}".to_owned()
}
fn default_inject_secret() -> String {
    "kguard-svid-{serviceAccount}".to_owned()
}
const fn default_inject_user() -> i64 {
    65532
}
fn default_inject_requests() -> std::collections::BTreeMap<String, String> {
    [("cpu", "10m"), ("memory", "32Mi")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}
fn default_inject_limits() -> std::collections::BTreeMap<String, String> {
    [("memory", "128Mi")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

impl MeshInject {
    /// The admission crate's view.
    #[must_use]
    pub fn sidecar(&self) -> kguard_admission::inject::Sidecar {
        kguard_admission::inject::Sidecar {
            namespace_label: self.namespace_label.clone(),
            container_name: self.container_name.clone(),
            image: self.image.clone(),
            image_pull_policy: self.image_pull_policy.clone(),
            config_map: self.config_map.clone(),
            secret: self.secret.clone(),
            requests: self.resources.requests.clone(),
            limits: self.resources.limits.clone(),
            run_as_user: self.run_as_user,
        }
    }

    /// The first problem: its JSON pointer under `/admission/meshInject` and the message.
    fn problem(&self, has_state: bool) -> Option<(String, String)> {
        let p = |field: &str, m: String| Some((format!("/admission/meshInject{field}"), m));
        if !has_state {
            return p(
                "",
                "admission.meshInject needs state.dir or state.cluster: namespaces opt in by a label kguard must know"
                    .to_owned(),
            );
        }
        if self.image.trim().is_empty() || self.image.chars().any(char::is_whitespace) {
            return p("/image", format!("admission.meshInject.image: not an image reference: {:?}", self.image));
        }
        if let Some(policy) = &self.image_pull_policy
            && !matches!(policy.as_str(), "Always" | "IfNotPresent" | "Never")
        {
            return p(
                "/imagePullPolicy",
                format!(
                    "admission.meshInject.imagePullPolicy: expected Always, IfNotPresent or Never, found {policy:?}"
                ),
            );
        }
        if !qualified_name(&self.namespace_label) {
            return p(
                "/namespaceLabel",
                format!("admission.meshInject.namespaceLabel: not a label key: {:?}", self.namespace_label),
            );
        }
        if !dns_label(&self.container_name) {
            return p(
                "/containerName",
                format!(
                    "admission.meshInject.containerName: not a container name (a DNS label: lowercase letters, digits, '-', at most 63): {:?}",
                    self.container_name
                ),
            );
        }
        for (field, template) in [("configMap", &self.config_map), ("secret", &self.secret)] {
            // Checked with the service account `default` in place of the placeholder.
            let sample = template.replace(kguard_admission::inject::SERVICE_ACCOUNT_PLACEHOLDER, "default");
            if !dns_subdomain(&sample) || sample.contains(['{', '}']) {
                return p(
                    &format!("/{field}"),
                    format!(
                        "admission.meshInject.{field}: {template:?} does not make an object name (a DNS subdomain; {{serviceAccount}} is the only placeholder)"
                    ),
                );
            }
        }
        if self.run_as_user <= 0 {
            return p(
                "/runAsUser",
                format!("admission.meshInject.runAsUser must be positive (non-root), found {}", self.run_as_user),
            );
        }
        for (which, map) in [("requests", &self.resources.requests), ("limits", &self.resources.limits)] {
            for (k, v) in map {
                if !matches!(k.as_str(), "cpu" | "memory") {
                    return p(
                        &format!("/resources/{which}/{k}"),
                        format!("admission.meshInject.resources.{which}: expected cpu or memory, found {k:?}"),
                    );
                }
                if !quantity(v) {
                    return p(
                        &format!("/resources/{which}/{k}"),
                        format!("admission.meshInject.resources.{which}.{k}: not a Kubernetes quantity: {v:?}"),
                    );
                }
            }
        }
        None
    }
}

/// A DNS-1123 label.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain.
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters
/// (alphanumerics, `-`, `_`, `.`, beginning and ending alphanumeric).
fn qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    name_ok && prefix.is_none_or(dns_subdomain)
}

/// A Kubernetes resource quantity (`resource.ParseQuantity`'s grammar, without signs).
fn quantity(s: &str) -> bool {
    let digits_end = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit());
    let suffix_ok = matches!(
        suffix,
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
    number_ok && suffix_ok
}

/// Pods whose Localhost AppArmor profile the nodes have not loaded (or have loaded in complain
/// or unconfined mode) are denied.
///
/// ```yaml
/// admission:
///   apparmor: {profiles: /etc/kguard/apparmor-profiles, denyNotEnforced: true}
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppArmor {
    /// The nodes' profiles: a copy of a node's `/sys/kernel/security/apparmor/profiles`
    /// (`name (mode)` a line), or a directory of the profile sources every node loads (as
    /// `/etc/apparmor.d`, parsed). Read at start and at every reload.
    pub profiles: PathBuf,
    /// Deny pods whose profile is loaded in complain or unconfined mode (default true; false:
    /// allowed with a warning).
    #[serde(default = "yes")]
    pub deny_not_enforced: bool,
    /// Namespaces never reviewed.
    #[serde(default)]
    pub exempt_namespaces: Vec<String>,
}

/// Pods whose Localhost seccomp profile is not in a node's profile directory (or does not
/// parse or build, or, when asked, is weaker than RuntimeDefault) are denied.
///
/// ```yaml
/// admission:
///   seccomp: {profileDir: /var/lib/kubelet/seccomp, denyWeakerThanRuntimeDefault: true}
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Seccomp {
    /// The profile directory: the kubelet's `<root-dir>/seccomp` (mounted from the node), or
    /// the same set of files from elsewhere (a ConfigMap volume). Read at start and at every
    /// reload; `localhostProfile` is resolved against it.
    pub profile_dir: PathBuf,
    /// Deny pods whose profile is weaker than RuntimeDefault (default false: allowed with a
    /// warning).
    #[serde(default)]
    pub deny_weaker_than_runtime_default: bool,
    /// The nodes' architecture, which profiles are built and compared for (default: the
    /// server's).
    pub architecture: Option<String>,
    /// Namespaces never reviewed.
    #[serde(default)]
    pub exempt_namespaces: Vec<String>,
}

impl Seccomp {
    /// The architecture (`architecture`, else this machine's); validated by [`Config::parse`].
    #[must_use]
    pub fn arch(&self) -> Option<kguard_seccomp::Arch> {
        match &self.architecture {
            Some(a) => kguard_seccomp::Arch::parse(a),
            None => kguard_seccomp::Arch::native(),
        }
    }
}

/// On/off.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toggle {
    /// Enabled.
    #[serde(default)]
    pub enabled: bool,
}

/// The PodSecurity plugin.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSecurity {
    /// Enabled (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A `PodSecurityConfiguration` or an `AdmissionConfiguration` with a `PodSecurity` plugin
    /// (defaults and exemptions); without it, upstream's defaults (privileged everywhere).
    pub config_file: Option<PathBuf>,
}

impl Default for PodSecurity {
    fn default() -> Self {
        Self { enabled: true, config_file: None }
    }
}

/// Hardening rules.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Hardening {
    /// Enabled (default false).
    #[serde(default)]
    pub enabled: bool,
    /// Findings at or above this severity count (default `critical`).
    #[serde(default = "default_severity")]
    pub min_severity: String,
    /// `deny` (default) or `warn`.
    #[serde(default = "default_action")]
    pub action: String,
    /// Rules never applied (ids, names or aliases).
    #[serde(default)]
    pub ignore: Vec<String>,
}

fn default_severity() -> String {
    "critical".to_owned()
}
fn default_action() -> String {
    "deny".to_owned()
}

impl Default for Hardening {
    fn default() -> Self {
        Self { enabled: false, min_severity: default_severity(), action: default_action(), ignore: Vec::new() }
    }
}

/// Image policy.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Images {
    /// Enabled in `/validate` (default false; `/imagereview` always applies it).
    #[serde(default)]
    pub enabled: bool,
    /// Allowed registries or repository prefixes; empty: any.
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// Deny `:latest` and untagged images.
    #[serde(default)]
    pub forbid_latest: bool,
    /// Require `@sha256:` digests.
    #[serde(default)]
    pub require_digest: bool,
    /// Namespaces exempt from the image policy.
    #[serde(default)]
    pub exempt_namespaces: Vec<String>,
}

/// Secure defaults (all off by default).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mutate {
    /// Pod `seccompProfile: RuntimeDefault`.
    #[serde(default)]
    pub seccomp_runtime_default: bool,
    /// `capabilities.drop: [ALL]`.
    #[serde(default)]
    pub drop_all_capabilities: bool,
    /// `allowPrivilegeEscalation: false`.
    #[serde(default)]
    pub disallow_privilege_escalation: bool,
    /// Pod `runAsNonRoot: true`.
    #[serde(default)]
    pub run_as_non_root: bool,
    /// `automountServiceAccountToken: false`.
    #[serde(default)]
    pub disable_service_account_automount: bool,
}

/// TokenReview authenticators.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authentication {
    /// `--token-auth-file` CSV.
    pub token_auth_file: Option<PathBuf>,
    /// Service-account tokens.
    pub service_accounts: Option<ServiceAccounts>,
    /// Bootstrap tokens against the `bootstrap.kubernetes.io/token` Secrets of the state.
    #[serde(default)]
    pub bootstrap_tokens: bool,
}

/// Service-account token verification.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccounts {
    /// `--service-account-key-file`s (public keys or certificates, PEM).
    pub key_files: Vec<PathBuf>,
    /// `--service-account-issuer`s.
    pub issuers: Vec<String>,
    /// `--api-audiences`.
    #[serde(default)]
    pub audiences: Vec<String>,
}

/// SubjectAccessReview authorizers.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authorization {
    /// `--authorization-mode` order (default `[RBAC]`): RBAC, ABAC, Node, AlwaysAllow, AlwaysDeny.
    #[serde(default = "default_modes")]
    pub modes: Vec<String>,
    /// `--authorization-policy-file` (ABAC, JSON lines).
    pub policy_file: Option<PathBuf>,
}

fn default_modes() -> Vec<String> {
    vec!["RBAC".to_owned()]
}

impl Default for Authorization {
    fn default() -> Self {
        Self { modes: default_modes(), policy_file: None }
    }
}

/// The audit webhook backend.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Audit {
    /// Where events are appended (JSON lines); without it `/audit` answers 404.
    pub log: Option<AuditLog>,
    /// Falco rules files run over every event.
    #[serde(default)]
    pub rules_files: Vec<PathBuf>,
    /// Where alerts go.
    #[serde(default)]
    pub alerts: Alerts,
}

/// The audit log and its rotation (kube-apiserver's `--audit-log-*` semantics).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditLog {
    /// The file.
    pub path: PathBuf,
    /// Rotate when the file would exceed this many MiB (0: 100, lumberjack's default).
    #[serde(default, rename = "maxSizeMB")]
    pub max_size_mb: u64,
    /// Rotated files kept (0: all).
    #[serde(default)]
    pub max_backups: usize,
    /// Days rotated files are kept (0: no limit).
    #[serde(default)]
    pub max_age_days: u64,
    /// Gzip rotated files.
    #[serde(default)]
    pub compress: bool,
}

/// Alert outputs.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Alerts {
    /// Falco-style JSON alerts on stdout.
    #[serde(default)]
    pub stdout: bool,
    /// Append JSON alerts to this file.
    pub file: Option<PathBuf>,
    /// POST each alert to a Falcosidekick-compatible endpoint (Falco's `http_output`).
    pub http: Option<HttpAlerts>,
}

/// The HTTP alert output.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpAlerts {
    /// `http://` or `https://` URL, e.g. `http://falcosidekick:2801/`.
    pub url: String,
    /// Alerts waiting for delivery at most; more are dropped and counted (default 10,000).
    #[serde(default = "default_alert_queue")]
    pub queue_size: usize,
    /// PEM file of the CA certificates an `https://` endpoint is verified against (default:
    /// Mozilla's roots).
    pub ca_file: Option<PathBuf>,
}

const fn default_alert_queue() -> usize {
    10_000
}

/// A configuration error: which file, where in it (when known) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub file: String,
    /// Line and column of the field concerned.
    pub pos: Option<kguard_model::Pos>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn new(file: &str, pos: Option<kguard_model::Pos>, message: impl Into<String>) -> Self {
        Self { file: file.to_owned(), pos, message: message.into() }
    }
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

impl Config {
    /// Parses and validates `kguard.yaml`'s text; relative paths are resolved against `base`.
    ///
    /// # Errors
    /// `file:line:column: message` for syntax errors, unknown or mistyped fields and invalid values.
    pub fn parse(file: &str, text: &str, base: &Path) -> Result<Self, ConfigError> {
        let docs = yaml::parse_documents(text);
        let doc = docs.into_iter().find(|d| !matches!(d.root, Ok(None)));
        // A key written twice is a mistake in a security configuration (which value was meant?),
        // not a warning as in manifests.
        if let Some(w) = doc.as_ref().and_then(|d| d.warnings.iter().find(|w| w.code == "duplicate-key")) {
            return Err(ConfigError::new(file, Some(w.pos), w.message.clone()));
        }
        let root = match doc.map(|d| d.root) {
            None | Some(Ok(None)) => return Err(ConfigError::new(file, None, "empty configuration")),
            Some(Err(e)) => return Err(ConfigError::new(file, Some(e.pos), e.message)),
            Some(Ok(Some(root))) => root,
        };
        let mut config: Self = serde_path_to_error::deserialize(root.to_json()).map_err(|e| {
            let pointer = kguard_model::pod::path_to_pointer(e.path());
            let pos = root.locate(&pointer);
            let field = if pointer.is_empty() { String::new() } else { format!(" (at {})", e.path()) };
            ConfigError::new(file, Some(pos), format!("{}{field}", e.inner()))
        })?;
        let at = |pointer: &str, message: String| {
            let pos = root.locate(pointer);
            ConfigError::new(file, Some(pos), message)
        };
        if config.api_version != "kguard.io/v1alpha1" || config.kind != "ServerConfig" {
            return Err(at(
                "/kind",
                format!(
                    "expected apiVersion kguard.io/v1alpha1 and kind ServerConfig, found {} {}",
                    config.api_version, config.kind
                ),
            ));
        }
        if !matches!(config.tls.min_version.as_str(), "1.2" | "1.3") {
            return Err(at(
                "/tls/minVersion",
                format!("tls.minVersion: expected \"1.2\" or \"1.3\", found {:?}", config.tls.min_version),
            ));
        }
        if kguard_report::Severity::ALL.iter().all(|s| s.as_str() != config.admission.hardening.min_severity) {
            return Err(at(
                "/admission/hardening/minSeverity",
                format!(
                    "admission.hardening.minSeverity: expected info, low, medium, high or critical, found {:?}",
                    config.admission.hardening.min_severity
                ),
            ));
        }
        if !matches!(config.admission.hardening.action.as_str(), "deny" | "warn") {
            return Err(at(
                "/admission/hardening/action",
                format!(
                    "admission.hardening.action: expected deny or warn, found {:?}",
                    config.admission.hardening.action
                ),
            ));
        }
        for (i, r) in config.admission.hardening.ignore.iter().enumerate() {
            if kguard_hardening::rule(r).is_none() {
                return Err(at(
                    &format!("/admission/hardening/ignore/{i}"),
                    format!("{r:?} is not a hardening rule (KG001..; see `kguard rules`)"),
                ));
            }
        }
        if let Some(sc) = &config.admission.seccomp
            && sc.arch().is_none()
        {
            let known: Vec<&str> = kguard_seccomp::Arch::ALL.iter().map(|a| a.name()).collect();
            return Err(match &sc.architecture {
                Some(a) => at(
                    "/admission/seccomp/architecture",
                    format!("admission.seccomp.architecture: unknown architecture {a:?} (one of {})", known.join(", ")),
                ),
                None => at(
                    "/admission/seccomp",
                    format!(
                        "admission.seccomp: libseccomp does not know this machine's architecture ({}): set architecture",
                        std::env::consts::ARCH
                    ),
                ),
            });
        }
        if let Err(e) = kguard_authz::Mode::parse_list(&config.authorization.modes.join(",")) {
            return Err(at("/authorization/modes", format!("authorization.modes: {e}")));
        }
        if config.authorization.modes.iter().any(|m| m == "ABAC") != config.authorization.policy_file.is_some() {
            return Err(at(
                "/authorization",
                "authorization: ABAC in modes and policyFile go together (one is set without the other)".to_owned(),
            ));
        }
        let l = &config.limits;
        let positive: [(&str, u64); 13] = [
            ("maxBodyBytes", l.max_body_bytes as u64),
            ("maxBufferedBodyBytes", l.max_buffered_body_bytes as u64),
            ("handshakeTimeoutSeconds", l.handshake_timeout_seconds),
            ("headerTimeoutSeconds", l.header_timeout_seconds),
            ("bodyTimeoutSeconds", l.body_timeout_seconds),
            ("idleTimeoutSeconds", l.idle_timeout_seconds),
            ("maxConcurrentRequests", l.max_concurrent_requests as u64),
            ("evaluationThreads", l.evaluation_threads.map_or(1, |n| n as u64)),
            ("evaluationBudgetMs", l.evaluation_budget_ms),
            ("maxConnections", l.max_connections as u64),
            ("maxConnectionsPerClient", l.max_connections_per_client as u64),
            ("maxStreamsPerConnection", u64::from(l.max_streams_per_connection)),
            ("maxHealthConnections", l.max_health_connections as u64),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(at(&format!("/limits/{name}"), format!("limits.{name} must be positive (0 cannot work)")));
        }
        if l.max_buffered_body_bytes < l.max_body_bytes {
            return Err(at(
                "/limits/maxBufferedBodyBytes",
                format!(
                    "limits.maxBufferedBodyBytes ({}) must be at least maxBodyBytes ({}): the largest request could never be read",
                    l.max_buffered_body_bytes, l.max_body_bytes
                ),
            ));
        }
        if config.shutdown_grace_seconds == 0 {
            return Err(at("/shutdownGraceSeconds", "shutdownGraceSeconds must be positive".to_owned()));
        }
        for (i, e) in config.tls.allow_unauthenticated.iter().enumerate() {
            if !AUTHENTICATED_ENDPOINTS.contains(&e.as_str()) {
                return Err(at(
                    &format!("/tls/allowUnauthenticated/{i}"),
                    format!("tls.allowUnauthenticated: expected audit, authenticate or authorize, found {e:?}"),
                ));
            }
        }
        if config.state.dir.is_some() && config.state.cluster.is_some() {
            return Err(at(
                "/state/cluster",
                "state: dir and cluster exclude each other (one source of cluster objects)".to_owned(),
            ));
        }
        if let Some(c) = &config.state.cluster
            && c.in_cluster
            && (c.kubeconfig.is_some() || c.context.is_some())
        {
            return Err(at(
                "/state/cluster/inCluster",
                "state.cluster: inCluster excludes kubeconfig and context".to_owned(),
            ));
        }
        if let Some(m) = &config.admission.mesh_inject
            && let Some((pointer, message)) = m.problem(config.state.dir.is_some() || config.state.cluster.is_some())
        {
            return Err(at(&pointer, message));
        }
        if config.health_listen == config.listen && config.listen.port() != 0 {
            return Err(at("/healthListen", "healthListen must differ from listen".to_owned()));
        }
        config.resolve(base);
        if let Some(h) = &config.audit.alerts.http {
            if let Err(e) = crate::alerts::HttpOutput::with_roots(&h.url, h.ca_file.as_deref()) {
                return Err(at("/audit/alerts/http/url", format!("audit.alerts.http.url: {e}")));
            }
            if h.queue_size == 0 {
                return Err(at(
                    "/audit/alerts/http/queueSize",
                    "audit.alerts.http.queueSize must be positive".to_owned(),
                ));
            }
        }
        Ok(config)
    }

    /// Makes every relative path absolute against `base`.
    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.tls.cert_file);
        fix(&mut self.tls.key_file);
        self.tls.client_ca_file.iter_mut().for_each(fix);
        self.state.dir.iter_mut().for_each(fix);
        if let Some(c) = &mut self.state.cluster {
            c.kubeconfig.iter_mut().for_each(fix);
        }
        self.admission.pod_security.config_file.iter_mut().for_each(fix);
        if let Some(sc) = &mut self.admission.seccomp {
            fix(&mut sc.profile_dir);
        }
        if let Some(a) = &mut self.admission.apparmor {
            fix(&mut a.profiles);
        }
        self.authentication.token_auth_file.iter_mut().for_each(fix);
        if let Some(sa) = &mut self.authentication.service_accounts {
            sa.key_files.iter_mut().for_each(fix);
        }
        self.authorization.policy_file.iter_mut().for_each(fix);
        if let Some(log) = &mut self.audit.log {
            fix(&mut log.path);
        }
        self.audit.rules_files.iter_mut().for_each(fix);
        self.audit.alerts.file.iter_mut().for_each(fix);
        if let Some(h) = &mut self.audit.alerts.http {
            h.ca_file.iter_mut().for_each(fix);
        }
    }

    /// Every file the configuration reads (watched for reload), the state directory aside.
    #[must_use]
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.tls.cert_file.clone(), self.tls.key_file.clone()];
        files.extend(self.tls.client_ca_file.clone());
        files.extend(self.admission.pod_security.config_file.clone());
        files.extend(self.authentication.token_auth_file.clone());
        if let Some(sa) = &self.authentication.service_accounts {
            files.extend(sa.key_files.iter().cloned());
        }
        files.extend(self.authorization.policy_file.clone());
        files.extend(self.audit.rules_files.iter().cloned());
        files
    }
}

/// Parses a YAML file's first document into a node (for the PodSecurity configuration).
///
/// # Errors
/// Syntax errors and empty files, with the file name.
pub fn first_document(file: &Path, text: &str) -> Result<YamlNode, crate::ServeError> {
    for doc in yaml::parse_documents(text) {
        match doc.root {
            Ok(Some(root)) => return Ok(root),
            Ok(None) => {}
            Err(e) => return Err(crate::ServeError::invalid(file, e)),
        }
    }
    Err(crate::ServeError::invalid(file, "no document"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        "apiVersion: kguard.io/v1alpha1\nkind: ServerConfig\ntls:\n  certFile: tls.crt\n  keyFile: tls.key\n";

    #[test]
    fn minimal_config_gets_defaults_and_resolved_paths() {
        let c = Config::parse("kguard.yaml", MINIMAL, Path::new("/etc/kguard")).unwrap();
        assert_eq!(c.listen.port(), 8443);
        assert!(!c.listen.ip().is_unspecified());
        assert_eq!(c.tls.cert_file, PathBuf::from("/etc/kguard/tls.crt"));
        assert!(c.admission.pod_security.enabled && !c.admission.hardening.enabled);
        assert_eq!(c.limits.max_body_bytes, 3 * 1024 * 1024);
        assert_eq!(c.failure_policy, FailurePolicy::Fail);
        assert_eq!(c.authorization.modes, vec!["RBAC"]);
    }

    #[test]
    fn cluster_state_source() {
        let c = Config::parse(
            "k.yaml",
            &format!("{MINIMAL}state:\n  cluster: {{kubeconfig: kube/config, context: prod}}\n"),
            Path::new("/etc/kguard"),
        )
        .unwrap();
        let cluster = c.state.cluster.clone().unwrap();
        assert_eq!(cluster.kubeconfig, Some(PathBuf::from("/etc/kguard/kube/config")));
        assert_eq!((cluster.context.as_deref(), cluster.in_cluster), (Some("prod"), false));
        assert!(c.state.dir.is_none() && !c.state.with_default_rbac());
        let c = Config::parse("k.yaml", &format!("{MINIMAL}state: {{cluster: {{}}}}\n"), Path::new("/")).unwrap();
        assert_eq!(c.state.cluster, Some(Cluster::default()));
        let c = Config::parse("k.yaml", MINIMAL, Path::new("/")).unwrap();
        assert!(c.state.cluster.is_none() && c.state.with_default_rbac());
        let c =
            Config::parse("k.yaml", &format!("{MINIMAL}state: {{cluster: {{}}, defaultRbac: true}}\n"), Path::new("/"))
                .unwrap();
        assert!(c.state.with_default_rbac());
    }

    #[test]
    fn errors_name_line_column_and_field() {
        let e = Config::parse("k.yaml", &format!("{MINIMAL}limits:\n  maxBodyByte: 3\n"), Path::new("/")).unwrap_err();
        assert!(e.to_string().starts_with("k.yaml:7:3: unknown field `maxBodyByte`"), "{e}");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}failurePolicy: Maybe\n"), Path::new("/")).unwrap_err();
        assert!(e.to_string().starts_with("k.yaml:6:1: unknown variant `Maybe`"), "{e}");
        let e = Config::parse(
            "k.yaml",
            &format!("{MINIMAL}admission:\n  hardening: {{minSeverity: severe}}\n"),
            Path::new("/"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("minSeverity: expected info, low"), "{e}");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}authorization: {{modes: [RBAC, Magic]}}\n"), Path::new("/"))
            .unwrap_err();
        assert!(e.to_string().contains("authorization.modes"), "{e}");
        let e = Config::parse(
            "k.yaml",
            &format!("{MINIMAL}state:\n  dir: state\n  cluster: {{inCluster: true}}\n"),
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "k.yaml:8:3: state: dir and cluster exclude each other (one source of cluster objects)"
        );
        let e = Config::parse(
            "k.yaml",
            &format!("{MINIMAL}state:\n  cluster:\n    context: prod\n    inCluster: true\n"),
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "k.yaml:9:5: state.cluster: inCluster excludes kubeconfig and context");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}state: {{cluster: {{kubeConfig: x}}}}\n"), Path::new("/"))
            .unwrap_err();
        assert!(e.to_string().starts_with("k.yaml:6:") && e.to_string().contains("unknown field `kubeConfig`"), "{e}");
        let e = Config::parse("k.yaml", "apiVersion: v1\nkind: Pod\n", Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("missing field `tls`"), "{e}");
        let e = Config::parse("k.yaml", "a: [\n", Path::new("/")).unwrap_err();
        assert!(e.to_string().starts_with("k.yaml:"), "{e}");
        assert!(Config::parse("k.yaml", "", Path::new("/")).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        for (extra, field) in [
            ("limits: {headerTimeoutSeconds: 0}\n", "headerTimeoutSeconds"),
            ("limits: {bodyTimeoutSeconds: 0}\n", "bodyTimeoutSeconds"),
            ("limits: {handshakeTimeoutSeconds: 0}\n", "handshakeTimeoutSeconds"),
            ("limits: {idleTimeoutSeconds: 0}\n", "idleTimeoutSeconds"),
            ("limits: {evaluationBudgetMs: 0}\n", "evaluationBudgetMs"),
            ("limits: {evaluationThreads: 0}\n", "evaluationThreads"),
            ("limits: {maxConnectionsPerClient: 0}\n", "maxConnectionsPerClient"),
            ("limits: {maxConcurrentRequests: 0}\n", "maxConcurrentRequests"),
        ] {
            let e = Config::parse("k.yaml", &format!("{MINIMAL}{extra}"), Path::new("/")).unwrap_err();
            assert!(e.to_string().contains(&format!("limits.{field} must be positive")), "{extra}: {e}");
        }
        let e = Config::parse("k.yaml", &format!("{MINIMAL}limits: {{maxBufferedBodyBytes: 1000}}\n"), Path::new("/"))
            .unwrap_err();
        assert!(e.to_string().contains("maxBufferedBodyBytes (1000) must be at least maxBodyBytes"), "{e}");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}shutdownGraceSeconds: 0\n"), Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("shutdownGraceSeconds must be positive"), "{e}");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}tls2: x\n"), Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        // A key written twice: which value was meant?
        let e =
            Config::parse("k.yaml", &format!("{MINIMAL}failurePolicy: Ignore\nfailurePolicy: Fail\n"), Path::new("/"))
                .unwrap_err();
        assert_eq!(e.pos.map(|p| p.line), Some(7), "{e}");
        assert!(e.message.contains("duplicate key \"failurePolicy\""), "{e}");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}tls:\n  certFile: a\n  keyFile: b\n"), Path::new("/"))
            .unwrap_err();
        assert!(e.message.contains("duplicate key \"tls\""), "{e}");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}  allowUnauthenticated: [validate]\n"), Path::new("/"))
            .unwrap_err();
        assert!(e.to_string().contains("expected audit, authenticate or authorize"), "{e}");
    }

    #[test]
    fn seccomp_admission_block() {
        let c = Config::parse(
            "k.yaml",
            &format!("{MINIMAL}admission:\n  seccomp: {{profileDir: profiles, architecture: aarch64}}\n"),
            Path::new("/etc/kguard"),
        )
        .unwrap();
        let sc = c.admission.seccomp.unwrap();
        assert_eq!(sc.profile_dir, PathBuf::from("/etc/kguard/profiles"), "relative to kguard.yaml");
        assert_eq!(sc.arch(), Some(kguard_seccomp::Arch::Aarch64));
        assert!(!sc.deny_weaker_than_runtime_default && sc.exempt_namespaces.is_empty());
        assert!(
            Config::parse("k.yaml", MINIMAL, Path::new("/")).unwrap().admission.seccomp.is_none(),
            "off by default"
        );
        for (extra, want) in [
            ("admission:\n  seccomp: {denyWeakerThanRuntimeDefault: true}\n", "k.yaml:7:3: missing field `profileDir`"),
            ("admission:\n  seccomp: {profileDir: p, denyWeaker: true}\n", "k.yaml:7:28: unknown field `denyWeaker`"),
            (
                "admission:\n  seccomp:\n    profileDir: p\n    architecture: vax\n",
                "k.yaml:9:5: admission.seccomp.architecture: unknown architecture \"vax\"",
            ),
            (
                "admission:\n  seccomp:\n    profileDir: p\n    profileDir: q\n",
                "k.yaml:9:5: duplicate key \"profileDir\"",
            ),
        ] {
            let e = Config::parse("k.yaml", &format!("{MINIMAL}{extra}"), Path::new("/")).unwrap_err().to_string();
            assert!(e.starts_with(want), "{extra}: {e}");
        }
    }

    #[test]
    fn the_webhooks_listen_on_the_pod_ip_or_loopback_by_default() {
        // The test environment sets no POD_IP (the deploy manifest does).
        if std::env::var_os("POD_IP").is_none() {
            let c = Config::parse("k.yaml", MINIMAL, Path::new("/")).unwrap();
            assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 8443)));
        }
        assert!(!default_listen().ip().is_unspecified(), "never all interfaces by default");
    }
}
