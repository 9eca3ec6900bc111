//! The workload hardening catalogue: rules `KG001`.. over pod templates (security context, host
//! access, secrets, images, resources) and object-local RBAC and Service checks.
//!
//! * [`RULES`]: every rule, with its documentation and the equivalent ids of other tools
//!   (kubesec, Trivy KSV/AVD, Checkov, Polaris, kube-linter, kube-score) as aliases.
//! * [`applies_to`]: whether an object is one these rules look at.
//! * [`findings`]: one [`Finding`] per violation, pointing at the offending field or where the
//!   missing one belongs.
//! * [`suppressed`]: whether an object (or its pod template) carries another tool's suppression
//!   annotation for a rule, mapped through the aliases.
//!
//! Pod checks use the effective security context (container over pod) and visit init, regular and
//! ephemeral containers in upstream order; Linux-only checks are skipped for `spec.os.name: windows`.
//! Everything is decided from the object alone, except what an [`Inventory`] of the other input
//! objects answers: whether a pod's ServiceAccount disables token automount (KG026).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

use std::collections::HashMap;

use kguard_model::Object;
use kguard_model::yaml::YamlNode;
use kguard_report::{Finding, RuleMeta};

use kguard_model::workload::{self, PodView};

mod catalogue;
pub mod kubesec;
mod objects;
mod pod;
mod secret_values;
mod suppress;

pub use catalogue::*;
pub use suppress::{CHECKOV_SKIP_PREFIXES, ToolSuppression, parse_annotation, suppressed, suppression};

/// The API group of RBAC objects.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Whether an object is one the hardening rules evaluate: a kind carrying a pod template, a Role,
/// ClusterRole, RoleBinding or ClusterRoleBinding, or a Service.
#[must_use]
pub fn applies_to(obj: &Object) -> bool {
    workload::template_pointer(obj.group(), obj.kind()).is_some() || objects::applies_to(obj)
}

