//! np-guard/netpol-analyzer's connectivity lists as the oracle for the NetworkPolicy engine.
//!
//! Reads `../shared/oracles/netpol/{v1,admin}/<case>/input/` (files named `*output*` are
//! np-guard's own outputs and are skipped) and compares our txt output byte for byte with
//! `expected_connlist.txt`, and json/csv/md where upstream has them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use kguard_model::Object;
use kguard_netpol::{Format, connlist};

/// Loads every manifest of a case's `input/` folder, np-guard's own output files excepted.
fn load_case(dir: &Path) -> Vec<Object> {
    let (inputs, _diags) = kguard_model::load::expand_paths(&[dir.join("input")]);
    let mut objects = Vec::new();
    for input in inputs {
        if let kguard_model::load::Input::File(p) = &input
            && p.file_name().is_some_and(|n| n.to_string_lossy().contains("output"))
        {
            continue;
        }
        let text = kguard_model::load::read_input(&input).unwrap();
        let file: std::sync::Arc<str> = input.display_name().into();
        kguard_model::yaml::for_each_document(&text, |doc| {
            if let Ok(Some(root)) = doc.root {
                objects.extend(kguard_netpol::model::document_objects(root, &file, doc.index).0);
            }
        });
    }
    objects
}

fn cases(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}

/// Runs one case; returns the list of mismatching formats (empty: pass).
fn run_case(dir: &Path, check_naive: bool) -> Vec<String> {
    let objects = load_case(dir);
    let analysis = kguard_netpol::analyze(&objects);
    let mut failures = Vec::new();
    for (fmt, ext) in [(Format::Txt, "txt"), (Format::Json, "json"), (Format::Csv, "csv"), (Format::Md, "md")] {
        let path = dir.join(format!("expected_connlist.{ext}"));
        let Ok(expected) = std::fs::read_to_string(&path) else { continue };
        let got = analysis.render(fmt);
        if got != expected {
            let diff: Vec<String> = {
                let e: std::collections::BTreeSet<&str> = expected.lines().collect();
                let g: std::collections::BTreeSet<&str> = got.lines().collect();
                e.difference(&g)
                    .take(4)
                    .map(|l| format!("  - {l}"))
                    .chain(g.difference(&e).take(4).map(|l| format!("  + {l}")))
                    .collect()
            };
            failures.push(format!("{ext}:\n{}", diff.join("\n")));
        }
    }
    if check_naive {
        let naive = connlist::connlist_naive(&analysis.cluster);
        if naive != analysis.connections {
            failures.push("naive and class-based evaluators disagree".to_owned());
        }
    }
    failures
}

/// Failing cases: name and what differs.
type Failures = Vec<(String, Vec<String>)>;

fn run_suite(rel: &str) -> Option<(usize, Failures)> {
    let root = kguard_testkit::shared_path(rel)?;
    let all = cases(&root);
    let mut failed = Vec::new();
    for dir in &all {
        let f = run_case(dir, true);
        if !f.is_empty() {
            failed.push((dir.file_name().unwrap().to_string_lossy().into_owned(), f));
        }
    }
    Some((all.len(), failed))
}

#[test]
fn netpol_v1_oracle() {
    let Some((total, failed)) = run_suite("oracles/netpol/v1") else { return };
    for (name, f) in &failed {
        eprintln!("FAIL {name}:\n{}", f.join("\n"));
    }
    println!("netpol v1 oracle: {} passed, {} failed of {total}", total - failed.len(), failed.len());
    assert!(failed.is_empty(), "{} v1 cases fail", failed.len());
    assert_eq!(total, 42, "np-guard's v1 suite has 42 cases");
}

/// AdminNetworkPolicy / BaselineAdminNetworkPolicy cases: all 54 must agree.
#[test]
fn netpol_admin_oracle() {
    let Some((total, failed)) = run_suite("oracles/netpol/admin") else { return };
    for (name, f) in &failed {
        eprintln!("FAIL {name}:\n{}", f.join("\n"));
    }
    let passed = total - failed.len();
    println!("netpol admin oracle: {passed} passed, {} failed of {total}", failed.len());
    assert!(failed.is_empty(), "{} admin cases fail", failed.len());
    assert_eq!(total, ADMIN_CASES, "np-guard's admin suite has {ADMIN_CASES} cases");
}

/// Admin cases known to pass (raise when more pass).
const ADMIN_CASES: usize = 54;
