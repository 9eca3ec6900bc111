//! SPIFFE ID and trust-domain parsing against go-spiffe's test tables, transcribed and expanded
//! in `../shared/oracles/mtls/spiffe/spiffeid_cases.json` (535 IDs, 305 trust domains): the same
//! verdict, trust domain and path, and an error text containing upstream's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_mesh::{SpiffeId, TrustDomain};
use serde_json::Value;

fn cases(key: &str) -> Option<Vec<Value>> {
    let path = kguard_testkit::shared_path("oracles/mtls/spiffe/spiffeid_cases.json")?;
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    Some(doc[key].as_array().unwrap().clone())
}

fn check<T>(c: &Value, got: Result<T, kguard_mesh::IdError>, ok: impl Fn(&T) -> bool) -> bool {
    match (c["valid"].as_bool().unwrap(), got) {
        (true, Ok(v)) => ok(&v),
        (false, Err(e)) => e.to_string().contains(c["error_contains"].as_str().unwrap()),
        _ => false,
    }
}

#[test]
fn spiffe_id_oracle() {
    let Some(cases) = cases("spiffe_id_parse") else { return };
    let mut passed = 0;
    for c in &cases {
        let input = c["input"].as_str().unwrap();
        let got = SpiffeId::parse(input);
        let ok = check(c, got.clone(), |id| {
            id.trust_domain().name() == c["trust_domain"].as_str().unwrap() && id.path() == c["path"].as_str().unwrap()
        });
        if ok {
            passed += 1;
        } else {
            println!("  FAIL {input:?}: got {got:?}, want {c}");
        }
    }
    println!("SPIFFE ID oracle: {passed} passed of {}", cases.len());
    assert_eq!(cases.len(), 535);
    assert_eq!(passed, 535);
}

#[test]
fn trust_domain_oracle() {
    let Some(cases) = cases("trust_domain_parse") else { return };
    let mut passed = 0;
    for c in &cases {
        let input = c["input"].as_str().unwrap();
        let got = TrustDomain::parse(input);
        if check(c, got.clone(), |td| td.name() == c["trust_domain"].as_str().unwrap()) {
            passed += 1;
        } else {
            println!("  FAIL {input:?}: got {got:?}, want {c}");
        }
    }
    println!("SPIFFE trust domain oracle: {passed} passed of {}", cases.len());
    assert_eq!(cases.len(), 305);
    assert_eq!(passed, 305);
}
