//! `scan_rootfs` on the repository's example root (`tests/fixtures/vuln/`): OS detection,
//! source-package matching, filters, and the Trivy report shape.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;

use kguard_vuln::scan::{Filters, scan_rootfs};

fn fixtures() -> std::path::PathBuf {
    kguard_testkit::repo_root().join("tests/fixtures/vuln")
}

#[test]
fn debian_root_matches_by_source_package() {
    let db = kguard_vuln::osv::load(&fixtures().join("osv")).unwrap();
    assert_eq!(db.len(), 3);
    let r = scan_rootfs(&fixtures().join("debian-rootfs"), &db, &Filters::default()).unwrap();
    assert_eq!(r.os.as_ref().unwrap().family, "debian");
    assert_eq!(r.packages.len(), 4, "the deinstalled stanza is not installed");
    let got: Vec<(String, String)> = r.findings.iter().map(|f| (f.pkg.clone(), f.id.clone())).collect();
    assert_eq!(
        got,
        [
            ("libssl3".to_owned(), "DEBIAN-CVE-2023-5678".to_owned()),
            ("openssl".to_owned(), "DEBIAN-CVE-2023-5678".to_owned()),
            ("zlib1g".to_owned(), "DEBIAN-CVE-2023-45853".to_owned()),
        ]
    );
    let json = r.to_trivy_json(false);
    assert_eq!(json["SchemaVersion"], 2);
    assert_eq!(json["Results"][0]["Class"], "os-pkgs");
    assert_eq!(json["Results"][0]["Vulnerabilities"][0]["FixedVersion"], "3.0.13-1~deb12u1");
    assert_eq!(json["Results"][0]["Vulnerabilities"][2]["Severity"], "CRITICAL");
}

#[test]
fn severity_is_a_set_and_unfixed_can_be_ignored() {
    let db = kguard_vuln::osv::load(&fixtures().join("osv")).unwrap();
    let root = fixtures().join("debian-rootfs");
    let only_medium = Filters { severities: BTreeSet::from(["MEDIUM".to_owned()]), ..Filters::default() };
    let r = scan_rootfs(&root, &db, &only_medium).unwrap();
    assert!(r.findings.iter().all(|f| f.severity == "MEDIUM") && r.findings.len() == 2);
    let fixed = Filters { ignore_unfixed: true, ..Filters::default() };
    let r = scan_rootfs(&root, &db, &fixed).unwrap();
    assert!(r.findings.iter().all(|f| f.fixed.is_some()) && r.findings.len() == 2);
}

#[test]
fn an_ignore_file_accepts_by_id_or_upstream_cve_until_it_expires() {
    let db = kguard_vuln::osv::load(&fixtures().join("osv")).unwrap();
    let root = fixtures().join("debian-rootfs");
    let ignore =
        kguard_vuln::ignore::IgnoreFile::parse("CVE-2023-5678 exp:2030-01-01\nDEBIAN-CVE-2023-45853\n").unwrap();
    let before = Filters { ignore: ignore.clone(), now: 1_700_000_000, ..Filters::default() };
    let r = scan_rootfs(&root, &db, &before).unwrap();
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let after = Filters { ignore, now: 1_900_000_000, ..Filters::default() };
    let r = scan_rootfs(&root, &db, &after).unwrap();
    let ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["DEBIAN-CVE-2023-5678", "DEBIAN-CVE-2023-5678"], "the expired line no longer applies");
}

#[test]
fn symlinked_databases_are_not_followed() {
    let t = kguard_testkit::TempDir::new("vuln-symlink");
    std::fs::create_dir_all(t.path().join("var/lib/dpkg")).unwrap();
    std::os::unix::fs::symlink("/var/lib/dpkg/status", t.path().join("var/lib/dpkg/status")).unwrap();
    std::os::unix::fs::symlink("/etc/os-release", t.path().join("etc")).ok();
    assert!(kguard_vuln::pkgdb::installed(t.path()).unwrap().is_empty());
}

/// Nothing is read through a symlinked directory (it may point out of the root), and a FIFO
/// where a database should be is not opened for reading (it would block).
#[test]
fn symlinked_directories_and_fifos_are_not_read() {
    let outside = kguard_testkit::TempDir::new("vuln-outside");
    std::fs::create_dir_all(outside.path().join("lib/dpkg")).unwrap();
    std::fs::write(
        outside.path().join("lib/dpkg/status"),
        "Package: outside\nStatus: install ok installed\nVersion: 1\n\n",
    )
    .unwrap();
    let t = kguard_testkit::TempDir::new("vuln-symlinked-dir");
    std::os::unix::fs::symlink(outside.path(), t.path().join("var")).unwrap();
    assert!(kguard_vuln::pkgdb::installed(t.path()).unwrap().is_empty());
    // The same file reached without a link is read.
    let real = kguard_testkit::TempDir::new("vuln-real-dir");
    std::fs::create_dir_all(real.path().join("var/lib/dpkg")).unwrap();
    std::fs::copy(outside.path().join("lib/dpkg/status"), real.path().join("var/lib/dpkg/status")).unwrap();
    assert_eq!(kguard_vuln::pkgdb::installed(real.path()).unwrap()[0].name, "outside");

    let fifo = kguard_testkit::TempDir::new("vuln-fifo");
    std::fs::create_dir_all(fifo.path().join("var/lib/dpkg")).unwrap();
    let st = std::process::Command::new("mkfifo").arg(fifo.path().join("var/lib/dpkg/status")).status().unwrap();
    assert!(st.success());
    assert!(kguard_vuln::pkgdb::installed(fifo.path()).unwrap().is_empty());
}
