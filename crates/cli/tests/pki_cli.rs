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
    kguard_testkit::tool("openssl", "the openssl cross-checks of pki_cli")
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

/// A child process killed (and reaped) when dropped, so that no test leaves one behind.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` to exit, killing it after `secs` seconds; `None` on timeout.
fn wait_for(child: &mut Reaped, secs: u64) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.0.kill();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Reads a pipe to the end on a thread, forwarding each line as it comes.
fn drain(
    pipe: impl std::io::Read + Send + 'static,
    lines: std::sync::mpsc::Sender<String>,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        let mut all = String::new();
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    })
}

/// What one mutual-TLS handshake between `openssl s_server` and `openssl s_client` printed.
struct Handshake {
    server: String,
    client: String,
    client_ok: bool,
}

/// Runs `openssl s_server` (the apiserver's certificate and key, client certificates required and
/// verified against `client_ca`) on a free loopback port, then `openssl s_client` with the cluster
/// CA and a client certificate and key, plus `client_args`. Both processes are killed on return.
fn handshake(dir: &Path, client_ca: &str, cert: &str, key: &str, client_args: &[&str]) -> Handshake {
    use std::process::Stdio;
    for _attempt in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Reaped(
            Command::new("openssl")
                .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-naccept", "1"])
                .args(["-cert", &s(&dir.join("apiserver.crt")), "-key", &s(&dir.join("apiserver.key"))])
                .args(["-CAfile", &s(&dir.join(client_ca)), "-Verify", "2", "-verify_return_error"])
                // s_server quits at the end of its standard input: keep it open until the end.
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let out = drain(server.0.stdout.take().unwrap(), tx.clone());
        let err = drain(server.0.stderr.take().unwrap(), tx);
        let ready = loop {
            match rx.recv_timeout(std::time::Duration::from_secs(10)) {
                Ok(line) if line.trim() == "ACCEPT" => break true,
                Ok(_) => {}
                Err(_) => break false,
            }
        };
        if !ready {
            // Port taken between bind and listen, or s_server failed: say why, try another port.
            let _ = server.0.kill();
            let _ = server.0.wait();
            eprintln!("s_server did not start on port {port}: {}{}", out.join().unwrap(), err.join().unwrap());
            continue;
        }
        let mut client = Reaped(
            Command::new("openssl")
                .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
                .args(["-CAfile", &s(&dir.join("ca.crt")), "-verify_return_error"])
                .args(["-cert", &s(&dir.join(cert)), "-key", &s(&dir.join(key))])
                .args(client_args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let (ctx, _crx) = std::sync::mpsc::channel();
        let client_out = drain(client.0.stdout.take().unwrap(), ctx.clone());
        let client_err = drain(client.0.stderr.take().unwrap(), ctx);
        let status = wait_for(&mut client, 20).expect("s_client did not finish within 20 s");
        drop(server.0.stdin.take());
        wait_for(&mut server, 20).expect("s_server did not finish within 20 s");
        return Handshake {
            server: out.join().unwrap() + &err.join().unwrap(),
            client: client_out.join().unwrap() + &client_err.join().unwrap(),
            client_ok: status.success(),
        };
    }
    panic!("openssl s_server could not listen on a loopback port (5 attempts)");
}

/// The certificates `kguard pki init` makes work in a real TLS handshake: the API server's serving
/// certificate (chain and SANs) verified by `openssl s_client`, the admin client certificate
/// verified by `openssl s_server` requiring client certificates; certificates from another CA and
/// names outside the SANs are refused, so the checks can fail.
#[test]
fn pki_init_certificates_pass_a_mutual_tls_handshake_with_openssl() {
    if !openssl() {
        return;
    }
    let dir = tmp("tls");
    init(&dir, &["--san", "api.example.com"]);
    let negotiated = |client: &str| client.contains("Cipher is ") && !client.contains("Cipher is (NONE)");
    for extra in [&["-verify_ip", "127.0.0.1"][..], &["-verify_hostname", "api.example.com", "-tls1_2"][..]] {
        let h = handshake(&dir, "ca.crt", "admin.crt", "admin.key", extra);
        assert!(h.client_ok, "s_client {extra:?} failed:\n{}\n--- server:\n{}", h.client, h.server);
        assert!(h.client.contains("Verify return code: 0 (ok)"), "{}", h.client);
        assert!(negotiated(&h.client), "no cipher negotiated:\n{}", h.client);
        assert!(h.client.contains("subject=CN = kube-apiserver"), "{}", h.client);
        // The server required, received and verified the admin certificate (depth 0 and its CA).
        assert!(h.server.contains("1 server accepts that finished"), "{}", h.server);
        assert!(h.server.contains("subject=O = system:masters, CN = kubernetes-admin"), "{}", h.server);
        assert!(
            h.server.contains("depth=0 O = system:masters, CN = kubernetes-admin\nverify return:1"),
            "{}",
            h.server
        );
        assert!(h.server.contains("depth=1 CN = kubernetes\nverify return:1"), "{}", h.server);
    }
    // A name outside the serving certificate's SANs: the client refuses the server.
    let h = handshake(&dir, "ca.crt", "admin.crt", "admin.key", &["-verify_hostname", "evil.example.com"]);
    assert!(!h.client_ok && h.client.contains("hostname mismatch"), "{}", h.client);
    // A client certificate from another CA (front-proxy): the server refuses the client.
    let h = handshake(&dir, "ca.crt", "front-proxy-client.crt", "front-proxy-client.key", &[]);
    assert!(!h.server.contains("1 server accepts that finished"), "{}", h.server);
    assert!(h.server.contains("verify error:unable to get local issuer certificate"), "{}", h.server);
}

/// CSRs made by `openssl req` (RSA and ECDSA keys), wrapped in CertificateSigningRequest objects,
/// approved and signed by `kguard pki csr sign`: the certificates verify with `openssl verify` for
/// their purpose, carry the request's public key and subject, and authenticate as the subject.
#[test]
fn openssl_req_csrs_are_signed_by_kguard() {
    if !openssl() {
        return;
    }
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tmp("openssl-req-sign");
    init(&dir, &[]);
    // (name, subject, key arguments, signer, usages, openssl verify purpose)
    type Case<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, &'a [&'a str], &'a str);
    let cases: [Case<'_>; 2] = [
        (
            "jane",
            "/O=dev/O=qa/CN=jane",
            &["-newkey", "rsa:2048"],
            "kubernetes.io/kube-apiserver-client",
            &["digital signature", "key encipherment", "client auth"],
            "sslclient",
        ),
        (
            "node",
            "/O=system:nodes/CN=system:node:worker-1",
            &[
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-addext",
                "subjectAltName=DNS:worker-1,IP:10.0.0.7",
            ],
            "kubernetes.io/kubelet-serving",
            &["digital signature", "server auth"],
            "sslserver",
        ),
    ];
    for (name, subject, key_args, signer, usages, purpose) in cases {
        let key = dir.join(format!("{name}.key"));
        let csr = dir.join(format!("{name}.csr"));
        let o = Command::new("openssl")
            .args(["req", "-new", "-nodes", "-keyout", &s(&key), "-out", &s(&csr), "-subj", subject])
            .args(key_args)
            .output()
            .unwrap();
        assert!(o.status.success(), "openssl req: {}", stderr(&o));
        let object = serde_json::json!({
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {
                "request": b64.encode(std::fs::read(&csr).unwrap()),
                "signerName": signer,
                "usages": usages,
                "expirationSeconds": 86400,
            },
        });
        let manifest = dir.join(format!("{name}.json"));
        std::fs::write(&manifest, serde_json::to_vec_pretty(&object).unwrap()).unwrap();
        let approved = kguard(&["pki", "csr", "approve", &s(&manifest)]);
        assert!(approved.status.success(), "{}", stderr(&approved));
        let approved_path = dir.join(format!("{name}-approved.json"));
        std::fs::write(&approved_path, &approved.stdout).unwrap();
        let signed = kguard(&["pki", "csr", "sign", &s(&approved_path), "--ca", &s(&dir.join("ca"))]);
        assert!(signed.status.success(), "{name}: {}{}", stdout(&signed), stderr(&signed));
        let v: serde_json::Value = serde_json::from_slice(&signed.stdout).unwrap();
        let cert = dir.join(format!("{name}.crt"));
        std::fs::write(&cert, b64.decode(v["status"]["certificate"].as_str().unwrap()).unwrap()).unwrap();
        let o = Command::new("openssl")
            .args(["verify", "-purpose", purpose, "-CAfile", &s(&dir.join("ca.crt")), &s(&cert)])
            .output()
            .unwrap();
        assert!(o.status.success(), "openssl verify {name}: {}{}", stdout(&o), stderr(&o));
        let pubkey = |args: &[&str]| Command::new("openssl").args(args).output().unwrap().stdout;
        let cert_key = pubkey(&["x509", "-in", &s(&cert), "-noout", "-pubkey"]);
        assert!(!cert_key.is_empty());
        assert_eq!(cert_key, pubkey(&["req", "-in", &s(&csr), "-noout", "-pubkey"]), "{name}: public key");
        let subj = |args: &[&str]| String::from_utf8(pubkey(args)).unwrap().replace("subject=", "");
        assert_eq!(
            subj(&["x509", "-in", &s(&cert), "-noout", "-subject", "-nameopt", "RFC2253"]),
            subj(&["req", "-in", &s(&csr), "-noout", "-subject", "-nameopt", "RFC2253"]),
            "{name}: subject"
        );
        if purpose == "sslclient" {
            let who = kguard(&["authn", "whoami", "--cert", &s(&cert), "--client-ca", &s(&dir.join("ca.crt"))]);
            assert!(stdout(&who).contains("groups:        dev, qa, system:authenticated"), "{}", stdout(&who));
        } else {
            let text =
                String::from_utf8(pubkey(&["x509", "-in", &s(&cert), "-noout", "-ext", "subjectAltName"])).unwrap();
            assert!(text.contains("DNS:worker-1") && text.contains("IP Address:10.0.0.7"), "{text}");
        }
    }
    // A serving CSR for a kube-apiserver client signer is refused (usages checked).
    let manifest = dir.join("node.json");
    let mut object: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    object["spec"]["signerName"] = "kubernetes.io/kube-apiserver-client".into();
    std::fs::write(&manifest, serde_json::to_vec(&object).unwrap()).unwrap();
    let approved = kguard(&["pki", "csr", "approve", &s(&manifest)]);
    let approved_path = dir.join("node-wrong-approved.json");
    std::fs::write(&approved_path, &approved.stdout).unwrap();
    let signed = kguard(&["pki", "csr", "sign", &s(&approved_path), "--ca", &s(&dir.join("ca"))]);
    assert_eq!(signed.status.code(), Some(1), "{}", stdout(&signed));
    assert!(stderr(&signed).contains("usages did not match"), "{}", stderr(&signed));
}

/// `kguard authn whoami --state`: the bound pod and service account are looked up in manifests,
/// with upstream's reasons when they are gone or were recreated (new UID).
#[test]
fn whoami_checks_bound_objects_against_a_state_directory() {
    let dir = tmp("sa-state");
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
        "--key",
        &key,
        "--uid",
        "sa-uid",
        "--bound-pod",
        "web-0",
        "--bound-pod-uid",
        "pod-uid",
    ]);
    assert!(create.status.success(), "{}", stderr(&create));
    let token = stdout(&create).trim().to_owned();
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: ci, uid: sa-uid}\n";
    std::fs::write(state.join("sa.yaml"), sa).unwrap();
    let pod = |uid: &str| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: web-0, namespace: ci, uid: {uid}}}\n");
    let whoami = || {
        let pubkey = s(&dir.join("sa.pub"));
        let o = kguard(&[
            "authn",
            "whoami",
            "--token",
            &token,
            "--sa-key",
            &pubkey,
            "--audience",
            "api",
            "--state",
            &s(&state),
        ]);
        (o.status.code(), stdout(&o))
    };
    std::fs::write(state.join("pod.yaml"), pod("pod-uid")).unwrap();
    let (code, out) = whoami();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("extra:         authentication.kubernetes.io/pod-uid=pod-uid"), "{out}");
    assert!(out.contains("authentication.kubernetes.io/credential-id=JTI="), "{out}");
    // The pod was deleted and recreated under the same name: new UID.
    std::fs::write(state.join("pod.yaml"), pod("new-uid")).unwrap();
    let (code, out) = whoami();
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("service-account: pod UID (new-uid) does not match service account pod ref claim (pod-uid)"),
        "{out}"
    );
    std::fs::remove_file(state.join("pod.yaml")).unwrap();
    let (_, out) = whoami();
    assert!(out.contains("service-account: service account token has been invalidated"), "{out}");
    std::fs::remove_file(state.join("sa.yaml")).unwrap();
    let (_, out) = whoami();
    assert!(out.contains("service-account: serviceaccounts \"builder\" not found"), "{out}");
    // --state needs a service-account key.
    let o = kguard(&["authn", "whoami", "--token", &token, "--state", &s(&state)]);
    assert_eq!(o.status.code(), Some(2));
}

/// Client certificates carry upstream's credential id: `X509SHA256=` and the SHA-256 of the
/// certificate's DER, which is openssl's SHA-256 fingerprint.
#[test]
fn x509_credential_id_is_the_certificate_sha256() {
    let dir = tmp("credid");
    init(&dir, &[]);
    let who = kguard(&[
        "authn",
        "whoami",
        "--json",
        "--cert",
        &s(&dir.join("admin.crt")),
        "--client-ca",
        &s(&dir.join("ca.crt")),
    ]);
    assert!(who.status.success(), "{}{}", stdout(&who), stderr(&who));
    let v: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
    let id = v["user"]["extra"]["authentication.kubernetes.io/credential-id"][0].as_str().unwrap().to_owned();
    let hex = id.strip_prefix("X509SHA256=").unwrap();
    assert!(hex.len() == 64 && hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "{id}");
    if openssl() {
        let o = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", &s(&dir.join("admin.crt"))])
            .output()
            .unwrap();
        let fp = stdout(&o);
        let fp = fp.trim().rsplit('=').next().unwrap().replace(':', "").to_ascii_lowercase();
        assert_eq!(hex, fp);
    }
}
