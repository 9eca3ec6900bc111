//! Risk analysis of an RBAC inventory: dangerous grants per binding subject, risky bindings,
//! wildcard rules, and escalation paths through pod creation.
//!
//! Upstream defaults (objects labelled `kubernetes.io/bootstrapping: rbac-defaults`) are not
//! reported: they are what every cluster has, and what the rules are measured against.

use std::collections::BTreeSet;

use kguard_report::{Finding, RuleMeta, Severity};

use super::matching::{ALL, rule_allows_some_name};
use super::policy::{Binding, PolicyRule, RBAC_GROUP, Role, Subject};
use super::rbac::Rbac;

const RBAC_DOC: &str = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/";
const GOOD_PRACTICES: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/";

macro_rules! rule {
    ($id:literal, $name:literal, $sev:ident, $title:literal, $what:literal, $why:literal, $fix:literal, [$($alias:literal),*]) => {
        RuleMeta {
            id: $id,
            name: $name,
            family: "rbac",
            severity: Severity::$sev,
            title: $title,
            what: $what,
            why: $why,
            fix: $fix,
            references: &[RBAC_DOC, GOOD_PRACTICES],
            aliases: &[$($alias),*],
        }
    };
}

/// Every RBAC risk rule.
pub const RULES: &[RuleMeta] = &[
    rule!(
        "RBAC001",
        "secrets-read-cluster-wide",
        Critical,
        "Subject can read Secrets in every namespace",
        "A ClusterRoleBinding grants get, list or watch on `secrets` (core group) to the subject.",
        "Secrets hold service-account tokens, credentials and keys of every namespace; reading them all is a direct \
         path to impersonating any workload, including privileged controllers.",
        "Grant secret access with a RoleBinding in the one namespace that needs it, and name the secrets with \
         `resourceNames`; prefer mounting secrets into pods over API access.",
        ["KSV041", "access-to-secrets"]
    ),
    rule!(
        "RBAC002",
        "create-workloads",
        High,
        "Subject can create pods or workloads",
        "The subject may create pods, or controllers that create pods (Deployments, DaemonSets, StatefulSets, \
         ReplicaSets, Jobs, CronJobs, ReplicationControllers).",
        "Whoever creates a pod chooses its service account, volumes and security context: they hold the permissions \
         of every service account in the namespace and, without Pod Security admission, of the node.",
        "Limit workload creation to deployment pipelines; enforce Pod Security `restricted` on the namespace; keep \
         privileged service accounts out of namespaces where people create pods.",
        ["KSV048", "access-to-create-pods"]
    ),
    rule!(
        "RBAC003",
        "pod-exec-attach",
        High,
        "Subject can exec into, attach to or port-forward pods",
        "The subject may create (or get) `pods/exec`, `pods/attach` or `pods/portforward`.",
        "Exec gives a shell inside running containers, with their mounted tokens and secrets; port-forward reaches \
         services that are not exposed.",
        "Grant exec only for break-glass roles, scoped to one namespace; audit its use.",
        ["KSV053", "KSV054", "clusterrolePodExecAttach", "rolePodExecAttach"]
    ),
    rule!(
        "RBAC004",
        "impersonate",
        Critical,
        "Subject can impersonate users, groups or service accounts",
        "The subject may use the `impersonate` verb on users, groups, serviceaccounts, uids or userextras.",
        "Impersonation acts as another identity, including `system:masters` members: it is cluster-admin by another \
         name unless narrowed with `resourceNames`.",
        "Remove `impersonate`, or restrict it with `resourceNames` to specific non-privileged identities.",
        ["CKV2_K8S_3"]
    ),
    rule!(
        "RBAC005",
        "escalate-or-bind",
        Critical,
        "Subject can escalate or bind roles",
        "The subject may use the `escalate` or `bind` verbs on roles or clusterroles.",
        "These verbs switch off RBAC's escalation prevention: the subject can write or bind roles with permissions \
         it does not hold, up to cluster-admin.",
        "Remove `escalate` and `bind`; if a controller needs `bind`, restrict it with `resourceNames` to the roles it \
         hands out.",
        []
    ),
    rule!(
        "RBAC006",
        "serviceaccount-token-create",
        High,
        "Subject can mint service-account tokens",
        "The subject may create `serviceaccounts/token`.",
        "A token request returns a valid token for any service account the rule covers, so the subject holds the \
         permissions of those service accounts.",
        "Remove the grant or restrict it with `resourceNames` to service accounts without privileges.",
        []
    ),
    rule!(
        "RBAC007",
        "csr-approve",
        High,
        "Subject can approve certificate signing requests",
        "The subject may update `certificatesigningrequests/approval` and `approve` signers.",
        "Approving a CSR for the kube-apiserver-client signer issues a client certificate with any user and groups, \
         including `system:masters`.",
        "Keep CSR approval to the controller manager; restrict `approve` with `resourceNames` to the signers needed.",
        []
    ),
    rule!(
        "RBAC008",
        "nodes-modify",
        High,
        "Subject can modify Node objects",
        "The subject may patch or update `nodes` (or `nodes/status`).",
        "Changing node labels and taints steers workloads (including privileged DaemonSet pods) onto nodes the \
         subject controls, and can drain or hide nodes.",
        "Leave node writes to the kubelets (with NodeRestriction) and to the cloud controller manager.",
        []
    ),
    rule!(
        "RBAC009",
        "webhook-configuration",
        High,
        "Subject can modify admission webhook configurations",
        "The subject may create, update, patch or delete mutating or validating webhook configurations.",
        "A mutating webhook sees and rewrites every object sent to the API, secrets included; deleting a validating \
         webhook disables policy enforcement.",
        "Restrict webhook configuration writes to cluster administrators.",
        ["KSV114"]
    ),
    rule!(
        "RBAC010",
        "nodes-proxy",
        High,
        "Subject can use nodes/proxy",
        "The subject may get or create `nodes/proxy`.",
        "nodes/proxy reaches the kubelet API, which can run commands in any pod on the node, bypassing admission and \
         audit of pod exec.",
        "Remove `nodes/proxy`; grant metrics access through `nodes/metrics` and `nodes/stats` instead.",
        ["KSV047"]
    ),
    rule!(
        "RBAC011",
        "wildcard-rule",
        Medium,
        "Role rule uses a wildcard",
        "A Role or ClusterRole rule lists `*` in verbs, resources or apiGroups.",
        "Wildcards grant every current and future verb, resource or API group (including CRDs installed later), \
         so the role silently grows.",
        "List the verbs, resources and API groups the role needs.",
        ["CKV_K8S_49", "KSV044", "KSV045", "KSV046", "wildcard-in-rules"]
    ),
    rule!(
        "RBAC012",
        "anonymous-binding",
        Critical,
        "Binding grants permissions to unauthenticated users",
        "A binding names User `system:anonymous` or Group `system:unauthenticated`.",
        "Anyone who can reach the API server gets the role, without credentials.",
        "Remove the subject; bind to named users or groups.",
        ["BindingsToSystemAnonymous"]
    ),
    rule!(
        "RBAC013",
        "cluster-admin-binding",
        High,
        "Full admin bound to a non-system subject",
        "A binding grants `cluster-admin` (or another role with `*` verbs on `*` resources in `*` groups) to a \
         subject whose name does not start with `system:`.",
        "cluster-admin is every permission on every resource; standing grants to people or workloads make any \
         compromise of them a cluster compromise.",
        "Bind narrower roles; keep cluster-admin for break-glass access through `system:masters` credentials kept \
         offline.",
        ["clusterrolebindingClusterAdmin", "rolebindingClusterAdminClusterRole", "cluster-admin-role-binding"]
    ),
    rule!(
        "RBAC014",
        "default-serviceaccount-binding",
        Medium,
        "Binding grants permissions to a default service account",
        "A binding names ServiceAccount `default`.",
        "Every pod that does not choose a service account runs as `default`, so the grant reaches every such pod in \
         the namespace.",
        "Create a dedicated service account for the workload that needs the permissions and bind that one.",
        []
    ),
    rule!(
        "RBAC015",
        "escalation-via-pod-creation",
        High,
        "Subject can reach a service account's permissions by creating pods",
        "The subject may create pods in a namespace where a service account holds dangerous permissions.",
        "A pod can run as any service account of its namespace and read its token, so the pod creator effectively \
         holds that service account's permissions.",
        "Move privileged service accounts to namespaces where only administrators create pods, or narrow their \
         permissions.",
        []
    ),
    rule!(
        "RBAC016",
        "workload-reads-all-secrets",
        High,
        "Service account or node can read every Secret of its scope",
        "A RoleBinding or ClusterRoleBinding gives a ServiceAccount, or a node identity (User `system:node:*`, Group \
         `system:nodes`), get, list or watch on `secrets` (core group) without `resourceNames`: every Secret of the \
         binding's namespace, or of the cluster for a ClusterRoleBinding. A full-admin role is reported once, as \
         RBAC013, like every other capability. Checkov's \
         CKV2_K8S_5 judges the same grant but only when the role is among the scanned files and reads `rules` \
         flattened (a verb of one rule with a resource of another); kguard matches per rule and resolves the \
         upstream default roles (`edit`, `admin`, `cluster-admin`) too.",
        "Workload identities are the ones an attacker gets first (a token mounted into a compromised pod); with \
         every Secret readable they hold every credential of the namespace, service-account tokens of more \
         privileged workloads included.",
        "Mount the Secrets the workload needs as volumes or name them in `resourceNames`; do not bind edit/admin \
         roles to service accounts.",
        ["CKV2_K8S_5"]
    ),
];

