//! Trivy's lockfile goldens (`../shared/oracles/vuln/trivy/`): every case of `repo_cases.json`
//! (Trivy's `TestRepository` cases with local inputs) is scanned with our lockfile parsers and
//! the fixture DB, and the JSON report compared with Trivy's golden after ignoring
//! `Trivy.Version`, `ReportID`, `CreatedAt` and comparing `PkgIdentifier.UID` / `Fingerprint`
//! only for presence (they are Trivy-internal hashes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_vuln::lang::report::{ReportOptions, trivy_json};
use kguard_vuln::lang::{LangOptions, Mode, find};
use kguard_vuln::trivydb::Db;
use serde_json::Value;

/// Cases we do not make agree, each with its reason.
const ALLOWED_DISAGREEMENTS: &[(&str, &str)] = &[];

fn normalize(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for key in ["UID", "Fingerprint"] {
                if let Some(x) = m.get_mut(key) {
                    *x = Value::String("<present>".into());
                }
            }
            for (_, x) in m.iter_mut() {
                normalize(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if out.len() > 12 {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => diff(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: ours only = {}", short(va))),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(format!("{path}.{k}: golden only = {}", short(vb)));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!("{path}: {} items ours, {} golden", x.len(), y.len()));
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if a != b => out.push(format!("{path}: ours {} golden {}", short(a), short(b))),
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 { format!("{}…", &s[..200]) } else { s }
}

#[test]
fn trivy_lockfile_goldens() {
    let Some(base) = kguard_testkit::shared_path("oracles/vuln/trivy") else { return };
    let cases: Value = serde_json::from_str(&std::fs::read_to_string(base.join("repo_cases.json")).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    let db = Db::load(&base.join("testdata/fixtures/db")).unwrap();
    let mut agree = 0;
    let mut failures = Vec::new();
    let mut allowed_seen = Vec::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let args = &c["args"];
        let input = args["input"].as_str().unwrap();
        let root = base.join(input);
        let list = |k: &str| -> Vec<String> {
            args[k].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
        };
        // Trivy's skip flags name paths as given on its command line (relative to its working
        // directory); ours are relative to the scan root.
        let rel = |v: Vec<String>| -> Vec<String> {
            v.into_iter().map(|p| p.strip_prefix(&format!("{input}/")).map(str::to_owned).unwrap_or(p)).collect()
        };
        let rootfs = c["command"] == "rootfs";
        let opts = LangOptions {
            mode: if rootfs { Mode::Rootfs } else { Mode::Repo },
            skip_files: rel(list("skipFiles")),
            skip_dirs: rel(list("skipDirs")),
            root_label: input.to_owned(),
        };
        let targets = find(&root, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ropts = ReportOptions {
            artifact_name: input.to_owned(),
            artifact_type: if rootfs { "filesystem".into() } else { "repository".into() },
            list_all_pkgs: args["listAllPkgs"].as_bool().unwrap_or(false),
            include_dev_deps: args["includeDevDeps"].as_bool().unwrap_or(false),
            severity_sources: list("vulnSeveritySources"),
            vex: args["vex"].as_str().map(|f| {
                let rel = f.strip_prefix("testdata/").unwrap_or(f);
                kguard_vuln::lang::vex::OpenVex::parse(
                    &std::fs::read_to_string(base.join("testdata").join(rel)).unwrap(),
                )
                .unwrap()
            }),
            ..ReportOptions::default()
        };
        let mut ours = trivy_json(&targets, &db, &ropts);
        let mut golden: Value =
            serde_json::from_str(&std::fs::read_to_string(base.join(c["golden"].as_str().unwrap())).unwrap()).unwrap();
        for v in [&mut ours, &mut golden] {
            let m = v.as_object_mut().unwrap();
            m.remove("ReportID");
            m.remove("CreatedAt");
            m.remove("Trivy");
            normalize(v);
        }
        let mut d = Vec::new();
        diff("$", &ours, &golden, &mut d);
        if d.is_empty() {
            agree += 1;
        } else if ALLOWED_DISAGREEMENTS.iter().any(|(n, _)| *n == name) {
            allowed_seen.push(name.to_owned());
            eprintln!("allowed disagreement: {name}:\n  {}", d.join("\n  "));
        } else {
            failures.push(format!("{name}:\n  {}", d.join("\n  ")));
        }
    }
    eprintln!("trivy lockfile goldens oracle: {agree} agree of {} cases", cases.len());
    for f in &failures {
        eprintln!("DISAGREES {f}");
    }
    assert!(failures.is_empty(), "{} cases disagree (see above)", failures.len());
    assert_eq!(cases.len(), 30);
    assert_eq!(agree, cases.len() - ALLOWED_DISAGREEMENTS.len());
    assert_eq!(allowed_seen.len(), ALLOWED_DISAGREEMENTS.len(), "an allowed case agrees now: drop it from the list");
}
