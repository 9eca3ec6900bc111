//! Live: kguard's authorizer chain (`Node,RBAC` over the world plus `--with-defaults`) against a
//! real kube-apiserver v1.36.2 (`../shared/bench/kube-apiserver.sh`, default `Node,RBAC`).
//!
//! * The default policy the server creates (everything labelled
//!   `kubernetes.io/bootstrapping=rbac-defaults`, server-set metadata stripped) must equal
//!   `crates/authz/data/` (regenerate with `crates/authz/tools/capture_defaults.sh`).
//! * Random RBAC worlds, from a fixed seed: Roles, ClusterRoles (some aggregated), RoleBindings
//!   to Roles and ClusterRoles (dangling references included), ClusterRoleBindings, users,
//!   groups (`system:authenticated`, `system:serviceaccounts[:NS]`, ...), ServiceAccounts,
//!   resourceNames, subresources, `*`, nonResourceURLs. Each world is created with one
//!   `kubectl apply`, then a few hundred random SubjectAccessReviews go in one `kubectl create`;
//!   every `status.allowed` must equal kguard's decision, and the reason of every denial too.
//!
//! No controller-manager runs here, so the server never fills aggregated ClusterRoles. This test
//! plays the clusterrole-aggregation controller itself, with its own small implementation (the
//! union of the rules of the selected ClusterRoles, to a fixpoint; the worlds have no cycles, so
//! the result does not depend on the order): the server gets the filled roles (and the defaults
//! `admin`, `edit`, `view`, ... filled once at start), kguard gets the unfilled ones (own rules
//! that aggregation must replace) and aggregates them itself.
//!
//! One difference of this build is allowed, by name: the OpenShift fork wraps the authorizer in
//! its "browser-safe" authorizer (`openshift-kube-apiserver/authorization/browsersafe`, active
//! even without `--openshift-config`): for a user outside `system:authenticated`, verb `proxy`
//! and subresource `proxy` are authorized as `unsafeproxy`, and a denial's reason gains
//! `, proxy verb changed to unsafeproxy` (and/or `proxy subresource ...`). Upstream has no such rewrite, so kguard
//! does not either; for those requests the test asks kguard about the rewritten request and
//! expects the fork's reason (and counts them).
//!
//! * `can-i --list`: every few worlds, SelfSubjectRulesReviews (what `kubectl auth can-i
//!   --list` asks) for impersonated users, groups and ServiceAccounts in both namespaces: the
//!   server's resource and non-resource rules (as multisets: the server lists bindings in its
//!   cache's order), `incomplete` and `evaluationError` must equal kguard's `rules_for`.
//! * The exact `forbidden` text: in the same worlds, the requests kguard denies are sent for
//!   real (HTTP method and URL built from the attributes, impersonating the user) and the
//!   server's 403 `Status.message` must be kguard's `forbidden_status_message`.
//!
//! Skips (visibly) without the harness; under `KGUARD_REQUIRE_SHARED` it must run where the
//! harness exists. `KGUARD_AUTHZ_WORLDS` / `KGUARD_AUTHZ_REQUESTS` change the sizes (60 / 220).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use kguard_authz::{Chain, Mode, Rbac, Subject, defaults};
use kguard_model::Object;
use kguard_request::{Attributes, UserInfo, forbidden_status_message};
use kguard_testkit::kube::KubeApiserver;
use serde_json::{Value, json};

const RBAC: &str = "rbac.authorization.k8s.io";
const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";
const WORLD_LABEL: &str = "kguard.test/world";
const DEFAULTS_LABEL: &str = "kubernetes.io/bootstrapping=rbac-defaults";

/// SplitMix64: small, deterministic, good enough to draw worlds.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    /// 1..=max distinct picks.
    fn some(&mut self, xs: &[&str], max: usize) -> Vec<String> {
        let n = 1 + self.below(max);
        let mut out: Vec<String> = Vec::new();
        for _ in 0..n {
            let x = (*self.pick(xs)).to_owned();
            if !out.contains(&x) {
                out.push(x);
            }
        }
        out
    }
}

const RULE_GROUPS: &[&str] = &["", "", "apps", RBAC, "example.com", "coordination.k8s.io", "*"];
const RULE_RESOURCES: &[&str] = &[
    "pods",
    "pods",
    "pods/log",
    "pods/exec",
    "pods/*",
    "*/scale",
    "*/status",
    "secrets",
    "configmaps",
    "deployments",
    "deployments/scale",
    "roles",
    "rolebindings",
    "clusterroles",
    "widgets",
    "widgets/status",
    "leases",
    "nodes",
    "namespaces",
    "serviceaccounts/token",
    "pods/proxy",
    "services/proxy",
    "*",
];
const RULE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "bind",
    "escalate",
    "impersonate",
    "use",
    "proxy",
    "*",
];
const RULE_URLS: &[&str] = &[
    "/healthz",
    "/healthz/*",
    "/logs/*",
    "/logs",
    "/api",
    "/api/*",
    "/metrics",
    "/version",
    "/custom/*",
    "/custom/a",
    "*",
];
const URL_VERBS: &[&str] = &["get", "post", "put", "delete", "head", "*"];
const NAMES: &[&str] = &["n0", "n1", "n2"];
const AGG_KEYS: usize = 3;
/// ClusterRoles of the defaults a world may bind to (and some that do not exist).
const DEFAULT_REFS: &[&str] = &[
    "view",
    "edit",
    "admin",
    "cluster-admin",
    "system:aggregate-to-view",
    "system:basic-user",
    "system:node-proxier",
    "system:discovery",
    "no-such-clusterrole",
];

const REQ_RESOURCES: &[(&str, &str, &str)] = &[
    ("", "pods", ""),
    ("", "pods", ""),
    ("", "pods", "log"),
    ("", "pods", "exec"),
    ("", "pods", "status"),
    ("", "secrets", ""),
    ("", "configmaps", ""),
    ("", "serviceaccounts", "token"),
    ("", "nodes", ""),
    ("", "nodes", "status"),
    ("", "nodes", "proxy"),
    ("", "pods", "proxy"),
    ("", "services", "proxy"),
    ("", "namespaces", ""),
    ("", "events", ""),
    ("apps", "deployments", ""),
    ("apps", "deployments", "scale"),
    ("apps", "deployments", "status"),
    (RBAC, "roles", ""),
    (RBAC, "rolebindings", ""),
    (RBAC, "clusterroles", ""),
    ("example.com", "widgets", ""),
    ("example.com", "widgets", "status"),
    ("coordination.k8s.io", "leases", ""),
    ("authorization.k8s.io", "selfsubjectaccessreviews", ""),
    ("events.k8s.io", "events", ""),
];
const REQ_VERBS: &[&str] = &[
    "get",
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "bind",
    "escalate",
    "impersonate",
    "use",
    "proxy",
];
const REQ_PATHS: &[&str] = &[
    "/healthz",
    "/healthz/ping",
    "/logs",
    "/logs/x",
    "/api",
    "/api/v1",
    "/apis",
    "/metrics",
    "/version",
    "/version/",
    "/custom/a",
    "/custom/a/b",
    "/openapi/v2",
    "/livez",
    "/readyz",
    "/.well-known/openid-configuration",
];

/// One generated world: the objects as written (what kguard reads), and as the server gets
/// them (aggregated ClusterRoles filled).
struct World {
    index: usize,
    namespaces: [String; 2],
    objects: Vec<Value>,
}

