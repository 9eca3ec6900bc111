//! Live differential test of audit policies: kube-apiserver v1.36.2
//! (`../shared/bench/kube-apiserver.sh`) against [`kguard_audit`], the engine of `kguard audit
//! eval` and `kguard audit lint`.
//!
//! * **Levels and stages.** For each policy in `tests/audit/kube/sessions/` (and the harness's
//!   default policy) a server is started with it and a scripted session of several hundred
//!   requests is sent through one `curl --parallel -K` process per phase: ten identities (bearer
//!   tokens with and without groups, a service-account-like user, a node, a client certificate,
//!   anonymous, a bad token whose authentication fails, an impersonating admin) times resource
//!   requests (every verb, subresources among them the long-running `exec`, `attach`, `log`,
//!   `portforward` and `proxy`, watches, `fieldSelector=metadata.name` lists, cluster-scoped and
//!   namespaced, unknown groups) and non-resource requests (`get`, `head`, `post`, `put`,
//!   `delete` on health, discovery, debug and unknown paths). Every request carries its own
//!   user agent, `kguard-audit-oracle/N`, which ties the events of the audit log to it. For each
//!   request kguard evaluates the policy for the attributes the session sent it with: the level
//!   of the server's events, the set of stages it recorded (a request at level `None`, or with
//!   every stage omitted, has none at all) and whether `managedFields` appear in the request
//!   and response bodies must be what kguard predicts ([`Decision::stages`],
//!   `omit_managed_fields`). The attributes themselves (user, groups, verb, objectRef, path) are
//!   checked against the logged ones, so that a prediction is never made for another request.
//!   Every other event of the log (the server's own loopback requests at start, its informers'
//!   watches, the harness) is evaluated for the attributes it was logged with: its level, and its
//!   stage among those kguard says are recorded. Their number varies a little from run to run.
//! * **Refusals.** The server is started with each policy in `tests/audit/kube/refused/`; it
//!   must refuse to start, and kguard must reject the policy with the same reasons: validation
//!   errors word for word (as a set: `field.ErrorList` order is not kguard's), `loaded illegal
//!   policy with 0 rules` word for word, JSON decoding errors (`json: cannot unmarshal number into
//!   Go struct field PolicyRule.rules.level ...`) as the same field and found JSON type (kguard
//!   words them itself, with a position), unknown kinds and versions as the same `no kind "K" is
//!   registered for version "V"`, and a missing apiVersion (`unknown group version field
//!   audit.k8s.io/__internal`) as kguard's `apiVersion: Required value`. Each session policy, which
//!   the server accepts, must be accepted by kguard with the same unknown-field warnings.
//!
//! Prints `audit live oracle: N agree of M` and fails on any disagreement. Skips (visibly)
//! without the harness; under `KGUARD_REQUIRE_SHARED` it must run where the harness exists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kguard_audit::{Decision, Level, RequestAttributes, Stage};
use kguard_model::yaml;
use kguard_testkit::TempDir;
use kguard_testkit::kube::KubeApiserver;
use serde_json::{Value, json};

const TEST: &str = "audit_live_oracle";
const UA: &str = "kguard-audit-oracle/";
const CAROL_TOKEN: &str = "kguard-audit-oracle-carol-token";
const ROBOT_TOKEN: &str = "kguard-audit-oracle-robot-token";
const ROBOT: &str = "system:serviceaccount:team-a:robot";

fn extra_tokens() -> String {
    format!(
        "{CAROL_TOKEN},carol,carol-uid,\"ops,auditors\"\n{ROBOT_TOKEN},{ROBOT},robot-uid,\"system:serviceaccounts,system:serviceaccounts:team-a\""
    )
}

