//! The parser against upstream's `parser/tst/simple_tests` (`../shared/oracles/apparmor/
//! parser-tst/`): every normal case (not TODO, not DISABLED) must be accepted exactly when
//! upstream expects PASS. A ratchet: agreement may not fall below the recorded counts; the
//! disagreements are listed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

use kguard_apparmor::scan::{Entry, Fs};
use kguard_apparmor::{Options, parse};
use serde_json::Value;

/// Reads includes from the real file system.
struct RealFs;

impl Fs for RealFs {
    fn entry(&self, path: &str) -> Option<Entry> {
        // upstream runs from `parser/tst`; our copy of that folder is `parser-tst`
        let mapped = path.replace("parser-tst/../tst/", "parser-tst/");
        let p = Path::new(&mapped);
        let meta = std::fs::metadata(p).ok()?;
        if meta.is_dir() {
            let names = std::fs::read_dir(p).ok()?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
            Some(Entry::Dir(names))
        } else {
            std::fs::read(p).ok().map(Entry::File)
        }
    }
}

/// What simple.pl feeds the parser: the file without its `#=` lines.
fn strip(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with("#=")).map(|l| format!("{l}\n")).collect()
}

fn run(root: &Path, text: &str) -> Result<(), String> {
    let search = [root.join("simple_tests").display().to_string()];
    let base = root.display().to_string();
    let opts = Options { fs: &RealFs, search: &search, base: &base };
    parse("-", &strip(text), opts).map(|_| ()).map_err(|e| e.to_string())
}

/// Recorded agreement (the ratchet): raise these when the parser improves.
const SIMPLE_AGREE: usize = 2225;
const GENERATED_AGREE: usize = 13550;

fn report(name: &str, total: usize, bad: &[String], floor: usize) {
    let agree = total - bad.len();
    let shown = if std::env::var_os("AA_ORACLE_ALL").is_some() { bad.len() } else { 400 };
    for b in bad.iter().take(shown) {
        println!("  disagree: {b}");
    }
    println!("apparmor parser {} oracle: {agree}/{total} agree", name.replace('_', "-"));
    assert!(agree >= floor, "{name}: agreement fell to {agree}/{total} (recorded {floor})");
}

#[test]
fn simple_tests() {
    let Some(root) = kguard_testkit::shared_path("oracles/apparmor/parser-tst") else { return };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("simple_tests.manifest.json")).unwrap()).unwrap();
    let mut total = 0;
    let mut bad = Vec::new();
    for case in manifest.as_array().unwrap() {
        if case["todo"].as_bool().unwrap() || case["disabled"].as_bool().unwrap() {
            continue;
        }
        total += 1;
        let file = case["file"].as_str().unwrap();
        let path: PathBuf = root.join("simple_tests").join(file);
        let bytes = std::fs::read(&path).unwrap();
        let want_pass = case["expected"] == "PASS";
        let got = match String::from_utf8(bytes) {
            Ok(text) => run(&root, &text),
            Err(_) => Err("not UTF-8".into()),
        };
        if got.is_ok() != want_pass {
            bad.push(format!("{file} want {} got {got:?}", case["expected"]));
        }
    }
    assert_eq!(total, 2225);
    report("simple_tests", total, &bad, SIMPLE_AGREE);
}

#[test]
fn generated_tests() {
    let Some(root) = kguard_testkit::shared_path("oracles/apparmor/parser-tst") else { return };
    let text = std::fs::read_to_string(root.join("generated_sample.jsonl")).unwrap();
    let mut total = 0;
    let mut bad = Vec::new();
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        if case["todo"].as_bool().unwrap_or(false) || case["disabled"].as_bool().unwrap_or(false) {
            continue;
        }
        total += 1;
        let got = run(&root, case["content"].as_str().unwrap());
        if got.is_ok() != (case["expected"] == "PASS") {
            bad.push(format!("{} want {} got {got:?}", case["file"], case["expected"]));
        }
    }
    report("generated", total, &bad, GENERATED_AGREE);
}
