//! The cluster as the NetworkPolicy engine sees it: namespaces, workloads (pods grouped by their
//! owner), NetworkPolicies and admin policies, read from [`kguard_model::Object`]s.

use std::collections::BTreeMap;

use kguard_model::{Object, YamlNode};

use super::sets::{IpSet, PortSet, Protocol};

/// Labels of a pod or namespace.
pub type Labels = BTreeMap<String, String>;

/// The label every namespace carries (set by the API server since Kubernetes 1.22).
pub const NS_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A problem met while reading the inputs (the engine goes on without the offending part).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Index of the object concerned in the input slice.
    pub object: Option<usize>,
    /// JSON pointer of the field concerned.
    pub pointer: String,
    /// What.
    pub message: String,
}

/// A `matchExpressions` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// Key present with one of the values.
    In,
    /// Key absent, or its value is none of the values.
    NotIn,
    /// Key present.
    Exists,
    /// Key absent.
    DoesNotExist,
}

/// One `matchExpressions` item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// Operator.
    pub op: Operator,
    /// Values (for `In`/`NotIn`).
    pub values: Vec<String>,
}

/// A Kubernetes label selector (`matchLabels` AND `matchExpressions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    /// `matchLabels`.
    pub match_labels: Vec<(String, String)>,
    /// `matchExpressions`.
    pub match_expressions: Vec<Requirement>,
    /// Set when the selector could not be read; an invalid selector selects nothing.
    pub invalid: bool,
}

impl LabelSelector {
    /// Reads a selector node; problems are pushed to `warnings`.
    #[must_use]
    pub fn parse(node: &YamlNode, object: Option<usize>, pointer: &str, warnings: &mut Vec<Warning>) -> Self {
        let mut sel = Self::default();
        let mut warn = |p: String, m: String, sel: &mut Self| {
            sel.invalid = true;
            warnings.push(Warning { object, pointer: p, message: m });
        };
        if let Some(ml) = node.get("matchLabels").and_then(YamlNode::as_map) {
            for e in ml {
                match scalar_string(&e.value) {
                    Some(v) => sel.match_labels.push((e.key.clone(), v)),
                    None => warn(
                        format!("{pointer}/matchLabels"),
                        format!("label {:?} has a non-string value", e.key),
                        &mut sel,
                    ),
                }
            }
        }
        if let Some(exprs) = node.get("matchExpressions").and_then(YamlNode::as_seq) {
            for (i, x) in exprs.iter().enumerate() {
                let p = format!("{pointer}/matchExpressions/{i}");
                let key = x.get("key").and_then(YamlNode::as_str).unwrap_or_default().to_owned();
                let op = match x.get("operator").and_then(YamlNode::as_str).unwrap_or_default() {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        warn(p, format!("{other:?} is not a valid label selector operator"), &mut sel);
                        continue;
                    }
                };
                let values: Vec<String> = x
                    .get("values")
                    .and_then(YamlNode::as_seq)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(scalar_string)
                    .collect();
                if matches!(op, Operator::In | Operator::NotIn) && values.is_empty() {
                    warn(p, format!("operator {op:?} needs at least one value"), &mut sel);
                    continue;
                }
                sel.match_expressions.push(Requirement { key, op, values });
            }
        }
        sel
    }

    /// Whether the selector is `{}` (selects everything).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.invalid && self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether `labels` match.
    #[must_use]
    pub fn matches(&self, labels: &Labels) -> bool {
        if self.invalid {
            return false;
        }
        self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| {
                let val = labels.get(&r.key);
                match r.op {
                    Operator::In => val.is_some_and(|v| r.values.contains(v)),
                    Operator::NotIn => !val.is_some_and(|v| r.values.contains(v)),
                    Operator::Exists => val.is_some(),
                    Operator::DoesNotExist => val.is_none(),
                }
            })
    }

    /// Every label key the selector reads.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.match_labels.iter().map(|(k, _)| k.as_str()).chain(self.match_expressions.iter().map(|r| r.key.as_str()))
    }
}

