//! Linkerd's inbound policy, read from manifests with their positions, and the decision the
//! policy controller (`linkerd-policy-controller`) hands a proxy for each port of a pod:
//!
//! * whether the pod has a proxy at all (`linkerd.io/inject` on the pod template or its
//!   namespace, as the proxy injector's truth table reads it; `hostNetwork` pods are never
//!   injected);
//! * the default inbound policy of a port no Server selects: the pod template's
//!   `config.linkerd.io/default-inbound-policy`, else the namespace's (the injector copies it to
//!   the pod), else the cluster's install value; a value that is no policy falls back to the
//!   cluster's, as the controller does;
//! * the Server that selects a port (`podSelector`, a port number or a named container port; the
//!   oldest Server wins a port, then the smaller name) and the authorizations that then decide who
//!   may connect: ServerAuthorizations (by Server name or label selector), AuthorizationPolicies
//!   (targeting the Server, the namespace, or an HTTPRoute/GRPCRoute whose parent is the Server)
//!   with their MeshTLSAuthentication, NetworkAuthentication and ServiceAccount references, and the
//!   Server's `accessPolicy`. Nothing authorized means denied;
//! * the protocol: the Server's `proxyProtocol`, else opaque for `config.linkerd.io/opaque-ports`
//!   (the install's default list for the ports a pod exposes when neither pod nor namespace says),
//!   else detected.
//!
//! Pure: objects in, decisions out. [`crate::findings`] reports what is wrong with them.

use std::collections::{BTreeMap, BTreeSet};

use kguard_model::Object;
use kguard_model::workload;
use kguard_model::yaml::{YamlNode, escape_pointer_token};

/// The API group of Linkerd's policy objects.
pub const GROUP: &str = "policy.linkerd.io";
/// The injection annotation.
pub const INJECT: &str = "linkerd.io/inject";
/// The default inbound policy annotation.
pub const DEFAULT_INBOUND_POLICY: &str = "config.linkerd.io/default-inbound-policy";
/// The opaque ports annotation.
pub const OPAQUE_PORTS: &str = "config.linkerd.io/opaque-ports";
/// Ports whose default policy requires an identity.
pub const REQUIRE_IDENTITY_PORTS: &str = "config.linkerd.io/proxy-require-identity-inbound-ports";
/// The install's default opaque ports (`proxy.opaquePorts`): SMTP, MySQL, Galera, PostgreSQL,
/// Redis, Elasticsearch, Memcached.
pub const DEFAULT_OPAQUE_PORTS: &[u16] = &[25, 587, 3306, 4444, 5432, 6379, 9300, 11211];
/// Namespaces whose meshed ports are expected to take plaintext: Linkerd's own control plane
/// (the identity service and the webhooks serve clients that have no identity yet) and
/// `kube-system`. The plaintext rule skips them.
pub const EXEMPT_NAMESPACES: &[&str] =
    &["kube-system", "linkerd", "linkerd-viz", "linkerd-jaeger", "linkerd-multicluster"];
/// The control plane namespace, part of every identity (`linkerdNamespace`).
pub const CONTROL_PLANE_NAMESPACE: &str = "linkerd";
/// The identity trust domain (`identityTrustDomain`).
pub const TRUST_DOMAIN: &str = "cluster.local";

/// A default inbound policy (`config.linkerd.io/default-inbound-policy`, a Server's
/// `accessPolicy`, the install's `proxy.defaultInboundPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DefaultPolicy {
    /// Every client, plaintext or mTLS, from any network.
    AllUnauthenticated,
    /// mTLS clients with any identity, from any network.
    AllAuthenticated,
    /// Every client from the cluster networks.
    ClusterUnauthenticated,
    /// mTLS clients from the cluster networks.
    ClusterAuthenticated,
    /// Nobody, unless an authorization says so.
    Deny,
    /// Everybody, and the proxy logs what `deny` would refuse.
    Audit,
}

impl DefaultPolicy {
    /// Every policy, in Linkerd's order.
    pub const ALL: [Self; 6] = [
        Self::AllUnauthenticated,
        Self::AllAuthenticated,
        Self::ClusterUnauthenticated,
        Self::ClusterAuthenticated,
        Self::Deny,
        Self::Audit,
    ];

    /// The annotation spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllUnauthenticated => "all-unauthenticated",
            Self::AllAuthenticated => "all-authenticated",
            Self::ClusterUnauthenticated => "cluster-unauthenticated",
            Self::ClusterAuthenticated => "cluster-authenticated",
            Self::Deny => "deny",
            Self::Audit => "audit",
        }
    }

    /// From the annotation spelling (exact, as the controller parses it).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The authorization it grants (none for `deny`); `require_identity` turns an
    /// `*-unauthenticated` policy into its authenticated form (the require-identity ports).
    #[must_use]
    pub fn grant(self, require_identity: bool) -> Option<(Clients, Networks)> {
        let any_id = || Clients::Identities(vec!["*".to_owned()]);
        let plain =
            |networks| if require_identity { (any_id(), networks) } else { (Clients::Unauthenticated, networks) };
        Some(match self {
            Self::AllUnauthenticated | Self::Audit => plain(Networks::All),
            Self::ClusterUnauthenticated => plain(Networks::Cluster),
            Self::AllAuthenticated => (any_id(), Networks::All),
            Self::ClusterAuthenticated => (any_id(), Networks::Cluster),
            Self::Deny => return None,
        })
    }
}

/// Which clients an authorization admits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clients {
    /// Anyone, plaintext included.
    Unauthenticated,
    /// Any TLS client, with or without an identity (`meshTLS.unauthenticatedTLS`).
    AnyTls,
    /// mTLS clients with one of these identities (`*` any, `*.suffix` a suffix).
    Identities(Vec<String>),
}

/// From which networks an authorization admits them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Networks {
    /// Every address.
    All,
    /// The cluster networks (the install's `clusterNetworks`).
    Cluster,
    /// These CIDRs (with their exceptions as `cidr except a, b`).
    Cidrs(Vec<String>),
}

impl Networks {
    /// How it reads in an answer.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::All => "any network".to_owned(),
            Self::Cluster => "the cluster networks".to_owned(),
            Self::Cidrs(c) => c.join(", "),
        }
    }
}

