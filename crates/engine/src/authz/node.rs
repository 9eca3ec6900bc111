//! The Node authorizer (`plugin/pkg/auth/authorizer/node`) over a static inventory, and the
//! NodeRestriction admission limits for node users.
//!
//! A graph records which objects a node may reach: `pod → node` for pods bound to it, and
//! `secret/configmap/pvc/serviceaccount/resourceclaim → pod`, `pv → pvc`, `secret → pv`,
//! `volumeattachment → node`, `resourceslice → node`. A node may read an object iff a path leads
//! from the object to the node without passing through another node. The selector-aware rules for
//! `nodes` and `pods` (gate `AuthorizeNodeWithSelectors`, on by default since v1.32) are applied.

use std::collections::HashMap;

use kguard_model::{Node, Object};
use serde_json::Value as J;

use super::Authorizer;
use super::attrs::{Attributes, Decision, RulesReview, UserInfo, go_quote, node_identity};
use super::defaults;
use super::matching::rules_allow;
use super::policy::PolicyRule;

/// The namespace of node leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Kinds of graph vertices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VertexType {
    /// A ConfigMap.
    ConfigMap,
    /// A Node.
    Node,
    /// A Pod.
    Pod,
    /// A PersistentVolumeClaim.
    Pvc,
    /// A PersistentVolume.
    Pv,
    /// A ResourceClaim.
    ResourceClaim,
    /// A Secret.
    Secret,
    /// A VolumeAttachment.
    VolumeAttachment,
    /// A ServiceAccount.
    ServiceAccount,
    /// A ResourceSlice.
    ResourceSlice,
}

type Key = (VertexType, String, String);

/// The node authorizer's graph.
#[derive(Debug, Default)]
pub struct Graph {
    ids: HashMap<Key, u32>,
    keys: Vec<Key>,
    out: Vec<Vec<u32>>,
}

impl Graph {
    fn vertex(&mut self, t: VertexType, ns: &str, name: &str) -> u32 {
        let key = (t, ns.to_owned(), name.to_owned());
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let id = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.ids.insert(key.clone(), id);
        self.keys.push(key);
        self.out.push(Vec::new());
        id
    }

    fn edge(&mut self, from: (VertexType, &str, &str), to: (VertexType, &str, &str)) {
        if from.2.is_empty() || to.2.is_empty() {
            return;
        }
        let f = self.vertex(from.0, from.1, from.2);
        let t = self.vertex(to.0, to.1, to.2);
        if let Some(list) = self.out.get_mut(f as usize)
            && !list.contains(&t)
        {
            list.push(t);
        }
    }

    /// Builds the graph from the pods, persistent volumes, volume attachments and resource
    /// slices among `objects`.
    #[must_use]
    pub fn from_objects(objects: &[Object]) -> Self {
        let mut g = Self::default();
        for obj in objects {
            match (obj.group(), obj.kind()) {
                ("", "Pod") => g.add_pod(obj),
                ("", "PersistentVolume") => g.add_pv(obj),
                ("storage.k8s.io", "VolumeAttachment") => {
                    if let Some(node) = s(&obj.root, "/spec/nodeName") {
                        g.edge((VertexType::VolumeAttachment, "", &obj.id.name), (VertexType::Node, "", node));
                    }
                }
                ("resource.k8s.io", "ResourceSlice") => {
                    if let Some(node) = s(&obj.root, "/spec/nodeName") {
                        g.edge((VertexType::ResourceSlice, "", &obj.id.name), (VertexType::Node, "", node));
                    }
                }
                _ => {}
            }
        }
        g
    }