impl std::fmt::Display for LabelSelector {
    /// `{}` or `k=v,k2 in (a,b),!k3`, like Kubernetes' selector strings.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("{}");
        }
        let mut parts: Vec<String> = self.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for r in &self.match_expressions {
            parts.push(match r.op {
                Operator::In => format!("{} in ({})", r.key, r.values.join(",")),
                Operator::NotIn => format!("{} notin ({})", r.key, r.values.join(",")),
                Operator::Exists => r.key.clone(),
                Operator::DoesNotExist => format!("!{}", r.key),
            });
        }
        f.write_str(&parts.join(","))
    }
}

/// A named container port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NamedPort {
    /// `name`.
    pub name: String,
    /// `containerPort`.
    pub port: u32,
    /// `protocol` (TCP when unset).
    pub protocol: Protocol,
}

/// A workload: the pods of one owner (or one bare pod), as np-guard groups them.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Namespace (`default` when unset).
    pub namespace: String,
    /// Owner name (or the pod's name).
    pub name: String,
    /// Owner kind (`Pod` for a bare pod).
    pub kind: String,
    /// Pod labels (of the template, or of the first pod of the owner).
    pub labels: Labels,
    /// Named container ports.
    pub ports: Vec<NamedPort>,
    /// Index of the object it was read from.
    pub object: usize,
    /// JSON pointer of the pod template (or `""` for a pod).
    pub template: String,
}

impl Workload {
    /// `ns/name[Kind]`, np-guard's peer name.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}/{}[{}]", self.namespace, self.name, self.kind)
    }

    /// Resolves a named port on this workload's containers (first container port with that name).
    #[must_use]
    pub fn named_port(&self, name: &str) -> Option<&NamedPort> {
        self.ports.iter().find(|p| p.name == name)
    }
}

/// A namespace with its labels.
#[derive(Clone, Debug)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// Labels, including `kubernetes.io/metadata.name`.
    pub labels: Labels,
    /// Index of the Namespace object, `None` when only referenced.
    pub object: Option<usize>,
}

/// A port of a NetworkPolicy rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    /// Every port of the protocol.
    All,
    /// `port`..=`endPort`.
    Range(u32, u32),
    /// A named port, resolved on the destination pod.
    Named(String),
}

/// One `ports` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulePort {
    /// Protocol (TCP by default).
    pub protocol: Protocol,
    /// Port(s).
    pub port: PortSpec,
}

/// One `from`/`to` item.
#[derive(Clone, Debug)]
pub enum Peer {
    /// Pods by selectors: `pod` alone is the policy's namespace; `ns` alone all pods there.
    Selectors {
        /// `podSelector`.
        pod: Option<LabelSelector>,
        /// `namespaceSelector`.
        ns: Option<LabelSelector>,
    },
    /// `ipBlock`: external addresses.
    IpBlock {
        /// `cidr` minus `except`.
        set: IpSet,
        /// The original text, `cidr except [..]`.
        text: String,
    },
    /// An item that selects nothing (invalid).
    Nothing,
}

/// One ingress or egress rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Peers, `None` when `from`/`to` is empty or missing (all sources / destinations).
    pub peers: Option<Vec<Peer>>,
    /// Ports; empty means every port and protocol.
    pub ports: Vec<RulePort>,
    /// JSON pointer of the rule.
    pub pointer: String,
}

/// A `networking.k8s.io/v1` NetworkPolicy.
#[derive(Clone, Debug)]
pub struct NetworkPolicy {
    /// Namespace (`default` when unset).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Index of its object.
    pub object: usize,
    /// `spec.podSelector`.
    pub pod_selector: LabelSelector,
    /// Whether it isolates the selected pods for ingress (policyTypes, defaulted).
    pub affects_ingress: bool,
    /// Whether it isolates them for egress.
    pub affects_egress: bool,
    /// Ingress rules.
    pub ingress: Vec<Rule>,
    /// Egress rules.
    pub egress: Vec<Rule>,
}

