//! Scan throughput on the real-world corpus (`../shared/corpus`, or `$KGUARD_SHARED/corpus`):
//! objects per second for parsing alone and for parsing plus every scan rule, side by side, so
//! the cost of the rules over parsing is visible. One core (the CLI parallelises across files).
//!
//! `cargo bench -p kguard-scan --bench scan`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kguard_model::load::{self, Input};
use kguard_podsec::{Level, Version};
use kguard_scan::Selection;
use kguard_scan::{PssDefault, ScanConfig, scan};

fn corpus() -> Option<Vec<(Arc<str>, String)>> {
    let dir = kguard_testkit::shared_path("corpus")?;
    let (inputs, _) = load::expand_paths(&[dir]);
    Some(
        inputs
            .iter()
            .filter_map(|i| match i {
                Input::File(_) => load::read_input(i).ok().map(|t| (Arc::from(i.display_name()), t)),
                Input::Stdin | Input::Text { .. } => None,
            })
            .collect(),
    )
}

fn bench(c: &mut Criterion) {
    let Some(files) = corpus() else { return };
    let objects: usize = files.iter().map(|(n, t)| load::parse_text(n, t).objects.len()).sum();
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    eprintln!("corpus: {} files, {objects} objects, {:.1} MB", files.len(), bytes as f64 / 1e6);
    let config = ScanConfig {
        selection: Selection::default(),
        pss: PssDefault { level: Level::Restricted, version: Version::Latest },
        linkerd_default: kguard_scan::LinkerdDefaultPolicy::AllUnauthenticated,
    };
    let mut group = c.benchmark_group("corpus");
    group.sample_size(10);
    group.throughput(Throughput::Elements(objects as u64));
    group.bench_function("parse", |b| {
        b.iter(|| files.iter().map(|(n, t)| load::parse_text(n, t).objects.len()).sum::<usize>())
    });
    group.bench_function("parse+scan", |b| {
        b.iter(|| {
            let mut all = Vec::new();
            for (n, t) in &files {
                all.extend(load::parse_text(n, t).objects);
            }
            scan(&all, &config).findings.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