    fn add_pod(&mut self, obj: &Object) {
        let Some(node) = s(&obj.root, "/spec/nodeName") else { return };
        let ns = obj.id.namespace.clone().unwrap_or_else(|| "default".to_owned());
        let name = obj.id.name.clone();
        let pod = (VertexType::Pod, ns.as_str(), name.as_str());
        self.edge(pod, (VertexType::Node, "", node));
        if obj.annotation("kubernetes.io/config.mirror").is_some() {
            return;
        }
        let spec = obj.root.to_json().get("spec").cloned().unwrap_or(J::Null);
        let mut refs: Vec<(VertexType, String)> = Vec::new();
        if let Some(sa) = spec.get("serviceAccountName").and_then(J::as_str) {
            refs.push((VertexType::ServiceAccount, sa.to_owned()));
        }
        for ips in arr(&spec, "imagePullSecrets") {
            push_name(&mut refs, VertexType::Secret, ips.get("name"));
        }
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            for c in arr(&spec, list) {
                for e in arr(c, "env") {
                    let vf = e.get("valueFrom");
                    push_name(
                        &mut refs,
                        VertexType::Secret,
                        vf.and_then(|v| v.get("secretKeyRef")).and_then(|r| r.get("name")),
                    );
                    push_name(
                        &mut refs,
                        VertexType::ConfigMap,
                        vf.and_then(|v| v.get("configMapKeyRef")).and_then(|r| r.get("name")),
                    );
                }
                for e in arr(c, "envFrom") {
                    push_name(&mut refs, VertexType::Secret, e.get("secretRef").and_then(|r| r.get("name")));
                    push_name(&mut refs, VertexType::ConfigMap, e.get("configMapRef").and_then(|r| r.get("name")));
                }
            }
        }
        for v in arr(&spec, "volumes") {
            push_name(&mut refs, VertexType::Secret, v.get("secret").and_then(|x| x.get("secretName")));
            push_name(&mut refs, VertexType::ConfigMap, v.get("configMap").and_then(|x| x.get("name")));
            for src in v.get("projected").map(|p| arr(p, "sources")).unwrap_or_default() {
                push_name(&mut refs, VertexType::Secret, src.get("secret").and_then(|x| x.get("name")));
                push_name(&mut refs, VertexType::ConfigMap, src.get("configMap").and_then(|x| x.get("name")));
            }
            push_name(&mut refs, VertexType::Pvc, v.get("persistentVolumeClaim").and_then(|x| x.get("claimName")));
            if v.get("ephemeral").is_some()
                && let Some(vn) = v.get("name").and_then(J::as_str)
            {
                refs.push((VertexType::Pvc, format!("{name}-{vn}")));
            }
            push_name(&mut refs, VertexType::Secret, v.get("azureFile").and_then(|x| x.get("secretName")));
            for plugin in ["cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos"] {
                push_name(
                    &mut refs,
                    VertexType::Secret,
                    v.get(plugin).and_then(|x| x.get("secretRef")).and_then(|r| r.get("name")),
                );
            }
            push_name(
                &mut refs,
                VertexType::Secret,
                v.get("csi").and_then(|x| x.get("nodePublishSecretRef")).and_then(|r| r.get("name")),
            );
        }
        for rc in arr(&spec, "resourceClaims") {
            push_name(&mut refs, VertexType::ResourceClaim, rc.get("resourceClaimName"));
        }
        let status = obj.root.to_json().get("status").cloned().unwrap_or(J::Null);
        for rc in arr(&status, "resourceClaimStatuses") {
            push_name(&mut refs, VertexType::ResourceClaim, rc.get("resourceClaimName"));
        }
        for (t, n) in refs {
            self.edge((t, &ns, &n), pod);
        }
    }

    fn add_pv(&mut self, obj: &Object) {
        let Some(claim_ns) = s(&obj.root, "/spec/claimRef/namespace") else { return };
        let Some(claim) = s(&obj.root, "/spec/claimRef/name") else { return };
        let pv = (VertexType::Pv, "", obj.id.name.as_str());
        self.edge(pv, (VertexType::Pvc, claim_ns, claim));
        let spec = obj.root.to_json().get("spec").cloned().unwrap_or(J::Null);
        let mut secrets: Vec<(String, String)> = Vec::new();
        if let Some(af) = spec.get("azureFile")
            && let Some(name) = af.get("secretName").and_then(J::as_str)
        {
            let ns = af.get("secretNamespace").and_then(J::as_str).unwrap_or(claim_ns);
            secrets.push((ns.to_owned(), name.to_owned()));
        }
        let mut refs: Vec<&J> = Vec::new();
        for plugin in ["cephfs", "cinder", "flexVolume", "iscsi", "rbd", "scaleIO", "storageos"] {
            if let Some(r) = spec.get(plugin).and_then(|x| x.get("secretRef")) {
                refs.push(r);
            }
        }
        if let Some(csi) = spec.get("csi") {
            for k in ["nodePublishSecretRef", "nodeStageSecretRef", "controllerPublishSecretRef", "nodeExpandSecretRef"]
            {
                if let Some(r) = csi.get(k) {
                    refs.push(r);
                }
            }
        }
        for r in refs {
            if let Some(name) = r.get("name").and_then(J::as_str) {
                let ns = r.get("namespace").and_then(J::as_str).unwrap_or(claim_ns);
                secrets.push((ns.to_owned(), name.to_owned()));
            }
        }
        for (ns, name) in secrets {
            self.edge((VertexType::Secret, &ns, &name), pv);
        }
    }

    /// Whether a path leads from the object to the node without passing through another node.
    #[must_use]
    pub fn has_path(&self, node: &str, t: VertexType, ns: &str, name: &str) -> bool {
        let Some(&target) = self.ids.get(&(VertexType::Node, String::new(), node.to_owned())) else { return false };
        let Some(&start) = self.ids.get(&(t, ns.to_owned(), name.to_owned())) else { return false };
        let mut seen = vec![false; self.keys.len()];
        let mut stack = vec![start];
        while let Some(v) = stack.pop() {
            if v == target {
                return true;
            }
            let Some(slot) = seen.get_mut(v as usize) else { continue };
            if *slot {
                continue;
            }
            *slot = true;
            for &next in self.out.get(v as usize).into_iter().flatten() {
                if next == target {
                    return true;
                }
                let is_other_node = self.keys.get(next as usize).is_some_and(|k| k.0 == VertexType::Node);
                if !is_other_node {
                    stack.push(next);
                }
            }
        }
        false
    }
}

