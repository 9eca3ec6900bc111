//! Live: authentication against a real kube-apiserver v1.36 (`../shared/bench/kube-apiserver.sh`,
//! with `--enable-bootstrap-token-auth`): for each credential, `kguard authn whoami -o json` (given
//! the server's own files: its client CA, token file, service-account key and issuer, and the
//! ServiceAccounts, Pods and bootstrap Secrets it holds) must predict what the server makes of it:
//! refused, or the user name, UID, groups and extra it reports in a SelfSubjectReview (a request
//! the server authenticates but does not authorize tells the user name in its 403 message).
//!
//! Credentials: client certificates issued by `kguard pki issue` from the server's CA (groups,
//! none, a node), one from another CA and a serving certificate; token-file tokens (with groups and
//! a UID) and an unknown token; service-account tokens minted by the server (`kubectl create
//! token`: plain, bound to a pod, another audience); tokens minted by `kguard authn token create`
//! with the server's signing key (plain, bound to a pod, a stale ServiceAccount UID); a bootstrap
//! token from `kguard authn token bootstrap`; no credential at all.
//!
//! Skips (visibly) without the harness; under `KGUARD_REQUIRE_SHARED` it must run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::{Command, Output};

use kguard_testkit::TempDir;
use kguard_testkit::kube::KubeApiserver;
use serde_json::{Value, json};

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).args(args).output().expect("runs kguard")
}

fn ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// What the server makes of a credential: `None` when it refuses it (401), else the user. Under
/// load the server now and then answers an anonymous request with a bodiless 403: asked again.
fn server_identity(kube: &KubeApiserver, auth: &[String], dir: &TempDir) -> Option<Value> {
    for _ in 0..10 {
        match server_identity_once(kube, auth, dir) {
            Some(v) if v["forbidden"] == "" => std::thread::sleep(std::time::Duration::from_millis(300)),
            other => return other,
        }
    }
    panic!("the server kept answering 403 without a message");
}

