//! Live differential test of the PodSecurity admission plugin: kube-apiserver v1.36.2
//! (`../shared/bench/kube-apiserver.sh`, with a `PodSecurityConfiguration` of defaults and
//! exemptions) against [`kguard_admission::podsecurity::validate`] under the same configuration.
//!
//! Every upstream PSA fixture (`../shared/oracles/psa`) and every Pod and workload of
//! `../shared/corpus` is created with server-side dry-run in namespaces labelled with
//! enforce/audit/warn at several levels and versions, as the `kguard-admin` user (and some as an
//! exempt user). For each request the server's answer — allowed or denied, the exact denial,
//! the PodSecurity warnings (`Warning:` headers) and the `pod-security.kubernetes.io/*` audit
//! annotations (read from the audit log by audit id) — must equal kguard's. Namespace creation
//! (label validation, the warning for exempt namespaces) is compared the same way.
//!
//! Requests go through one `curl --parallel -K` process per batch (HTTP/2), not one kubectl
//! process per object: kubectl deduplicates warnings across the objects of one run.
//!
//! Objects the server rejects before PodSecurity runs (unknown API versions, validation errors,
//! missing service accounts or priority classes) are counted and left out.
//!
//! Skips (visibly) without the harness; under `KGUARD_REQUIRE_SHARED` it must run where the
//! harness exists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use kguard_admission::podsecurity::{self, Config};
use kguard_admission::{Gvk, Inventory, Operation, PodCache, Request, Response};
use kguard_model::load::parse_text;
use kguard_request::UserInfo;
use kguard_testkit::TempDir;
use kguard_testkit::kube::KubeApiserver;
use serde_json::{Value, json};

const ADMIN: &str = "kguard-admin";
const EXEMPT_USER: &str = "psa-exempt-user";
const EXEMPT_RC: &str = "psa-exempt-rc";
const OTHER_RC: &str = "psa-other-rc";
const EXEMPT_NS: &str = "psa-exempt";
const ANNOTATION_PREFIX: &str = "pod-security.kubernetes.io/";

/// The one documented difference: the Pod Security Standards v1.37 allow these two sysctls,
/// and kube-apiserver v1.36 evaluates `latest` and every version above v1.36 as v1.36, where
/// they are forbidden. A disagreement whose server side names them is counted apart (and must
/// be the only kind left).
const V1_37_SYSCTLS: &str = "forbidden sysctls (net.ipv4.tcp_slow_start_after_idle, net.ipv4.tcp_notsent_lowat)";

const ADMISSION_CONFIG: &str = r"apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: privileged
        enforce-version: latest
        audit: baseline
        audit-version: v1.22
        warn: restricted
        warn-version: latest
      exemptions:
        usernames: [psa-exempt-user]
        runtimeClasses: [psa-exempt-rc]
        namespaces: [psa-exempt]
";

// ---- a batch HTTP client: one curl process, HTTP/2, parallel ----------------------------------

/// One API call.
struct Call {
    method: &'static str,
    path: String,
    body: Value,
    impersonate: Option<&'static str>,
}

/// The server's answer to one call.
#[derive(Debug, Default)]
struct Answer {
    code: u16,
    body: Value,
    warnings: Vec<String>,
    audit_id: String,
}

struct Api<'a> {
    kube: &'a KubeApiserver,
    dir: PathBuf,
    batches: usize,
}