fn s<'a>(node: &'a Node, pointer: &str) -> Option<&'a str> {
    node.pointer(pointer).and_then(Node::as_str).filter(|s| !s.is_empty())
}

fn arr<'a>(v: &'a J, key: &str) -> Vec<&'a J> {
    v.get(key).and_then(J::as_array).map(|a| a.iter().collect()).unwrap_or_default()
}

fn push_name(refs: &mut Vec<(VertexType, String)>, t: VertexType, name: Option<&J>) {
    if let Some(n) = name.and_then(J::as_str).filter(|n| !n.is_empty()) {
        refs.push((t, n.to_owned()));
    }
}

/// The Node authorizer.
#[derive(Debug)]
pub struct NodeAuthorizer {
    graph: Graph,
    node_rules: Vec<PolicyRule>,
    /// Gate `AuthorizeNodeWithSelectors` (on by default since v1.32).
    pub with_selectors: bool,
}

impl NodeAuthorizer {
    /// Builds the graph from `objects`; the static rules are the default `system:node` rules.
    #[must_use]
    pub fn from_objects(objects: &[Object]) -> Self {
        Self { graph: Graph::from_objects(objects), node_rules: defaults::node_rules(), with_selectors: true }
    }

    /// The graph.
    #[must_use]
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    fn authorize_path(&self, node: &str, t: VertexType, a: &Attributes) -> Decision {
        if a.name.is_empty() {
            return no("No Object name found");
        }
        if self.graph.has_path(node, t, &a.namespace, &a.name) {
            Decision::allow("Node", "")
        } else {
            no(format!("no relationship found between node '{node}' and this object"))
        }
    }

    fn read_namespaced(&self, node: &str, t: VertexType, a: &Attributes) -> Decision {
        if !matches!(a.verb.as_str(), "get" | "list" | "watch") {
            return no("can only read resources of this type");
        }
        if !a.subresource.is_empty() {
            return no("cannot read subresource");
        }
        if a.namespace.is_empty() {
            return no("can only read namespaced object of this type");
        }
        self.authorize_path(node, t, a)
    }

    fn get(&self, node: &str, t: VertexType, a: &Attributes) -> Decision {
        if a.verb != "get" {
            return no("can only get individual resources of this type");
        }
        if !a.subresource.is_empty() {
            return no("cannot get subresource");
        }
        self.authorize_path(node, t, a)
    }

    fn status_update(&self, node: &str, t: VertexType, a: &Attributes) -> Decision {
        if !matches!(a.verb.as_str(), "update" | "patch") {
            return no("can only get/update/patch this type");
        }
        if a.subresource != "status" {
            return no("can only update status subresource");
        }
        self.authorize_path(node, t, a)
    }

    fn create_token(&self, node: &str, a: &Attributes) -> Decision {
        if a.verb != "create" || a.name.is_empty() {
            return no("can only create tokens for individual service accounts");
        }
        if a.subresource != "token" {
            return no("can only create token subresource of serviceaccount");
        }
        if self.graph.has_path(node, VertexType::ServiceAccount, &a.namespace, &a.name) {
            Decision::allow("Node", "")
        } else {
            no(format!("no relationship found between node '{node}' and this object"))
        }
    }

    fn named_own(node: &str, a: &Attributes, what: &str, verbs_msg: &str, sub_msg: Option<&str>) -> Decision {
        if !matches!(a.verb.as_str(), "get" | "create" | "update" | "patch" | "delete") {
            return no(verbs_msg);
        }
        if let Some(m) = sub_msg
            && !a.subresource.is_empty()
        {
            return no(m);
        }
        if what == "lease" && a.namespace != NODE_LEASE_NAMESPACE {
            return no(format!("can only access leases in the {} system namespace", go_quote(NODE_LEASE_NAMESPACE)));
        }
        if a.verb != "create" && a.name != node {
            return no(if what == "lease" {
                "can only access node lease with the same name as the requesting node"
            } else {
                "can only access CSINode with the same name as the requesting node"
            });
        }
        Decision::allow("Node", "")
    }

    fn resource_slice(&self, node: &str, a: &Attributes) -> Decision {
        if !a.subresource.is_empty() {
            return no("cannot authorize ResourceSlice subresources");
        }
        match a.verb.as_str() {
            "create" => Decision::allow("Node", ""),
            "get" | "update" | "patch" | "delete" => self.authorize_path(node, VertexType::ResourceSlice, a),
            "watch" | "list" | "deletecollection" => {
                if !self.with_selectors || a.field("nodeName") == Some(node) {
                    Decision::allow("Node", "")
                } else {
                    no("can only list/watch/deletecollection resourceslices with nodeName field selector")
                }
            }
            _ => no(
                "only the following verbs are allowed for a ResourceSlice: get, watch, list, create, update, patch, delete, deletecollection",
            ),
        }
    }

