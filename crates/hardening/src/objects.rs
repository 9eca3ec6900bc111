//! Object-local RBAC and Service rules.

use kguard_model::Object;
use kguard_model::yaml::YamlNode;
use kguard_report::{Finding, RuleMeta};

use super::catalogue as c;
use super::{RBAC_GROUP, finding};
use kguard_authz::PolicyRule;
use kguard_authz::risks::{Probe, capability_probes, probe_rule};

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

fn is_ingress(obj: &Object) -> bool {
    matches!(obj.group(), "networking.k8s.io" | "extensions") && obj.kind() == "Ingress"
}

/// Whether an object is an RBAC role or binding, a Service or an Ingress.
pub(super) fn applies_to(obj: &Object) -> bool {
    is_binding(obj) || is_role(obj) || is_service(obj) || is_ingress(obj)
}

/// Verbs Trivy's role checks list as "managing" a resource.
const MANAGE: &[&str] = &["create", "update", "patch", "delete", "deletecollection", "impersonate", "*"];
/// The same with the read verbs (KSV041, KSV113).
const MANAGE_OR_READ: &[&str] =
    &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate", "*"];

/// A role check read literally, as Trivy reads it: a rule of a role of one of `kinds` lists one of
/// `resources` and one of `verbs` (exact strings; `apiGroups` and `resourceNames` not read).
struct LiteralRoleCheck {
    rule: &'static RuleMeta,
    kinds: &'static [&'static str],
    resources: &'static [&'static str],
    verbs: &'static [&'static str],
}