/// The responses' folder: on tmpfs where there is one (tens of thousands of small files are
/// slow to delete on a busy disk), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let shm = Path::new("/dev/shm");
        let root = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let dir = root.join(format!("kguard-psa-live-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `299 - "text"` → `text` (the apiserver escapes `"` and `\` with a backslash).
fn unquote_warning(value: &str) -> String {
    let text = value.strip_prefix("299 - ").unwrap_or(value);
    let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Api<'_> {
    fn send(&mut self, calls: &[Call]) -> Vec<Answer> {
        self.batches += 1;
        let dir = self.dir.join(format!("b{}", self.batches));
        std::fs::create_dir_all(&dir).unwrap();
        let server = self.kube.env("KUBE_SERVER");
        let ca = self.kube.env("KUBE_CA_CERT");
        let token = self.kube.env("KUBE_ADMIN_TOKEN");
        let mut config = String::new();
        for (i, call) in calls.iter().enumerate() {
            if i > 0 {
                config.push_str("next\n");
            }
            // Inline body: curl unescapes `\\` and `\"` in a quoted config value.
            let body = serde_json::to_string(&call.body).unwrap().replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(config, "url = \"{server}{}\"", call.path);
            let _ = writeln!(config, "request = \"{}\"", call.method);
            let _ = writeln!(config, "cacert = \"{ca}\"");
            let _ = writeln!(config, "header = \"Authorization: Bearer {token}\"");
            let _ = writeln!(config, "header = \"Content-Type: application/json\"");
            if let Some(user) = call.impersonate {
                let _ = writeln!(config, "header = \"Impersonate-User: {user}\"");
            }
            let _ = writeln!(config, "data-binary = \"{body}\"");
            let _ = writeln!(config, "include");
            let _ = writeln!(config, "output = \"{}\"", dir.join(format!("{i}")).display());
        }
        let cfg = dir.join("curl.cfg");
        std::fs::write(&cfg, config).unwrap();
        let started = std::time::Instant::now();
        let out = Command::new("curl")
            .args(["--no-progress-meter", "--parallel", "--parallel-max", "16", "-K"])
            .arg(&cfg)
            .output()
            .expect("run curl");
        assert!(out.status.success(), "curl: {}", String::from_utf8_lossy(&out.stderr));
        eprintln!("{} calls in {:.1} s", calls.len(), started.elapsed().as_secs_f64());
        (0..calls.len())
            .map(|i| {
                let response = std::fs::read(dir.join(format!("{i}"))).unwrap();
                let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(response.len());
                let headers = String::from_utf8_lossy(&response[..split]);
                let body = response.get(split + 4..).unwrap_or_default();
                let mut answer =
                    Answer { body: serde_json::from_slice(body).unwrap_or(Value::Null), ..Answer::default() };
                for line in headers.lines() {
                    let line = line.trim_end_matches('\r');
                    if let Some(status) = line.strip_prefix("HTTP/") {
                        answer.code = status.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                    } else if let Some((k, v)) = line.split_once(':') {
                        match k.to_ascii_lowercase().as_str() {
                            "warning" => answer.warnings.push(unquote_warning(v.trim())),
                            "audit-id" => v.trim().clone_into(&mut answer.audit_id),
                            _ => {}
                        }
                    }
                }
                answer
            })
            .collect()
    }
}

/// The `pod-security.kubernetes.io/*` annotations of every audit event, by audit id.
fn audit_annotations(log: &Path) -> HashMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out = HashMap::new();
    for line in text.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line) else { continue };
        if event["stage"] != "ResponseComplete" {
            continue;
        }
        let annotations: BTreeMap<String, String> = event["annotations"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with(ANNOTATION_PREFIX))
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(event["auditID"].as_str().unwrap_or_default().to_owned(), annotations);
    }
    out
}

// ---- namespaces --------------------------------------------------------------------------------

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (format!("{ANNOTATION_PREFIX}{k}"), (*v).to_owned())).collect()
}

/// The namespaces of the test and their PodSecurity labels.
fn namespaces() -> Vec<(String, BTreeMap<String, String>)> {
    let mut out = Vec::new();
    for level in ["baseline", "restricted"] {
        for minor in 0..=37u32 {
            let version = format!("v1.{minor}");
            let mut pairs = vec![("enforce", level), ("enforce-version", version.as_str())];
            match minor % 3 {
                0 => {}
                1 => pairs.extend([("warn", "restricted"), ("warn-version", "latest"), ("audit", "restricted")]),
                _ => pairs.extend([("audit", "baseline"), ("audit-version", version.as_str()), ("warn", "privileged")]),
            }
            out.push((format!("e-{level}-{minor}"), labels(&pairs)));
        }
    }
    out.push((
        "m-warn".into(),
        labels(&[("warn", "baseline"), ("warn-version", "v1.25"), ("audit", "restricted"), ("audit-version", "v1.30")]),
    ));
    out.push(("m-latest".into(), labels(&[("enforce", "restricted")])));
    out.push((
        "m-future".into(),
        labels(&[
            ("enforce", "baseline"),
            ("enforce-version", "v1.99"),
            ("warn", "restricted"),
            ("warn-version", "v1.99"),
        ]),
    ));
    out.push(("m-default".into(), BTreeMap::new()));
    out.push((
        "c-restricted".into(),
        labels(&[("enforce", "restricted"), ("audit", "restricted"), ("warn", "restricted")]),
    ));
    out.push((
        "c-baseline".into(),
        labels(&[
            ("enforce", "baseline"),
            ("enforce-version", "v1.23"),
            ("warn", "restricted"),
            ("warn-version", "v1.30"),
            ("audit", "restricted"),
        ]),
    ));
    out.push(("c-privileged".into(), labels(&[("enforce", "privileged"), ("warn", "baseline")])));
    out.push((EXEMPT_NS.into(), labels(&[("enforce", "restricted"), ("warn", "restricted"), ("audit", "baseline")])));
    out
}