    fn node_object(node: &str, a: &Attributes) -> Decision {
        match (a.subresource.as_str(), a.verb.as_str()) {
            ("", "create" | "update" | "patch") | ("status", "update" | "patch") => Decision::allow("Node", ""),
            ("", "get" | "list" | "watch") => {
                if a.name == node {
                    Decision::allow("Node", "")
                } else if a.name.is_empty() {
                    no(format!("node '{node}' cannot read all nodes, only its own Node object"))
                } else {
                    no(format!("node '{node}' cannot read '{}', only its own Node object", a.name))
                }
            }
            _ => no(""),
        }
    }

    fn pod(&self, node: &str, a: &Attributes) -> Decision {
        match (a.subresource.as_str(), a.verb.as_str()) {
            ("", "get") => self.get(node, VertexType::Pod, a),
            ("", "list" | "watch") => {
                if a.field("spec.nodeName") == Some(node) {
                    Decision::allow("Node", "")
                } else if !a.name.is_empty() {
                    self.authorize_path(node, VertexType::Pod, a)
                } else {
                    no("can only list/watch pods with spec.nodeName field selector")
                }
            }
            ("", "create" | "delete") | ("status", "update" | "patch") | ("eviction", "create") => {
                Decision::allow("Node", "")
            }
            _ => no(""),
        }
    }
}

fn no(reason: impl Into<String>) -> Decision {
    Decision::no_opinion("Node", reason)
}

impl Authorizer for NodeAuthorizer {
    fn name(&self) -> &'static str {
        "Node"
    }

    fn authorize(&self, a: &Attributes) -> Decision {
        let Some(node) = node_identity(&a.user) else { return no("") };
        if node.is_empty() {
            return no(format!("unknown node for user {}", go_quote(&a.user.name)));
        }
        if a.resource_request {
            let d = match (a.api_group.as_str(), a.resource.as_str()) {
                ("", "secrets") => Some(self.read_namespaced(node, VertexType::Secret, a)),
                ("", "configmaps") => Some(self.read_namespaced(node, VertexType::ConfigMap, a)),
                ("", "persistentvolumeclaims") => Some(if a.subresource == "status" {
                    self.status_update(node, VertexType::Pvc, a)
                } else {
                    self.get(node, VertexType::Pvc, a)
                }),
                ("", "persistentvolumes") => Some(self.get(node, VertexType::Pv, a)),
                ("resource.k8s.io", "resourceclaims") => Some(self.get(node, VertexType::ResourceClaim, a)),
                ("storage.k8s.io", "volumeattachments") => Some(self.get(node, VertexType::VolumeAttachment, a)),
                ("", "serviceaccounts") => Some(self.create_token(node, a)),
                ("coordination.k8s.io", "leases") => Some(Self::named_own(
                    node,
                    a,
                    "lease",
                    "can only get, create, update, patch, or delete a node lease",
                    None,
                )),
                ("storage.k8s.io", "csinodes") => Some(Self::named_own(
                    node,
                    a,
                    "csinode",
                    "can only get, create, update, patch, or delete a CSINode",
                    Some("cannot authorize CSINode subresources"),
                )),
                ("resource.k8s.io", "resourceslices") => Some(self.resource_slice(node, a)),
                ("", "nodes") if self.with_selectors => Some(Self::node_object(node, a)),
                ("", "pods") if self.with_selectors => Some(self.pod(node, a)),
                _ => None,
            };
            if let Some(d) = d {
                return d;
            }
        }
        if rules_allow(a, &self.node_rules) { Decision::allow("Node", "") } else { no("") }
    }

    fn rules_for(&self, user: &UserInfo, _: &str) -> RulesReview {
        if node_identity(user).is_some() {
            return RulesReview {
                incomplete: true,
                evaluation_error: "node authorizer does not support user rule resolution".to_owned(),
                ..RulesReview::default()
            };
        }
        RulesReview::default()
    }
}

/// The admission operation (one type for all of admission). NodeRestriction handles CREATE,
/// UPDATE and DELETE; CONNECT passes.
pub use crate::admission::Operation;

/// What NodeRestriction sees of one write by a node user: the admission attributes plus what its
/// informers would return.
#[derive(Clone, Debug)]
pub struct NodeWrite<'a> {
    /// The request.
    pub attrs: &'a Attributes,
    /// The operation.
    pub operation: Operation,
    /// The new object (create/update: the Pod, Node, Lease, Eviction, TokenRequest...), as JSON.
    pub object: Option<&'a J>,
    /// The existing object (update/delete), as JSON.
    pub old_object: Option<&'a J>,
    /// The pod lister's answer: the existing pod a pod delete or eviction names, or the pod a
    /// TokenRequest is bound to (`None`: not found). A pod delete falls back to `old_object`.
    pub pod: Option<&'a J>,
    /// The node lister's answer: the requesting node's Node object, whose UID a mirror pod's
    /// owner reference must carry (`None`: not found).
    pub node: Option<&'a J>,
    /// Gate `RecoverVolumeExpansionFailure` (on by default since v1.32): a node may then also
    /// change a PVC's `status.allocatedResources` and `status.allocatedResourceStatuses`.
    pub expansion_recovery: bool,
}