impl Clients {
    /// How it reads in an answer.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Unauthenticated => "plaintext or mTLS".to_owned(),
            Self::AnyTls => "TLS (any identity)".to_owned(),
            Self::Identities(ids) if ids.iter().any(|i| i == "*") => "mTLS (any identity)".to_owned(),
            Self::Identities(ids) => format!("mTLS {}", ids.join(", ")),
        }
    }
}

/// Who may connect to a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// No proxy: the application takes plaintext from anyone, no policy applies.
    Unmeshed,
    /// Some authorization admits unauthenticated (plaintext) clients.
    Plaintext,
    /// Every authorization requires TLS.
    MeshTls,
    /// Nothing is authorized.
    Deny,
}

impl Access {
    /// The answer's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unmeshed => "unmeshed",
            Self::Plaintext => "plaintext",
            Self::MeshTls => "mtls",
            Self::Deny => "deny",
        }
    }
}

/// What decided something: an object (or the install's default) and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decider {
    /// `cluster` (the install value), `namespace`, `pod` (the pod template), `server`,
    /// `injection`.
    pub level: &'static str,
    /// `Kind/namespace/name`, `None` for the install value.
    pub object: Option<String>,
    /// `file:line:column` of the deciding field.
    pub location: Option<String>,
    /// JSON pointer of the deciding field in the object.
    pub pointer: Option<String>,
}

impl Decider {
    fn at(level: &'static str, obj: &Object, pointer: &str) -> Self {
        Self {
            level,
            object: Some(describe(obj)),
            location: Some(obj.location(pointer).to_string()),
            pointer: Some(pointer.to_owned()),
        }
    }

    fn cluster() -> Self {
        Self { level: "cluster", object: None, location: None, pointer: None }
    }
}

/// One authorization that applies to a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The object (`ServerAuthorization/..`, `AuthorizationPolicy/..`, the Server for its
    /// `accessPolicy`, or the default policy).
    pub by: Decider,
    /// The route it is attached to (`HTTPRoute/ns/name`), for route-level policies.
    pub route: Option<String>,
    /// Who.
    pub clients: Clients,
    /// From where.
    pub networks: Networks,
}

/// `Kind/namespace/name` of an object (namespace `default` when absent; none for cluster-scoped).
#[must_use]
pub fn describe(obj: &Object) -> String {
    if obj.kind() == "Namespace" {
        return format!("Namespace/{}", obj.id.name);
    }
    format!("{}/{}/{}", obj.kind(), ns_of(obj), obj.id.name)
}

fn ns_of(obj: &Object) -> &str {
    obj.id.namespace.as_deref().unwrap_or("default")
}

fn annotation_pointer(prefix: &str, key: &str) -> String {
    format!("{prefix}/metadata/annotations/{}", escape_pointer_token(key))
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    match_labels: BTreeMap<String, String>,
    expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    fn from_node(node: &YamlNode) -> Self {
        let match_labels = kguard_model::object::string_map(node.get("matchLabels"))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let expressions = node
            .get("matchExpressions")
            .and_then(YamlNode::as_seq)
            .unwrap_or_default()
            .iter()
            .map(|e| {
                let s = |k: &str| e.get(k).and_then(YamlNode::as_str).unwrap_or_default().to_owned();
                let values = strings(e.get("values"));
                (s("key"), s("operator"), values.map(str::to_owned).collect())
            })
            .collect();
        Self { match_labels, expressions }
    }

    /// Whether it selects these labels (an empty selector selects everything; an unknown
    /// operator nothing).
    #[must_use]
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(k, op, values)| match op.as_str() {
                "In" => labels.get(k).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(k).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(k),
                "DoesNotExist" => !labels.contains_key(k),
                _ => false,
            })
    }
}

/// A Server's port: a number or a container port name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortRef {
    /// A port number.
    Number(u16),
    /// A named container port (every container port of that name).
    Name(String),
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Name(n) => f.write_str(n),
        }
    }
}

/// A `Server`.
#[derive(Clone, Debug)]
pub struct Server<'o> {
    /// The object.
    pub obj: &'o Object,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.creationTimestamp` (Unix seconds; absent sorts first).
    pub created: Option<i64>,
    /// `metadata.labels` (what ServerAuthorization selectors match).
    pub labels: BTreeMap<String, String>,
    /// `spec.podSelector` (`None`: absent, or an `externalWorkloadSelector`).
    pub pod_selector: Option<Selector>,
    /// `spec.port`.
    pub port: Option<PortRef>,
    /// `spec.proxyProtocol` as written.
    pub proxy_protocol: Option<String>,
    /// `spec.accessPolicy`, when it is a policy.
    pub access_policy: Option<DefaultPolicy>,
    /// `spec.accessPolicy` as written when it is none.
    pub bad_access_policy: Option<String>,
}

fn created(obj: &Object) -> Option<i64> {
    obj.root
        .pointer("/metadata/creationTimestamp")
        .and_then(YamlNode::as_str)
        .and_then(|t| kguard_model::time::parse_rfc3339(t).ok())
}

fn labels(node: Option<&YamlNode>) -> BTreeMap<String, String> {
    kguard_model::object::string_map(node).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

impl<'o> Server<'o> {
    fn from_object(obj: &'o Object) -> Self {
        let spec = obj.root.get("spec");
        let port = spec.and_then(|s| s.get("port")).and_then(|p| match p.as_i64() {
            Some(n) => u16::try_from(n).ok().filter(|n| *n > 0).map(PortRef::Number),
            None => p.as_str().map(|s| PortRef::Name(s.to_owned())),
        });
        let access = spec.and_then(|s| s.get("accessPolicy")).and_then(YamlNode::as_str);
        Self {
            obj,
            name: obj.id.name.clone(),
            namespace: ns_of(obj).to_owned(),
            created: created(obj),
            labels: labels(obj.root.pointer("/metadata/labels")),
            pod_selector: spec.and_then(|s| s.get("podSelector")).filter(|n| !n.is_null()).map(Selector::from_node),
            port,
            proxy_protocol: spec.and_then(|s| s.get("proxyProtocol")).and_then(YamlNode::as_str).map(str::to_owned),
            access_policy: access.and_then(DefaultPolicy::parse),
            bad_access_policy: access.filter(|a| DefaultPolicy::parse(a).is_none()).map(str::to_owned),
        }
    }

    /// `Server/namespace/name`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("Server/{}/{}", self.namespace, self.name)
    }

    /// The protocol it sets: `detect` for none or `unknown`.
    #[must_use]
    pub fn protocol(&self) -> &str {
        match self.proxy_protocol.as_deref() {
            None | Some("unknown") => "detect",
            Some(p) => p,
        }
    }

    fn order_key(&self) -> (i64, &str) {
        (self.created.unwrap_or(i64::MIN), &self.name)
    }
}

