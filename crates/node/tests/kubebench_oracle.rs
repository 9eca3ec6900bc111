//! kube-bench oracles: every controls file of `kube-bench/cfg/` loads with every check; the
//! evaluator cases transcribed from `check/test_test.go` (`TestCompareOp`, `TestTestExecute`)
//! give the same result and the same expectation text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_node::kubebench::eval::{AuditOutputs, compare_op, execute_tests};
use kguard_node::kubebench::{Config, parse_controls};

fn cases() -> Option<serde_json::Value> {
    let p = kguard_testkit::shared_path("oracles/nodes/kube-bench/check/test_cases.json")?;
    Some(serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
}

#[test]
fn every_cfg_file_loads() {
    let Some(cfg) = kguard_testkit::shared_path("oracles/nodes/kube-bench/cfg") else { return };
    let (mut files, mut with_checks, mut checks, mut cis112) = (0, 0, 0, Vec::new());
    let mut dirs: Vec<_> = std::fs::read_dir(&cfg).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for f in entries {
            if f.file_name().unwrap() == "config.yaml" || f.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let c = parse_controls(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let n: usize = c.groups.iter().map(|g| g.checks.len()).sum();
            assert!(
                c.groups.iter().flat_map(|g| &g.checks).all(|k| !k.id.is_empty() && !k.text.is_empty()),
                "{}",
                f.display()
            );
            files += 1;
            with_checks += usize::from(n > 0);
            checks += n;
            if dir.ends_with("cis-1.12") {
                cis112.push((c.node_type.clone(), n));
            }
        }
    }
    eprintln!(
        "kube-bench cfg: {files} files, {with_checks} control files with checks, {checks} checks; cis-1.12 {cis112:?}"
    );
    // 16 files (managed services' master.yaml) hold no checks: 213 control files with checks, as the README counts.
    assert_eq!((files, with_checks, checks), (229, 213, 4860));
    cis112.sort();
    assert_eq!(
        cis112,
        [
            ("controlplane".into(), 5),
            ("etcd".into(), 7),
            ("master".into(), 60),
            ("node".into(), 25),
            ("policies".into(), 34)
        ]
    );
    let config = Config::parse(&std::fs::read_to_string(cfg.join("config.yaml")).unwrap()).unwrap();
    assert_eq!(config.benchmark_for_version("1.32").as_deref(), Some("cis-1.12"));
    assert_eq!(config.benchmark_for_version("v1.27.3").as_deref(), Some("cis-1.9"));
    assert!(config.targets("cis-1.12").contains(&"node".to_owned()));
}

#[test]
fn compare_op_cases() {
    let Some(doc) = cases() else { return };
    let rows = doc["compare_op"].as_array().unwrap();
    let mut agree = 0;
    for r in rows {
        let s = |k: &str| r[k].as_str().unwrap_or("");
        let got = compare_op(s("op"), s("flagVal"), s("compareValue"), s("flagName"));
        if got == (s("expectedResultPattern").to_owned(), r["testResult"].as_bool().unwrap()) {
            agree += 1;
        } else {
            eprintln!("disagreement {}: got {got:?}", s("label"));
        }
    }
    eprintln!("kube-bench compareOp: {agree}/{} agree", rows.len());
    assert_eq!((agree, rows.len()), (70, 70));
}

#[test]
fn execute_cases() {
    let Some(doc) = cases() else { return };
    let Some(data) = kguard_testkit::shared_path("oracles/nodes/kube-bench/check/data") else { return };
    let user = std::env::var("USER").unwrap_or_default();
    let text = std::fs::read_to_string(data).unwrap().replace("$user", &user);
    let controls = parse_controls(&text).unwrap();
    let rows = doc["execute"].as_array().unwrap();
    let (mut agree, mut untranscribed) = (0, 0);
    for (i, r) in rows.iter().enumerate() {
        let Some(at) = r.get("check") else {
            // The transcription kept only the expectation (the Go row built its input elsewhere).
            untranscribed += 1;
            continue;
        };
        let c = &controls.groups[at["group"].as_u64().unwrap() as usize].checks[at["check"].as_u64().unwrap() as usize];
        let out = AuditOutputs {
            audit: r["str"].as_str().unwrap_or("").to_owned(),
            config: r["strConfig"].as_str().unwrap_or("").to_owned(),
            env: r["strEnv"].as_str().unwrap_or("").to_owned(),
        };
        let got =
            execute_tests(c.tests.as_ref().unwrap(), !c.audit_config.is_empty(), c.use_multiple_values, &out).unwrap();
        if got.test_result && got.expected_result == r["expectedTestResult"].as_str().unwrap() {
            agree += 1;
        } else {
            eprintln!("disagreement row {i} (check {}): {got:?} want {}", c.id, r["expectedTestResult"]);
        }
    }
    eprintln!("kube-bench execute: {agree}/{} agree, {untranscribed} rows without input", rows.len());
    assert_eq!((agree, untranscribed, rows.len()), (32, 5, 37));
}

/// `integration/Expected_output.data`: kube-bench's text report of a kind cluster. Its audit
/// outputs are not recorded, so the states are taken from the report itself; everything else
/// (headers, check texts, the remediation blocks with kube-bench's variables substituted by
/// `config.yaml`'s defaults, summaries, the total) must be ours byte for byte, for the benchmark
/// whose checks it lists.
#[test]
fn text_report_equals_integration_expected_output() {
    let Some(dir) = kguard_testkit::shared_path("oracles/nodes/kube-bench") else { return };
    let matched = reproduce(&dir, "Expected_output.data");
    assert!(!matched.is_empty(), "no benchmark reproduces Expected_output.data");
    assert!(matched.contains(&"cis-1.20".to_owned()), "{matched:?}");
}

/// `integration/Expected_output_stig.data`: the same for the DISA STIG benchmark of EKS, whose
/// targets are master, controlplane, node, policies and managedservices, and whose two groups
/// `2.2` are reported as one (kube-bench files checks by group id: `kubebench::regroup`).
#[test]
fn text_report_equals_integration_expected_output_stig() {
    let Some(dir) = kguard_testkit::shared_path("oracles/nodes/kube-bench") else { return };
    let matched = reproduce(&dir, "Expected_output_stig.data");
    assert_eq!(matched, ["eks-stig-kubernetes-v1r6"]);
}

/// The benchmarks whose text report, with the states the expected file shows, is the file byte
/// for byte. The targets are the file's own, in the order of its `== Summary TARGET ==` lines;
/// the groups are regrouped as kube-bench regroups what it runs.
fn reproduce(dir: &std::path::Path, file: &str) -> Vec<String> {
    use kguard_node::kubebench::{
        CheckResult, ControlsResult, State, eval::AuditOutputs, regroup, render_text, substitute,
    };
    use kguard_node::source::MemSource;
    let expected = std::fs::read_to_string(dir.join("integration").join(file)).unwrap();
    let targets: Vec<&str> = expected
        .lines()
        .filter_map(|l| l.strip_prefix("== Summary ")?.strip_suffix(" =="))
        .filter(|t| *t != "total")
        .collect();
    let config = Config::parse(&std::fs::read_to_string(dir.join("cfg/config.yaml")).unwrap()).unwrap();
    let state_of = |line: &str| -> Option<(State, String)> {
        let (s, rest) = line.strip_prefix('[')?.split_once("] ")?;
        let st = match s {
            "PASS" => State::Pass,
            "FAIL" => State::Fail,
            "WARN" => State::Warn,
            "INFO" => State::Info,
            _ => return None,
        };
        Some((st, rest.to_owned()))
    };
    let mut benches: Vec<String> = std::fs::read_dir(dir.join("cfg"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|b| targets.iter().all(|t| dir.join("cfg").join(b).join(format!("{t}.yaml")).exists()))
        .collect();
    benches.sort();
    let mut matched = Vec::new();
    for bench in &benches {
        let mut results = Vec::new();
        let mut lines = expected.lines().filter_map(state_of);
        let mut ok = true;
        'targets: for target in &targets {
            let text = std::fs::read_to_string(dir.join("cfg").join(bench).join(format!("{target}.yaml"))).unwrap();
            let node_type = parse_controls(&text).unwrap().node_type;
            let vars = config.substitutions(&node_type, &MemSource::new(), "");
            let parsed = parse_controls(&substitute(&text, &vars)).unwrap();
            let empty = parsed.groups.iter().map(|_| Vec::new()).collect();
            let controls = regroup(ControlsResult { controls: parsed, results: empty }).controls;
            if lines.next().map(|l| l.1) != Some(format!("{} {}", controls.id, controls.text)) {
                ok = false;
                break;
            }
            let mut per_group = Vec::new();
            for g in &controls.groups {
                if lines.next().map(|l| l.1) != Some(format!("{} {}", g.id, g.text)) {
                    ok = false;
                    break 'targets;
                }
                let mut res = Vec::new();
                for c in &g.checks {
                    let Some((state, rest)) = lines.next() else {
                        ok = false;
                        break 'targets;
                    };
                    if rest != format!("{} {}", c.id, c.text) {
                        ok = false;
                        break 'targets;
                    }
                    res.push(CheckResult {
                        state,
                        reason: String::new(),
                        actual_value: String::new(),
                        expected_result: String::new(),
                        outputs: AuditOutputs::default(),
                    });
                }
                per_group.push(res);
            }
            results.push(ControlsResult { controls, results: per_group });
        }
        if !ok {
            continue;
        }
        let ours = render_text(&results);
        let (n_ours, n_exp) = (ours.lines().count(), expected.lines().count());
        let same = ours.lines().zip(expected.lines()).filter(|(a, b)| a == b).count();
        println!("{bench}: {same}/{n_exp} lines of {file} equal ({n_ours} lines ours)");
        if ours == expected {
            matched.push(bench.clone());
        } else {
            let first = ours.lines().zip(expected.lines()).position(|(a, b)| a != b);
            println!("  first difference at line {:?}", first.map(|i| i + 1));
        }
    }
    println!("{file}: byte-identical for {matched:?}");
    matched
}