fn meta(id: &str) -> Option<&'static RuleMeta> {
    RULES.iter().find(|r| r.id == id)
}

/// What a capability needs: any of `verbs` on any of `resources` (`(resource, subresource)`) in `group`.
pub(crate) struct Probe {
    pub(crate) verbs: &'static [&'static str],
    pub(crate) group: &'static str,
    pub(crate) resources: &'static [(&'static str, &'static str)],
}

/// The capability rules: (rule id, probes that must *all* be granted (each one any-of)).
const CAPABILITIES: &[(&str, &[Probe])] = &[
    ("RBAC001", &[Probe { verbs: &["get", "list", "watch"], group: "", resources: &[("secrets", "")] }]),
    ("RBAC002", &[Probe { verbs: &["create"], group: "", resources: &[("pods", ""), ("replicationcontrollers", "")] }]),
    (
        "RBAC003",
        &[Probe {
            verbs: &["create", "get"],
            group: "",
            resources: &[("pods", "exec"), ("pods", "attach"), ("pods", "portforward")],
        }],
    ),
    (
        "RBAC004",
        &[Probe {
            verbs: &["impersonate"],
            group: "",
            resources: &[("users", ""), ("groups", ""), ("serviceaccounts", "")],
        }],
    ),
    (
        "RBAC005",
        &[Probe { verbs: &["escalate", "bind"], group: RBAC_GROUP, resources: &[("roles", ""), ("clusterroles", "")] }],
    ),
    ("RBAC006", &[Probe { verbs: &["create"], group: "", resources: &[("serviceaccounts", "token")] }]),
    (
        "RBAC007",
        &[
            Probe {
                verbs: &["update", "patch"],
                group: "certificates.k8s.io",
                resources: &[("certificatesigningrequests", "approval")],
            },
            Probe { verbs: &["approve"], group: "certificates.k8s.io", resources: &[("signers", "")] },
        ],
    ),
    ("RBAC008", &[Probe { verbs: &["patch", "update"], group: "", resources: &[("nodes", ""), ("nodes", "status")] }]),
    (
        "RBAC009",
        &[Probe {
            verbs: &["create", "update", "patch", "delete"],
            group: "admissionregistration.k8s.io",
            resources: &[("mutatingwebhookconfigurations", ""), ("validatingwebhookconfigurations", "")],
        }],
    ),
    ("RBAC010", &[Probe { verbs: &["get", "create"], group: "", resources: &[("nodes", "proxy")] }]),
];