impl NetworkPolicy {
    /// `ns/name`.
    #[must_use]
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// An admin policy action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Allow (final).
    Allow,
    /// Deny (final).
    Deny,
    /// Delegate to NetworkPolicies (then the baseline).
    Pass,
}

/// Pods chosen by an admin policy subject or peer.
#[derive(Clone, Debug)]
pub enum AdminSelector {
    /// All pods of the namespaces matching.
    Namespaces(LabelSelector),
    /// Pods matching `pod` in namespaces matching `ns`.
    Pods {
        /// `namespaceSelector`.
        ns: LabelSelector,
        /// `podSelector`.
        pod: LabelSelector,
    },
}

impl AdminSelector {
    /// Whether it selects a pod with `labels` in a namespace with `ns_labels`.
    #[must_use]
    pub fn matches(&self, ns_labels: &Labels, labels: &Labels) -> bool {
        match self {
            Self::Namespaces(ns) => ns.matches(ns_labels),
            Self::Pods { ns, pod } => ns.matches(ns_labels) && pod.matches(labels),
        }
    }
}

/// An admin policy rule peer.
#[derive(Clone, Debug)]
pub enum AdminPeer {
    /// Pods.
    Pods(AdminSelector),
    /// External networks (egress only).
    Networks(IpSet),
    /// Nodes (not modelled: matches nothing we list).
    Nodes,
}

/// An admin policy rule port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminPort {
    /// `portNumber` or `portRange`.
    Ports(Protocol, PortSet),
    /// `namedPort`, resolved on the destination pod for any protocol.
    Named(String),
}

/// An AdminNetworkPolicy / BaselineAdminNetworkPolicy rule.
#[derive(Clone, Debug)]
pub struct AdminRule {
    /// `name`.
    pub name: String,
    /// `action` (`Pass` is not valid in a baseline).
    pub action: Action,
    /// Peers (`from`/`to`).
    pub peers: Vec<AdminPeer>,
    /// Ports; `None` means all.
    pub ports: Option<Vec<AdminPort>>,
    /// JSON pointer of the rule.
    pub pointer: String,
}

/// An AdminNetworkPolicy (with priority) or the BaselineAdminNetworkPolicy (`priority: None`).
#[derive(Clone, Debug)]
pub struct AdminPolicy {
    /// Name.
    pub name: String,
    /// `spec.priority` (ANP only).
    pub priority: Option<i64>,
    /// `spec.subject`.
    pub subject: AdminSelector,
    /// Ingress rules in order.
    pub ingress: Vec<AdminRule>,
    /// Egress rules in order.
    pub egress: Vec<AdminRule>,
    /// Index of its object.
    pub object: usize,
}

impl AdminPolicy {
    /// `[ANP] name` or `[BANP] name`.
    #[must_use]
    pub fn id(&self) -> String {
        if self.priority.is_some() { format!("[ANP] {}", self.name) } else { format!("[BANP] {}", self.name) }
    }
}

/// Everything the engine reads from the inputs.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// Namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Workloads, deduplicated by [`Workload::id`], in input order.
    pub workloads: Vec<Workload>,
    /// NetworkPolicies in input order.
    pub policies: Vec<NetworkPolicy>,
    /// AdminNetworkPolicies sorted by priority.
    pub admin: Vec<AdminPolicy>,
    /// The BaselineAdminNetworkPolicy.
    pub baseline: Option<AdminPolicy>,
    /// Problems met while reading.
    pub warnings: Vec<Warning>,
}

impl Cluster {
    /// Labels of namespace `ns` (empty when unknown).
    #[must_use]
    pub fn ns_labels(&self, ns: &str) -> &Labels {
        static EMPTY: Labels = BTreeMap::new();
        self.namespaces.get(ns).map_or(&EMPTY, |n| &n.labels)
    }

    /// Whether any policy (v1 or admin) exists.
    #[must_use]
    pub fn has_policies(&self) -> bool {
        !self.policies.is_empty() || !self.admin.is_empty() || self.baseline.is_some()
    }

