//! Risk analysis of an RBAC inventory: dangerous grants per binding subject, risky bindings, and
//! escalation paths through pod creation.
//!
//! What can be judged on one Role or binding alone (wildcards, bindings to anonymous users, roles
//! granting a dangerous permission) is the hardening catalogue's (`KG039`–`KG048`); the ids
//! RBAC011 (wildcard rule) and RBAC012 (anonymous binding) are retired, aliases of KG041 and KG039.
//!
//! Upstream defaults (objects labelled `kubernetes.io/bootstrapping: rbac-defaults`) are not
//! reported: they are what every cluster has, and what the rules are measured against.

use std::collections::{BTreeMap, BTreeSet};

use kguard_report::{Finding, RuleMeta, Severity};

use super::matching::{ALL, rule_allows_some_name};
use super::policy::{Binding, PolicyRule, RBAC_GROUP, Subject};
use super::rbac::Rbac;

const RBAC_DOC: &str = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/";
const GOOD_PRACTICES: &str = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/";

/// Every RBAC risk rule.
pub const RULES: &[RuleMeta] = &[
    RuleMeta {
        id: "RBAC001",
        name: "secrets-read-cluster-wide",
        family: "rbac",
        severity: Severity::Critical,
        title: "Subject can read Secrets in every namespace",
        what: "A ClusterRoleBinding grants get, list or watch on `secrets` (core group) to the subject.",
        why: "Secrets hold service-account tokens, credentials and keys of every namespace; reading them all is a direct \
         path to impersonating any workload, including privileged controllers.",
        fix: "Grant secret access with a RoleBinding in the one namespace that needs it, and name the secrets with \
         `resourceNames`; prefer mounting secrets into pods over API access.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &["KSV041", "access-to-secrets"],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC002",
        name: "create-workloads",
        family: "rbac",
        severity: Severity::High,
        title: "Subject can create pods or workloads",
        what: "The subject may create pods, or controllers that create pods (Deployments, DaemonSets, StatefulSets, \
         ReplicaSets, Jobs, CronJobs, ReplicationControllers). \
         Severity by scope: high through a ClusterRoleBinding, medium through a RoleBinding (one namespace).",
        why: "Whoever creates a pod chooses its service account, volumes and security context: they hold the permissions \
         of every service account in the namespace and, without Pod Security admission, of the node.",
        fix: "Limit workload creation to deployment pipelines; enforce Pod Security `restricted` on the namespace; keep \
         privileged service accounts out of namespaces where people create pods.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &["KSV048", "access-to-create-pods"],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC003",
        name: "pod-exec-attach",
        family: "rbac",
        severity: Severity::High,
        title: "Subject can exec into, attach to or port-forward pods",
        what: "The subject may create (or get) `pods/exec`, `pods/attach` or `pods/portforward`. Severity by scope: \
         high through a ClusterRoleBinding, medium through a RoleBinding (one namespace).",
        why: "Exec gives a shell inside running containers, with their mounted tokens and secrets; port-forward reaches \
         services that are not exposed.",
        fix: "Grant exec only for break-glass roles, scoped to one namespace; audit its use.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &["KSV053", "KSV054", "clusterrolePodExecAttach", "rolePodExecAttach"],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC004",
        name: "impersonate",
        family: "rbac",
        severity: Severity::Critical,
        title: "Subject can impersonate users, groups or service accounts",
        what: "The subject may use the `impersonate` verb on users, groups, serviceaccounts, uids or userextras. \
         Severity by scope: critical through a ClusterRoleBinding that covers users, groups, uids or user extras (any \
         identity, `system:masters` members included); high when it covers service accounts only (any service \
         account of the cluster); medium through a RoleBinding, which can only let impersonate the service accounts \
         of its namespace (users and groups are cluster-scoped: a RoleBinding grants nothing on them). Acting as \
         those service accounts is followed by RBAC015.",
        why: "Impersonation acts as another identity, including `system:masters` members: it is cluster-admin by another \
         name unless narrowed with `resourceNames`.",
        fix: "Remove `impersonate`, or restrict it with `resourceNames` to specific non-privileged identities.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &["CKV2_K8S_3"],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC005",
        name: "escalate-or-bind",
        family: "rbac",
        severity: Severity::Critical,
        title: "Subject can escalate or bind roles",
        what: "The subject may use the `escalate` or `bind` verbs on roles or clusterroles. Severity by scope: critical \
         through a ClusterRoleBinding, high through a RoleBinding (roles and bindings of one namespace).",
        why: "These verbs switch off RBAC's escalation prevention: the subject can write or bind roles with permissions \
         it does not hold, up to cluster-admin.",
        fix: "Remove `escalate` and `bind`; if a controller needs `bind`, restrict it with `resourceNames` to the roles it \
         hands out.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC006",
        name: "serviceaccount-token-create",
        family: "rbac",
        severity: Severity::High,
        title: "Subject can mint service-account tokens",
        what: "The subject may create `serviceaccounts/token`. Severity by scope: high through a ClusterRoleBinding \
         (any service account), medium through a RoleBinding (those of one namespace; acting as them is followed by \
         RBAC015).",
        why: "A token request returns a valid token for any service account the rule covers, so the subject holds the \
         permissions of those service accounts.",
        fix: "Remove the grant or restrict it with `resourceNames` to service accounts without privileges.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC007",
        name: "csr-approve",
        family: "rbac",
        severity: Severity::High,
        title: "Subject can approve certificate signing requests",
        what: "The subject may update `certificatesigningrequests/approval` and `approve` signers, through a \
         ClusterRoleBinding (the resources are cluster-scoped: a RoleBinding grants nothing on them).",
        why: "Approving a CSR for the kube-apiserver-client signer issues a client certificate with any user and groups, \
         including `system:masters`.",
        fix: "Keep CSR approval to the controller manager; restrict `approve` with `resourceNames` to the signers needed.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC008",
        name: "nodes-modify",
        family: "rbac",
        severity: Severity::High,
        title: "Subject can modify Node objects",
        what: "The subject may patch or update `nodes` (or `nodes/status`), through a ClusterRoleBinding (nodes are \
         cluster-scoped: a RoleBinding grants nothing on them).",
        why: "Changing node labels and taints steers workloads (including privileged DaemonSet pods) onto nodes the \
         subject controls, and can drain or hide nodes.",
        fix: "Leave node writes to the kubelets (with NodeRestriction) and to the cloud controller manager.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC009",
        name: "webhook-configuration",
        family: "rbac",
        severity: Severity::High,
        title: "Subject can modify admission webhook configurations",
        what: "The subject may create, update, patch or delete mutating or validating webhook configurations, through a \
         ClusterRoleBinding (the configurations are cluster-scoped: a RoleBinding grants nothing on them).",
        why: "A mutating webhook sees and rewrites every object sent to the API, secrets included; deleting a validating \
         webhook disables policy enforcement.",
        fix: "Restrict webhook configuration writes to cluster administrators.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &["KSV114"],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC010",
        name: "nodes-proxy",
        family: "rbac",
        severity: Severity::High,
        title: "Subject can use nodes/proxy",
        what: "The subject may get or create `nodes/proxy`, through a ClusterRoleBinding (nodes are cluster-scoped: a \
         RoleBinding grants nothing on them).",
        why: "nodes/proxy reaches the kubelet API, which can run commands in any pod on the node, bypassing admission and \
         audit of pod exec.",
        fix: "Remove `nodes/proxy`; grant metrics access through `nodes/metrics` and `nodes/stats` instead.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &["KSV047"],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC013",
        name: "cluster-admin-binding",
        family: "rbac",
        severity: Severity::High,
        title: "Full admin bound to a non-system subject",
        what: "A binding grants `cluster-admin` (or another role with `*` verbs on `*` resources in `*` groups) to a \
         subject other than a control-plane identity (a `system:` user that is neither `system:anonymous` nor a \
         service account, and the group `system:masters`, which is all-powerful already). Groups are judged like \
         their members: `system:authenticated` or `system:serviceaccounts` with full admin is reported. Severity by \
         scope: high through a ClusterRoleBinding, medium through a RoleBinding (admin of one namespace).",
        why: "cluster-admin is every permission on every resource; standing grants to people or workloads make any \
         compromise of them a cluster compromise.",
        fix: "Bind narrower roles; keep cluster-admin for break-glass access through `system:masters` credentials kept \
         offline.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &[
            "clusterrolebindingClusterAdmin",
            "rolebindingClusterAdminClusterRole",
            "cluster-admin-role-binding",
        ],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC014",
        name: "default-serviceaccount-binding",
        family: "rbac",
        severity: Severity::Medium,
        title: "Binding grants permissions to a default service account",
        what: "A binding names the ServiceAccount `default` (as a ServiceAccount subject or by its user name \
         `system:serviceaccount:<ns>:default`).",
        why: "Every pod that does not choose a service account runs as `default`, so the grant reaches every such pod in \
         the namespace.",
        fix: "Create a dedicated service account for the workload that needs the permissions and bind that one.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC015",
        name: "escalation-via-pod-creation",
        family: "rbac",
        severity: Severity::High,
        title: "Subject can act as a service account holding rights it lacks",
        what: "The subject may act as the service accounts of a namespace (create pods there, which may run as any of \
         them; impersonate them; or mint their tokens) and one of those service accounts holds dangerous rights \
         (full admin, a capability of RBAC001–RBAC010, or every Secret of a namespace) that the subject does not \
         hold itself at the same scope. One finding per binding subject, listing each path (the first five). \
         Severity by what is gained: critical for full admin cluster-wide, high for another cluster-wide right, \
         medium when every gained right is one namespace's. Groups are judged like their members (a member of the \
         group, authenticated).",
        why: "A pod can run as any service account of its namespace and read its token, so the pod creator effectively \
         holds that service account's permissions.",
        fix: "Move privileged service accounts to namespaces where only administrators create pods, or narrow their \
         permissions.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "RBAC016",
        name: "workload-reads-all-secrets",
        family: "rbac",
        severity: Severity::High,
        title: "Service account or node can read every Secret of its scope",
        what: "A RoleBinding or ClusterRoleBinding gives a workload identity (a ServiceAccount, a User \
         `system:serviceaccount:*` or `system:node:*`, a Group `system:serviceaccounts`, `system:serviceaccounts:<ns>` \
         or `system:nodes`: groups are judged like their members) get, list or watch on `secrets` (core group) \
         without `resourceNames`: every Secret of the binding's namespace (medium), or of the cluster for a \
         ClusterRoleBinding (high). A full-admin role is reported once, as \
         RBAC013, like every other capability. Checkov's \
         CKV2_K8S_5 judges the same grant but only when the role is among the scanned files and reads `rules` \
         flattened (a verb of one rule with a resource of another); kguard matches per rule and resolves the \
         upstream default roles (`edit`, `admin`, `cluster-admin`) too.",
        why: "Workload identities are the ones an attacker gets first (a token mounted into a compromised pod); with \
         every Secret readable they hold every credential of the namespace, service-account tokens of more \
         privileged workloads included.",
        fix: "Mount the Secrets the workload needs as volumes or name them in `resourceNames`; do not bind edit/admin \
         roles to service accounts.",
        references: &[RBAC_DOC, GOOD_PRACTICES],
        aliases: &["CKV2_K8S_5"],
        opt_in: false,
    },
];