impl<'a> NodeWrite<'a> {
    /// A write without objects; set the fields that apply.
    #[must_use]
    pub const fn new(attrs: &'a Attributes, operation: Operation) -> Self {
        Self { attrs, operation, object: None, old_object: None, pod: None, node: None, expansion_recovery: true }
    }
}

fn jstr<'a>(v: Option<&'a J>, pointer: &str) -> &'a str {
    v.and_then(|v| v.pointer(pointer)).and_then(J::as_str).unwrap_or("")
}

/// A field that is set (present and not `null`).
fn set<'a>(v: Option<&'a J>, pointer: &str) -> Option<&'a J> {
    v.and_then(|v| v.pointer(pointer)).filter(|x| !x.is_null())
}

fn items<'a>(v: Option<&'a J>, pointer: &str) -> impl Iterator<Item = &'a J> {
    set(v, pointer).and_then(J::as_array).into_iter().flatten()
}

/// `labels.Equals` / a `map[string]string` (nil and empty are equal).
fn label_map(v: Option<&J>) -> std::collections::BTreeMap<String, String> {
    set(v, "/metadata/labels")
        .and_then(J::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect())
        .unwrap_or_default()
}

/// `apiequality.Semantic.DeepEqual` approximated on JSON: `null`, `""`, `[]` and `{}` equal an
/// absent field (Go's zero values and nil-vs-empty slices and maps).
fn semantic(v: Option<&J>) -> J {
    fn norm(v: &J) -> Option<J> {
        match v {
            J::Null => None,
            J::String(s) if s.is_empty() => None,
            J::Array(a) if a.is_empty() => None,
            J::Array(a) => Some(J::Array(a.iter().map(|x| norm(x).unwrap_or(J::Null)).collect())),
            J::Object(m) => {
                let m: serde_json::Map<String, J> =
                    m.iter().filter_map(|(k, x)| norm(x).map(|x| (k.clone(), x))).collect();
                (!m.is_empty()).then_some(J::Object(m))
            }
            other => Some(other.clone()),
        }
    }
    v.and_then(norm).unwrap_or(J::Null)
}

/// JSON pointers at which two normalised values differ (for the PVC message).
fn diff_paths(a: &J, b: &J, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                diff_paths(x.get(k).unwrap_or(&J::Null), y.get(k).unwrap_or(&J::Null), &p, out);
            }
        }
        _ if a != b => out.push(if at.is_empty() { "/".to_owned() } else { at.to_owned() }),
        _ => {}
    }
}

/// The label-key namespace (the part before `/`, `""` without one).
fn label_namespace(key: &str) -> &str {
    key.split_once('/').map_or("", |(ns, _)| ns)
}

