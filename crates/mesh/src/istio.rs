//! Istio's mTLS policy objects, read from manifests with their positions, and the decisions
//! istiod makes from them:
//!
//! * which PeerAuthentications apply to a workload (`getConfigsForWorkload`: the root namespace
//!   and the workload's namespace, `matchLabels` a subset of the pod labels) and how they compose
//!   (`ComposePeerAuthentication`: mesh < namespace < workload, oldest first then name,
//!   `UNSET` inherits, port-level modes only from the workload policy);
//! * the effective mode of each port of a workload and the object that decided it
//!   (`kguard mesh explain`);
//! * DestinationRule `tls.mode` and AuthorizationPolicy identity conditions, judged against
//!   the server side's mode ([`crate::findings`]).

use std::collections::BTreeMap;

use kguard_model::Object;
use kguard_model::workload;
use kguard_model::yaml::YamlNode;

/// Istio's default root namespace (`meshConfig.rootNamespace`).
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";

/// A PeerAuthentication mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// Inherit from the parent level (`UNSET`, or no `mode`).
    Unset,
    /// Plaintext only.
    Disable,
    /// mTLS and plaintext.
    Permissive,
    /// mTLS only.
    Strict,
}

impl Mode {
    /// The API spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unset => "UNSET",
            Self::Disable => "DISABLE",
            Self::Permissive => "PERMISSIVE",
            Self::Strict => "STRICT",
        }
    }

    /// From the API spelling (an unknown value is `None`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "UNSET" => Self::Unset,
            "DISABLE" => Self::Disable,
            "PERMISSIVE" => Self::Permissive,
            "STRICT" => Self::Strict,
            _ => return None,
        })
    }
}

/// Whether the object is an Istio security/networking object of this kind.
#[must_use]
pub fn is_istio(obj: &Object, group: &str, kind: &str) -> bool {
    obj.group() == group && obj.kind() == kind
}

/// A port-level mode of a PeerAuthentication.
#[derive(Clone, Debug)]
pub struct PortMtls {
    /// The key as written.
    pub key: String,
    /// The port, when the key is one (1–65535).
    pub port: Option<u32>,
    /// The mode (`Unset` for `{}` or `UNSET`).
    pub mode: Mode,
    /// JSON pointer of the entry.
    pub pointer: String,
}

/// A PeerAuthentication as istiod reads it.
#[derive(Clone, Debug)]
pub struct PeerAuthentication<'o> {
    /// The object.
    pub obj: &'o Object,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (`default` when absent).
    pub namespace: String,
    /// `metadata.creationTimestamp` in Unix seconds (absent: Go's zero time, before all).
    pub created: Option<i64>,
    /// `spec.selector` is present.
    pub has_selector: bool,
    /// `spec.selector.matchLabels`.
    pub match_labels: BTreeMap<String, String>,
    /// `spec.mtls.mode` (`Unset` when absent).
    pub mode: Mode,
    /// `spec.mtls.mode` as written when it is no known mode.
    pub bad_mode: Option<String>,
    /// `spec.portLevelMtls`, or `None` when absent.
    pub port_level: Option<Vec<PortMtls>>,
}

