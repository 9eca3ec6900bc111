//! The kubelet's AppArmor resolution against `kubernetes/cases.json` (helpers_test.go and
//! validate_test.go) and the sample loaded-profile list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_apparmor::kube::{self, K8sProfile};
use serde_json::Value;

#[test]
fn kubernetes_cases() {
    let Some(path) = kguard_testkit::shared_path("oracles/apparmor/kubernetes/cases.json") else { return };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut agree = 0;
    let cases = doc["get_effective_profile"]["cases"].as_array().unwrap();
    for c in cases {
        let got = kube::effective_profile(&c["pod"], c["container"].as_str().unwrap());
        let want = c["expected_effective_profile"].as_object().map(|o| match o["type"].as_str().unwrap() {
            "RuntimeDefault" => K8sProfile::RuntimeDefault,
            "Unconfined" => K8sProfile::Unconfined,
            _ => K8sProfile::Localhost(o["localhostProfile"].as_str().unwrap().to_owned()),
        });
        if got == want {
            agree += 1;
        } else {
            println!("  disagree {}: got {got:?}, want {want:?}", c["name"]);
        }
    }
    let vcases = doc["validate_annotation"]["cases"].as_array().unwrap();
    for c in vcases {
        let got = kube::validate_annotations(&c["pod"]).is_ok();
        if got == c["expect_valid"].as_bool().unwrap() {
            agree += 1;
        } else {
            println!("  disagree validate {}: got {got}", c["annotation_value"]);
        }
    }
    println!("apparmor kubernetes oracle: {agree}/{} agree", cases.len() + vcases.len());
    assert_eq!(agree, 19);
}

#[test]
fn loaded_profiles_sample() {
    let Some(path) = kguard_testkit::shared_path("oracles/apparmor/kubernetes/profiles") else { return };
    let loaded = kube::parse_loaded(&std::fs::read_to_string(path).unwrap());
    assert_eq!(loaded.len(), 23);
    assert_eq!(loaded.iter().filter(|l| l.mode == "enforce").count(), 22);
    assert_eq!(loaded.iter().filter(|l| l.mode == "complain").count(), 1);
}