    /// Reads the objects np-guard reads: Namespaces, Pods, the workload kinds, NetworkPolicies,
    /// AdminNetworkPolicies and the BaselineAdminNetworkPolicy. Other kinds are ignored.
    #[must_use]
    pub fn from_objects(objects: &[Object]) -> Self {
        let mut c = Self::default();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, obj) in objects.iter().enumerate() {
            match obj.kind() {
                "Namespace" => {
                    let name = obj.id.name.clone();
                    let mut labels: Labels = obj.labels().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
                    labels.entry(NS_NAME_LABEL.to_owned()).or_insert_with(|| name.clone());
                    c.namespaces.insert(name.clone(), Namespace { name, labels, object: Some(i) });
                }
                "Pod" => {
                    let wl = pod_workload(obj, i);
                    push_workload(&mut c.workloads, &mut seen, wl);
                }
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" | "Job" | "ReplicationController" => {
                    let wl = template_workload(obj, i, "/spec/template");
                    push_workload(&mut c.workloads, &mut seen, wl);
                }
                "CronJob" => {
                    let wl = template_workload(obj, i, "/spec/jobTemplate/spec/template");
                    push_workload(&mut c.workloads, &mut seen, wl);
                }
                "NetworkPolicy" if obj.group() == "networking.k8s.io" => {
                    let p = parse_policy(obj, i, &mut c.warnings);
                    c.policies.push(p);
                }
                "AdminNetworkPolicy" if obj.group() == "policy.networking.k8s.io" => {
                    if let Some(p) = parse_admin(obj, i, true, &mut c.warnings) {
                        c.admin.push(p);
                    }
                }
                "BaselineAdminNetworkPolicy" if obj.group() == "policy.networking.k8s.io" => {
                    if c.baseline.is_some() {
                        c.warnings.push(Warning {
                            object: Some(i),
                            pointer: String::new(),
                            message: "only one BaselineAdminNetworkPolicy may exist; this one is ignored".to_owned(),
                        });
                    } else if let Some(p) = parse_admin(obj, i, false, &mut c.warnings) {
                        c.baseline = Some(p);
                    }
                }
                _ => {}
            }
        }
        c.admin.sort_by_key(|p| p.priority.unwrap_or_default());
        for w in c.admin.windows(2) {
            if let [a, b] = w
                && a.priority == b.priority
            {
                c.warnings.push(Warning {
                    object: Some(b.object),
                    pointer: "/spec/priority".to_owned(),
                    message: format!(
                        "AdminNetworkPolicies {:?} and {:?} have the same priority; their order is undefined",
                        a.name, b.name
                    ),
                });
            }
        }
        let missing: Vec<String> =
            c.workloads.iter().map(|w| w.namespace.clone()).filter(|n| !c.namespaces.contains_key(n)).collect();
        for name in missing {
            let labels = Labels::from([(NS_NAME_LABEL.to_owned(), name.clone())]);
            c.namespaces.insert(name.clone(), Namespace { name, labels, object: None });
        }
        c
    }
}

fn push_workload(list: &mut Vec<Workload>, seen: &mut BTreeMap<String, usize>, wl: Workload) {
    let id = wl.id();
    if let std::collections::btree_map::Entry::Vacant(e) = seen.entry(id) {
        e.insert(list.len());
        list.push(wl);
    }
}

fn scalar_string(n: &YamlNode) -> Option<String> {
    use kguard_model::Value;
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

fn namespace_of(obj: &Object) -> String {
    obj.id.namespace.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| "default".to_owned())
}

fn labels_at(node: Option<&YamlNode>) -> Labels {
    node.and_then(|n| n.get("metadata"))
        .and_then(|m| m.get("labels"))
        .and_then(YamlNode::as_map)
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| scalar_string(&e.value).map(|v| (e.key.clone(), v)))
        .collect()
}

