//! The crate graph guard: every dependency between kguard's crates must be an edge that
//! ARCHITECTURE.md allows (its table between the `crate-graph` markers), every workspace crate
//! must have a row there, and the crates that may speak HTTP or know clap are the ones the
//! document names. Reads `cargo metadata --no-deps` (declared dependencies, as written in each
//! Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Crates of the outside world that only the faces may use: HTTP, TLS, the Kubernetes API
/// client and async runtimes belong to `server`; the command line to `cli`.
const ONLY: &[(&str, &[&str])] = &[
    (
        "server",
        &["hyper", "hyper-util", "http-body-util", "tokio", "tokio-rustls", "rustls", "ureq", "kube", "k8s-openapi"],
    ),
    ("cli", &["clap", "anstream", "indicatif"]),
];

/// `crate -> crates it may depend on`, from the ARCHITECTURE.md table.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(kguard_testkit::repo_root().join("ARCHITECTURE.md")).unwrap();
    let start = doc.find("<!-- crate-graph:begin -->").expect("ARCHITECTURE.md: crate-graph:begin marker");
    let end = doc.find("<!-- crate-graph:end -->").expect("ARCHITECTURE.md: crate-graph:end marker");
    let mut out = BTreeMap::new();
    for line in doc[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(
            cells.len(),
            3,
            "ARCHITECTURE.md crate-graph row {line:?}: expected | crate | layer | may depend on |"
        );
        let name = cells[0].trim_matches('`').to_owned();
        let deps = cells[2]
            .split(',')
            .map(|d| d.trim().trim_matches('`').to_owned())
            .filter(|d| !d.is_empty() && d != "—")
            .collect();
        assert!(out.insert(name.clone(), deps).is_none(), "ARCHITECTURE.md: {name} has two rows");
    }
    assert!(out.len() >= 10, "ARCHITECTURE.md crate-graph table not found or too short: {out:?}");
    out
}

/// One crate's declared dependencies.
#[derive(Default)]
struct Deps {
    /// Normal and build dependencies on kguard crates.
    normal: BTreeSet<String>,
    /// Dev-dependencies on kguard crates.
    dev: BTreeSet<String>,
    /// Normal and build dependencies on other crates.
    external: BTreeSet<String>,
}

/// `crate -> its declared dependencies`.
fn declared() -> BTreeMap<String, Deps> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(kguard_testkit::repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut graph = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().strip_prefix("kguard-").expect("kguard- crate").to_owned();
        let mut deps = Deps::default();
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            let kind = d["kind"].as_str();
            match (dep.strip_prefix("kguard-"), kind) {
                (Some(k), Some("dev")) => {
                    deps.dev.insert(k.to_owned());
                }
                (Some(k), _) => {
                    deps.normal.insert(k.to_owned());
                }
                (None, Some("dev")) => {}
                (None, _) => {
                    deps.external.insert(dep.to_owned());
                }
            }
        }
        graph.insert(name, deps);
    }
    graph
}

#[test]
fn every_crate_edge_is_allowed_by_architecture_md() {
    let allowed = allowed();
    let declared = declared();
    let mut problems = Vec::new();
    for (krate, Deps { normal, dev, .. }) in &declared {
        let Some(ok) = allowed.get(krate) else {
            problems.push(format!("{krate}: no row in ARCHITECTURE.md's crate graph"));
            continue;
        };
        for dep in normal.difference(ok) {
            problems.push(format!("{krate} -> {dep}: not an allowed edge (ARCHITECTURE.md, crate graph)"));
        }
        for dep in dev {
            if matches!(dep.as_str(), "server" | "cli") {
                problems.push(format!("{krate} -> {dep} (dev): no crate's tests may depend on the faces"));
            }
        }
    }
    for krate in allowed.keys() {
        if !declared.contains_key(krate) {
            problems.push(format!("ARCHITECTURE.md names {krate}, which is not a workspace crate"));
        }
    }
    assert!(problems.is_empty(), "crate graph:\n{}", problems.join("\n"));
}

#[test]
fn http_clap_and_async_stay_in_the_faces() {
    let declared = declared();
    let mut problems = Vec::new();
    for (owner, externals) in ONLY {
        for (krate, Deps { external, .. }) in &declared {
            if krate == owner {
                continue;
            }
            for dep in externals.iter().filter(|e| external.contains(**e)) {
                problems.push(format!("{krate} depends on {dep}: only {owner} may"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_guard_sees_a_forbidden_edge() {
    // The checker itself: a domain depending on the server would be reported.
    let allowed = allowed();
    let podsec = &allowed["podsec"];
    assert!(!podsec.contains("server") && !podsec.contains("authz"), "{podsec:?}");
    assert!(allowed["server"].contains("admission"));
}