fn meta(name: &str, namespace: Option<&str>, labels: &BTreeMap<String, String>) -> Value {
    let mut m = json!({ "name": name });
    if let Some(ns) = namespace {
        m["namespace"] = json!(ns);
    }
    if !labels.is_empty() {
        m["labels"] = json!(labels);
    }
    m
}

fn random_rules(rng: &mut Rng, cluster: bool) -> Vec<Value> {
    let n = rng.below(4); // 0..=3 rules
    (0..n)
        .map(|_| {
            if cluster && rng.chance(25) {
                json!({ "nonResourceURLs": rng.some(RULE_URLS, 2), "verbs": rng.some(URL_VERBS, 2) })
            } else {
                let mut r = json!({
                    "apiGroups": rng.some(RULE_GROUPS, 2),
                    "resources": rng.some(RULE_RESOURCES, 3),
                    "verbs": rng.some(RULE_VERBS, 3),
                });
                if rng.chance(25) {
                    r["resourceNames"] = json!(rng.some(NAMES, 2));
                }
                r
            }
        })
        .collect()
}

fn random_subjects(rng: &mut Rng, world: &World, cluster: bool) -> Vec<Value> {
    let n = 1 + rng.below(3);
    let [a, b] = &world.namespaces;
    (0..n)
        .map(|_| match rng.below(10) {
            0..=3 => json!({ "kind": "User", "apiGroup": RBAC, "name": rng.pick(&["alice", "bob", "carol", "system:anonymous"]) }),
            4..=6 => {
                let groups = [
                    "devs".to_owned(),
                    "ops".to_owned(),
                    "system:authenticated".to_owned(),
                    "system:unauthenticated".to_owned(),
                    "system:serviceaccounts".to_owned(),
                    format!("system:serviceaccounts:{a}"),
                    format!("system:serviceaccounts:{b}"),
                ];
                json!({ "kind": "Group", "apiGroup": RBAC, "name": rng.pick(&groups) })
            }
            _ => {
                let name = rng.pick(&["sa0", "sa1"]);
                if !cluster && rng.chance(30) {
                    json!({ "kind": "ServiceAccount", "name": name }) // the binding's namespace
                } else {
                    json!({ "kind": "ServiceAccount", "name": name, "namespace": rng.pick(&[a, b]) })
                }
            }
        })
        .collect()
}

fn generate(seed: u64, index: usize) -> World {
    let mut rng = Rng(seed ^ (index as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let namespaces = [format!("w{index}-a"), format!("w{index}-b")];
    let mut world = World { index, namespaces, objects: Vec::new() };
    let world_labels = |extra: &[(String, String)]| {
        let mut l = BTreeMap::from([(WORLD_LABEL.to_owned(), index.to_string())]);
        l.extend(extra.iter().cloned());
        l
    };
    for ns in world.namespaces.clone() {
        world.objects.push(json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns } }));
        for sa in ["sa0", "sa1"] {
            world.objects.push(
                json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": sa, "namespace": ns } }),
            );
        }
    }
    // ClusterRoles: plain ones, some labelled for aggregation; aggregated ones select key k and
    // may carry only keys > k (no cycles).
    let mut cluster_roles: Vec<String> = Vec::new();
    for i in 0..(2 + rng.below(4)) {
        let name = format!("w{index}-cr{i}");
        let mut extra = Vec::new();
        for k in 0..AGG_KEYS {
            if rng.chance(30) {
                extra.push((format!("agg.kguard.test/k{k}"), "true".to_owned()));
            }
        }
        if rng.chance(8) {
            let to = rng.pick(&["view", "edit", "admin"]);
            extra.push((format!("rbac.authorization.k8s.io/aggregate-to-{to}"), "true".to_owned()));
        }
        let rules = random_rules(&mut rng, true);
        world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "ClusterRole",
            "metadata": meta(&name, None, &world_labels(&extra)), "rules": rules }));
        cluster_roles.push(name);
    }
    for k in 0..(rng.below(AGG_KEYS) + 1) {
        let name = format!("w{index}-agg{k}");
        let mut extra = Vec::new();
        for j in (k + 1)..AGG_KEYS {
            if rng.chance(40) {
                extra.push((format!("agg.kguard.test/k{j}"), "true".to_owned()));
            }
        }
        let mut selectors = vec![match rng.below(3) {
            0 => json!({ "matchLabels": { format!("agg.kguard.test/k{k}"): "true" } }),
            1 => json!({ "matchExpressions": [{ "key": format!("agg.kguard.test/k{k}"), "operator": "Exists" }] }),
            _ => {
                json!({ "matchExpressions": [{ "key": format!("agg.kguard.test/k{k}"), "operator": "In", "values": ["true", "yes"] }] })
            }
        }];
        if rng.chance(10) {
            // every default ClusterRole (cluster-admin included)
            selectors.push(json!({ "matchLabels": { "kubernetes.io/bootstrapping": "rbac-defaults" } }));
        }
        // own rules, which the aggregation replaces
        let rules = random_rules(&mut rng, true);
        world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "ClusterRole",
            "metadata": meta(&name, None, &world_labels(&extra)),
            "aggregationRule": { "clusterRoleSelectors": selectors }, "rules": rules }));
        cluster_roles.push(name);
    }
    let mut roles: Vec<(String, String)> = Vec::new();
    for i in 0..(1 + rng.below(4)) {
        let ns = rng.pick(&world.namespaces).clone();
        let name = format!("role{i}");
        let rules = random_rules(&mut rng, false);
        world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "Role",
            "metadata": meta(&name, Some(&ns), &BTreeMap::new()), "rules": rules }));
        roles.push((ns, name));
    }
    for i in 0..(2 + rng.below(5)) {
        let ns = rng.pick(&world.namespaces).clone();
        let role_ref = match rng.below(10) {
            0..=3 => {
                let in_ns: Vec<&(String, String)> = roles.iter().filter(|(n, _)| *n == ns).collect();
                let name = if in_ns.is_empty() || rng.chance(10) {
                    "no-such-role".to_owned()
                } else {
                    rng.pick(&in_ns).1.clone()
                };
                json!({ "apiGroup": RBAC, "kind": "Role", "name": name })
            }
            4..=7 => json!({ "apiGroup": RBAC, "kind": "ClusterRole", "name": rng.pick(&cluster_roles) }),
            _ => json!({ "apiGroup": RBAC, "kind": "ClusterRole", "name": rng.pick(DEFAULT_REFS) }),
        };
        let subjects = random_subjects(&mut rng, &world, false);
        world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "RoleBinding",
            "metadata": meta(&format!("rb{i}"), Some(&ns), &BTreeMap::new()), "roleRef": role_ref, "subjects": subjects }));
    }
    for i in 0..(1 + rng.below(3)) {
        let name = if rng.chance(75) { rng.pick(&cluster_roles).clone() } else { (*rng.pick(DEFAULT_REFS)).to_owned() };
        let subjects = random_subjects(&mut rng, &world, true);
        world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "ClusterRoleBinding",
            "metadata": meta(&format!("w{index}-crb{i}"), None, &world_labels(&[])),
            "roleRef": { "apiGroup": RBAC, "kind": "ClusterRole", "name": name }, "subjects": subjects }));
    }
    // Sentinels, last: one of each RBAC kind, so that once the server allows both sentinel
    // requests its informers have seen this world (and the deletions before it).
    let sentinel = format!("sentinel-{index}");
    let [a, _] = &world.namespaces;
    let s = json!([{ "kind": "User", "apiGroup": RBAC, "name": sentinel }]);
    world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "ClusterRole",
        "metadata": meta(&format!("w{index}-sentinel"), None, &world_labels(&[])),
        "rules": [{ "apiGroups": ["sentinel.kguard.test"], "resources": ["c"], "verbs": ["get"] }] }));
    world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "ClusterRoleBinding",
        "metadata": meta(&format!("w{index}-sentinel"), None, &world_labels(&[])),
        "roleRef": { "apiGroup": RBAC, "kind": "ClusterRole", "name": format!("w{index}-sentinel") }, "subjects": s }));
    world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "Role",
        "metadata": meta("sentinel", Some(a), &BTreeMap::new()),
        "rules": [{ "apiGroups": ["sentinel.kguard.test"], "resources": ["r"], "verbs": ["get"] }] }));
    world.objects.push(json!({ "apiVersion": RBAC_V1, "kind": "RoleBinding",
        "metadata": meta("sentinel", Some(a), &BTreeMap::new()),
        "roleRef": { "apiGroup": RBAC, "kind": "Role", "name": "sentinel" }, "subjects": s }));
    world
}

