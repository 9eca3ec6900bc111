//! Crash consistency of the audit sink, with the real binary: `kill -9` loops under concurrent
//! POSTs with rotation and compression, and a small tmpfs filled to ENOSPC and freed. Every
//! acknowledged event must be in the log (or a backup) exactly once, and every line must parse.
//! Needs curl; the tmpfs part needs root (mount). Each part says so when it skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{Killed, free_port, pki_init, serve};

/// A PKI and state for the server, and its configuration with the audit log at `log`.
struct Setup {
    dir: kguard_testkit::TempDir,
    port: u16,
    health: u16,
}

fn setup(name: &str, log: &Path, extra: &str) -> Setup {
    let dir = kguard_testkit::TempDir::new(name);
    pki_init(&dir.path().join("pki"));
    let (port, health) = (free_port(), free_port());
    std::fs::write(
        dir.path().join("kguard.yaml"),
        format!(
            "apiVersion: kguard.io/v1alpha1\nkind: ServerConfig\nlisten: 127.0.0.1:{port}\nhealthListen: 127.0.0.1:{health}\n\
             shutdownDelaySeconds: 0\n\
             tls: {{certFile: pki/apiserver.crt, keyFile: pki/apiserver.key, clientCAFile: pki/ca.crt}}\n\
             audit:\n  log: {{path: {}{extra}}}\n",
            log.display()
        ),
    )
    .unwrap();
    Setup { dir, port, health }
}

impl Setup {
    fn start(&self) -> Killed {
        let server = serve(&self.dir.path().join("kguard.yaml"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// What a worker thread needs to post to this server.
    fn poster(&self) -> LocalPost {
        LocalPost { port: self.port, pki: self.dir.path().join("pki") }
    }

    /// POSTs an EventList of `ids`; the HTTP code (0 when the request failed).
    fn post(&self, ids: &[String]) -> u16 {
        self.poster().post(ids)
    }
}

/// Every line of the log and its backups (gzipped or not): auditID → count. Panics on a line
/// that does not parse, or on leftovers of an interrupted compression.
fn logged(dir: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p: PathBuf = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "leftover {name}");
        if !name.starts_with("audit") {
            continue;
        }
        let mut text = String::new();
        if name.ends_with(".gz") {
            flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap()).read_to_string(&mut text).unwrap();
        } else {
            text = std::fs::read_to_string(&p).unwrap();
        }
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}:{}: not JSON ({e}): {line:.80}", i + 1));
            *counts.entry(v["auditID"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

fn check_acked(acked: &[String], counts: &HashMap<String, usize>) {
    let missing: Vec<&String> = acked.iter().filter(|id| !counts.contains_key(*id)).collect();
    let doubled: Vec<&String> = acked.iter().filter(|id| counts.get(*id).is_some_and(|n| *n > 1)).collect();
    assert!(missing.is_empty(), "{} acknowledged events lost, e.g. {:?}", missing.len(), missing.first());
    assert!(doubled.is_empty(), "{} acknowledged events logged twice, e.g. {:?}", doubled.len(), doubled.first());
}

#[test]
fn acknowledged_audit_events_survive_kill_9_during_rotation_and_compression() {
    if !kguard_testkit::tool("curl", "acknowledged_audit_events_survive_kill_9_during_rotation_and_compression") {
        return;
    }
    let scratch = kguard_testkit::TempDir::new("serve-crash-log");
    let log = scratch.path().join("audit.log");
    let s = setup("serve-crash", &log, ", maxSizeMB: 1, compress: true");
    let acked = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(AtomicUsize::new(0));
    let backups = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".log.gz"))
            .count()
    };
    // six kill -9 cycles, and more (up to 16) on a loaded machine until two rotations happened
    let mut cycles = 0;
    for cycle in 0..16 {
        if cycle >= 6 && backups(scratch.path()) >= 2 {
            break;
        }
        cycles += 1;
        let server = s.start();
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (acked, next, stop, local) = (Arc::clone(&acked), Arc::clone(&next), Arc::clone(&stop), s.poster());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let base = next.fetch_add(25, Ordering::SeqCst);
                        let ids: Vec<String> = (base..base + 25).map(|i| format!("e-{i}")).collect();
                        if local.post(&ids) == 200 {
                            acked.lock().unwrap().extend(ids);
                        }
                    }
                })
            })
            .collect();
        // Long enough for several rotations (1 MiB, ~17 KiB per request).
        std::thread::sleep(Duration::from_millis(700 + 150 * cycle));
        drop(server); // SIGKILL while requests are in flight
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
    }
    // One more start runs the repair; then the files are read.
    drop(s.start());
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 1000, "too few events acknowledged to test anything: {}", acked.len());
    let counts = logged(scratch.path());
    check_acked(&acked, &counts);
    assert!(backups(scratch.path()) >= 2, "rotation and compression happened");
    eprintln!("crash test: {} events acknowledged over {cycles} kill -9 cycles, each logged once", acked.len());
}