/// Namespaces with invalid PodSecurity labels, created with dry-run: the server refuses each.
fn invalid_namespaces() -> Vec<(String, BTreeMap<String, String>)> {
    vec![
        ("bad-level".into(), labels(&[("enforce", "bogus")])),
        ("bad-version".into(), labels(&[("enforce", "baseline"), ("enforce-version", "v2.0")])),
        ("bad-case".into(), labels(&[("warn", "Restricted"), ("audit-version", "v1.01")])),
        (
            "bad-all".into(),
            labels(&[
                ("enforce", "none"),
                ("enforce-version", "1.20"),
                ("audit", "strict"),
                ("audit-version", "latest1"),
                ("warn", "x"),
                ("warn-version", "v1.-1"),
            ]),
        ),
    ]
}

fn namespace_object(name: &str, labels: &BTreeMap<String, String>) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

// ---- cases -------------------------------------------------------------------------------------

/// One object to create (dry-run) in one namespace.
struct Case {
    what: String,
    namespace: String,
    object: Value,
    user: &'static str,
}

/// The REST resource of a kind kube-apiserver v1.36 serves (`None`: not a pod-carrying kind, or
/// an API version it no longer serves).
fn resource(api_version: &str, kind: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match (api_version, kind) {
        ("v1", "Pod") => ("", "v1", "pods"),
        ("v1", "ReplicationController") => ("", "v1", "replicationcontrollers"),
        ("v1", "PodTemplate") => ("", "v1", "podtemplates"),
        ("apps/v1", "Deployment") => ("apps", "v1", "deployments"),
        ("apps/v1", "ReplicaSet") => ("apps", "v1", "replicasets"),
        ("apps/v1", "StatefulSet") => ("apps", "v1", "statefulsets"),
        ("apps/v1", "DaemonSet") => ("apps", "v1", "daemonsets"),
        ("batch/v1", "Job") => ("batch", "v1", "jobs"),
        ("batch/v1", "CronJob") => ("batch", "v1", "cronjobs"),
        _ => return None,
    })
}

fn api_path(group: &str, version: &str, plural: &str, namespace: &str) -> String {
    let base = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
    format!("{base}/namespaces/{namespace}/{plural}?dryRun=All")
}

fn load_yaml(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let parsed = parse_text(&Arc::from(path.display().to_string()), &text);
    parsed.objects.iter().map(|o| o.root.to_json()).collect()
}

fn sorted_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            sorted_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
            out.push(p);
        }
    }
}

fn with_namespace(object: &Value, namespace: &str) -> Value {
    let mut o = object.clone();
    if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("namespace".into(), Value::String(namespace.to_owned()));
        meta.remove("resourceVersion");
        meta.remove("uid");
        meta.remove("creationTimestamp");
    }
    if let Some(obj) = o.as_object_mut() {
        obj.remove("status");
    }
    o
}

fn wrap(pod: &Value, kind: &str) -> Value {
    let name = pod.pointer("/metadata/name").cloned().unwrap_or_default();
    let mut template = json!({"metadata": pod.get("metadata").cloned().unwrap_or_default(), "spec": pod.get("spec").cloned().unwrap_or_default()});
    template["metadata"]["labels"] = json!({"app": "psa"});
    match kind {
        "Deployment" => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "psa"}}, "template": template}}),
        _ => {
            template["spec"]["restartPolicy"] = json!("OnFailure");
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
                "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}})
        }
    }
}

