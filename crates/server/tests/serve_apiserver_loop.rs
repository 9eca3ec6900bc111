//! End to end with a real kube-apiserver v1.36 (`../shared/bench/kube-apiserver.sh`): `kguard
//! serve` started first, then the server started with kguard as its token authenticator, an
//! authorizer (`--authorization-mode=Node,Webhook,RBAC`), its audit backend (batches, under
//! `deploy/apiserver/audit-policy.yaml`, beside the harness's log file), its ImagePolicyWebhook and,
//! through a ValidatingWebhookConfiguration, an admission webhook failing closed. Every file the
//! server is given is the one in `deploy/apiserver/`, with only the paths, kguard's address and the
//! webhook host name put in (kube-apiserver presents the client certificate those files name,
//! which kguard checks against `tls.clientCAFile`). Through the server:
//!
//! * a token only kguard knows authenticates (SelfSubjectReview: kguard's user, UID and groups);
//! * that user may list pods in `hooked` only because kguard's RBAC grants it (the server's own
//!   RBAC has no binding for it), and is refused secrets there with the server's forbidden text;
//! * a pod with a `:latest` image is refused by ImagePolicyWebhook with kguard's `/imagereview`
//!   reason; a privileged pod by the validating webhook, `kubectl` printing kguard's message as
//!   kguard answers it; a compliant pod is created;
//! * every audit event the server logged reached kguard's audit log, and nothing else did;
//! * with kguard stopped: the admission webhook fails closed, the token is refused, the user is
//!   forbidden.
//!
//! A second test wires the server with `deploy/apiserver/authorization-config.yaml` instead (see
//! its doc), with the audit webhook in blocking mode and kguard reloading its policy meanwhile.
//!
//! Skips (visibly) without the harness; under `KGUARD_REQUIRE_SHARED` it must run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use common::write_pki;
use kguard_testkit::TempDir;
use kguard_testkit::kube::KubeApiserver;

const TOKEN: &str = "kguard-only-token-7f3a9c";
const RELOADS: &str = "kguard_reloads_total{result=\"success\"}";
const AUTHORIZE: &str = "kguard_request_duration_seconds_count{endpoint=\"authorize\"}";