// ---- identities ----------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Auth {
    /// A bearer token from the harness's env file.
    EnvToken(&'static str),
    /// A bearer token given literally.
    Token(&'static str),
    /// A client certificate and key from the env file.
    Cert(&'static str, &'static str),
    /// No credentials.
    Anonymous,
    /// The admin's token, impersonating a user.
    Impersonate(&'static str),
}

struct Identity {
    key: &'static str,
    auth: Auth,
    /// The user the audit policy is evaluated for (`None`: authentication fails). The audit
    /// filter runs after authentication and before impersonation: an impersonating request is
    /// evaluated for the impersonator.
    user: Option<&'static str>,
    groups: &'static [&'static str],
}

const AUTHENTICATED: &str = "system:authenticated";

const IDENTITIES: &[Identity] = &[
    Identity {
        key: "admin",
        auth: Auth::EnvToken("KUBE_ADMIN_TOKEN"),
        user: Some("kguard-admin"),
        groups: &["system:masters", AUTHENTICATED],
    },
    Identity {
        key: "alice",
        auth: Auth::EnvToken("KUBE_ALICE_TOKEN"),
        user: Some("alice"),
        groups: &["devs", AUTHENTICATED],
    },
    Identity { key: "bob", auth: Auth::EnvToken("KUBE_BOB_TOKEN"), user: Some("bob"), groups: &[AUTHENTICATED] },
    Identity {
        key: "node1",
        auth: Auth::EnvToken("KUBE_NODE1_TOKEN"),
        user: Some("system:node:node1"),
        groups: &["system:nodes", AUTHENTICATED],
    },
    Identity {
        key: "carol",
        auth: Auth::Token(CAROL_TOKEN),
        user: Some("carol"),
        groups: &["ops", "auditors", AUTHENTICATED],
    },
    Identity {
        key: "robot",
        auth: Auth::Token(ROBOT_TOKEN),
        user: Some(ROBOT),
        groups: &["system:serviceaccounts", "system:serviceaccounts:team-a", AUTHENTICATED],
    },
    Identity {
        key: "alice-cert",
        auth: Auth::Cert("KUBE_ALICE_CERT", "KUBE_ALICE_KEY"),
        user: Some("alice"),
        groups: &["devs", AUTHENTICATED],
    },
    Identity {
        key: "anonymous",
        auth: Auth::Anonymous,
        user: Some("system:anonymous"),
        groups: &["system:unauthenticated"],
    },
    Identity { key: "bad-token", auth: Auth::Token("not-a-valid-token"), user: None, groups: &[] },
    Identity {
        key: "admin-as-carol",
        auth: Auth::Impersonate("carol"),
        user: Some("kguard-admin"),
        groups: &["system:masters", AUTHENTICATED],
    },
];

// ---- requests ------------------------------------------------------------------------------------

/// One request of a session: how it is sent, and the attributes kguard evaluates it for.
#[derive(Clone, Debug)]
struct Req {
    who: usize,
    method: &'static str,
    /// Path and query.
    path: String,
    body: Option<String>,
    content_type: &'static str,
    attrs: RequestAttributes,
    /// The body carries `metadata.managedFields`.
    mf_body: bool,
}

const MANAGED_FIELDS_ENTRY: &str = r#"[{"manager":"kguard-audit-oracle","operation":"Update","apiVersion":"v1","time":"2026-01-01T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{}}}}]"#;

fn version_of(group: &str) -> &'static str {
    if group == "example.com" { "v1alpha1" } else { "v1" }
}

