//! The discovery table through the binary: kubectl's resource names in `can-i`, `who-can` and
//! `audit eval` (resolved, and warned about on stderr with a suggestion), audit policy warnings
//! with file:line, and `scan`'s strict-validation warnings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::{Command, Output};

use kguard_testkit::TempDir;

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(args)
        .current_dir(kguard_testkit::repo_root())
        .output()
        .expect("runs kguard")
}

fn out(o: &Output) -> (String, String, i32) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().expect("exited"),
    )
}

const RBAC: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: deployer, namespace: dev}\nrules:\n- apiGroups: [apps]\n  resources: [deployments, deployments/scale]\n  verbs: [get, list, update]\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: deployer, namespace: dev}\nsubjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: Role, name: deployer, apiGroup: rbac.authorization.k8s.io}\n";

#[test]
fn can_i_resolves_kubectl_names() {
    let dir = TempDir::new("discovery-cli-cani");
    let rbac = dir.path().join("rbac.yaml");
    std::fs::write(&rbac, RBAC).unwrap();
    let f = rbac.to_str().unwrap();
    for name in ["deployments", "deploy", "deployment", "Deployment", "deployments.apps", "deploy/scale"] {
        let (stdout, stderr, code) = out(&kguard(&["can-i", "get", name, "--as", "alice", "-n", "dev", "-f", f]));
        assert_eq!((stdout.trim(), code), ("yes", 0), "{name}: {stderr}");
        assert!(stderr.is_empty(), "{name}: no warning: {stderr}");
    }
    let (stdout, _, code) = out(&kguard(&["can-i", "get", "po", "--as", "alice", "-n", "dev", "-f", f]));
    assert_eq!((stdout.trim(), code), ("yes", 0));
    // a typo: a warning with a suggestion, and the answer for what was asked
    let (stdout, stderr, code) = out(&kguard(&["can-i", "get", "deploymnets", "--as", "alice", "-n", "dev", "-f", f]));
    assert_eq!((stdout.trim(), code), ("no", 1));
    assert_eq!(
        stderr.trim(),
        r#"warning: Kubernetes v1.37 has no resource type "deploymnets"; did you mean "deployments"?"#
    );
    let (_, stderr, _) = out(&kguard(&["can-i", "gte", "pods", "--as", "alice", "-n", "dev", "-f", f]));
    assert_eq!(stderr.trim(), r#"warning: verb 'gte' is not a known verb; did you mean "get"?"#);
    let (_, stderr, _) = out(&kguard(&["can-i", "get", "nodes", "--as", "alice", "-n", "dev", "-f", f]));
    assert_eq!(stderr.trim(), "warning: resource 'nodes' is not namespace scoped");
    let (_, stderr, _) = out(&kguard(&["can-i", "create", "pods/exce", "--as", "alice", "-n", "dev", "-f", f]));
    assert_eq!(stderr.trim(), r#"warning: pods has no subresource "exce"; did you mean "exec"?"#);
    // JSON names the resolved request
    let (stdout, _, _) =
        out(&kguard(&["can-i", "update", "deploy", "--as", "alice", "-n", "dev", "-f", f, "-o", "json"]));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["request"]["resourceAttributes"]["group"], "apps", "{v}");
    assert_eq!(v["request"]["resourceAttributes"]["resource"], "deployments");
    assert_eq!(v["allowed"], true);
}

#[test]
fn who_can_resolves_kubectl_names() {
    let dir = TempDir::new("discovery-cli-whocan");
    let rbac = dir.path().join("rbac.yaml");
    std::fs::write(&rbac, RBAC).unwrap();
    let f = rbac.to_str().unwrap();
    let (stdout, stderr, code) = out(&kguard(&["who-can", "list", "deploy", "-n", "dev", "-f", f]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("alice"), "{stdout}");
    let (_, stderr, _) = out(&kguard(&["who-can", "list", "sevices", "-n", "dev", "-f", f]));
    assert_eq!(stderr.trim(), r#"warning: Kubernetes v1.37 has no resource type "sevices"; did you mean "services"?"#);
}

#[test]
fn audit_eval_resolves_resources_and_policy_warnings_have_positions() {
    let policy = "crates/audit/tests/audit/kube/wildcard-group-unknown-fields.yaml";
    let (stdout, stderr, code) =
        out(&kguard(&["audit", "eval", policy, "--verb", "list", "--resource", "deploy", "--as", "bob"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("level: RequestResponse"), "deployments.apps matches group \"*\": {stdout}");
    assert!(
        stderr.contains(&format!("{policy}:11:1: warning: unknown field \"omitStage\"; did you mean \"omitStages\"?")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{policy}:25:5: warning: unknown field \"rules[2].verb\"; did you mean \"verbs\"?")),
        "{stderr}"
    );
    // an explicit group decides; a resource it does not have is warned about
    let (_, stderr, _) =
        out(&kguard(&["audit", "eval", policy, "--verb", "get", "--resource", "deployments", "--api-group", ""]));
    assert!(stderr.contains(r#"warning: Kubernetes v1.37 has no resource type "deployments" in group """#), "{stderr}");
    // resourceNames without resources: kube-apiserver's refusal, exit 2
    let dir = TempDir::new("discovery-cli-audit");
    let bad = dir.path().join("p.yaml");
    std::fs::write(&bad, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources:\n  - group: apps\n    resourceNames: [web]\n").unwrap();
    let (_, stderr, code) = out(&kguard(&["audit", "lint", bad.to_str().unwrap()]));
    assert_eq!(code, 2);
    assert!(
        stderr.ends_with("p.yaml:7:20: error: rules[0].resources.resourceNames: Invalid value: [\"web\"]: using resourceNames requires at least one resource\n"),
        "{stderr}"
    );
}

#[test]
fn scan_warns_like_kubectl_validate_strict() {
    let (stdout, _, code) = out(&kguard(&[
        "scan",
        "crates/discovery/tests/strict/deployment-typos.yaml",
        "crates/discovery/tests/strict/kind-typo.yaml",
        "--color",
        "never",
    ]));
    assert_ne!(code, 2, "warnings are not errors:\n{stdout}");
    assert!(
        stdout.contains(r#"deployment-typos.yaml:22:11: warning: Deployment/typos: unknown field "spec.template.spec.containers[0].securityContex"; did you mean "securityContext"? [unknown-field]"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"kind-typo.yaml:2:1: warning: Deploymnet/kind-typo: no matches for kind "Deploymnet" in version "apps/v1" (Kubernetes v1.37); did you mean "Deployment"? [unknown-kind]"#),
        "{stdout}"
    );
    // custom resources are left alone
    let dir = TempDir::new("discovery-cli-scan");
    let cr = dir.path().join("cr.yaml");
    std::fs::write(
        &cr,
        "apiVersion: example.com/v1\nkind: Deploymnet\nmetadata: {name: w}\nspec: {securityContex: {}}\n",
    )
    .unwrap();
    let (stdout, _, _) = out(&kguard(&["scan", cr.to_str().unwrap(), "--color", "never"]));
    assert!(!stdout.contains("unknown-"), "{stdout}");
}

/// Strict validation sees only what scan reads: a Helm chart's templates and values and files that
/// are not Kubernetes (skipped and counted) get no unknown-field warning, whatever they hold; a
/// chart's `crds/` and the manifests beside it are checked.
#[test]
fn scan_strict_warnings_skip_charts_and_files_that_are_not_kubernetes() {
    let dir = TempDir::new("discovery-cli-repo");
    let root = dir.path();
    let write = |p: &str, text: &str| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let typo = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicass: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: c, image: nginx}]\n";
    write("k8s/deploy.yaml", typo);
    write("chart/Chart.yaml", "apiVersion: v2\nname: web\nversion: 0.1.0\nkindd: x\n");
    write("chart/values.yaml", "replicass: 2\nspec: {replicass: 2}\n");
    write("chart/templates/deployment.yaml", typo);
    write(
        "chart/crds/crd.yaml",
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scopee: Namespaced\n  names: {plural: widgets, kind: Widget}\n  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]\n",
    );
    write("docker-compose.yml", "services:\n  web:\n    image: nginx\n    replicass: 2\n");
    let o = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["scan", ".", "-o", "json"])
        .current_dir(root)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(v["summary"]["notKubernetes"], 1, "{err}");
    assert_eq!(v["summary"]["chartFiles"], 3, "{err}");
    let mut unknown: Vec<String> = err.lines().filter(|l| l.contains("unknown-field")).map(str::to_owned).collect();
    unknown.sort();
    assert_eq!(unknown.len(), 2, "{err}");
    assert!(
        unknown[0].starts_with("./chart/crds/crd.yaml:6:3: warning:") && unknown[0].contains("\"spec.scopee\""),
        "{err}"
    );
    assert!(
        unknown[1].starts_with("./k8s/deploy.yaml:5:3: warning:") && unknown[1].contains("\"spec.replicass\""),
        "{err}"
    );
}