fn str_map(node: Option<&YamlNode>) -> BTreeMap<String, String> {
    kguard_model::object::string_map(node).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

impl<'o> PeerAuthentication<'o> {
    /// Reads a `security.istio.io` PeerAuthentication (`None` for anything else).
    #[must_use]
    pub fn from_object(obj: &'o Object) -> Option<Self> {
        if !is_istio(obj, "security.istio.io", "PeerAuthentication") {
            return None;
        }
        let root = &obj.root;
        let mode_str = root.pointer("/spec/mtls/mode").and_then(YamlNode::as_str);
        let mode = mode_str.map_or(Some(Mode::Unset), Mode::parse);
        let port_level = root.pointer("/spec/portLevelMtls").and_then(YamlNode::as_map).map(|entries| {
            entries
                .iter()
                .map(|e| PortMtls {
                    key: e.key.clone(),
                    port: e.key.parse::<u32>().ok().filter(|p| (1..=65535).contains(p)),
                    mode: e.value.get("mode").and_then(YamlNode::as_str).and_then(Mode::parse).unwrap_or(Mode::Unset),
                    pointer: format!("/spec/portLevelMtls/{}", kguard_model::yaml::escape_pointer_token(&e.key)),
                })
                .collect()
        });
        Some(Self {
            obj,
            name: obj.id.name.clone(),
            namespace: obj.id.namespace.clone().unwrap_or_else(|| "default".to_owned()),
            created: root
                .pointer("/metadata/creationTimestamp")
                .and_then(YamlNode::as_str)
                .and_then(|t| kguard_model::time::parse_rfc3339(t).ok()),
            has_selector: root.pointer("/spec/selector").is_some_and(|n| !n.is_null()),
            match_labels: str_map(root.pointer("/spec/selector/matchLabels")),
            mode: mode.unwrap_or(Mode::Unset),
            bad_mode: if mode.is_none() { mode_str.map(str::to_owned) } else { None },
            port_level,
        })
    }

    /// Namespace-wide (or mesh-wide in the root namespace): no selector or empty `matchLabels`.
    #[must_use]
    pub fn is_namespace_wide(&self) -> bool {
        self.match_labels.is_empty()
    }

    /// The level istiod gives it.
    #[must_use]
    pub fn level(&self, root_namespace: &str) -> Level {
        match (self.namespace == root_namespace, self.is_namespace_wide()) {
            (true, true) => Level::Mesh,
            (true, false) => Level::Ignored,
            (false, true) => Level::Namespace,
            (false, false) => Level::Workload,
        }
    }

    /// Whether it applies to a pod of `namespace` with `labels` (before composition): it is in
    /// the root namespace or the pod's, and its `matchLabels` are a subset of the labels.
    #[must_use]
    pub fn selects(&self, root_namespace: &str, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        (self.namespace == root_namespace || self.namespace == namespace)
            && self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    fn order_key(&self) -> (i64, &str, &str) {
        (self.created.unwrap_or(i64::MIN), &self.name, &self.namespace)
    }

    /// `Kind/namespace/name`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("PeerAuthentication/{}/{}", self.namespace, self.name)
    }
}

/// The level of a PeerAuthentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Root namespace, no selector.
    Mesh,
    /// Another namespace, no selector.
    Namespace,
    /// A selector outside the root namespace.
    Workload,
    /// A selector in the root namespace: istiod ignores it.
    Ignored,
}

/// What decided a mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// No policy set a mode: Istio's default, PERMISSIVE.
    Default,
    /// The mode of this policy (`Kind/ns/name`), at this level, at this JSON pointer in its file.
    Policy {
        /// `PeerAuthentication/ns/name`.
        object: String,
        /// `mesh`, `namespace`, `workload` or `port`.
        level: &'static str,
        /// `file:line:column` of the mode.
        location: String,
    },
}

/// The composed result for one workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Merged {
    /// The workload's mode.
    pub mode: Mode,
    /// Who decided it.
    pub source: Source,
    /// Port-level modes (from the workload policy), with who decided each.
    pub per_port: Option<BTreeMap<u32, (Mode, Source)>>,
}

impl Merged {
    /// The mode on `port` and its source.
    #[must_use]
    pub fn port(&self, port: u32) -> (Mode, &Source) {
        match self.per_port.as_ref().and_then(|p| p.get(&port)) {
            Some((m, s)) => (*m, s),
            None => (self.mode, &self.source),
        }
    }
}

fn source(pa: &PeerAuthentication<'_>, level: &'static str, pointer: &str) -> Source {
    Source::Policy { object: pa.describe(), level, location: pa.obj.location(pointer).to_string() }
}

