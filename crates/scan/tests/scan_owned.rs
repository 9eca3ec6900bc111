//! `scan_owned` (what `kguard scan` runs: each object's tree dropped once it is scanned) gives
//! exactly what `scan` gives: findings in the same order, diagnostics, counts, suppression by
//! kguard's and other tools' annotations (kept as the objects' annotations only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use kguard_podsec::{Level, Version};
use kguard_scan::{PssDefault, ScanConfig, ScanOutcome, Selection};

fn objects_under(dir: &Path) -> Vec<kguard_model::Object> {
    let (inputs, _) = kguard_model::load::expand_paths(&[dir.to_path_buf()]);
    assert!(!inputs.is_empty(), "{}", dir.display());
    inputs.iter().flat_map(|i| kguard_model::load::load_input(i).objects).collect()
}

fn same(a: &ScanOutcome, b: &ScanOutcome) {
    assert_eq!((a.scanned, a.skipped), (b.scanned, b.skipped));
    assert_eq!(a.diagnostics, b.diagnostics);
    assert_eq!(a.findings.len(), b.findings.len());
    for (x, y) in a.findings.iter().zip(&b.findings) {
        assert_eq!(x, y);
    }
}

#[test]
fn scan_owned_is_scan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut objects = objects_under(&root.join("examples"));
    objects.extend(objects_under(&root.join("tests/fixtures/rules")));
    // The same object twice (same id, other annotations): the last one decides suppression.
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: twice\n  annotations: {kguard.io/ignore: ALL}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: twice}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n";
    let file: Arc<str> = "twice.yaml".into();
    objects.extend(kguard_model::load::parse_text(&file, text).objects);
    for (select, ignore) in [(vec![], vec![]), (vec!["ALL".to_owned()], vec![]), (vec![], vec!["pss".to_owned()])] {
        let config = ScanConfig {
            selection: Selection { select, ignore },
            pss: PssDefault { level: Level::Restricted, version: Version::Latest },
        };
        let borrowed = kguard_scan::scan(&objects, &config);
        let owned = kguard_scan::scan_owned(objects.clone(), &config);
        assert!(!borrowed.findings.is_empty());
        same(&borrowed, &owned);
    }
}
