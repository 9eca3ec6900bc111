//! Fuzzes the vulnerability scanner's parsers (`kguard_vuln`): dpkg status stanzas, `info/*.list`
//! files and copyright files, apk `installed` (and its `L:` licenses), rpm header blobs (with
//! their file lists), OSV records and their range evaluation, and every version
//! scheme (dpkg, apk, rpm, PEP 440 versions and specifiers, npm versions, ranges, inc, truncate,
//! gtr/ltr and intersects). Any panic or hang is a bug.
#![no_main]

use kguard_vuln::version::{apk, deb, npm, pep440, rpm, Scheme};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kguard_vuln::pkgdb::parse_rpm_header(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = kguard_vuln::pkgdb::parse_dpkg_status(text);
    let _ = kguard_vuln::pkgdb::parse_apk_installed(text);
    let _ = kguard_vuln::pkgdb::copyright_licenses(text);
    let _ = kguard_vuln::license::lax_split(text);
    let asked: std::collections::HashSet<String> =
        text.lines().take(8).map(|l| l.trim_start_matches('/').to_owned()).collect();
    let _ = kguard_vuln::pkgdb::dpkg_list_system(text, &asked);
    if let Ok(r) = serde_json::from_str::<kguard_vuln::osv::Record>(text) {
        let mut db = kguard_vuln::osv::Db::default();
        let probes: Vec<(String, String)> =
            r.affected.iter().map(|a| (a.package.ecosystem.clone(), a.package.name.clone())).collect();
        db.add(r);
        for (eco, name) in probes {
            for v in ["0", "1.0", "1.2.3-r1", "1:2.0-1", "2.0.0-rc.1"] {
                let _ = db.matches(&eco, &name, v);
            }
        }
    }
    // Two versions split at the first newline.
    let (a, b) = text.split_once('\n').unwrap_or((text, "1.0"));
    let _ = deb::compare(a, b);
    let _ = deb::parse(a);
    let _ = apk::compare(a, b);
    let _ = apk::validate(a);
    let _ = apk::matches(a, "<~", b);
    let _ = rpm::compare(a, b);
    let _ = pep440::compare(a, b);
    if let Ok(s) = pep440::SpecifierSet::parse(a) {
        let _ = s.contains(b);
    }
    let _ = npm::compare(a, b);
    for o in [npm::Options::default(), npm::Options { loose: true, include_prerelease: true }] {
        if let Ok(r) = npm::Range::parse(a, o) {
            let _ = r.to_string();
            let _ = npm::Range::satisfies(b, a, o);
            if let Ok(v) = npm::SemVer::parse(b, o) {
                let _ = (r.outside(&v, npm::Side::Above), r.outside(&v, npm::Side::Below));
            }
            if let Ok(r2) = npm::Range::parse(b, o) {
                let _ = r.intersects(&r2, o);
            }
        }
        if let (Ok(c1), Ok(c2)) = (npm::Comparator::new(a, o), npm::Comparator::new(b, o)) {
            let _ = c1.intersects(&c2, o);
        }
        // The second line as `release identifier`, the version on the first.
        let (release, id) = b.split_once(' ').unwrap_or((b, ""));
        for base in [npm::PreBase::Zero, npm::PreBase::One, npm::PreBase::Omit] {
            let _ = npm::inc(a, release, o, id, base);
        }
        let _ = npm::truncate(a, release, o);
    }
    for s in [Scheme::Deb, Scheme::Apk, Scheme::Rpm, Scheme::Pep440, Scheme::Semver, Scheme::Generic] {
        let _ = s.compare(a, b);
    }
});
