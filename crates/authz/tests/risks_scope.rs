//! RBAC risks judged by scope: a grant through a RoleBinding is one namespace's (and void on
//! cluster-scoped resources), escalation paths lead only to rights the subject lacks, one finding
//! per subject, and groups are judged like their members.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;

use kguard_authz::{Rbac, defaults, risks};
use kguard_report::{Finding, Severity};

fn scan(yaml: &str) -> Vec<Finding> {
    let file: Arc<str> = "rbac.yaml".into();
    let mut objects = kguard_model::load::parse_text(&file, yaml).objects;
    objects.extend(defaults::objects());
    let rbac = Rbac::from_objects(&objects);
    assert!(rbac.diagnostics().is_empty(), "{:?}", rbac.diagnostics());
    risks(&rbac)
}

fn of<'a>(f: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    f.iter().filter(|x| x.rule_id == rule).collect()
}

fn role(kind: &str, name: &str, ns: Option<&str>, rules: &str) -> String {
    let ns = ns.map_or(String::new(), |n| format!(", namespace: {n}"));
    format!(
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {{name: {name}{ns}}}\nrules:\n{rules}\n"
    )
}

fn binding(kind: &str, name: &str, ns: Option<&str>, role_kind: &str, role: &str, subjects: &str) -> String {
    let ns = ns.map_or(String::new(), |n| format!(", namespace: {n}"));
    format!(
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {{name: {name}{ns}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {role_kind}, name: {role}}}\nsubjects:\n{subjects}\n"
    )
}

#[test]
fn impersonation_severity_follows_scope() {
    let sa_only = "- {apiGroups: [\"\"], resources: [serviceaccounts], verbs: [impersonate]}";
    let anyone = "- {apiGroups: [\"\"], resources: [users, groups, serviceaccounts], verbs: [impersonate]}";
    let yaml = [
        role("ClusterRole", "imp-sa", None, sa_only),
        role("ClusterRole", "imp-any", None, anyone),
        binding("RoleBinding", "one-ns", Some("ci"), "ClusterRole", "imp-any", "- {kind: User, name: ann}"),
        binding("ClusterRoleBinding", "all-sa", None, "ClusterRole", "imp-sa", "- {kind: User, name: bob}"),
        binding("ClusterRoleBinding", "anyone", None, "ClusterRole", "imp-any", "- {kind: User, name: cid}"),
    ]
    .concat();
    let f = scan(&yaml);
    let got: Vec<(Severity, &str)> = of(&f, "RBAC004").iter().map(|x| (x.severity, x.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (
                Severity::Medium,
                "user ann: can impersonate service accounts (ClusterRole/imp-any via RoleBinding/ci/one-ns, in namespace ci)"
            ),
            (
                Severity::High,
                "user bob: can impersonate service accounts (ClusterRole/imp-sa via ClusterRoleBinding/all-sa, cluster-wide)"
            ),
            (
                Severity::Critical,
                "user cid: subject can impersonate users, groups or service accounts (ClusterRole/imp-any via \
                 ClusterRoleBinding/anyone, cluster-wide)"
            ),
        ]
    );
}

#[test]
fn a_role_binding_grants_nothing_on_cluster_scoped_resources() {
    let rules = "- {apiGroups: [\"\"], resources: [nodes], verbs: [patch]}\n- {apiGroups: [\"\"], resources: [nodes/proxy], verbs: [get]}\n- {apiGroups: [\"\"], resources: [pods], verbs: [create]}";
    let yaml = [
        role("ClusterRole", "node-admin", None, rules),
        binding("RoleBinding", "ns", Some("ci"), "ClusterRole", "node-admin", "- {kind: User, name: ann}"),
        binding("ClusterRoleBinding", "all", None, "ClusterRole", "node-admin", "- {kind: User, name: bob}"),
    ]
    .concat();
    let f = scan(&yaml);
    let who = |rule: &str| -> Vec<(String, Severity)> {
        of(&f, rule).iter().map(|x| (x.message.split(':').next().unwrap().to_owned(), x.severity)).collect()
    };
    assert_eq!(who("RBAC008"), [("user bob".to_owned(), Severity::High)]);
    assert_eq!(who("RBAC010"), [("user bob".to_owned(), Severity::High)]);
    // Creating pods is a namespace's through a RoleBinding: one level lower.
    assert_eq!(who("RBAC002"), [("user ann".to_owned(), Severity::Medium), ("user bob".to_owned(), Severity::High)]);
}