fn meta(id: &str) -> Option<&'static RuleMeta> {
    RULES.iter().find(|r| r.id == id)
}

/// What a capability needs: any of `verbs` on any of `resources` (`(resource, subresource)`) in `group`.
/// The hardening catalogue judges one Role alone with the same probes.
#[derive(Debug)]
pub struct Probe {
    /// Any of these verbs.
    pub verbs: &'static [&'static str],
    /// The API group.
    pub group: &'static str,
    /// Any of these `(resource, subresource)` pairs.
    pub resources: &'static [(&'static str, &'static str)],
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
#[must_use]
pub fn probe_rule(p: &Probe, rules: &[PolicyRule]) -> Option<usize> {
    rules.iter().position(|r| {
        p.verbs.iter().any(|v| p.resources.iter().any(|(res, sub)| rule_allows_some_name(v, p.group, res, sub, r)))
    })
}

/// The probes of a capability rule (`RBAC007`), all of which must be granted.
#[must_use]
pub fn capability_probes(id: &str) -> &'static [Probe] {
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

/// Capabilities on cluster-scoped resources (nodes, webhook configurations, CSRs and signers):
/// a RoleBinding's rules apply only to requests in its namespace, so it grants none of them.
const CLUSTER_SCOPED: &[&str] = &["RBAC007", "RBAC008", "RBAC009", "RBAC010"];