/// Istio's `ComposePeerAuthentication` over the policies that apply to one workload.
#[must_use]
pub fn compose(root_namespace: &str, configs: &[&PeerAuthentication<'_>]) -> Merged {
    let mut sorted: Vec<&PeerAuthentication<'_>> = configs.to_vec();
    sorted.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    let pick = |level: Level| sorted.iter().copied().find(|p| p.level(root_namespace) == level);
    let (mesh, namespace, workload) = (pick(Level::Mesh), pick(Level::Namespace), pick(Level::Workload));
    let mut out = Merged { mode: Mode::Permissive, source: Source::Default, per_port: None };
    for (pa, level) in [(mesh, "mesh"), (namespace, "namespace"), (workload, "workload")] {
        if let Some(pa) = pa.filter(|p| p.mode != Mode::Unset) {
            out.mode = pa.mode;
            out.source = source(pa, level, "/spec/mtls/mode");
        }
    }
    if let Some(ports) = workload.and_then(|w| w.port_level.as_ref().map(|p| (w, p))) {
        let (w, ports) = ports;
        let mut per = BTreeMap::new();
        for p in ports {
            let Ok(port) = p.key.parse::<u32>() else { continue };
            let v = if p.mode == Mode::Unset {
                (out.mode, out.source.clone())
            } else {
                (p.mode, source(w, "port", &format!("{}/mode", p.pointer)))
            };
            per.insert(port, v);
        }
        out.per_port = Some(per);
    }
    out
}

/// A workload's pod template as the mesh sees it.
#[derive(Clone, Debug)]
pub struct Workload<'o> {
    /// The object.
    pub obj: &'o Object,
    /// Namespace (`default` when absent).
    pub namespace: String,
    /// Pod labels.
    pub labels: BTreeMap<String, String>,
    /// Service account (`default` when absent).
    pub service_account: String,
    /// Container ports (TCP), with their names.
    pub ports: Vec<(u32, Option<String>)>,
    /// `sidecar.istio.io/inject: "false"` on the pod template.
    pub injection_disabled: bool,
}

impl<'o> Workload<'o> {
    /// The pod template of a workload object (`None` for other kinds or malformed ones).
    #[must_use]
    pub fn from_object(obj: &'o Object) -> Option<Self> {
        let view = workload::pod_view(obj)?.ok()?;
        let mut ports = Vec::new();
        for c in view.spec.containers.iter().flatten().chain(view.spec.init_containers.iter().flatten()) {
            for p in c.ports.iter().flatten() {
                if p.protocol.as_deref().is_none_or(|pr| pr == "TCP")
                    && let Some(n) = p.container_port.and_then(|n| u32::try_from(n).ok())
                    && !ports.iter().any(|(q, _)| *q == n)
                {
                    ports.push((n, p.name.clone()));
                }
            }
        }
        ports.sort_unstable();
        let annotation = |k: &str| view.metadata.annotations.as_ref().and_then(|a| a.get(k)).map(String::as_str);
        let label = |k: &str| view.metadata.labels.as_ref().and_then(|a| a.get(k)).map(String::as_str);
        Some(Self {
            obj,
            namespace: obj.id.namespace.clone().unwrap_or_else(|| "default".to_owned()),
            labels: view.metadata.labels.clone().unwrap_or_default(),
            service_account: view.spec.service_account_name.clone().unwrap_or_else(|| "default".to_owned()),
            ports,
            injection_disabled: annotation("sidecar.istio.io/inject") == Some("false")
                || label("sidecar.istio.io/inject") == Some("false"),
        })
    }

    /// `Kind/namespace/name`.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{}/{}/{}", self.obj.kind(), self.namespace, self.obj.id.name)
    }
}

/// Everything mesh-related in a set of objects.
#[derive(Debug, Default)]
pub struct Mesh<'o> {
    /// The root namespace.
    pub root_namespace: String,
    /// PeerAuthentications.
    pub peer_authentications: Vec<PeerAuthentication<'o>>,
    /// Workloads.
    pub workloads: Vec<Workload<'o>>,
    /// Services.
    pub services: Vec<&'o Object>,
    /// DestinationRules.
    pub destination_rules: Vec<&'o Object>,
    /// AuthorizationPolicies.
    pub authorization_policies: Vec<&'o Object>,
}

impl<'o> Mesh<'o> {
    /// Collects the objects (root namespace `istio-system`).
    #[must_use]
    pub fn from_objects(objects: &'o [Object], root_namespace: &str) -> Self {
        let mut m = Self { root_namespace: root_namespace.to_owned(), ..Self::default() };
        for obj in objects {
            if let Some(pa) = PeerAuthentication::from_object(obj) {
                m.peer_authentications.push(pa);
            } else if is_istio(obj, "networking.istio.io", "DestinationRule") {
                m.destination_rules.push(obj);
            } else if is_istio(obj, "security.istio.io", "AuthorizationPolicy") {
                m.authorization_policies.push(obj);
            } else if obj.group().is_empty() && obj.kind() == "Service" {
                m.services.push(obj);
            } else if let Some(w) = Workload::from_object(obj) {
                m.workloads.push(w);
            }
        }
        m
    }