#[test]
fn escalation_only_to_rights_the_subject_lacks_one_finding_per_subject() {
    let pods = "- {apiGroups: [\"\"], resources: [pods], verbs: [create]}";
    let secrets = "- {apiGroups: [\"\"], resources: [secrets], verbs: [get, list]}";
    let yaml = [
        role("ClusterRole", "pod-creator", None, pods),
        role("ClusterRole", "secret-reader", None, secrets),
        // Two privileged service accounts in ci.
        binding(
            "ClusterRoleBinding",
            "deployer",
            None,
            "ClusterRole",
            "cluster-admin",
            "- {kind: ServiceAccount, name: deployer, namespace: ci}",
        ),
        binding(
            "ClusterRoleBinding",
            "reader",
            None,
            "ClusterRole",
            "secret-reader",
            "- {kind: ServiceAccount, name: reader, namespace: ci}",
        ),
        // jane creates pods in ci: both paths, one finding.
        binding("RoleBinding", "jane", Some("ci"), "ClusterRole", "pod-creator", "- {kind: User, name: jane}"),
        // ops (a group) creates pods and reads every secret: only the deployer's admin is new.
        binding("RoleBinding", "ops-pods", Some("ci"), "ClusterRole", "pod-creator", "- {kind: Group, name: ops}"),
        binding(
            "ClusterRoleBinding",
            "ops-secrets",
            None,
            "ClusterRole",
            "secret-reader",
            "- {kind: Group, name: ops}",
        ),
        // root is cluster-admin: nothing to gain.
        binding("ClusterRoleBinding", "root", None, "ClusterRole", "cluster-admin", "- {kind: User, name: root}"),
        binding("RoleBinding", "root-pods", Some("ci"), "ClusterRole", "pod-creator", "- {kind: User, name: root}"),
        // bob may impersonate the service accounts of ci.
        role("Role", "imp", Some("ci"), "- {apiGroups: [\"\"], resources: [serviceaccounts], verbs: [impersonate]}"),
        binding("RoleBinding", "bob", Some("ci"), "Role", "imp", "- {kind: User, name: bob}"),
    ]
    .concat();
    let f = scan(&yaml);
    let esc = of(&f, "RBAC015");
    let find = |who: &str| esc.iter().filter(|x| x.message.starts_with(who)).copied().collect::<Vec<_>>();
    let jane = find("user jane ");
    assert_eq!(jane.len(), 1, "{esc:#?}");
    assert_eq!(jane[0].severity, Severity::Critical);
    assert_eq!(
        jane[0].message,
        "user jane → create pods in ns ci (RoleBinding/ci/jane) → sa ci/deployer → ClusterRole/cluster-admin \
         (cluster-wide, full admin) via ClusterRoleBinding/deployer; user jane → create pods in ns ci \
         (RoleBinding/ci/jane) → sa ci/reader → ClusterRole/secret-reader (cluster-wide: secrets-read-cluster-wide) via \
         ClusterRoleBinding/reader"
    );
    let ops = find("group ops ");
    assert_eq!(ops.len(), 1, "{esc:#?}");
    assert!(
        ops[0].message.contains("sa ci/deployer") && !ops[0].message.contains("sa ci/reader"),
        "{}",
        ops[0].message
    );
    assert!(find("user root ").is_empty(), "{esc:#?}");
    let bob = find("user bob ");
    assert_eq!(bob.len(), 1, "{esc:#?}");
    assert!(bob[0].message.starts_with("user bob → impersonate service accounts in ns ci (RoleBinding/ci/bob)"));
}

#[test]
fn groups_are_judged_like_users() {
    let yaml = [
        binding("ClusterRoleBinding", "everyone-admin", None, "ClusterRole", "cluster-admin", "- {kind: Group, name: \"system:authenticated\"}\n- {kind: Group, name: \"system:masters\"}\n- {kind: User, name: \"system:kube-controller-manager\"}"),
        binding("RoleBinding", "all-sa-edit", Some("ci"), "ClusterRole", "edit", "- {kind: Group, name: \"system:serviceaccounts:ci\"}"),
        binding("RoleBinding", "default-user", Some("web"), "ClusterRole", "view", "- {kind: User, name: \"system:serviceaccount:web:default\"}"),
    ]
    .concat();
    let f = scan(&yaml);
    let admin: Vec<&str> = of(&f, "RBAC013").iter().map(|x| x.message.as_str()).collect();
    assert_eq!(
        admin,
        [
            "ClusterRoleBinding/everyone-admin grants ClusterRole/cluster-admin (full admin) to group system:authenticated (cluster-wide)"
        ]
    );
    let secrets: Vec<(&str, Severity)> = of(&f, "RBAC016").iter().map(|x| (x.message.as_str(), x.severity)).collect();
    assert_eq!(
        secrets,
        [(
            "group system:serviceaccounts:ci can read every Secret of namespace ci (ClusterRole/edit via RoleBinding/ci/all-sa-edit)",
            Severity::Medium
        )]
    );
    assert_eq!(of(&f, "RBAC014").len(), 1, "the default service account named by its user name");
}