fn container_ports(pod_spec: Option<&YamlNode>) -> Vec<NamedPort> {
    let mut out = Vec::new();
    for c in pod_spec.and_then(|s| s.get("containers")).and_then(YamlNode::as_seq).unwrap_or(&[]) {
        for p in c.get("ports").and_then(YamlNode::as_seq).unwrap_or(&[]) {
            let Some(name) = p.get("name").and_then(YamlNode::as_str) else { continue };
            let Some(port) = p.get("containerPort").and_then(YamlNode::as_i64).and_then(|v| u32::try_from(v).ok())
            else {
                continue;
            };
            let protocol =
                p.get("protocol").and_then(YamlNode::as_str).and_then(Protocol::parse).unwrap_or(Protocol::Tcp);
            out.push(NamedPort { name: name.to_owned(), port, protocol });
        }
    }
    out
}

fn pod_workload(obj: &Object, index: usize) -> Workload {
    let root = &obj.root;
    let owner = root
        .pointer("/metadata/ownerReferences")
        .and_then(YamlNode::as_seq)
        .unwrap_or(&[])
        .iter()
        .find(|r| r.get("controller").and_then(YamlNode::as_bool) == Some(true));
    let (name, kind) = match owner {
        Some(r) if r.get("kind").and_then(YamlNode::as_str) != Some("Node") => {
            let kind = r.get("kind").and_then(YamlNode::as_str).filter(|k| !k.is_empty()).unwrap_or("Pod");
            let name = r.get("name").and_then(YamlNode::as_str).unwrap_or(&obj.id.name);
            (name.to_owned(), kind.to_owned())
        }
        _ => (obj.id.name.clone(), "Pod".to_owned()),
    };
    Workload {
        namespace: namespace_of(obj),
        name,
        kind,
        labels: labels_at(Some(root)),
        ports: container_ports(root.get("spec")),
        object: index,
        template: String::new(),
    }
}

fn template_workload(obj: &Object, index: usize, template: &str) -> Workload {
    let t = obj.root.pointer(template);
    Workload {
        namespace: namespace_of(obj),
        name: obj.id.name.clone(),
        kind: obj.kind().to_owned(),
        labels: labels_at(t),
        ports: container_ports(t.and_then(|t| t.get("spec"))),
        object: index,
        template: template.to_owned(),
    }
}

fn parse_ports(node: Option<&YamlNode>, pointer: &str, object: usize, warnings: &mut Vec<Warning>) -> Vec<RulePort> {
    let mut out = Vec::new();
    for (i, p) in node.and_then(YamlNode::as_seq).unwrap_or(&[]).iter().enumerate() {
        let ptr = format!("{pointer}/{i}");
        let protocol = match p.get("protocol").filter(|n| !n.is_null()) {
            None => Protocol::Tcp,
            Some(n) => match n.as_str().and_then(Protocol::parse) {
                Some(pr) => pr,
                None => {
                    warnings.push(Warning {
                        object: Some(object),
                        pointer: format!("{ptr}/protocol"),
                        message: "protocol must be TCP, UDP or SCTP; this port is ignored".to_owned(),
                    });
                    continue;
                }
            },
        };
        let port = match p.get("port").filter(|n| !n.is_null()) {
            None => PortSpec::All,
            Some(n) => {
                if let Some(v) = n.as_i64() {
                    let lo = u32::try_from(v).unwrap_or(0);
                    let hi = p.get("endPort").and_then(YamlNode::as_i64).map_or(lo, |e| u32::try_from(e).unwrap_or(0));
                    if hi < lo {
                        warnings.push(Warning {
                            object: Some(object),
                            pointer: format!("{ptr}/endPort"),
                            message: format!("endPort {hi} is below port {lo}; the range is empty"),
                        });
                    }
                    PortSpec::Range(lo, hi)
                } else if let Some(s) = n.as_str() {
                    match s.parse::<u32>() {
                        Ok(v) => PortSpec::Range(v, v),
                        Err(_) => PortSpec::Named(s.to_owned()),
                    }
                } else {
                    warnings.push(Warning {
                        object: Some(object),
                        pointer: format!("{ptr}/port"),
                        message: "port must be a number or a name; this port is ignored".to_owned(),
                    });
                    continue;
                }
            }
        };
        out.push(RulePort { protocol, port });
    }
    out
}

