//! PeerAuthentication composition against Istio's `TestComposePeerAuthentication`
//! (`../shared/oracles/mtls/istio/compose_peer_authentication_cases.json`, 14 cases): the same
//! workload mode and per-port map.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use kguard_mesh::istio::{PeerAuthentication, compose};
use kguard_model::Object;
use serde_json::Value;

/// A common "now" for `creationTimestampOffsetSeconds`.
const NOW: i64 = 1_700_000_000;

#[test]
fn istio_compose_oracle() {
    let Some(path) = kguard_testkit::shared_path("oracles/mtls/istio/compose_peer_authentication_cases.json") else {
        return;
    };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let mut passed = 0;
    for c in cases {
        let objects: Vec<Object> = c["configs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|cfg| {
                let mut cfg = cfg.clone();
                if let Some(off) = cfg["metadata"].as_object_mut().unwrap().remove("creationTimestampOffsetSeconds") {
                    let t = kguard_model::time::format_rfc3339(NOW + off.as_i64().unwrap());
                    cfg["metadata"]["creationTimestamp"] = Value::String(t);
                }
                Object::from_json(&cfg, Arc::from("case.yaml")).unwrap()
            })
            .collect();
        let pas: Vec<PeerAuthentication<'_>> =
            objects.iter().map(|o| PeerAuthentication::from_object(o).unwrap()).collect();
        let refs: Vec<&PeerAuthentication<'_>> = pas.iter().collect();
        let got = compose("root-namespace", &refs);
        let want_mode = c["expected"]["mode"].as_str().unwrap();
        let got_ports: Option<Vec<(String, &str)>> =
            got.per_port.as_ref().map(|p| p.iter().map(|(k, (m, _))| (k.to_string(), m.as_str())).collect());
        let want_ports: Option<Vec<(String, &str)>> = c["expected"]["perPort"].as_object().map(|m| {
            let mut v: Vec<(String, &str)> = m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap())).collect();
            v.sort_by_key(|(k, _)| k.parse::<u32>().unwrap());
            v
        });
        if got.mode.as_str() == want_mode && got_ports == want_ports {
            passed += 1;
        } else {
            println!("  FAIL {}: got {:?} {got_ports:?}, want {want_mode} {want_ports:?}", c["name"], got.mode);
        }
    }
    println!("Istio PeerAuthentication composition oracle: {passed} passed of {}", cases.len());
    assert_eq!(cases.len(), 14);
    assert_eq!(passed, 14);
}