/// Workload kinds whose creation creates pods (besides pods and replication controllers).
const WORKLOADS: &[(&str, &str)] = &[
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];

fn probe_granted(p: &Probe, rules: &[PolicyRule]) -> bool {
    probe_rule(p, rules).is_some()
}

/// The index of the first rule granting the probe (ignoring `resourceNames`).
pub(crate) fn probe_rule(p: &Probe, rules: &[PolicyRule]) -> Option<usize> {
    rules.iter().position(|r| {
        p.verbs.iter().any(|v| p.resources.iter().any(|(res, sub)| rule_allows_some_name(v, p.group, res, sub, r)))
    })
}

/// The probes of a capability rule (`RBAC007`), all of which must be granted.
pub(crate) fn capability_probes(id: &str) -> &'static [Probe] {
    CAPABILITIES.iter().find(|(i, _)| *i == id).map_or(&[], |(_, p)| p)
}

/// The capability rule ids a set of rules grants.
#[must_use]
pub fn capabilities(rules: &[PolicyRule]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = CAPABILITIES
        .iter()
        .filter(|(_, probes)| probes.iter().all(|p| probe_granted(p, rules)))
        .map(|(id, _)| *id)
        .collect();
    if !out.contains(&"RBAC002")
        && rules.iter().any(|r| WORKLOADS.iter().any(|(g, res)| rule_allows_some_name("create", g, res, "", r)))
    {
        out.push("RBAC002");
        out.sort_unstable();
    }
    out
}

