//! Object-local RBAC and Service rules.

use kguard_model::Object;
use kguard_model::yaml::Node;
use kguard_report::{Finding, RuleMeta};

use super::catalogue as c;
use super::{RBAC_GROUP, finding};
use crate::authz::PolicyRule;
use crate::authz::risks::{Probe, capability_probes, probe_rule};

const BIND: &[Probe] =
    &[Probe { verbs: &["bind"], group: RBAC_GROUP, resources: &[("roles", ""), ("clusterroles", "")] }];
const ESCALATE: &[Probe] =
    &[Probe { verbs: &["escalate"], group: RBAC_GROUP, resources: &[("roles", ""), ("clusterroles", "")] }];

/// The per-role permission rules: (rule, ClusterRoles only, probes that must all be granted, what).
fn role_permissions() -> [(&'static RuleMeta, bool, &'static [Probe], &'static str); 4] {
    [
        (&c::ROLE_WEBHOOKS, true, capability_probes("RBAC009"), "write access to admission webhook configurations"),
        (&c::ROLE_CSR_APPROVE, true, capability_probes("RBAC007"), "the permissions to approve CSRs"),
        (&c::ROLE_BIND, false, BIND, "`bind` on roles"),
        (&c::ROLE_ESCALATE, false, ESCALATE, "`escalate` on roles"),
    ]
}

fn is_binding(obj: &Object) -> bool {
    obj.group() == RBAC_GROUP && matches!(obj.kind(), "RoleBinding" | "ClusterRoleBinding")
}

fn is_role(obj: &Object) -> bool {
    obj.group() == RBAC_GROUP && matches!(obj.kind(), "Role" | "ClusterRole")
}

fn is_service(obj: &Object) -> bool {
    obj.group().is_empty() && obj.kind() == "Service"
}

/// Whether an object is an RBAC role or binding, or a Service.
pub(super) fn applies_to(obj: &Object) -> bool {
    is_binding(obj) || is_role(obj) || is_service(obj)
}

fn strings(node: Option<&Node>) -> impl Iterator<Item = (usize, &str)> {
    node.and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate().filter_map(|(i, n)| n.as_str().map(|s| (i, s)))
}

/// Runs the object rules.
pub(super) fn check(obj: &Object, out: &mut Vec<Finding>) {
    let root = &obj.root;
    if is_binding(obj) {
        for (i, subject) in root.get("subjects").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate() {
            let name = subject.get("name").and_then(Node::as_str).unwrap_or("");
            if matches!(name, "system:anonymous" | "system:unauthenticated") {
                out.push(finding(
                    obj,
                    &c::BINDING_ANONYMOUS,
                    None,
                    format!("/subjects/{i}/name"),
                    format!("{} binds `{name}` (anyone reaching the API server)", obj.kind()),
                ));
            }
        }
        let role_ref = root.get("roleRef");
        let kind = role_ref.and_then(|r| r.get("kind")).and_then(Node::as_str);
        let name = role_ref.and_then(|r| r.get("name")).and_then(Node::as_str);
        if kind == Some("ClusterRole") && name == Some("cluster-admin") {
            out.push(finding(
                obj,
                &c::BINDING_CLUSTER_ADMIN,
                None,
                "/roleRef/name".to_owned(),
                format!("{} grants the `cluster-admin` ClusterRole", obj.kind()),
            ));
        }
    }
    if is_role(obj) {
        role_permission_findings(obj, out);
        for (i, rule) in root.get("rules").and_then(Node::as_seq).unwrap_or(&[]).iter().enumerate() {
            for field in ["verbs", "resources"] {
                if let Some((j, _)) = strings(rule.get(field)).find(|(_, s)| *s == "*") {
                    out.push(finding(
                        obj,
                        &c::RBAC_WILDCARD,
                        None,
                        format!("/rules/{i}/{field}/{j}"),
                        format!("{} rule {i} grants `*` in `{field}`", obj.kind()),
                    ));
                }
            }
        }
    }
    if is_service(obj) {
        service_findings(obj, out);
    }
}

/// KG044–KG047: the role grants a dangerous permission (every probe granted by some rule, with
/// RBAC's matching: wildcards, `*/subresource`; `resourceNames` ignored, as the grant holds for
/// some objects). Malformed rules are skipped here (the RBAC engine reports them).
fn role_permission_findings(obj: &Object, out: &mut Vec<Finding>) {
    let nodes = obj.root.get("rules").and_then(Node::as_seq).unwrap_or(&[]);
    let rules: Vec<PolicyRule> =
        nodes.iter().map(|n| serde_json::from_value(n.to_json()).unwrap_or_else(|_| PolicyRule::default())).collect();
    let cluster = obj.kind() == "ClusterRole";
    for (rule, cluster_only, probes, what) in role_permissions() {
        if (cluster_only && !cluster) || probes.is_empty() {
            continue;
        }
        let found: Option<Vec<usize>> = probes.iter().map(|p| probe_rule(p, &rules)).collect();
        let Some(indices) = found else { continue };
        let Some(&first) = indices.first() else { continue };
        let listed: Vec<String> = indices.iter().map(ToString::to_string).collect();
        let plural = if listed.len() > 1 { "s" } else { "" };
        out.push(finding(
            obj,
            rule,
            None,
            format!("/rules/{first}"),
            format!("{} {} grants {what} (rule{plural} {})", obj.kind(), obj.id.name, listed.join(", ")),
        ));
    }
}

fn service_findings(obj: &Object, out: &mut Vec<Finding>) {
    let spec = obj.root.get("spec");
    match spec.and_then(|s| s.get("type")).and_then(Node::as_str) {
        Some("NodePort") => out.push(finding(
            obj,
            &c::SERVICE_NODEPORT,
            None,
            "/spec/type".to_owned(),
            "Service of type NodePort opens its port on every node".to_owned(),
        )),
        Some("LoadBalancer")
            if spec
                .and_then(|s| s.get("loadBalancerSourceRanges"))
                .and_then(Node::as_seq)
                .is_none_or(<[Node]>::is_empty) =>
        {
            out.push(finding(
                obj,
                &c::SERVICE_LOADBALANCER,
                None,
                "/spec/type".to_owned(),
                "Service of type LoadBalancer without `loadBalancerSourceRanges`".to_owned(),
            ));
        }
        _ => {}
    }
}
