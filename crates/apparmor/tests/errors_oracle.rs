//! The parser's messages against upstream's `parser/tst/errors.py` cases (`../shared/oracles/
//! apparmor/parser-tst/errors_expected.json`): exit status and the exact stderr line, as
//! `apparmor_parser` prints it (the crate's `Error::upstream` / `Warning::upstream`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

use kguard_apparmor::scan::{Entry, Fs};
use kguard_apparmor::{Options, parse};
use serde_json::Value;

/// Files relative to the oracle folder (the parser's working directory upstream).
struct RelFs(PathBuf);

impl Fs for RelFs {
    fn entry(&self, path: &str) -> Option<Entry> {
        let p = self.0.join(path);
        let meta = std::fs::metadata(&p).ok()?;
        if meta.is_dir() {
            let names = std::fs::read_dir(&p).ok()?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
            Some(Entry::Dir(names))
        } else {
            std::fs::read(&p).ok().map(Entry::File)
        }
    }
}

fn run(root: &Path, args: &[String]) -> (bool, String) {
    let warn = args.iter().any(|a| a == "--warn=deprecated");
    let file = args.iter().find(|a| !a.starts_with("--")).unwrap();
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    let search = ["errors".to_owned()];
    let fs = RelFs(root.to_path_buf());
    match parse(file, &text, Options { fs: &fs, search: &search, base: "." }) {
        Ok(p) => {
            let stderr = if warn {
                p.warnings.iter().map(|w| format!("{}\n", w.upstream(file))).collect()
            } else {
                String::new()
            };
            (false, stderr)
        }
        Err(e) => (true, format!("{}\n", e.upstream(file))),
    }
}

#[test]
fn error_messages() {
    let Some(root) = kguard_testkit::shared_path("oracles/apparmor/parser-tst") else { return };
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("errors_expected.json")).unwrap()).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    let mut agree = 0;
    for c in cases {
        let args: Vec<String> = c["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
        let (failed, stderr) = run(&root, &args);
        let want = c["stderr"].as_str().unwrap();
        if failed == c["expect_rc_nonzero"].as_bool().unwrap() && stderr == want {
            agree += 1;
        } else {
            println!("  disagree {}: got ({failed}, {stderr:?}), want {want:?}", c["name"]);
        }
    }
    println!("apparmor parser errors oracle: {agree}/{} agree", cases.len());
    assert_eq!(agree, cases.len());
}