/// A reference from an authorization to an authentication (or a ServiceAccount).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthnRef {
    /// `MeshTLSAuthentication`, `NetworkAuthentication`, `ServiceAccount`, or what was written.
    pub kind: String,
    /// Its namespace (the policy's when absent).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// JSON pointer of the reference.
    pub pointer: String,
}

/// What an AuthorizationPolicy targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A Server of its namespace.
    Server(String),
    /// Its namespace (the name must be the policy's own namespace).
    Namespace(String),
    /// An HTTPRoute (`policy.linkerd.io` or `gateway.networking.k8s.io`).
    HttpRoute(String),
    /// A GRPCRoute.
    GrpcRoute(String),
    /// Another kind (the controller refuses the policy).
    Unsupported(String),
}

/// A `ServerAuthorization` or an `AuthorizationPolicy`.
#[derive(Clone, Debug)]
pub struct Authz<'o> {
    /// The object.
    pub obj: &'o Object,
    /// `metadata.namespace`.
    pub namespace: String,
    /// What it targets (a ServerAuthorization: `Server(name)`; one with a selector: `None`).
    pub target: Option<Target>,
    /// A ServerAuthorization's `spec.server.selector`.
    pub server_selector: Option<Selector>,
    /// JSON pointer of the target (`/spec/server/name`, `/spec/targetRef`, ...).
    pub target_pointer: String,
    /// An AuthorizationPolicy's `requiredAuthenticationRefs`.
    pub authns: Vec<AuthnRef>,
    /// A ServerAuthorization's clients (or why the controller refuses it).
    pub clients: Result<(Clients, Networks), String>,
}

/// The strings of a sequence (other items skipped; nothing when it is no sequence).
fn strings(node: Option<&YamlNode>) -> impl Iterator<Item = &str> {
    node.and_then(YamlNode::as_seq).unwrap_or_default().iter().filter_map(YamlNode::as_str)
}

fn networks(node: Option<&YamlNode>) -> Vec<String> {
    node.and_then(YamlNode::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| {
            let cidr = n.get("cidr").and_then(YamlNode::as_str)?;
            let except: Vec<&str> = strings(n.get("except")).collect();
            Some(if except.is_empty() { cidr.to_owned() } else { format!("{cidr} except {}", except.join(" ")) })
        })
        .collect()
}

/// `sa.ns.serviceaccount.identity.linkerd.cluster.local`.
#[must_use]
pub fn service_account_identity(namespace: &str, name: &str) -> String {
    format!("{name}.{namespace}.serviceaccount.identity.{CONTROL_PLANE_NAMESPACE}.{TRUST_DOMAIN}")
}

fn targets_kind(group: Option<&str>, kind: &str, want_group: &str, want_kind: &str) -> bool {
    let g = group.filter(|g| !g.is_empty()).unwrap_or("core");
    g.eq_ignore_ascii_case(want_group) && kind.eq_ignore_ascii_case(want_kind)
}

impl<'o> Authz<'o> {
    fn server_authorization(obj: &'o Object) -> Self {
        let namespace = ns_of(obj).to_owned();
        let server = obj.root.pointer("/spec/server");
        let name = server.and_then(|s| s.get("name")).and_then(YamlNode::as_str);
        let (target, server_selector, target_pointer) = match name {
            Some(n) => (Some(Target::Server(n.to_owned())), None, "/spec/server/name"),
            None => (
                None,
                Some(server.and_then(|s| s.get("selector")).map(Selector::from_node).unwrap_or_default()),
                "/spec/server",
            ),
        };
        let client = obj.root.pointer("/spec/client");
        let get = |p: &str| client.and_then(|c| c.pointer(p));
        let nets = networks(get("/networks"));
        let nets = if nets.is_empty() { Networks::Cluster } else { Networks::Cidrs(nets) };
        let clients = if get("/unauthenticated").and_then(YamlNode::as_bool) == Some(true) {
            Ok(Clients::Unauthenticated)
        } else if let Some(mtls) = get("/meshTLS").filter(|m| !m.is_null()) {
            if mtls.get("unauthenticatedTLS").and_then(YamlNode::as_bool) == Some(true) {
                Ok(Clients::AnyTls)
            } else {
                let mut ids: Vec<String> = strings(mtls.get("identities")).map(str::to_owned).collect();
                for sa in mtls.get("serviceAccounts").and_then(YamlNode::as_seq).unwrap_or_default() {
                    if let Some(n) = sa.get("name").and_then(YamlNode::as_str) {
                        let ns = sa.get("namespace").and_then(YamlNode::as_str).unwrap_or(&namespace);
                        ids.push(service_account_identity(ns, n));
                    }
                }
                if ids.is_empty() {
                    Err("meshTLS authorizes no clients".to_owned())
                } else {
                    Ok(Clients::Identities(ids))
                }
            }
        } else {
            Err("no client authentication configured (neither unauthenticated nor meshTLS)".to_owned())
        };
        Self {
            obj,
            namespace,
            target,
            server_selector,
            target_pointer: target_pointer.to_owned(),
            authns: Vec::new(),
            clients: clients.map(|c| (c, nets)),
        }
    }

