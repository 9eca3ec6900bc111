//! The default RBAC policy of a v1.32 cluster (`--with-defaults`): the ClusterRoles and
//! ClusterRoleBindings kube-apiserver creates at start-up. The YAML is compiled in
//! (`crates/authz/data/`), so this stays pure.

use std::sync::Arc;

use kguard_model::{Object, load};

use super::policy::PolicyRule;

/// The default ClusterRoles (YAML `List`).
pub const CLUSTER_ROLES_YAML: &str = include_str!("../data/cluster-roles.yaml");
/// The default ClusterRoleBindings (YAML `List`).
pub const CLUSTER_ROLE_BINDINGS_YAML: &str = include_str!("../data/cluster-role-bindings.yaml");

/// The file names findings and explanations show for default objects.
pub const CLUSTER_ROLES_FILE: &str = "<defaults>/cluster-roles.yaml";
/// See [`CLUSTER_ROLES_FILE`].
pub const CLUSTER_ROLE_BINDINGS_FILE: &str = "<defaults>/cluster-role-bindings.yaml";

/// The default ClusterRoles and ClusterRoleBindings as objects.
#[must_use]
pub fn objects() -> Vec<Object> {
    let mut out = load::parse_text(&Arc::from(CLUSTER_ROLES_FILE), CLUSTER_ROLES_YAML).objects;
    out.extend(load::parse_text(&Arc::from(CLUSTER_ROLE_BINDINGS_FILE), CLUSTER_ROLE_BINDINGS_YAML).objects);
    out
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

    #[test]
    fn defaults_parse_cleanly() {
        let objs = objects();
        let parsed = super::super::policy::parse_objects(&objs);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!(parsed.roles.len(), 31);
        assert_eq!(parsed.bindings.len(), 12);
        assert_eq!(node_rules().len(), 22);
    }
}