/// The capability rule ids that `rules` grant through `binding`: all of them through a
/// ClusterRoleBinding; through a RoleBinding, only those on namespaced resources (RBAC001, read
/// every Secret of the cluster, is reported for ClusterRoleBindings only; RBAC004 only when
/// service accounts may be impersonated, the namespaced part of impersonation).
fn granted_capabilities(rules: &[PolicyRule], cluster: bool) -> Vec<&'static str> {
    let mut caps = capabilities(rules);
    if !cluster {
        caps.retain(|c| !CLUSTER_SCOPED.contains(c) && *c != "RBAC001");
        if caps.contains(&"RBAC004") && impersonation(rules).1.is_none() {
            caps.retain(|c| *c != "RBAC004");
        }
    }
    caps
}

/// What the rules let impersonate: (users, groups, uids or user extras: any identity; service
/// accounts), each the index of the first rule granting it.
fn impersonation(rules: &[PolicyRule]) -> (Option<usize>, Option<usize>) {
    let probe = |resources: &'static [(&'static str, &'static str)]| {
        probe_rule(&Probe { verbs: &["impersonate"], group: "", resources }, rules)
    };
    let anyone = probe(&[("users", ""), ("groups", ""), ("uids", "")]).or_else(|| {
        probe_rule(
            &Probe { verbs: &["impersonate"], group: "authentication.k8s.io", resources: &[("userextras", "*")] },
            rules,
        )
    });
    (anyone, probe(&[("serviceaccounts", "")]))
}

