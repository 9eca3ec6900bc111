//! License names as Trivy reports them: 76 declared `License:` strings of installed Python
//! packages (`tests/fixtures/vuln/licenses`, made by `make-licenses.py`), and what Trivy 0.59.1
//! reported for each (`licenses-expected.tsv`, recorded from `trivy rootfs --scanners license`):
//! kguard's `fs -o json` must give the same `Licenses`, split and normalised alike.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::process::Command;

#[test]
fn licenses_are_named_as_trivy_names_them() {
    let root = kguard_testkit::repo_root();
    let expected = std::fs::read_to_string(root.join("tests/fixtures/vuln/licenses-expected.tsv")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .current_dir(&root)
        .args(["fs", "tests/fixtures/vuln/licenses", "-o", "json", "--list-all-pkgs"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: BTreeMap<String, String> = BTreeMap::new();
    for r in v["Results"].as_array().unwrap() {
        for p in r["Packages"].as_array().into_iter().flatten() {
            let lic: Vec<&str> = p["Licenses"].as_array().into_iter().flatten().map(|l| l.as_str().unwrap()).collect();
            got.insert(p["Name"].as_str().unwrap().to_owned(), lic.join("|"));
        }
    }
    let (mut total, mut agree) = (0, 0);
    for (i, line) in expected.lines().filter(|l| !l.starts_with('#')).enumerate() {
        let (declared, want) = line.split_once('\t').unwrap();
        total += 1;
        let have = got.get(&format!("lic{i:03}")).map_or("<missing>", String::as_str);
        if have == want {
            agree += 1;
        } else {
            println!("  disagree: {declared:?}: kguard {have:?}, Trivy {want:?}");
        }
    }
    println!("trivy license names oracle: {agree} agree of {total} declared strings");
    assert_eq!(total, 76);
    assert_eq!(agree, total);
}