const STATE: &str = r"
apiVersion: v1
kind: Namespace
metadata: {name: hooked, labels: {kguard-test: '1'}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: hooked}
rules: [{apiGroups: [''], resources: [pods], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: webby-reads-pods, namespace: hooked}
subjects: [{kind: User, name: webby, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
";

/// The files of `deploy/apiserver/`, for kube-apiserver on this machine: their directory is
/// `dir`, kguard is at `base`, and the admission webhooks' host is `host`.
fn deploy_files(dir: &Path, base: &str, host: &str) {
    let deploy = kguard_testkit::repo_root().join("deploy/apiserver");
    for entry in std::fs::read_dir(&deploy).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text
            .replace("/etc/kubernetes/kguard/", &format!("{}/", dir.display()))
            .replace("https://kguard.kguard-system.svc:443", base)
            .replace("name: kguard.kguard-system.svc", &format!("name: {host}"));
        std::fs::write(dir.join(path.file_name().unwrap()), text).unwrap();
    }
}

/// POSTs a SelfSubjectReview with `token`: the HTTP status and the answer.
fn self_review(kube: &KubeApiserver, token: &str, dir: &Path) -> (String, Value) {
    curl(
        kube,
        token,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        Some(r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#),
        dir,
    )
}

fn curl(
    kube: &KubeApiserver,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    dir: &Path,
) -> (String, Value) {
    let out_file = dir.join("answer.json");
    let _ = std::fs::remove_file(&out_file);
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--max-time", "20", "--cacert", kube.env("KUBE_CA_CERT")])
        .args(["-H", &format!("Authorization: Bearer {token}"), "-H", "Content-Type: application/json"])
        .args(["-X", method, "-o", out_file.to_str().unwrap(), "-w", "%{http_code}"]);
    if let Some(b) = body {
        cmd.args(["--data-binary", b]);
    }
    let out = cmd.arg(format!("{}{path}", kube.env("KUBE_SERVER"))).output().expect("run curl");
    let body = std::fs::read(&out_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    (String::from_utf8_lossy(&out.stdout).into_owned(), body)
}

/// `(auditID, stage)` of every event in a JSON-lines audit log.
fn events(path: &Path) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| (e["auditID"].as_str().unwrap_or("").to_owned(), e["stage"].as_str().unwrap_or("").to_owned()))
        .collect()
}

/// kguard serve for these tests, started: the PKI, [`STATE`], a token file with [`TOKEN`], the
/// configuration `kguard.yaml` made of `reload` (its reload interval) and `sections`, and the
/// files of `deploy/apiserver/` for kube-apiserver with kube-apiserver's client certificate.
/// Returns the PKI, the server and its base URL.
async fn start_kguard(dir: &Path, reload: u64, sections: &str) -> (common::Pki, kguard_server::Handle, String) {
    let pki = write_pki(dir);
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("state/policy.yaml"), STATE).unwrap();
    std::fs::write(dir.join("tokens.csv"), format!("{TOKEN},webby,uid-webby,\"web-team,qa\"\n")).unwrap();
    std::fs::write(
        dir.join("kguard.yaml"),
        format!(
            "apiVersion: kguard.io/v1alpha1\nkind: ServerConfig\nlisten: 127.0.0.1:0\nhealthListen: 127.0.0.1:0\n\
             reloadIntervalSeconds: {reload}\nshutdownDelaySeconds: 0\n\
             tls: {{certFile: tls.crt, keyFile: tls.key, clientCAFile: ca.crt}}\nstate: {{dir: state}}\n{sections}"
        ),
    )
    .unwrap();
    let server = kguard_server::start(&dir.join("kguard.yaml")).await.unwrap();
    let base = format!("https://127.0.0.1:{}", server.addr.port());
    // the client certificate kube-apiserver presents, where deploy/apiserver expects it
    std::fs::write(dir.join("kube-apiserver-kguard-client.crt"), &pki.client_cert).unwrap();
    std::fs::write(dir.join("kube-apiserver-kguard-client.key"), &pki.client_key).unwrap();
    deploy_files(dir, &base, &format!("127.0.0.1:{}", server.addr.port()));
    (pki, server, base)
}

/// The audit events the server logged (read `before` and `after` kguard's log was read as
/// `delivered`) all reached kguard, and nothing else did; more than `at_least` of them.
type Events = BTreeSet<(String, String)>;
fn assert_delivered(before: &Events, delivered: &Events, after: &Events, at_least: usize) {
    let lost: Vec<_> = before.difference(delivered).collect();
    let extra: Vec<_> = delivered.difference(after).collect();
    assert!(before.len() > at_least, "too few audit events to say anything: {}", before.len());
    assert!(
        lost.is_empty(),
        "{} events the server logged are not in kguard's log, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(
        extra.is_empty(),
        "{} events in kguard's log the server did not log, e.g. {:?}",
        extra.len(),
        extra.first()
    );
}

/// A webhook configuration of `kind` for pod creations (and updates, for validation) in the
/// namespaces labelled `kguard-test=1`, failing closed.
fn pods_webhook(kind: &str, name: &str, url: &str, ca: &str) -> Value {
    let operations = if kind.starts_with("Validating") { json!(["CREATE", "UPDATE"]) } else { json!(["CREATE"]) };
    json!({ "apiVersion": "admissionregistration.k8s.io/v1", "kind": kind, "metadata": { "name": "kguard" },
        "webhooks": [{ "name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 5, "clientConfig": { "url": url, "caBundle": ca },
            "namespaceSelector": { "matchLabels": { "kguard-test": "1" } },
            "rules": [{ "operations": operations, "apiGroups": [""], "apiVersions": ["v1"],
                "resources": ["pods"], "scope": "Namespaced" }] }] })
}

/// webby lists pods in `hooked` only because kguard's RBAC grants it (the server's own RBAC has no
/// binding for it), and is refused secrets there with the server's forbidden text.
fn kguard_grants_and_the_server_refuses(kube: &KubeApiserver, dir: &Path) {
    let (code, list) = curl(kube, TOKEN, "GET", "/api/v1/namespaces/hooked/pods", None, dir);
    assert_eq!(code, "200", "kguard's RBAC lets webby list pods: {list}");
    let (code, denied) = curl(kube, TOKEN, "GET", "/api/v1/namespaces/hooked/secrets", None, dir);
    assert_eq!(code, "403", "{denied}");
    assert_eq!(
        denied["message"],
        "secrets is forbidden: User \"webby\" cannot list resource \"secrets\" in API group \"\" in the namespace \"hooked\"",
        "{denied}"
    );
}

/// Creates the namespace `hooked` (labelled `kguard-test=1`), its default ServiceAccount and
/// `webhook` on the server.
fn apply_hooked(kube: &KubeApiserver, dir: &Path, webhook: &Value) {
    let objects = dir.join("objects.json");
    std::fs::write(
        &objects,
        json!({ "apiVersion": "v1", "kind": "List", "items": [
            { "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "hooked", "labels": { "kguard-test": "1" } } },
            { "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "default", "namespace": "hooked" } },
            webhook,
        ] })
        .to_string(),
    )
    .unwrap();
    let out = kube.kubectl(&["apply", "-f", objects.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn pod(name: &str, image: &str) -> Value {
    json!({ "apiVersion": "v1", "kind": "Pod", "metadata": { "name": name, "namespace": "hooked" },
        "spec": { "containers": [{ "name": "c", "image": image }] } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn kube_apiserver_uses_kguard_serve_as_its_webhooks() {
    if kguard_testkit::kube::harness().is_none() {
        kguard_testkit::skip("serve_apiserver_loop", "no ../shared/bench/kube-apiserver.sh (set KGUARD_SHARED)");
        return;
    }
    let dir = TempDir::new("serve-loop");
    let (pki, server, base) = start_kguard(
        dir.path(),
        0,
        "admission:\n  images: {enabled: true, forbidLatest: true}\n  hardening: {enabled: true, minSeverity: critical}\n\
         authentication: {tokenAuthFile: tokens.csv}\nauthorization: {modes: [RBAC]}\naudit: {log: {path: audit/audit.log}}\n",
    )
    .await;
    let ca = base64::engine::general_purpose::STANDARD.encode(&pki.ca_pem);
    let f = |name: &str| dir.path().join(name).display().to_string();
    let flags = [
        "--authorization-mode=Node,Webhook,RBAC".to_owned(),
        format!("--authorization-webhook-config-file={}", f("authz-webhook-kubeconfig.yaml")),
        "--authorization-webhook-version=v1".to_owned(),
        // no caching between the cases (deploy/apiserver keeps kube-apiserver's defaults)
        "--authorization-webhook-cache-authorized-ttl=0s".to_owned(),
        "--authorization-webhook-cache-unauthorized-ttl=0s".to_owned(),
        format!("--authentication-token-webhook-config-file={}", f("authn-webhook-kubeconfig.yaml")),
        "--authentication-token-webhook-version=v1".to_owned(),
        "--authentication-token-webhook-cache-ttl=0s".to_owned(),
        format!("--audit-webhook-config-file={}", f("audit-webhook-kubeconfig.yaml")),
        // batches, flushed every second (blocking mode would fail every request, the admin's
        // too, once kguard is stopped)
        "--audit-webhook-mode=batch".to_owned(),
        "--audit-webhook-batch-max-wait=1s".to_owned(),
        format!("--admission-control-config-file={}", f("admission-configuration.yaml")),
    ];
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let policy = f("audit-policy.yaml");
    let env = [
        ("KGUARD_KUBE_ADMISSION", "NodeRestriction,PodSecurity,ImagePolicyWebhook"),
        ("KGUARD_KUBE_AUDIT_POLICY", policy.as_str()),
    ];
    let kube = tokio::task::block_in_place(|| KubeApiserver::start("serve_apiserver_loop", &flag_refs, &env));
    let Some(kube) = kube else {
        server.shutdown().await;
        return;
    };
    let mut checks = 0usize;

    // 1. authentication through kguard
    let (code, review) = self_review(&kube, TOKEN, dir.path());
    assert_eq!(code, "201", "{review}");
    let user = &review["status"]["userInfo"];
    assert_eq!(user["username"], "webby");
    assert_eq!(user["uid"], "uid-webby");
    assert_eq!(user["groups"], json!(["web-team", "qa", "system:authenticated"]), "{review}");
    checks += 1;

    // 2. authorization through kguard (the namespace and the objects live on the server too)
    apply_hooked(
        &kube,
        dir.path(),
        &pods_webhook("ValidatingWebhookConfiguration", "pods.validate.kguard.io", &format!("{base}/validate"), &ca),
    );
    kguard_grants_and_the_server_refuses(&kube, dir.path());
    checks += 2;

    // 3. admission through kguard: its own answers for the pods, then the server's
    let client = common::Client::new(&pki, true);
    let latest = pod("latest", "registry.example/app:latest");
    let ir = json!({ "apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview",
        "spec": { "containers": [{ "image": "registry.example/app:latest" }], "namespace": "hooked" } });
    let (status, answer) = client.post(server.addr, "/imagereview", serde_json::to_vec(&ir).unwrap()).await.unwrap();
    assert_eq!(status, 200);
    let image_reason = answer["status"]["reason"].as_str().expect("kguard denies :latest").to_owned();
    let mut privileged = pod("privileged", "registry.example/app:1.2.3");
    privileged["spec"]["containers"][0]["securityContext"] = json!({ "privileged": true });
    let (status, answer) = client
        .post(server.addr, "/validate", common::review("pods", "Pod", "CREATE", privileged.clone(), "webby"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let kguard_message =
        answer["response"]["status"]["message"].as_str().expect("kguard denies a privileged pod").to_owned();
    let create = |p: &Value| {
        let file = dir.path().join("pod.json");
        std::fs::write(&file, p.to_string()).unwrap();
        let out = kube.kubectl(&["create", "-f", file.to_str().unwrap()]);
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = create(&latest);
    assert!(
        !ok && err.contains(&format!(
            "pods \"latest\" is forbidden: image policy webhook backend denied one or more images: {image_reason}"
        )),
        "kubectl: {err}\nkguard: {image_reason}"
    );
    checks += 1;
    // the webhook configuration takes effect once the server's informer has it
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        let (ok, err) = create(&privileged);
        if !ok || Instant::now() > deadline {
            break err;
        }
        let _ = kube.kubectl(&["delete", "pod", "privileged", "-n", "hooked", "--wait=false"]);
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        err.contains(&format!("admission webhook \"pods.validate.kguard.io\" denied the request: {kguard_message}")),
        "kubectl: {err}\nkguard: {kguard_message}"
    );
    checks += 1;
    let (ok, err) = create(&pod("pinned", "registry.example/app:1.2.3"));
    assert!(ok, "{err}");
    checks += 1;

    // 4. audit: what the server logged reached kguard, and nothing else did
    let server_log = Path::new(kube.env("KUBE_AUDIT_LOG")).to_path_buf();
    let kguard_log = dir.path().join("audit/audit.log");
    std::thread::sleep(Duration::from_secs(1));
    let before = events(&server_log);
    std::thread::sleep(Duration::from_secs(3)); // two batch periods
    let delivered = events(&kguard_log);
    std::thread::sleep(Duration::from_secs(1));
    let after = events(&server_log);
    assert_delivered(&before, &delivered, &after, 10);
    checks += 1;

    // 5. kguard stopped: admission fails closed, the token and the grant are gone
    server.shutdown().await;
    let (ok, err) = create(&pod("after", "registry.example/app:1.2.3"));
    assert!(!ok && err.contains("failed calling webhook \"pods.validate.kguard.io\""), "{err}");
    checks += 1;
    // (connections kube-apiserver already holds may still be drained for a moment)
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        let (code, _) = self_review(&kube, TOKEN, dir.path());
        if code == "401" || Instant::now() > deadline {
            break code;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(code, "401", "the token is refused without its authenticator");
    checks += 1;
    eprintln!(
        "serve in the loop oracle: {checks} agree of {checks} (authentication, authorization, admission, \
         {} audit events delivered, none lost; fail-closed with kguard stopped)",
        before.len()
    );
}

/// The second wiring: kube-apiserver with `deploy/apiserver/authorization-config.yaml` (structured
/// authorization: Node, kguard for users outside `system:`, RBAC), kguard as token authenticator
/// and as audit backend in **blocking** mode; and kguard reloading its policy while the server
/// sends it requests. Through the server:
///
/// * a pod created through the server carries the patch kguard's `/mutate` answers (a
///   MutatingWebhookConfiguration failing closed);
/// * kguard's RBAC grants what the server's does not, the refusal has the server's text, and the
///   control plane's identities (node1) are decided without kguard (its `matchConditions`);
/// * six policy reloads while requests flow: every request answered as before (no error, no
///   refusal the policy does not make), and the grant a reload adds is honoured at once (denials
///   are not cached);
/// * in blocking mode every event the server logged reached kguard's audit log before the
///   server answered, and nothing else did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn kube_apiserver_with_an_authorization_config_blocking_audit_and_reloads() {
    if kguard_testkit::kube::harness().is_none() {
        kguard_testkit::skip("serve_apiserver_loop", "no ../shared/bench/kube-apiserver.sh (set KGUARD_SHARED)");
        return;
    }
    let dir = TempDir::new("serve-loop-authz-config");
    let (pki, server, base) = start_kguard(
        dir.path(),
        1,
        "admission:\n  mutate: {seccompRuntimeDefault: true, dropAllCapabilities: true, disallowPrivilegeEscalation: true}\n\
         authentication: {tokenAuthFile: tokens.csv}\nauthorization: {modes: [RBAC]}\naudit: {log: {path: audit/audit.log}}\n",
    )
    .await;
    let ca = base64::engine::general_purpose::STANDARD.encode(&pki.ca_pem);
    let f = |name: &str| dir.path().join(name).display().to_string();
    let flags = [
        format!("--authorization-config={}", f("authorization-config.yaml")),
        format!("--authentication-token-webhook-config-file={}", f("authn-webhook-kubeconfig.yaml")),
        "--authentication-token-webhook-version=v1".to_owned(),
        "--authentication-token-webhook-cache-ttl=0s".to_owned(),
        format!("--audit-webhook-config-file={}", f("audit-webhook-kubeconfig.yaml")),
        "--audit-webhook-mode=blocking".to_owned(),
        // the client certificate kube-apiserver presents to the admission webhooks
        format!("--admission-control-config-file={}", f("admission-configuration.yaml")),
    ];
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let policy = f("audit-policy.yaml");
    let env = [("KGUARD_KUBE_AUDIT_POLICY", policy.as_str())];
    let kube = tokio::task::block_in_place(|| KubeApiserver::start("serve_apiserver_loop", &flag_refs, &env));
    let Some(kube) = kube else {
        server.shutdown().await;
        return;
    };
    let mut checks = 0usize;
    apply_hooked(
        &kube,
        dir.path(),
        &pods_webhook("MutatingWebhookConfiguration", "pods.mutate.kguard.io", &format!("{base}/mutate"), &ca),
    );

    // 1. the authorization configuration: kguard's grant, the server's refusal text
    kguard_grants_and_the_server_refuses(&kube, dir.path());
    checks += 2;
    // node1 is outside kguard's matchConditions: the Node authorizer decides, kguard never hears
    let node1 = kube.env("KUBE_NODE1_TOKEN").to_owned();
    let asked = metric(&server, AUTHORIZE).await;
    assert!(asked >= 2, "kguard was asked about webby: {asked}");
    let (code, _) = curl(&kube, &node1, "GET", "/api/v1/nodes/node1", None, dir.path());
    assert!(code == "200" || code == "404", "node1 may read its own Node: {code}");
    let (code, denied) = curl(&kube, &node1, "GET", "/api/v1/namespaces/hooked/secrets/s1", None, dir.path());
    assert_eq!(code, "403", "{denied}");
    // the Node authorizer's reason alone (a webhook asked would add its own or be named)
    assert_eq!(
        denied["message"],
        "secrets \"s1\" is forbidden: User \"system:node:node1\" cannot get resource \"secrets\" in API group \"\" \
         in the namespace \"hooked\": no relationship found between node 'node1' and this object",
        "{denied}"
    );
    assert_eq!(metric(&server, AUTHORIZE).await, asked, "kguard was not asked about node1");
    checks += 1;

    // 2. mutation: the stored pod carries kguard's patch, as kguard answers it
    let client = common::Client::new(&pki, true);
    let plain = pod("mutated", "registry.example/app:1.2.3");
    let (status, answer) = client
        .post(server.addr, "/mutate", common::review("pods", "Pod", "CREATE", plain.clone(), "kguard-admin"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(answer["response"]["patch"].as_str().expect("kguard patches a bare pod"))
            .unwrap(),
    )
    .unwrap();
    let ops = patch.as_array().unwrap();
    assert!(ops.len() >= 2, "{patch}");
    let file = dir.path().join("mutated.json");
    std::fs::write(&file, plain.to_string()).unwrap();
    // the webhook configuration takes effect once the server's informer has it
    let deadline = Instant::now() + Duration::from_secs(20);
    let stored = loop {
        let out = kube.kubectl(&["create", "-f", file.to_str().unwrap(), "-o", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stored: Value = serde_json::from_slice(&out.stdout).unwrap();
        if stored["spec"]["securityContext"]["seccompProfile"].is_object() || Instant::now() > deadline {
            break stored;
        }
        let _ = kube.kubectl(&["delete", "pod", "mutated", "-n", "hooked", "--wait=false"]);
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for op in ops {
        let path = op["path"].as_str().unwrap();
        let value = &op["value"];
        // an added object: each of its fields is stored (the server adds defaults beside them)
        match value.as_object() {
            Some(fields) => {
                for (k, v) in fields {
                    let at = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                    assert_eq!(stored.pointer(&at), Some(v), "{at} of the stored pod, after {op}");
                }
            }
            None => assert_eq!(stored.pointer(path), Some(value), "{path} of the stored pod, after {op}"),
        }
    }
    assert_eq!(stored["spec"]["securityContext"]["seccompProfile"]["type"], "RuntimeDefault", "{stored}");
    checks += 1;

    // 3. reloads while requests flow: nothing fails, and the new grant is honoured at once
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let (stop, server_url, ca) =
            (stop.clone(), kube.env("KUBE_SERVER").to_owned(), kube.env("KUBE_CA_CERT").to_owned());
        std::thread::spawn(move || {
            let (mut ok, mut bad) = (0usize, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let out = Command::new("curl")
                    .args(["--silent", "--max-time", "20", "--cacert", &ca, "-o", "/dev/null", "-w", "%{http_code}"])
                    .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
                    .arg(format!("{server_url}/api/v1/namespaces/hooked/pods"))
                    .output()
                    .expect("run curl");
                let code = String::from_utf8_lossy(&out.stdout).into_owned();
                if code == "200" { ok += 1 } else { bad.push(code) }
            }
            (ok, bad)
        })
    };
    let write_state = |extra: &str| {
        let tmp = dir.path().join("policy.yaml.tmp");
        std::fs::write(&tmp, format!("{STATE}{extra}")).unwrap();
        std::fs::rename(&tmp, dir.path().join("state/policy.yaml")).unwrap();
    };
    let reloads_before = metric(&server, RELOADS).await;
    for i in 0..5 {
        // a harmless change each time (a Role nobody is bound to)
        write_state(&format!(
            "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: spare-{i}, namespace: hooked}}\nrules: []\n"
        ));
        tokio::time::sleep(Duration::from_millis(2600)).await;
    }
    write_state(
        "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: secret-reader, namespace: hooked}\n\
         rules: [{apiGroups: [''], resources: [secrets], verbs: [list]}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: webby-secrets, namespace: hooked}\n\
         subjects: [{kind: User, name: webby, apiGroup: rbac.authorization.k8s.io}]\n\
         roleRef: {kind: Role, name: secret-reader, apiGroup: rbac.authorization.k8s.io}\n",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        let (code, _) = curl(&kube, TOKEN, "GET", "/api/v1/namespaces/hooked/secrets", None, dir.path());
        if code == "200" || Instant::now() > deadline {
            break code;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(code, "200", "the grant kguard reloaded is honoured");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (ok, bad) = hammer.join().unwrap();
    let reloads = metric(&server, RELOADS).await - reloads_before;
    assert!(reloads >= 6, "kguard reloaded {reloads} times");
    assert!(
        bad.is_empty(),
        "{} of {} requests during the reloads were not answered 200: {bad:?}",
        bad.len(),
        ok + bad.len()
    );
    assert!(ok > 20, "requests flowed during the reloads: {ok}");
    checks += 2;

    // 4. blocking audit: every event the server logged was in kguard's log before it answered
    let server_log = Path::new(kube.env("KUBE_AUDIT_LOG")).to_path_buf();
    let kguard_log = dir.path().join("audit/audit.log");
    let before = events(&server_log);
    let delivered = events(&kguard_log);
    let after = events(&server_log);
    assert_delivered(&before, &delivered, &after, 50);
    checks += 1;
    server.shutdown().await;
    eprintln!(
        "serve authorization-config oracle: {checks} agree of {checks} (structured authorization with \
         matchConditions; a pod mutated as kguard answers; {reloads} reloads under {} requests, none failed; {} audit events delivered in \
         blocking mode, none lost)",
        ok + bad.len(),
        before.len()
    );
}

/// A counter of kguard's `/metrics` (on its health port): the value of the line starting with `name`.
async fn metric(server: &kguard_server::Handle, name: &str) -> u64 {
    let url = format!("http://{}/metrics", server.health_addr);
    let out =
        tokio::task::block_in_place(|| Command::new("curl").args(["--silent", "--max-time", "10", &url]).output())
            .expect("run curl");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}