/// A resource request: method and path from the verb, as kubectl would send it.
fn res(verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Req {
    let mut path = if group.is_empty() { "/api/v1".to_owned() } else { format!("/apis/{group}/{}", version_of(group)) };
    let mut namespace = ns.to_owned();
    if resource == "namespaces" {
        // the namespace of a namespace is its name (RequestInfo)
        namespace = name.to_owned();
    } else if !ns.is_empty() {
        let _ = write!(path, "/namespaces/{ns}");
    }
    let _ = write!(path, "/{resource}");
    if !name.is_empty() {
        let _ = write!(path, "/{name}");
    }
    if !sub.is_empty() {
        let _ = write!(path, "/{sub}");
    }
    let method = match verb {
        "create" => "POST",
        "update" => "PUT",
        "patch" => "PATCH",
        "delete" | "deletecollection" => "DELETE",
        _ => "GET",
    };
    if verb == "watch" {
        path.push_str("?watch=1&timeoutSeconds=1");
    }
    Req {
        who: 0,
        method,
        path,
        body: None,
        content_type: "application/json",
        attrs: RequestAttributes {
            user: None,
            groups: Vec::new(),
            verb: verb.to_owned(),
            resource_request: true,
            api_group: group.to_owned(),
            resource: resource.to_owned(),
            subresource: sub.to_owned(),
            namespace,
            name: name.to_owned(),
            path: String::new(),
        },
        mf_body: false,
    }
}

/// A non-resource request: the verb is the lower-cased method.
fn nonres(method: &'static str, path: &str) -> Req {
    Req {
        who: 0,
        method,
        path: path.to_owned(),
        body: None,
        content_type: "application/json",
        attrs: RequestAttributes {
            verb: method.to_ascii_lowercase(),
            resource_request: false,
            path: path.split('?').next().unwrap().to_owned(),
            ..RequestAttributes::default()
        },
        mf_body: false,
    }
}

impl Req {
    fn body(mut self, v: &Value) -> Self {
        let text = v.to_string();
        self.mf_body = text.contains("\"managedFields\"");
        self.body = Some(text);
        self
    }
    fn merge_patch(mut self, v: &Value) -> Self {
        self.body = Some(v.to_string());
        self.content_type = "application/merge-patch+json";
        self
    }
    fn query(mut self, q: &str) -> Self {
        self.path.push(if self.path.contains('?') { '&' } else { '?' });
        self.path.push_str(q);
        self
    }
    /// A list or watch of one name (`fieldSelector=metadata.name=NAME`): RequestInfo takes the
    /// name from the selector.
    fn named(mut self, name: &str) -> Self {
        name.clone_into(&mut self.attrs.name);
        self
    }
    /// The same request at another path (the deprecated `/watch/` prefix).
    fn at(mut self, path: &str) -> Self {
        path.clone_into(&mut self.path);
        self
    }
    fn method(mut self, m: &'static str) -> Self {
        self.method = m;
        self
    }
}

fn managed_fields() -> Value {
    serde_json::from_str(MANAGED_FIELDS_ENTRY).unwrap()
}

fn object(api_version: &str, kind: &str, ns: &str, name: &str, rest: &Value) -> Value {
    let mut meta = json!({"name": name, "labels": {"kguard-audit-oracle": "1"}, "managedFields": managed_fields()});
    if !ns.is_empty() {
        meta["namespace"] = json!(ns);
    }
    let mut o = json!({"apiVersion": api_version, "kind": kind, "metadata": meta});
    if let (Some(o), Some(rest)) = (o.as_object_mut(), rest.as_object()) {
        for (k, v) in rest {
            o.insert(k.clone(), v.clone());
        }
    }
    o
}

fn configmap(ns: &str, name: &str) -> Value {
    object("v1", "ConfigMap", ns, name, &json!({"data": {"k": "v"}}))
}

fn pod(ns: &str, name: &str) -> Value {
    object("v1", "Pod", ns, name, &json!({"spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
}

/// Phase 1-3: what the session works on, created by the admin (and compared like the rest).
fn setup() -> Vec<Vec<Req>> {
    let ns = |n: &str| res("create", "", "namespaces", "", "", "").body(&object("v1", "Namespace", "", n, &json!({})));
    let rbac = "rbac.authorization.k8s.io";
    let phase1 = vec![ns("team-a"), ns("team-b")];
    let phase2 = vec![
        res("create", "", "serviceaccounts", "", "team-a", "").body(&object("v1", "ServiceAccount", "team-a", "default", &json!({}))),
        res("create", "", "serviceaccounts", "", "team-a", "").body(&object("v1", "ServiceAccount", "team-a", "robot", &json!({}))),
        res("create", rbac, "roles", "", "team-a", "").body(&object(
            "rbac.authorization.k8s.io/v1",
            "Role",
            "team-a",
            "all",
            &json!({"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}),
        )),
        res("create", rbac, "rolebindings", "", "team-a", "").body(&object(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "team-a",
            "all",
            &json!({
                "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "all"},
                "subjects": [
                    {"kind": "Group", "name": "devs", "apiGroup": rbac},
                    {"kind": "User", "name": "carol", "apiGroup": rbac},
                    {"kind": "ServiceAccount", "name": "robot", "namespace": "team-a"}
                ]
            }),
        )),
        res("create", "", "configmaps", "", "team-a", "").body(&configmap("team-a", "audited-cm")),
        res("create", "", "configmaps", "", "team-a", "").body(&configmap("team-a", "other-cm")),
        res("create", "", "configmaps", "", "team-b", "").body(&configmap("team-b", "other-cm")),
        res("create", "", "secrets", "", "team-a", "")
            .body(&object("v1", "Secret", "team-a", "s1", &json!({"stringData": {"password": "hunter2"}}))),
        res("create", "apps", "deployments", "", "team-a", "").body(&object(
            "apps/v1",
            "Deployment",
            "team-a",
            "web",
            &json!({"spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            }}),
        )),
        res("create", "coordination.k8s.io", "leases", "", "team-a", "")
            .body(&object("coordination.k8s.io/v1", "Lease", "team-a", "l1", &json!({}))),
    ];
    let phase3 = vec![res("create", "", "pods", "", "team-a", "").body(&pod("team-a", "p1"))];
    vec![phase1, phase2, phase3]
}

/// Phase 4: what every identity asks (`t` makes the names it creates unique).
fn session_ops(t: &str) -> Vec<Req> {
    let apps = "apps";
    let label = json!({"metadata": {"labels": {"touched": "yes"}}});
    vec![
        // core, namespaced
        res("list", "", "pods", "", "team-a", ""),
        res("list", "", "pods", "", "", ""),
        res("get", "", "pods", "", "team-a", "p1"),
        res("get", "", "pods", "", "team-a", "p1").method("HEAD"),
        res("watch", "", "pods", "", "team-a", ""),
        res("watch", "", "pods", "", "team-a", "").query("fieldSelector=metadata.name%3Dp1").named("p1"),
        res("list", "", "pods", "", "team-a", "").query("fieldSelector=metadata.name%3Dp1").named("p1"),
        res("get", "", "pods", "log", "team-a", "p1"),
        res("create", "", "pods", "exec", "team-a", "p1").query("command=true&stdout=1"),
        res("create", "", "pods", "attach", "team-a", "p1").query("stdout=1"),
        res("get", "", "pods", "portforward", "team-a", "p1").query("ports=80"),
        res("get", "", "pods", "status", "team-a", "p1"),
        res("patch", "", "pods", "status", "team-a", "p1").merge_patch(&json!({})),
        res("create", "", "pods", "eviction", "team-a", "nope")
            .body(&json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "nope", "namespace": "team-a"}})),
        res("create", "", "pods", "", "team-a", "").body(&pod("team-a", &format!("p-{t}"))),
        res("list", "", "configmaps", "", "team-a", ""),
        res("get", "", "configmaps", "", "team-a", "audited-cm"),
        res("get", "", "configmaps", "", "team-a", "other-cm"),
        res("get", "", "configmaps", "", "team-b", "other-cm"),
        res("list", "", "configmaps", "", "team-a", "").query("fieldSelector=metadata.name%3Daudited-cm").named("audited-cm"),
        res("create", "", "configmaps", "", "team-a", "").body(&configmap("team-a", &format!("cm-{t}"))),
        res("create", "", "configmaps", "", "team-b", "").body(&configmap("team-b", &format!("cm-{t}"))),
        res("update", "", "configmaps", "", "team-a", "other-cm").body(&configmap("team-a", "other-cm")),
        res("update", "", "configmaps", "", "team-a", "audited-cm").body(&configmap("team-a", "audited-cm")),
        res("patch", "", "configmaps", "", "team-a", "other-cm").merge_patch(&label),
        res("patch", "", "configmaps", "", "team-b", "other-cm").merge_patch(&label),
        res("delete", "", "configmaps", "", "team-a", "gone"),
        res("deletecollection", "", "configmaps", "", "team-b", "").query("labelSelector=nothing%3Dhere"),
        res("watch", "", "configmaps", "", "team-a", "").at("/api/v1/watch/namespaces/team-a/configmaps?timeoutSeconds=1"),
        res("get", "", "secrets", "", "team-a", "s1"),
        res("list", "", "secrets", "", "kube-system", ""),
        res("create", "", "serviceaccounts", "token", "team-a", "default")
            .body(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})),
        res("get", "", "services", "proxy", "team-a", "nosvc"),
        // apps
        res("get", apps, "deployments", "", "team-a", "web"),
        res("get", apps, "deployments", "scale", "team-a", "web"),
        res("patch", apps, "deployments", "", "team-a", "web").merge_patch(&label),
        res("list", apps, "deployments", "", "", ""),
        // cluster-scoped
        res("get", "", "namespaces", "", "", "team-a"),
        res("get", "", "namespaces", "", "", "team-b"),
        res("get", "", "namespaces", "status", "", "team-a"),
        res("list", "", "namespaces", "", "", ""),
        res("watch", "", "namespaces", "", "", ""),
        res("create", "", "namespaces", "", "", "").body(&object("v1", "Namespace", "", &format!("ns-{t}"), &json!({}))),
        res("patch", "", "namespaces", "", "", "team-b").merge_patch(&label),
        res("get", "", "nodes", "", "", "node1"),
        res("list", "", "nodes", "", "", ""),
        res("list", "rbac.authorization.k8s.io", "roles", "", "team-a", ""),
        res("get", "rbac.authorization.k8s.io", "clusterroles", "", "", "view"),
        res("create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", "").body(&json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "team-a"}}
        })),
        res("create", "authentication.k8s.io", "selfsubjectreviews", "", "", "")
            .body(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
        res("get", "coordination.k8s.io", "leases", "", "team-a", "l1"),
        res("update", "coordination.k8s.io", "leases", "", "team-a", "l1")
            .body(&object("coordination.k8s.io/v1", "Lease", "team-a", "l1", &json!({}))),
        res("list", "events.k8s.io", "events", "", "team-a", ""),
        res("get", "example.com", "widgets", "", "team-a", "w1"),
        res("list", "example.com", "widgets", "", "", ""),
        // non-resource
        nonres("GET", "/healthz"),
        nonres("GET", "/healthz/etcd"),
        nonres("GET", "/livez"),
        nonres("GET", "/readyz?verbose=1"),
        nonres("GET", "/version"),
        nonres("GET", "/api"),
        nonres("GET", "/api/v1"),
        nonres("GET", "/apis"),
        nonres("GET", "/apis/"),
        nonres("GET", "/apis/apps/v1"),
        nonres("GET", "/openapi/v3"),
        nonres("GET", "/logs/"),
        nonres("GET", "/debug/pprof/cmdline"),
        nonres("GET", "/.well-known/openid-configuration"),
        nonres("GET", "/nope"),
        nonres("HEAD", "/healthz"),
        nonres("POST", "/healthz"),
        nonres("PUT", "/version"),
        nonres("DELETE", "/nope"),
    ]
}

