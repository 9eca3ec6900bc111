//! The Node authorizer (`plugin/pkg/auth/authorizer/node`) over a static inventory.
//!
//! A graph records which objects a node may reach: `pod → node` for pods bound to it, and
//! `secret/configmap/pvc/serviceaccount/resourceclaim → pod`, `pv → pvc`, `secret → pv`,
//! `volumeattachment → node`, `resourceslice → node`. A node may read an object iff a path leads
//! from the object to the node without passing through another node. The selector-aware rules for
//! `nodes` and `pods` (gate `AuthorizeNodeWithSelectors`, on by default since v1.32) are applied.

use std::collections::HashMap;

use kguard_model::{Object, YamlNode};
use serde_json::Value as J;

use super::Authorizer;
use super::attrs::{Decision, RulesReview};
use super::defaults;
use super::matching::rules_allow;
use super::policy::PolicyRule;
use kguard_model::text::go_quote;
use kguard_request::{Attributes, NODE_LEASE_NAMESPACE, UserInfo, node_identity};

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

fn s<'a>(node: &'a YamlNode, pointer: &str) -> Option<&'a str> {
    node.pointer(pointer).and_then(YamlNode::as_str).filter(|s| !s.is_empty())
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
