//! RBAC risk findings over `tests/authz/risks/inventory.yaml` (+ the default policy).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use kguard_authz::{RULES, Rbac, defaults, risks};
use kguard_model::load::{self, Input};

fn findings() -> Vec<kguard_report::Finding> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/authz/risks/inventory.yaml");
    let mut objects = load::load_input(&Input::File(path)).objects;
    objects.extend(defaults::objects());
    let rbac = Rbac::from_objects(&objects);
    assert!(rbac.diagnostics().is_empty(), "{:?}", rbac.diagnostics());
    risks(&rbac)
}

#[test]
fn every_rule_fires_once_at_least() {
    let f = findings();
    let ids: BTreeSet<&str> = f.iter().map(|f| f.rule_id.as_str()).collect();
    for r in RULES {
        assert!(ids.contains(r.id), "{} ({}) did not fire; got {ids:?}", r.id, r.name);
    }
    for x in &f {
        let loc = x.location.as_ref().unwrap();
        assert!(loc.file.ends_with("inventory.yaml"), "defaults are not reported: {x:?}");
        assert!(loc.pos.is_some());
    }
}

#[test]
fn escalation_chain_is_reported_with_its_path() {
    let f = findings();
    let chain = f
        .iter()
        .find(|f| f.rule_id == "RBAC015" && f.message.starts_with("user jane"))
        .unwrap_or_else(|| panic!("{:#?}", f.iter().filter(|f| f.rule_id == "RBAC015").collect::<Vec<_>>()));
    assert_eq!(
        chain.message,
        "user jane → create pods in ns ci (RoleBinding/ci/jane-dev) → sa ci/deployer → ClusterRole/cluster-admin \
         (cluster-wide, full admin) via ClusterRoleBinding/deployer-admin"
    );
    // Gaining cluster-wide full admin is critical.
    assert_eq!(chain.severity, kguard_report::Severity::Critical);
    let loc = chain.location.as_ref().unwrap();
    assert_eq!(loc.pos.unwrap().line, 7, "points at jane's subject entry");
}

#[test]
fn messages_name_subject_role_and_binding() {
    let f = findings();
    let secrets = f.iter().find(|f| f.rule_id == "RBAC001" && f.message.contains("ops")).unwrap();
    assert!(secrets.message.starts_with("group ops: "), "{}", secrets.message);
    assert!(secrets.message.contains("ClusterRole/danger via ClusterRoleBinding/ops-danger"), "{}", secrets.message);
    let csr = f.iter().filter(|f| f.rule_id == "RBAC007").count();
    assert_eq!(csr, 1);
    let admin: Vec<_> = f.iter().filter(|f| f.rule_id == "RBAC013").map(|f| f.message.as_str()).collect();
    assert_eq!(admin.len(), 2, "alice and sa ci/deployer, not system:masters: {admin:?}");
    assert!(
        f.iter().all(|f| !f.message.contains("deployer-admin") || f.rule_id == "RBAC013" || f.rule_id == "RBAC015")
    );
}

#[test]
fn workload_identity_reading_all_secrets() {
    let f = findings();
    let got: Vec<_> = f.iter().filter(|f| f.rule_id == "RBAC016").map(|f| f.message.as_str()).collect();
    // the edit role through a RoleBinding; not sa ci/deployer (full admin: RBAC013 only), not users or groups
    assert_eq!(
        got,
        [
            "sa build/builder can read every Secret of namespace build (ClusterRole/edit via RoleBinding/build/builder-edit)"
        ]
    );
}

#[test]
fn rule_metadata_is_complete() {
    let mut seen = BTreeSet::new();
    for r in RULES {
        assert!(seen.insert(r.id));
        assert_eq!(r.family, "rbac");
        assert!(r.id.starts_with("RBAC") && r.id.len() == 7);
        assert!(!r.what.is_empty() && !r.why.is_empty() && !r.fix.is_empty() && !r.references.is_empty());
    }
}