/// Phase 5: clean-up by the admin.
fn teardown() -> Vec<Req> {
    vec![
        res("delete", "apps", "deployments", "", "team-a", "web"),
        res("delete", "", "configmaps", "", "team-a", "other-cm"),
        res("deletecollection", "", "configmaps", "", "team-a", "").query("labelSelector=touched%3Dyes"),
        res("delete", "", "namespaces", "", "", "team-b"),
    ]
}

/// Every phase of a session, with identities and attributes filled in.
fn session() -> Vec<Vec<Req>> {
    let mut phases = setup();
    let mut bulk = Vec::new();
    for (who, id) in IDENTITIES.iter().enumerate() {
        for mut r in session_ops(id.key) {
            r.who = who;
            bulk.push(r);
        }
    }
    phases.push(bulk);
    phases.push(teardown());
    for phase in &mut phases {
        for r in phase.iter_mut() {
            let id = &IDENTITIES[r.who];
            r.attrs.user = id.user.map(str::to_owned);
            r.attrs.groups = id.groups.iter().map(|g| (*g).to_owned()).collect();
        }
    }
    phases
}

// ---- sending -------------------------------------------------------------------------------------

/// Curl's config syntax: a quoted value with `\` and `"` escaped.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Sends `reqs` (numbered from `first`) in one `curl --parallel` process.
fn send(kube: &KubeApiserver, dir: &Path, reqs: &[Req], first: usize) {
    let server = kube.env("KUBE_SERVER");
    let mut config = String::new();
    for (k, r) in reqs.iter().enumerate() {
        if k > 0 {
            config.push_str("next\n");
        }
        let _ = writeln!(config, "url = {}", quoted(&format!("{server}{}", r.path)));
        let _ = writeln!(config, "request = {}", r.method);
        if r.method == "HEAD" {
            config.push_str("head\n");
        }
        let _ = writeln!(config, "cacert = {}", quoted(kube.env("KUBE_CA_CERT")));
        let _ = writeln!(config, "user-agent = {}", quoted(&format!("{UA}{}", first + k)));
        let _ = writeln!(config, "output = \"/dev/null\"");
        let _ = writeln!(config, "dump-header = {}", quoted(&dir.join(format!("h-{}", first + k)).to_string_lossy()));
        // per transfer (`next` resets options): HTTP/1.1, as kubectl speaks it to upgrades
        config.push_str("max-time = 30\nhttp1.1\n");
        match IDENTITIES[r.who].auth {
            Auth::EnvToken(key) => {
                let _ = writeln!(config, "header = {}", quoted(&format!("Authorization: Bearer {}", kube.env(key))));
            }
            Auth::Token(t) => {
                let _ = writeln!(config, "header = {}", quoted(&format!("Authorization: Bearer {t}")));
            }
            Auth::Cert(cert, key) => {
                let _ = writeln!(config, "cert = {}", quoted(kube.env(cert)));
                let _ = writeln!(config, "key = {}", quoted(kube.env(key)));
            }
            Auth::Anonymous => {}
            Auth::Impersonate(user) => {
                let token = kube.env("KUBE_ADMIN_TOKEN");
                let _ = writeln!(config, "header = {}", quoted(&format!("Authorization: Bearer {token}")));
                let _ = writeln!(config, "header = {}", quoted(&format!("Impersonate-User: {user}")));
            }
        }
        if let Some(body) = &r.body {
            let _ = writeln!(config, "header = {}", quoted(&format!("Content-Type: {}", r.content_type)));
            let _ = writeln!(config, "data-binary = {}", quoted(body));
        }
    }
    let cfg = dir.join(format!("curl-{first}.cfg"));
    std::fs::write(&cfg, config).unwrap();
    let out = Command::new("curl")
        .args(["--no-progress-meter", "--parallel", "--parallel-max", "16", "-K"])
        .arg(&cfg)
        .output()
        .expect("run curl");
    // The audit log is the record; a transfer curl reports as failed (an upgrade the server
    // refuses, a watch cut at its timeout) is still a request the server saw.
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let distinct: BTreeSet<&str> = err.lines().collect();
        eprintln!("curl exited {:?}: {distinct:?}", out.status.code());
    }
}

