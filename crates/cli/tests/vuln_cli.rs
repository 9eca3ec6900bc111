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
fn db_import_writes_an_index_that_db_reads() {
    let t = TempDir::new("vuln-cli-db");
    let idx = t.path().join("osv.idx");
    let o = kguard(&["db", "import", DB, DB_LANG, "--output-file", idx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("6 records"), "{}", String::from_utf8_lossy(&o.stdout));
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&idx).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o644);
    // The same findings from the index as from the records.
    for (args, db) in [(vec!["image", IMAGE], DB), (vec!["repo", REPO], DB_LANG)] {
        let mut from_records = args.clone();
        from_records.extend(["--db", db, "-o", "json"]);
        let mut from_index = args.clone();
        from_index.extend(["--db", idx.to_str().unwrap(), "-o", "json"]);
        let a = serde_json::from_slice::<serde_json::Value>(&kguard(&from_records).stdout).unwrap();
        let b = serde_json::from_slice::<serde_json::Value>(&kguard(&from_index).stdout).unwrap();
        assert_eq!(a["Results"], b["Results"], "{args:?}");
    }
    // A gzip file that is not an index, and a truncated index: errors naming the file.
    let bad = t.path().join("bad.idx");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"{\"hello\": 1}\n").unwrap();
    std::fs::write(&bad, gz.finish().unwrap()).unwrap();
    let o = kguard(&["db", "info", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("bad.idx: line 1: not a kguard OSV index"), "{}", err(&o));
    let bytes = std::fs::read(&idx).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let o = kguard(&["db", "info", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
    let o = kguard(&["db", "import", "no/such/dir", "--output-file", idx.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&idx).unwrap(), bytes, "a failed import leaves the old index");
}

#[test]
fn scan_images_lists_workload_images_and_scans_the_mapped_ones() {
    let o = kguard(&["scan", "tests/fixtures/vuln/workloads.yaml", "--images", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let images = v["images"].as_array().unwrap();
    let names: Vec<&str> = images.iter().map(|i| i["image"].as_str().unwrap()).collect();
    assert_eq!(names, ["example/debian:12", "nginx:1.25"]);
    let debian_users: Vec<String> = images[0]["usedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{} {} {}",
                u["workload"].as_str().unwrap(),
                u["container"].as_str().unwrap(),
                u["location"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        debian_users,
        [
            "Deployment/shop/api migrate tests/fixtures/vuln/workloads.yaml:15:11",
            "Deployment/shop/api api tests/fixtures/vuln/workloads.yaml:18:11"
        ]
    );

    let args = [
        "scan",
        "tests/fixtures/vuln/workloads.yaml",
        "--images",
        "--db",
        DB,
        "--image-map",
        "tests/fixtures/vuln/image-map.txt",
        "-o",
        "json",
    ];
    let o = kguard(&args);
    assert_eq!(o.status.code(), Some(1), "vulnerabilities fail the run: {}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let debian = &v["images"][0];
    assert_eq!(debian["source"], "tests/fixtures/vuln/debian-image.tar");
    assert_eq!(ids(&debian["report"]).len(), 3);
    assert!(v["images"][1]["report"].is_null(), "nginx is not mapped and not pulled");
    let mut never = args.to_vec();
    never.extend(["--fail-on", "never"]);
    assert_eq!(kguard(&never).status.code(), Some(0));
    let mut critical_only = args.to_vec();
    critical_only.extend(["--fail-on", "critical"]);
    assert_eq!(kguard(&critical_only).status.code(), Some(1), "zlib1g's is critical");

    let o = kguard(&["scan", "tests/fixtures/vuln/workloads.yaml", "--db", DB]);
    assert_eq!(o.status.code(), Some(2), "--db needs --images");
    let o = kguard(&["scan", "tests/fixtures/vuln/workloads.yaml", "--images", "-o", "yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("kind: ImageList"), "YAML, not JSON");
    let o = kguard(&["scan", "tests/fixtures/vuln/workloads.yaml", "--images", "-o", "sarif"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("table, json or yaml"), "{}", err(&o));
    let t = TempDir::new("vuln-cli-map");
    let map = t.path().join("map");
    std::fs::write(&map, "example/debian:12 debian-image.tar\n").unwrap();
    let o = kguard(&["scan", "tests/fixtures/vuln/workloads.yaml", "--images", "--image-map", map.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains(":1: expected `IMAGE: PATH`"), "{}", err(&o));
}

const REPO: &str = "tests/fixtures/vuln/repo";
const DB_LANG: &str = "tests/fixtures/vuln/osv-lang";

fn lang_ids(json: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = json["Results"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Vulnerabilities"].as_array().cloned().unwrap_or_default())
        .map(|x| {
            format!(
                "{}@{} {}",
                x["PkgName"].as_str().unwrap(),
                x["InstalledVersion"].as_str().unwrap(),
                x["VulnerabilityID"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn repo_lockfiles_dev_dependencies_skips_and_sbom_round_trip() {
    let o = kguard(&["repo", REPO, "--db", DB_LANG, "-o", "json", "--exit-code", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ArtifactType"], "repository");
    let targets: Vec<&str> = v["Results"].as_array().unwrap().iter().map(|r| r["Target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["tool/Cargo.lock", "web/package-lock.json"]);
    assert_eq!(lang_ids(&v), ["lodash@4.17.20 GHSA-35jh-r3h4-6jhm", "time@0.1.45 RUSTSEC-2020-0071"]);

    let o = kguard(&["repo", REPO, "--db", DB_LANG, "-o", "json", "--include-dev-deps"]);
    let with_dev = lang_ids(&serde_json::from_slice(&o.stdout).unwrap());
    assert!(with_dev.contains(&"minimist@1.2.0 GHSA-xvch-5gv4-984h".to_owned()), "{with_dev:?}");

    let o = kguard(&["repo", REPO, "--db", DB_LANG, "-o", "json", "--pkg-types", "os"]);
    assert_eq!(o.status.code(), Some(0), "no library findings kept: {}", err(&o));
    assert!(lang_ids(&serde_json::from_slice(&o.stdout).unwrap()).is_empty());
    let o = kguard(&["image", IMAGE, "--db", DB, "-o", "json", "--pkg-types", "library"]);
    assert!(ids(&serde_json::from_slice(&o.stdout).unwrap()).is_empty(), "no OS findings kept");
    let o = kguard(&["repo", REPO, "--pkg-types", "binaries"]);
    assert_eq!(o.status.code(), Some(2));

    let o = kguard(&["repo", REPO, "--db", DB_LANG, "-o", "json", "--skip-dirs", "tool", "--skip-files", "**/nothing"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["Results"].as_array().unwrap().len(), 1, "{v}");

    // By alias, from the ignore file.
    let t = TempDir::new("vuln-cli-repo");
    let ignore = t.path().join("ignore");
    std::fs::write(&ignore, "CVE-2021-23337\n").unwrap();
    let o = kguard(&["repo", REPO, "--db", DB_LANG, "-o", "json", "--ignorefile", ignore.to_str().unwrap()]);
    assert_eq!(lang_ids(&serde_json::from_slice(&o.stdout).unwrap()), ["time@0.1.45 RUSTSEC-2020-0071"]);

    // The lockfile packages survive an SBOM round trip with their findings.
    for fmt in ["cyclonedx", "spdx-json"] {
        let doc = t.path().join(format!("repo.{fmt}.json"));
        let o = kguard(&["repo", REPO, "-o", fmt, "--include-dev-deps", "--output-file", doc.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let o = kguard(&["sbom", doc.to_str().unwrap(), "--db", DB_LANG, "-o", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        assert_eq!(lang_ids(&serde_json::from_slice(&o.stdout).unwrap()), with_dev, "{fmt}");
    }

    // SARIF: one result per vulnerable package, at its lockfile line; valid by the OASIS schema.
    let o = kguard(&["repo", REPO, "--db", DB_LANG, "-o", "sarif"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let sarif: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("crates/report/tests/data/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&sarif).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let at: Vec<(String, u64)> = results
        .iter()
        .map(|r| {
            let p = &r["locations"][0]["physicalLocation"];
            (p["artifactLocation"]["uri"].as_str().unwrap().to_owned(), p["region"]["startLine"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        at,
        [
            ("tests/fixtures/vuln/repo/tool/Cargo.lock".to_owned(), 11),
            ("tests/fixtures/vuln/repo/web/package-lock.json".to_owned(), 17)
        ]
    );

    let bad = t.path().join("badrepo");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("package-lock.json"), "{\n  \"packages\": [\n").unwrap();
    let o = kguard(&["repo", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(err(&o).contains("package-lock.json"), "{}", err(&o));
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let t = TempDir::new("vuln-cli-bad");
    let o = kguard(&["image", "no/such/image.tar"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("no/such/image.tar: no such file or directory"), "{}", err(&o));
    let o = kguard(&["image", "Not A Reference"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("not an image reference"), "{}", err(&o));

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

/// A `docker-registry` (distribution 2.8, Debian) serving on a free loopback port until dropped.
struct Registry {
    child: std::process::Child,
    addr: String,
    _dir: TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn registry(htpasswd: Option<&str>) -> Registry {
    let dir = TempDir::new("registry");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut config = format!(
        "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: {addr}}}\n",
        dir.path().join("data").display()
    );
    if let Some(line) = htpasswd {
        std::fs::write(dir.path().join("htpasswd"), line).unwrap();
        config.push_str(&format!(
            "auth: {{htpasswd: {{realm: kguard-test, path: {}}}}}\n",
            dir.path().join("htpasswd").display()
        ));
    }
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    // Dropped (killed and waited for) on every path from here.
    let r = Registry { child, addr, _dir: dir };
    for _ in 0..100 {
        if std::net::TcpStream::connect(&r.addr).is_ok() {
            return r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("docker-registry did not listen on {}", r.addr);
}

fn push(archive: &str, dest: &str, creds: Option<&str>, oci: bool) {
    let mut c = Command::new("skopeo");
    c.current_dir(repo_root()).args(["copy", "-q", "--dest-tls-verify=false"]);
    if let Some(cr) = creds {
        c.args(["--dest-creds", cr]);
    }
    if oci {
        c.args(["--format", "oci"]);
    }
    let o = c.arg(format!("docker-archive:{archive}")).arg(format!("docker://{dest}")).output().unwrap();
    assert!(o.status.success(), "skopeo copy: {}", err(&o));
}

/// Pulls from a real registry (Debian's docker-registry, the CNCF distribution) on loopback,
/// the images pushed there by skopeo (Docker schema 2 and OCI manifests, gzip layers), and
/// checks the findings equal those of the saved archive; basic authentication with htpasswd;
/// pinning by digest; the registry's errors reach the user.
#[test]
fn pulls_from_a_real_registry() {
    let test = "pulls_from_a_real_registry";
    if !kguard_testkit::tool("docker-registry", test) || !kguard_testkit::tool("skopeo", test) {
        return;
    }
    // htpasswd (apache2-utils) has no --version: try the command the test runs.
    let h = Command::new("htpasswd").args(["-Bbn", "alice", "s3cret"]).output();
    let Some(h) = h.ok().filter(|o| o.status.success()) else {
        assert!(
            !kguard_testkit::strict(),
            "KGUARD_REQUIRE_SHARED is set (CI) but `htpasswd` (apache2-utils) is not installed"
        );
        kguard_testkit::skip(test, "`htpasswd` (apache2-utils) is not installed");
        return;
    };
    let archive = kguard(&["image", IMAGE, "--db", DB, "-o", "json"]);
    let want = ids(&serde_json::from_slice(&archive.stdout).unwrap());

    let open = registry(None);
    for (tag, oci) in [("12", false), ("oci", true)] {
        let r = format!("{}/example/debian:{tag}", open.addr);
        push(IMAGE, &r, None, oci);
        let o = kguard(&["image", &r, "--db", DB, "-o", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(ids(&v), want, "{r}");
        assert_eq!(v["ArtifactName"], r);
        let digest = v["Metadata"]["RepoDigests"][0].as_str().unwrap().to_owned();
        assert!(digest.starts_with(&format!("{}/example/debian@sha256:", open.addr)), "{digest}");
        // Pinned by digest: the same image.
        let o = kguard(&["image", &digest, "--db", DB, "-o", "json"]);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        assert_eq!(ids(&serde_json::from_slice(&o.stdout).unwrap()), want);
    }
    let o = kguard(&["image", &format!("{}/example/debian:nope", open.addr)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("404") && err(&o).contains("MANIFEST_UNKNOWN"), "{}", err(&o));
    let wrong = format!("{}/example/debian@sha256:{}", open.addr, "0".repeat(64));
    let o = kguard(&["image", &wrong]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));

    let private = registry(Some(&String::from_utf8_lossy(&h.stdout)));
    let r = format!("{}/private/debian:12", private.addr);
    push(IMAGE, &r, Some("alice:s3cret"), false);
    let o = kguard(&["image", &r]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("401") && err(&o).contains("--password-stdin"), "{}", err(&o));
    let with_password = |password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kguard"))
            .current_dir(repo_root())
            .args(["image", &r, "--db", DB, "-o", "json", "--username", "alice", "--password-stdin"])
            .env_remove("KGUARD_REGISTRY_PASSWORD")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), format!("{password}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let o = with_password("s3cret");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(ids(&serde_json::from_slice(&o.stdout).unwrap()), want);
    let o = with_password("wrong");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("401"), "{}", err(&o));
    // `scan --images --pull`: a workload's image pulled from the registry and scanned.
    let manifests = TempDir::new("pull-workload");
    let pod = manifests.path().join("pod.yaml");
    std::fs::write(
        &pod,
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: {}/example/debian:12\n", open.addr),
    )
    .unwrap();
    let o =
        kguard(&["scan", pod.to_str().unwrap(), "--images", "--pull", "--db", DB, "-o", "json", "--fail-on", "never"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["images"][0]["source"], "registry");
    assert_eq!(ids(&v["images"][0]["report"]), want);

    // Credentials from a Docker client configuration.
    let home = TempDir::new("docker-config");
    std::fs::write(
        home.path().join("config.json"),
        format!(r#"{{"auths": {{"{}": {{"auth": "YWxpY2U6czNjcmV0"}}}}}}"#, private.addr),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .current_dir(repo_root())
        .args(["image", &r, "--db", DB, "-o", "json"])
        .env("DOCKER_CONFIG", home.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    // `scan --images --pull` finds the same credentials.
    std::fs::write(
        &pod,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: c\n      image: {r}\n"
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .current_dir(repo_root())
        .args(["scan", pod.to_str().unwrap(), "--images", "--pull", "--db", DB, "-o", "json", "--fail-on", "never"])
        .env("DOCKER_CONFIG", home.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ids(&v["images"][0]["report"]), want);
}

/// `kguard image` on `lang-image.tar` (made by tests/fixtures/vuln/make-lang-image.py): the
/// installed language packages in Trivy's shape: one target per language for installed
/// packages (`Python`, `Node.js`, `Java`, `Ruby`) with each package's `FilePath`, one per Go
/// binary; the whited-out Python package gone; the vulnerable lodash matched with its `PkgPath`.
#[test]
fn image_reports_installed_language_packages() {
    let o = kguard(&[
        "image",
        "--input",
        "tests/fixtures/vuln/lang-image.tar",
        "--db",
        "tests/fixtures/vuln/osv-lang",
        "-o",
        "json",
        "--list-all-pkgs",
        "--exit-code",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got = Vec::new();
    for r in v["Results"].as_array().unwrap().iter().filter(|r| r["Class"] == "lang-pkgs") {
        for p in r["Packages"].as_array().unwrap() {
            got.push(format!(
                "{} {} {} {}",
                r["Target"].as_str().unwrap(),
                r["Type"].as_str().unwrap(),
                p["Identifier"]["PURL"].as_str().unwrap(),
                p["FilePath"].as_str().unwrap_or("-")
            ));
        }
    }
    let site = "usr/local/lib/python3.11/site-packages";
    assert_eq!(
        got,
        [
            "Conda conda-pkg pkg:conda/numpy@1.26.4 opt/conda/envs/ml/conda-meta/numpy-1.26.4-py311h64a7726_0.json"
                .to_owned(),
            "Java jar pkg:maven/com.google/guava@31.1 opt/app/webapps/app.war/WEB-INF/lib/guava-31.1.jar".into(),
            "Java jar pkg:maven/org.springframework/spring-beans@5.3.15 opt/app/lib/spring-beans-5.3.15.jar".into(),
            "Node.js node-pkg pkg:npm/%40types/node@20.1.0 app/node_modules/@types/node/package.json".into(),
            "Node.js node-pkg pkg:npm/hello-app@1.0.0 app/package.json".into(),
            "Node.js node-pkg pkg:npm/lodash@4.17.15 app/node_modules/lodash/package.json".into(),
            format!("Python python-pkg pkg:pypi/attrs@21.4.0 {site}/attrs-21.4.0-py3.9.egg"),
            format!("Python python-pkg pkg:pypi/requests@2.25.0 {site}/requests-2.25.0.dist-info/METADATA"),
            format!("Python python-pkg pkg:pypi/six@1.16.0 {site}/six-1.16.0.egg-info/PKG-INFO"),
            "Ruby gemspec pkg:gem/rake@13.0.6 usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec".into(),
            "usr/local/bin/hello gobinary pkg:golang/example.com/hello@v1.2.3 -".into(),
            "usr/local/bin/hello gobinary pkg:golang/stdlib@v1.21.4 -".into(),
            "usr/local/bin/hello gobinary pkg:golang/golang.org/x/text@v0.3.7 -".into(),
            "usr/local/bin/rusty rustbinary pkg:cargo/rusty@0.1.0 -".into(),
            "usr/local/bin/rusty rustbinary pkg:cargo/libc@0.2.150 -".into(),
            "usr/local/bin/rusty rustbinary pkg:cargo/smallvec@1.6.0 -".into(),
            "usr/local/bin/rusty rustbinary pkg:cargo/time@0.1.43 -".into(),
        ]
    );
    let node = v["Results"].as_array().unwrap().iter().find(|r| r["Target"] == "Node.js").unwrap();
    assert_eq!(node["Vulnerabilities"][0]["VulnerabilityID"], "GHSA-35jh-r3h4-6jhm");
    assert_eq!(node["Vulnerabilities"][0]["PkgPath"], "app/node_modules/lodash/package.json");
    let go = v["Results"].as_array().unwrap().iter().find(|r| r["Type"] == "gobinary").unwrap();
    assert_eq!(go["Packages"][0]["Relationship"], "root");
    assert_eq!(go["Packages"][0]["ID"], "example.com/hello@v1.2.3");
    // the cargo-auditable binary: runtime crates only (its build dependency `cc` left out), the
    // root crate's dependencies, and the crates.io advisory for `time` matched
    let rust = v["Results"].as_array().unwrap().iter().find(|r| r["Type"] == "rustbinary").unwrap();
    assert_eq!(rust["Target"], "usr/local/bin/rusty");
    assert_eq!(rust["Packages"][0]["Relationship"], "root");
    assert_eq!(rust["Packages"][0]["DependsOn"], serde_json::json!(["smallvec@1.6.0", "time@0.1.43"]));
    assert_eq!(rust["Vulnerabilities"][0]["VulnerabilityID"], "RUSTSEC-2020-0071");
    assert_eq!(rust["Vulnerabilities"][0]["PkgName"], "time");
    // conda packages are listed (an SBOM), never matched: Trivy has no advisories for them
    let conda = v["Results"].as_array().unwrap().iter().find(|r| r["Type"] == "conda-pkg").unwrap();
    assert!(conda.get("Vulnerabilities").is_none());

    // The uncompressed layers were walked by seeking (executables read by position); read whole
    // and checked against their diff_ids, the report is the same.
    let o = kguard(&[
        "image",
        "--input",
        "tests/fixtures/vuln/lang-image.tar",
        "--verify-layers",
        "--db",
        "tests/fixtures/vuln/osv-lang",
        "-o",
        "json",
        "--list-all-pkgs",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let verified: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(verified["Results"], v["Results"]);
}

/// The bytes of `path` in the layers of the fixture `lang-image.tar`.
fn lang_image_file(path: &str) -> Vec<u8> {
    kguard_testkit::image_file(&kguard_testkit::repo_root().join("tests/fixtures/vuln/lang-image.tar"), path)
}

/// What dpkg installed is an OS package, not a language package (Trivy's system-file filter):
/// a Go binary listed in `var/lib/dpkg/info/*.list` is not reported, the same binary elsewhere
/// is; a Rust binary's packages stay (Trivy filters Go binaries, not Rust ones). dpkg packages
/// carry the licenses of `usr/share/doc/NAME/copyright`; a symlinked doc directory is not read.
#[test]
fn files_the_os_installed_are_not_language_packages() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = TempDir::new("vuln-system-files");
    let root = t.path();
    let write = |rel: &str, data: &[u8], mode: u32| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let hello = lang_image_file("usr/local/bin/hello");
    write("usr/local/bin/hello", &hello, 0o755);
    write("opt/hello", &hello, 0o755);
    write("usr/local/bin/rusty", &lang_image_file("usr/local/bin/rusty"), 0o755);
    write("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n", 0o644);
    let stanza =
        |n: &str| format!("Package: {n}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n\n");
    write("var/lib/dpkg/status", (stanza("golang-hello") + &stanza("rust-rusty")).as_bytes(), 0o644);
    write(
        "var/lib/dpkg/info/golang-hello.list",
        b"/.\n/usr\n/usr/local\n/usr/local/bin\n/usr/local/bin/hello\n",
        0o644,
    );
    write("var/lib/dpkg/info/rust-rusty.list", b"/usr/local/bin/rusty\n", 0o644);
    write("usr/share/doc/golang-hello/copyright", b"Files: *\nLicense: BSD-3-clause\n", 0o644);
    std::os::unix::fs::symlink("golang-hello", root.join("usr/share/doc/rust-rusty")).unwrap();
    let o = kguard(&[
        "fs",
        root.to_str().unwrap(),
        "--db",
        "tests/fixtures/vuln/osv-lang",
        "-o",
        "json",
        "--list-all-pkgs",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let targets: Vec<String> = v["Results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["Class"] == "lang-pkgs")
        .map(|r| format!("{} {}", r["Target"].as_str().unwrap(), r["Type"].as_str().unwrap()))
        .collect();
    assert_eq!(targets, ["opt/hello gobinary", "usr/local/bin/rusty rustbinary"]);
    let os = v["Results"].as_array().unwrap().iter().find(|r| r["Class"] == "os-pkgs").unwrap();
    let licenses: Vec<String> =
        os["Packages"].as_array().unwrap().iter().map(|p| format!("{} {}", p["Name"], p["Licenses"])).collect();
    assert_eq!(licenses, [r#""golang-hello" ["BSD-3-Clause"]"#, r#""rust-rusty" null"#]);
    // The same licenses in the CycloneDX SBOM, as Trivy writes them.
    let o = kguard(&["fs", root.to_str().unwrap(), "-o", "cyclonedx"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let bom: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = bom["components"].as_array().unwrap().iter().find(|c| c["name"] == "golang-hello").unwrap();
    assert_eq!(c["licenses"], serde_json::json!([{"license": {"name": "BSD-3-Clause"}}]));
}

/// `kguard fs` finds the same kinds of packages in a directory; a malformed package file is
/// skipped with a warning naming it, and the scan goes on.
#[test]
fn fs_reports_installed_language_packages_and_warns_on_bad_files() {
    let t = TempDir::new("langpkgs-fs");
    let root = t.path();
    let write = |rel: &str, data: &[u8]| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    };
    write("usr/lib/python3/dist-packages/Flask-2.0.1.dist-info/METADATA", b"Name: Flask\nVersion: 2.0.1\n");
    write("srv/node_modules/broken/package.json", b"{\"name\": ");
    write("srv/node_modules/left-pad/package.json", br#"{"name":"left-pad","version":"1.3.0"}"#);
    write("opt/bad.jar", b"not a zip");
    let o = kguard(&["fs", root.to_str().unwrap(), "-o", "json", "--list-all-pkgs"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let targets: Vec<&str> = v["Results"].as_array().unwrap().iter().map(|r| r["Target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["Node.js", "Python"]);
    assert!(err(&o).contains("srv/node_modules/broken/package.json: not read as node-pkg"), "{}", err(&o));
    assert!(err(&o).contains("opt/bad.jar: not read as jar"), "{}", err(&o));
}

/// Rust programs built with cargo-auditable for Windows (PE), macOS (Mach-O) and WebAssembly:
/// their dependency lists are read as an ELF one's (`tests/fixtures/vuln/rust-binaries`, made
/// by `make-rust-binaries.py`). Trivy 0.59.1 lists the same packages for the PE and Mach-O files
/// and none for the WebAssembly module (bench/vuln-langpkgs-vs-trivy.sh).
#[test]
fn rust_binaries_of_other_platforms() {
    let o = kguard(&["fs", "tests/fixtures/vuln/rust-binaries", "-o", "json", "--list-all-pkgs"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: Vec<String> = Vec::new();
    for r in v["Results"].as_array().unwrap() {
        assert_eq!(r["Type"], "rustbinary");
        for p in r["Packages"].as_array().unwrap() {
            got.push(format!(
                "{} {} {}",
                r["Target"].as_str().unwrap(),
                p["ID"].as_str().unwrap(),
                p["Relationship"].as_str().unwrap_or("-")
            ));
        }
    }
    got.sort();
    let mut want: Vec<String> = Vec::new();
    for (file, root) in [("macapp", "macapp@0.3.1"), ("plugin.wasm", "plugin@0.9.0"), ("winsvc.exe", "winsvc@1.2.0")] {
        want.push(format!("opt/app/bin/{file} {root} root"));
        for dep in ["log@0.4.21", "smallvec@1.6.0"] {
            want.push(format!("opt/app/bin/{file} {dep} -"));
        }
    }
    want.sort();
    assert_eq!(got, want);
}

/// Java archives without pom.properties, identified with Trivy's Java DB (`--java-db`): by
/// MANIFEST.MF when the DB knows it, else SHA-1, else the file name's artifact and version
/// (`tests/fixtures/vuln/java-jars` and `java-db`, made by `make-java-db.py`; Trivy 0.59.1 lists
/// the same four with the same DB, `bench/vuln-javadb-vs-trivy.sh`). Without it, MANIFEST.MF
/// only. A file that is not a Java DB is exit 2.
#[test]
fn java_archives_identified_with_the_java_db() {
    let list = |extra: &[&str]| {
        let mut args = vec!["fs", "tests/fixtures/vuln/java-jars", "-o", "json", "--list-all-pkgs"];
        args.extend_from_slice(extra);
        let o = kguard(&args);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut got: Vec<String> = v["Results"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["Packages"].as_array().cloned().unwrap_or_default())
            .map(|p| {
                format!(
                    "{}@{} {}",
                    p["Name"].as_str().unwrap(),
                    p["Version"].as_str().unwrap(),
                    p["FilePath"].as_str().unwrap()
                )
            })
            .collect();
        got.sort();
        got
    };
    assert_eq!(
        list(&["--java-db", "tests/fixtures/vuln/java-db/trivy-java.db"]),
        [
            "com.google.guava:guava@31.1 opt/app/lib/guava-31.1.jar",
            "javax.servlet:jstl@1.2 opt/app/lib/jstl-1.2.jar",
            "javax.servlet:jstl@1.2 opt/app/webapps/app.war/WEB-INF/lib/jstl-1.2.jar",
            "org.apache.commons:commons-text@1.9 opt/app/lib/text-utils.jar",
        ]
    );
    assert_eq!(
        list(&[]),
        [
            "com.example.vendor:text-utils@1.9 opt/app/lib/text-utils.jar",
            "com.google.guava:guava@31.1 opt/app/lib/guava-31.1.jar"
        ]
    );
    let o = kguard(&["fs", "tests/fixtures/vuln/java-jars", "--java-db", "tests/fixtures/vuln/java-db/metadata.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("--java-db tests/fixtures/vuln/java-db/metadata.json"), "{}", err(&o));
}
