//! `kguard pki` and `kguard authn` end to end, checked against openssl where it is installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kguard-pki-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn openssl() -> bool {
    match Command::new("openssl").arg("version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            eprintln!("skipping the openssl cross-check: `openssl` is not installed");
            false
        }
    }
}

fn init(dir: &Path, extra: &[&str]) {
    let mut args = vec!["pki", "init"];
    let d = s(dir);
    args.push(&d);
    args.extend_from_slice(extra);
    let o = kguard(&args);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn init_lays_out_a_kubeadm_pki_that_openssl_verifies() {
    let dir = tmp("init");
    init(&dir, &["--san", "api.example.com", "--san", "192.168.1.10"]);
    for f in [
        "ca.crt",
        "ca.key",
        "front-proxy-ca.crt",
        "etcd/ca.crt",
        "sa.key",
        "sa.pub",
        "apiserver.crt",
        "apiserver-kubelet-client.crt",
        "apiserver-etcd-client.crt",
        "front-proxy-client.crt",
        "admin.crt",
        "admin.conf",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    for key in ["ca.key", "sa.key", "admin.key", "apiserver.key", "etcd/ca.key", "admin.conf"] {
        let mode = std::fs::metadata(dir.join(key)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    let conf = std::fs::read_to_string(dir.join("admin.conf")).unwrap();
    assert!(conf.contains("client-certificate-data: ") && conf.contains("server: \"https://127.0.0.1:6443\""));
    let inspect = kguard(&["pki", "inspect", &s(&dir.join("apiserver.crt"))]);
    let out = stdout(&inspect);
    assert!(out.contains("DNS:kubernetes.default.svc.cluster.local"), "{out}");
    assert!(
        out.contains("DNS:api.example.com") && out.contains("IP:192.168.1.10") && out.contains("IP:10.96.0.1"),
        "{out}"
    );
    assert!(out.contains("serverAuth"), "{out}");
    let admin = kguard(&["pki", "inspect", &s(&dir.join("admin.crt"))]);
    assert_eq!(admin.status.code(), Some(1));
    assert!(stdout(&admin).contains("PKI006 [high]"), "{}", stdout(&admin));
    // Existing files are never overwritten.
    let again = kguard(&["pki", "init", &s(&dir)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    if !openssl() {
        return;
    }
    let verify = |ca: &str, purpose: &str, cert: &str| {
        let o = Command::new("openssl")
            .args(["verify", "-purpose", purpose, "-CAfile", &s(&dir.join(ca)), &s(&dir.join(cert))])
            .output()
            .unwrap();
        assert!(o.status.success(), "openssl verify {cert}: {}{}", stdout(&o), stderr(&o));
    };
    verify("ca.crt", "sslserver", "apiserver.crt");
    verify("ca.crt", "sslclient", "admin.crt");
    verify("ca.crt", "sslclient", "apiserver-kubelet-client.crt");
    verify("etcd/ca.crt", "sslclient", "apiserver-etcd-client.crt");
    verify("front-proxy-ca.crt", "sslclient", "front-proxy-client.crt");
    // The apiserver's key matches its certificate.
    let pubkey = |args: &[&str]| Command::new("openssl").args(args).output().unwrap().stdout;
    assert_eq!(
        pubkey(&["x509", "-in", &s(&dir.join("apiserver.crt")), "-noout", "-pubkey"]),
        pubkey(&["pkey", "-in", &s(&dir.join("apiserver.key")), "-pubout"])
    );
}

#[test]
fn issue_with_several_groups_then_whoami() {
    let dir = tmp("issue");
    init(&dir, &[]);
    let users = dir.join("users");
    let o = kguard(&[
        "pki",
        "issue",
        "--ca",
        &s(&dir.join("ca")),
        "--cn",
        "jane",
        "--org",
        "dev",
        "--org",
        "qa",
        "--days",
        "30",
        "--out",
        &s(&users),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = std::fs::metadata(users.join("jane.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let who =
        kguard(&["authn", "whoami", "--cert", &s(&users.join("jane.crt")), "--client-ca", &s(&dir.join("ca.crt"))]);
    assert!(who.status.success(), "{}", stderr(&who));
    let out = stdout(&who);
    assert!(out.contains("username:      jane"), "{out}");
    assert!(out.contains("groups:        dev, qa, system:authenticated"), "{out}");
    // Another cluster's CA: 401 with the reason.
    let other = tmp("issue-other");
    init(&other, &[]);
    let who =
        kguard(&["authn", "whoami", "--cert", &s(&users.join("jane.crt")), "--client-ca", &s(&other.join("ca.crt"))]);
    assert_eq!(who.status.code(), Some(1));
    assert!(stdout(&who).contains("unknown authority"), "{}", stdout(&who));
    // A serving certificate is no client certificate.
    let o = kguard(&[
        "pki",
        "issue",
        "--ca",
        &s(&dir.join("ca")),
        "--cn",
        "web",
        "--server",
        "--san",
        "web.local",
        "--out",
        &s(&users),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let who =
        kguard(&["authn", "whoami", "--cert", &s(&users.join("web.crt")), "--client-ca", &s(&dir.join("ca.crt"))]);
    assert!(stdout(&who).contains("incompatible key usage"), "{}", stdout(&who));
    if openssl() {
        let o = Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-in", &s(&users.join("jane.crt"))])
            .output()
            .unwrap();
        assert_eq!(stdout(&o).trim(), "subject=O = dev, O = qa, CN = jane");
        let o = Command::new("openssl")
            .args(["verify", "-purpose", "sslclient", "-CAfile", &s(&dir.join("ca.crt")), &s(&users.join("jane.crt"))])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
}

#[test]
fn rsa_keys_and_expiry_findings() {
    let dir = tmp("rsa");
    init(&dir, &["--key-type", "rsa"]);
    let out = dir.join("out");
    let o = kguard(&[
        "pki",
        "issue",
        "--ca",
        &s(&dir.join("ca")),
        "--cn",
        "soon",
        "--days",
        "10",
        "--key-type",
        "rsa",
        "--out",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let inspect = kguard(&["pki", "inspect", "--json", &s(&out.join("soon.crt"))]);
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v[0]["keyType"], "RSA");
    assert_eq!(v[0]["keyBits"], 2048);
    assert_eq!(v[0]["signatureAlgorithm"], "sha256WithRSAEncryption");
    assert_eq!(v[0]["findings"][0]["ruleId"], "PKI002");
    assert_eq!(inspect.status.code(), Some(1));
    if openssl() {
        let o = Command::new("openssl")
            .args(["verify", "-CAfile", &s(&dir.join("ca.crt")), &s(&out.join("soon.crt"))])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
}

#[test]
fn openssl_csr_is_parsed() {
    if !openssl() {
        return;
    }
    let dir = tmp("csr");
    let csr = dir.join("node.csr");
    let o = Command::new("openssl")
        .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", &s(&dir.join("node.key")), "-subj"])
        .arg("/O=system:nodes/CN=system:node:worker-1")
        .args(["-addext", "subjectAltName=DNS:worker-1,IP:10.0.0.7", "-out", &s(&csr)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let inspect = kguard(&["pki", "inspect", "--json", &s(&csr)]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v[0]["kind"], "CertificateRequest");
    assert_eq!(v[0]["user"], "system:node:worker-1");
    assert_eq!(v[0]["groups"], serde_json::json!(["system:nodes"]));
    assert_eq!(v[0]["sans"], serde_json::json!(["DNS:worker-1", "IP:10.0.0.7"]));
    // A CSR whose signature is broken is refused.
    let pem = std::fs::read_to_string(&csr).unwrap();
    let mut lines: Vec<String> = pem.lines().map(str::to_owned).collect();
    let mid = lines.len() - 3;
    let flipped: String = lines[mid].chars().rev().collect();
    lines[mid] = flipped;
    std::fs::write(dir.join("bad.csr"), lines.join("\n")).unwrap();
    let bad = kguard(&["pki", "inspect", &s(&dir.join("bad.csr"))]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn service_account_tokens_round_trip_and_rejections() {
    let dir = tmp("sa");
    init(&dir, &[]);
    let key = s(&dir.join("sa.key"));
    let create = kguard(&[
        "authn",
        "token",
        "create",
        "builder",
        "-n",
        "ci",
        "--audience",
        "api",
        "--duration",
        "1h",
        "--key",
        &key,
        "--bound-pod",
        "web-0",
    ]);
    assert!(create.status.success(), "{}", stderr(&create));
    let token = stdout(&create).trim().to_owned();
    let pubkey = s(&dir.join("sa.pub"));
    let who = kguard(&["authn", "whoami", "--json", "--token", &token, "--sa-key", &pubkey, "--audience", "api"]);
    assert!(who.status.success(), "{}", stdout(&who));
    let v: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
    assert_eq!(v["user"]["username"], "system:serviceaccount:ci:builder");
    assert_eq!(
        v["user"]["groups"],
        serde_json::json!(["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"])
    );
    assert_eq!(v["user"]["extra"]["authentication.kubernetes.io/pod-name"], serde_json::json!(["web-0"]));
    // The private key works as --sa-key too (its public half is used).
    let who = kguard(&["authn", "whoami", "--token", &token, "--sa-key", &key, "--audience", "api"]);
    assert!(who.status.success(), "{}", stdout(&who));
    // Wrong audience, wrong issuer, foreign key, alg none.
    let who = kguard(&["authn", "whoami", "--token", &token, "--sa-key", &pubkey, "--audience", "vault"]);
    assert_eq!(who.status.code(), Some(1));
    assert!(stdout(&who).contains("is invalid for the target audiences"), "{}", stdout(&who));
    let who = kguard(&["authn", "whoami", "--token", &token, "--sa-key", &pubkey, "--issuer", "https://other"]);
    assert_eq!(who.status.code(), Some(1));
    assert!(stdout(&who).contains("invalid bearer token") && stdout(&who).contains("issuer"), "{}", stdout(&who));
    let other = tmp("sa-other");
    init(&other, &[]);
    let who =
        kguard(&["authn", "whoami", "--token", &token, "--sa-key", &s(&other.join("sa.pub")), "--audience", "api"]);
    assert!(stdout(&who).contains("does not verify"), "{}", stdout(&who));
    let parts: Vec<&str> = token.split('.').collect();
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
    let who = kguard(&["authn", "whoami", "--token", &none, "--sa-key", &pubkey, "--audience", "api"]);
    assert!(stdout(&who).contains("unsigned"), "{}", stdout(&who));
    // Too short a duration.
    let short = kguard(&["authn", "token", "create", "x", "--duration", "5m", "--key", &key]);
    assert_eq!(short.status.code(), Some(2));
}

#[test]
fn token_file_errors_name_file_and_line() {
    let dir = tmp("tokfile");
    let file = dir.join("tokens.csv");
    std::fs::write(&file, "t1,alice,1,\"dev,qa\"\nt2,bob\n").unwrap();
    let o = kguard(&["authn", "whoami", "--token", "t1", "--token-auth-file", &s(&file)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&format!("{}:2: token file", s(&file))), "{}", stderr(&o));
    std::fs::write(&file, "t1,alice,1,\"dev,qa\"\n").unwrap();
    let o = kguard(&["authn", "whoami", "--token", "t1", "--token-auth-file", &s(&file)]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("groups:        dev, qa, system:authenticated"), "{}", stdout(&o));
    let o = kguard(&["authn", "whoami", "--token", "t9", "--token-auth-file", &s(&file)]);
    assert_eq!(o.status.code(), Some(1));
    let o = kguard(&["authn", "whoami", "--no-anonymous"]);
    assert_eq!(o.status.code(), Some(1));
    let o = kguard(&["authn", "whoami"]);
    assert!(stdout(&o).contains("system:anonymous"));
    // Deprecated basic auth works, with a warning.
    let users = dir.join("users.csv");
    std::fs::write(&users, "pw,admin,1,system:masters\n").unwrap();
    let o = kguard(&["authn", "whoami", "--basic-auth-file", &s(&users), "--basic", "admin:pw"]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stderr(&o).contains("deprecated"), "{}", stderr(&o));
}

#[test]
fn bootstrap_tokens_round_trip() {
    let dir = tmp("bootstrap");
    let secret = dir.join("bootstrap.json");
    let o = kguard(&["authn", "token", "bootstrap", "--ttl", "2h", "--secret-out", &s(&secret)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_owned();
    assert_eq!(token.len(), 23);
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let who = kguard(&["authn", "whoami", "--token", &token, "--bootstrap-secrets", &s(&secret)]);
    assert!(who.status.success(), "{}", stdout(&who));
    assert!(stdout(&who).contains(&format!("username:      system:bootstrap:{}", &token[..6])), "{}", stdout(&who));
    let wrong = format!("{}.0000000000000000", &token[..6]);
    let who = kguard(&["authn", "whoami", "--token", &wrong, "--bootstrap-secrets", &s(&secret)]);
    assert_eq!(who.status.code(), Some(1));
    assert!(stdout(&who).contains("does not match"), "{}", stdout(&who));
    let bad = kguard(&["authn", "token", "bootstrap", "--group", "system:masters"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn csr_create_approve_sign_then_authenticate() {
    let dir = tmp("csrflow");
    init(&dir, &[]);
    let out = dir.join("csr");
    let o = kguard(&[
        "pki",
        "csr",
        "create",
        "jane",
        "--cn",
        "jane",
        "--org",
        "dev",
        "--org",
        "qa",
        "--expiration-seconds",
        "3600",
        "--out",
        &s(&out),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest = s(&out.join("jane.json"));
    let unsigned = kguard(&["pki", "csr", "sign", &manifest, "--ca", &s(&dir.join("ca"))]);
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(stderr(&unsigned).contains("not approved"));
    let approved = kguard(&["pki", "csr", "approve", &manifest]);
    assert!(approved.status.success(), "{}", stderr(&approved));
    assert!(stderr(&approved).contains("certificatesigningrequest.certificates.k8s.io/jane approved"));
    let approved_path = out.join("approved.json");
    std::fs::write(&approved_path, &approved.stdout).unwrap();
    let signed = kguard(&["pki", "csr", "sign", &s(&approved_path), "--ca", &s(&dir.join("ca"))]);
    assert!(signed.status.success(), "{}", stderr(&signed));
    let v: serde_json::Value = serde_json::from_slice(&signed.stdout).unwrap();
    use base64::Engine as _;
    let cert = base64::engine::general_purpose::STANDARD.decode(v["status"]["certificate"].as_str().unwrap()).unwrap();
    let cert_path = out.join("jane.crt");
    std::fs::write(&cert_path, cert).unwrap();
    let who = kguard(&["authn", "whoami", "--cert", &s(&cert_path), "--client-ca", &s(&dir.join("ca.crt"))]);
    assert!(stdout(&who).contains("groups:        dev, qa, system:authenticated"), "{}", stdout(&who));
    // expirationSeconds caps the lifetime.
    let inspect = kguard(&["pki", "inspect", "--json", &s(&cert_path)]);
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info[0]["daysLeft"], 0);
    assert_eq!(info[0]["findings"][0]["ruleId"], "PKI002");
    if openssl() {
        let o = Command::new("openssl")
            .args(["verify", "-purpose", "sslclient", "-CAfile", &s(&dir.join("ca.crt")), &s(&cert_path)])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let o = Command::new("openssl")
            .args(["req", "-noout", "-verify", "-in", &s(&out.join("jane.csr"))])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
}

#[test]
fn scan_reports_the_admin_kubeconfig_and_credentials_in_manifests() {
    let dir = tmp("scan-admin-conf");
    init(&dir, &[]);
    // admin.conf embeds a system:masters certificate and its key: critical, at the field.
    let conf = dir.join("admin.conf");
    let o = kguard(&["scan", &s(&conf), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{v:#}");
    assert_eq!(findings[0]["ruleId"], "CRED003");
    assert_eq!(findings[0]["severity"], "critical");
    let text = std::fs::read_to_string(&conf).unwrap();
    let line = text.lines().position(|l| l.trim_start().starts_with("client-certificate-data:")).unwrap() + 1;
    assert_eq!(findings[0]["location"]["line"], line, "{v:#}");
    // The same kubeconfig inside a Secret (base64) and a ConfigMap (text).
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&text);
    let indented: String = text.lines().map(|l| format!("    {l}\n")).collect();
    let manifests = dir.join("leaked.yaml");
    std::fs::write(
        &manifests,
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: admin-kubeconfig, namespace: ci}}\ndata:\n  value: {b64}\n\
             ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: kubeconfig, namespace: ci}}\ndata:\n  config: |\n{indented}"
        ),
    )
    .unwrap();
    let o = kguard(&["scan", &s(&manifests), "--color", "never"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    let line_of = |needle: &str| {
        out.lines().find(|l| l.contains(needle)).map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
    };
    assert_eq!(line_of("kubeconfig in data.value, line").as_deref(), Some("5:3 CRITICAL CRED003"), "{out}");
    assert_eq!(line_of("kubeconfig in data.config, line").as_deref(), Some("11:3 CRITICAL CRED003"), "{out}");
    assert!(out.contains("(in a ConfigMap: readable by anyone who may read ConfigMaps)"), "{out}");
    // Deselecting the family silences it; explain documents every rule.
    let o = kguard(&["scan", &s(&manifests), "--ignore", "credentials"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    for id in ["CRED001", "CRED002", "CRED003", "CRED004", "CRED005", "CRED006"] {
        let o = kguard(&["explain", id]);
        assert!(o.status.success() && stdout(&o).contains("## Why it matters"), "{id}");
    }
}
