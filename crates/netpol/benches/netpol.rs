//! The NetworkPolicy connectivity list on a synthetic cluster: 2,000 workloads in 200 namespaces
//! with 1,000 NetworkPolicies (a default deny and 4 selective policies per namespace, with
//! namespace + pod selectors, named ports, port ranges and ipBlocks). The class-based evaluator
//! (`connlist`) at full size; it and the naive pairwise evaluator (`connlist_naive`) side by side
//! at a reduced size (200 workloads in 20 namespaces, 100 policies), where they are checked to
//! agree. The naive evaluator at full size takes far too long for criterion's samples; set
//! `KGUARD_BENCH_NAIVE_FULL=1` to time one run of it.
//!
//! `cargo bench -p kguard-netpol --bench netpol` (figures in `benches/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use kguard_model::{Object, load};
use kguard_netpol::{Cluster, connlist};

fn cluster(ns: usize, per: usize, pols_per_ns: usize) -> Cluster {
    let objects: Vec<Object> =
        load::parse_text(&Arc::from("bench.yaml"), &kguard_testkit::generate::netpol_cluster(ns, per, pols_per_ns))
            .objects;
    let c = Cluster::from_objects(&objects);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.workloads.len(), ns * per);
    assert_eq!(c.policies.len(), ns * pols_per_ns);
    c
}

fn bench(c: &mut Criterion) {
    let full = cluster(200, 10, 5);
    let small = cluster(20, 10, 5);
    let fast = connlist::connlist(&small);
    assert_eq!(connlist::connlist_naive(&small), fast, "class-based and naive disagree");
    let start = Instant::now();
    let conns = connlist::connlist(&full).len();
    println!(
        "full: {} workloads, {} policies, {conns} connections, one run {:?}; reduced: {} workloads, {} policies, {} connections",
        full.workloads.len(),
        full.policies.len(),
        start.elapsed(),
        small.workloads.len(),
        small.policies.len(),
        fast.len()
    );
    if std::env::var_os("KGUARD_BENCH_NAIVE_FULL").is_some() {
        let start = Instant::now();
        let naive = connlist::connlist_naive(&full);
        println!("naive at full size: {} connections, one run {:?}", naive.len(), start.elapsed());
        assert_eq!(naive, connlist::connlist(&full), "class-based and naive disagree at full size");
    }

    let mut g = c.benchmark_group("netpol connlist");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("classes/2000 workloads, 200 ns, 1000 policies", |b| {
        b.iter(|| black_box(connlist::connlist(black_box(&full)).len()));
    });
    g.bench_function("classes/200 workloads, 20 ns, 100 policies", |b| {
        b.iter(|| black_box(connlist::connlist(black_box(&small)).len()));
    });
    g.bench_function("naive/200 workloads, 20 ns, 100 policies", |b| {
        b.iter(|| black_box(connlist::connlist_naive(black_box(&small)).len()));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