    fn authorization_policy(obj: &'o Object) -> Self {
        let namespace = ns_of(obj).to_owned();
        let t = obj.root.pointer("/spec/targetRef");
        let s = |k: &str| t.and_then(|t| t.get(k)).and_then(YamlNode::as_str);
        let (group, kind, name) = (s("group"), s("kind").unwrap_or_default(), s("name").unwrap_or_default().to_owned());
        let target = if targets_kind(group, kind, GROUP, "Server") {
            Target::Server(name)
        } else if targets_kind(group, kind, "core", "Namespace") {
            Target::Namespace(name)
        } else if targets_kind(group, kind, GROUP, "HTTPRoute")
            || targets_kind(group, kind, "gateway.networking.k8s.io", "HTTPRoute")
        {
            Target::HttpRoute(name)
        } else if targets_kind(group, kind, "gateway.networking.k8s.io", "GRPCRoute") {
            Target::GrpcRoute(name)
        } else {
            Target::Unsupported(match group.filter(|g| !g.is_empty()) {
                Some(g) => format!("{kind}.{g}"),
                None => kind.to_owned(),
            })
        };
        let authns = obj
            .root
            .pointer("/spec/requiredAuthenticationRefs")
            .and_then(YamlNode::as_seq)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let s = |k: &str| r.get(k).and_then(YamlNode::as_str);
                let kind = s("kind").unwrap_or_default();
                let kind = if targets_kind(s("group"), kind, GROUP, "MeshTLSAuthentication") {
                    "MeshTLSAuthentication".to_owned()
                } else if targets_kind(s("group"), kind, GROUP, "NetworkAuthentication") {
                    "NetworkAuthentication".to_owned()
                } else if targets_kind(s("group"), kind, "core", "ServiceAccount") {
                    "ServiceAccount".to_owned()
                } else {
                    kind.to_owned()
                };
                AuthnRef {
                    kind,
                    namespace: s("namespace").unwrap_or(&namespace).to_owned(),
                    name: s("name").unwrap_or_default().to_owned(),
                    pointer: format!("/spec/requiredAuthenticationRefs/{i}"),
                }
            })
            .collect();
        Self {
            obj,
            namespace,
            target: Some(target),
            server_selector: None,
            target_pointer: "/spec/targetRef".to_owned(),
            authns,
            clients: Err(String::new()),
        }
    }

    /// Whether this is an AuthorizationPolicy (else a ServerAuthorization).
    #[must_use]
    pub fn is_policy(&self) -> bool {
        self.obj.kind() == "AuthorizationPolicy"
    }

    /// `Kind/namespace/name`.
    #[must_use]
    pub fn describe(&self) -> String {
        describe(self.obj)
    }
}

/// A MeshTLSAuthentication or NetworkAuthentication: what it admits, or why the controller
/// refuses it.
#[derive(Clone, Debug)]
pub struct Authentication<'o> {
    /// The object.
    pub obj: &'o Object,
    /// Identities (MeshTLSAuthentication) or networks (NetworkAuthentication).
    pub matches: Result<Vec<String>, String>,
}

impl<'o> Authentication<'o> {
    fn meshtls(obj: &'o Object) -> Self {
        let spec = obj.root.get("spec");
        let mut ids: Vec<String> = strings(spec.and_then(|s| s.get("identities"))).map(str::to_owned).collect();
        let mut error = None;
        for r in spec.and_then(|s| s.get("identityRefs")).and_then(YamlNode::as_seq).unwrap_or_default() {
            let s = |k: &str| r.get(k).and_then(YamlNode::as_str);
            let (kind, name) = (s("kind").unwrap_or_default(), s("name").unwrap_or_default());
            if targets_kind(s("group"), kind, "core", "ServiceAccount") {
                ids.push(service_account_identity(s("namespace").unwrap_or(ns_of(obj)), name));
            } else if targets_kind(s("group"), kind, "core", "Namespace") {
                ids.push(format!("*.{name}.serviceaccount.identity.{CONTROL_PLANE_NAMESPACE}.{TRUST_DOMAIN}"));
            } else {
                error.get_or_insert(format!("unsupported identityRefs kind {kind:?}"));
            }
        }
        let matches = match error {
            Some(e) => Err(e),
            None if ids.is_empty() => Err("no identities configured".to_owned()),
            None => Ok(ids),
        };
        Self { obj, matches }
    }

    fn network(obj: &'o Object) -> Self {
        let nets = networks(obj.root.pointer("/spec/networks"));
        Self { obj, matches: if nets.is_empty() { Err("no networks configured".to_owned()) } else { Ok(nets) } }
    }
}

/// An HTTPRoute or GRPCRoute whose parents are Servers.
#[derive(Clone, Debug)]
pub struct Route<'o> {
    /// The object.
    pub obj: &'o Object,
    /// `HTTPRoute` or `GRPCRoute`.
    pub kind: String,
    /// The Servers of its namespace among its `parentRefs`.
    pub servers: Vec<String>,
}

/// A pod (or a workload's pod template) as Linkerd sees it.
#[derive(Clone, Debug)]
pub struct Pod<'o> {
    /// The object.
    pub obj: &'o Object,
    /// Namespace (`default` when absent).
    pub namespace: String,
    /// Pod labels.
    pub labels: BTreeMap<String, String>,
    /// Pod annotations.
    pub annotations: BTreeMap<String, String>,
    /// Service account (`default` when absent).
    pub service_account: String,
    /// TCP container ports with their names (a number once, with its first name).
    pub ports: Vec<(u16, Option<String>)>,
    /// Every named TCP container port: name → numbers.
    pub port_names: BTreeMap<String, BTreeSet<u16>>,
    /// `hostNetwork: true`.
    pub host_network: bool,
    /// A container named `linkerd-proxy` (injected already, `linkerd inject --manual`).
    pub has_proxy: bool,
    /// JSON pointer of the pod (template) in the object.
    pub prefix: String,
}

