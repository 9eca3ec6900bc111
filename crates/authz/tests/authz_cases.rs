//! Data-driven authorization cases: every `tests/authz/*.yaml` file holds shared `objects` and a
//! list of `cases` (`note / objects / modes / abac / request / want / reason / message`), or
//! escalation checks (`escalation` instead of `request`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use kguard_authz::abac::AbacPolicy;
use kguard_authz::policy::{PolicyRule, RoleRef};
use kguard_authz::{Chain, Mode, Rbac, Verdict, defaults};
use kguard_model::yaml::{self, YamlNode};
use kguard_model::{Object, load};
use kguard_request::{Attributes, UserInfo, forbidden_status_message};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Request {
    user: String,
    #[serde(default)]
    groups: Option<Vec<String>>,
    #[serde(default)]
    impersonate: bool,
    verb: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Escalation {
    kind: String,
    #[serde(default)]
    namespace: String,
    name: String,
    #[serde(default)]
    rules: Vec<PolicyRule>,
    #[serde(default)]
    role_ref: Option<RoleRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    note: String,
    #[serde(default)]
    #[allow(dead_code)]
    objects: serde_json::Value,
    #[serde(default)]
    modes: Option<String>,
    #[serde(default)]
    with_defaults: bool,
    #[serde(default)]
    abac: Option<String>,
    #[serde(default)]
    request: Option<Request>,
    #[serde(default)]
    escalation: Option<(Request, Escalation)>,
    want: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    authorizer: Option<String>,
}

fn objects_of(node: Option<&YamlNode>, file: &Arc<str>, base: &str) -> Vec<Object> {
    let Some(items) = node.and_then(YamlNode::as_seq) else { return Vec::new() };
    items
        .iter()
        .enumerate()
        .map(|(i, n)| Object::from_node(n.clone(), file.clone(), 0, format!("{base}/{i}")).expect("object"))
        .collect()
}

fn attrs(r: &Request) -> Attributes {
    let groups = r.groups.clone().unwrap_or_default();
    let user = if r.impersonate || r.groups.is_none() {
        UserInfo::impersonated(&r.user, &groups)
    } else {
        UserInfo { name: r.user.clone(), groups, ..UserInfo::default() }
    };
    let mut a = match &r.path {
        Some(p) => Attributes::non_resource(user, &r.verb, p),
        None => Attributes::resource(user, &r.verb, &r.group, &r.resource, &r.namespace, &r.name),
    };
    for (k, v) in &r.fields {
        a = a.with_field(k, v);
    }
    a
}

fn run_file(path: &PathBuf) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let file: Arc<str> = Arc::from(path.display().to_string());
    let docs = yaml::parse_documents(&text);
    let root = docs.into_iter().next().unwrap().root.unwrap().unwrap();
    let shared = objects_of(root.get("objects"), &file, "/objects");
    let cases = root.get("cases").and_then(YamlNode::as_seq).expect("cases");
    let mut failures = Vec::new();
    for (ci, node) in cases.iter().enumerate() {
        let case: Case = serde_path_to_error::deserialize(node.to_json())
            .unwrap_or_else(|e| panic!("{}: case {ci}: {e}", path.display()));
        let mut objects = shared.clone();
        objects.extend(objects_of(node.get("objects"), &file, &format!("/cases/{ci}/objects")));
        if case.with_defaults {
            objects.extend(defaults::objects());
        }
        let modes = Mode::parse_list(case.modes.as_deref().unwrap_or("RBAC")).unwrap();
        let abac = case.abac.as_ref().map(|t| AbacPolicy::parse("policy.jsonl", t).unwrap());
        let chain = Chain::from_modes(&modes, &objects, abac).unwrap();
        let label = format!("{}:{}: {}", path.display(), node.pos.line, case.note);
        if let Some(r) = &case.request {
            let a = attrs(r);
            let d = chain.explain(&a);
            let got = match d.verdict {
                Verdict::Allow => "allow",
                Verdict::Deny => "deny",
                Verdict::NoOpinion => "forbidden",
            };
            if got != case.want {
                failures.push(format!(
                    "{label}: want {}, got {got} (reason {:?}; notes {:?})",
                    case.want, d.reason, d.notes
                ));
                continue;
            }
            if let Some(reason) = &case.reason
                && *reason != d.reason
            {
                failures.push(format!("{label}: reason\n  want {reason:?}\n  got  {:?}", d.reason));
            }
            if let Some(auth) = &case.authorizer
                && *auth != d.authorizer
            {
                failures.push(format!("{label}: authorizer want {auth:?}, got {:?}", d.authorizer));
            }
            if let Some(message) = &case.message {
                let got = forbidden_status_message(&a, &d.reason);
                if *message != got {
                    failures.push(format!("{label}: message\n  want {message:?}\n  got  {got:?}"));
                }
            }
        } else if let Some((r, e)) = &case.escalation {
            let rbac = Rbac::from_objects(&objects);
            let user = attrs(r).user;
            let result = match e.kind.as_str() {
                "Role" | "ClusterRole" => {
                    rbac.check_role_write(&chain, &user, e.kind == "ClusterRole", &e.namespace, &e.name, &e.rules)
                }
                "RoleBinding" | "ClusterRoleBinding" => rbac.check_binding_write(
                    &chain,
                    &user,
                    e.kind == "ClusterRoleBinding",
                    &e.namespace,
                    &e.name,
                    e.role_ref.as_ref().expect("roleRef"),
                ),
                other => panic!("{label}: unknown kind {other}"),
            };
            let got = if result.is_ok() { "allow" } else { "forbidden" };
            if got != case.want {
                failures.push(format!("{label}: want {}, got {got} ({result:?})", case.want));
                continue;
            }
            if let (Some(message), Err(err)) = (&case.message, &result)
                && *message != err.0
            {
                failures.push(format!("{label}: message\n  want {message:?}\n  got  {err:?}"));
            }
        } else {
            panic!("{label}: a case needs `request` or `escalation`");
        }
    }
    (cases.len(), failures)
}

#[test]
fn authz_cases() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/authz");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut total = 0;
    let mut failures = Vec::new();
    for f in &files {
        let (n, mut fails) = run_file(f);
        total += n;
        failures.append(&mut fails);
    }
    eprintln!("authz cases: {} of {total} pass in {} files", total - failures.len(), files.len());
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn defaults_load_through_the_loader() {
    // what kube-apiserver v1.36.2 creates (crates/authz/tools/capture_defaults.sh)
    let counts: Vec<usize> =
        defaults::FILES.iter().map(|(_, yaml)| load::parse_text(&Arc::from("x"), yaml).objects.len()).collect();
    assert_eq!(counts, [70, 51, 7, 7]);
}