fn finding(id: &str, binding: &Binding, pointer: String, message: String) -> Option<Finding> {
    Some(Finding::about(meta(id)?, &binding.object, pointer, message))
}

fn scope(b: &Binding) -> String {
    if b.cluster { "cluster-wide".to_owned() } else { format!("in namespace {}", b.namespace) }
}

/// Findings about the inventory, sorted by file, line and rule.
#[must_use]
pub fn risks(rbac: &Rbac) -> Vec<Finding> {
    let mut out = Vec::new();
    for (bi, b) in rbac.bindings().iter().enumerate() {
        if b.is_default() {
            continue;
        }
        let role = rbac.binding_role(bi).ok();
        let admin = (b.role_ref.kind == "ClusterRole" && b.role_ref.name == "cluster-admin")
            || role.is_some_and(|r| is_full_admin(&r.rules));
        // a full-admin grant is one finding (RBAC013), not one per capability
        let caps = if admin { Vec::new() } else { role.map(|r| capabilities(&r.rules)).unwrap_or_default() };
        let role_name =
            role.map_or_else(|| format!("{} {}", b.role_ref.kind, b.role_ref.name), |r| r.object.id.to_string());
        for (si, s) in b.subjects.iter().enumerate() {
            let who = s.short(&b.namespace);
            let pointer = format!("/subjects/{si}");
            for &cap in &caps {
                if cap == "RBAC001" && !b.cluster {
                    continue;
                }
                let Some(m) = meta(cap) else { continue };
                let msg = format!("{who}: {} ({role_name} via {}, {})", m.title.to_lowercase(), b.object.id, scope(b));
                out.extend(finding(cap, b, pointer.clone(), msg));
            }
            if (s.kind == "User" && s.name == super::attrs::ANONYMOUS)
                || (s.kind == "Group" && s.name == super::attrs::ALL_UNAUTHENTICATED)
            {
                let msg = format!(
                    "{} grants {role_name} to {who} ({}): anyone can use it without credentials",
                    b.object.id,
                    scope(b)
                );
                out.extend(finding("RBAC012", b, pointer.clone(), msg));
            }
            if admin && !s.name.starts_with("system:") {
                let msg = format!("{} grants {role_name} (full admin) to {who} ({})", b.object.id, scope(b));
                out.extend(finding("RBAC013", b, pointer.clone(), msg));
            }
            if !admin && is_workload_identity(s) && role.is_some_and(|r| reads_all_secrets(&r.rules)) {
                let msg = format!(
                    "{who} can read every Secret {} ({role_name} via {})",
                    if b.cluster { "in the cluster".to_owned() } else { format!("of namespace {}", b.namespace) },
                    b.object.id
                );
                out.extend(finding("RBAC016", b, pointer.clone(), msg));
            }
            if s.kind == "ServiceAccount" && s.name == "default" {
                let msg = format!(
                    "{} grants {role_name} to {who}, which every pod without a serviceAccountName uses",
                    b.object.id
                );
                out.extend(finding("RBAC014", b, pointer.clone(), msg));
            }
        }
    }
    for role in rbac.roles() {
        if role.is_default() {
            continue;
        }
        wildcard_findings(role, &mut out);
    }
    escalation_paths(rbac, &mut out);
    out.sort_by(|a, b| {
        (a.location.as_ref(), &a.rule_id, &a.message).cmp(&(b.location.as_ref(), &b.rule_id, &b.message))
    });
    out
}