impl<'o> Pod<'o> {
    fn from_object(obj: &'o Object) -> Option<Self> {
        let view = workload::pod_view(obj)?.ok()?;
        let mut ports: Vec<(u16, Option<String>)> = Vec::new();
        let mut port_names: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
        let mut has_proxy = false;
        for c in view.spec.containers.iter().flatten().chain(view.spec.init_containers.iter().flatten()) {
            has_proxy |= c.name.as_deref() == Some("linkerd-proxy");
            for p in c.ports.iter().flatten() {
                if !p.protocol.as_deref().is_none_or(|pr| pr.eq_ignore_ascii_case("TCP")) {
                    continue;
                }
                let Some(n) = p.container_port.and_then(|n| u16::try_from(n).ok()).filter(|n| *n > 0) else { continue };
                if let Some(name) = &p.name {
                    port_names.entry(name.clone()).or_default().insert(n);
                }
                if !ports.iter().any(|(q, _)| *q == n) {
                    ports.push((n, p.name.clone()));
                }
            }
        }
        ports.sort_unstable();
        Some(Self {
            obj,
            namespace: ns_of(obj).to_owned(),
            labels: view.metadata.labels.clone().unwrap_or_default(),
            annotations: view.metadata.annotations.clone().unwrap_or_default(),
            service_account: view.spec.service_account_name.clone().unwrap_or_else(|| "default".to_owned()),
            ports,
            port_names,
            host_network: view.spec.host_network == Some(true),
            has_proxy,
            prefix: view.prefix.clone(),
        })
    }

    /// `Kind/namespace/name`.
    #[must_use]
    pub fn describe(&self) -> String {
        describe(self.obj)
    }

    /// JSON pointer of one of the pod template's annotations.
    #[must_use]
    pub fn annotation_pointer(&self, key: &str) -> String {
        annotation_pointer(&self.prefix, key)
    }

    fn select_ports(&self, port: &PortRef) -> Vec<u16> {
        match port {
            PortRef::Number(n) => vec![*n],
            PortRef::Name(name) => self.port_names.get(name).map(|s| s.iter().copied().collect()).unwrap_or_default(),
        }
    }
}

/// Parses a port list as Linkerd's annotations take it: numbers and `low-high` ranges, separated
/// by commas; container port names resolve through `names` (the injector does so). An error names
/// the first bad entry.
///
/// # Errors
/// An entry that is no port 1–65535, no increasing range, and no known port name.
pub fn parse_ports(s: &str, names: &BTreeMap<String, BTreeSet<u16>>) -> Result<BTreeSet<u16>, String> {
    let mut out = BTreeSet::new();
    let port = |p: &str| p.trim().parse::<u16>().ok().filter(|n| *n > 0);
    for spec in s.split(',') {
        let spec = spec.trim();
        if spec.is_empty() {
            continue;
        }
        match spec.split_once('-') {
            Some((lo, hi)) => match (port(lo), port(hi)) {
                (Some(lo), Some(hi)) if lo <= hi => out.extend(lo..=hi),
                _ => return Err(format!("{spec:?} is no port range low-high (1-65535, increasing)")),
            },
            None => match port(spec) {
                Some(p) => {
                    out.insert(p);
                }
                None => match names.get(spec) {
                    Some(ps) => out.extend(ps),
                    None => return Err(format!("{spec:?} is no port number 1-65535 and no container port name")),
                },
            },
        }
    }
    Ok(out)
}

/// The inject annotation values the injector knows.
fn inject_value_valid(v: &str) -> bool {
    matches!(v, "" | "enabled" | "ingress" | "disabled")
}

/// The default inbound policy of a pod and what set it; with the annotation value that was
/// ignored, if any (`(decider, value)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodDefault {
    /// The policy.
    pub policy: DefaultPolicy,
    /// Who set it.
    pub by: Decider,
    /// An annotation whose value is no policy (the controller falls back to the cluster's).
    pub invalid: Option<(Decider, String)>,
}

/// One port's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortPolicy {
    /// The port (`None`: every port not listed).
    pub port: Option<u16>,
    /// Its container port name.
    pub name: Option<String>,
    /// Who may connect.
    pub access: Access,
    /// `detect`, `opaque`, `HTTP/1`, `HTTP/2`, `gRPC`, `TLS` (`none` unmeshed).
    pub protocol: String,
    /// What made the protocol (a Server, the opaque-ports annotation; `None`: detection).
    pub protocol_by: Option<Decider>,
    /// What decided the access: the injection, the default policy, or the Server.
    pub decided_by: Decider,
    /// The default policy, when no Server selects the port.
    pub default_policy: Option<DefaultPolicy>,
    /// The authorizations (empty: nobody).
    pub authorizations: Vec<Authorization>,
    /// Servers that also select the port and lose to the decider (`Server/ns/name`).
    pub shadowed: Vec<String>,
}

/// A workload's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadPolicy {
    /// Whether it has a proxy, and what decided it.
    pub meshed: bool,
    /// The annotation (or its absence, `level: injection` without object) that decided.
    pub injection: Decider,
    /// Why it has no proxy, when it has none.
    pub unmeshed_reason: Option<String>,
    /// The pod's default inbound policy.
    pub default: PodDefault,
    /// Per port: each container port and each port a Server selects, then `None` (the others).
    pub ports: Vec<PortPolicy>,
}

/// Everything Linkerd-related in a set of objects.
#[derive(Debug)]
pub struct Linkerd<'o> {
    /// The cluster's default inbound policy (the install value).
    pub cluster_default: DefaultPolicy,
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, &'o Object>,
    /// Pods and workloads.
    pub pods: Vec<Pod<'o>>,
    /// Servers (pod selectors and external-workload ones).
    pub servers: Vec<Server<'o>>,
    /// ServerAuthorizations and AuthorizationPolicies.
    pub authzs: Vec<Authz<'o>>,
    /// MeshTLSAuthentications by `(namespace, name)`.
    pub meshtls: BTreeMap<(String, String), Authentication<'o>>,
    /// NetworkAuthentications by `(namespace, name)`.
    pub networks: BTreeMap<(String, String), Authentication<'o>>,
    /// HTTPRoutes and GRPCRoutes by `(namespace, kind, name)`.
    pub routes: BTreeMap<(String, String, String), Route<'o>>,
}

/// Whether [`Linkerd::applies`] may be true for these objects, asked of one object at a time
/// (nothing held): a Linkerd policy object, or a Namespace, pod or pod template with a Linkerd
/// annotation or a `linkerd-proxy` container. False means the analysis has nothing to say.
#[must_use]
pub fn may_apply(objects: &[Object]) -> bool {
    let linkerd_key = |k: &str| k == INJECT || k.starts_with("config.linkerd.io/");
    objects.iter().any(|o| {
        o.group() == GROUP
            || (o.group().is_empty() && o.kind() == "Namespace" && o.annotations().any(|(k, _)| linkerd_key(k)))
            || Pod::from_object(o).is_some_and(|p| p.has_proxy || p.annotations.keys().any(|k| linkerd_key(k)))
    })
}

