//! `kguard serve` as a process: certificates from `kguard pki init`, requests from `curl --cacert`
//! with a client certificate, and audit events that survive a `kill -9` of the server right after
//! their 200. Skips (saying why) only when curl is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{free_port, pki_init, serve};

fn curl(pki: &Path, url: &str, body: Option<&str>) -> (String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "-w", "\n%{http_code}", "--cacert"]).arg(pki.join("ca.crt"));
    cmd.arg("--cert").arg(pki.join("admin.crt")).arg("--key").arg(pki.join("admin.key"));
    if let Some(b) = body {
        cmd.args(["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", b]);
    }
    let out = cmd.arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_owned(), code.to_owned())
}

#[test]
fn serve_answers_curl_and_audit_survives_kill_9() {
    if !kguard_testkit::tool("curl", "serve_answers_curl_and_audit_survives_kill_9") {
        return;
    }
    let dir = kguard_testkit::TempDir::new("serve-cli");
    let pki = dir.path().join("pki");
    let exe = env!("CARGO_BIN_EXE_kguard");
    pki_init(&pki);
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(
        dir.path().join("state/ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: strict\n  labels: {pod-security.kubernetes.io/enforce: restricted}\n",
    )
    .unwrap();
    let (port, health) = (free_port(), free_port());
    std::fs::write(
        dir.path().join("kguard.yaml"),
        format!(
            "apiVersion: kguard.io/v1alpha1\nkind: ServerConfig\nlisten: 127.0.0.1:{port}\nhealthListen: 127.0.0.1:{health}\n\
             tls: {{certFile: pki/apiserver.crt, keyFile: pki/apiserver.key, clientCAFile: pki/ca.crt}}\n\
             state: {{dir: state}}\naudit: {{log: {{path: audit/audit.log}}}}\n"
        ),
    )
    .unwrap();
    let check =
        Command::new(exe).args(["serve", "--check", "--config"]).arg(dir.path().join("kguard.yaml")).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let mut server = serve(&dir.path().join("kguard.yaml"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = Command::new("curl")
            .args(["-sf", "--max-time", "2", &format!("http://127.0.0.1:{health}/healthz")])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "kguard serve did not become healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
    let base = format!("https://127.0.0.1:{port}");

    let review = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"c-1",
        "kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},
        "name":"web","namespace":"strict","operation":"CREATE","userInfo":{"username":"alice"},
        "object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"strict"},
                  "spec":{"containers":[{"name":"app","image":"nginx:1.27","securityContext":{"privileged":true}}]}}}}"#;
    let (body, code) = curl(&pki, &format!("{base}/validate"), Some(review));
    assert_eq!(code, "200", "{body}");
    assert!(
        body.contains(r#""allowed":false"#)
            && body.contains("violates PodSecurity \\\"restricted:latest\\\": privileged"),
        "{body}"
    );

    let (body, code) = curl(&pki, &format!("{base}/validate"), Some("{oops"));
    assert_eq!(code, "400", "{body}");
    assert!(body.contains(r#""kind":"Status""#), "{body}");

    let mut items = Vec::new();
    for i in 0..50 {
        items.push(format!(
            r#"{{"level":"Metadata","auditID":"kill9-{i}","stage":"ResponseComplete","verb":"get","requestURI":"/api/v1/pods","user":{{"username":"u"}}}}"#
        ));
    }
    let events = format!(r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{}]}}"#, items.join(","));
    let (body, code) = curl(&pki, &format!("{base}/audit"), Some(&events));
    assert_eq!(code, "200", "{body}");
    // SIGKILL right after the 200: nothing gets a chance to flush.
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("audit/audit.log")).unwrap();
    for i in 0..50 {
        assert!(log.contains(&format!("\"auditID\":\"kill9-{i}\"")), "event {i} lost");
    }
    assert_eq!(log.lines().count(), 50);
}

/// Runs the server with `flags` until it logged its start line or `wait` passed, stops it with
/// SIGTERM, and returns what it wrote on stderr.
fn serve_log(dir: &Path, flags: &[&str], wait: Duration) -> String {
    use std::io::Read as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["serve", "--config"])
        .arg(dir.join("kguard.yaml"))
        .args(flags)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let health = std::fs::read_to_string(dir.join("health-port")).unwrap();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(format!("127.0.0.1:{health}")).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    err
}

#[test]
fn serve_logs_at_info_as_json_by_default_with_level_and_text_flags() {
    let dir = kguard_testkit::TempDir::new("serve-log");
    let pki = dir.path().join("pki");
    pki_init(&pki);
    let (port, health) = (free_port(), free_port());
    std::fs::write(dir.path().join("health-port"), health.to_string()).unwrap();
    std::fs::write(
        dir.path().join("kguard.yaml"),
        format!(
            "apiVersion: kguard.io/v1alpha1\nkind: ServerConfig\nlisten: 127.0.0.1:{port}\nhealthListen: 127.0.0.1:{health}\n\
             tls: {{certFile: pki/apiserver.crt, keyFile: pki/apiserver.key, clientCAFile: pki/ca.crt}}\nshutdownDelaySeconds: 0\n"
        ),
    )
    .unwrap();
    let wait = Duration::from_secs(30);
    // Default: info and up, one JSON object per line.
    let err = serve_log(dir.path(), &[], wait);
    let lines: Vec<serde_json::Value> =
        err.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "info" && l["msg"].as_str().unwrap().starts_with("kguard serve: webhooks on")),
        "{err}"
    );
    assert!(lines.iter().all(|l| l["level"] != "debug" && l["ts"].is_string()), "{err}");
    // Text lines.
    let err = serve_log(dir.path(), &["--log-format", "text"], wait);
    assert!(err.lines().any(|l| l.contains("Z info    kguard serve: webhooks on")), "{err}");
    // Warning and up: a clean start and stop says nothing.
    let err = serve_log(dir.path(), &["--log-level", "warning"], wait);
    assert_eq!(err, "");
    // A level that does not exist is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_kguard")).args(["serve", "--log-level", "verbose"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected debug, info, warning or error"));
}
