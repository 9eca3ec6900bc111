//! NodeRestriction: the admission limits kube-apiserver puts on writes by node users
//! (`plugin/pkg/admission/noderestriction`), over the objects its informers would return.

use kguard_model::text::go_quote;
use kguard_request::{Attributes, Forbidden, NODE_LEASE_NAMESPACE, Operation, node_identity};
use serde_json::Value as J;

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
    /// Gate `ServiceAccountNodeAudienceRestriction` (on by default): a node's TokenRequest may
    /// name at most one audience, and only one its pod uses or it is authorized for.
    pub audience_restriction: bool,
    /// Audiences the plugin's other sources allow beyond those the pod's projected
    /// `serviceAccountToken` volumes name: the CSIDrivers of the pod's volumes that request
    /// tokens for them, and those the authorizer grants the node
    /// `request-serviceaccounts-token-audience` on.
    pub extra_audiences: &'a [String],
}

impl<'a> NodeWrite<'a> {
    /// A write without objects; set the fields that apply.
    #[must_use]
    pub const fn new(attrs: &'a Attributes, operation: Operation) -> Self {
        Self {
            attrs,
            operation,
            object: None,
            old_object: None,
            pod: None,
            node: None,
            expansion_recovery: true,
            audience_restriction: true,
            extra_audiences: &[],
        }
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
fn not_found(what: &'static str, name: &str) -> Denied {
    Denied::NotFound { what, name: name.to_owned() }
}

/// Why NodeRestriction refuses a write.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Forbidden, with the admission error text.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// A lister found no pod or node, as upstream reports it (`pod "x" not found`).
    #[error("{what} {} not found", go_quote(name))]
    NotFound {
        /// `pod` or `node`.
        what: &'static str,
        /// The name looked up.
        name: String,
    },
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
/// * serviceaccounts/token: only tokens bound to a pod (with a UID) that is scheduled on it,
///   for at most one audience, which the pod's projected token volumes name (or
///   [`NodeWrite::extra_audiences`] holds);
/// * leases: only in `kube-node-lease`, named after it; csinodes: only the one named after it.
///
/// # Errors
/// The admission error text: `<resource>[.<group>] "<name>" is forbidden: <reason>` (the name is
/// the request's, else the object's name or generateName, else `Unknown`), or a lister's
/// `pod "<name>" not found` / `node "<name>" not found`, as upstream returns them.
pub fn node_restriction(w: &NodeWrite<'_>) -> Result<(), Denied> {
    let a = w.attrs;
    let Some(node) = node_identity(&a.user) else { return Ok(()) };
    if w.operation == Operation::Connect {
        return Ok(()); // the plugin does not handle CONNECT
    }
    let forbid = |msg: String| -> Result<(), Denied> {
        let qualified =
            if a.api_group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.api_group) };
        let name = [a.name.as_str(), jstr(w.object, "/metadata/name"), jstr(w.object, "/metadata/generateName")]
            .into_iter()
            .find(|n| !n.is_empty())
            .unwrap_or("Unknown");
        Err(Denied::Forbidden(Forbidden(format!("{qualified} {} is forbidden: {msg}", go_quote(name)))))
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
            if !w.audience_restriction {
                return Ok(());
            }
            let audiences: Vec<&str> = items(Some(tr), "/spec/audiences").filter_map(J::as_str).collect();
            if audiences.len() > 1 {
                return forbid("node may only request 0 or 1 audiences".to_owned());
            }
            let Some(&audience) = audiences.first() else { return Ok(()) };
            let projected =
                items(Some(pod), "/spec/volumes").flat_map(|v| items(Some(v), "/projected/sources")).any(|src| {
                    set(Some(src), "/serviceAccountToken").is_some()
                        && jstr(Some(src), "/serviceAccountToken/audience") == audience
                });
            if projected || w.extra_audiences.iter().any(|x| x == audience) {
                return Ok(());
            }
            forbid(format!(
                "audience {} not found in pod spec volume, {} is not authorized to request tokens for this audience",
                go_quote(audience),
                a.user.name
            ))
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