/// The severity of a capability finding, by the binding's scope: the rule's own through a
/// ClusterRoleBinding (the whole cluster), one level lower through a RoleBinding (one namespace).
/// Impersonation is critical only where any user or group may be impersonated
/// (`system:masters` included): impersonating service accounts is high cluster-wide, medium in
/// one namespace.
fn capability_severity(cap: &str, rules: &[PolicyRule], cluster: bool) -> Option<Severity> {
    let rule = meta(cap)?.severity;
    if cap == "RBAC004" {
        let (anyone, _) = impersonation(rules);
        return Some(match (cluster, anyone.is_some()) {
            (true, true) => Severity::Critical,
            (true, false) => Severity::High,
            (false, _) => Severity::Medium,
        });
    }
    Some(if cluster { rule } else { lower(rule) })
}

/// One level lower (Info stays Info).
fn lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium => Severity::Low,
        Severity::Low | Severity::Info => Severity::Info,
    }
}

fn finding(id: &str, binding: &Binding, pointer: String, message: String) -> Option<Finding> {
    Some(Finding::about(meta(id)?, &binding.object, pointer, message))
}

fn finding_at(id: &str, severity: Severity, binding: &Binding, pointer: String, message: String) -> Option<Finding> {
    let mut f = finding(id, binding, pointer, message)?;
    f.severity = severity;
    Some(f)
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
        let rules = role.map_or(&[][..], |r| &r.rules[..]);
        let caps = if admin { Vec::new() } else { granted_capabilities(rules, b.cluster) };
        let role_name =
            role.map_or_else(|| format!("{} {}", b.role_ref.kind, b.role_ref.name), |r| r.object.id.to_string());
        for (si, s) in b.subjects.iter().enumerate() {
            let who = s.short(&b.namespace);
            let pointer = format!("/subjects/{si}");
            for &cap in &caps {
                let (Some(m), Some(severity)) = (meta(cap), capability_severity(cap, rules, b.cluster)) else {
                    continue;
                };
                let only_service_accounts = !b.cluster || impersonation(rules).0.is_none();
                let what = if cap == "RBAC004" && only_service_accounts {
                    "can impersonate service accounts".to_owned()
                } else {
                    m.title.to_lowercase()
                };
                let msg = format!("{who}: {what} ({role_name} via {}, {})", b.object.id, scope(b));
                out.extend(finding_at(cap, severity, b, pointer.clone(), msg));
            }
            if admin && !is_control_plane_identity(s) {
                let msg = format!("{} grants {role_name} (full admin) to {who} ({})", b.object.id, scope(b));
                let severity = meta("RBAC013").map(|m| if b.cluster { m.severity } else { lower(m.severity) });
                out.extend(finding_at("RBAC013", severity.unwrap_or(Severity::High), b, pointer.clone(), msg));
            }
            if !admin && is_workload_identity(s) && reads_all_secrets(rules) {
                let msg = format!(
                    "{who} can read every Secret {} ({role_name} via {})",
                    if b.cluster { "in the cluster".to_owned() } else { format!("of namespace {}", b.namespace) },
                    b.object.id
                );
                let severity = meta("RBAC016").map(|m| if b.cluster { m.severity } else { lower(m.severity) });
                out.extend(finding_at("RBAC016", severity.unwrap_or(Severity::High), b, pointer.clone(), msg));
            }
            if is_default_service_account(s, &b.namespace) {
                let msg = format!(
                    "{} grants {role_name} to {who}, which every pod without a serviceAccountName uses",
                    b.object.id
                );
                out.extend(finding("RBAC014", b, pointer.clone(), msg));
            }
        }
    }
    escalation_paths(rbac, &mut out);
    out.sort_by(|a, b| {
        (a.location.as_ref(), &a.rule_id, &a.message).cmp(&(b.location.as_ref(), &b.rule_id, &b.message))
    });
    out
}