    /// Whether the input has any Istio security or networking object.
    #[must_use]
    pub fn has_istio(&self) -> bool {
        !(self.peer_authentications.is_empty()
            && self.destination_rules.is_empty()
            && self.authorization_policies.is_empty())
    }

    /// The PeerAuthentications that apply to a workload, and their composition.
    #[must_use]
    pub fn effective(&self, w: &Workload<'_>) -> Merged {
        let applying: Vec<&PeerAuthentication<'_>> = self
            .peer_authentications
            .iter()
            .filter(|p| p.selects(&self.root_namespace, &w.namespace, &w.labels))
            .collect();
        compose(&self.root_namespace, &applying)
    }

    /// Finds a workload by `name`, `namespace/name` or `Kind/namespace/name`.
    #[must_use]
    pub fn find_workload(&self, spec: &str) -> Vec<&Workload<'o>> {
        self.workloads.iter().filter(|w| names(spec, w.obj, &w.namespace)).collect()
    }

    /// The Services in `namespace` whose selector picks the workload.
    #[must_use]
    pub fn services_of(&self, w: &Workload<'_>) -> Vec<&'o Object> {
        self.services
            .iter()
            .copied()
            .filter(|s| s.id.namespace.as_deref().unwrap_or("default") == w.namespace)
            .filter(|s| {
                let sel = str_map(s.root.pointer("/spec/selector"));
                !sel.is_empty() && sel.iter().all(|(k, v)| w.labels.get(k) == Some(v))
            })
            .collect()
    }

    /// The workloads behind a DestinationRule `host` (short name, `name.ns`, or
    /// `name.ns.svc.<domain>`) as seen from `from_namespace`.
    #[must_use]
    pub fn workloads_for_host(&self, host: &str, from_namespace: &str) -> Vec<(&Workload<'o>, &'o Object)> {
        let mut parts = host.split('.');
        let name = parts.next().unwrap_or("");
        let ns = parts.next().unwrap_or(from_namespace);
        let mut out = Vec::new();
        for w in self.workloads.iter().filter(|w| w.namespace == ns) {
            for s in self.services_of(w) {
                if s.id.name == name {
                    out.push((w, s));
                }
            }
        }
        out
    }
}

/// The effective mode of each port of a workload, for `kguard mesh explain`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMode {
    /// The port (`None`: the workload's mode, for ports not listed).
    pub port: Option<u32>,
    /// Its name in the pod spec.
    pub name: Option<String>,
    /// The mode.
    pub mode: Mode,
    /// What decided it.
    pub source: Source,
}

/// The modes of a workload's ports: each container port and each port-level entry, then the
/// workload's mode for every other port. `only` limits it to one port.
#[must_use]
pub fn explain(mesh: &Mesh<'_>, w: &Workload<'_>, only: Option<u32>) -> Vec<PortMode> {
    let merged = mesh.effective(w);
    let mut ports: Vec<(u32, Option<String>)> = w.ports.clone();
    for p in merged.per_port.iter().flat_map(BTreeMap::keys) {
        if !ports.iter().any(|(q, _)| q == p) {
            ports.push((*p, None));
        }
    }
    if let Some(o) = only
        && !ports.iter().any(|(q, _)| *q == o)
    {
        ports.push((o, None));
    }
    ports.sort_unstable();
    let mut out: Vec<PortMode> = ports
        .into_iter()
        .filter(|(p, _)| only.is_none_or(|o| o == *p))
        .map(|(p, name)| {
            let (mode, source) = merged.port(p);
            PortMode { port: Some(p), name, mode, source: source.clone() }
        })
        .collect();
    if only.is_none() {
        out.push(PortMode { port: None, name: None, mode: merged.mode, source: merged.source });
    }
    out
}

/// Whether `spec` (`name`, `namespace/name` or `Kind/namespace/name`, the kind case-insensitive)
/// names the workload `obj` in `namespace` (what `kguard mesh explain WORKLOAD` accepts).
pub(crate) fn names(spec: &str, obj: &Object, namespace: &str) -> bool {
    let parts: Vec<&str> = spec.split('/').collect();
    match parts.as_slice() {
        [name] => obj.id.name == *name,
        [ns, name] => namespace == *ns && obj.id.name == *name,
        [kind, ns, name] => obj.kind().eq_ignore_ascii_case(kind) && namespace == *ns && obj.id.name == *name,
        _ => false,
    }
}