fn parse_peers(
    node: Option<&YamlNode>,
    pointer: &str,
    object: usize,
    warnings: &mut Vec<Warning>,
) -> Option<Vec<Peer>> {
    let items = node.and_then(YamlNode::as_seq).unwrap_or(&[]);
    if items.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ptr = format!("{pointer}/{i}");
        let pod = item.get("podSelector").filter(|n| !n.is_null());
        let ns = item.get("namespaceSelector").filter(|n| !n.is_null());
        let ip = item.get("ipBlock").filter(|n| !n.is_null());
        let mut warn =
            |m: &str| warnings.push(Warning { object: Some(object), pointer: ptr.clone(), message: m.to_owned() });
        if let Some(ip) = ip {
            if pod.is_some() || ns.is_some() {
                warn("ipBlock cannot be combined with podSelector or namespaceSelector; this peer selects nothing");
                out.push(Peer::Nothing);
                continue;
            }
            let cidr = ip.get("cidr").and_then(YamlNode::as_str).unwrap_or_default();
            let except: Vec<String> =
                ip.get("except").and_then(YamlNode::as_seq).unwrap_or(&[]).iter().filter_map(scalar_string).collect();
            match IpSet::from_block(cidr, &except) {
                Ok(set) => {
                    let text =
                        if except.is_empty() { cidr.to_owned() } else { format!("{cidr} except {}", except.join(",")) };
                    out.push(Peer::IpBlock { set, text });
                }
                Err(e) => {
                    warnings.push(Warning {
                        object: Some(object),
                        pointer: format!("{ptr}/ipBlock"),
                        message: format!("{e}; this peer selects nothing"),
                    });
                    out.push(Peer::Nothing);
                }
            }
            continue;
        }
        if pod.is_none() && ns.is_none() {
            warn("a peer needs podSelector, namespaceSelector or ipBlock; this one selects nothing");
            out.push(Peer::Nothing);
            continue;
        }
        let pod = pod.map(|n| LabelSelector::parse(n, Some(object), &format!("{ptr}/podSelector"), warnings));
        let ns = ns.map(|n| LabelSelector::parse(n, Some(object), &format!("{ptr}/namespaceSelector"), warnings));
        out.push(Peer::Selectors { pod, ns });
    }
    Some(out)
}

fn parse_rules(
    spec: &YamlNode,
    field: &str,
    peers_field: &str,
    object: usize,
    warnings: &mut Vec<Warning>,
) -> Vec<Rule> {
    let mut out = Vec::new();
    for (i, r) in spec.get(field).and_then(YamlNode::as_seq).unwrap_or(&[]).iter().enumerate() {
        let pointer = format!("/spec/{field}/{i}");
        let peers = parse_peers(r.get(peers_field), &format!("{pointer}/{peers_field}"), object, warnings);
        let ports = parse_ports(r.get("ports"), &format!("{pointer}/ports"), object, warnings);
        out.push(Rule { peers, ports, pointer });
    }
    out
}

fn parse_policy(obj: &Object, index: usize, warnings: &mut Vec<Warning>) -> NetworkPolicy {
    let empty = YamlNode { value: kguard_model::Value::Map(Vec::new()), pos: obj.root.pos };
    let spec = obj.root.get("spec").unwrap_or(&empty);
    let pod_selector = spec
        .get("podSelector")
        .map(|n| LabelSelector::parse(n, Some(index), "/spec/podSelector", warnings))
        .unwrap_or_default();
    let types: Option<Vec<&str>> =
        spec.get("policyTypes").and_then(YamlNode::as_seq).map(|s| s.iter().filter_map(YamlNode::as_str).collect());
    // Without policyTypes: Ingress always, Egress iff there are egress rules (np-guard and the API server).
    let (affects_ingress, affects_egress) = match &types {
        Some(t) if !t.is_empty() => (t.contains(&"Ingress"), t.contains(&"Egress")),
        _ => (true, spec.get("egress").and_then(YamlNode::as_seq).is_some_and(|s| !s.is_empty())),
    };
    NetworkPolicy {
        namespace: namespace_of(obj),
        name: obj.id.name.clone(),
        object: index,
        pod_selector,
        affects_ingress,
        affects_egress,
        ingress: parse_rules(spec, "ingress", "from", index, warnings),
        egress: parse_rules(spec, "egress", "to", index, warnings),
    }
}

