//! `scan_owned` (each object's tree dropped once it is scanned) and a scan in steps from context
//! views (what `kguard scan` runs: [`kguard_scan::Scanner`] built from every object's
//! [`kguard_scan::context_view`], then each whole object scanned alone) give exactly what `scan`
//! gives: findings in the same order, diagnostics, counts, suppression by kguard's and other
//! tools' annotations (kept as the objects' annotations only). On the bundled examples and rule
//! fixtures, and on the shared corpus (upstream projects' manifests) when it is there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use kguard_podsec::{Level, Version};
use kguard_scan::{PssDefault, ScanConfig, ScanOutcome, Scanner, Selection};

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
    assert_eq!(a.suppressed.len(), b.suppressed.len());
    for (x, y) in a.suppressed.iter().zip(&b.suppressed) {
        assert_eq!((&x.finding, &x.justification), (&y.finding, &y.justification));
    }
}

/// The scan `kguard scan` runs: the engines across objects on context views, then each object.
fn in_steps(objects: &[kguard_model::Object], config: &ScanConfig) -> ScanOutcome {
    let views: Vec<_> = objects.iter().map(kguard_scan::context_view).collect();
    let mut scanner = Scanner::new(&views, config);
    drop(views);
    let mut out = ScanOutcome { diagnostics: scanner.take_diagnostics(), ..ScanOutcome::default() };
    for obj in objects {
        let o = scanner.scan_object(obj);
        out.findings.extend(o.findings);
        out.suppressed.extend(o.suppressed);
        out.diagnostics.extend(o.diagnostics);
        match o.evaluated {
            Some(true) => out.scanned += 1,
            Some(false) => out.skipped += 1,
            None => {}
        }
    }
    let tail = scanner.finish();
    out.findings.extend(tail.findings);
    out.suppressed.extend(tail.suppressed);
    out.diagnostics.extend(tail.diagnostics);
    out
}

fn configs() -> Vec<ScanConfig> {
    [(vec![], vec![]), (vec!["ALL".to_owned()], vec![]), (vec![], vec!["pss".to_owned()])]
        .into_iter()
        .map(|(select, ignore)| ScanConfig {
            selection: Selection { select, ignore },
            pss: PssDefault { level: Level::Restricted, version: Version::Latest },
            linkerd_default: kguard_scan::LinkerdDefaultPolicy::AllUnauthenticated,
        })
        .collect()
}

#[test]
fn a_scan_from_context_views_is_scan_on_the_corpus() {
    let Some(corpus) = kguard_testkit::shared_path("corpus") else { return };
    let objects = objects_under(&corpus);
    assert!(objects.len() > 1000, "{} objects", objects.len());
    let mut total = 0;
    for config in configs() {
        let whole = kguard_scan::scan(&objects, &config);
        let steps = in_steps(&objects, &config);
        assert!(!whole.findings.is_empty());
        same(&whole, &steps);
        total += whole.findings.len();
    }
    eprintln!("{} objects, {total} findings in three selections: the same in steps", objects.len());
}

#[test]
fn scan_owned_is_scan() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut objects = objects_under(&root.join("examples"));
    objects.extend(objects_under(&root.join("tests/fixtures/rules")));
    // Istio and Linkerd objects: the mesh engines read workloads' context views.
    objects.extend(objects_under(&root.join("tests/fixtures/mesh")));
    // The same object twice (same id, other annotations): the last one decides suppression.
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: twice\n  annotations: {kguard.io/ignore: ALL}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: twice}\nspec:\n  hostPID: true\n  containers: [{name: c, image: x}]\n";
    let file: Arc<str> = "twice.yaml".into();
    objects.extend(kguard_model::load::parse_text(&file, text).objects);
    for config in configs() {
        let borrowed = kguard_scan::scan(&objects, &config);
        let owned = kguard_scan::scan_owned(objects.clone(), &config);
        assert!(!borrowed.findings.is_empty());
        same(&borrowed, &owned);
        same(&borrowed, &in_steps(&objects, &config));
    }
}
