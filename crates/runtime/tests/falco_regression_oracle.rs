//! Oracle: Falco's own regression cases over `.scap` captures (falco@2583ea9, the last commit
//! with the python suite): `test/falco_tests.yaml` and `test/falco_tests_exceptions.yaml`,
//! staged in `../shared/oracles/falco-syscall` (its README says how the harness ran Falco and
//! what "agree" means). Per case: the rules files in order, `-D`/`-t`/`-T`, the priority
//! threshold, the capture; agree = alerts exactly when `detect: True`, every `detect_counts`
//! entry equal, an alert at every `detect_level`. Falco 0.35 evaluated enter and exit events and
//! fired the first matching rule per event, as kguard does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kguard_detect::{Engine, Selection, rules::Priority};
use kguard_model::yaml::{self, YamlNode};
use kguard_runtime::fields::SyscallFields;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn strings(n: Option<&YamlNode>) -> Vec<String> {
    match n {
        None => Vec::new(),
        Some(n) => match n.as_seq() {
            Some(items) => items.iter().filter_map(kguard_detect::rules::scalar_text).collect(),
            None => kguard_detect::rules::scalar_text(n).into_iter().collect(),
        },
    }
}

/// The rules files of a case, in order (a directory: its files in name order).
fn rules_files(root: &Path, case: &YamlNode) -> Vec<PathBuf> {
    let test_dir = root.join("test");
    let named = strings(case.get("rules_file"));
    if named.is_empty() {
        return vec![root.join("rules/falco_rules.yaml")];
    }
    let mut out = Vec::new();
    for f in named {
        let p = test_dir.join(&f);
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()).collect();
            entries.sort();
            out.extend(entries);
        } else {
            out.push(p);
        }
    }
    out
}

/// Alerts per rule and per priority.
type Counts = (BTreeMap<String, usize>, BTreeMap<Priority, usize>);

/// Alerts per rule and per priority for the capture.
fn run_capture(engine: &Engine, path: &Path) -> Result<Counts, String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut levels: BTreeMap<Priority, usize> = BTreeMap::new();
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut events = kguard_runtime::Capture::new(file).map_err(|e| format!("{}: {e}", path.display()))?;
    while let Some(ev) = events.next_event().map_err(|e| format!("{}: {e}", path.display()))? {
        // Falco does not run rules on the internal events (procinfo, container)
        if ev.is_internal() {
            continue;
        }
        for a in engine.process_event("syscall", &ev) {
            *counts.entry(a.rule).or_default() += 1;
            *levels.entry(a.priority).or_default() += 1;
        }
    }
    Ok((counts, levels))
}

