//! kguard against what kubectl v1.36.2 said to kube-apiserver v1.36.2 (recorded in
//! `tests/kubectl/`; `kube_apiserver.rs` checks live that the recordings still hold):
//!
//! * every row of `kubectl api-resources -o wide` is a row of the table (name, short names,
//!   scope, kind, verbs, categories) and `NAME.GROUP` resolves to it;
//! * every name, short name and kind `kubectl explain` resolves (or does not) resolves to the
//!   same group, version and kind here, with kubectl's warnings;
//! * every manifest of `tests/strict/` gets the same verdict from `check_object` as from
//!   `kubectl create --dry-run=server --validate=strict`: created, the same unknown fields, or no
//!   match for its kind and version.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use kguard_discovery::{KindLookup, lookup_kind, resolve};

fn read(rel: &str) -> String {
    std::fs::read_to_string(tests_dir(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_api_resources_row_is_in_the_table() {
    let rows = parse_api_resources(&read("kubectl/api-resources.txt"));
    assert!(rows.len() >= 60, "{} rows", rows.len());
    let mut problems = Vec::new();
    for row in &rows {
        let KindLookup::Known(r) = lookup_kind(&row.api_version, &row.kind) else {
            problems.push(format!("{} {}: not in the table", row.api_version, row.kind));
            continue;
        };
        let mut verbs: Vec<&str> = r.verbs().collect();
        verbs.sort_unstable();
        let mine = (r.plural, r.short_names.to_vec(), r.namespaced, verbs, r.categories.to_vec());
        let theirs = (
            row.name.as_str(),
            row.short_names.iter().map(String::as_str).collect::<Vec<_>>(),
            row.namespaced,
            row.verbs.iter().map(String::as_str).collect::<Vec<_>>(),
            row.categories.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        if mine != theirs {
            problems.push(format!("{} {}: kguard {mine:?}, kubectl {theirs:?}", row.api_version, row.kind));
        }
        let group = row.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let qualified = if group.is_empty() { row.name.clone() } else { format!("{}.{group}", row.name) };
        let res = resolve(&qualified);
        if (res.group.as_str(), res.resource.as_str()) != (group, row.name.as_str()) || !res.warnings.is_empty() {
            problems.push(format!("{qualified}: resolves to {res:?}"));
        }
    }
    println!("kubectl api-resources: {} of {} rows agree", rows.len() - problems.len(), rows.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn names_resolve_as_kubectl_explain_resolves_them() {
    let explained = parse_explain(&read("kubectl/explain.txt"));
    let rows = parse_api_resources(&read("kubectl/api-resources.txt"));
    assert_eq!(
        explained.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
        explain_names(&rows),
        "the recording asks about every name of the api-resources recording"
    );
    let mut problems = Vec::new();
    for e in &explained {
        let r = resolve(&e.name);
        let mine = r.known.map(|k| (k.api_version(), k.kind.to_owned()));
        if mine != e.resolved {
            problems.push(format!("{}: kguard {mine:?}, kubectl {:?}", e.name, e.resolved));
        } else if e.resolved.is_some() && r.warnings != e.warnings {
            problems.push(format!("{}: kguard warns {:?}, kubectl {:?}", e.name, r.warnings, e.warnings));
        } else if e.resolved.is_none() && r.warnings.is_empty() {
            problems.push(format!("{}: kubectl knows no such resource, kguard does not warn", e.name));
        }
    }
    println!("kubectl explain: {} of {} names resolve alike", explained.len() - problems.len(), explained.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn strict_validation_agrees_with_kubectl() {
    let cases = parse_strict(&read("kubectl/strict.txt"));
    let files: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(tests_dir("strict"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(cases.iter().map(|c| c.file.clone()).collect::<Vec<_>>(), files, "one recorded case per manifest");
    let mut problems = Vec::new();
    for c in &cases {
        let theirs = kubectl_outcome(&c.output);
        assert!(!matches!(theirs, StrictOutcome::Other(_)), "{}: unexpected kubectl output {theirs:?}", c.file);
        let mine = kguard_outcome(&tests_dir(&format!("strict/{}", c.file)));
        if mine != theirs {
            problems.push(format!("{}: kguard {mine:?}, kubectl {theirs:?}", c.file));
        }
    }
    println!("kubectl --validate=strict: {} of {} cases agree", cases.len() - problems.len(), cases.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(cases.len() >= 9);
}

/// kguard's own words for the same manifests (file:line:column, message with its suggestion):
/// `tests/kguard-strict.txt`, rewritten with `KGUARD_RECORD=1`.
#[test]
fn kguard_words_each_case_with_a_suggestion() {
    let mut files: Vec<String> = std::fs::read_dir(tests_dir("strict"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    let mut out = String::new();
    for f in &files {
        let text = read(&format!("strict/{f}"));
        let parsed = kguard_model::load::parse_text(&std::sync::Arc::from(f.as_str()), &text);
        out.push_str(&format!("== {f}\n"));
        for obj in &parsed.objects {
            for d in kguard_discovery::check_object(obj) {
                out.push_str(&format!("{}: {}: {} [{}]\n", d.location, d.level, d.message, d.code));
            }
        }
    }
    let golden = tests_dir("kguard-strict.txt");
    if std::env::var_os("KGUARD_RECORD").is_some_and(|v| v == "1") {
        std::fs::write(&golden, &out).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&golden).unwrap_or_default(), out, "KGUARD_RECORD=1 rewrites it");
    // every unknown field of these cases has a suggestion, and each is right
    for want in [
        r#"deployment-typos.yaml:22:11: warning: Deployment/typos: unknown field "spec.template.spec.containers[0].securityContex"; did you mean "securityContext"?"#,
        r#"deployment-typos.yaml:18:7: warning: Deployment/typos: unknown field "spec.template.spec.image"; did you mean "spec.template.spec.containers[*].image"?"#,
        r#"deployment-containers-misplaced.yaml:9:3: warning: Deployment/flat: unknown field "spec.containers"; did you mean "spec.template.spec.containers"?"#,
        r#"pod-misplaced.yaml:8:5: warning: Pod/misplaced: unknown field "spec.securityContext.capabilities"; did you mean "spec.containers[*].securityContext.capabilities"?"#,
        r#"pod-misplaced.yaml:14:7: warning: Pod/misplaced: unknown field "spec.containers[0].hostPID"; did you mean "spec.hostPID"?"#,
        r#"kind-typo.yaml:2:1: warning: Deploymnet/kind-typo: no matches for kind "Deploymnet" in version "apps/v1" (Kubernetes v1.37); did you mean "Deployment"?"#,
    ] {
        assert!(out.contains(want), "{want}\nnot in\n{out}");
    }
}