/// The rights a service account holds through one binding: full admin, or dangerous
/// capabilities, cluster-wide or in one namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rights {
    /// Where: `""` cluster-wide, else the namespace of the RoleBinding.
    namespace: String,
    /// Full admin there.
    admin: bool,
    /// Otherwise, what ([`right_labels`]).
    labels: Vec<&'static str>,
    /// The role, for messages.
    role: String,
    /// The binding, for messages.
    binding: String,
}

impl Rights {
    fn scope(&self) -> String {
        if self.namespace.is_empty() { "cluster-wide".to_owned() } else { format!("in namespace {}", self.namespace) }
    }
}

/// The dangerous rights `rules` give through a binding of this scope, by the capability rules'
/// names (`create-workloads`, ...), plus `read-secrets` (every Secret of one namespace) through
/// a RoleBinding.
fn right_labels(rules: &[PolicyRule], cluster: bool) -> Vec<&'static str> {
    let mut labels: Vec<&'static str> =
        granted_capabilities(rules, cluster).into_iter().filter_map(|c| meta(c).map(|m| m.name)).collect();
    if !cluster && reads_all_secrets(rules) {
        labels.push("read-secrets");
    }
    labels
}

/// The service accounts with dangerous rights, by (namespace, name). A service account is named
/// by a `ServiceAccount` subject or by a `User` subject with its user name
/// (`system:serviceaccount:<ns>:<name>`).
fn privileged_service_accounts(rbac: &Rbac) -> BTreeMap<(String, String), Vec<Rights>> {
    let mut out: BTreeMap<(String, String), Vec<Rights>> = BTreeMap::new();
    for (bi, b) in rbac.bindings().iter().enumerate() {
        let Ok(role) = rbac.binding_role(bi) else { continue };
        let admin = is_full_admin(&role.rules);
        let labels = if admin { Vec::new() } else { right_labels(&role.rules, b.cluster) };
        if labels.is_empty() && !admin {
            continue;
        }
        for s in &b.subjects {
            let Some((ns, name)) = service_account_of(s, &b.namespace) else { continue };
            out.entry((ns, name)).or_default().push(Rights {
                namespace: if b.cluster { String::new() } else { b.namespace.clone() },
                admin,
                labels: labels.clone(),
                role: role.object.id.to_string(),
                binding: b.object.id.to_string(),
            });
        }
    }
    for rights in out.values_mut() {
        rights.sort();
        rights.dedup();
    }
    out
}

