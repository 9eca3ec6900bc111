//! `kguard serve` end to end: the real server on loopback with certificates made here, real HTTPS
//! requests (mutual TLS) to every endpoint, good and bad.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::path::Path;

use serde_json::{Value, json};

use common::{CONFIG_HEAD, Client, http_get, pod, review, write_pki};
use kguard_authn::serviceaccount::{TokenRequest, sign};
use kguard_testkit::TempDir;

const STATE: &str = r"
apiVersion: v1
kind: Namespace
metadata:
  name: strict
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: v1
kind: Namespace
metadata: {name: build}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: build, uid: 11111111-2222-3333-4444-555555555555}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: dev}
rules:
- {apiGroups: [''], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-reads, namespace: dev}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {name: a-restricted}
spec:
  privileged: false
  defaultAllowPrivilegeEscalation: false
  allowPrivilegeEscalation: false
  requiredDropCapabilities: [ALL]
  runAsUser: {rule: MustRunAsNonRoot}
  seLinux: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
  volumes: [configMap, secret, emptyDir, projected]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: psp-restricted}
rules:
- {apiGroups: [policy], resources: [podsecuritypolicies], resourceNames: [a-restricted], verbs: [use]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: psp-restricted-all}
subjects: [{kind: Group, name: system:authenticated, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: ClusterRole, name: psp-restricted, apiGroup: rbac.authorization.k8s.io}
";

fn write_config(dir: &Path, extra: &str) {
    std::fs::create_dir_all(dir.join("state")).unwrap();
    std::fs::write(dir.join("state/cluster.yaml"), STATE).unwrap();
    std::fs::write(dir.join("tokens.csv"), "tok-bob-123,bob,uid-bob,\"devs,ops\"\n").unwrap();
    let config = format!(
        "{CONFIG_HEAD}limits: {{maxBodyBytes: 65536}}
state: {{dir: state}}
admission:
  podSecurityPolicy: {{enabled: true}}
  images: {{enabled: true, forbidLatest: true}}
  mutate: {{seccompRuntimeDefault: true}}
authentication:
  tokenAuthFile: tokens.csv
  serviceAccounts: {{keyFiles: [sa.pub], issuers: [https://kubernetes.default.svc], audiences: [api]}}
authorization: {{modes: [RBAC]}}
audit:
  log: {{path: audit/audit.log}}
{extra}"
    );
    std::fs::write(dir.join("kguard.yaml"), config).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_over_mutual_tls() {
    let dir = TempDir::new("serve");
    let pki = write_pki(dir.path());
    write_config(dir.path(), "");
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    let addr = server.addr;

    // Pod Security: the upstream denial text.
    let (code, v) = client
        .post(addr, "/validate", review("pods", "Pod", "CREATE", pod("web", "strict", "nginx:1.27"), "alice"))
        .await
        .unwrap();
    assert_eq!(code, 200);
    let r = &v["response"];
    assert_eq!((r["uid"].as_str(), r["allowed"].as_bool()), (Some("uid-7"), Some(false)));
    let msg = r["status"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"
        ),
        "{msg}"
    );
    assert_eq!(r["status"]["code"], 403);

    // A namespace the state does not hold is what upstream answers when its lookup fails.
    let (_, v) = client
        .post(addr, "/validate", review("pods", "Pod", "CREATE", pod("web", "ghost", "nginx:1.27"), "alice"))
        .await
        .unwrap();
    let r = &v["response"];
    assert_eq!((r["allowed"].as_bool(), r["status"]["code"].as_u64()), (Some(false), Some(500)), "{v}");
    assert_eq!(r["status"]["message"], "failed to lookup namespace ghost");

    // PodSecurityPolicy selection and mutation, plus the seccomp default, as one JSON Patch.
    let (_, v) = client
        .post(addr, "/mutate", review("pods", "Pod", "CREATE", pod("api", "dev", "nginx:1.27"), "alice"))
        .await
        .unwrap();
    let r = &v["response"];
    assert_eq!(r["allowed"], true, "{v}");
    assert_eq!(r["patchType"], "JSONPatch");
    assert_eq!(r["auditAnnotations"]["psp-admit-policy"], "a-restricted", "{v}");
    use base64::Engine as _;
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD.decode(r["patch"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let text = patch.to_string();
    assert!(
        text.contains("kubernetes.io/psp")
            && text.contains("RuntimeDefault")
            && text.contains("allowPrivilegeEscalation"),
        "{text}"
    );
    // A privileged pod is refused by the only PSP, with the upstream text.
    let mut privileged = pod("root", "dev", "nginx:1.27");
    privileged["spec"]["containers"][0]["securityContext"] = json!({"privileged": true});
    let (_, v) = client.post(addr, "/mutate", review("pods", "Pod", "CREATE", privileged, "alice")).await.unwrap();
    let msg = v["response"]["status"]["message"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("PodSecurityPolicy: unable to admit pod: [")
            && msg.contains("Privileged containers are not allowed"),
        "{msg}"
    );

    // Image policy in /validate and in /imagereview.
    // (a pod the PSP admits unchanged, as after the mutating phase)
    let mut latest = pod("l", "dev", "nginx:latest");
    latest["spec"]["containers"][0]["securityContext"] =
        json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}});
    let (_, v) = client.post(addr, "/validate", review("pods", "Pod", "CREATE", latest, "alice")).await.unwrap();
    assert!(v["response"]["status"]["message"].as_str().unwrap().contains("mutable :latest tag"), "{v}");
    let ir = json!({"apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview",
        "spec": {"containers": [{"image": "nginx:1.27"}, {"image": "busybox"}], "namespace": "dev"}});
    let (_, v) = client.post(addr, "/imagereview", serde_json::to_vec(&ir).unwrap()).await.unwrap();
    assert_eq!(v["status"]["allowed"], false);
    assert!(v["status"]["reason"].as_str().unwrap().contains("\"busybox\" has no tag"), "{v}");

    // SubjectAccessReview allow and deny.
    let sar = |verb: &str, ns: &str| {
        serde_json::to_vec(&json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "alice", "groups": ["system:authenticated"],
                     "resourceAttributes": {"verb": verb, "resource": "pods", "namespace": ns}}}))
        .unwrap()
    };
    let (_, v) = client.post(addr, "/authorize", sar("get", "dev")).await.unwrap();
    assert_eq!(v["status"]["allowed"], true, "{v}");
    let (_, v) = client.post(addr, "/authorize", sar("delete", "dev")).await.unwrap();
    assert_eq!(v["status"]["allowed"], false, "{v}");

    // TokenReview: the token file, a minted service-account token, a tampered one.
    let tr = |token: &str| {
        serde_json::to_vec(
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}),
        )
        .unwrap()
    };
    let (_, v) = client.post(addr, "/authenticate", tr("tok-bob-123")).await.unwrap();
    assert_eq!(v["status"]["user"]["username"], "bob");
    assert_eq!(v["status"]["user"]["groups"], json!(["devs", "ops", "system:authenticated"]));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = TokenRequest {
        namespace: "build".into(),
        name: "deployer".into(),
        uid: "11111111-2222-3333-4444-555555555555".into(),
        audiences: vec!["api".into()],
        issuer: "https://kubernetes.default.svc".into(),
        now,
        duration_seconds: 600,
        pod: None,
        jti: "jti-1".into(),
    }
    .claims();
    let token = sign(&claims, pki.sa_key.as_bytes()).unwrap();
    let (_, v) = client.post(addr, "/authenticate", tr(&token)).await.unwrap();
    assert_eq!(v["status"]["authenticated"], true, "{v}");
    assert_eq!(v["status"]["user"]["username"], "system:serviceaccount:build:deployer");
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    let (_, v) = client.post(addr, "/authenticate", tr(&tampered)).await.unwrap();
    assert_eq!(v["status"]["authenticated"], false);
    assert!(!v["status"]["error"].as_str().unwrap().is_empty());

    // Audit events are on disk when the 200 arrives.
    let events = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [
        {"level": "Metadata", "auditID": "a-1", "stage": "ResponseComplete", "verb": "create", "requestURI": "/api/v1/namespaces/dev/pods",
         "user": {"username": "alice"}, "objectRef": {"resource": "pods", "namespace": "dev", "name": "x"}}]});
    let (code, _) = client.post(addr, "/audit", serde_json::to_vec(&events).unwrap()).await.unwrap();
    assert_eq!(code, 200);
    let log = std::fs::read_to_string(dir.path().join("audit/audit.log")).unwrap();
    assert!(log.contains("\"auditID\":\"a-1\""), "{log}");

    // Bad requests: Status bodies, and the server keeps serving.
    let (code, v) = client.post(addr, "/validate", b"{not json".to_vec()).await.unwrap();
    assert_eq!((code, v["kind"].as_str(), v["reason"].as_str()), (400, Some("Status"), Some("BadRequest")));
    let (code, v) = client.post(addr, "/validate", br#"{"apiVersion":"v1","kind":"Pod"}"#.to_vec()).await.unwrap();
    assert_eq!(code, 400);
    assert!(v["message"].as_str().unwrap().contains("expected kind AdmissionReview"));
    let (code, v) = client.post(addr, "/validate", vec![b' '; 70_000]).await.unwrap();
    assert_eq!((code, v["reason"].as_str()), (413, Some("RequestEntityTooLarge")));
    let (code, _) = client.post(addr, "/nope", b"{}".to_vec()).await.unwrap();
    assert_eq!(code, 404);
    let (code, _) = client.post(addr, "/authorize", sar("get", "dev")).await.unwrap();
    assert_eq!(code, 200, "still serving after bad requests");

    // Without a client certificate the TLS handshake is refused.
    let anonymous = Client::new(&pki, false);
    assert!(anonymous.post(addr, "/authorize", sar("get", "dev")).await.is_err());

    // Metrics count what happened.
    let metrics = http_get(server.health_addr, "/metrics").await;
    assert!(metrics.contains("kguard_decisions_total{endpoint=\"validate\",decision=\"denied\"} 3"), "{metrics}");
    assert!(metrics.contains("kguard_requests_total{endpoint=\"validate\",code=\"413\"} 1"), "{metrics}");
    assert!(http_get(server.health_addr, "/readyz").await.contains("ok"));

    // Reload: a new RoleBinding lets alice delete pods, without a restart.
    std::fs::write(
        dir.path().join("state/more.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: alice-admin}\nsubjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]\nroleRef: {kind: ClusterRole, name: cluster-admin, apiGroup: rbac.authorization.k8s.io}\n",
    )
    .unwrap();
    let mut allowed = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (_, v) = client.post(addr, "/authorize", sar("delete", "dev")).await.unwrap();
        if v["status"]["allowed"] == true {
            allowed = true;
            break;
        }
    }
    assert!(allowed, "the new binding was picked up by the reload");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configuration_is_refused_with_its_line() {
    let dir = TempDir::new("serve-bad");
    write_pki(dir.path());
    write_config(dir.path(), "bogus: 1\n");
    let e = kguard_server::start(&dir.path().join("kguard.yaml")).await.err().unwrap();
    assert!(e.to_string().contains("kguard.yaml:") && e.to_string().contains("unknown field `bogus`"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_alerts_go_to_the_file_and_the_http_output() {
    let dir = TempDir::new("serve-alerts");
    let pki = write_pki(dir.path());
    std::fs::write(
        dir.path().join("rules.yaml"),
        "- rule: Pod exec\n  desc: someone execs into a pod\n  condition: ka.verb=create and ka.target.resource=pods and ka.target.subresource=exec\n  output: exec into %ka.target.namespace/%ka.target.name by %ka.user.name\n  priority: NOTICE\n  source: k8s_audit\n",
    )
    .unwrap();
    let (base, receiver) = kguard_testkit::http_receiver(vec![200, 200]);
    let url = format!("{base}/falco");
    write_config(
        dir.path(),
        &format!("  rulesFiles: [rules.yaml]\n  alerts: {{file: alerts.jsonl, http: {{url: \"{url}\"}}}}\n"),
    );
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    let event = |id: &str, sub: &str| {
        json!({"level": "Metadata", "auditID": id, "stage": "ResponseComplete", "verb": "create",
               "requestURI": "/api/v1/namespaces/dev/pods/web/exec", "user": {"username": "mallory"},
               "objectRef": {"resource": "pods", "namespace": "dev", "name": "web", "subresource": sub}})
    };
    let events = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
        "items": [event("e-1", "exec"), event("e-2", "log"), event("e-3", "exec")]});
    let (code, _) = client.post(server.addr, "/audit", serde_json::to_vec(&events).unwrap()).await.unwrap();
    assert_eq!(code, 200);

    let received = tokio::task::spawn_blocking(move || receiver.join().unwrap()).await.unwrap();
    assert_eq!(received.len(), 2, "one POST per alert");
    for r in &received {
        assert!(r.line.starts_with("POST /falco "), "{}", r.line);
        assert!(r.headers.iter().any(|(k, v)| k == "content-type" && v == "application/json"), "{:?}", r.headers);
        let b: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(b["rule"], "Pod exec");
        assert_eq!(b["priority"], "Notice");
        assert_eq!(b["source"], "k8s_audit");
        assert_eq!(b["output_fields"]["ka.user.name"], "mallory");
        assert!(b["output"].as_str().unwrap().contains("exec into dev/web by mallory"), "{b}");
    }
    let file = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(file.lines().count(), 2, "{file}");
    let log = std::fs::read_to_string(dir.path().join("audit/audit.log")).unwrap();
    assert_eq!(log.lines().count(), 3, "every event is logged, alert or not");

    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = http_get(server.health_addr, "/metrics").await;
        if metrics.contains("kguard_alert_http_total{result=\"delivered\"} 2") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(metrics.contains("kguard_alert_http_total{result=\"delivered\"} 2"), "{metrics}");
    assert!(metrics.contains("kguard_alerts_total{priority=\"Notice\"} 2"), "{metrics}");
    server.shutdown().await;
}

#[test]
fn an_alert_url_that_is_not_http_is_refused_with_its_line() {
    let dir = TempDir::new("serve-alerts-bad");
    write_pki(dir.path());
    write_config(dir.path(), "  alerts: {http: {url: \"file:///etc/passwd\"}}\n");
    let err = kguard_server::state::read_config(&dir.path().join("kguard.yaml")).unwrap_err();
    assert!(
        err.to_string().contains("kguard.yaml:21:") && err.to_string().contains("only http:// and https://"),
        "{err}"
    );
}