fn server_identity_once(kube: &KubeApiserver, auth: &[String], dir: &TempDir) -> Option<Value> {
    let out_file = dir.path().join("ssr.json");
    let _ = std::fs::remove_file(&out_file);
    let out = Command::new("curl")
        .args(["--silent", "--max-time", "20", "--cacert", kube.env("KUBE_CA_CERT")])
        .args(auth)
        .args(["-H", "Content-Type: application/json", "-X", "POST"])
        .args(["--data-binary", r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#])
        .args(["-o", &out_file.display().to_string(), "-w", "%{http_code}"])
        .arg(format!("{}/apis/authentication.k8s.io/v1/selfsubjectreviews", kube.env("KUBE_SERVER")))
        .output()
        .expect("run curl");
    let code = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let body: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap_or_default()).unwrap_or(Value::Null);
    match code.as_str() {
        "201" | "200" => {
            let u = &body["status"]["userInfo"];
            Some(json!({ "username": u["username"], "uid": u["uid"].as_str().unwrap_or(""),
                "groups": u["groups"], "extra": u["extra"].as_object().cloned().unwrap_or_default() }))
        }
        // authenticated, not authorized: the message names the user
        "403" => {
            let msg = body["message"].as_str().unwrap_or("");
            let user = msg.split("User \"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("?");
            Some(json!({ "username": user, "forbidden": msg }))
        }
        "401" => None,
        other => panic!("SelfSubjectReview answered {other}: {body}"),
    }
}

/// What kguard predicts: `None` for refused, else the user (as the server reports it).
fn kguard_identity(args: &[String]) -> Option<Value> {
    let mut all: Vec<&str> = vec!["authn", "whoami", "-o", "json"];
    all.extend(args.iter().map(String::as_str));
    let o = kguard(&all);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("kguard authn whoami {args:?}: {e}: {}", String::from_utf8_lossy(&o.stderr)));
    if v["authenticated"] != true {
        return None;
    }
    let u = &v["user"];
    Some(json!({ "username": u["username"], "uid": u["uid"].as_str().unwrap_or(""), "groups": u["groups"],
        "extra": u["extra"].as_object().cloned().unwrap_or_default() }))
}

struct Cred {
    note: String,
    curl: Vec<String>,
    whoami: Vec<String>,
}

fn s(x: &str) -> String {
    x.to_owned()
}

#[test]
#[allow(clippy::too_many_lines)]
fn authentication_agrees_with_kube_apiserver() {
    let extra_token = "kguard-extra-token-0123456789";
    let extra = format!("{extra_token},carol,uid-carol,\"qa,ops\"");
    let Some(kube) =
        KubeApiserver::start("authn_live", &["--enable-bootstrap-token-auth"], &[("KGUARD_KUBE_EXTRA_TOKENS", &extra)])
    else {
        return;
    };
    let dir = TempDir::new("authn-live");
    let d = |f: &str| dir.path().join(f).display().to_string();
    let ca_cert = kube.env("KUBE_CA_CERT").to_owned();
    let ca_prefix = ca_cert.strip_suffix(".crt").unwrap().to_owned();
    let issuer = kube.env("KUBE_SA_ISSUER").to_owned();
    let sa_pub = kube.env("KUBE_SA_PUBLIC_KEY").to_owned();
    let sa_key = kube.env("KUBE_SA_SIGNING_KEY").to_owned();
    let token_file = kube.env("KUBE_TOKEN_FILE").to_owned();

    // the objects service-account tokens are checked against
    let setup = dir.path().join("setup.json");
    std::fs::write(
        &setup,
        json!({ "apiVersion": "v1", "kind": "List", "items": [
            { "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "auth" } },
            { "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": "robot", "namespace": "auth" } },
            { "apiVersion": "v1", "kind": "Pod", "metadata": { "name": "p1", "namespace": "auth" },
              "spec": { "serviceAccountName": "robot", "nodeName": "node1",
                "containers": [{ "name": "c", "image": "registry.example/app:1" }] } },
        ] })
        .to_string(),
    )
    .unwrap();
    let o = kube.kubectl(&["apply", "-f", &setup.display().to_string()]);
    ok(&o, "kubectl apply");
    let kubectl_token = |args: &[&str]| -> String {
        let mut all = vec!["create", "token", "robot", "-n", "auth"];
        all.extend_from_slice(args);
        ok(&kube.kubectl(&all), "kubectl create token").trim().to_owned()
    };
    let server_tokens = [
        ("server token", kubectl_token(&[])),
        ("server token bound to a pod", kubectl_token(&["--bound-object-kind", "Pod", "--bound-object-name", "p1"])),
        ("server token for another audience", kubectl_token(&["--audience", "https://vault.example"])),
        ("server token lasting 10m", kubectl_token(&["--duration", "10m"])),
    ];
    let state = dir.path().join("state.json");
    let mut items: Vec<Value> = Vec::new();
    for (kind, args) in [("ServiceAccount", ["serviceaccounts", "-n", "auth"]), ("Pod", ["pods", "-n", "auth"])] {
        let mut all = vec!["get"];
        all.extend_from_slice(&args);
        all.extend(["-o", "json"]);
        let v: Value = serde_json::from_str(&ok(&kube.kubectl(&all), "kubectl get")).unwrap();
        for mut i in v["items"].as_array().unwrap().clone() {
            i["kind"] = json!(kind);
            i["apiVersion"] = json!("v1");
            items.push(i);
        }
    }
    let sa_uid = items.iter().find(|i| i["metadata"]["name"] == "robot").unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    let pod_uid =
        items.iter().find(|i| i["metadata"]["name"] == "p1").unwrap()["metadata"]["uid"].as_str().unwrap().to_owned();
    std::fs::write(&state, json!({ "apiVersion": "v1", "kind": "List", "items": items }).to_string()).unwrap();

    // tokens kguard mints with the server's signing key
    let mint = |extra: &[&str]| -> String {
        let mut all = vec!["authn", "token", "create", "robot", "-n", "auth", "--key", &sa_key, "--issuer", &issuer];
        all.extend_from_slice(extra);
        ok(&kguard(&all), "kguard authn token create").trim().to_owned()
    };
    let kguard_tokens = [
        ("kguard token", mint(&["--uid", &sa_uid])),
        ("kguard token bound to a pod", mint(&["--uid", &sa_uid, "--bound-pod", "p1", "--bound-pod-uid", &pod_uid])),
        ("kguard token with a stale ServiceAccount UID", mint(&["--uid", "00000000-0000-0000-0000-000000000000"])),
        (
            "kguard token bound to a pod with a stale UID",
            mint(&["--uid", &sa_uid, "--bound-pod", "p1", "--bound-pod-uid", "x"]),
        ),
    ];

    // a bootstrap token and its Secret
    let secret = d("bootstrap-secret.json");
    let boot =
        ok(&kguard(&["authn", "token", "bootstrap", "--secret-out", &secret, "--description", "live"]), "bootstrap")
            .trim()
            .to_owned();
    ok(&kube.kubectl(&["apply", "-f", &secret]), "kubectl apply secret");

    // client certificates
    let issue = |name: &str, ca: &str, extra: &[&str]| -> (String, String) {
        let mut all = vec!["pki", "issue", "--ca", ca, "--out", dir.path().to_str().unwrap(), "--name", name];
        all.extend_from_slice(extra);
        ok(&kguard(&all), "kguard pki issue");
        (d(&format!("{name}.crt")), d(&format!("{name}.key")))
    };
    let other_ca = d("other-pki");
    ok(&kguard(&["pki", "init", &other_ca]), "kguard pki init");
    let certs = [
        ("certificate with two groups", issue("jane", &ca_prefix, &["--cn", "jane", "--org", "dev", "--org", "ops"])),
        ("certificate without groups", issue("sam", &ca_prefix, &["--cn", "sam"])),
        ("node certificate", issue("node9", &ca_prefix, &["--cn", "system:node:node9", "--org", "system:nodes"])),
        ("RSA certificate", issue("rsa", &ca_prefix, &["--cn", "rita", "--key-type", "rsa"])),
        ("certificate from another CA", issue("stranger", &format!("{other_ca}/ca"), &["--cn", "mallory"])),
        ("serving certificate", issue("server", &ca_prefix, &["--cn", "svc", "--server", "--san", "127.0.0.1"])),
    ];

    let token_whoami = |t: &str| -> Vec<String> {
        vec![
            s("--token"),
            s(t),
            s("--token-auth-file"),
            token_file.clone(),
            s("--sa-key"),
            sa_pub.clone(),
            s("--issuer"),
            issuer.clone(),
            s("--state"),
            state.display().to_string(),
            s("--bootstrap-secrets"),
            secret.clone(),
        ]
    };
    let mut creds: Vec<Cred> = Vec::new();
    for (note, (crt, key)) in &certs {
        creds.push(Cred {
            note: s(note),
            curl: vec![s("--cert"), crt.clone(), s("--key"), key.clone()],
            whoami: vec![s("--cert"), crt.clone(), s("--client-ca"), ca_cert.clone()],
        });
    }
    let tokens: Vec<(String, String)> = [
        ("token-file token of alice", kube.env("KUBE_ALICE_TOKEN").to_owned()),
        ("token-file token with groups and a UID", extra_token.to_owned()),
        ("an unknown token", "not-a-known-token".to_owned()),
        ("bootstrap token", boot),
    ]
    .into_iter()
    .chain(server_tokens)
    .chain(kguard_tokens)
    .map(|(n, t)| (n.to_owned(), t))
    .collect();
    for (note, t) in &tokens {
        creds.push(Cred {
            note: note.clone(),
            curl: vec![s("-H"), format!("Authorization: Bearer {t}")],
            whoami: token_whoami(t),
        });
    }
    creds.push(Cred { note: s("no credential"), curl: Vec::new(), whoami: Vec::new() });

    let (mut agree, mut refused) = (0usize, 0usize);
    let mut disagreements = Vec::new();
    for c in &creds {
        let theirs = server_identity(&kube, &c.curl, &dir);
        let ours = kguard_identity(&c.whoami);
        refused += usize::from(theirs.is_none());
        let same = match (&theirs, &ours) {
            (None, None) => true,
            (Some(t), Some(o)) if t.get("forbidden").is_some() => t["username"] == o["username"],
            (Some(t), Some(o)) => t == o,
            _ => false,
        };
        if same {
            agree += 1;
        } else {
            disagreements.push(format!("{}: server {theirs:?}, kguard {ours:?}", c.note));
        }
    }
    eprintln!("authn live oracle: {agree} agree of {} credentials ({refused} refused by the server)", creds.len());
    assert!(disagreements.is_empty(), "{} disagreements:\n{}", disagreements.len(), disagreements.join("\n"));
}

/// The CSR flow end to end: `kguard pki csr create` writes the request, the server stores it,
/// it is approved (once by `kubectl certificate approve`, once by `kguard pki csr approve` sent to
/// the `approval` subresource), `kguard pki csr sign` signs it with the server's CA as the
/// `kube-apiserver-client` signer would and the result goes to the `status` subresource; the
/// issued certificate then authenticates to the server as `authn whoami` predicts. A request
/// for `system:masters` is refused by the server's CertificateSubjectRestriction plugin with the
/// message `kguard pki csr create` warns of.
#[test]
#[allow(clippy::too_many_lines)]
fn csr_flow_agrees_with_kube_apiserver() {
    let Some(kube) = KubeApiserver::start("csr_live", &[], &[]) else {
        return;
    };
    let dir = TempDir::new("csr-live");
    let d = |f: &str| dir.path().join(f).display().to_string();
    let out = dir.path().to_str().unwrap().to_owned();
    let ca_cert = kube.env("KUBE_CA_CERT").to_owned();
    let ca_prefix = ca_cert.strip_suffix(".crt").unwrap().to_owned();
    let mut checks = 0usize;

    for (name, kguard_approves) in [("jane-csr", false), ("joe-csr", true)] {
        let user = name.trim_end_matches("-csr");
        ok(&kguard(&["pki", "csr", "create", name, "--cn", user, "--org", "qa", "--out", &out]), "csr create");
        ok(&kube.kubectl(&["create", "-f", &d(&format!("{name}.json"))]), "kubectl create csr");
        if kguard_approves {
            let got = ok(&kube.kubectl(&["get", "csr", name, "-o", "json"]), "kubectl get csr");
            std::fs::write(d("stored.json"), got).unwrap();
            let approved = ok(&kguard(&["pki", "csr", "approve", &d("stored.json")]), "kguard approve");
            std::fs::write(d("approved.json"), approved).unwrap();
            ok(&kube.kubectl(&["replace", "--subresource", "approval", "-f", &d("approved.json")]), "replace approval");
        } else {
            ok(&kube.kubectl(&["certificate", "approve", name]), "kubectl certificate approve");
        }
        let got = ok(&kube.kubectl(&["get", "csr", name, "-o", "json"]), "kubectl get csr");
        std::fs::write(d("approved.json"), got).unwrap();
        let signed = ok(&kguard(&["pki", "csr", "sign", "--ca", &ca_prefix, &d("approved.json")]), "kguard sign");
        std::fs::write(d("signed.json"), signed).unwrap();
        ok(&kube.kubectl(&["replace", "--subresource", "status", "-f", &d("signed.json")]), "replace status");
        // the certificate as the server now serves it
        let stored: Value =
            serde_json::from_str(&ok(&kube.kubectl(&["get", "csr", name, "-o", "json"]), "get csr")).unwrap();
        let cert = base64_decode(stored["status"]["certificate"].as_str().expect("status.certificate stored"));
        std::fs::write(d(&format!("{user}.crt")), cert).unwrap();
        let curl = vec![s("--cert"), d(&format!("{user}.crt")), s("--key"), d(&format!("{name}.key"))];
        let theirs = server_identity(&kube, &curl, &dir);
        let ours = kguard_identity(&[s("--cert"), d(&format!("{user}.crt")), s("--client-ca"), ca_cert.clone()]);
        assert_eq!(theirs, ours, "{name}: the signed certificate authenticates as predicted");
        assert_eq!(theirs.unwrap()["username"], user);
        checks += 1;
    }

    // system:masters through the kube-apiserver-client signer
    let o = kguard(&["pki", "csr", "create", "root-csr", "--cn", "root", "--org", "system:masters", "--out", &out]);
    let warning = String::from_utf8_lossy(&o.stderr).into_owned();
    let predicted = warning
        .split("(admission plugin CertificateSubjectRestriction): ")
        .nth(1)
        .expect("kguard warns that the server refuses it")
        .trim()
        .to_owned();
    let o = kube.kubectl(&["create", "-f", &d("root-csr.json")]);
    assert!(!o.status.success(), "the server stored a system:masters CSR");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "Error from server (Forbidden): error when creating \"{}\": {predicted}",
            d("root-csr.json")
        )),
        "server: {err}\nkguard: {predicted}"
    );
    checks += 1;
    // the same subject through another signer is not this plugin's business
    ok(
        &kguard(&[
            "pki",
            "csr",
            "create",
            "root-legacy",
            "--cn",
            "root",
            "--org",
            "system:masters",
            "--signer",
            "example.com/custom",
            "--out",
            &out,
        ]),
        "csr create custom signer",
    );
    ok(&kube.kubectl(&["create", "-f", &d("root-legacy.json")]), "custom signer CSR stored");
    checks += 1;
    eprintln!(
        "csr live oracle: {checks} agree of {checks} (two CSRs created, approved, signed and used; CertificateSubjectRestriction)"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).expect("base64 certificate")
}
