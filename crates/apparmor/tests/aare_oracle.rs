//! AARE matching against upstream's `utils/test/test-aare.py` tables (`../shared/oracles/
//! apparmor/aare_cases.json`): `match`, `match_log_event` (log paths are literal) and
//! `match_is_path`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_apparmor::aare::Aare;
use kguard_apparmor::glob;
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
    println!("apparmor aare match oracle: {agree}/{total} agree");
    assert_eq!(total, 75);
    assert_eq!(agree, total);
}

/// aa-logprof's glob suggestions (`glob_path`, `glob_path_withext`), each case run as upstream
/// runs it: on the path, and on the path with a trailing `/` (a directory: `glob_path` keeps the
/// slash; `glob_path_withext` leaves directories unchanged).
#[test]
fn glob_cases() {
    let Some(path) = kguard_testkit::shared_path("oracles/apparmor/aare_cases.json") else { return };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut total = 0;
    let mut agree = 0;
    for table in ["glob_path", "glob_path_withext"] {
        for c in doc[table].as_array().unwrap() {
            let input = c["input"].as_str().unwrap();
            let expected = c["expected"].as_str().unwrap();
            let dir = format!("{input}/");
            let checks = if table == "glob_path" {
                [(glob::glob_path(input), expected.to_owned()), (glob::glob_path(&dir), format!("{expected}/"))]
            } else {
                [(glob::glob_path_withext(input), expected.to_owned()), (glob::glob_path_withext(&dir), dir.clone())]
            };
            for (got, want) in checks {
                total += 1;
                if got == want {
                    agree += 1;
                } else {
                    println!("  disagree {table}: {input:?}: got {got:?}, want {want:?}");
                }
            }
        }
    }
    println!("apparmor aa-logprof glob oracle: {agree}/{total} agree");
    assert_eq!(total, 226);
    assert_eq!(agree, total);
}