fn is_linkerd(obj: &Object, kind: &str) -> bool {
    obj.group() == GROUP && obj.kind() == kind
}

/// Whether `kguard scan` reads this object in the Linkerd analysis.
#[must_use]
pub fn is_policy_object(obj: &Object) -> bool {
    obj.group() == GROUP
        && matches!(
            obj.kind(),
            "Server"
                | "ServerAuthorization"
                | "AuthorizationPolicy"
                | "MeshTLSAuthentication"
                | "NetworkAuthentication"
        )
}

fn route(obj: &Object) -> Option<Route<'_>> {
    let kind = match (obj.group(), obj.kind()) {
        (GROUP | "gateway.networking.k8s.io", "HTTPRoute") => "HTTPRoute",
        ("gateway.networking.k8s.io", "GRPCRoute") => "GRPCRoute",
        _ => return None,
    };
    let ns = ns_of(obj);
    let servers = obj
        .root
        .pointer("/spec/parentRefs")
        .and_then(YamlNode::as_seq)
        .unwrap_or_default()
        .iter()
        .filter(|p| {
            let s = |k: &str| p.get(k).and_then(YamlNode::as_str);
            targets_kind(s("group"), s("kind").unwrap_or("Gateway"), GROUP, "Server")
                && s("namespace").is_none_or(|n| n == ns)
        })
        .filter_map(|p| p.get("name").and_then(YamlNode::as_str).map(str::to_owned))
        .collect();
    Some(Route { obj, kind: kind.to_owned(), servers })
}

impl<'o> Linkerd<'o> {
    /// Collects the objects.
    #[must_use]
    pub fn from_objects(objects: &'o [Object], cluster_default: DefaultPolicy) -> Self {
        let mut l = Self {
            cluster_default,
            namespaces: BTreeMap::new(),
            pods: Vec::new(),
            servers: Vec::new(),
            authzs: Vec::new(),
            meshtls: BTreeMap::new(),
            networks: BTreeMap::new(),
            routes: BTreeMap::new(),
        };
        for obj in objects {
            let key = || (ns_of(obj).to_owned(), obj.id.name.clone());
            if is_linkerd(obj, "Server") {
                l.servers.push(Server::from_object(obj));
            } else if is_linkerd(obj, "ServerAuthorization") {
                l.authzs.push(Authz::server_authorization(obj));
            } else if is_linkerd(obj, "AuthorizationPolicy") {
                l.authzs.push(Authz::authorization_policy(obj));
            } else if is_linkerd(obj, "MeshTLSAuthentication") {
                l.meshtls.insert(key(), Authentication::meshtls(obj));
            } else if is_linkerd(obj, "NetworkAuthentication") {
                l.networks.insert(key(), Authentication::network(obj));
            } else if let Some(r) = route(obj) {
                l.routes.insert((ns_of(obj).to_owned(), r.kind.clone(), obj.id.name.clone()), r);
            } else if obj.group().is_empty() && obj.kind() == "Namespace" {
                l.namespaces.insert(obj.id.name.clone(), obj);
            } else if let Some(p) = Pod::from_object(obj) {
                l.pods.push(p);
            }
        }
        l.servers.sort_by(|a, b| (&a.namespace, a.order_key()).cmp(&(&b.namespace, b.order_key())));
        l
    }

    /// Whether Linkerd applies to the input: a policy object, or a Linkerd annotation on a
    /// namespace or pod template.
    #[must_use]
    pub fn applies(&self) -> bool {
        let linkerd_key = |k: &str| k == INJECT || k.starts_with("config.linkerd.io/");
        !(self.servers.is_empty() && self.authzs.is_empty() && self.meshtls.is_empty() && self.networks.is_empty())
            || self.namespaces.values().any(|n| n.annotations().any(|(k, _)| linkerd_key(k)))
            || self.pods.iter().any(|p| p.has_proxy || p.annotations.keys().any(|k| linkerd_key(k)))
    }

    fn namespace_annotation(&self, ns: &str, key: &str) -> Option<(&'o Object, &'o str)> {
        let obj = *self.namespaces.get(ns)?;
        obj.annotation(key).map(|v| (obj, v))
    }

    /// Whether the pod gets a proxy: the injector's truth table over the namespace's and the pod
    /// template's `linkerd.io/inject` (an invalid value on either refuses injection), then
    /// `hostNetwork`. `(meshed, decider, reason when not)`.
    #[must_use]
    pub fn injection(&self, pod: &Pod<'o>) -> (bool, Decider, Option<String>) {
        if pod.has_proxy {
            let d = Decider::at("injection", pod.obj, &format!("{}/spec/containers", pod.prefix));
            return (true, d, None);
        }
        let ns = self.namespace_annotation(&pod.namespace, INJECT);
        let ns_value = ns.map_or("", |(_, v)| v);
        let pod_value = pod.annotations.get(INJECT).map_or("", String::as_str);
        let ns_decider = || ns.map(|(o, _)| Decider::at("namespace", o, &annotation_pointer("", INJECT)));
        let pod_decider = || Decider::at("pod", pod.obj, &pod.annotation_pointer(INJECT));
        let none = || Decider { level: "injection", object: None, location: None, pointer: None };
        let (meshed, by, reason) = if !inject_value_valid(ns_value) {
            (
                false,
                ns_decider().unwrap_or_else(none),
                Some(format!("the namespace's {INJECT}: {ns_value:?} is no valid value")),
            )
        } else if !inject_value_valid(pod_value) {
            (false, pod_decider(), Some(format!("{INJECT}: {pod_value:?} is no valid value")))
        } else if matches!(ns_value, "enabled" | "ingress") {
            if pod_value == "disabled" {
                (false, pod_decider(), Some(format!("{INJECT}: disabled on the pod template")))
            } else {
                (true, ns_decider().unwrap_or_else(none), None)
            }
        } else if matches!(pod_value, "enabled" | "ingress") {
            (true, pod_decider(), None)
        } else if pod_value == "disabled" {
            (false, pod_decider(), Some(format!("{INJECT}: disabled on the pod template")))
        } else {
            (false, none(), Some(format!("no {INJECT}: enabled on the pod template or its namespace")))
        };
        if meshed && pod.host_network {
            return (false, by, Some("hostNetwork pods are not injected".to_owned()));
        }
        (meshed, by, reason)
    }