/// The status code each request was answered with (0: no answer reached curl).
fn answers(dir: &Path, n: usize) -> Vec<u16> {
    (0..n)
        .map(|i| {
            let h = std::fs::read_to_string(dir.join(format!("h-{i}"))).unwrap_or_default();
            h.lines()
                .filter_map(|l| l.strip_prefix("HTTP/"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
                .next_back()
                .unwrap_or(0)
        })
        .collect()
}

/// The audit log once it has stopped growing (the events of long-running requests are written
/// when they end).
fn settled_log(path: &str) -> String {
    let mut last = u64::MAX;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len == last || Instant::now() > deadline {
            break;
        }
        last = len;
        std::thread::sleep(Duration::from_millis(400));
    }
    std::fs::read_to_string(path).unwrap()
}

// ---- comparing -----------------------------------------------------------------------------------

/// The events of one request, as the server logged them.
#[derive(Default)]
struct Logged {
    events: Vec<Value>,
}

fn has_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| k == key || has_key(v, key)),
        Value::Array(a) => a.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Where the logged request is not the one the session meant (a test error, not kguard's).
fn attribute_mismatch(r: &Req, e: &Value) -> Option<String> {
    let a = &r.attrs;
    let mut diffs = Vec::new();
    let user = e["user"]["username"].as_str();
    if user != a.user.as_deref() {
        diffs.push(format!("user {user:?}"));
    }
    let mut groups: Vec<&str> = e["user"]["groups"].as_array().map_or(Vec::new(), |g| g.iter().map(s).collect());
    groups.sort_unstable();
    let mut want: Vec<&str> = a.groups.iter().map(String::as_str).collect();
    want.sort_unstable();
    if groups != want {
        diffs.push(format!("groups {groups:?}"));
    }
    if s(&e["verb"]) != a.verb {
        diffs.push(format!("verb {}", e["verb"]));
    }
    let o = &e["objectRef"];
    if a.resource_request {
        // a create's objectRef gains the name (and namespace) of the object in the body
        let filled = a.verb == "create" && e["stage"] != "RequestReceived";
        let name_ok = s(&o["name"]) == a.name || (filled && a.name.is_empty());
        let ns_ok = s(&o["namespace"]) == a.namespace || (filled && a.namespace.is_empty());
        if o.is_null()
            || s(&o["resource"]) != a.resource
            || s(&o["subresource"]) != a.subresource
            || s(&o["apiGroup"]) != a.api_group
            || !name_ok
            || !ns_ok
        {
            diffs.push(format!("objectRef {o}"));
        }
    } else {
        let uri = s(&e["requestURI"]);
        if !o.is_null() || uri.split('?').next() != Some(a.path.as_str()) {
            diffs.push(format!("objectRef {o}, requestURI {uri}"));
        }
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

/// The attributes the policy saw for a logged request, read back from its event. A create's
/// objectRef gains the name of the object in its body, which RequestInfo does not have (except
/// for a subresource, named in the path).
fn event_attributes(e: &Value) -> RequestAttributes {
    let o = &e["objectRef"];
    let user = e["user"]["username"].as_str().map(str::to_owned);
    let groups = e["user"]["groups"].as_array().map_or(Vec::new(), |g| g.iter().map(|x| s(x).to_owned()).collect());
    let verb = s(&e["verb"]).to_owned();
    if o.is_null() {
        let path = s(&e["requestURI"]).split('?').next().unwrap_or("").to_owned();
        return RequestAttributes { user, groups, verb, path, ..RequestAttributes::default() };
    }
    let subresource = s(&o["subresource"]).to_owned();
    let name = if verb == "create" && subresource.is_empty() { String::new() } else { s(&o["name"]).to_owned() };
    RequestAttributes {
        user,
        groups,
        resource_request: true,
        api_group: s(&o["apiGroup"]).to_owned(),
        resource: s(&o["resource"]).to_owned(),
        subresource,
        namespace: s(&o["namespace"]).to_owned(),
        name,
        verb,
        path: String::new(),
    }
}

fn stage_names(stages: &[Stage]) -> Vec<&'static str> {
    stages.iter().map(|s| s.as_str()).collect()
}

/// Compares one request; `Err` says how the server and kguard differ.
fn compare(r: &Req, d: &Decision, logged: &Logged, mf_checks: &mut usize) -> Result<(), String> {
    for e in &logged.events {
        if let Some(m) = attribute_mismatch(r, e) {
            return Err(format!("logged as another request than sent: {m}"));
        }
    }
    let want_stages = d.stages(&r.attrs);
    let got_stages: Vec<&str> = logged.events.iter().map(|e| s(&e["stage"])).collect();
    let mut got_sorted: Vec<Stage> = got_stages.iter().filter_map(|x| Stage::parse(x)).collect();
    got_sorted.sort();
    let ids: BTreeSet<&str> = logged.events.iter().map(|e| s(&e["auditID"])).collect();
    let levels: BTreeSet<&str> = logged.events.iter().map(|e| s(&e["level"])).collect();
    let mut want_sorted = want_stages.clone();
    want_sorted.sort();
    if got_sorted != want_sorted || got_sorted.len() != got_stages.len() || ids.len() > 1 {
        return Err(format!(
            "stages: server {got_stages:?} (audit ids {ids:?}), kguard {:?} (level {})",
            stage_names(&want_stages),
            d.level
        ));
    }
    if !logged.events.is_empty() && (levels.len() != 1 || !levels.contains(d.level.as_str())) {
        return Err(format!("level: server {levels:?}, kguard {}", d.level));
    }
    // omitManagedFields: bodies are recorded from level Request on
    if d.level >= Level::Request {
        let mut present = false;
        let mut informative = false;
        for e in &logged.events {
            let req_obj = &e["requestObject"];
            let resp_obj = &e["responseObject"];
            present |= has_key(req_obj, "managedFields") || has_key(resp_obj, "managedFields");
            // a create or update body that carried managedFields keeps them unless omitted
            informative |= r.mf_body && !req_obj.is_null() && matches!(r.method, "POST" | "PUT");
            // a stored object the server answered with has managedFields unless omitted
            let code = e["responseStatus"]["code"].as_u64().unwrap_or(0);
            informative |= d.level == Level::RequestResponse
                && (200..300).contains(&code)
                && resp_obj["metadata"].is_object()
                && resp_obj["kind"].as_str().is_some_and(|k| {
                    !k.ends_with("List") && !k.ends_with("Review") && k != "Status" && k != "TokenRequest"
                })
                && r.attrs.subresource.is_empty()
                && matches!(r.attrs.verb.as_str(), "get" | "create" | "update" | "patch");
        }
        if d.omit_managed_fields && present {
            return Err("managedFields recorded; kguard: omitManagedFields true".to_owned());
        }
        if !d.omit_managed_fields && informative && !present {
            return Err("managedFields omitted; kguard: omitManagedFields false".to_owned());
        }
        if present || informative {
            *mf_checks += 1;
        }
    }
    Ok(())
}

fn read_check(path: &Path) -> kguard_audit::PolicyCheck {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = yaml::parse_documents(&text).into_iter().find(|d| !matches!(d.root, Ok(None))).expect("a document");
    kguard_audit::check_policy(&doc.root.unwrap().unwrap())
}

struct Tally {
    agree: usize,
    total: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn add(&mut self, what: &str, r: Result<(), String>) {
        self.total += 1;
        match r {
            Ok(()) => self.agree += 1,
            Err(e) => self.mismatches.push(format!("{what}: {e}")),
        }
    }
}

/// The unknown fields the server warned about when it fell back to lenient decoding.
fn lenient_fields(apiserver_log: &str) -> Vec<String> {
    apiserver_log
        .lines()
        .find(|l| l.contains("falling back to lenient decoding"))
        .map(|l| {
            l.replace("\\\"", "\"")
                .split("unknown field \"")
                .skip(1)
                .map(|s| s.split('"').next().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// One session: a server with `policy` (the harness's default when `None`), every phase sent,
/// every request compared. `None` when the harness is absent.
fn run_session(
    name: &str,
    policy: Option<&Path>,
    tally: &mut Tally,
    counts: &mut BTreeMap<&'static str, usize>,
) -> Option<()> {
    let p = policy.map(|p| p.to_string_lossy().into_owned());
    let tokens = extra_tokens();
    let mut env = vec![("KGUARD_KUBE_EXTRA_TOKENS", tokens.as_str())];
    if let Some(p) = &p {
        env.push(("KGUARD_KUBE_AUDIT_POLICY", p.as_str()));
    }
    let kube = KubeApiserver::start(&format!("{TEST}_{name}"), &[], &env)?;
    let policy_path = PathBuf::from(kube.env("KUBE_AUDIT_POLICY"));
    let check = read_check(&policy_path);
    // the server started: kguard must accept the policy, with the server's unknown-field warnings
    let log = std::fs::read_to_string(kube.env("KUBE_APISERVER_LOG")).unwrap_or_default();
    let warned: Vec<String> = check
        .warnings
        .iter()
        .filter_map(|w| w.message.strip_prefix("unknown field \""))
        .map(|m| m.split('"').next().unwrap().to_owned())
        .collect();
    let server_warned = lenient_fields(&log);
    tally.add(
        &format!("{name}: accepted"),
        if check.policy.is_none() {
            Err(format!("the server starts with it, kguard rejects it: {:?}", check.errors))
        } else if warned != server_warned {
            Err(format!("unknown fields: server {server_warned:?}, kguard {warned:?}"))
        } else {
            Ok(())
        },
    );
    *counts.entry("policies accepted").or_default() += 1;
    let Some(policy) = check.policy else { return Some(()) };

    let dir = TempDir::new("audit-live-curl");
    let phases = session();
    let mut all: Vec<Req> = Vec::new();
    for phase in &phases {
        send(&kube, dir.path(), phase, all.len());
        all.extend(phase.iter().cloned());
    }
    let codes = answers(dir.path(), all.len());
    let text = settled_log(kube.env("KUBE_AUDIT_LOG"));
    let mut logged: Vec<Logged> = (0..all.len()).map(|_| Logged::default()).collect();
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let Some(i) = e["userAgent"].as_str().and_then(|ua| ua.strip_prefix(UA)).and_then(|n| n.parse::<usize>().ok())
        else {
            // another client's event (the server's own loopback requests, the harness): its
            // level, and its stage among the ones kguard says are recorded
            let a = event_attributes(&e);
            let d = policy.evaluate(&a);
            let stage = Stage::parse(s(&e["stage"]));
            let what = format!("{name} event {} {} {}", s(&e["auditID"]), s(&e["verb"]), s(&e["requestURI"]));
            let result = if s(&e["level"]) != d.level.as_str() {
                Err(format!("level: server {}, kguard {}", e["level"], d.level))
            } else if !stage.is_some_and(|st| d.stages(&a).contains(&st)) {
                Err(format!("stage {} recorded; kguard: {:?}", e["stage"], stage_names(&d.stages(&a))))
            } else {
                Ok(())
            };
            tally.add(&what, result);
            *counts.entry("events of other clients").or_default() += 1;
            continue;
        };
        logged[i].events.push(e);
    }
    let mut mf = 0;
    for (i, (r, l)) in all.iter().zip(&logged).enumerate() {
        let d = policy.evaluate(&r.attrs);
        *counts
            .entry(match d.level {
                Level::None => "at None",
                Level::Metadata => "at Metadata",
                Level::Request => "at Request",
                Level::RequestResponse => "at RequestResponse",
            })
            .or_default() += 1;
        if r.attrs.is_long_running() && d.level != Level::None {
            *counts.entry("long-running logged").or_default() += 1;
        }
        let what = format!(
            "{name} #{i} {} {} {} as {} (answered {})",
            r.method, r.path, r.attrs.verb, IDENTITIES[r.who].key, codes[i]
        );
        *counts
            .entry(match codes[i] {
                0 => "unanswered",
                1..400 => "answered 1xx-3xx",
                _ => "answered 4xx-5xx",
            })
            .or_default() += 1;
        // a request absent from the log counts only when the server answered it
        let result = if codes[i] == 0 && l.events.is_empty() {
            Err("no answer and no event: the server may not have seen it".to_owned())
        } else {
            compare(r, &d, l, &mut mf)
        };
        tally.add(&what, result);
    }
    *counts.entry("managedFields checks").or_default() += mf;
    *counts.entry("requests").or_default() += all.len();
    Some(())
}

// ---- refusals ------------------------------------------------------------------------------------

/// kguard's error, in the server's terms (see the module documentation).
fn kguard_reason(message: &str) -> String {
    // `PATH: expected X, found a TYPE` <-> `json: cannot unmarshal JSONTYPE into Go struct field
    // Struct.PATH of type T` (indices dropped: Go names the field path without them)
    if let Some((path, rest)) = message.split_once(": expected ")
        && let Some((_, found)) = rest.rsplit_once(", found ")
    {
        let found = found.trim_start_matches("an ").trim_start_matches("a ");
        let json_type = match found {
            "integer" | "number" => "number",
            "string" => "string",
            "boolean" => "bool",
            "mapping" => "object",
            "sequence" => "array",
            other => other,
        };
        let mut field = String::new();
        let mut depth = 0;
        for c in path.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                c if depth == 0 => field.push(c),
                _ => {}
            }
        }
        return format!("decode {field}: {json_type}");
    }
    for prefix in ["apiVersion: ", "kind: "] {
        if let Some(rest) = message.strip_prefix(prefix).filter(|r| r.starts_with("no kind ")) {
            return rest.split(" (expected").next().unwrap().to_owned();
        }
    }
    if message == "apiVersion: Required value" {
        return "unknown group version field".to_owned();
    }
    message.to_owned()
}

/// The server's reasons, one per error.
fn server_reasons(reason: &str) -> Vec<String> {
    if let Some(rest) = reason.strip_prefix("failed decoding: ") {
        if let Some(rest) = rest.strip_prefix("json: cannot unmarshal ") {
            let (json_type, rest) = rest.split_once(" into Go struct field ").unwrap();
            let field = rest.split(" of type ").next().unwrap();
            let field = field.split_once('.').map_or(field, |(_, f)| f);
            return vec![format!("decode {field}: {json_type}")];
        }
        return vec![rest.split(" in scheme ").next().unwrap().to_owned()];
    }
    if reason.starts_with("unknown group version field") {
        return vec!["unknown group version field".to_owned()];
    }
    if let Some(list) = reason.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        // `field.ErrorList`'s aggregate: each error starts with its field path
        let mut out: Vec<String> = Vec::new();
        let mut start = 0;
        let bytes = list.as_bytes();
        for i in 0..list.len() {
            if bytes[i] == b',' && (list[i..].starts_with(", rules[") || list[i..].starts_with(", omitStages[")) {
                out.push(list[start..i].to_owned());
                start = i + 2;
            }
        }
        out.push(list[start..].to_owned());
        return out;
    }
    vec![reason.to_owned()]
}

/// Un-quotes a klog `err="..."` value.
fn unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(n) => out.push(n),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Starts the server with a refused policy: the reason it gives (`None`: it started).
fn refusal(name: &str, path: &Path) -> Option<Option<String>> {
    let p = path.to_string_lossy().into_owned();
    // a start that fails for another reason (a port taken between pick and bind) is retried
    for _ in 0..3 {
        let (out, log) =
            KubeApiserver::start_failing(&format!("{TEST}_{name}"), &[], &[("KGUARD_KUBE_AUDIT_POLICY", &p)])?;
        if out.status.success() {
            return Some(None);
        }
        if let Some(line) = log.lines().find(|l| l.contains("loading audit policy file: ")) {
            let err = line.split("err=\"").nth(1).unwrap_or(line);
            let err = err.strip_suffix('"').unwrap_or(err);
            let err = unquote(err);
            let reason = err.strip_prefix("loading audit policy file: ").unwrap_or(&err);
            let reason = reason.rsplit_once(": from file ").map_or(reason, |(r, _)| r);
            return Some(Some(reason.to_owned()));
        }
    }
    panic!("{name}: the server did not start, but gave no audit policy error in three tries");
}

fn compare_refusal(path: &Path, server: Option<String>) -> Result<(), String> {
    let Some(reason) = server else { return Err("the server started with it".to_owned()) };
    let check = read_check(path);
    if check.policy.is_some() {
        return Err(format!("kguard accepts it; the server refuses it: {reason}"));
    }
    let mut mine: Vec<String> = check.errors.iter().map(|e| kguard_reason(&e.message)).collect();
    let mut theirs = server_reasons(&reason);
    mine.sort();
    theirs.sort();
    if mine == theirs { Ok(()) } else { Err(format!("reasons differ\n  server: {theirs:?}\n  kguard: {mine:?}")) }
}

// ---- the test ------------------------------------------------------------------------------------

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn audit_levels_stages_and_refusals_agree_with_kube_apiserver() {
    if kguard_testkit::kube::harness().is_none() {
        kguard_testkit::skip(TEST, "no ../shared/bench/kube-apiserver.sh (set KGUARD_SHARED)");
        return;
    }
    if !kguard_testkit::tool("curl", TEST) {
        return;
    }
    let started = Instant::now();
    let kube_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit/kube");
    let mut tally = Tally { agree: 0, total: 0, mismatches: Vec::new() };
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();

    // refusals, three servers at a time
    let refused = yaml_files(&kube_dir.join("refused"));
    let mut answers: Vec<(PathBuf, Option<String>)> = Vec::new();
    for chunk in refused.chunks(3) {
        let got: Vec<Option<(PathBuf, Option<String>)>> = std::thread::scope(|sc| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|p| {
                    sc.spawn(move || {
                        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                        refusal(&name, p).map(|r| (p.clone(), r))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for g in got {
            let Some(g) = g else { return };
            answers.push(g);
        }
    }
    for (path, server) in answers {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        tally.add(&format!("refused/{name}"), compare_refusal(&path, server));
        *counts.entry("policies refused").or_default() += 1;
    }

    // sessions
    let mut sessions = 0;
    for p in yaml_files(&kube_dir.join("sessions")) {
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if run_session(&name, Some(&p), &mut tally, &mut counts).is_none() {
            return;
        }
        sessions += 1;
    }
    if run_session("harness-default", None, &mut tally, &mut counts).is_none() {
        return;
    }
    sessions += 1;

    let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    eprintln!(
        "audit live oracle: {} agree of {} ({sessions} sessions; {}; {:.1} s)",
        tally.agree,
        tally.total,
        detail.join(", "),
        started.elapsed().as_secs_f64()
    );
    for m in tally.mismatches.iter().take(40) {
        eprintln!("MISMATCH {m}");
    }
    assert!(tally.mismatches.is_empty(), "{} of {} disagree (first ones above)", tally.mismatches.len(), tally.total);
    assert!(counts.get("requests").copied().unwrap_or(0) >= 500 * sessions, "{counts:?}");
}