fn parse_admin_selector(
    node: Option<&YamlNode>,
    pointer: &str,
    object: usize,
    warnings: &mut Vec<Warning>,
) -> Option<AdminSelector> {
    let node = node?;
    if let Some(ns) = node.get("namespaces").filter(|n| !n.is_null()) {
        return Some(AdminSelector::Namespaces(LabelSelector::parse(
            ns,
            Some(object),
            &format!("{pointer}/namespaces"),
            warnings,
        )));
    }
    if let Some(p) = node.get("pods").filter(|n| !n.is_null()) {
        let ns = p
            .get("namespaceSelector")
            .map(|n| LabelSelector::parse(n, Some(object), &format!("{pointer}/pods/namespaceSelector"), warnings))
            .unwrap_or_default();
        let pod = p
            .get("podSelector")
            .map(|n| LabelSelector::parse(n, Some(object), &format!("{pointer}/pods/podSelector"), warnings))
            .unwrap_or_default();
        return Some(AdminSelector::Pods { ns, pod });
    }
    None
}

fn parse_admin_rules(
    spec: &YamlNode,
    field: &str,
    peers_field: &str,
    baseline: bool,
    object: usize,
    warnings: &mut Vec<Warning>,
) -> Vec<AdminRule> {
    let mut out = Vec::new();
    for (i, r) in spec.get(field).and_then(YamlNode::as_seq).unwrap_or(&[]).iter().enumerate() {
        let pointer = format!("/spec/{field}/{i}");
        let action = match r.get("action").and_then(YamlNode::as_str).map(str::trim) {
            Some("Allow") => Action::Allow,
            Some("Deny") => Action::Deny,
            Some("Pass") if !baseline => Action::Pass,
            other => {
                warnings.push(Warning {
                    object: Some(object),
                    pointer: format!("{pointer}/action"),
                    message: format!("invalid action {other:?}; this rule is ignored"),
                });
                continue;
            }
        };
        let mut peers = Vec::new();
        for (j, p) in r.get(peers_field).and_then(YamlNode::as_seq).unwrap_or(&[]).iter().enumerate() {
            let pp = format!("{pointer}/{peers_field}/{j}");
            if let Some(sel) = parse_admin_selector(Some(p), &pp, object, warnings) {
                peers.push(AdminPeer::Pods(sel));
            } else if let Some(nets) = p.get("networks").and_then(YamlNode::as_seq) {
                let mut set = IpSet::default();
                for (k, n) in nets.iter().enumerate() {
                    match n.as_str().map(IpSet::from_cidr) {
                        Some(Ok(s)) => set = IpSet(set.0.union(&s.0)),
                        Some(Err(e)) => warnings.push(Warning {
                            object: Some(object),
                            pointer: format!("{pp}/networks/{k}"),
                            message: format!("{e}; ignored"),
                        }),
                        None => {}
                    }
                }
                peers.push(AdminPeer::Networks(set));
            } else if p.get("nodes").is_some() {
                peers.push(AdminPeer::Nodes);
            }
        }
        let ports = r.get("ports").and_then(YamlNode::as_seq).map(|items| {
            let mut v = Vec::new();
            for it in items {
                if let Some(pn) = it.get("portNumber") {
                    let proto = pn
                        .get("protocol")
                        .and_then(YamlNode::as_str)
                        .and_then(Protocol::parse)
                        .unwrap_or(Protocol::Tcp);
                    let port =
                        pn.get("port").and_then(YamlNode::as_i64).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
                    v.push(AdminPort::Ports(proto, PortSet::range(port, port)));
                } else if let Some(pr) = it.get("portRange") {
                    let proto = pr
                        .get("protocol")
                        .and_then(YamlNode::as_str)
                        .and_then(Protocol::parse)
                        .unwrap_or(Protocol::Tcp);
                    let s = pr.get("start").and_then(YamlNode::as_i64).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
                    let e = pr.get("end").and_then(YamlNode::as_i64).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
                    v.push(AdminPort::Ports(proto, PortSet::range(s, e)));
                } else if let Some(n) = it.get("namedPort").and_then(YamlNode::as_str) {
                    v.push(AdminPort::Named(n.to_owned()));
                }
            }
            v
        });
        let name = r.get("name").and_then(YamlNode::as_str).unwrap_or_default().to_owned();
        out.push(AdminRule { name, action, peers, ports, pointer });
    }
    out
}