    /// The pod's effective annotation: the pod template's, else its namespace's (the injector
    /// copies the namespace's config annotations that the pod lacks).
    fn config_annotation(&self, pod: &Pod<'o>, key: &str) -> Option<(Decider, String)> {
        if let Some(v) = pod.annotations.get(key) {
            return Some((Decider::at("pod", pod.obj, &pod.annotation_pointer(key)), v.clone()));
        }
        let (obj, v) = self.namespace_annotation(&pod.namespace, key)?;
        Some((Decider::at("namespace", obj, &annotation_pointer("", key)), v.to_owned()))
    }

    /// The pod's default inbound policy.
    #[must_use]
    pub fn pod_default(&self, pod: &Pod<'o>) -> PodDefault {
        match self.config_annotation(pod, DEFAULT_INBOUND_POLICY) {
            Some((by, v)) => match DefaultPolicy::parse(&v) {
                Some(policy) => PodDefault { policy, by, invalid: None },
                None => PodDefault { policy: self.cluster_default, by: Decider::cluster(), invalid: Some((by, v)) },
            },
            None => PodDefault { policy: self.cluster_default, by: Decider::cluster(), invalid: None },
        }
    }

    /// The pod's opaque ports, what set them, and a parse error.
    #[must_use]
    pub fn opaque_ports(&self, pod: &Pod<'o>) -> (BTreeSet<u16>, Option<Decider>, Option<String>) {
        match self.config_annotation(pod, OPAQUE_PORTS) {
            Some((by, v)) => match parse_ports(&v, &pod.port_names) {
                Ok(set) => (set, Some(by), None),
                Err(e) => (BTreeSet::new(), Some(by), Some(e)),
            },
            None => {
                let set: BTreeSet<u16> =
                    pod.ports.iter().map(|(p, _)| *p).filter(|p| DEFAULT_OPAQUE_PORTS.contains(p)).collect();
                let by = (!set.is_empty()).then(Decider::cluster);
                (set, by, None)
            }
        }
    }