enum Outcome {
    Agree,
    Skipped(&'static str),
}

fn run_case(root: &Path, case: &YamlNode) -> Result<Outcome, String> {
    if case.get("validate_rules_file").is_some() {
        return Ok(Outcome::Skipped("validate (rules loader codes)"));
    }
    if case.get("conf_file").is_some_and(|c| c.as_str().is_some_and(|c| c.contains("drops"))) {
        return Ok(Outcome::Skipped("syscall_drops"));
    }
    let trace = case.get("trace_file").and_then(YamlNode::as_str).unwrap_or("");
    let trace_path = root.join("test").join(trace);
    if !trace_path.is_file() {
        return Ok(Outcome::Skipped("capture not staged"));
    }
    let files = rules_files(root, case);
    let texts: Vec<(String, String)> = files.iter().map(|p| (p.display().to_string(), read(p))).collect();
    let refs: Vec<(&str, &str)> = texts.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let want_exit = case.get("exit_status").and_then(YamlNode::as_i64).unwrap_or(0);
    let (mut engine, _) = match kguard_detect::load_with(&refs, &[&SyscallFields]) {
        Ok(e) => e,
        Err(m) => {
            return if want_exit == 0 {
                Err(format!("load failed: {}", m.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")))
            } else {
                Ok(Outcome::Agree)
            };
        }
    };
    if let Some(p) = case.get("priority").and_then(YamlNode::as_str) {
        engine.min_priority = Some(Priority::parse(p).ok_or_else(|| format!("bad priority {p}"))?);
    }
    let sel = Selection {
        disable_substrings: strings(case.get("disabled_rules")),
        disable_tags: strings(case.get("disable_tags")),
        only_tags: strings(case.get("run_tags")),
    };
    if let Err(e) = engine.select(&sel) {
        let want = strings(case.get("stderr_contains")).join("");
        let re = regex::Regex::new(&want).map_err(|x| x.to_string())?;
        return if want_exit == 1 && re.is_match(&format!("Error: {e}")) {
            Ok(Outcome::Agree)
        } else {
            Err(format!("selection refused: {e}"))
        };
    }
    if want_exit != 0 {
        return Err(format!("expected exit status {want_exit}, the case ran"));
    }
    let (counts, levels) = run_capture(&engine, &trace_path)?;
    let total: usize = counts.values().sum();
    let detect = case.get("detect").and_then(YamlNode::as_bool).unwrap_or(false);
    if detect != (total > 0) {
        return Err(format!("detect {detect}, got {total} alerts {counts:?}"));
    }
    // the python harness checks levels and counts only for cases that expect detections
    if !detect {
        return Ok(Outcome::Agree);
    }
    for level in strings(case.get("detect_level")) {
        let p = Priority::parse(&level).ok_or_else(|| format!("bad level {level}"))?;
        if levels.get(&p).copied().unwrap_or(0) == 0 {
            return Err(format!("no alert at {level}: {levels:?}"));
        }
    }
    for dc in case.get("detect_counts").and_then(YamlNode::as_seq).unwrap_or(&[]) {
        for e in dc.as_map().unwrap() {
            let want = usize::try_from(e.value.as_i64().unwrap()).unwrap();
            let got = counts.get(&e.key).copied().unwrap_or(0);
            if want != got {
                return Err(format!("rule {:?}: expected {want}, got {got} (all: {counts:?})", e.key));
            }
        }
    }
    Ok(Outcome::Agree)
}

#[test]
fn falco_syscall_regression_oracle() {
    let Some(root) = kguard_testkit::shared_path("oracles/falco-syscall") else { return };
    let (mut agree, mut skipped, mut failed, mut total) = (0usize, BTreeMap::new(), Vec::new(), 0usize);
    for file in ["falco_tests.yaml", "falco_tests_exceptions.yaml"] {
        let text = read(&root.join("test").join(file));
        let docs = yaml::parse_documents(&text);
        let doc = docs.into_iter().next().unwrap().root.unwrap().unwrap();
        let cases = doc.as_map().unwrap().first().unwrap().value.as_map().unwrap();
        for c in cases {
            total += 1;
            match run_case(&root, &c.value) {
                Ok(Outcome::Agree) => agree += 1,
                Ok(Outcome::Skipped(why)) => *skipped.entry(why).or_insert(0usize) += 1,
                Err(e) => failed.push(format!("{file} {}: {e}", c.key)),
            }
        }
    }
    println!(
        "falco syscall regression oracle: {agree} agree, {} disagree, {} not run ({skipped:?}) of {total}",
        failed.len(),
        skipped.values().sum::<usize>()
    );
    for f in &failed {
        println!("  DISAGREE {f}");
    }
    assert_eq!(total, 134);
    assert!(failed.is_empty());
}

/// Both upstream rules files load unchanged, every syscall rule compiled against our fields:
/// the 2023 suite's `falco-rules-1.0.1` and the current stable `falco-rules-5.1.0`.
#[test]
fn upstream_rules_files_load_with_every_syscall_rule_compiled() {
    let Some(root) = kguard_testkit::shared_path("oracles/falco-syscall") else { return };
    for (f, want) in [("falco_rules.yaml", None), ("falco_rules.current.yaml", Some(25))] {
        let text = read(&root.join("rules").join(f));
        let (engine, warnings) = kguard_detect::load_with(&[(f, &text)], &[&SyscallFields])
            .unwrap_or_else(|m| panic!("{f}: {}", m.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")));
        let syscall: Vec<_> = engine.rules().iter().filter(|r| r.def.source == "syscall").collect();
        let compiled = syscall.iter().filter(|r| r.is_compiled()).count();
        println!("{f}: {} syscall rules, {compiled} compiled, {} warnings", syscall.len(), warnings.len());
        assert_eq!(compiled, syscall.len(), "{f}");
        if let Some(n) = want {
            assert_eq!(syscall.len(), n, "{f}");
        }
    }
}
