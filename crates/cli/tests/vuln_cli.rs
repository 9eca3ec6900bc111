//! `kguard image`, `kguard sbom` and the SBOM formats end to end with the real binary on the
//! example image `tests/fixtures/vuln/debian-image.tar`: findings and exit codes, the SBOM round
//! trip (what `-o cyclonedx|spdx-json` writes, `kguard sbom` reads back with the same findings),
//! and bad input refused with exit 2 and a message naming the file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::{Command, Output};

use kguard_testkit::{TempDir, repo_root};

fn kguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kguard")).current_dir(repo_root()).args(args).output().expect("runs kguard")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const IMAGE: &str = "tests/fixtures/vuln/debian-image.tar";
const DB: &str = "tests/fixtures/vuln/osv";

fn ids(json: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = json["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|x| format!("{} {}", x["PkgName"].as_str().unwrap(), x["VulnerabilityID"].as_str().unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn image_findings_report_and_exit_code() {
    let o = kguard(&["image", "--input", IMAGE, "--db", DB, "-o", "json", "--exit-code", "4"]);
    assert_eq!(o.status.code(), Some(4), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ArtifactType"], "container_image");
    assert_eq!(v["Metadata"]["RepoTags"][0], "example/debian:12");
    assert_eq!(v["Metadata"]["DiffIDs"].as_array().unwrap().len(), 2);
    assert_eq!(
        ids(&v),
        ["libssl3 DEBIAN-CVE-2023-5678", "openssl DEBIAN-CVE-2023-5678", "zlib1g DEBIAN-CVE-2023-45853"],
        "layer 2's upgraded status is the one read"
    );
    let o = kguard(&["image", IMAGE, "--db", DB, "--severity", "LOW", "--exit-code", "4"]);
    assert_eq!(o.status.code(), Some(0), "no LOW finding: clean");
}

#[test]
fn sbom_round_trip_keeps_the_findings() {
    let t = TempDir::new("vuln-cli");
    let direct = kguard(&["image", IMAGE, "--db", DB, "-o", "json"]);
    let want = ids(&serde_json::from_slice(&direct.stdout).unwrap());
    for fmt in ["cyclonedx", "spdx-json"] {
        let doc = t.path().join(format!("image.{fmt}.json"));
        let o = kguard(&["image", IMAGE, "-o", fmt, "--output-file", doc.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let o = kguard(&["sbom", doc.to_str().unwrap(), "--db", DB, "-o", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(ids(&v), want, "{fmt}");
        assert_eq!(v["Metadata"]["OS"]["Name"], "12.4", "{fmt}");
    }
    // With --db the CycloneDX document carries the vulnerabilities, each tied to its package.
    let o = kguard(&["image", IMAGE, "--db", DB, "-o", "cyclonedx"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let vulns = v["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 3);
    let refs: Vec<&str> = v["components"].as_array().unwrap().iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
    for x in vulns {
        for a in x["affects"].as_array().unwrap() {
            assert!(refs.contains(&a["ref"].as_str().unwrap()), "{a} names a component");
        }
    }
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let t = TempDir::new("vuln-cli-bad");
    let o = kguard(&["image", "no/such/image.tar"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no/such/image.tar") && err(&o).contains("registry is not supported"), "{}", err(&o));

    let o = kguard(&["image", "tests/fixtures/vuln/osv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("not an image"), "{}", err(&o));

    let truncated = t.path().join("truncated.tar");
    let bytes = std::fs::read(repo_root().join(IMAGE)).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let o = kguard(&["image", truncated.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("truncated.tar"), "{}", err(&o));

    let o = kguard(&["image", IMAGE, "--max-image-size", "1Ki"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("--max-image-size"), "{}", err(&o));
    let o = kguard(&["image", IMAGE, "--max-image-size", "12 parsecs"]);
    assert_eq!(o.status.code(), Some(2), "a bad size is a usage error");

    let ignore = t.path().join("ignore");
    std::fs::write(&ignore, "CVE-2023-5678\nCVE-2023-45853 exp:soon\n").unwrap();
    let o = kguard(&["image", IMAGE, "--ignorefile", ignore.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("line 2") && err(&o).contains("exp:YYYY-MM-DD"), "{}", err(&o));

    let bad = t.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"bomFormat\": \"CycloneDX\",\n  \"components\": [\n").unwrap();
    let o = kguard(&["sbom", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("bad.json") && err(&o).contains("line 4"), "{}", err(&o));
    std::fs::write(&bad, "{\"hello\": 1}").unwrap();
    let o = kguard(&["sbom", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("neither CycloneDX"), "{}", err(&o));
}