/// The (namespace, name) of the service account a subject names, if it names one.
fn service_account_of(s: &Subject, binding_ns: &str) -> Option<(String, String)> {
    match s.kind.as_str() {
        "ServiceAccount" => {
            let ns = if s.namespace.is_empty() { binding_ns } else { &s.namespace };
            (!ns.is_empty()).then(|| (ns.to_owned(), s.name.clone()))
        }
        "User" => {
            let (ns, name) = s.name.strip_prefix(kguard_request::SERVICE_ACCOUNT_PREFIX)?.split_once(':')?;
            Some((ns.to_owned(), name.to_owned()))
        }
        _ => None,
    }
}

/// The user a subject stands for when its own rights are looked up: a user (authenticated), a
/// service account (with its groups), or a member of a group judged like a user (the group and
/// `system:authenticated`, under a name no binding names).
fn subject_user(s: &Subject, binding_ns: &str) -> Option<kguard_request::UserInfo> {
    use kguard_request::{ALL_AUTHENTICATED, ALL_UNAUTHENTICATED, ANONYMOUS, UserInfo};
    Some(match s.kind.as_str() {
        "User" if s.name == ANONYMOUS => UserInfo::new(ANONYMOUS, [ALL_UNAUTHENTICATED]),
        "User" => match service_account_of(s, binding_ns) {
            Some((ns, name)) => UserInfo::service_account(&ns, &name),
            None => UserInfo::new(s.name.clone(), [ALL_AUTHENTICATED]),
        },
        "Group" => {
            let implied = if s.name == ALL_UNAUTHENTICATED { ALL_UNAUTHENTICATED } else { ALL_AUTHENTICATED };
            let mut groups = vec![s.name.clone()];
            if s.name != implied {
                groups.push(implied.to_owned());
            }
            UserInfo::new(format!("kguard:a member of group {}", s.name), groups)
        }
        "ServiceAccount" => {
            let (ns, name) = service_account_of(s, binding_ns)?;
            UserInfo::service_account(&ns, &name)
        }
        _ => return None,
    })
}

/// Routes by which a subject acts as the service accounts of a namespace: (verb, resource, what).
const ROUTES: &[(&str, &str, &str)] = &[
    ("create", "pods", "create pods"),
    ("impersonate", "serviceaccounts", "impersonate service accounts"),
    ("create", "serviceaccounts/token", "mint service-account tokens"),
];

/// A subject's own rights by namespace (`""` cluster-wide): full admin, else the labels.
type OwnRights = BTreeMap<String, (bool, Vec<&'static str>)>;

/// What `user` lacks of `rights` (the same rights at the same scope or wider, or full admin
/// there, are held): `None` when nothing, `Some(vec![])` when it lacks full admin, else the
/// labels it lacks. `cache` holds the user's own rights by namespace.
fn lacks(
    rbac: &Rbac,
    user: &kguard_request::UserInfo,
    rights: &Rights,
    cache: &mut OwnRights,
) -> Option<Vec<&'static str>> {
    let (admin, own) = cache.entry(rights.namespace.clone()).or_insert_with(|| {
        let (rules, _) = rbac.rules_for(user, &rights.namespace);
        let admin = is_full_admin(&rules);
        (admin, if admin { Vec::new() } else { right_labels(&rules, rights.namespace.is_empty()) })
    });
    if *admin {
        return None;
    }
    if rights.admin {
        return Some(Vec::new());
    }
    let lacked: Vec<&'static str> = rights.labels.iter().copied().filter(|l| !own.contains(l)).collect();
    (!lacked.is_empty()).then_some(lacked)
}