/// A random request: the SubjectAccessReview spec and kguard's attributes.
fn random_request(rng: &mut Rng, world: &World) -> (Value, Attributes) {
    let [a, b] = &world.namespaces;
    let (user, mut groups): (String, Vec<String>) = match rng.below(12) {
        0..=4 => ((*rng.pick(&["alice", "bob", "carol", "dave"])).to_owned(), Vec::new()),
        5..=7 => {
            let ns = *rng.pick(&[a, b, a]);
            let sa = rng.pick(&["sa0", "sa1", "sa2"]);
            let mut g = vec!["system:serviceaccounts".to_owned(), format!("system:serviceaccounts:{ns}")];
            g.retain(|_| rng.chance(80));
            (format!("system:serviceaccount:{ns}:{sa}"), g)
        }
        8 => ("system:anonymous".to_owned(), vec!["system:unauthenticated".to_owned()]),
        9 => (
            (*rng.pick(&["system:kube-scheduler", "system:kube-controller-manager", "system:kube-proxy"])).to_owned(),
            Vec::new(),
        ),
        10 => {
            let sa =
                rng.pick(&["bootstrap-signer", "token-cleaner", "cloud-provider", "namespace-controller", "default"]);
            (format!("system:serviceaccount:kube-system:{sa}"), vec!["system:serviceaccounts".to_owned()])
        }
        _ => (
            "system:masters-probe".to_owned(),
            if rng.chance(30) { vec!["system:masters".to_owned()] } else { Vec::new() },
        ),
    };
    for g in ["devs", "ops", "system:monitoring"] {
        if rng.chance(20) {
            groups.push(g.to_owned());
        }
    }
    if user != "system:anonymous" && rng.chance(70) {
        groups.push("system:authenticated".to_owned());
    }
    let info = UserInfo::new(user.clone(), groups.clone());
    let mut spec = json!({ "user": user, "groups": groups });
    if rng.chance(12) {
        let path = *rng.pick(REQ_PATHS);
        let verb = *rng.pick(&["get", "get", "post", "put", "delete", "head", "patch"]);
        spec["nonResourceAttributes"] = json!({ "path": path, "verb": verb });
        return (spec, Attributes::non_resource(info, verb, path));
    }
    let (group, resource, sub) = *rng.pick(REQ_RESOURCES);
    let verb = *rng.pick(REQ_VERBS);
    let namespace = match rng.below(10) {
        0..=3 => a.as_str(),
        4..=6 => b.as_str(),
        7 => "kube-system",
        8 => "kube-public",
        _ => "",
    };
    let name = if rng.chance(40) { *rng.pick(NAMES) } else { "" };
    spec["resourceAttributes"] = json!({ "namespace": namespace, "verb": verb, "group": group,
        "resource": resource, "subresource": sub, "name": name });
    let full = if sub.is_empty() { resource.to_owned() } else { format!("{resource}/{sub}") };
    (spec, Attributes::resource(info, verb, group, &full, namespace, name))
}

/// The fork's browser-safe rewrite (see the module): the request it authorizes instead, and the
/// reason it adds to a denial.
fn browser_safe(attrs: &Attributes) -> Option<(Attributes, &'static str)> {
    if !attrs.resource_request || attrs.user.in_group("system:authenticated") {
        return None;
    }
    let verb = attrs.verb == "proxy";
    let sub = attrs.subresource == "proxy";
    let reason = match (verb, sub) {
        (true, true) => "proxy verb changed to unsafeproxy, proxy subresource changed to unsafeproxy",
        (true, false) => "proxy verb changed to unsafeproxy",
        (false, true) => "proxy subresource changed to unsafeproxy",
        (false, false) => return None,
    };
    let mut a = attrs.clone();
    if verb {
        "unsafeproxy".clone_into(&mut a.verb);
    }
    if sub {
        "unsafeproxy".clone_into(&mut a.subresource);
    }
    Some((a, reason))
}

/// The identity a SubjectAccessReview gives a binding subject alone: a User as itself (no
/// groups), a Group as a user no binding names in just that group, a ServiceAccount as its user.
fn subject_identity(s: &Subject, binding_namespace: &str) -> (String, Vec<String>) {
    match s.kind.as_str() {
        "User" => (s.name.clone(), Vec::new()),
        "Group" => ("kguard-probe-nobody".to_owned(), vec![s.name.clone()]),
        _ => {
            let ns = if s.namespace.is_empty() { binding_namespace } else { &s.namespace };
            (format!("system:serviceaccount:{ns}:{}", s.name), Vec::new())
        }
    }
}

/// `who-can` against SubjectAccessReviews: for `requests`, every subject of every binding
/// (world and defaults) asked alone; the server's allowed set must be kguard's `who-can` set.
/// Returns (requests compared, reviews asked).
fn check_who_can(
    kube: &KubeApiserver,
    rbac: &Rbac,
    requests: &[(Value, Attributes)],
    out: &mut Vec<String>,
) -> (usize, usize) {
    let mut subjects: Vec<(String, Vec<String>)> = Vec::new();
    for b in rbac.bindings() {
        for s in &b.subjects {
            let id = subject_identity(s, &b.namespace);
            if !subjects.contains(&id) {
                subjects.push(id);
            }
        }
    }
    let mut specs = Vec::new();
    for (spec, _) in requests {
        for (user, groups) in &subjects {
            let mut spec = spec.clone();
            spec["user"] = json!(user);
            spec["groups"] = json!(groups);
            specs.push(spec);
        }
    }
    let statuses = review(kube, &specs);
    for (i, (spec, attrs)) in requests.iter().enumerate() {
        let theirs: Vec<&(String, Vec<String>)> = subjects
            .iter()
            .zip(&statuses[i * subjects.len()..(i + 1) * subjects.len()])
            .filter(|(_, st)| st["allowed"] == true)
            .map(|(id, _)| id)
            .collect();
        let mut ours: Vec<(String, Vec<String>)> =
            rbac.who_can(attrs).iter().map(|w| subject_identity(&w.subject, &w.binding_namespace)).collect();
        ours.sort();
        ours.dedup();
        let mut theirs: Vec<(String, Vec<String>)> = theirs.into_iter().cloned().collect();
        theirs.sort();
        if ours != theirs {
            out.push(format!("who-can {spec}: server {theirs:?}, kguard {ours:?}"));
        }
    }
    (requests.len(), specs.len())
}

fn sar_list(specs: &[Value]) -> Value {
    let items: Vec<Value> = specs
        .iter()
        .map(|s| json!({ "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": s }))
        .collect();
    json!({ "apiVersion": "v1", "kind": "List", "items": items })
}