/// Posting events to a server given by port and PKI directory (what a worker thread needs).
struct LocalPost {
    port: u16,
    pki: PathBuf,
}

impl LocalPost {
    fn post(&self, ids: &[String]) -> u16 {
        let items: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| {
                serde_json::json!({"auditID": id, "stage": "ResponseComplete", "verb": "create", "level": "Metadata",
                    "requestURI": "/api/v1/namespaces/default/configmaps", "user": {"username": "crash-test"},
                    "annotations": {"padding": "x".repeat(600)}})
            })
            .collect();
        let body = serde_json::json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items});
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(self.pki.join("ca.crt"))
            .arg("--cert")
            .arg(self.pki.join("admin.crt"))
            .arg("--key")
            .arg(self.pki.join("admin.key"))
            .args(["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@-"])
            .arg(format!("https://127.0.0.1:{}/audit", self.port))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write as _;
                c.stdin.take().unwrap().write_all(body.to_string().as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
    }
}

#[test]
fn a_full_disk_loses_no_acknowledged_event_and_glues_no_line() {
    if !kguard_testkit::tool("curl", "a_full_disk_loses_no_acknowledged_event_and_glues_no_line") {
        return;
    }
    let mnt = kguard_testkit::TempDir::new("serve-enospc-mnt");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"])
        .arg(mnt.path())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        kguard_testkit::skip(
            "a_full_disk_loses_no_acknowledged_event_and_glues_no_line",
            "cannot mount a tmpfs (needs root)",
        );
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path().to_path_buf());
    let log = mnt.path().join("audit.log");
    let s = setup("serve-enospc", &log, "");
    let _server = s.start();
    // Leave about 300 KiB free.
    let filler = mnt.path().join("filler");
    std::fs::write(&filler, vec![0u8; 2 * 1024 * 1024 - 300 * 1024]).unwrap();
    let mut acked = Vec::new();
    let mut refused = 0;
    let mut n = 0;
    while refused < 3 {
        let ids: Vec<String> = (n..n + 10).map(|i| format!("d-{i}")).collect();
        n += 10;
        match s.post(&ids) {
            200 => acked.extend(ids),
            500 => refused += 1,
            other => panic!("unexpected HTTP {other}"),
        }
        assert!(n < 100_000, "the disk never filled");
    }
    // Space comes back: writes resume, on a line boundary.
    std::fs::remove_file(&filler).unwrap();
    for _ in 0..5 {
        let ids: Vec<String> = (n..n + 10).map(|i| format!("d-{i}")).collect();
        n += 10;
        assert_eq!(s.post(&ids), 200);
        acked.extend(ids);
    }
    let counts = logged(mnt.path());
    check_acked(&acked, &counts);
    let metrics =
        Command::new("curl").arg("-sS").arg(format!("http://127.0.0.1:{}/metrics", s.health)).output().unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(metrics.contains("kguard_audit_log_write_errors_total 3"), "{metrics}");
    eprintln!(
        "ENOSPC test: {} events acknowledged, 3 batches refused, each acknowledged event logged once",
        acked.len()
    );
}