/// RBAC015: subjects that can act as a service account (create pods in its namespace,
/// impersonate it, mint its tokens) holding rights they lack themselves. One finding per binding
/// subject, listing every path.
fn escalation_paths(rbac: &Rbac, out: &mut Vec<Finding>) {
    let privileged = privileged_service_accounts(rbac);
    let namespaces: BTreeSet<&str> = privileged.keys().map(|(ns, _)| ns.as_str()).collect();
    // (binding, subject) → paths (sorted, deduplicated), the worst severity gained.
    let mut paths: BTreeMap<(usize, usize), (BTreeSet<String>, Severity)> = BTreeMap::new();
    // The subject's own rights, by scope (cached per binding subject).
    let mut own: BTreeMap<(usize, usize), OwnRights> = BTreeMap::new();
    for ns in namespaces {
        for (verb, resource, route) in ROUTES {
            let attrs =
                kguard_request::Attributes::resource(kguard_request::UserInfo::default(), verb, "", resource, ns, "");
            for w in rbac.who_can(&attrs) {
                let Some(b) = rbac.bindings().get(w.binding_index) else { continue };
                if b.is_default() {
                    continue;
                }
                let Some(user) = subject_user(&w.subject, &w.binding_namespace) else { continue };
                let creator = w.subject.short(&w.binding_namespace);
                let key = (w.binding_index, w.subject_index);
                let cache = own.entry(key).or_default();
                for ((sa_ns, sa), rights) in privileged.range((ns.to_owned(), String::new())..) {
                    if sa_ns != ns {
                        break;
                    }
                    if service_account_of(&w.subject, &w.binding_namespace)
                        .is_some_and(|(n, s)| &n == sa_ns && &s == sa)
                    {
                        continue;
                    }
                    for r in rights {
                        let Some(lacked) = lacks(rbac, &user, r, cache) else { continue };
                        let what = if lacked.is_empty() {
                            format!("{} ({}, full admin)", r.role, r.scope())
                        } else {
                            format!("{} ({}: {})", r.role, r.scope(), lacked.join(", "))
                        };
                        let entry = paths.entry(key).or_insert_with(|| (BTreeSet::new(), Severity::Medium));
                        entry.0.insert(format!(
                            "{creator} → {route} in ns {ns} ({}) → sa {sa_ns}/{sa} → {what} via {}",
                            w.binding, r.binding
                        ));
                        let gained = match (r.namespace.is_empty(), r.admin) {
                            (true, true) => Severity::Critical,
                            (true, false) => Severity::High,
                            (false, _) => Severity::Medium,
                        };
                        entry.1 = entry.1.max(gained);
                    }
                }
            }
        }
    }
    const SHOWN: usize = 5;
    for ((bi, si), (set, severity)) in paths {
        let Some(b) = rbac.bindings().get(bi) else { continue };
        let mut msg = set.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
        if set.len() > SHOWN {
            msg.push_str(&format!("; and {} more paths", set.len() - SHOWN));
        }
        out.extend(finding_at("RBAC015", severity, b, format!("/subjects/{si}"), msg));
    }
}

/// A service account or a node's identity (what a workload or a kubelet authenticates as),
/// including the groups that hold every service account (`system:serviceaccounts`,
/// `system:serviceaccounts:<ns>`): a group is judged like each of its members.
fn is_workload_identity(s: &Subject) -> bool {
    use kguard_request::{ALL_SERVICE_ACCOUNTS, NODE_PREFIX, NODES_GROUP, SERVICE_ACCOUNT_PREFIX};
    match s.kind.as_str() {
        "ServiceAccount" => true,
        "User" => s.name.starts_with(NODE_PREFIX) || s.name.starts_with(SERVICE_ACCOUNT_PREFIX),
        "Group" => {
            s.name == NODES_GROUP
                || s.name == ALL_SERVICE_ACCOUNTS
                || s.name.strip_prefix(ALL_SERVICE_ACCOUNTS).is_some_and(|r| r.starts_with(':'))
        }
        _ => false,
    }
}

/// A control-plane identity whose full-admin grant is expected: a `system:` user that is neither
/// anonymous nor a service account (kube-controller-manager, kube-scheduler, ...), and
/// `system:masters` (already all-powerful). Every other subject, groups such as
/// `system:authenticated` or `system:serviceaccounts` included, is judged like a user.
fn is_control_plane_identity(s: &Subject) -> bool {
    use kguard_request::{ANONYMOUS, SERVICE_ACCOUNT_PREFIX, SYSTEM_MASTERS};
    match s.kind.as_str() {
        "User" => s.name.starts_with("system:") && s.name != ANONYMOUS && !s.name.starts_with(SERVICE_ACCOUNT_PREFIX),
        "Group" => s.name == SYSTEM_MASTERS,
        _ => false,
    }
}

/// The `default` service account, by subject kind `ServiceAccount` or by its user name.
fn is_default_service_account(s: &Subject, binding_ns: &str) -> bool {
    service_account_of(s, binding_ns).is_some_and(|(_, name)| name == "default")
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