/// Pods written for this test: AppArmor annotations against fields.
fn handmade_pods() -> Vec<(&'static str, Value)> {
    let pod = |name: &str, annotations: Value, spec: Value| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "annotations": annotations}, "spec": spec});
    let c = |name: &str, sc: Value| json!({"name": name, "image": "registry.k8s.io/pause", "securityContext": sc});
    let unconfined = json!({"appArmorProfile": {"type": "Unconfined"}});
    let key = |c: &str| format!("container.apparmor.security.beta.kubernetes.io/{c}");
    vec![
        (
            "pod-field",
            pod(
                "pod-field",
                json!({}),
                json!({"securityContext": unconfined, "containers": [c("a", json!({})), c("b", json!({"appArmorProfile": {"type": "RuntimeDefault"}}))]}),
            ),
        ),
        (
            "container-field",
            pod(
                "container-field",
                json!({}),
                json!({"containers": [c("a", unconfined.clone()), c("b", json!({}))], "initContainers": [c("i", unconfined.clone())]}),
            ),
        ),
        (
            "annotation-and-pod-field",
            pod(
                "annotation-and-pod-field",
                json!({key("a"): "unconfined", key("b"): "runtime/default"}),
                json!({"securityContext": unconfined, "containers": [c("a", json!({})), c("b", json!({}))]}),
            ),
        ),
        (
            "annotation-only",
            pod(
                "annotation-only",
                json!({key("a"): "unconfined", key("b"): "runtime/default"}),
                json!({"containers": [c("a", json!({})), c("b", json!({}))], "initContainers": [c("i", json!({}))]}),
            ),
        ),
        (
            "windows",
            pod(
                "windows",
                json!({key("a"): "unconfined"}),
                json!({"os": {"name": "windows"}, "containers": [c("a", json!({}))]}),
            ),
        ),
        (
            "windows-field",
            pod(
                "windows-field",
                json!({}),
                json!({"os": {"name": "linux"}, "securityContext": unconfined, "containers": [c("a", json!({}))]}),
            ),
        ),
    ]
}

// ---- kguard's answer ---------------------------------------------------------------------------

fn kguard_request(case: &Case) -> Request {
    let api_version = case.object["apiVersion"].as_str().unwrap_or_default();
    let kind = case.object["kind"].as_str().unwrap_or_default();
    let (group, version, plural) = resource(api_version, kind).unwrap_or(("", "v1", "namespaces"));
    Request {
        uid: String::new(),
        kind: Gvk { group: group.into(), version: version.into(), name: kind.into() },
        resource: Gvk { group: group.into(), version: version.into(), name: plural.into() },
        sub_resource: String::new(),
        name: case.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned(),
        namespace: case.namespace.clone(),
        operation: Operation::Create,
        user: UserInfo::new(case.user, ["system:authenticated"]),
        object: Some(case.object.clone()),
        old_object: None,
        dry_run: true,
        pod_cache: PodCache::default(),
    }
}

/// What is compared: allowed or the denial, the PodSecurity warnings, the PodSecurity audit
/// annotations.
fn render_kguard(r: &Response) -> String {
    let annotations: BTreeMap<String, &String> =
        r.audit_annotations.iter().map(|(k, v)| (format!("{ANNOTATION_PREFIX}{k}"), v)).collect();
    render(
        r.allowed,
        r.status.as_ref().map_or(0, |s| s.code),
        r.status.as_ref().map_or("", |s| s.message.as_str()),
        &r.warnings,
        &annotations,
    )
}

fn is_pod_security_warning(w: &str) -> bool {
    w.contains("PodSecurity")
        || w.contains("is exempt from Pod Security")
        || w.starts_with("existing pods in namespace")
}

fn render_server(a: &Answer, annotations: Option<&BTreeMap<String, String>>) -> String {
    let allowed = (200..300).contains(&a.code);
    let message = if allowed { "" } else { a.body["message"].as_str().unwrap_or_default() };
    let warnings: Vec<String> = a.warnings.iter().filter(|w| is_pod_security_warning(w)).cloned().collect();
    let empty = BTreeMap::new();
    let annotations: BTreeMap<String, &String> =
        annotations.unwrap_or(&empty).iter().map(|(k, v)| (k.clone(), v)).collect();
    render(allowed, if allowed { 0 } else { a.code }, message, &warnings, &annotations)
}

fn render(
    allowed: bool,
    code: u16,
    message: &str,
    warnings: &[String],
    annotations: &BTreeMap<String, &String>,
) -> String {
    let mut s = if allowed { "allowed".to_owned() } else { format!("denied {code}: {message}") };
    for w in warnings {
        let _ = write!(s, "\n  warning: {w}");
    }
    for (k, v) in annotations {
        let _ = write!(s, "\n  audit {k}={v}");
    }
    s
}

