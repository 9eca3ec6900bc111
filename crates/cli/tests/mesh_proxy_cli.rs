//! `kguard mesh proxy` as a process: identities from `kguard mesh ca` and `kguard mesh issue`,
//! `--check` (a summary, or the configuration's error at line:column and exit 2), and a pair of
//! proxies carrying a plaintext client's bytes over mTLS to an echo server, then stopped by
//! SIGTERM with exit 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::{BufRead as _, Read as _, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::free_port;

fn kguard(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).args(args).current_dir(dir).output().unwrap()
}

/// `kguard mesh ca` and one `kguard mesh issue` per service account, in `dir/pki`.
fn pki(dir: &Path, accounts: &[&str]) {
    let out = kguard(&["mesh", "ca", "--out", "pki"], dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for sa in accounts {
        let out = kguard(
            &["mesh", "issue", "--ca", "pki", "--namespace", "shop", "--service-account", sa, "--out", "pki"],
            dir,
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn config(sa: &str, body: &str, admin: u16) -> String {
    format!(
        "apiVersion: kguard.io/v1alpha1\nkind: MeshProxyConfig\nidentity:\n  cert: pki/shop.{sa}.crt\n  key: pki/shop.{sa}.key\n  bundle: pki/ca.crt\n\
         admin:\n  listen: 127.0.0.1:{admin}\n{body}"
    )
}

#[test]
fn check_prints_a_summary_or_the_error_at_line_and_column() {
    let dir = kguard_testkit::TempDir::new("mesh-proxy-check");
    pki(dir.path(), &["api"]);
    let good = config("api", "inbound:\n- {port: 15006, appPort: 8080, mode: STRICT}\n", 15020);
    std::fs::write(dir.path().join("proxy.yaml"), good).unwrap();
    let out = kguard(&["mesh", "proxy", "--check", "--config", "proxy.yaml"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.starts_with("proxy.yaml: ok (identity spiffe://cluster.local/ns/shop/sa/api, valid until Unix ")
            && stdout.ends_with(", 1 inbound port(s), 0 outbound route(s))\n"),
        "{stdout}"
    );
    let bad = config("api", "inbound:\n- port: 15006\n  appPort: 8080\n  mode: strict\n", 15020);
    std::fs::write(dir.path().join("bad.yaml"), bad).unwrap();
    let out = kguard(&["mesh", "proxy", "--check", "--config", "bad.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: bad.yaml:12:3: unknown variant `strict`, expected one of `STRICT`"), "{stderr}");
    // An identity file that is no SVID leaf: the CA certificate.
    let wrong = config("api", "inbound:\n- {port: 15006, appPort: 8080, mode: STRICT}\n", 15020)
        .replace("pki/shop.api.crt", "pki/ca.crt");
    std::fs::write(dir.path().join("wrong.yaml"), wrong).unwrap();
    let out = kguard(&["mesh", "proxy", "--check", "--config", "wrong.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pki/ca.crt: not an X.509-SVID: a leaf SVID's SPIFFE ID must have a non-root path"),
        "{stderr}"
    );
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, file: &str) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .args(["mesh", "proxy", "--log-format", "text", "--config", file])
        .current_dir(dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Killed(child)
}

fn wait_for(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_proxy_pair_carries_bytes_and_stops_on_sigterm() {
    let dir = kguard_testkit::TempDir::new("mesh-proxy-run");
    pki(dir.path(), &["api", "web"]);
    let echo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in echo.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
        }
    });
    let (inbound, outbound, admin_api, admin_web) = (free_port(), free_port(), free_port(), free_port());
    let api = config(
        "api",
        &format!("inbound:\n- {{port: {inbound}, address: 127.0.0.1, appPort: {app}, mode: STRICT}}\n"),
        admin_api,
    );
    let web = config(
        "web",
        &format!(
            "outbound:\n- {{listen: '127.0.0.1:{outbound}', to: '127.0.0.1:{inbound}', identity: spiffe://cluster.local/ns/shop/sa/api}}\n"
        ),
        admin_web,
    );
    std::fs::write(dir.path().join("api.yaml"), api).unwrap();
    std::fs::write(dir.path().join("web.yaml"), web).unwrap();
    let mut api = start(dir.path(), "api.yaml");
    let mut web = start(dir.path(), "web.yaml");
    wait_for(&format!("127.0.0.1:{admin_api}"));
    wait_for(&format!("127.0.0.1:{admin_web}"));
    let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{outbound}")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"over mTLS\n").unwrap();
    let mut line = String::new();
    std::io::BufReader::new(&s).read_line(&mut line).unwrap();
    assert_eq!(line, "over mTLS\n");
    drop(s);
    let mut ready = std::net::TcpStream::connect(format!("127.0.0.1:{admin_api}")).unwrap();
    ready.write_all(b"GET /ready HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    ready.read_to_string(&mut answer).unwrap();
    assert!(answer.contains(" 200 "), "{answer}");
    for p in [&mut api, &mut web] {
        let term = Command::new("kill").args(["-TERM", &p.0.id().to_string()]).status().unwrap();
        assert!(term.success());
        let mut err = String::new();
        p.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let status = p.0.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{err}");
        assert!(err.contains("info    kguard mesh proxy: identity spiffe://cluster.local/ns/shop/sa/"), "{err}");
        assert!(err.contains("mesh proxy: stopped"), "{err}");
    }
}
