//! PodSecurityPolicy cases (`tests/psp/*.yaml`), ported in our own words from upstream's
//! `pkg/security/podsecuritypolicy/provider_test.go` and
//! `plugin/pkg/admission/security/podsecuritypolicy/admission_test.go` (release ≤1.24), plus
//! kguard's own cases for exact messages.
//!
//! Each file has named policy and pod templates; a case picks templates and applies a JSON merge
//! patch (RFC 7396) to each. Phases:
//! * `provider`: `ValidatePod` of the first policy on the pod as is (upstream's provider tables);
//! * `mutate`: `MutatePod` then `ValidatePod` of the first policy;
//! * `admit` / `validate`: one admission phase over all the policies;
//! * `both`: `admit`, then `validate` on the admitted pod (upstream's `testPSPAdmit`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kguard_admission::psp::{self, Operation, Options, Outcome, Policy, Request};
use kguard_authz::{AlwaysAllow, AlwaysDeny, Authorizer, Chain, Mode};
use kguard_model::{load, yaml};
use kguard_request::UserInfo;
use serde::Deserialize;
use serde_json::Value as J;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    policies: BTreeMap<String, J>,
    #[serde(default)]
    pods: BTreeMap<String, J>,
    #[serde(default)]
    rbac: Vec<J>,
    cases: Vec<Case>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Ref {
    base: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    patch: Option<J>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Case {
    note: String,
    #[serde(default)]
    upstream: Option<String>,
    #[serde(default)]
    policies: Vec<Ref>,
    pod: Ref,
    #[serde(default)]
    old_pod: Option<Ref>,
    #[serde(default)]
    operation: Option<String>,
    phase: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    groups: Option<Vec<String>>,
    /// `allow` (default), `deny` or `rbac` (the file's RBAC objects).
    #[serde(default)]
    authz: Option<String>,
    #[serde(default)]
    fail_on_no_policies: Option<bool>,
    want: Want,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Want {
    #[serde(default)]
    allowed: Option<bool>,
    /// For `both`: whether the validating phase passes.
    #[serde(default)]
    validate_allowed: Option<bool>,
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    message_contains: Option<String>,
    #[serde(default)]
    first_error_contains: Option<String>,
    #[serde(default)]
    errors: Option<usize>,
    /// JSON pointer → expected value in the resulting pod (`null`: absent).
    #[serde(default)]
    pod: BTreeMap<String, J>,
    /// Whether the admitted pod must come back unchanged (`Outcome::pod` is `None`).
    #[serde(default)]
    unchanged: Option<bool>,
}

fn merge_patch(target: &mut J, patch: &J) {
    match patch {
        J::Object(p) => {
            if !target.is_object() {
                *target = J::Object(serde_json::Map::new());
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(J::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn build(templates: &BTreeMap<String, J>, r: &Ref) -> J {
    let mut v = templates.get(&r.base).unwrap_or_else(|| panic!("no template {}", r.base)).clone();
    if let Some(p) = &r.patch {
        merge_patch(&mut v, p);
    }
    if let Some(name) = &r.name {
        merge_patch(&mut v, &serde_json::json!({"metadata": {"name": name}}));
    }
    v
}

fn objects(values: &[J]) -> Vec<kguard_model::Object> {
    let text: Vec<String> = values.iter().map(|v| serde_json::to_string(v).unwrap()).collect();
    let parsed = load::parse_text(&Arc::from("case.yaml"), &text.join("\n---\n"));
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    parsed.objects
}

fn check(i: usize, c: &Case, out: &Outcome, original: &J, failures: &mut Vec<String>) {
    let w = &c.want;
    let tag = format!("case {i} ({})", c.note);
    if let Some(a) = w.allowed
        && a != out.allowed
    {
        failures.push(format!("{tag}: allowed {} want {a}; message {:?}", out.allowed, out.message));
    }
    if let Some(p) = &w.policy
        && out.policy.as_deref() != Some(p.as_str())
    {
        failures.push(format!("{tag}: policy {:?} want {p:?}", out.policy));
    }
    if let Some(m) = &w.message
        && &out.message != m
    {
        failures.push(format!("{tag}: message\n   got  {:?}\n   want {m:?}", out.message));
    }
    if let Some(m) = &w.message_contains
        && !out.message.contains(m.as_str())
    {
        failures.push(format!("{tag}: message {:?} lacks {m:?}", out.message));
    }
    if let Some(n) = w.errors
        && out.errors.len() != n
    {
        failures.push(format!("{tag}: {} errors want {n}: {:?}", out.errors.len(), out.message));
    }
    if let Some(u) = w.unchanged
        && u != out.pod.is_none()
    {
        failures.push(format!("{tag}: unchanged {} want {u}", out.pod.is_none()));
    }
    let pod = out.pod.as_ref().unwrap_or(original);
    for (pointer, want) in &w.pod {
        let got = pod.pointer(pointer).cloned().unwrap_or(J::Null);
        if &got != want {
            failures.push(format!("{tag}: {pointer} = {got} want {want}"));
        }
    }
}

#[test]
fn psp_cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/psp");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let mut total = 0;
    let mut upstream = 0;
    let mut failures = Vec::new();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let text = std::fs::read_to_string(path).unwrap();
        let docs = yaml::parse_documents(&text);
        let root = docs[0].root.as_ref().unwrap().as_ref().unwrap();
        let file: File = serde_json::from_value(root.to_json()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let rbac = objects(&file.rbac);
        for (i, c) in file.cases.iter().enumerate() {
            total += 1;
            upstream += usize::from(c.upstream.is_some());
            let policies: Vec<Policy> =
                objects(&c.policies.iter().map(|r| build(&file.policies, r)).collect::<Vec<_>>())
                    .iter()
                    .map(|o| Policy::from_object(o).unwrap_or_else(|e| panic!("case {i} ({}): {e}", c.note)))
                    .collect();
            let pod = build(&file.pods, &c.pod);
            let old = c.old_pod.as_ref().map(|r| build(&file.pods, r));
            let user = UserInfo::new(
                c.user.clone().unwrap_or_else(|| "user".to_owned()),
                c.groups.clone().unwrap_or_else(|| vec!["system:authenticated".to_owned()]),
            );
            let authz: Box<dyn Authorizer> = match c.authz.as_deref().unwrap_or("allow") {
                "allow" => Box::new(AlwaysAllow),
                "deny" => Box::new(AlwaysDeny),
                "rbac" => Box::new(Chain::from_modes(&[Mode::Rbac], &rbac, None).unwrap()),
                other => panic!("authz {other}"),
            };
            let operation = match c.operation.as_deref().unwrap_or("CREATE") {
                "CREATE" => Operation::Create,
                "UPDATE" => Operation::Update,
                other => panic!("operation {other}"),
            };
            let ns = c.namespace.clone().unwrap_or_else(|| {
                pod.pointer("/metadata/namespace").and_then(J::as_str).unwrap_or("namespace").to_owned()
            });
            let opts = Options { fail_on_no_policies: c.fail_on_no_policies.unwrap_or(true) };
            let req = Request { pod: &pod, old_pod: old.as_ref(), namespace: &ns, user: &user, operation };
            let tag = format!("{}: case {i} ({})", path.file_name().unwrap().to_string_lossy(), c.note);
            match c.phase.as_str() {
                "provider" | "mutate" => {
                    let p = policies.first().unwrap();
                    let (result, errs) =
                        if c.phase == "provider" { (pod.clone(), p.validate_only(&pod)) } else { p.evaluate(&pod) };
                    let out = Outcome {
                        allowed: errs.is_empty(),
                        pod: (result != pod).then_some(result),
                        message: psp::render_list(&errs),
                        errors: errs.clone(),
                        ..Outcome::default()
                    };
                    if let Some(want) = &c.want.first_error_contains {
                        match errs.first() {
                            Some(e) if e.to_string().contains(want.as_str()) => {}
                            other => failures.push(format!("{tag}: first error {other:?} lacks {want:?}")),
                        }
                    }
                    check(i, c, &out, &pod, &mut failures);
                }
                "admit" => {
                    let out = psp::admit_with(&policies, &req, authz.as_ref(), opts);
                    check(i, c, &out, &pod, &mut failures);
                }
                "validate" => {
                    let out = psp::validate_with(&policies, &req, authz.as_ref(), opts);
                    check(i, c, &out, &pod, &mut failures);
                }
                "both" => {
                    let out = psp::admit_with(&policies, &req, authz.as_ref(), opts);
                    check(i, c, &out, &pod, &mut failures);
                    let admitted = out.pod.clone().unwrap_or_else(|| pod.clone());
                    let vreq = Request { pod: &admitted, ..req };
                    let v = psp::validate_with(&policies, &vreq, authz.as_ref(), opts);
                    let want_v = c.want.validate_allowed.or(c.want.allowed);
                    if let Some(want_v) = want_v
                        && v.allowed != want_v
                    {
                        failures.push(format!("{tag}: validate allowed {} want {want_v}: {}", v.allowed, v.message));
                    }
                    if v.allowed
                        && let Some(p) = &c.want.policy
                        && v.policy.as_deref() != Some(p.as_str())
                    {
                        failures.push(format!("{tag}: validate policy {:?} want {p}", v.policy));
                    }
                }
                other => panic!("{tag}: phase {other}"),
            }
        }
    }
    eprintln!("psp cases: {total} ({upstream} ported from upstream)");
    assert!(failures.is_empty(), "{} of {total} failed:\n{}", failures.len(), failures.join("\n"));
    assert!(total >= 100, "only {total} cases");
}

fn policy_from(json: &J) -> Result<Policy, String> {
    let objs = objects(std::slice::from_ref(json));
    Policy::from_object(&objs[0]).map_err(|e| e.to_string())
}

fn default_policy() -> J {
    serde_json::json!({
        "apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "psp"},
        "spec": {"runAsUser": {"rule": "RunAsAny"}, "seLinux": {"rule": "RunAsAny"},
                 "fsGroup": {"rule": "RunAsAny"}, "supplementalGroups": {"rule": "RunAsAny"}}
    })
}

/// Upstream's `TestValidateAllowedVolumes` / `TestAdmitVolumes`: every volume source is refused by
/// a policy without volumes, accepted when its FSType is listed and accepted by `*`.
#[test]
fn every_volume_type_denied_listed_and_wildcarded() {
    assert_eq!(psp::VOLUME_TYPES.len(), 29);
    for (key, fs_type) in psp::VOLUME_TYPES {
        let pod = serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"volumes": [{"name": "v", *key: {}}], "containers": [{"name": "c"}]}
        });
        let deny = policy_from(&default_policy()).unwrap();
        let errs = deny.validate_only(&pod);
        assert_eq!(errs.len(), 1, "{key}: {errs:?}");
        assert_eq!(
            errs[0].to_string(),
            format!("spec.volumes[0]: Invalid value: \"{fs_type}\": {fs_type} volumes are not allowed to be used")
        );
        for allowed in [*fs_type, "*"] {
            let mut p = default_policy();
            p["spec"]["volumes"] = serde_json::json!([allowed]);
            let errs = policy_from(&p).unwrap().validate_only(&pod);
            assert!(errs.is_empty(), "{key} with volumes [{allowed}]: {errs:?}");
        }
    }
}

#[test]
fn policy_errors_name_the_field() {
    let cases: Vec<(J, &str)> = vec![
        (serde_json::json!({"spec": {"runAsUser": null}}), "spec.runAsUser: Required value"),
        (
            serde_json::json!({"spec": {"runAsUser": {"rule": "Sometimes"}}}),
            "spec.runAsUser.rule: Unsupported value: \"Sometimes\"",
        ),
        (
            serde_json::json!({"spec": {"fsGroup": {"rule": "MustRunAs", "ranges": [{"min": 5, "max": 1}]}}}),
            "spec.fsGroup.ranges[0]: min (5) must not be greater than max (1)",
        ),
        (serde_json::json!({"spec": {"privileged": "yes"}}), "spec.privileged: expected a boolean, found a string"),
        (
            serde_json::json!({"spec": {"hostPorts": [{"min": 10, "max": 70000}]}}),
            "spec.hostPorts[0]: invalid port range 10-70000",
        ),
        (
            serde_json::json!({"spec": {"allowPrivilegeEscalation": false, "defaultAllowPrivilegeEscalation": true}}),
            "spec.defaultAllowPrivilegeEscalation: Invalid value: true",
        ),
        (
            serde_json::json!({"spec": {"defaultAddCapabilities": ["A"], "requiredDropCapabilities": ["A"]}}),
            "spec.defaultAddCapabilities[0]",
        ),
        (serde_json::json!({"spec": {"volumes": [1]}}), "spec.volumes[0]: expected a string"),
        (serde_json::json!({"kind": "Pod"}), "expected kind PodSecurityPolicy, found Pod"),
        (serde_json::json!({"apiVersion": "policy/v1"}), "apiVersion: expected policy/v1beta1"),
    ];
    for (patch, want) in cases {
        let mut p = default_policy();
        merge_patch(&mut p, &patch);
        let err = policy_from(&p).expect_err(want);
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    }
    let p = policy_from(&default_policy()).unwrap();
    assert!(p.spec.allow_privilege_escalation, "allowPrivilegeEscalation defaults to true");
    assert!(p.provider_error.is_none());
    let mut broken = default_policy();
    broken["spec"]["seLinux"] = serde_json::json!({"rule": "MustRunAs"});
    assert_eq!(policy_from(&broken).unwrap().provider_error.as_deref(), Some("MustRunAs requires SELinuxOptions"));
}

/// Hostile pods never panic: wrong types are read as unset.
#[test]
fn malformed_pods_do_not_panic() {
    let policy = policy_from(&default_policy()).unwrap();
    let user = UserInfo::new("u", ["system:authenticated"]);
    for pod in [
        serde_json::json!(null),
        serde_json::json!([1, 2]),
        serde_json::json!({"spec": "x"}),
        serde_json::json!({"metadata": 3, "spec": {"containers": "x", "volumes": [1, {"hostPath": 2}], "securityContext": []}}),
        serde_json::json!({"spec": {"containers": [null, 1, {"securityContext": {"capabilities": {"add": [1, "A"]}, "runAsUser": "0"}, "ports": [{"hostPort": "x"}]}]}}),
    ] {
        let req = Request { pod: &pod, old_pod: None, namespace: "ns", user: &user, operation: Operation::Create };
        let _ = psp::admit(std::slice::from_ref(&policy), &req, &AlwaysAllow);
        let _ = psp::validate(std::slice::from_ref(&policy), &req, &AlwaysAllow);
    }
}
