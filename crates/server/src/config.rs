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

use kguard_model::yaml::{self, Node};

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// `kguard.io/v1alpha1`.
    pub api_version: String,
    /// `ServerConfig`.
    pub kind: String,
    /// HTTPS address of the webhooks (default `0.0.0.0:8443`).
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
    /// Seconds to wait for in-flight requests on SIGTERM/SIGINT.
    #[serde(default = "default_grace")]
    pub shutdown_grace_seconds: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8443))
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
}

fn default_tls_version() -> String {
    "1.2".to_owned()
}

/// Request limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Largest request body (default 3 MiB, kube-apiserver's own request limit); larger → 413.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Time to complete the TLS handshake and send the request headers (default 10 s).
    #[serde(default = "default_header_timeout")]
    pub header_timeout_seconds: u64,
    /// Time to read a request body (default 30 s).
    #[serde(default = "default_body_timeout")]
    pub body_timeout_seconds: u64,
    /// Requests evaluated at once (default 1024); more wait up to 1 s, then get 429.
    #[serde(default = "default_concurrency")]
    pub max_concurrent_requests: usize,
    /// Open connections at once (default 4096); more are closed at accept.
    #[serde(default = "default_connections")]
    pub max_connections: usize,
}

const fn default_body() -> usize {
    3 * 1024 * 1024
}
const fn default_header_timeout() -> u64 {
    10
}
const fn default_body_timeout() -> u64 {
    30
}
const fn default_concurrency() -> usize {
    1024
}
const fn default_connections() -> usize {
    4096
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: default_body(),
            header_timeout_seconds: default_header_timeout(),
            body_timeout_seconds: default_body_timeout(),
            max_concurrent_requests: default_concurrency(),
            max_connections: default_connections(),
        }
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
    /// Add the default ClusterRoles and bindings of a v1.32 cluster, those the state does not
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
}

const fn default_alert_queue() -> usize {
    10_000
}

/// A configuration error: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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
        let root = match doc.map(|d| d.root) {
            None => return Err(ConfigError(format!("{file}: empty configuration"))),
            Some(Err(e)) => return Err(ConfigError(format!("{file}: {e}"))),
            Some(Ok(None)) => return Err(ConfigError(format!("{file}: empty configuration"))),
            Some(Ok(Some(root))) => root,
        };
        let mut config: Self = serde_path_to_error::deserialize(root.to_json()).map_err(|e| {
            let pointer = kguard_model::pod::path_to_pointer(e.path());
            let pos = root.locate(&pointer);
            let field = if pointer.is_empty() { String::new() } else { format!(" (at {})", e.path()) };
            ConfigError(format!("{file}:{}:{}: {}{field}", pos.line, pos.column, e.inner()))
        })?;
        let at = |pointer: &str, message: String| {
            let pos = root.locate(pointer);
            ConfigError(format!("{file}:{}:{}: {message}", pos.line, pos.column))
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
            if kguard_engine::rules::find(r).is_none() {
                return Err(at(
                    &format!("/admission/hardening/ignore/{i}"),
                    format!("unknown rule {r:?} (see `kguard rules`)"),
                ));
            }
        }
        if let Err(e) = kguard_engine::authz::Mode::parse_list(&config.authorization.modes.join(",")) {
            return Err(at("/authorization/modes", format!("authorization.modes: {e}")));
        }
        if config.authorization.modes.iter().any(|m| m == "ABAC") != config.authorization.policy_file.is_some() {
            return Err(at(
                "/authorization",
                "authorization: ABAC in modes and policyFile go together (one is set without the other)".to_owned(),
            ));
        }
        if config.limits.max_body_bytes == 0
            || config.limits.max_concurrent_requests == 0
            || config.limits.max_connections == 0
        {
            return Err(at(
                "/limits",
                "limits: maxBodyBytes, maxConcurrentRequests and maxConnections must be positive".to_owned(),
            ));
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
        if let Some(h) = &config.audit.alerts.http {
            if let Err(e) = crate::alerts::HttpOutput::new(&h.url) {
                return Err(at("/audit/alerts/http/url", format!("audit.alerts.http.url: {e}")));
            }
            if h.queue_size == 0 {
                return Err(at(
                    "/audit/alerts/http/queueSize",
                    "audit.alerts.http.queueSize must be positive".to_owned(),
                ));
            }
        }
        if config.health_listen == config.listen && config.listen.port() != 0 {
            return Err(at("/healthListen", "healthListen must differ from listen".to_owned()));
        }
        config.resolve(base);
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
pub fn first_document(file: &str, text: &str) -> Result<Node, String> {
    for doc in yaml::parse_documents(text) {
        match doc.root {
            Ok(Some(root)) => return Ok(root),
            Ok(None) => {}
            Err(e) => return Err(format!("{file}: {e}")),
        }
    }
    Err(format!("{file}: no document"))
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
        assert!(e.0.starts_with("k.yaml:7:3: unknown field `maxBodyByte`"), "{e}");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}failurePolicy: Maybe\n"), Path::new("/")).unwrap_err();
        assert!(e.0.starts_with("k.yaml:6:1: unknown variant `Maybe`"), "{e}");
        let e = Config::parse(
            "k.yaml",
            &format!("{MINIMAL}admission:\n  hardening: {{minSeverity: severe}}\n"),
            Path::new("/"),
        )
        .unwrap_err();
        assert!(e.0.contains("minSeverity: expected info, low"), "{e}");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}authorization: {{modes: [RBAC, Magic]}}\n"), Path::new("/"))
            .unwrap_err();
        assert!(e.0.contains("authorization.modes"), "{e}");
        let e = Config::parse(
            "k.yaml",
            &format!("{MINIMAL}state:\n  dir: state\n  cluster: {{inCluster: true}}\n"),
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(e.0, "k.yaml:8:3: state: dir and cluster exclude each other (one source of cluster objects)");
        let e = Config::parse(
            "k.yaml",
            &format!("{MINIMAL}state:\n  cluster:\n    context: prod\n    inCluster: true\n"),
            Path::new("/"),
        )
        .unwrap_err();
        assert_eq!(e.0, "k.yaml:9:5: state.cluster: inCluster excludes kubeconfig and context");
        let e = Config::parse("k.yaml", &format!("{MINIMAL}state: {{cluster: {{kubeConfig: x}}}}\n"), Path::new("/"))
            .unwrap_err();
        assert!(e.0.starts_with("k.yaml:6:") && e.0.contains("unknown field `kubeConfig`"), "{e}");
        let e = Config::parse("k.yaml", "apiVersion: v1\nkind: Pod\n", Path::new("/")).unwrap_err();
        assert!(e.0.contains("missing field `tls`"), "{e}");
        let e = Config::parse("k.yaml", "a: [\n", Path::new("/")).unwrap_err();
        assert!(e.0.starts_with("k.yaml:"), "{e}");
        assert!(Config::parse("k.yaml", "", Path::new("/")).unwrap_err().0.contains("empty"));
    }
}
