//! OSV evaluation against `../shared/oracles/vuln/db/sanity_facts.json`: 32 facts over real
//! advisories (PyPA, Go, RustSec, AlmaLinux, GHSA), each naming versions that must and must not
//! be reported, or a withdrawn record that must report nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_vuln::osv::Db;
use serde_json::Value;

#[test]
fn sanity_facts_32() {
    let Some(path) = kguard_testkit::shared_path("oracles/vuln/db/sanity_facts.json") else { return };
    let root = path.parent().unwrap();
    let facts: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let facts = facts["facts"].as_array().unwrap();
    let mut checked = 0;
    let mut dbs: std::collections::HashMap<String, Db> = std::collections::HashMap::new();
    for f in facts {
        let s = |k: &str| f[k].as_str().unwrap_or_default();
        let db = dbs
            .entry(s("container").to_owned())
            .or_insert_with(|| kguard_vuln::osv::load(&root.join(s("container"))).unwrap());
        assert!(!db.is_empty());
        let eco = s("ecosystem");
        for v in f["affected"].as_array().into_iter().flatten() {
            let v = v.as_str().unwrap();
            assert!(
                db.matches(eco, s("package"), v).iter().any(|h| h.record.id == s("id")),
                "{} {v} must be affected: {f}",
                s("id")
            );
        }
        for v in f["unaffected"].as_array().into_iter().flatten() {
            let v = v.as_str().unwrap();
            assert!(
                !db.matches(eco, s("package"), v).iter().any(|h| h.record.id == s("id")),
                "{} {v} must not be affected: {f}",
                s("id")
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 32);
    eprintln!("osv: 32/32 sanity facts hold");
}
