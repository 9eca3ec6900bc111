//! End-to-end tests of `kguard psp check`: policy selection through RBAC `use` grants, upstream's
//! rejection text, JSON output, UPDATEs, bad policies reported with their file and line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).args(args).output().expect("runs kguard")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kguard-psp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const POLICIES: &str = "apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: restricted}
spec:
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  volumes: [configMap, secret, emptyDir, projected]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
  fsGroup: {rule: MustRunAs, ranges: [{min: 1, max: 65535}]}
---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: privileged}
spec:
  privileged: true
  volumes: ['*']
  runAsUser: {rule: RunAsAny}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
";

const RBAC: &str = "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp-restricted}
rules: [{apiGroups: [policy], resources: [podsecuritypolicies], verbs: [use], resourceNames: [restricted]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all-restricted}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: psp-restricted}
subjects: [{kind: Group, name: 'system:authenticated', apiGroup: rbac.authorization.k8s.io}]
";

const PODS: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers: [{name: nginx, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: priv, namespace: shop}
spec:
  containers: [{name: x, image: x, securityContext: {privileged: true}}]
";

fn setup(name: &str) -> (PathBuf, String, String, String) {
    let d = tmp(name);
    std::fs::write(d.join("psp.yaml"), POLICIES).unwrap();
    std::fs::write(d.join("rbac.yaml"), RBAC).unwrap();
    std::fs::write(d.join("pods.yaml"), PODS).unwrap();
    let p = |f: &str| d.join(f).to_string_lossy().into_owned();
    let (a, b, c) = (p("psp.yaml"), p("rbac.yaml"), p("pods.yaml"));
    (d, a, b, c)
}

#[test]
fn rbac_limits_users_to_restricted() {
    let (_d, psp, rbac, pods) = setup("rbac");
    let o = kguard(&["psp", "check", &pods, "--policies", &psp, "--rbac", &rbac, "--as", "jane"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("pod shop/web: allowed by PodSecurityPolicy \"restricted\""), "{text}");
    assert!(text.contains("defaulted /spec/securityContext = {\"supplementalGroups\":[1],\"fsGroup\":1}"), "{text}");
    assert!(
        text.contains(
            "pod shop/priv: forbidden: PodSecurityPolicy: unable to admit pod: [spec.containers[0].securityContext.privileged: Invalid value: true: Privileged containers are not allowed]"
        ),
        "{text}"
    );
    // system:masters may use every policy
    let o = kguard(&["psp", "check", &pods, "--policies", &psp, "--rbac", &rbac, "--group", "system:masters"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn json_prefers_the_non_mutating_policy() {
    let (_d, psp, _rbac, pods) = setup("json");
    let o = kguard(&["psp", "check", &pods, "--policies", &psp, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["allowed"], true);
        assert_eq!(l["policy"], "privileged");
        assert_eq!(l["mutatedPod"]["metadata"]["annotations"]["kubernetes.io/psp"], "privileged");
        assert_eq!(l["auditAnnotations"]["podsecuritypolicy.policy.k8s.io/admit-policy"], "privileged");
    }
}

#[test]
fn no_policies_and_bad_policies() {
    let (d, _psp, _rbac, pods) = setup("bad");
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("x.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n").unwrap();
    let e = empty.to_string_lossy().into_owned();
    let o = kguard(&["psp", "check", &pods, "--policies", &e]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no providers available to validate pod request"));
    let o = kguard(&["psp", "check", &pods, "--policies", &e, "--allow-without-policies"]);
    assert_eq!(o.status.code(), Some(0));

    let bad = d.join("bad.yaml");
    std::fs::write(&bad, "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: b}\nspec:\n  runAsUser: {rule: Whatever}\n  seLinux: {rule: RunAsAny}\n  fsGroup: {rule: RunAsAny}\n  supplementalGroups: {rule: RunAsAny}\n").unwrap();
    let o = kguard(&["psp", "check", &pods, "--policies", &bad.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml:4:"), "{err}");
    assert!(err.contains("spec.runAsUser.rule: Unsupported value: \"Whatever\""), "{err}");
}

#[test]
fn update_only_validates() {
    let (d, psp, rbac, _pods) = setup("update");
    let old = d.join("old.yaml");
    let new = d.join("new.yaml");
    std::fs::write(
        &old,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: w, namespace: shop}\nspec:\n  containers: [{name: c, image: a}]\n",
    )
    .unwrap();
    std::fs::write(&new, "apiVersion: v1\nkind: Pod\nmetadata: {name: w, namespace: shop, finalizers: [x]}\nspec:\n  containers: [{name: c, image: a}]\n").unwrap();
    let args =
        ["psp", "check", &new.to_string_lossy(), "--policies", &psp, "--rbac", &rbac, "--old", &old.to_string_lossy()];
    let o = kguard(&args.iter().map(|s| s.as_ref()).collect::<Vec<&str>>());
    assert_eq!(o.status.code(), Some(0), "finalizer-only update: {}", String::from_utf8_lossy(&o.stdout));
    std::fs::write(
        &new,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: w, namespace: shop}\nspec:\n  containers: [{name: c, image: b}]\n",
    )
    .unwrap();
    let o = kguard(&args.iter().map(|s| s.as_ref()).collect::<Vec<&str>>());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("PodSecurityPolicy: unable to validate pod: []"));
}
