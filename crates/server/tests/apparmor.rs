//! `admission.apparmor` through the real server: pods whose Localhost AppArmor profile the
//! nodes have not loaded, or have loaded in complain mode, are denied over HTTPS with
//! kube-apiserver's message shape (as `admission.seccomp`); the container field, the legacy
//! annotation and the pod field are resolved as the kubelet does; the list is reloaded when it
//! changes; a directory of profile sources works as well; a missing list stops the start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{CONFIG_HEAD, Client, pod, review, write_pki};
use kguard_testkit::TempDir;

fn localhost_pod(name: &str, profile: &str) -> Value {
    let mut p = pod(name, "default", "app:1");
    p["spec"]["containers"][0]["securityContext"] =
        json!({"appArmorProfile": {"type": "Localhost", "localhostProfile": profile}});
    p
}

async fn validate(client: &Client, addr: SocketAddr, object: Value) -> Value {
    let (code, v) = client.post(addr, "/validate", review("pods", "Pod", "CREATE", object, "alice")).await.unwrap();
    assert_eq!(code, 200, "{v}");
    v["response"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_profiles_are_checked_against_the_loaded_list() {
    let dir = TempDir::new("serve-apparmor");
    let pki = write_pki(dir.path());
    let list = dir.path().join("profiles");
    std::fs::write(&list, "k8s-web (enforce)\nk8s-dev (complain)\n").unwrap();
    std::fs::write(
        dir.path().join("kguard.yaml"),
        format!("{CONFIG_HEAD}admission:\n  apparmor:\n    profiles: profiles\n    exemptNamespaces: [kube-system]\n"),
    )
    .unwrap();
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    let addr = server.addr;

    let r = validate(&client, addr, localhost_pod("ok", "k8s-web")).await;
    assert_eq!(r["allowed"], true, "{r}");
    let r = validate(&client, addr, localhost_pod("web", "k8s-none")).await;
    assert_eq!((r["allowed"].clone(), r["status"]["code"].clone()), (json!(false), json!(403)), "{r}");
    let want = format!(
        "pods \"web\" is forbidden: Localhost AppArmor profile not usable: container \"app\": \
         profile \"k8s-none\" is not loaded (2 profile(s) in {})",
        list.display()
    );
    assert_eq!(r["status"]["message"], want.as_str());
    assert!(r["auditAnnotations"]["apparmor-localhost"].as_str().unwrap().starts_with("Localhost AppArmor profile"));
    let r = validate(&client, addr, localhost_pod("dev", "k8s-dev")).await;
    let m = r["status"]["message"].as_str().unwrap();
    assert!(m.contains(&format!("profile \"k8s-dev\" is in complain mode ({}:2)", list.display())), "{m}");
    // the container field beats the annotation, the annotation beats the pod field
    let mut p = localhost_pod("prec", "k8s-web");
    p["metadata"]["annotations"] = json!({"container.apparmor.security.beta.kubernetes.io/app": "localhost/k8s-none"});
    assert_eq!(validate(&client, addr, p.clone()).await["allowed"], true);
    p["spec"]["containers"][0]["securityContext"] = json!({});
    p["spec"]["securityContext"] = json!({"appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-web"}});
    assert_eq!(validate(&client, addr, p.clone()).await["allowed"], false);
    p["metadata"]["annotations"] = json!({});
    assert_eq!(validate(&client, addr, p).await["allowed"], true);
    // exempt namespaces are not reviewed
    let mut sys = localhost_pod("sys", "k8s-none");
    sys["metadata"]["namespace"] = json!("kube-system");
    let body = review("pods", "Pod", "CREATE", sys, "alice");
    let mut body: Value = serde_json::from_slice(&body).unwrap();
    body["request"]["namespace"] = json!("kube-system");
    let (_, v) = client.post(addr, "/validate", serde_json::to_vec(&body).unwrap()).await.unwrap();
    assert_eq!(v["response"]["allowed"], true, "{v}");

    // a profile loaded later is picked up at the next reload
    std::fs::write(&list, "k8s-web (enforce)\nk8s-dev (complain)\nk8s-none (enforce)\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while validate(&client, addr, localhost_pod("web", "k8s-none")).await["allowed"] != true {
        assert!(Instant::now() < deadline, "no reload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_sources_and_warn_mode() {
    let dir = TempDir::new("serve-apparmor-src");
    let pki = write_pki(dir.path());
    let src = dir.path().join("apparmor.d");
    std::fs::create_dir_all(src.join("tunables")).unwrap();
    std::fs::write(src.join("tunables/global"), "@{PROC}=/proc/\n").unwrap();
    std::fs::write(src.join("k8s-web"), "include <tunables/global>\nprofile k8s-web { @{PROC}/** r, }\n").unwrap();
    std::fs::write(src.join("k8s-dev"), "profile k8s-dev flags=(complain) { }\n").unwrap();
    std::fs::write(src.join("broken"), "profile broken {\n").unwrap();
    std::fs::write(
        dir.path().join("kguard.yaml"),
        format!("{CONFIG_HEAD}admission:\n  apparmor: {{profiles: apparmor.d, denyNotEnforced: false}}\n"),
    )
    .unwrap();
    let rt = kguard_server::state::Runtime::build(
        kguard_server::state::read_config(&dir.path().join("kguard.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(rt.warnings.len(), 1, "{:?}", rt.warnings);
    assert!(rt.warnings[0].starts_with("apparmor profile source "), "{:?}", rt.warnings);
    let server = kguard_server::start(&dir.path().join("kguard.yaml")).await.unwrap();
    let client = Client::new(&pki, true);
    let addr = server.addr;
    assert_eq!(validate(&client, addr, localhost_pod("ok", "k8s-web")).await["allowed"], true);
    let r = validate(&client, addr, localhost_pod("dev", "k8s-dev")).await;
    assert_eq!(r["allowed"], true, "denyNotEnforced: false warns: {r}");
    assert!(r["warnings"][0].as_str().unwrap().starts_with("Localhost AppArmor profile not enforced: "), "{r}");
    let r = validate(&client, addr, localhost_pod("no", "broken")).await;
    assert!(r["status"]["message"].as_str().unwrap().contains("1 source file(s) did not parse"), "{r}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_profile_list_stops_the_start() {
    let dir = TempDir::new("serve-apparmor-missing");
    write_pki(dir.path());
    std::fs::write(
        dir.path().join("kguard.yaml"),
        format!("{CONFIG_HEAD}admission:\n  apparmor: {{profiles: nowhere}}\n"),
    )
    .unwrap();
    let Err(e) = kguard_server::start(&dir.path().join("kguard.yaml")).await else {
        panic!("started without its profile list");
    };
    let e = e.to_string();
    assert!(
        e.starts_with(&format!("admission.apparmor.profiles: {}/nowhere: No such file", dir.path().display())),
        "{e}"
    );
}