fn wildcard_findings(role: &Role, out: &mut Vec<Finding>) {
    let Some(m) = meta("RBAC011") else { return };
    // aggregated roles: report the source rules, not the copies
    if role.aggregation.is_some() {
        return;
    }
    for (i, r) in role.rules.iter().enumerate() {
        let fields: Vec<&str> = [("verbs", &r.verbs), ("resources", &r.resources), ("apiGroups", &r.api_groups)]
            .into_iter()
            .filter(|(_, v)| v.iter().any(|x| x == ALL))
            .map(|(f, _)| f)
            .collect();
        let Some(first) = fields.first() else { continue };
        let pointer = format!("/rules/{i}/{first}");
        let message = format!("{} rule {i} {} uses `*` in {}", role.object.id, r.compact_string(), fields.join(", "));
        out.push(Finding::about(m, &role.object, pointer, message));
    }
}

/// Service accounts with dangerous grants: (namespace, name) → [(capability or cluster-admin, role, binding)].
fn privileged_service_accounts(rbac: &Rbac) -> Vec<((String, String), String, String)> {
    let mut out = Vec::new();
    for (bi, b) in rbac.bindings().iter().enumerate() {
        let Ok(role) = rbac.binding_role(bi) else { continue };
        let caps = capabilities(&role.rules);
        let admin = is_full_admin(&role.rules);
        if caps.is_empty() && !admin {
            continue;
        }
        for s in &b.subjects {
            if s.kind != "ServiceAccount" {
                continue;
            }
            let ns = if s.namespace.is_empty() { b.namespace.clone() } else { s.namespace.clone() };
            if ns.is_empty() {
                continue;
            }
            let what = if admin {
                format!("{} ({})", role.object.id, scope(b))
            } else {
                format!("{} ({}: {})", role.object.id, scope(b), caps.join(", "))
            };
            out.push(((ns, s.name.clone()), what, b.object.id.to_string()));
        }
    }
    out
}

fn escalation_paths(rbac: &Rbac, out: &mut Vec<Finding>) {
    let privileged = privileged_service_accounts(rbac);
    let namespaces: BTreeSet<&str> = privileged.iter().map(|((ns, _), _, _)| ns.as_str()).collect();
    let mut seen = BTreeSet::new();
    for ns in namespaces {
        let attrs = super::attrs::Attributes::resource(super::attrs::UserInfo::default(), "create", "", "pods", ns, "");
        for w in rbac.who_can(&attrs) {
            let Some(b) = rbac.bindings().get(w.binding_index) else { continue };
            if b.is_default() {
                continue;
            }
            let creator = w.subject.short(&w.binding_namespace);
            for ((sa_ns, sa), what, via) in privileged.iter().filter(|((n, _), _, _)| n == ns) {
                if is_same_sa(&w.subject, &w.binding_namespace, sa_ns, sa) {
                    continue;
                }
                let key = (w.binding_index, w.subject_index, sa_ns.clone(), sa.clone(), what.clone());
                if !seen.insert(key) {
                    continue;
                }
                let msg =
                    format!("{creator} → create pods in ns {ns} ({}) → sa {sa_ns}/{sa} → {what} via {via}", w.binding);
                out.extend(finding("RBAC015", b, format!("/subjects/{}", w.subject_index), msg));
            }
        }
    }
}

/// A service account or a node's identity (what a workload or a kubelet authenticates as).
fn is_workload_identity(s: &Subject) -> bool {
    s.kind == "ServiceAccount"
        || (s.kind == "User" && s.name.starts_with("system:node:"))
        || (s.kind == "Group" && s.name == "system:nodes")
}

/// Whether one rule grants get, list or watch on every Secret (core group, no `resourceNames`).
fn reads_all_secrets(rules: &[PolicyRule]) -> bool {
    rules.iter().any(|r| {
        r.resource_names.is_empty()
            && ["get", "list", "watch"].iter().any(|v| rule_allows_some_name(v, "", "secrets", "", r))
    })
}

/// Whether the rules grant every verb on every resource of every group.
fn is_full_admin(rules: &[PolicyRule]) -> bool {
    rules.iter().any(|r| {
        r.verbs.iter().any(|v| v == ALL)
            && r.resources.iter().any(|v| v == ALL)
            && r.api_groups.iter().any(|v| v == ALL)
    })
}

fn is_same_sa(s: &Subject, binding_ns: &str, ns: &str, name: &str) -> bool {
    s.kind == "ServiceAccount"
        && s.name == name
        && (if s.namespace.is_empty() { binding_ns } else { &s.namespace }) == ns
}
