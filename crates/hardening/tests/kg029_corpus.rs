//! KG029 on the real-world corpus (`../shared/corpus`): every variable the rule reports has a row
//! with a verdict in `tests/data/kg029-corpus.tsv`, and so has every variable the name-only rule
//! of before reported (now not reported). The file names corpus files and variables, never their
//! values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Key = (String, String, String, String);

fn expectations() -> BTreeMap<Key, (bool, String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/kg029-corpus.tsv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 7, "{line}");
        let key = (cols[0].to_owned(), cols[1].to_owned(), cols[2].to_owned(), cols[3].to_owned());
        let reported = match cols[4] {
            "yes" => true,
            "no" => false,
            other => panic!("reported must be yes or no, not {other:?}: {line}"),
        };
        let allowed: &[&str] =
            if reported { &["true-positive", "false-positive"] } else { &["true-negative", "false-negative"] };
        assert!(allowed.contains(&cols[5]), "verdict {:?} with reported={}: {line}", cols[5], cols[4]);
        assert!(!cols[6].trim().is_empty(), "a verdict needs its reason: {line}");
        assert!(out.insert(key, (reported, cols[5].to_owned(), cols[6].to_owned())).is_none(), "duplicate row: {line}");
    }
    out
}

#[test]
fn kg029_hits_on_the_corpus_have_verdicts() {
    let Some(dir) = kguard_testkit::shared_path("corpus") else { return };
    let (inputs, _) = kguard_model::load::expand_paths(std::slice::from_ref(&dir));
    let prefix = format!("{}/", dir.display());
    let mut found: BTreeSet<Key> = BTreeSet::new();
    for input in &inputs {
        let parsed = kguard_model::load::load_input(input);
        for obj in &parsed.objects {
            for f in kguard_hardening::findings(obj, None).into_iter().filter(|f| f.rule_id == "KG029") {
                let pointer = f.pointer.as_deref().unwrap();
                let env = pointer.strip_suffix("/value").unwrap();
                let name = obj.root.pointer(&format!("{env}/name")).and_then(|n| n.as_str()).unwrap().to_owned();
                let file = obj.file.strip_prefix(prefix.as_str()).unwrap_or(&obj.file).to_owned();
                found.insert((file, obj.id.to_string(), f.container.as_deref().unwrap_or("").to_owned(), name));
            }
        }
    }
    let expected = expectations();
    let reported: BTreeSet<Key> = expected.iter().filter(|(_, (r, _, _))| *r).map(|(k, _)| k.clone()).collect();
    let missing: Vec<_> = found.difference(&reported).collect();
    let stale: Vec<_> = reported.difference(&found).collect();
    assert!(missing.is_empty(), "reported without a verdict row: {missing:#?}");
    assert!(stale.is_empty(), "rows say reported, the rule does not report them: {stale:#?}");
    let mut verdicts: BTreeMap<&str, usize> = BTreeMap::new();
    for (reported, verdict, _) in expected.values() {
        *verdicts.entry(verdict.as_str()).or_default() += 1;
        let _ = reported;
    }
    println!("KG029 on the corpus: {} reported; verdicts {verdicts:?}", found.len());
    assert!(!found.is_empty(), "the corpus has literal passwords: the rule must report them");
}