/// Whether the server rejected the object before PodSecurity could judge it.
fn rejected_before_pod_security(a: &Answer) -> bool {
    if (200..300).contains(&a.code) {
        return false;
    }
    let message = a.body["message"].as_str().unwrap_or_default();
    !message.contains("violates PodSecurity")
}

// ---- the test ----------------------------------------------------------------------------------

#[test]
#[allow(clippy::too_many_lines)]
fn pod_security_agrees_with_kube_apiserver() {
    const TEST: &str = "psa_live_oracle";
    let Some(fixtures) = kguard_testkit::shared_path("oracles/psa/testdata") else { return };
    let Some(corpus) = kguard_testkit::shared_path("corpus") else { return };
    if !kguard_testkit::tool("curl", TEST) {
        return;
    }
    let tmp = TempDir::new("psa-live");
    let admission_config = tmp.path().join("admission.yaml");
    std::fs::write(&admission_config, ADMISSION_CONFIG).unwrap();
    let flag = format!("--admission-control-config-file={}", admission_config.display());
    let started = std::time::Instant::now();
    let Some(kube) = KubeApiserver::start(TEST, &[&flag], &[]) else { return };
    eprintln!("kube-apiserver started in {:.1} s", started.elapsed().as_secs_f64());

    let config_obj = parse_text(&Arc::from("admission.yaml"), ADMISSION_CONFIG).objects.remove(0);
    let config = Config::parse(&config_obj.root).expect("kguard reads the admission configuration");
    let scratch = Scratch::new();
    let mut api = Api { kube: &kube, dir: scratch.0.clone(), batches: 0 };
    let mut agree = 0usize;
    let mut total = 0usize;
    let mut mismatches: Vec<String> = Vec::new();
    let mut skew: Vec<String> = Vec::new();
    let mut compare = |what: &str, server: String, mine: String| {
        if server != mine && server.contains(V1_37_SYSCTLS) {
            skew.push(what.to_owned());
            return;
        }
        total += 1;
        if server == mine {
            agree += 1;
        } else {
            mismatches.push(format!("{what}\n server: {server}\n kguard: {mine}"));
        }
    };

    // Namespaces: created for real (the exempt one warns), and invalid labels refused.
    let spaces = namespaces();
    let mut calls: Vec<Call> = spaces
        .iter()
        .map(|(name, labels)| Call {
            method: "POST",
            path: "/api/v1/namespaces".into(),
            body: namespace_object(name, labels),
            impersonate: None,
        })
        .collect();
    let invalid = invalid_namespaces();
    calls.extend(invalid.iter().map(|(name, labels)| Call {
        method: "POST",
        path: "/api/v1/namespaces?dryRun=All".into(),
        body: namespace_object(name, labels),
        impersonate: None,
    }));
    let answers = api.send(&calls);
    let empty_inventory = Inventory::default();
    for (call, answer) in calls.iter().zip(&answers) {
        let name = call.body.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let case = Case {
            what: format!("Namespace {name}"),
            namespace: String::new(),
            object: call.body.clone(),
            user: ADMIN,
        };
        let mut req = kguard_request(&case);
        req.name = name.to_owned();
        let mine = podsecurity::validate(&config, &empty_inventory, &req);
        // Namespace requests carry no PodSecurity audit annotations: compare the rest.
        let server = render_server(answer, None);
        let mine = render(
            mine.allowed,
            mine.status.as_ref().map_or(0, |s| s.code),
            mine.status.as_ref().map_or("", |s| s.message.as_str()),
            &mine.warnings,
            &BTreeMap::new(),
        );
        compare(&case.what, server, mine);
    }
    for (name, _) in &spaces {
        assert!(
            answers
                .iter()
                .zip(&calls)
                .any(|(a, c)| c.body["metadata"]["name"] == name.as_str() && (200..300).contains(&a.code)),
            "namespace {name} was not created"
        );
    }

    // What the pods need: ServiceAccounts, RuntimeClasses, the exempt user's binding.
    let mut inventory = Inventory { namespaces_known: true, ..Inventory::default() };
    inventory.namespaces = spaces.iter().cloned().collect();
    let mut setup = vec![Call {
        method: "POST",
        path: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings".into(),
        body: json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "psa-exempt-user"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": EXEMPT_USER}]}),
        impersonate: None,
    }];
    for rc in [EXEMPT_RC, OTHER_RC] {
        setup.push(Call {
            method: "POST",
            path: "/apis/node.k8s.io/v1/runtimeclasses".into(),
            body: json!({"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": rc}, "handler": "runc"}),
            impersonate: None,
        });
    }

    // Cases: the fixtures, each in the namespace of its level and version, and all of them in
    // the m-* namespaces; the v1.37 ones as Deployments and CronJobs, in the exempt namespace,
    // with runtime classes, and as the exempt user.
    let mut cases: Vec<Case> = Vec::new();
    let mut fixture_files = Vec::new();
    sorted_files(&fixtures, &mut fixture_files);
    for file in &fixture_files {
        let rel = file.strip_prefix(&fixtures).unwrap().display().to_string();
        let parts: Vec<&str> = rel.split('/').collect();
        let (level, minor) = (parts[0], parts[1].trim_start_matches("v1."));
        let Some(mut pod) = load_yaml(file).into_iter().next() else { panic!("{rel}: no object") };
        // Fixture names carry `_`, which object names may not: the server would refuse them
        // before PodSecurity runs (upstream's e2e test renames them the same way).
        if let Some(name) = pod.pointer("/metadata/name").and_then(Value::as_str) {
            pod["metadata"]["name"] = json!(name.replace('_', "-"));
        }
        let mut add = |namespace: &str, object: Value, user: &'static str, tag: &str| {
            cases.push(Case {
                what: format!("{rel}{tag} in {namespace}"),
                namespace: namespace.to_owned(),
                object: with_namespace(&object, namespace),
                user,
            });
        };
        add(&format!("e-{level}-{minor}"), pod.clone(), ADMIN, "");
        add("m-warn", pod.clone(), ADMIN, "");
        if matches!(minor, "0" | "22" | "37") {
            for ns in ["m-latest", "m-future", "m-default"] {
                add(ns, pod.clone(), ADMIN, "");
            }
        }
        if matches!(minor, "22" | "37") {
            let ns = format!("e-{level}-{minor}");
            add(&ns, wrap(&pod, "Deployment"), ADMIN, " (Deployment)");
            add(&ns, wrap(&pod, "CronJob"), ADMIN, " (CronJob)");
            add(EXEMPT_NS, pod.clone(), ADMIN, "");
            add(EXEMPT_NS, wrap(&pod, "Deployment"), ADMIN, " (Deployment)");
            add(&ns, pod.clone(), EXEMPT_USER, " (exempt user)");
            add(&ns, wrap(&pod, "CronJob"), EXEMPT_USER, " (CronJob, exempt user)");
            for rc in [EXEMPT_RC, OTHER_RC] {
                let mut p = pod.clone();
                p["spec"]["runtimeClassName"] = json!(rc);
                add(&ns, p.clone(), ADMIN, &format!(" (runtimeClassName {rc})"));
                add(&ns, wrap(&p, "Deployment"), ADMIN, &format!(" (Deployment, runtimeClassName {rc})"));
            }
        }
    }
    // AppArmor fields and annotations, which kube-apiserver syncs on a Pod before admission.
    for (name, pod) in handmade_pods() {
        for ns in ["e-baseline-37", "e-restricted-30", "m-default"] {
            for (tag, object) in [("", pod.clone()), (" (Deployment)", wrap(&pod, "Deployment"))] {
                cases.push(Case {
                    what: format!("handmade {name}{tag} in {ns}"),
                    namespace: ns.to_owned(),
                    object: with_namespace(&object, ns),
                    user: ADMIN,
                });
            }
        }
    }
    let fixture_cases = cases.len();

    // The corpus: every Pod and workload of a kind and version the server serves, in three
    // namespaces.
    let mut corpus_files = Vec::new();
    sorted_files(&corpus, &mut corpus_files);
    let mut service_accounts: Vec<String> = vec!["default".into()];
    let mut corpus_objects = 0usize;
    for file in &corpus_files {
        let rel = file.strip_prefix(&corpus).unwrap().display().to_string();
        for (i, object) in load_yaml(file).into_iter().enumerate() {
            let api_version = object["apiVersion"].as_str().unwrap_or_default();
            let kind = object["kind"].as_str().unwrap_or_default();
            if resource(api_version, kind).is_none() {
                continue;
            }
            corpus_objects += 1;
            if kind == "Pod" {
                for key in ["serviceAccountName", "serviceAccount"] {
                    if let Some(sa) = object.pointer(&format!("/spec/{key}")).and_then(Value::as_str)
                        && !service_accounts.iter().any(|s| s == sa)
                    {
                        service_accounts.push(sa.to_owned());
                    }
                }
            }
            for ns in ["c-restricted", "c-baseline", "c-privileged"] {
                cases.push(Case {
                    what: format!("corpus/{rel}#{i} {kind} in {ns}"),
                    namespace: ns.to_owned(),
                    object: with_namespace(&object, ns),
                    user: ADMIN,
                });
            }
        }
    }
    for (ns, _) in &spaces {
        let names: &[String] = if ns.starts_with("c-") { &service_accounts } else { &service_accounts[..1] };
        for sa in names {
            setup.push(Call {
                method: "POST",
                path: format!("/api/v1/namespaces/{ns}/serviceaccounts"),
                body: json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": ns}}),
                impersonate: None,
            });
        }
    }
    let setup_answers = api.send(&setup);
    for (c, a) in setup.iter().zip(&setup_answers) {
        assert!((200..300).contains(&a.code) || a.code == 409, "setup {}: {} {}", c.path, a.code, a.body);
    }

    // Send them all, then compare.
    let calls: Vec<Call> = cases
        .iter()
        .map(|c| {
            let (group, version, plural) = resource(
                c.object["apiVersion"].as_str().unwrap_or_default(),
                c.object["kind"].as_str().unwrap_or_default(),
            )
            .unwrap();
            Call {
                method: "POST",
                path: api_path(group, version, plural, &c.namespace),
                body: c.object.clone(),
                impersonate: (c.user != ADMIN).then_some(c.user),
            }
        })
        .collect();
    let answers = api.send(&calls);
    let audit = audit_annotations(Path::new(kube.env("KUBE_AUDIT_LOG")));
    let mut fixtures_rejected: Vec<String> = Vec::new();
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    let mut corpus_compared = 0usize;
    for (i, (case, answer)) in cases.iter().zip(&answers).enumerate() {
        if rejected_before_pod_security(answer) {
            let message = answer.body["message"].as_str().unwrap_or("(no message)");
            let key = format!("{} {}", answer.code, message.split(':').next().unwrap_or_default());
            *rejected.entry(key).or_default() += 1;
            if i < fixture_cases {
                fixtures_rejected.push(format!("{}: {} {message}", case.what, answer.code));
            }
            continue;
        }
        if i >= fixture_cases {
            corpus_compared += 1;
        }
        let server = render_server(answer, audit.get(&answer.audit_id));
        let mine = render_kguard(&podsecurity::validate(&config, &inventory, &kguard_request(case)));
        compare(&case.what, server, mine);
    }

    for r in fixtures_rejected.iter().take(8) {
        eprintln!("fixture rejected before PodSecurity: {r}");
    }
    if let Some(path) = std::env::var_os("KGUARD_PSA_LIVE_DUMP") {
        std::fs::write(path, mismatches.join("\n")).unwrap();
    }
    for m in mismatches.iter().take(40) {
        eprintln!("DISAGREE {m}");
    }
    for (why, n) in &rejected {
        eprintln!("rejected before PodSecurity ({n}): {why}");
    }
    let timing = started.elapsed().as_secs_f64();
    drop(api);
    drop(kube);
    drop(scratch);
    drop(tmp);
    for s in &skew {
        eprintln!("v1.36 server, v1.37 sysctls (not compared): {s}");
    }
    eprintln!(
        "psa live oracle: {agree} agree of {total}, {} left out as v1.37-only ({} namespace creations, {fixture_cases} requests from {} fixtures and {} handmade pods, {corpus_compared} corpus requests from {corpus_objects} objects x 3 namespaces; {timing:.1} s)",
        skew.len(),
        spaces.len() + invalid.len(),
        fixture_files.len(),
        handmade_pods().len(),
    );
    assert!(mismatches.is_empty(), "{} disagreements with kube-apiserver (first ones above)", mismatches.len());
    assert_eq!(fixture_files.len(), 4537, "the PSA oracle has 4,537 fixtures");
}
