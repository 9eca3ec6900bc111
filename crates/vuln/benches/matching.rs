//! Matching a 1,000-package inventory against the whole staged OSV data
//! (`../shared/oracles/vuln/db`: AlmaLinux, Go, RustSec, PyPA, GHSA; about 13,800 records): the
//! issue's goal is under 100 ms for every package of a 1,000-package image. The inventory is 1,000
//! AlmaLinux 9 rpm packages named by the advisories themselves (so every lookup finds records and
//! evaluates their ranges), at version `0:1.0-1`. Loading the data is measured apart.
//!
//! `cargo bench -p kguard-vuln --bench matching`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use criterion::{Criterion, criterion_group, criterion_main};
use kguard_vuln::osv::Db;
use kguard_vuln::pkgdb::{InstalledPackage, Kind, Os};
use kguard_vuln::scan::{Filters, match_packages};

fn load_all(dir: &std::path::Path) -> Db {
    let mut db = Db::default();
    let mut zips: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|e| std::fs::read_dir(e.path()).unwrap().flatten().map(|f| f.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    zips.sort();
    for z in zips {
        // PyPA's zip holds YAML records, which the OSV loader does not read: skipped there.
        let _ = kguard_vuln::osv::load_zip(&z, &mut db);
    }
    db
}

fn bench(c: &mut Criterion) {
    let Some(dir) = kguard_testkit::shared_path("oracles/vuln/db") else { return };
    let t = std::time::Instant::now();
    let db = load_all(&dir);
    eprintln!("loaded {} records in {:.2?}: {:?}", db.len(), t.elapsed(), db.ecosystems());
    let names: BTreeSet<String> = db
        .records()
        .iter()
        .flat_map(|r| &r.affected)
        .filter(|a| a.package.ecosystem == "AlmaLinux:9")
        .map(|a| a.package.name.clone())
        .collect();
    let packages: Vec<InstalledPackage> = names
        .into_iter()
        .take(1000)
        .map(|name| InstalledPackage {
            src_name: name.clone(),
            name,
            version: "0:1.0-1".to_owned(),
            arch: "x86_64".to_owned(),
            src_version: "0:1.0-1".to_owned(),
            kind: Kind::Rpm,
            licenses: Vec::new(),
        })
        .collect();
    let os = Os { family: "almalinux".to_owned(), name: "9.4".to_owned() };
    let hits = match_packages(&db, Some(&os), &packages, &Filters::default()).len();
    eprintln!("{} packages, {hits} findings per run", packages.len());
    let mut group = c.benchmark_group("osv");
    group.sample_size(20);
    group.bench_function("match 1,000 AlmaLinux packages", |b| {
        b.iter(|| match_packages(&db, Some(&os), &packages, &Filters::default()).len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
