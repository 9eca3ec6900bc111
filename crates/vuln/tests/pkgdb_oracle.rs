//! Package databases against `../shared/oracles/vuln/pkgdb/`: dpkg status files (Trivy's
//! fixtures) against what `dpkg-query` printed for them, apk `installed` against Trivy's
//! expected packages, rpm sqlite against `rpm -qa`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeSet;

use kguard_vuln::pkgdb;
use serde_json::Value;

/// The files of a txtar archive: `(path, content)`.
fn txtar(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let t = line.trim_end();
        if let Some(name) = t.strip_prefix("-- ").and_then(|r| r.strip_suffix(" --")) {
            out.push((name.to_owned(), String::new()));
        } else if let Some((_, body)) = out.last_mut() {
            body.push_str(line);
        }
    }
    out
}

#[test]
fn dpkg_status_matches_dpkg_query() {
    let Some(dir) = kguard_testkit::shared_path("oracles/vuln/pkgdb/dpkg") else { return };
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("dpkg_query_oracle.json")).unwrap()).unwrap();
    let mut archives = 0;
    let mut rows = 0;
    for (name, want) in oracle["archives"].as_object().unwrap() {
        let files = txtar(&std::fs::read_to_string(dir.join(name)).unwrap());
        let status = &files.iter().find(|(p, _)| p == "var/lib/dpkg/status").unwrap().1;
        let got: BTreeSet<(String, String, String, String, String)> = pkgdb::parse_dpkg_status(status)
            .into_iter()
            .map(|(p, s)| (p.name, p.version, p.src_name, p.src_version, s))
            .collect();
        let want: BTreeSet<(String, String, String, String, String)> = want["packages"]
            .as_array()
            .unwrap()
            .iter()
            // dpkg-query prints a stanza whose version it rejected with an empty version; we drop it.
            .filter(|p| !p["Version"].as_str().unwrap().is_empty())
            .map(|p| {
                let s = |k: &str| p[k].as_str().unwrap().to_owned();
                (s("Package"), s("Version"), s("source:Package"), s("source:Version"), s("Status"))
            })
            .collect();
        assert_eq!(got, want, "{name}");
        archives += 1;
        rows += want.len();
    }
    assert_eq!(archives, 6);
    eprintln!("dpkg: 6/6 archives, {rows} packages agree with dpkg-query");
}

#[test]
fn apk_installed_matches_trivy() {
    let Some(dir) = kguard_testkit::shared_path("oracles/vuln/pkgdb/apk") else { return };
    let got = pkgdb::parse_apk_installed(&std::fs::read_to_string(dir.join("installed")).unwrap());
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("installed_expected.json")).unwrap()).unwrap();
    let want = want["packages"].as_array().unwrap();
    assert_eq!(got.len(), 15);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.name, w["Name"].as_str().unwrap());
        assert_eq!(g.version, w["Version"].as_str().unwrap());
        assert_eq!(g.src_name, w["SrcName"].as_str().unwrap());
        assert_eq!(g.src_version, w["SrcVersion"].as_str().unwrap());
        assert_eq!(g.arch, w["Arch"].as_str().unwrap());
    }
    eprintln!("apk: 15/15 packages agree with Trivy (name, version, source name/version, arch)");
    // Licenses: `L:` split laxly and normalized to SPDX identifiers, as Trivy reports them.
    let agree = got.iter().zip(want).filter(|(g, w)| w["Licenses"] == serde_json::json!(g.licenses)).count();
    eprintln!("apk licenses oracle: {agree} agree of {}", want.len());
    assert_eq!(agree, want.len());
}

#[test]
fn apk_installed_files_match_trivy() {
    let Some(dir) = kguard_testkit::shared_path("oracles/vuln/pkgdb/apk") else { return };
    let t = kguard_testkit::TempDir::new("vuln-apk-files");
    std::fs::create_dir_all(t.path().join("lib/apk/db")).unwrap();
    std::fs::copy(dir.join("installed"), t.path().join("lib/apk/db/installed")).unwrap();
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("installed_expected.json")).unwrap()).unwrap();
    let want: std::collections::HashSet<String> =
        want["installed_files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect();
    // Asked about every installed file, their directories and a file no package installed.
    let mut ask = want.clone();
    ask.extend(["lib".to_owned(), "bin".to_owned(), "usr/bin/not-installed".to_owned()]);
    let inv = pkgdb::inventory_in(&kguard_vuln::files::Dir(t.path()), &ask).unwrap();
    let agree = want.intersection(&inv.system_files).count();
    eprintln!(
        "apk installed files oracle: {agree} agree of {} (and {} more)",
        want.len(),
        inv.system_files.len() - agree
    );
    assert_eq!(inv.system_files, want);
}

#[test]
fn rpm_sqlite_matches_rpm_qa() {
    let Some(dir) = kguard_testkit::shared_path("oracles/vuln/pkgdb/rpm") else { return };
    let got = pkgdb::read_rpm_sqlite(&dir.join("sqlite/rpmdb.sqlite")).unwrap();
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sqlite_expected.json")).unwrap()).unwrap();
    let want: BTreeSet<(String, String, String)> = want["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_owned();
            let evr = if s("EPOCHNUM") == "0" {
                format!("{}-{}", s("VERSION"), s("RELEASE"))
            } else {
                format!("{}:{}-{}", s("EPOCHNUM"), s("VERSION"), s("RELEASE"))
            };
            (s("NAME"), evr, s("ARCH"))
        })
        .collect();
    let got_set: BTreeSet<(String, String, String)> =
        got.iter().map(|p| (p.name.clone(), p.version.clone(), p.arch.clone())).collect();
    assert_eq!(got_set, want);
    assert_eq!(got.len(), 6);
    // LICENSE as rpm prints it; VENDOR is unset, so no files count as the OS's
    let licenses: BTreeSet<(String, String)> = got.iter().map(|p| (p.name.clone(), p.licenses.join(" "))).collect();
    let want_licenses: BTreeSet<(String, String)> = serde_json::from_str::<Value>(
        &std::fs::read_to_string(dir.join("sqlite_expected.json")).unwrap(),
    )
    .unwrap()["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["NAME"].as_str().unwrap().to_owned(), p["LICENSE"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(licenses, want_licenses);
    eprintln!(
        "rpm licenses oracle: {} agree of {}",
        licenses.intersection(&want_licenses).count(),
        want_licenses.len()
    );
    // the database was opened read-only: nothing written beside it
    assert!(!dir.join("sqlite/rpmdb.sqlite-wal").exists());
    eprintln!("rpm: 6/6 packages agree with rpm -qa");
}

#[test]
fn rpm_bdb_is_refused_clearly() {
    let t = kguard_testkit::TempDir::new("vuln-bdb");
    std::fs::create_dir_all(t.path().join("var/lib/rpm")).unwrap();
    std::fs::write(t.path().join("var/lib/rpm/Packages"), b"\0\0\0\0\x61\x15\x06\0").unwrap();
    let err = pkgdb::installed(t.path()).unwrap_err().to_string();
    assert!(err.contains("unsupported rpmdb format (BerkeleyDB)"), "{err}");
}

#[test]
fn corrupt_rpm_headers_are_errors() {
    for blob in [
        &b""[..],
        b"\0\0\0\x05\0\0\0\x10",
        b"\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\0\0\0\x01\0\0\0\x00\0\0\x03\xe8\0\0\0\x06\x7f\xff\xff\xff\0\0\0\x01",
    ] {
        assert!(pkgdb::parse_rpm_header(blob).is_err());
    }
}