    /// The Servers of a pod's namespace that select it, oldest first.
    pub fn servers_of<'a>(&'a self, pod: &'a Pod<'o>) -> impl Iterator<Item = &'a Server<'o>> + 'a {
        self.servers.iter().filter(move |s| {
            s.namespace == pod.namespace && s.pod_selector.as_ref().is_some_and(|sel| sel.matches(&pod.labels))
        })
    }

    /// The pods of the input a Server's `podSelector` selects.
    pub fn pods_of<'a>(&'a self, server: &'a Server<'o>) -> impl Iterator<Item = &'a Pod<'o>> + 'a {
        self.pods.iter().filter(move |p| {
            p.namespace == server.namespace && server.pod_selector.as_ref().is_some_and(|sel| sel.matches(&p.labels))
        })
    }

    /// The ports a Server selects on a pod.
    #[must_use]
    pub fn server_ports(&self, server: &Server<'o>, pod: &Pod<'o>) -> Vec<u16> {
        server.port.as_ref().map(|p| pod.select_ports(p)).unwrap_or_default()
    }

    /// An AuthorizationPolicy's clients (the controller's `policy_client_authz`), or why it
    /// ignores the policy.
    ///
    /// # Errors
    /// `(JSON pointer, why)`: a missing or refused MeshTLSAuthentication or
    /// NetworkAuthentication, two identity references, two network references, an unsupported
    /// reference kind; a ServerAuthorization's refused `client`.
    pub fn policy_clients(&self, a: &Authz<'o>) -> Result<(Clients, Networks), (String, String)> {
        if !a.is_policy() {
            return a.clients.clone().map_err(|e| ("/spec/client".to_owned(), e));
        }
        let mut identities: Option<Vec<String>> = None;
        let mut nets: Option<Vec<String>> = None;
        for r in &a.authns {
            let key = (r.namespace.clone(), r.name.clone());
            let err = |m: String| (r.pointer.clone(), m);
            let found = |map: &BTreeMap<(String, String), Authentication<'o>>| match map.get(&key) {
                None => Err(err(format!("{} {}/{} is not in the input", r.kind, r.namespace, r.name))),
                Some(Authentication { matches: Err(e), .. }) => {
                    Err(err(format!("{} {}/{} is refused by the controller: {e}", r.kind, r.namespace, r.name)))
                }
                Some(Authentication { matches: Ok(m), .. }) => Ok(m.clone()),
            };
            match r.kind.as_str() {
                "MeshTLSAuthentication" | "ServiceAccount" => {
                    if identities.is_some() {
                        return Err(err("more than one MeshTLSAuthentication or ServiceAccount".to_owned()));
                    }
                    identities = Some(if r.kind == "ServiceAccount" {
                        vec![service_account_identity(&r.namespace, &r.name)]
                    } else {
                        found(&self.meshtls)?
                    });
                }
                "NetworkAuthentication" => {
                    if nets.is_some() {
                        return Err(err("more than one NetworkAuthentication".to_owned()));
                    }
                    nets = Some(found(&self.networks)?);
                }
                other => return Err(err(format!("unsupported authentication kind {other:?}"))),
            }
        }
        Ok((
            identities.map_or(Clients::Unauthenticated, Clients::Identities),
            nets.map_or(Networks::All, Networks::Cidrs),
        ))
    }

    /// Why an AuthorizationPolicy's target is refused (another namespace, another kind).
    #[must_use]
    pub fn target_error(&self, a: &Authz<'o>) -> Option<String> {
        match a.target.as_ref()? {
            Target::Namespace(n) if *n != a.namespace => {
                Some(format!("targets Namespace {n}: a policy can only target its own namespace ({})", a.namespace))
            }
            Target::Unsupported(k) => Some(format!("targets a {k}: only Server, Namespace, HTTPRoute, GRPCRoute")),
            _ => None,
        }
    }

    /// Whether an authorization applies to a Server itself (not through a route).
    #[must_use]
    pub fn authorizes_server(&self, a: &Authz<'o>, server: &Server<'o>) -> bool {
        if a.namespace != server.namespace {
            return false;
        }
        match (&a.target, &a.server_selector) {
            (Some(Target::Server(n)), _) => *n == server.name,
            (Some(Target::Namespace(n)), _) => *n == a.namespace,
            (None, Some(sel)) => sel.matches(&server.labels),
            _ => false,
        }
    }

    /// The route an AuthorizationPolicy targets, if it exists and has the Server as a parent.
    #[must_use]
    pub fn route_of(&self, a: &Authz<'o>, server: &Server<'o>) -> Option<&Route<'o>> {
        let (kind, name) = match a.target.as_ref()? {
            Target::HttpRoute(n) => ("HTTPRoute", n),
            Target::GrpcRoute(n) => ("GRPCRoute", n),
            _ => return None,
        };
        let r = self.routes.get(&(a.namespace.clone(), kind.to_owned(), name.clone()))?;
        (a.namespace == server.namespace && r.servers.contains(&server.name)).then_some(r)
    }

    /// The authorizations of a Server: ServerAuthorizations and AuthorizationPolicies that
    /// target it (or its namespace, or one of its routes) and that the controller accepts, then
    /// its `accessPolicy`.
    #[must_use]
    pub fn server_authorizations(&self, server: &Server<'o>) -> Vec<Authorization> {
        let mut out = Vec::new();
        for a in &self.authzs {
            let route = self.route_of(a, server);
            if !(self.authorizes_server(a, server) || route.is_some()) || self.target_error(a).is_some() {
                continue;
            }
            let Ok((clients, networks)) = self.policy_clients(a) else { continue };
            out.push(Authorization {
                by: Decider::at("authorization", a.obj, &a.target_pointer),
                route: route.map(|r| describe(r.obj)),
                clients,
                networks,
            });
        }
        if let Some((clients, networks)) = server.access_policy.and_then(|p| p.grant(false)) {
            out.push(Authorization {
                by: Decider::at("server", server.obj, "/spec/accessPolicy"),
                route: None,
                clients,
                networks,
            });
        }
        out
    }

    /// Every workload port's answer.
    #[must_use]
    pub fn evaluate(&self, pod: &Pod<'o>, only: Option<u16>) -> WorkloadPolicy {
        let (meshed, injection, unmeshed_reason) = self.injection(pod);
        let default = self.pod_default(pod);
        // The Server of each port: the oldest selecting it; the others lose.
        let mut by_port: BTreeMap<u16, (&Server<'o>, Vec<String>)> = BTreeMap::new();
        for s in self.servers_of(pod) {
            for p in self.server_ports(s, pod) {
                by_port.entry(p).and_modify(|(_, lost)| lost.push(s.describe())).or_insert((s, Vec::new()));
            }
        }
        let mut ports: Vec<(u16, Option<String>)> = pod.ports.clone();
        for p in by_port.keys().copied().chain(only) {
            if !ports.iter().any(|(q, _)| *q == p) {
                ports.push((p, None));
            }
        }
        ports.sort_unstable();
        let (opaque, opaque_by, _) = self.opaque_ports(pod);
        let require_id = self
            .config_annotation(pod, REQUIRE_IDENTITY_PORTS)
            .and_then(|(_, v)| parse_ports(&v, &pod.port_names).ok())
            .unwrap_or_default();
        let row = |port: Option<u16>, name: Option<String>| -> PortPolicy {
            if !meshed {
                return PortPolicy {
                    port,
                    name,
                    access: Access::Unmeshed,
                    protocol: "none".to_owned(),
                    protocol_by: None,
                    decided_by: injection.clone(),
                    default_policy: None,
                    authorizations: Vec::new(),
                    shadowed: Vec::new(),
                };
            }
            if let Some((server, lost)) = port.and_then(|p| by_port.get(&p)) {
                let authorizations = self.server_authorizations(server);
                return PortPolicy {
                    port,
                    name,
                    access: access_of(&authorizations),
                    protocol: server.protocol().to_owned(),
                    protocol_by: Some(Decider::at("server", server.obj, "/spec/proxyProtocol")),
                    decided_by: Decider::at("server", server.obj, "/spec/port"),
                    default_policy: None,
                    authorizations,
                    shadowed: lost.clone(),
                };
            }
            let is_opaque = port.is_some_and(|p| opaque.contains(&p));
            let require = port.is_some_and(|p| require_id.contains(&p));
            let authorizations: Vec<Authorization> = default
                .policy
                .grant(require)
                .map(|(clients, networks)| Authorization { by: default.by.clone(), route: None, clients, networks })
                .into_iter()
                .collect();
            PortPolicy {
                port,
                name,
                access: access_of(&authorizations),
                protocol: if is_opaque { "opaque" } else { "detect" }.to_owned(),
                protocol_by: if is_opaque { opaque_by.clone() } else { None },
                decided_by: default.by.clone(),
                default_policy: Some(default.policy),
                authorizations,
                shadowed: Vec::new(),
            }
        };
        let mut out: Vec<PortPolicy> = ports
            .into_iter()
            .filter(|(p, _)| only.is_none_or(|o| o == *p))
            .map(|(p, name)| row(Some(p), name))
            .collect();
        if only.is_none() {
            out.push(row(None, None));
        }
        WorkloadPolicy { meshed, injection, unmeshed_reason, default, ports: out }
    }

    /// Finds a pod or workload by `name`, `namespace/name` or `Kind/namespace/name`.
    #[must_use]
    pub fn find_pod(&self, spec: &str) -> Vec<&Pod<'o>> {
        self.pods.iter().filter(|w| crate::istio::names(spec, w.obj, &w.namespace)).collect()
    }
}

/// The access a set of authorizations gives.
#[must_use]
pub fn access_of(authorizations: &[Authorization]) -> Access {
    if authorizations.is_empty() {
        Access::Deny
    } else if authorizations.iter().any(|a| a.clients == Clients::Unauthenticated) {
        Access::Plaintext
    } else {
        Access::MeshTls
    }
}