/// Runs `kubectl ARGS -f FILE` with `value` written to FILE; stdout, or a panic with stderr.
fn kubectl_with(kube: &KubeApiserver, file: &str, value: &Value, args: &[&str]) -> String {
    let path = kube.dir().join(file);
    std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
    let path = path.to_string_lossy().into_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["-f", &path]);
    let out = kube.kubectl(&all);
    assert!(out.status.success(), "kubectl {all:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The statuses of a batch of SubjectAccessReviews, in order.
fn review(kube: &KubeApiserver, specs: &[Value]) -> Vec<Value> {
    let out = kubectl_with(kube, "sars.json", &sar_list(specs), &["create", "-o", "json"]);
    // one JSON document per object (or a List)
    let mut items: Vec<Value> = Vec::new();
    for v in serde_json::Deserializer::from_str(&out).into_iter::<Value>() {
        let v = v.unwrap();
        if v["kind"] == "List" {
            items.extend(v["items"].as_array().unwrap().iter().cloned());
        } else {
            items.push(v);
        }
    }
    assert_eq!(items.len(), specs.len(), "one review per request");
    items.into_iter().map(|i| i["status"].clone()).collect()
}

fn get_json(kube: &KubeApiserver, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend(["-o", "json"]);
    let out = kube.kubectl(&all);
    assert!(out.status.success(), "kubectl {all:?}: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["items"].as_array().unwrap().clone()
}

fn labels_of(o: &Value) -> BTreeMap<String, String> {
    o["metadata"]["labels"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned())).collect())
        .unwrap_or_default()
}

/// A label selector as upstream `LabelSelectorAsSelector` reads it (the operators used here).
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let exact = selector["matchLabels"]
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str()));
    let exprs = selector["matchExpressions"].as_array().is_none_or(|es| {
        es.iter().all(|e| {
            let value = labels.get(e["key"].as_str().unwrap());
            let values: Vec<&str> =
                e["values"].as_array().map(|v| v.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            match e["operator"].as_str().unwrap() {
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                "In" => value.is_some_and(|v| values.contains(&v.as_str())),
                "NotIn" => value.is_none_or(|v| !values.contains(&v.as_str())),
                op => panic!("operator {op}"),
            }
        })
    });
    exact && exprs
}

/// The clusterrole-aggregation controller, played by the test: every ClusterRole with an
/// aggregationRule gets the union of the rules of the other ClusterRoles its selectors match,
/// until nothing changes. Returns the names whose rules changed, with their new rules.
fn aggregate(cluster_roles: &mut [Value]) -> BTreeMap<String, Value> {
    let mut changed = BTreeMap::new();
    for _ in 0..64 {
        let mut any = false;
        for t in 0..cluster_roles.len() {
            let Some(selectors) = cluster_roles[t]["aggregationRule"]["clusterRoleSelectors"].as_array().cloned()
            else {
                continue;
            };
            let name = cluster_roles[t]["metadata"]["name"].clone();
            let mut rules: Vec<Value> = Vec::new();
            for s in &selectors {
                let mut sources: Vec<&Value> = cluster_roles
                    .iter()
                    .filter(|c| c["metadata"]["name"] != name && selects(s, &labels_of(c)))
                    .collect();
                sources.sort_by_key(|c| c["metadata"]["name"].as_str().unwrap().to_owned());
                for c in sources {
                    for r in c["rules"].as_array().into_iter().flatten() {
                        if !rules.contains(r) {
                            rules.push(r.clone());
                        }
                    }
                }
            }
            let rules = Value::Array(rules);
            let old = &cluster_roles[t]["rules"];
            let same = *old == rules || (old.is_null() && rules.as_array().is_some_and(Vec::is_empty));
            if !same {
                cluster_roles[t]["rules"] = rules.clone();
                changed.insert(name.as_str().unwrap().to_owned(), rules);
                any = true;
            }
        }
        if !any {
            return changed;
        }
    }
    panic!("aggregation does not converge");
}

fn strip_server_metadata(o: &mut Value) {
    if let Some(m) = o["metadata"].as_object_mut() {
        for k in ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"] {
            m.remove(k);
        }
    }
}

fn key(o: &Value) -> (String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    (s(&o["kind"]), s(&o["metadata"]["namespace"]), s(&o["metadata"]["name"]))
}

/// The server's bootstrap policy equals the committed data.
fn check_defaults(kube: &KubeApiserver) {
    let mut server: Vec<Value> = Vec::new();
    for (kind, resource) in [
        ("ClusterRole", "clusterroles"),
        ("ClusterRoleBinding", "clusterrolebindings"),
        ("Role", "roles"),
        ("RoleBinding", "rolebindings"),
    ] {
        for mut o in get_json(kube, &[resource, "-A", "-l", DEFAULTS_LABEL]) {
            strip_server_metadata(&mut o);
            o["kind"] = json!(kind); // items of a list carry their kind; keep it explicit
            server.push(o);
        }
    }
    let mut ours: Vec<Value> = defaults::objects().iter().map(|o| o.root.to_json()).collect();
    server.sort_by_key(key);
    ours.sort_by_key(key);
    let names = |v: &[Value]| v.iter().map(key).collect::<Vec<_>>();
    assert_eq!(
        names(&ours),
        names(&server),
        "the default RBAC objects differ from the server's (run crates/authz/tools/capture_defaults.sh)"
    );
    for (a, b) in ours.iter().zip(&server) {
        assert_eq!(a, b, "{:?} differs from the server's (run crates/authz/tools/capture_defaults.sh)", key(a));
    }
    eprintln!(
        "authz defaults: {} ClusterRoles, {} ClusterRoleBindings, {} Roles, {} RoleBindings equal the server's",
        server.iter().filter(|o| o["kind"] == "ClusterRole").count(),
        server.iter().filter(|o| o["kind"] == "ClusterRoleBinding").count(),
        server.iter().filter(|o| o["kind"] == "Role").count(),
        server.iter().filter(|o| o["kind"] == "RoleBinding").count(),
    );
}

/// A rule as a comparable string (the fields a SelfSubjectRulesReview returns).
fn rule_key(verbs: &Value, groups: &Value, resources: &Value, names: &Value, urls: &Value) -> String {
    let list = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().map(|x| x.as_str().unwrap_or("").to_owned()).collect()).unwrap_or_default()
    };
    format!("{:?} {:?} {:?} {:?} {:?}", list(verbs), list(groups), list(resources), list(names), list(urls))
}

