//! `admission.seccomp` through the real server: pods whose Localhost seccomp profile the
//! configured profile directory lacks, cannot parse, or finds weaker than RuntimeDefault are
//! denied over HTTPS with kube-apiserver's message shape; a profile that does not parse does not
//! stop the server; the directory is reloaded when it changes, and a directory that cannot be
//! read keeps the previous set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{CONFIG_HEAD, Client, http_get, pod, review, write_pki};
use kguard_testkit::TempDir;

const STRICT: &str = r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#;

fn localhost_pod(name: &str, profile: &str) -> Value {
    let mut p = pod(name, "default", "app:1");
    p["spec"]["containers"][0]["securityContext"] =
        json!({"seccompProfile": {"type": "Localhost", "localhostProfile": profile}});
    p
}

async fn validate(client: &Client, addr: SocketAddr, object: Value) -> Value {
    let (code, v) = client.post(addr, "/validate", review("pods", "Pod", "CREATE", object, "alice")).await.unwrap();
    assert_eq!(code, 200, "{v}");
    v["response"].clone()
}

/// Polls until the pod's answer is `allowed` (a reload happened), or fails after 15 s.
async fn until_allowed(client: &Client, addr: SocketAddr, object: &Value, allowed: bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = validate(client, addr, object.clone()).await;
        if r["allowed"] == allowed {
            return r;
        }
        assert!(Instant::now() < deadline, "no reload to allowed={allowed}: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_profiles_are_checked_against_the_profile_dir() {
    let dir = TempDir::new("serve-seccomp");
    let pki = write_pki(dir.path());
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(profiles.join("team")).unwrap();
    std::fs::write(profiles.join("team/strict.json"), STRICT).unwrap();
    std::fs::write(profiles.join("team/weak.json"), r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
    std::fs::write(profiles.join("team/broken.json"), "{\n  \"defaultAction\": \"SCMP_ACT_NOPE\"\n}\n").unwrap();
    std::fs::write(
        dir.path().join("kguard.yaml"),
        format!(
            "{CONFIG_HEAD}admission:\n  seccomp:\n    profileDir: profiles\n    denyWeakerThanRuntimeDefault: true\n    architecture: x86_64\n"
        ),
    )
    .unwrap();
    // --check-like build first: the broken profile is a warning, not an error
    let rt = kguard_server::state::Runtime::build(
        kguard_server::state::read_config(&dir.path().join("kguard.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(rt.warnings.len(), 1, "{:?}", rt.warnings);
    assert!(rt.warnings[0].starts_with("seccomp profile team/broken.json: "), "{:?}", rt.warnings);
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    let addr = server.addr;

    let r = validate(&client, addr, localhost_pod("ok", "team/strict.json")).await;
    assert_eq!(r["allowed"], true, "{r}");
    let r = validate(&client, addr, localhost_pod("web", "team/none.json")).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(r["status"]["code"], 403);
    assert_eq!(r["status"]["reason"], "Forbidden");
    let want = format!(
        "pods \"web\" is forbidden: Localhost seccomp profile not usable: container \"app\": \
         /var/lib/kubelet/seccomp/team/none.json does not exist (team/none.json not found in {})",
        profiles.display()
    );
    assert_eq!(r["status"]["message"], want.as_str());
    assert!(r["auditAnnotations"]["seccomp-localhost"].as_str().unwrap().starts_with("Localhost seccomp profile"));
    let r = validate(&client, addr, localhost_pod("bad", "team/broken.json")).await;
    let m = r["status"]["message"].as_str().unwrap();
    assert!(
        m.contains("team/broken.json is not a valid seccomp profile: ")
            && m.contains(&format!("{}/team/broken.json:2:", profiles.display())),
        "the parse error with file:line: {m}"
    );
    let r = validate(&client, addr, localhost_pod("weak", "team/weak.json")).await;
    assert_eq!(r["allowed"], false, "denyWeakerThanRuntimeDefault: {r}");
    // an ephemeral container added through the subresource is reviewed too
    let mut debug = localhost_pod("ok", "team/strict.json");
    debug["spec"]["ephemeralContainers"] = json!([{"name": "dbg", "image": "busybox:1",
        "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "team/none.json"}}}]);
    let mut body: Value = serde_json::from_slice(&review("pods", "Pod", "UPDATE", debug, "alice")).unwrap();
    body["request"]["subResource"] = json!("ephemeralcontainers");
    body["request"]["oldObject"] = localhost_pod("ok", "team/strict.json");
    let (_, v) = client.post(addr, "/validate", serde_json::to_vec(&body).unwrap()).await.unwrap();
    let m = v["response"]["status"]["message"].as_str().unwrap_or_default();
    assert!(m.contains("container \"dbg\": /var/lib/kubelet/seccomp/team/none.json does not exist"), "{v}");

    // a profile installed later is picked up at the next reload
    let later = localhost_pod("later", "team/none.json");
    std::fs::write(profiles.join("team/none.json"), STRICT).unwrap();
    until_allowed(&client, addr, &later, true).await;
    // and one removed is missing again
    std::fs::remove_file(profiles.join("team/strict.json")).unwrap();
    until_allowed(&client, addr, &localhost_pod("ok", "team/strict.json"), false).await;
    // a directory that cannot be read fails the reload: the previous set stays
    std::fs::rename(&profiles, dir.path().join("moved")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let metrics = http_get(server.health_addr, "/metrics").await;
        if metrics.contains("kguard_reloads_total{result=\"failure\"} 1") {
            break;
        }
        assert!(Instant::now() < deadline, "no failed reload: {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = validate(&client, addr, later.clone()).await;
    assert_eq!(r["allowed"], true, "the previous profile set is kept: {r}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_profile_dir_stops_the_start() {
    let dir = TempDir::new("serve-seccomp-missing");
    write_pki(dir.path());
    std::fs::write(
        dir.path().join("kguard.yaml"),
        format!("{CONFIG_HEAD}admission:\n  seccomp: {{profileDir: nowhere}}\n"),
    )
    .unwrap();
    let Err(e) = kguard_server::start(&dir.path().join("kguard.yaml")).await else {
        panic!("started without its profile directory");
    };
    let e = e.to_string();
    assert!(
        e.starts_with(&format!("admission.seccomp.profileDir: {}/nowhere: No such file", dir.path().display())),
        "{e}"
    );
}