const LITERAL_ROLE_CHECKS: &[LiteralRoleCheck] = &[
    LiteralRoleCheck {
        rule: &c::CLUSTERROLE_SECRETS,
        kinds: &["ClusterRole"],
        resources: &["secrets"],
        verbs: MANAGE_OR_READ,
    },
    LiteralRoleCheck { rule: &c::ROLE_SECRETS, kinds: &["Role"], resources: &["secrets"], verbs: MANAGE_OR_READ },
    LiteralRoleCheck {
        rule: &c::ROLE_NODE_PROXY,
        kinds: &["Role", "ClusterRole"],
        resources: &["nodes/proxy"],
        verbs: &["get", "create"],
    },
    LiteralRoleCheck {
        rule: &c::ROLE_MANAGE_WORKLOADS,
        kinds: &["Role", "ClusterRole"],
        resources: &[
            "pods",
            "deployments",
            "jobs",
            "cronjobs",
            "statefulsets",
            "daemonsets",
            "replicasets",
            "replicationcontrollers",
        ],
        verbs: MANAGE,
    },
    LiteralRoleCheck {
        rule: &c::ROLE_MANAGE_CONFIGMAPS,
        kinds: &["Role", "ClusterRole"],
        resources: &["configmaps"],
        verbs: MANAGE,
    },
    LiteralRoleCheck {
        rule: &c::ROLE_EXEC_PODS,
        kinds: &["Role", "ClusterRole"],
        resources: &["pods/exec"],
        verbs: MANAGE,
    },
    LiteralRoleCheck {
        rule: &c::ROLE_MANAGE_NETWORKING,
        kinds: &["Role", "ClusterRole"],
        resources: &["services", "endpoints", "endpointslices", "networkpolicies", "ingresses"],
        verbs: MANAGE,
    },
    LiteralRoleCheck {
        rule: &c::ROLE_ALL_RESOURCES_NAMESPACE,
        kinds: &["Role"],
        resources: &["*"],
        verbs: &["create", "update", "delete", "deletecollection", "impersonate", "*", "list", "get"],
    },
    LiteralRoleCheck {
        rule: &c::ROLE_MANAGE_WEBHOOKS,
        kinds: &["Role", "ClusterRole"],
        resources: &["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
        verbs: MANAGE,
    },
];

/// KG071–KG079: one finding per rule of the role that a literal check matches.
fn literal_role_findings(obj: &Object, out: &mut Vec<Finding>) {
    let rules = obj.root.get("rules").and_then(YamlNode::as_seq).unwrap_or(&[]);
    for check in LITERAL_ROLE_CHECKS.iter().filter(|ch| ch.kinds.contains(&obj.kind())) {
        for (i, rule) in rules.iter().enumerate() {
            let Some((j, resource)) = strings(rule.get("resources")).find(|(_, r)| check.resources.contains(r)) else {
                continue;
            };
            let Some((_, verb)) = strings(rule.get("verbs")).find(|(_, v)| check.verbs.contains(v)) else { continue };
            out.push(finding(
                obj,
                check.rule,
                None,
                format!("/rules/{i}/resources/{j}"),
                format!("{} {} rule {i} grants `{verb}` on `{resource}`", obj.kind(), obj.id.name),
            ));
        }
    }
}

fn strings(node: Option<&YamlNode>) -> impl Iterator<Item = (usize, &str)> {
    node.and_then(YamlNode::as_seq).unwrap_or(&[]).iter().enumerate().filter_map(|(i, n)| n.as_str().map(|s| (i, s)))
}

/// Whether the object is an upstream default (`kubernetes.io/bootstrapping: rbac-defaults`): every
/// cluster has it, and the RBAC rules are measured against it.
fn is_upstream_default(obj: &Object) -> bool {
    obj.label("kubernetes.io/bootstrapping") == Some("rbac-defaults")
}

/// Runs the object rules.
pub(super) fn check(obj: &Object, out: &mut Vec<Finding>) {
    let root = &obj.root;
    if is_binding(obj) {
        // KG039, and KG058 for the upstream defaults it skips (together: Trivy's KSV122).
        let anonymous = if is_upstream_default(obj) { &c::DEFAULT_BINDING_ANONYMOUS } else { &c::BINDING_ANONYMOUS };
        for (i, subject) in root.get("subjects").and_then(YamlNode::as_seq).unwrap_or(&[]).iter().enumerate() {
            let name = subject.get("name").and_then(YamlNode::as_str).unwrap_or("");
            if matches!(name, "system:anonymous" | "system:unauthenticated") {
                out.push(finding(
                    obj,
                    anonymous,
                    None,
                    format!("/subjects/{i}/name"),
                    format!("{} binds `{name}` (anyone reaching the API server)", obj.kind()),
                ));
            }
        }
        let role_ref = root.get("roleRef");
        let kind = role_ref.and_then(|r| r.get("kind")).and_then(YamlNode::as_str);
        let name = role_ref.and_then(|r| r.get("name")).and_then(YamlNode::as_str);
        // KG069 (Checkov's CKV_K8S_42): a subject that is a `default` service account.
        for (i, subject) in root.get("subjects").and_then(YamlNode::as_seq).unwrap_or(&[]).iter().enumerate() {
            let skind = subject.get("kind").and_then(YamlNode::as_str);
            if skind == Some("ServiceAccount") && subject.get("name").and_then(YamlNode::as_str) == Some("default") {
                let ns = subject.get("namespace").and_then(YamlNode::as_str).unwrap_or("the binding's namespace");
                out.push(finding(
                    obj,
                    &c::BINDING_DEFAULT_SA,
                    None,
                    format!("/subjects/{i}/name"),
                    format!("{} grants its role to the `default` ServiceAccount of {ns}", obj.kind()),
                ));
            }
        }
        // KG080 (Trivy's KSV111): a role named cluster-admin, admin or edit, of either kind.
        if let Some(n @ ("cluster-admin" | "admin" | "edit")) = name {
            out.push(finding(
                obj,
                &c::BINDING_ADMIN_ROLE,
                None,
                "/roleRef/name".to_owned(),
                format!("{} grants the role `{n}`", obj.kind()),
            ));
        }
        if kind == Some("ClusterRole") && name == Some("cluster-admin") && !is_upstream_default(obj) {
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
        literal_role_findings(obj, out);
        // The rules of an aggregated ClusterRole are the controller's copies of other roles' rules.
        if !is_upstream_default(obj) && root.get("aggregationRule").is_none_or(YamlNode::is_null) {
            wildcard_findings(obj, out);
        }
    }
    if is_service(obj) {
        service_findings(obj, out);
    }
    if is_ingress(obj) {
        ingress_findings(obj, out);
    }
}

/// KG070 (Checkov's CKV_K8S_153): an annotation whose key contains `snippet`.
fn ingress_findings(obj: &Object, out: &mut Vec<Finding>) {
    for (key, _) in obj.annotations().filter(|(k, _)| k.contains("snippet")) {
        out.push(finding(
            obj,
            &c::INGRESS_SNIPPET,
            None,
            format!("/metadata/annotations/{}", kguard_model::yaml::escape_pointer_token(key)),
            format!("Ingress annotation `{key}` injects configuration into the ingress controller (CVE-2021-25742)"),
        ));
    }
}

/// KG041 (a wildcard in `verbs` or `resources`) and KG048 (`*` in all three lists): one finding
/// per rule for KG041, one per role for KG048 (the scan merges a KG041 finding of the same rule
/// into it).
fn wildcard_findings(obj: &Object, out: &mut Vec<Finding>) {
    let rules = obj.root.get("rules").and_then(YamlNode::as_seq).unwrap_or(&[]);
    let wildcard = |rule: &YamlNode, field: &str| strings(rule.get(field)).find(|(_, s)| *s == "*").map(|(j, _)| j);
    let mut full = false;
    for (i, rule) in rules.iter().enumerate() {
        let [groups, resources, verbs] = ["apiGroups", "resources", "verbs"].map(|f| wildcard(rule, f));
        if !full && groups.is_some() && resources.is_some() && verbs.is_some() {
            full = true;
            out.push(finding(
                obj,
                &c::ROLE_FULL_WILDCARD,
                None,
                format!("/rules/{i}"),
                format!("{} {} rule {i} grants `*` verbs on `*` resources in `*` API groups", obj.kind(), obj.id.name),
            ));
        }
        let fields: Vec<(&str, usize)> =
            [("verbs", verbs), ("resources", resources)].into_iter().filter_map(|(f, j)| Some((f, j?))).collect();
        let Some(&(first, j)) = fields.first() else { continue };
        let names: Vec<String> = fields.iter().map(|(f, _)| format!("`{f}`")).collect();
        out.push(finding(
            obj,
            &c::RBAC_WILDCARD,
            None,
            format!("/rules/{i}/{first}/{j}"),
            format!("{} {} rule {i} grants `*` in {}", obj.kind(), obj.id.name, names.join(" and ")),
        ));
    }
}

/// KG044–KG047: the role grants a dangerous permission (every probe granted by some rule, with
/// RBAC's matching: wildcards, `*/subresource`; `resourceNames` ignored, as the grant holds for
/// some objects). Malformed rules are skipped here (the RBAC engine reports them).
fn role_permission_findings(obj: &Object, out: &mut Vec<Finding>) {
    let nodes = obj.root.get("rules").and_then(YamlNode::as_seq).unwrap_or(&[]);
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
    match spec.and_then(|s| s.get("type")).and_then(YamlNode::as_str) {
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
                .and_then(YamlNode::as_seq)
                .is_none_or(<[YamlNode]>::is_empty) =>
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
