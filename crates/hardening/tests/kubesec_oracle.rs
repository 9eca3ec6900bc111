//! kubesec oracle: the score signs asserted by kubesec's bats tests (`../shared/oracles/kubesec`,
//! `expectations.json`), on kubesec's own test assets, read in place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use kguard_hardening::kubesec;
use kguard_model::load::parse_text;
use serde_json::Value;

#[test]
fn kubesec_oracle() {
    let Some(root) = kguard_testkit::shared_path("oracles/kubesec") else { return };
    let expectations: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("expectations.json")).unwrap()).unwrap();
    let cases = expectations["cases"].as_array().unwrap();
    let mut passed = 0;
    let mut failures = Vec::new();
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let expect = case["expect"].as_str().unwrap();
        let text = std::fs::read_to_string(root.join("asset").join(file)).unwrap();
        let parsed = parse_text(&Arc::from(file), &text);
        let results = kubesec::score(&parsed.objects);
        // The bats helpers read the score of the whole report: every document of these files
        // is summed (all but a few hold a single document).
        let total: i64 = results.iter().map(|r| r.score).sum();
        let ok = match expect {
            "score > 0" => total > 0,
            "score == 0" => total == 0,
            "score < 0" => total < 0,
            other => panic!("unknown expectation {other}"),
        };
        if ok {
            passed += 1;
        } else {
            let detail: Vec<_> =
                results.iter().map(|r| format!("{} = {} ({})", r.object, r.score, r.message)).collect();
            failures.push(format!("{file}: expected {expect}, got {total}: {detail:?}"));
        }
    }
    println!("kubesec oracle: {passed} passed of {}", cases.len());
    assert!(failures.is_empty(), "kubesec oracle failures:\n{}", failures.join("\n"));
    assert_eq!(cases.len(), 53);
}

/// Exact scores computed independently (design notes §2.2) for assets the bats tests only sign.
#[test]
fn kubesec_exact_scores() {
    let Some(root) = kguard_testkit::shared_path("oracles/kubesec") else { return };
    for (file, score) in [
        ("score-0-daemonset-securitycontext-privileged.yml", -62),
        ("allowPrivilegeEscalation.yaml", -4),
        ("score-1-prod-dump.yaml", -26),
        ("score-5-pod-serviceaccount.yml", 6),
    ] {
        let text = std::fs::read_to_string(root.join("asset").join(file)).unwrap();
        let parsed = parse_text(&Arc::from(file), &text);
        let results = kubesec::score(&parsed.objects);
        let total: i64 = results.iter().map(|r| r.score).sum();
        assert_eq!(total, score, "{file}: {results:#?}");
    }
}

#[test]
fn kubesec_json_shape_and_order() {
    let yaml = r"
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  template:
    spec:
      hostNetwork: true
      containers:
      - name: a
        securityContext: {privileged: true, capabilities: {add: [SYS_ADMIN]}}
";
    let parsed = parse_text(&Arc::from("d.yaml"), yaml);
    let results = kubesec::score(&parsed.objects);
    let json = kubesec::to_json(&results);
    let r = &json[0];
    assert_eq!(r["object"], "Deployment/d.default");
    assert_eq!(r["valid"], true);
    assert_eq!(r["fileName"], "d.yaml");
    assert_eq!(r["score"], -69);
    assert_eq!(r["message"], "Failed with a score of -69 points");
    let crit: Vec<_> = r["scoring"]["critical"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    // -30 ties broken by selector text: "containers[] .securityContext .capabilities ..." < "... .privileged".
    assert_eq!(crit, ["CapSysAdmin", "Privileged", "HostNetwork"]);
    assert!(r["scoring"].get("passed").is_none(), "empty lists are omitted");
    let advise: Vec<_> =
        r["scoring"]["advise"].as_array().unwrap().iter().map(|c| c["points"].as_i64().unwrap()).collect();
    assert_eq!(advise.first(), Some(&3));
    assert!(advise.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(kubesec::exit_code(&results, 2), 2);
}