/// The rule with this id (`KG001`), name or alias (case-insensitive).
#[must_use]
pub fn rule(name: &str) -> Option<&'static RuleMeta> {
    RULES.iter().find(|r| {
        r.id.eq_ignore_ascii_case(name)
            || r.name.eq_ignore_ascii_case(name)
            || r.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// What the hardening rules may look up among the other objects of the input: the
/// ServiceAccounts, by namespace and name, with their `automountServiceAccountToken`.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    service_accounts: HashMap<(String, String), Option<bool>>,
}

impl Inventory {
    /// The ServiceAccounts among `objects` (namespace `default` when unset, as `kubectl apply` would).
    #[must_use]
    pub fn from_objects(objects: &[Object]) -> Self {
        let service_accounts = objects
            .iter()
            .filter(|o| o.group().is_empty() && o.kind() == "ServiceAccount")
            .map(|o| {
                let ns = o.id.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or("default");
                let automount = o.root.get("automountServiceAccountToken").and_then(YamlNode::as_bool);
                ((ns.to_owned(), o.id.name.clone()), automount)
            })
            .collect();
        Self { service_accounts }
    }

    /// Whether the input holds this ServiceAccount.
    #[must_use]
    pub fn has_service_account(&self, namespace: &str, name: &str) -> bool {
        self.service_accounts.contains_key(&(namespace.to_owned(), name.to_owned()))
    }

    /// The ServiceAccount's `automountServiceAccountToken`, when it is in the input and sets it.
    #[must_use]
    pub fn service_account_automount(&self, namespace: &str, name: &str) -> Option<bool> {
        self.service_accounts.get(&(namespace.to_owned(), name.to_owned())).copied().flatten()
    }
}

/// Every violation of a hardening rule by one object, judged on the object alone (see
/// [`findings_in`]).
#[must_use]
pub fn findings(obj: &Object, pod: Option<&PodView>) -> Vec<Finding> {
    findings_in(obj, pod, &Inventory::default())
}

/// Every violation of a hardening rule by one object, with the other input objects' `inventory`.
/// `pod` is the object's pod view when the caller already has it; when `None`, the view is built
/// here (an unreadable pod template yields no pod findings: the caller reports it as a diagnostic).
#[must_use]
pub fn findings_in(obj: &Object, pod: Option<&PodView>, inventory: &Inventory) -> Vec<Finding> {
    findings_where(obj, pod, inventory, &|_| true)
}

/// The violations of the rules `keep` selects (e.g. by severity), as [`findings_in`] would find
/// them; the rules left out cost nothing beyond their test (no finding is built for them).
#[must_use]
pub fn findings_where(
    obj: &Object,
    pod: Option<&PodView>,
    inventory: &Inventory,
    keep: &dyn Fn(&RuleMeta) -> bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let owned;
    let view = match pod {
        Some(v) => Some(v),
        None => match workload::pod_view(obj) {
            Some(Ok(v)) => {
                owned = v;
                Some(&owned)
            }
            _ => None,
        },
    };
    if let Some(view) = view {
        pod::check(obj, view, inventory, keep, &mut out);
    }
    let mut others = Vec::new();
    objects::check(obj, &mut others);
    out.extend(others.into_iter().filter(|f| rule(&f.rule_id).is_none_or(keep)));
    out
}

/// Kinds Trivy's KSV110 reports in the default namespace (KG064).
const WORKLOAD_KINDS: &[&str] =
    &["Pod", "ReplicaSet", "ReplicationController", "Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job"];
/// The other kinds Checkov's CKV_K8S_21 reports there (KG065).
const OTHER_NAMESPACED_KINDS: &[&str] =
    &["Service", "Secret", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Ingress"];
/// Control-plane components whose static pods Trivy's KSV037 accepts in kube-system.
const CONTROL_PLANE: &[&str] = &["kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"];

/// The placement rules (KG064–KG066), judged on any object from its metadata alone: in the
/// default namespace (`metadata.namespace` unset or `default`; an explicit null or other value is
/// a namespace the peers accept), or in kube-system.
#[must_use]
pub fn placement_findings(obj: &Object) -> Vec<Finding> {
    let mut out = Vec::new();
    let meta = obj.root.get("metadata");
    let namespace = meta.and_then(|m| m.get("namespace"));
    let in_default = namespace.is_none_or(|n| n.as_str() == Some("default"));
    let kind = obj.kind();
    let name = obj.id.name.as_str();
    let unset = || if namespace.is_none() { "sets no namespace (default)" } else { "is in the default namespace" };
    if in_default && WORKLOAD_KINDS.contains(&kind) {
        out.push(finding(
            obj,
            &WORKLOAD_DEFAULT_NAMESPACE,
            None,
            "/metadata/namespace".to_owned(),
            format!("{kind} {name} {}", unset()),
        ));
    }
    let exempt = (kind == "ServiceAccount" && name == "default") || (kind == "Service" && name == "kubernetes");
    if in_default && OTHER_NAMESPACED_KINDS.contains(&kind) && !exempt {
        out.push(finding(
            obj,
            &OBJECT_DEFAULT_NAMESPACE,
            None,
            "/metadata/namespace".to_owned(),
            format!("{kind} {name} {}", unset()),
        ));
    }
    let spec = obj.root.get("spec");
    if namespace.and_then(YamlNode::as_str) == Some("kube-system") && spec.is_some() {
        let label = |k: &str| obj.label(k);
        let control_plane = label("tier") == Some("control-plane")
            && label("component").is_some_and(|c| CONTROL_PLANE.contains(&c))
            && spec.and_then(|s| s.get("priorityClassName")).and_then(YamlNode::as_str) == Some("system-node-critical");
        if !control_plane {
            out.push(finding(
                obj,
                &KUBE_SYSTEM_NAMESPACE,
                None,
                "/metadata/namespace".to_owned(),
                format!("{kind} {name} is placed in kube-system"),
            ));
        }
    }
    out
}

/// Builds a finding of `rule` about `obj` at `pointer`.
fn finding(obj: &Object, rule: &RuleMeta, container: Option<&str>, pointer: String, message: String) -> Finding {
    Finding::about(rule, obj, pointer, message).in_container(container.map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_is_well_formed() {
        let mut ids = HashSet::new();
        let mut names = HashSet::new();
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.id, format!("KG{:03}", i + 1), "ids are sequential");
            assert!(ids.insert(r.id) && names.insert(r.name), "{} duplicated", r.id);
            assert!(!r.what.is_empty() && !r.why.is_empty() && !r.fix.is_empty() && !r.references.is_empty());
            assert!(
                ["hardening", "host", "secrets", "images", "resources", "rbac-object", "service", "placement"]
                    .contains(&r.family)
            );
            for a in r.aliases {
                if let Some(n) = a.strip_prefix("AVD-KSV-") {
                    let short = format!("KSV{:03}", n.parse::<u32>().unwrap());
                    assert!(r.aliases.contains(&short.as_str()), "{}: {a} without {short}", r.id);
                    assert!(r.aliases.contains(&&a[4..]), "{}: {a} without {}", r.id, &a[4..]);
                }
            }
        }
        assert!(rule("kg001").is_some() && rule("CKV_K8S_16").is_some() && rule("docker-sock").is_some());
    }

    /// Peer checks wider than one kguard rule are aliased on every rule covering part of them, so
    /// that each (object, check) pair a peer reports is also reported by kguard under that id
    /// (bench/compare-peers.sh measures it on the corpus).
    #[test]
    fn peer_checks_spanning_several_rules() {
        let covering =
            |alias: &str| -> Vec<&str> { RULES.iter().filter(|r| r.aliases.contains(&alias)).map(|r| r.id).collect() };
        // Trivy KSV104 fails a missing seccomp profile as well as Unconfined.
        assert_eq!(covering("AVD-KSV-0104"), ["KG013", "KG014"]);
        // Trivy KSV022 / Checkov CKV_K8S_25: any added capability; KG056 (NET_BIND_SERVICE, opt-in)
        // completes the union.
        assert_eq!(covering("AVD-KSV-0022"), ["KG004", "KG005", "KG056"]);
        assert_eq!(covering("CKV_K8S_25"), ["KG004", "KG005", "KG056"]);
        // Trivy KSV106: drop ALL missing, or a capability other than NET_BIND_SERVICE added.
        assert_eq!(covering("AVD-KSV-0106"), ["KG004", "KG005", "KG006"]);
        // Checkov CKV_K8S_28 reads `drop` only (ALL or NET_RAW, substrings): its own rule.
        assert_eq!(covering("CKV_K8S_28"), ["KG049"]);
        // Trivy KSV020: UID <= 10000 (0 included) or unset; Checkov CKV_K8S_40 exempts
        // `hostUsers: false` pods: its own rule.
        assert_eq!(covering("AVD-KSV-0020"), ["KG008", "KG010"]);
        assert_eq!(covering("CKV_K8S_40"), ["KG051"]);
        // One rule per peer check where kguard's rule is broader or narrower.
        assert_eq!(covering("AVD-KSV-0006"), ["KG050"]);
        assert_eq!(covering("CKV_K8S_27"), ["KG050"]);
        assert_eq!(covering("AVD-KSV-0012"), ["KG052"]);
        assert_eq!(covering("AVD-KSV-0005"), ["KG053"]);
        assert_eq!(covering("CKV_K8S_39"), ["KG053"]);
        assert_eq!(covering("AVD-KSV-0119"), ["KG054"]);
        assert_eq!(covering("AVD-KSV-0120"), ["KG055"]);
        // Narrower kguard rules completed by an opt-in rule for what they deliberately skip.
        assert_eq!(covering("CKV_K8S_38"), ["KG026", "KG057"]);
        assert_eq!(covering("AVD-KSV-0122"), ["KG039", "KG058"]);
        // Trivy KSV118: the pod's own context unset, or a container's effective one empty; the
        // default namespace: Checkov's CKV_K8S_21 over workloads and other kinds.
        assert_eq!(covering("AVD-KSV-0118"), ["KG061", "KG063"]);
        assert_eq!(covering("CKV_K8S_29"), ["KG061"]);
        assert_eq!(covering("CKV_K8S_30"), ["KG062"]);
        assert_eq!(covering("CKV_K8S_21"), ["KG064", "KG065"]);
        assert_eq!(covering("AVD-KSV-0110"), ["KG064"]);
    }
}
