//! AARE matching against upstream's `utils/test/test-aare.py` tables (`../shared/oracles/
//! apparmor/aare_cases.json`): `match`, `match_log_event` (log paths are literal) and
//! `match_is_path`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_apparmor::aare::Aare;
use serde_json::Value;

fn matches(aare: &str, path: &str) -> bool {
    Aare::compile(aare).is_ok_and(|a| a.matches(path))
}

#[test]
fn aare_cases() {
    let Some(path) = kguard_testkit::shared_path("oracles/apparmor/aare_cases.json") else { return };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut total = 0;
    let mut agree = 0;
    for (table, subject) in [("match", "path"), ("match_log_event", "log_path"), ("match_is_path", "subject")] {
        for c in doc[table].as_array().unwrap() {
            total += 1;
            let got = matches(c["aare"].as_str().unwrap(), c[subject].as_str().unwrap());
            if got == c["match"].as_bool().unwrap() {
                agree += 1;
            } else {
                println!("  disagree {table}: {} vs {}: got {got}", c["aare"], c[subject]);
            }
        }
    }
    println!("aare match: {agree}/{total} agree");
    assert_eq!(total, 75);
    assert_eq!(agree, total);
}