fn parse_admin(obj: &Object, index: usize, anp: bool, warnings: &mut Vec<Warning>) -> Option<AdminPolicy> {
    let spec = obj.root.get("spec")?;
    let Some(subject) = parse_admin_selector(spec.get("subject"), "/spec/subject", index, warnings) else {
        warnings.push(Warning {
            object: Some(index),
            pointer: "/spec/subject".to_owned(),
            message: "the subject must select namespaces or pods; this policy is ignored".to_owned(),
        });
        return None;
    };
    let priority = if anp { Some(spec.get("priority").and_then(YamlNode::as_i64).unwrap_or_default()) } else { None };
    Some(AdminPolicy {
        name: obj.id.name.clone(),
        priority,
        subject,
        ingress: parse_admin_rules(spec, "ingress", "from", !anp, index, warnings),
        egress: parse_admin_rules(spec, "egress", "to", !anp, index, warnings),
        object: index,
    })
}

/// The objects of one parsed document, the way np-guard reads them: a `*List` (`PodList`,
/// `NamespaceList`, …) is expanded, and items without `kind`/`apiVersion` (as `kubectl get -o
/// yaml` writes them) take them from the list (`PodList` → `Pod`). Items that still are not
/// objects are returned as problems.
#[must_use]
pub fn document_objects(
    root: YamlNode,
    file: &std::sync::Arc<str>,
    doc_index: usize,
) -> (Vec<Object>, Vec<kguard_model::ObjectError>) {
    use kguard_model::Value;
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    let list_kind = root.get("kind").and_then(YamlNode::as_str).and_then(|k| k.strip_suffix("List")).map(str::to_owned);
    let list_api = root.get("apiVersion").and_then(YamlNode::as_str).map(str::to_owned);
    let is_list = list_kind.is_some() && root.get("items").is_some_and(|i| i.as_seq().is_some());
    let mut push = |node: YamlNode, pointer: String| match Object::from_node(node, file.clone(), doc_index, pointer) {
        Ok(o) => objects.push(o),
        Err(p) => problems.push(p),
    };
    if !is_list {
        push(root, String::new());
        return (objects, problems);
    }
    let Value::Map(entries) = root.value else { return (objects, problems) };
    for entry in entries {
        if entry.key != "items" {
            continue;
        }
        let Value::Seq(items) = entry.value.value else { continue };
        for (i, mut item) in items.into_iter().enumerate() {
            if let Value::Map(fields) = &mut item.value {
                let pos = item.pos;
                for (key, val) in [("kind", list_kind.as_deref()), ("apiVersion", list_api.as_deref())] {
                    if let Some(val) = val.filter(|v| !v.is_empty())
                        && !fields.iter().any(|e| e.key == key)
                    {
                        fields.push(kguard_model::yaml::Entry {
                            key: key.to_owned(),
                            key_pos: pos,
                            value: YamlNode { value: Value::Str(val.to_owned()), pos },
                        });
                    }
                }
            }
            if !item.is_null() {
                push(item, format!("/items/{i}"));
            }
        }
    }
    (objects, problems)
}
