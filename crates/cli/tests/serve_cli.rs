//! `kguard serve` as a process: certificates from `kguard pki init`, requests from `curl --cacert`
//! with a client certificate, and audit events that survive a `kill -9` of the server right after
//! their 200. Skips (saying why) only when curl is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

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
    if Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_err() {
        eprintln!("SKIPPED serve_answers_curl_and_audit_survives_kill_9: curl is not installed");
        return;
    }
    let dir = kguard_testkit::TempDir::new("serve-cli");
    let pki = dir.path().join("pki");
    let exe = env!("CARGO_BIN_EXE_kguard");
    let init = Command::new(exe)
        .args(["pki", "init"])
        .arg(&pki)
        .args(["--san", "localhost", "--san", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
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
    let child = Command::new(exe)
        .args(["serve", "--config"])
        .arg(dir.path().join("kguard.yaml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Killed(child);
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