fn in_domain(ns: &str, domain: &str) -> bool {
    ns == domain || ns.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

/// The labels a kubelet may set on its own Node (`k8s.io/kubelet/pkg/apis.IsKubeletLabel`).
const KUBELET_LABELS: &[&str] = &[
    "kubernetes.io/hostname",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
];

/// Whether a node may add, change or remove this label on its Node object: not under
/// `node-restriction.kubernetes.io/`, and not another `kubernetes.io` / `k8s.io` label unless it
/// is a kubelet label (the set above, or under `kubelet.kubernetes.io/` or `node.kubernetes.io/`).
#[must_use]
pub fn is_allowed_node_label(key: &str) -> bool {
    let ns = label_namespace(key);
    if in_domain(ns, "node-restriction.kubernetes.io") {
        return false;
    }
    let k8s = in_domain(ns, "kubernetes.io") || in_domain(ns, "k8s.io");
    !k8s || KUBELET_LABELS.contains(&key)
        || in_domain(ns, "kubelet.kubernetes.io")
        || in_domain(ns, "node.kubernetes.io")
}

/// The forbidden label keys among those that differ between `a` and `b`, sorted.
fn forbidden_label_changes(a: Option<&J>, b: Option<&J>) -> Vec<String> {
    let (a, b) = (label_map(a), label_map(b));
    let mut keys: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .chain(b.iter().filter(|(k, v)| a.get(*k) != Some(*v)))
        .map(|(k, _)| k.clone())
        .filter(|k| !is_allowed_node_label(k))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Whether the pod spec references a secret (`podutil.VisitPodSecretNames`, every container).
fn references_secret(pod: Option<&J>) -> bool {
    if items(pod, "/spec/imagePullSecrets").next().is_some() {
        return true;
    }
    let containers = ["containers", "initContainers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|l| items(pod, &format!("/spec/{l}")).collect::<Vec<_>>());
    for c in containers {
        if items(Some(c), "/envFrom").any(|e| set(Some(e), "/secretRef").is_some())
            || items(Some(c), "/env").any(|e| set(Some(e), "/valueFrom/secretKeyRef").is_some())
        {
            return true;
        }
    }
    items(pod, "/spec/volumes").any(|v| {
        let v = Some(v);
        set(v, "/secret").is_some()
            || set(v, "/azureFile").is_some()
            || ["cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos"]
                .iter()
                .any(|p| set(v, &format!("/{p}/secretRef")).is_some())
            || set(v, "/csi/nodePublishSecretRef").is_some()
            || items(v, "/projected/sources").any(|s| set(Some(s), "/secret").is_some())
    })
}

/// Whether the pod spec references a ConfigMap (`podutil.VisitPodConfigmapNames`).
fn references_configmap(pod: Option<&J>) -> bool {
    let containers = ["containers", "initContainers", "ephemeralContainers"]
        .into_iter()
        .flat_map(|l| items(pod, &format!("/spec/{l}")).collect::<Vec<_>>());
    for c in containers {
        if items(Some(c), "/envFrom").any(|e| set(Some(e), "/configMapRef").is_some())
            || items(Some(c), "/env").any(|e| set(Some(e), "/valueFrom/configMapKeyRef").is_some())
        {
            return true;
        }
    }
    items(pod, "/spec/volumes").any(|v| {
        set(Some(v), "/configMap").is_some()
            || items(Some(v), "/projected/sources").any(|s| set(Some(s), "/configMap").is_some())
    })
}

/// A lister hit: `found` if its name (and namespace, when it has one) is the one looked up.
fn lookup<'a>(found: Option<&'a J>, namespace: &str, name: &str) -> Option<&'a J> {
    found.filter(|o| {
        jstr(Some(o), "/metadata/name") == name && {
            let ns = jstr(Some(o), "/metadata/namespace");
            ns.is_empty() || namespace.is_empty() || ns == namespace
        }
    })
}

/// `apierrors.NewNotFound` as a lister returns it (`pod "x" not found`).
fn not_found(what: &str, name: &str) -> String {
    format!("{what} {} not found", go_quote(name))
}

/// The NodeRestriction admission plugin (`plugin/pkg/admission/noderestriction`) for writes by
/// node users; other users pass. A node may:
///
/// * pods: create only mirror pods bound to itself, owned by exactly one controller owner
///   reference to its own `v1/Node` (matching UID, no `blockOwnerDeletion`), referencing no service
///   account, secret, ConfigMap, ClusterTrustBundle or PVC; delete only its own pods; update
///   `status` of its own pods without changing labels or `status.resourceClaimStatuses`; evict
///   its own pods; no other pod subresource, no pod update;
/// * nodes: write only its own Node; no `configSource` on create, no new `configSource` and no
///   taint change on update; no forbidden label set, changed or removed ([`is_allowed_node_label`]);
/// * persistentvolumeclaims: update `status` only, changing only `status.capacity`,
///   `status.conditions` (and, with the expansion-recovery gate, the allocated resources);
/// * serviceaccounts/token: only tokens bound to a pod (with a UID) that is scheduled on it;
/// * leases: only in `kube-node-lease`, named after it; csinodes: only the one named after it.
///
/// # Errors
/// The admission error text: `<resource>[.<group>] "<name>" is forbidden: <reason>` (the name is
/// the request's, else the object's name or generateName, else `Unknown`), or a lister's
/// `pod "<name>" not found` / `node "<name>" not found`, as upstream returns them.
pub fn node_restriction(w: &NodeWrite<'_>) -> Result<(), String> {
    let a = w.attrs;
    let Some(node) = node_identity(&a.user) else { return Ok(()) };
    if w.operation == Operation::Connect {
        return Ok(()); // the plugin does not handle CONNECT
    }
    let forbid = |msg: String| -> Result<(), String> {
        let qualified =
            if a.api_group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.api_group) };
        let name = [a.name.as_str(), jstr(w.object, "/metadata/name"), jstr(w.object, "/metadata/generateName")]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or("Unknown");
        Err(format!("{qualified} {} is forbidden: {msg}", go_quote(name)))
    };
    let unexpected_type = || forbid("unexpected type <nil>".to_owned());
    let q = go_quote(node);
    if node.is_empty() {
        return forbid(format!("could not determine node from user {}", go_quote(&a.user.name)));
    }
    // On create the request's name is the object's (the API server takes it from the body).
    let name = if a.name.is_empty() && w.operation == Operation::Create {
        jstr(w.object, "/metadata/name")
    } else {
        a.name.as_str()
    };
    match (a.api_group.as_str(), a.resource.as_str()) {
        ("", "pods") => match a.subresource.as_str() {
            "" => match w.operation {
                Operation::Create => {
                    let Some(pod) = w.object else { return unexpected_type() };
                    let pod = Some(pod);
                    if set(pod, "/metadata/annotations/kubernetes.io~1config.mirror").is_none() {
                        return forbid(format!(
                            "pod does not have \"kubernetes.io/config.mirror\" annotation, node {q} can only create mirror pods"
                        ));
                    }
                    if jstr(pod, "/spec/nodeName") != node {
                        return forbid(format!("node {q} can only create pods with spec.nodeName set to itself"));
                    }
                    let owners: Vec<&J> = items(pod, "/metadata/ownerReferences").collect();
                    let owner = match owners.as_slice() {
                        [] => {
                            return forbid(format!(
                                "node {q} can only create pods with an owner reference set to itself"
                            ));
                        }
                        [one] => Some(*one),
                        _ => {
                            return forbid(format!(
                                "node {q} can only create pods with a single owner reference set to itself"
                            ));
                        }
                    };
                    if jstr(owner, "/apiVersion") != "v1"
                        || jstr(owner, "/kind") != "Node"
                        || jstr(owner, "/name") != node
                    {
                        return forbid(format!("node {q} can only create pods with an owner reference set to itself"));
                    }
                    if set(owner, "/controller").and_then(J::as_bool) != Some(true) {
                        return forbid(format!(
                            "node {q} can only create pods with a controller owner reference set to itself"
                        ));
                    }
                    if set(owner, "/blockOwnerDeletion").and_then(J::as_bool) == Some(true) {
                        return forbid(format!("node {q} must not set blockOwnerDeletion on an owner reference"));
                    }
                    let Some(node_obj) = lookup(w.node, "", node) else { return Err(not_found("node", node)) };
                    let (want, got) = (jstr(owner, "/uid"), jstr(Some(node_obj), "/metadata/uid"));
                    if want != got {
                        return forbid(format!("node {node} UID mismatch: expected {want} got {got}"));
                    }
                    if !jstr(pod, "/spec/serviceAccountName").is_empty() {
                        return forbid(format!("node {q} can not create pods that reference a service account"));
                    }
                    if references_secret(pod) {
                        return forbid(format!("node {q} can not create pods that reference secrets"));
                    }
                    if references_configmap(pod) {
                        return forbid(format!("node {q} can not create pods that reference configmaps"));
                    }
                    if items(pod, "/spec/volumes").any(|v| {
                        items(Some(v), "/projected/sources").any(|s| set(Some(s), "/clusterTrustBundle").is_some())
                    }) {
                        return forbid(format!("node {q} can not create pods that reference clustertrustbundles"));
                    }
                    if items(pod, "/spec/volumes").any(|v| set(Some(v), "/persistentVolumeClaim").is_some()) {
                        return forbid(format!("node {q} can not create pods that reference persistentvolumeclaims"));
                    }
                    Ok(())
                }
                Operation::Delete => {
                    let Some(existing) = lookup(w.pod.or(w.old_object), &a.namespace, name) else {
                        return Err(not_found("pod", name));
                    };
                    if jstr(Some(existing), "/spec/nodeName") == node {
                        Ok(())
                    } else {
                        forbid(format!("node {q} can only delete pods with spec.nodeName set to itself"))
                    }
                }
                Operation::Update | Operation::Connect => forbid(format!(
                    "unexpected operation {}, node {q} can only create and delete mirror pods",
                    go_quote(w.operation.as_str())
                )),
            },
            "status" => {
                if w.operation != Operation::Update {
                    return forbid(format!("unexpected operation {}", go_quote(w.operation.as_str())));
                }
                let Some(old) = w.old_object else { return unexpected_type() };
                if jstr(Some(old), "/spec/nodeName") != node {
                    return forbid(format!(
                        "node {q} can only update pod status for pods with spec.nodeName set to itself"
                    ));
                }
                let Some(new) = w.object else { return unexpected_type() };
                if label_map(Some(old)) != label_map(Some(new)) {
                    return forbid(format!("node {q} cannot update labels through pod status"));
                }
                let claims = |p: &J| -> Vec<(String, Option<String>)> {
                    items(Some(p), "/status/resourceClaimStatuses")
                        .map(|s| {
                            let claim = set(Some(s), "/resourceClaimName").and_then(J::as_str).map(str::to_owned);
                            (jstr(Some(s), "/name").to_owned(), claim)
                        })
                        .collect()
                };
                if claims(old) != claims(new) {
                    // sic: "statues" upstream
                    return forbid(format!("node {q} cannot update resource claim statues"));
                }
                Ok(())
            }
            "eviction" => {
                if w.operation != Operation::Create {
                    return forbid(format!("unexpected operation {}", w.operation.as_str()));
                }
                if w.object.is_none() {
                    return unexpected_type();
                }
                let pod_name = if a.name.is_empty() { jstr(w.object, "/metadata/name") } else { a.name.as_str() };
                if pod_name.is_empty() {
                    return forbid("could not determine pod from request data".to_owned());
                }
                let Some(existing) = lookup(w.pod, &a.namespace, pod_name) else {
                    return Err(not_found("pod", pod_name));
                };
                if jstr(Some(existing), "/spec/nodeName") == node {
                    Ok(())
                } else {
                    forbid(format!("node {node} can only evict pods with spec.nodeName set to itself"))
                }
            }
            other => forbid(format!(
                "unexpected pod subresource {}, only 'status' and 'eviction' are allowed",
                go_quote(other)
            )),
        },
        ("", "nodes") => {
            if name != node {
                return forbid(format!("node {q} is not allowed to modify node {}", go_quote(name)));
            }
            match w.operation {
                Operation::Create => {
                    let Some(obj) = w.object else { return unexpected_type() };
                    if set(Some(obj), "/spec/configSource").is_some() {
                        // sic: "pods" upstream
                        return forbid(format!("node {q} is not allowed to create pods with a non-nil configSource"));
                    }
                    let labels = forbidden_label_changes(Some(obj), None);
                    if !labels.is_empty() {
                        return forbid(format!(
                            "node {q} is not allowed to set the following labels: {}",
                            labels.join(", ")
                        ));
                    }
                    Ok(())
                }
                Operation::Update => {
                    let (Some(new), Some(old)) = (w.object, w.old_object) else { return unexpected_type() };
                    let source = set(Some(new), "/spec/configSource");
                    if source.is_some() && semantic(source) != semantic(set(Some(old), "/spec/configSource")) {
                        return forbid(format!(
                            "node {q} is not allowed to update configSource to a new non-nil configSource"
                        ));
                    }
                    if semantic(set(Some(new), "/spec/taints")) != semantic(set(Some(old), "/spec/taints")) {
                        return forbid(format!("node {q} is not allowed to modify taints"));
                    }
                    let labels = forbidden_label_changes(Some(new), Some(old));
                    if !labels.is_empty() {
                        return forbid(format!("is not allowed to modify labels: {}", labels.join(", ")));
                    }
                    Ok(())
                }
                Operation::Delete | Operation::Connect => Ok(()),
            }
        }
        ("", "persistentvolumeclaims") => {
            if a.subresource != "status" {
                return forbid("may only update PVC status".to_owned());
            }
            if w.operation != Operation::Update {
                return forbid(format!("unexpected operation {}", go_quote(w.operation.as_str())));
            }
            let (Some(old), Some(new)) = (w.old_object, w.object) else { return unexpected_type() };
            let strip = |v: &J| -> J {
                let mut v = v.clone();
                if let Some(status) = v.get_mut("status").and_then(J::as_object_mut) {
                    status.remove("capacity");
                    status.remove("conditions");
                    if w.expansion_recovery {
                        status.remove("allocatedResourceStatuses");
                        status.remove("allocatedResources");
                    }
                }
                if let Some(meta) = v.get_mut("metadata").and_then(J::as_object_mut) {
                    meta.remove("resourceVersion");
                    meta.remove("managedFields");
                }
                semantic(Some(&v))
            };
            let (old, new) = (strip(old), strip(new));
            if old == new {
                return Ok(());
            }
            let mut changed = Vec::new();
            diff_paths(&old, &new, "", &mut changed);
            // upstream appends go-cmp's diff of the two objects; we name the changed fields
            forbid(format!(
                "node {q} is not allowed to update fields other than status.capacity and status.conditions: {}",
                changed.join(", ")
            ))
        }
        ("", "serviceaccounts") => {
            if w.operation != Operation::Create || a.subresource != "token" {
                return Ok(());
            }
            let Some(tr) = w.object else { return unexpected_type() };
            let r = set(Some(tr), "/spec/boundObjectRef");
            if r.is_none() || jstr(r, "/apiVersion") != "v1" || jstr(r, "/kind") != "Pod" || jstr(r, "/name").is_empty()
            {
                return forbid("node requested token not bound to a pod".to_owned());
            }
            let uid = jstr(r, "/uid");
            if uid.is_empty() {
                return forbid("node requested token with a pod binding without a uid".to_owned());
            }
            let pod_name = jstr(r, "/name");
            let Some(pod) = lookup(w.pod, &a.namespace, pod_name) else { return Err(not_found("pod", pod_name)) };
            if jstr(Some(pod), "/metadata/uid") != uid {
                return forbid(format!(
                    "the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
                ));
            }
            if jstr(Some(pod), "/spec/nodeName") != node {
                return forbid("node requested token bound to a pod scheduled on a different node".to_owned());
            }
            Ok(())
        }
        ("coordination.k8s.io", "leases") => {
            if a.namespace != NODE_LEASE_NAMESPACE {
                return forbid(format!(
                    "can only access leases in the {} system namespace",
                    go_quote(NODE_LEASE_NAMESPACE)
                ));
            }
            if w.operation == Operation::Create && w.object.is_none() {
                return unexpected_type();
            }
            let lease =
                if w.operation == Operation::Create { jstr(w.object, "/metadata/name") } else { a.name.as_str() };
            if lease == node {
                Ok(())
            } else {
                forbid("can only access node lease with the same name as the requesting node".to_owned())
            }
        }
        ("storage.k8s.io", "csinodes") => {
            if w.operation == Operation::Create && w.object.is_none() {
                return forbid("unable to access the object name".to_owned());
            }
            let csinode =
                if w.operation == Operation::Create { jstr(w.object, "/metadata/name") } else { a.name.as_str() };
            if csinode == node {
                Ok(())
            } else {
                forbid("can only access CSINode with the same name as the requesting node".to_owned())
            }
        }
        _ => Ok(()),
    }
}