/// `can-i --list` against SelfSubjectRulesReviews of impersonated identities and the tables of
/// `kubectl auth can-i --list`; returns the number of reviews compared and how many tables were
/// byte-identical (the others equal up to the order of merged verbs).
fn check_rules_reviews(
    kube: &KubeApiserver,
    chain: &Chain,
    world: &World,
    disagreements: &mut Vec<String>,
) -> (usize, usize) {
    let [a, b] = &world.namespaces;
    let identities: Vec<(String, Vec<String>)> = vec![
        ("alice".into(), Vec::new()),
        ("bob".into(), vec!["devs".into()]),
        ("carol".into(), vec!["ops".into(), "devs".into()]),
        // (system:anonymous may not create a SelfSubjectRulesReview)
        (format!("system:serviceaccount:{a}:sa0"), Vec::new()),
        (format!("system:serviceaccount:{b}:sa1"), Vec::new()),
    ];
    let (mut n, mut exact) = (0, 0);
    for (user, groups) in &identities {
        for ns in [a, b] {
            let review = json!({ "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                "spec": { "namespace": ns } });
            let mut args: Vec<String> =
                vec!["create".into(), "--validate=false".into(), "-o".into(), "json".into(), format!("--as={user}")];
            args.extend(groups.iter().map(|g| format!("--as-group={g}")));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out: Value = serde_json::from_str(&kubectl_with(kube, "ssrr.json", &review, &args)).unwrap();
            let status = &out["status"];
            let mut theirs: Vec<String> = Vec::new();
            for r in status["resourceRules"].as_array().into_iter().flatten() {
                theirs.push(rule_key(&r["verbs"], &r["apiGroups"], &r["resources"], &r["resourceNames"], &Value::Null));
            }
            for r in status["nonResourceRules"].as_array().into_iter().flatten() {
                theirs.push(rule_key(&r["verbs"], &Value::Null, &Value::Null, &Value::Null, &r["nonResourceURLs"]));
            }
            let ours_review = chain.rules_for(&UserInfo::impersonated(user, groups), ns);
            let mut ours: Vec<String> = Vec::new();
            for r in &ours_review.resource_rules {
                ours.push(rule_key(
                    &json!(r.verbs),
                    &json!(r.api_groups),
                    &json!(r.resources),
                    &json!(r.resource_names),
                    &Value::Null,
                ));
            }
            for r in &ours_review.non_resource_rules {
                ours.push(rule_key(
                    &json!(r.verbs),
                    &Value::Null,
                    &Value::Null,
                    &Value::Null,
                    &json!(r.non_resource_urls),
                ));
            }
            theirs.sort();
            ours.sort();
            let incomplete = status["incomplete"] == true;
            let error = status["evaluationError"].as_str().unwrap_or("");
            if theirs != ours || incomplete != ours_review.incomplete || error != ours_review.evaluation_error {
                let only = |x: &[String], y: &[String]| -> Vec<String> {
                    let mut y = y.to_vec();
                    x.iter()
                        .filter(|r| match y.iter().position(|o| o == *r) {
                            Some(i) => {
                                y.remove(i);
                                false
                            }
                            None => true,
                        })
                        .cloned()
                        .collect()
                };
                disagreements.push(format!(
                    "world {}: rules of {user} {groups:?} in {ns}: only the server's {:?}, only kguard's {:?}; \
                     server incomplete={incomplete} error={error:?}, kguard incomplete={} error={:?}",
                    world.index,
                    only(&theirs, &ours),
                    only(&ours, &theirs),
                    ours_review.incomplete,
                    ours_review.evaluation_error
                ));
            }
            // the text of `kubectl auth can-i --list`: equal line for line, up to the order of
            // verbs merged from several rules (the server lists bindings in its cache's order)
            let mut args: Vec<String> = vec!["auth".into(), "can-i".into(), "--list".into(), format!("--as={user}")];
            args.extend(groups.iter().map(|g| format!("--as-group={g}")));
            args.extend(["-n".into(), ns.clone()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = kube.kubectl(&args);
            assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            let kubectl_text = String::from_utf8(out.stdout).unwrap();
            let ours_text = ours_review.kubectl_table(true);
            let normalize = |t: &str| -> Vec<String> {
                let mut lines: Vec<String> = t
                    .lines()
                    .map(|l| match l.rfind('[') {
                        Some(i) if l.ends_with(']') => {
                            let mut verbs: Vec<&str> = l[i + 1..l.len() - 1].split(' ').collect();
                            verbs.sort_unstable();
                            format!("{}[{}]", &l[..i], verbs.join(" "))
                        }
                        _ => l.to_owned(),
                    })
                    .collect();
                lines.sort();
                lines
            };
            exact += usize::from(kubectl_text == ours_text);
            let (k, o) = (normalize(&kubectl_text), normalize(&ours_text));
            if k != o {
                let only_k: Vec<&String> = k.iter().filter(|l| !o.contains(l)).collect();
                let only_o: Vec<&String> = o.iter().filter(|l| !k.contains(l)).collect();
                disagreements.push(format!(
                    "world {}: kubectl auth can-i --list as {user} {groups:?} in {ns}: only kubectl's \
                     {only_k:#?}, only kguard's {only_o:#?} ({} and {} lines)",
                    world.index,
                    k.len(),
                    o.len()
                ));
            }
            n += 1;
        }
    }
    (n, exact)
}

/// The HTTP method and URL path of a request the authorization filter reads as `attrs`, for
/// the requests that have exactly one (no watch, no proxy, no `namespaces` in a namespace, a
/// name where the verb needs one).
fn http_request(attrs: &Attributes) -> Option<(&'static str, String)> {
    if !attrs.resource_request {
        let method = match attrs.verb.as_str() {
            "get" => "GET",
            "post" => "POST",
            "put" => "PUT",
            "delete" => "DELETE",
            "patch" => "PATCH",
            _ => return None,
        };
        return Some((method, attrs.path.clone()));
    }
    let named = !attrs.name.is_empty();
    let method = match (attrs.verb.as_str(), named) {
        ("get", true) => "GET",
        ("list", false) => "GET",
        ("create", _) => "POST",
        ("update", true) => "PUT",
        ("patch", true) => "PATCH",
        ("delete", true) => "DELETE",
        ("deletecollection", false) => "DELETE",
        _ => return None,
    };
    if attrs.resource == "namespaces" || attrs.subresource == "proxy" || (!attrs.subresource.is_empty() && !named) {
        return None;
    }
    let mut path =
        if attrs.api_group.is_empty() { "/api/v1".to_owned() } else { format!("/apis/{}/v1", attrs.api_group) };
    if !attrs.namespace.is_empty() {
        path.push_str(&format!("/namespaces/{}", attrs.namespace));
    }
    path.push_str(&format!("/{}", attrs.resource));
    if named {
        path.push_str(&format!("/{}", attrs.name));
    }
    if !attrs.subresource.is_empty() {
        path.push_str(&format!("/{}", attrs.subresource));
    }
    Some((method, path))
}

/// The exact forbidden text: the requests kguard denies to their (impersonated) users, sent for
/// real in one `curl`; each answer must be a 403 whose `Status.message` is kguard's. Returns
/// the number of requests compared.
fn check_forbidden_text(
    kube: &KubeApiserver,
    chain: &Chain,
    world: usize,
    attrs: &[Attributes],
    disagreements: &mut Vec<String>,
) -> usize {
    let mut cases: Vec<(Attributes, &'static str, String, String)> = Vec::new();
    for a in attrs {
        // impersonation adds the groups a real login has (system:authenticated, SA groups)
        let groups: Vec<String> = a.user.groups.iter().filter(|g| !g.starts_with("system:")).cloned().collect();
        if a.user.name.starts_with("system:masters") {
            continue;
        }
        let mut imp = a.clone();
        imp.user = UserInfo::impersonated(&a.user.name, &groups);
        let Some((method, path)) = http_request(&imp) else { continue };
        let decision = chain.decide(&imp);
        if decision.allowed() || cases.len() >= 40 {
            continue;
        }
        let want = forbidden_status_message(&imp, &decision.reason);
        cases.push((imp, method, path, want));
    }
    if cases.is_empty() {
        return 0;
    }
    let server = kube.env("KUBE_SERVER");
    let mut args: Vec<String> = vec!["--silent".into(), "--max-time".into(), "10".into()];
    for (i, (imp, method, path, _)) in cases.iter().enumerate() {
        if i > 0 {
            args.push("--next".into());
        }
        args.extend([
            "--cacert".into(),
            kube.env("KUBE_CA_CERT").into(),
            "-H".into(),
            format!("Authorization: Bearer {}", kube.env("KUBE_ADMIN_TOKEN")),
            "-H".into(),
            format!("Impersonate-User: {}", imp.user.name),
            "-H".into(),
            "Content-Type: application/json".into(),
            "-X".into(),
            (*method).into(),
            "-o".into(),
            kube.dir().join(format!("forbidden-{i}.json")).display().to_string(),
            "-w".into(),
            "%{http_code}\n".into(),
        ]);
        for g in imp.user.groups.iter().filter(|g| !g.starts_with("system:")) {
            args.extend(["-H".into(), format!("Impersonate-Group: {g}")]);
        }
        if matches!(*method, "POST" | "PUT" | "PATCH") {
            args.extend(["--data".into(), "{}".into()]);
        }
        args.push(format!("{server}{path}"));
    }
    let out = std::process::Command::new("curl").args(&args).output().expect("run curl");
    let codes: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(codes.len(), cases.len(), "one answer per request: {}", String::from_utf8_lossy(&out.stderr));
    for (i, ((imp, method, path, want), code)) in cases.iter().zip(&codes).enumerate() {
        let body = std::fs::read(kube.dir().join(format!("forbidden-{i}.json"))).unwrap_or_default();
        let status: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let got = status["message"].as_str().unwrap_or("");
        if code != "403" || got != want {
            disagreements.push(format!(
                "world {world}: {method} {path} as {} {:?}: server {code} {got:?}, kguard 403 {want:?}",
                imp.user.name, imp.user.groups
            ));
        }
    }
    cases.len()
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn authz_agrees_with_kube_apiserver() {
    let Some(kube) = KubeApiserver::start("authz_live", &[], &[]) else {
        return;
    };
    check_defaults(&kube);

    // Play the aggregation controller for the defaults once (admin, edit, view, ...).
    let mut base_cluster_roles = get_json(&kube, &["clusterroles"]);
    for c in &mut base_cluster_roles {
        strip_server_metadata(c);
        c["kind"] = json!("ClusterRole");
        c["apiVersion"] = json!(RBAC_V1);
    }
    let base_filled = aggregate(&mut base_cluster_roles);
    let fill: Vec<Value> = base_cluster_roles
        .iter()
        .filter(|c| base_filled.contains_key(c["metadata"]["name"].as_str().unwrap()))
        .cloned()
        .collect();
    kubectl_with(&kube, "fill.json", &json!({ "apiVersion": "v1", "kind": "List", "items": fill }), &["replace"]);
    let by_name: BTreeMap<String, Value> =
        base_cluster_roles.iter().map(|c| (c["metadata"]["name"].as_str().unwrap().to_owned(), c.clone())).collect();

    let worlds = env_usize("KGUARD_AUTHZ_WORLDS", 60);
    let per_world = env_usize("KGUARD_AUTHZ_REQUESTS", 220);
    let seed = 0x6B67_7561_7264_0015; // "kguard", issue 15
    let default_objects = defaults::objects();
    let (mut agree, mut total, mut allowed, mut reasons_agree, mut denials) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut browser_safe_cases = 0usize;
    let (mut who_can_requests, mut who_can_reviews) = (0usize, 0usize);
    let (mut rules_reviews, mut tables_exact, mut forbidden_texts) = (0usize, 0usize, 0usize);
    let mut disagreements: Vec<String> = Vec::new();
    for w in 0..worlds {
        let world = generate(seed, w);
        // the server's copy: aggregated ClusterRoles filled over defaults + world
        let mut all_cr: Vec<Value> = base_cluster_roles.clone();
        all_cr.extend(world.objects.iter().filter(|o| o["kind"] == "ClusterRole").cloned());
        let filled = aggregate(&mut all_cr);
        let mut server_objects: Vec<Value> = world
            .objects
            .iter()
            .map(|o| {
                let mut o = o.clone();
                if o["kind"] == "ClusterRole"
                    && let Some(rules) = filled.get(o["metadata"]["name"].as_str().unwrap())
                {
                    o["rules"] = rules.clone();
                }
                o
            })
            .collect();
        // defaults whose aggregation the world changes (a world role labelled aggregate-to-view)
        let touched: Vec<String> = filled.keys().filter(|n| by_name.contains_key(*n)).cloned().collect();
        for n in &touched {
            let mut o = by_name[n].clone();
            o["rules"] = filled[n].clone();
            server_objects.insert(0, o);
        }
        kubectl_with(
            &kube,
            "world.json",
            &json!({ "apiVersion": "v1", "kind": "List", "items": server_objects }),
            &["apply"],
        );

        // wait until the authorizer's informers have seen the world
        let sentinel = format!("sentinel-{}", world.index);
        let probes = [
            json!({ "user": sentinel, "resourceAttributes": { "verb": "get", "group": "sentinel.kguard.test", "resource": "c" } }),
            json!({ "user": sentinel, "resourceAttributes": { "verb": "get", "group": "sentinel.kguard.test", "resource": "r", "namespace": world.namespaces[0] } }),
        ];
        let mut tries = 0;
        while !review(&kube, &probes).iter().all(|s| s["allowed"] == true) {
            tries += 1;
            assert!(tries < 100, "world {w}: the server never saw the sentinels");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if !touched.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(300)); // updates, not creations
        }

        // kguard's copy: the world as written, plus the defaults
        let mut objects: Vec<Object> = world
            .objects
            .iter()
            .map(|o| Object::from_json(o, Arc::from(format!("world-{w}").as_str())).unwrap())
            .collect();
        objects.extend(default_objects.iter().cloned());
        let chain = Chain::from_modes(&[Mode::Node, Mode::Rbac], &objects, None).unwrap();

        let mut rng = Rng(seed.wrapping_add(w as u64 * 7919));
        let (specs, attrs): (Vec<Value>, Vec<Attributes>) =
            (0..per_world).map(|_| random_request(&mut rng, &world)).unzip();
        let statuses = review(&kube, &specs);
        for ((spec, a), status) in specs.iter().zip(&attrs).zip(&statuses) {
            let rewritten = browser_safe(a);
            let mut decision = chain.decide(rewritten.as_ref().map_or(a, |(r, _)| r));
            if let Some((_, why)) = &rewritten {
                browser_safe_cases += 1;
                if !decision.allowed() {
                    decision.reason = if decision.reason.is_empty() {
                        (*why).to_owned()
                    } else {
                        format!("{}, {why}", decision.reason)
                    };
                }
            }
            let server_allowed = status["allowed"] == true;
            total += 1;
            allowed += usize::from(server_allowed);
            if decision.allowed() == server_allowed {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "world {w}: {spec}: server allowed={server_allowed} ({}), kguard allowed={} ({})",
                    status["reason"],
                    decision.allowed(),
                    decision.reason
                ));
            }
            if !server_allowed && !decision.allowed() {
                denials += 1;
                let theirs = status["reason"].as_str().unwrap_or("");
                if theirs == decision.reason {
                    reasons_agree += 1;
                } else {
                    disagreements.push(format!(
                        "world {w}: {spec}: denial reason: server {theirs:?}, kguard {:?}",
                        decision.reason
                    ));
                }
            }
        }

        if w % 15 == 0 {
            // who-can: requests without the browser-safe rewrite (subjects are asked alone)
            let picked: Vec<(Value, Attributes)> = specs
                .iter()
                .zip(&attrs)
                .filter(|(_, a)| a.verb != "proxy" && a.subresource != "proxy")
                .take(12)
                .map(|(s, a)| (s.clone(), a.clone()))
                .collect();
            let rbac = Rbac::from_objects(&objects);
            let (n, m) = check_who_can(&kube, &rbac, &picked, &mut disagreements);
            who_can_requests += n;
            who_can_reviews += m;
        }

        if w % 6 == 0 {
            let (n, exact) = check_rules_reviews(&kube, &chain, &world, &mut disagreements);
            rules_reviews += n;
            tables_exact += exact;
            forbidden_texts += check_forbidden_text(&kube, &chain, w, &attrs, &mut disagreements);
        }

        // clean up what outlives the world's namespaces; put the touched defaults back
        let out = kube.kubectl(&["delete", "clusterroles,clusterrolebindings", "-l", WORLD_LABEL]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        if !touched.is_empty() {
            let back: Vec<Value> = touched.iter().map(|n| by_name[n].clone()).collect();
            kubectl_with(&kube, "back.json", &json!({ "apiVersion": "v1", "kind": "List", "items": back }), &["apply"]);
        }
    }
    eprintln!("authz live oracle: {agree} agree of {total} ({worlds} worlds, {allowed} allowed by the server)");
    eprintln!("authz live denial reasons: {reasons_agree} agree of {denials}");
    eprintln!("authz live who-can: {who_can_requests} requests, every subject asked ({who_can_reviews} reviews)");
    eprintln!(
        "authz live can-i --list: {rules_reviews} agree of {rules_reviews} SelfSubjectRulesReviews; \
         `kubectl auth can-i --list` tables equal line for line, {tables_exact} of them byte for byte \
         (the others differ only in the order of verbs merged from bindings the server lists in no fixed order)"
    );
    eprintln!("authz live forbidden text: {forbidden_texts} agree of {forbidden_texts} denied requests sent for real");
    eprintln!(
        "authz live: {browser_safe_cases} requests went through the fork's browser-safe rewrite (see the module)"
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with kube-apiserver:\n{}",
        disagreements.len(),
        disagreements.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(worlds < 50 || total >= 10_000, "at least 10,000 requests over 50 worlds");
}

// ------------------------------------------------------------------------------------------
// Node and ABAC: a server started with `--authorization-mode=Node,ABAC,RBAC`.

/// The objects the Node authorizer's graph is built from: pods bound to `node1` and `node2` (and
/// one unscheduled) reaching secrets, configmaps, PVCs (one through an ephemeral volume), a PV
/// with a CSI secret, a ServiceAccount; a VolumeAttachment on `node1`.
fn node_world() -> Vec<Value> {
    let ns = |n: &str| json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": n } });
    let sa = |n: &str, namespace: &str| json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": n, "namespace": namespace } });
    let pod = |name: &str, node: Option<&str>, spec: Value| {
        let mut spec = spec;
        if let Some(n) = node {
            spec["nodeName"] = json!(n);
        }
        json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name, "namespace": "app" }, "spec": spec })
    };
    let claim = json!({ "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } });
    vec![
        ns("app"),
        ns("storage"),
        ns("other"),
        sa("default", "app"),
        sa("web-sa", "app"),
        json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": { "name": "data-pvc", "namespace": "app" },
            "spec": claim }),
        json!({ "apiVersion": "v1", "kind": "PersistentVolume", "metadata": { "name": "pv1" },
            "spec": { "capacity": { "storage": "1Gi" }, "accessModes": ["ReadWriteOnce"],
                "claimRef": { "namespace": "app", "name": "data-pvc" },
                "csi": { "driver": "x.example.com", "volumeHandle": "h",
                    "nodePublishSecretRef": { "name": "csi-secret", "namespace": "storage" } } } }),
        json!({ "apiVersion": "v1", "kind": "PersistentVolume", "metadata": { "name": "pv2" },
            "spec": { "capacity": { "storage": "1Gi" }, "accessModes": ["ReadWriteOnce"],
                "hostPath": { "path": "/x" } } }),
        json!({ "apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": { "name": "va1" },
            "spec": { "nodeName": "node1", "attacher": "x.example.com", "source": { "persistentVolumeName": "pv1" } } }),
        pod(
            "web",
            Some("node1"),
            json!({ "serviceAccountName": "web-sa", "imagePullSecrets": [{ "name": "regcred" }],
                "containers": [{ "name": "c", "image": "nginx",
                    "env": [{ "name": "A", "valueFrom": { "secretKeyRef": { "name": "env-secret", "key": "k" } } },
                            { "name": "B", "valueFrom": { "configMapKeyRef": { "name": "env-cm", "key": "k" } } }],
                    "envFrom": [{ "configMapRef": { "name": "bulk-cm" } }] }],
                "volumes": [
                    { "name": "data", "persistentVolumeClaim": { "claimName": "data-pvc" } },
                    { "name": "scratch", "ephemeral": { "volumeClaimTemplate": { "spec": claim } } },
                    { "name": "creds", "secret": { "secretName": "vol-secret" } },
                    { "name": "proj", "projected": { "sources": [{ "secret": { "name": "proj-secret" } },
                        { "configMap": { "name": "proj-cm" } }] } }] }),
        ),
        pod(
            "other",
            Some("node2"),
            json!({ "containers": [{ "name": "c", "image": "x", "envFrom": [{ "secretRef": { "name": "node2-secret" } }] }] }),
        ),
        pod(
            "pending",
            None,
            json!({ "containers": [{ "name": "c", "image": "x", "envFrom": [{ "secretRef": { "name": "unscheduled-secret" } }] }] }),
        ),
    ]
}

/// Random ABAC policy lines (v1beta1, and a few unversioned v0 lines).
fn abac_policy(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..24 {
        if rng.chance(15) {
            let user = *rng.pick(&["carol", "*", "alice"]);
            out.push_str(&format!("{}\n", json!({ "user": user, "readonly": rng.chance(50) })));
            continue;
        }
        let mut spec = serde_json::Map::new();
        if rng.chance(60) {
            spec.insert("user".into(), json!(rng.pick(&["alice", "bob", "*", "system:anonymous"])));
        }
        if rng.chance(40) {
            spec.insert(
                "group".into(),
                json!(rng.pick(&["devs", "system:authenticated", "*", "system:unauthenticated"])),
            );
        }
        if rng.chance(50) {
            spec.insert("readonly".into(), json!(true));
        }
        if rng.chance(75) {
            spec.insert("namespace".into(), json!(rng.pick(&["app", "other", "*"])));
            spec.insert("resource".into(), json!(rng.pick(&["secrets", "pods", "configmaps", "*", "deployments"])));
            spec.insert("apiGroup".into(), json!(rng.pick(&["", "*", "apps"])));
        } else {
            spec.insert("nonResourcePath".into(), json!(rng.pick(&["/healthz", "/version", "/api*", "*", "/logs/*"])));
        }
        let line = json!({ "apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": spec });
        out.push_str(&format!("{line}\n"));
    }
    out
}

const NODE_NAMES: &[(&str, &str)] = &[
    ("secrets", "regcred"),
    ("secrets", "env-secret"),
    ("secrets", "vol-secret"),
    ("secrets", "proj-secret"),
    ("secrets", "node2-secret"),
    ("secrets", "unscheduled-secret"),
    ("secrets", "csi-secret"),
    ("secrets", "nobody-secret"),
    ("configmaps", "env-cm"),
    ("configmaps", "bulk-cm"),
    ("configmaps", "proj-cm"),
    ("configmaps", "kube-root-ca.crt"),
    ("configmaps", "nobody-cm"),
    ("persistentvolumeclaims", "data-pvc"),
    ("persistentvolumeclaims", "web-scratch"),
    ("persistentvolumes", "pv1"),
    ("persistentvolumes", "pv2"),
    ("serviceaccounts", "web-sa"),
    ("serviceaccounts", "default"),
    ("pods", "web"),
    ("pods", "other"),
    ("nodes", "node1"),
    ("nodes", "node2"),
    ("volumeattachments", "va1"),
    ("leases", "node1"),
];

/// A random request against the node world: node identities most of the time, the ABAC
/// users otherwise.
fn node_request(rng: &mut Rng) -> (Value, Attributes) {
    let (user, groups): (String, Vec<String>) = match rng.below(10) {
        0..=5 => {
            let n = rng.pick(&["node1", "node1", "node2", "node3"]);
            (format!("system:node:{n}"), vec!["system:nodes".into(), "system:authenticated".into()])
        }
        6 => ("system:anonymous".into(), vec!["system:unauthenticated".into()]),
        7 => (
            "system:serviceaccount:app:web-sa".into(),
            vec!["system:serviceaccounts".into(), "system:authenticated".into()],
        ),
        _ => {
            let u = rng.pick(&["alice", "bob", "carol", "dave"]);
            let mut g = vec!["system:authenticated".to_owned()];
            if rng.chance(40) {
                g.push("devs".into());
            }
            ((*u).to_owned(), g)
        }
    };
    let info = UserInfo::new(user.clone(), groups.clone());
    let mut spec = json!({ "user": user, "groups": groups });
    if rng.chance(10) {
        let path = *rng.pick(&["/healthz", "/version", "/api", "/apis/apps", "/logs/x", "/metrics"]);
        let verb = *rng.pick(&["get", "post"]);
        spec["nonResourceAttributes"] = json!({ "path": path, "verb": verb });
        return (spec, Attributes::non_resource(info, verb, path));
    }
    let (resource, name) = *rng.pick(NODE_NAMES);
    let group = match resource {
        "volumeattachments" => "storage.k8s.io",
        "leases" => "coordination.k8s.io",
        _ => "",
    };
    let cluster = matches!(resource, "persistentvolumes" | "nodes" | "volumeattachments");
    let namespace = if cluster {
        ""
    } else if resource == "leases" {
        "kube-node-lease"
    } else if name == "csi-secret" && rng.chance(80) {
        "storage"
    } else {
        *rng.pick(&["app", "app", "app", "other"])
    };
    let verb = *rng.pick(&["get", "get", "get", "list", "watch", "create", "update", "patch", "delete"]);
    let name = if rng.chance(85) { name } else { "" };
    let sub = if resource == "serviceaccounts" && verb == "create" && rng.chance(70) {
        "token"
    } else if (resource == "pods" && rng.chance(20)) || (resource == "nodes" && rng.chance(30)) {
        "status"
    } else {
        ""
    };
    spec["resourceAttributes"] = json!({ "namespace": namespace, "verb": verb, "group": group,
        "resource": resource, "subresource": sub, "name": name });
    let full = if sub.is_empty() { resource.to_owned() } else { format!("{resource}/{sub}") };
    (spec, Attributes::resource(info, verb, group, &full, namespace, name))
}

#[test]
fn node_and_abac_agree_with_kube_apiserver() {
    let mut rng = Rng(0x6B67_7561_7264_0A0C); // "kguard", ABAC
    let policy = abac_policy(&mut rng);
    let dir = kguard_testkit::TempDir::new("abac-policy");
    let policy_path = dir.path().join("policy.jsonl");
    std::fs::write(&policy_path, &policy).unwrap();
    let policy_flag = format!("--authorization-policy-file={}", policy_path.display());
    let Some(kube) =
        KubeApiserver::start("node_abac_live", &["--authorization-mode=Node,ABAC,RBAC", &policy_flag], &[])
    else {
        return;
    };
    kubectl_with(
        &kube,
        "node-world.json",
        &json!({ "apiVersion": "v1", "kind": "List", "items": node_world() }),
        &["apply"],
    );
    // kguard reads the objects as the server stored them (with what admission added, such as
    // the ServiceAccount token volume and its `kube-root-ca.crt` configmap)
    let mut stored: Vec<Value> = Vec::new();
    for kind in ["pods", "persistentvolumes", "volumeattachments", "persistentvolumeclaims", "serviceaccounts"] {
        for mut o in get_json(&kube, &[kind, "-A"]) {
            let (k, v) = match kind {
                "pods" => ("Pod", "v1"),
                "persistentvolumes" => ("PersistentVolume", "v1"),
                "volumeattachments" => ("VolumeAttachment", "storage.k8s.io/v1"),
                "persistentvolumeclaims" => ("PersistentVolumeClaim", "v1"),
                _ => ("ServiceAccount", "v1"),
            };
            o["kind"] = json!(k);
            o["apiVersion"] = json!(v);
            stored.push(o);
        }
    }
    let mut objects: Vec<Object> =
        stored.iter().map(|o| Object::from_json(o, Arc::from("node-world")).unwrap()).collect();
    objects.extend(defaults::objects());
    let abac = kguard_authz::abac::AbacPolicy::parse(&policy_path.display().to_string(), &policy).unwrap();
    let chain = Chain::from_modes(&[Mode::Node, Mode::Abac, Mode::Rbac], &objects, Some(abac)).unwrap();

    // wait until the Node authorizer's graph holds the pods
    let probe = [json!({ "user": "system:node:node1", "groups": ["system:nodes", "system:authenticated"],
        "resourceAttributes": { "verb": "get", "resource": "secrets", "namespace": "app", "name": "proj-secret" } })];
    let mut tries = 0;
    while review(&kube, &probe)[0]["allowed"] != true {
        tries += 1;
        assert!(tries < 200, "the Node authorizer never saw the pods");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let requests = env_usize("KGUARD_NODE_ABAC_REQUESTS", 1500);
    let (specs, attrs): (Vec<Value>, Vec<Attributes>) = (0..requests).map(|_| node_request(&mut rng)).unzip();
    let statuses = review(&kube, &specs);
    let (mut agree, mut allowed, mut denials, mut reasons_agree) = (0usize, 0usize, 0usize, 0usize);
    let mut by_node = 0usize;
    let mut disagreements = Vec::new();
    for ((spec, a), status) in specs.iter().zip(&attrs).zip(&statuses) {
        let d = chain.decide(a);
        let server = status["allowed"] == true;
        allowed += usize::from(server);
        by_node += usize::from(server && d.authorizer == "Node");
        if d.allowed() == server {
            agree += 1;
        } else {
            disagreements.push(format!(
                "{spec}: server allowed={server} ({}), kguard allowed={} by {} ({})",
                status["reason"],
                d.allowed(),
                d.authorizer,
                d.reason
            ));
        }
        if !server && !d.allowed() {
            denials += 1;
            let theirs = status["reason"].as_str().unwrap_or("");
            if theirs == d.reason {
                reasons_agree += 1;
            } else {
                disagreements.push(format!("{spec}: denial reason: server {theirs:?}, kguard {:?}", d.reason));
            }
        }
    }
    eprintln!(
        "node abac live oracle: {agree} agree of {requests} ({allowed} allowed by the server, {by_node} of them by the Node authorizer)"
    );
    eprintln!("node abac live denial reasons: {reasons_agree} agree of {denials}");
    assert!(
        disagreements.is_empty(),
        "{} disagreements with kube-apiserver (policy:\n{policy}):\n{}",
        disagreements.len(),
        disagreements.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
