//! The default RBAC policy (`--with-defaults`): the ClusterRoles, ClusterRoleBindings and the
//! `kube-system`/`kube-public` Roles and RoleBindings kube-apiserver v1.36 creates at start-up,
//! captured from the real server by `crates/authz/tools/capture_defaults.sh`. The YAML is
//! compiled in (`crates/authz/data/`), so this stays pure.

use std::sync::Arc;

use kguard_model::{Object, load};

use super::policy::PolicyRule;

/// The default ClusterRoles (YAML `List`).
pub const CLUSTER_ROLES_YAML: &str = include_str!("../data/cluster-roles.yaml");
/// The default ClusterRoleBindings (YAML `List`).
pub const CLUSTER_ROLE_BINDINGS_YAML: &str = include_str!("../data/cluster-role-bindings.yaml");
/// The default Roles (`kube-system`, `kube-public`; YAML `List`).
pub const ROLES_YAML: &str = include_str!("../data/roles.yaml");
/// The default RoleBindings (`kube-system`, `kube-public`; YAML `List`).
pub const ROLE_BINDINGS_YAML: &str = include_str!("../data/role-bindings.yaml");

/// The file names findings and explanations show for default objects.
pub const CLUSTER_ROLES_FILE: &str = "<defaults>/cluster-roles.yaml";
/// See [`CLUSTER_ROLES_FILE`].
pub const CLUSTER_ROLE_BINDINGS_FILE: &str = "<defaults>/cluster-role-bindings.yaml";
/// See [`CLUSTER_ROLES_FILE`].
pub const ROLES_FILE: &str = "<defaults>/roles.yaml";
/// See [`CLUSTER_ROLES_FILE`].
pub const ROLE_BINDINGS_FILE: &str = "<defaults>/role-bindings.yaml";

/// Every default file: (name shown in findings, YAML).
pub const FILES: [(&str, &str); 4] = [
    (CLUSTER_ROLES_FILE, CLUSTER_ROLES_YAML),
    (CLUSTER_ROLE_BINDINGS_FILE, CLUSTER_ROLE_BINDINGS_YAML),
    (ROLES_FILE, ROLES_YAML),
    (ROLE_BINDINGS_FILE, ROLE_BINDINGS_YAML),
];

/// The default ClusterRoles, ClusterRoleBindings, Roles and RoleBindings as objects.
#[must_use]
pub fn objects() -> Vec<Object> {
    FILES.iter().flat_map(|(file, yaml)| load::parse_text(&Arc::from(*file), yaml).objects).collect()
}

/// The rules of the default `system:node` ClusterRole: what the Node authorizer allows statically
/// (upstream `bootstrappolicy.NodeRules()`).
#[must_use]
pub fn node_rules() -> Vec<PolicyRule> {
    let objs = load::parse_text(&Arc::from(CLUSTER_ROLES_FILE), CLUSTER_ROLES_YAML).objects;
    let parsed = super::policy::parse_objects(&objs);
    parsed.roles.into_iter().find(|r| r.name == "system:node").map(|r| r.rules).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE_RULES: usize = 25;

    #[test]
    fn defaults_parse_cleanly() {
        let objs = objects();
        let parsed = super::super::policy::parse_objects(&objs);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        // 70 ClusterRoles + 7 Roles, 51 ClusterRoleBindings + 7 RoleBindings (v1.36.2)
        assert_eq!(parsed.roles.len(), 77);
        assert_eq!(parsed.bindings.len(), 58);
        assert_eq!(node_rules().len(), NODE_RULES);
    }
}
