//! The shipped deployment's configuration is valid: `deploy/kubernetes/configmap.yaml`'s
//! `kguard.yaml` parses with the server's own parser, and its limits keep the evaluation budget
//! below the webhooks' timeout; its commented `admission.seccomp` example parses too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;

#[test]
fn the_deployed_kguard_yaml_is_valid() {
    let root = kguard_testkit::repo_root();
    let text = std::fs::read_to_string(root.join("deploy/kubernetes/configmap.yaml")).unwrap();
    let doc = kguard_model::yaml::parse_documents(&text).into_iter().next().unwrap();
    let cm = doc.root.unwrap().unwrap();
    let config_text = cm.pointer("/data/kguard.yaml").and_then(kguard_model::yaml::YamlNode::as_str).unwrap();
    let config = kguard_server::config::Config::parse(
        "configmap.yaml#kguard.yaml",
        config_text,
        Path::new("/etc/kguard/config"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(config.tls.client_ca_file.is_some(), "the deployment authenticates kube-apiserver");
    assert!(!config.listen.ip().is_unspecified(), "the webhooks do not listen on all interfaces");
    let webhooks = std::fs::read_to_string(root.join("deploy/kubernetes/webhooks.yaml")).unwrap();
    for line in webhooks.lines().filter(|l| l.trim_start().starts_with("timeoutSeconds:")) {
        let secs: u64 = line.split(':').nth(1).unwrap().trim().parse().unwrap();
        assert!(config.limits.evaluation_budget_ms < secs * 1000, "budget must be below timeoutSeconds {secs}");
    }
    assert!(config.shutdown_delay_seconds > 0);
    // The commented admission.seccomp example is valid once uncommented.
    assert!(config.admission.seccomp.is_none(), "off in the shipped configuration");
    let uncommented = config_text.replace("  # seccomp:\n", "  seccomp:\n").replace("  #   ", "    ");
    let config = kguard_server::config::Config::parse("configmap.yaml#kguard.yaml", &uncommented, Path::new("/"))
        .unwrap_or_else(|e| panic!("{e}"));
    let sc = config.admission.seccomp.expect("the example block");
    assert_eq!(sc.profile_dir, Path::new("/etc/kguard/seccomp"));
    assert!(sc.deny_weaker_than_runtime_default && sc.exempt_namespaces == ["kube-system"]);
}

/// The Dockerfile builds what the deployment expects: a static binary on `scratch` (nothing else
/// in the image, so a read-only root filesystem holds), started as the numeric non-root user the
/// pod's securityContext names, with the arguments the deployment passes.
#[test]
fn the_dockerfile_matches_the_deployment() {
    let root = kguard_testkit::repo_root();
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let instructions: Vec<&str> =
        dockerfile.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let last_from = instructions.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let last_stage = &instructions[last_from..];
    assert_eq!(last_stage[0], "FROM scratch", "the image holds the binary only");
    assert!(
        instructions.iter().any(|l| l.contains("--target x86_64-unknown-linux-musl")),
        "the binary is static (musl): scratch has no dynamic loader"
    );
    let user = last_stage.iter().find_map(|l| l.strip_prefix("USER ")).expect("USER in the final stage");
    let (uid, gid) = user.split_once(':').expect("USER uid:gid");
    let (uid, gid): (u32, u32) = (uid.parse().expect("numeric uid"), gid.parse().expect("numeric gid"));
    assert_ne!(uid, 0, "non-root");

    let deployment = std::fs::read_to_string(root.join("deploy/kubernetes/deployment.yaml")).unwrap();
    let doc = kguard_model::yaml::parse_documents(&deployment).into_iter().next().unwrap();
    let d = doc.root.unwrap().unwrap();
    let container = d.pointer("/spec/template/spec/containers/0").unwrap();
    let sc = |field: &str| container.pointer(&format!("/securityContext/{field}")).unwrap();
    assert_eq!(sc("runAsUser").as_i64(), Some(i64::from(uid)));
    assert_eq!(sc("runAsGroup").as_i64(), Some(i64::from(gid)));
    assert_eq!(sc("readOnlyRootFilesystem").as_bool(), Some(true));
    let image = container.pointer("/image").and_then(kguard_model::yaml::YamlNode::as_str).unwrap();
    assert!(image.starts_with("ghcr.io/kguard/kguard:"), "{image}");
    assert!(dockerfile.contains(&format!("docker build -t {image} .")), "the Dockerfile says how to build {image}");
    let args: Vec<String> = container
        .pointer("/args")
        .and_then(kguard_model::yaml::YamlNode::as_seq)
        .unwrap()
        .iter()
        .map(|a| format!("\"{}\"", a.as_str().unwrap()))
        .collect();
    let cmd = last_stage.iter().find_map(|l| l.strip_prefix("CMD ")).expect("CMD");
    assert_eq!(cmd, format!("[{}]", args.join(", ")), "the image's default command is the deployment's");
}

/// `deploy/mesh/example-app.yaml` writes out the sidecar `/mutate` injects: each Deployment's
/// first init container and its `kguard-mesh-*` volumes are what `admission.meshInject` (the
/// commented block of `deploy/kubernetes/configmap.yaml`, uncommented) adds for its service
/// account, and each proxy configuration parses.
#[test]
fn the_mesh_example_has_the_injected_sidecar() {
    let root = kguard_testkit::repo_root();
    let cm = std::fs::read_to_string(root.join("deploy/kubernetes/configmap.yaml")).unwrap();
    let doc = kguard_model::yaml::parse_documents(&cm).into_iter().next().unwrap();
    let config_text = doc.root.unwrap().unwrap().pointer("/data/kguard.yaml").unwrap().as_str().unwrap().to_owned();
    let uncommented = config_text.replace("  # meshInject: {", "  meshInject: {");
    let config = kguard_server::config::Config::parse("configmap.yaml#kguard.yaml", &uncommented, Path::new("/"))
        .unwrap_or_else(|e| panic!("{e}"));
    let sidecar = config.admission.mesh_inject.expect("the example block").sidecar();

    let text = std::fs::read_to_string(root.join("deploy/mesh/example-app.yaml")).unwrap();
    let mut deployments = 0;
    let mut configs = 0;
    for doc in kguard_model::yaml::parse_documents(&text) {
        let obj = doc.root.unwrap().unwrap().to_json();
        match obj["kind"].as_str().unwrap() {
            "Deployment" => {
                let spec = &obj["spec"]["template"]["spec"];
                let sa = spec["serviceAccountName"].as_str().unwrap();
                assert_eq!(spec["initContainers"][0], sidecar.container(), "{}", obj["metadata"]["name"]);
                let volumes = spec["volumes"].as_array().unwrap();
                for v in sidecar.volumes(sa) {
                    assert!(volumes.contains(&v), "{v} in {}", obj["metadata"]["name"]);
                }
                deployments += 1;
            }
            "ConfigMap" => {
                let proxy = obj["data"]["proxy.yaml"].as_str().unwrap();
                kguard_mesh::proxy::Config::parse("proxy.yaml", proxy, Path::new("/"))
                    .unwrap_or_else(|e| panic!("{e}"));
                configs += 1;
            }
            _ => {}
        }
    }
    assert_eq!((deployments, configs), (2, 2));
}
