//! Docs that cannot rot: every `kguard` command shown in README.md and docs/ runs here.
//!
//! Examples are ```` ```console ```` blocks (trycmd's format): `$ kguard ...` lines, the expected
//! output (stdout and stderr together) below, `...` for lines left out and `[..]` for part of a
//! line, `? 1` for an exit status other than 0. They run in a scratch directory where
//! `examples/`, `tests/`, `deploy/` and `docs/` are the repository's, so files the examples write
//! land in the scratch directory. A command that cannot run in a test (a server that runs until
//! stopped, a command that needs a cluster or a container runtime) goes in a block whose info
//! string says `no-run` (```` ```sh no-run ````); the guard below fails on a `kguard` command in
//! any other block, so no example escapes the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::PathBuf;

use kguard_testkit::{TempDir, repo_root};

/// The markdown files whose examples must run.
fn documents() -> Vec<PathBuf> {
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    for dir in ["deploy/kubernetes", "deploy/apiserver", "deploy/mesh"] {
        let readme = root.join(dir).join("README.md");
        if readme.exists() {
            files.push(readme);
        }
    }
    files
}

#[test]
fn documented_commands_run_as_shown() {
    let root = repo_root().canonicalize().unwrap();
    let scratch = TempDir::new("docs");
    for dir in ["examples", "tests", "deploy", "docs"] {
        std::os::unix::fs::symlink(root.join(dir), scratch.path().join(dir)).unwrap();
    }
    // trycmd runs each command in the working directory of this process.
    std::env::set_current_dir(scratch.path()).unwrap();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("kguard", PathBuf::from(env!("CARGO_BIN_EXE_kguard")))
        .env("NO_COLOR", "1")
        .timeout(std::time::Duration::from_secs(60));
    let docs = documents();
    let mut with_examples = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).unwrap();
        if blocks(&text).iter().any(|b| b.console) {
            cases.case(doc);
            with_examples += 1;
        }
    }
    assert!(with_examples >= 1, "expected console examples in README.md and docs/, found {with_examples} files");
    cases.run();
}

/// A fenced block: its info string's language, whether it runs, its lines (with line numbers).
struct Block {
    console: bool,
    /// ```` ```text ```` : a synopsis (`kguard scan [OPTIONS] <PATH>...`), not a command.
    synopsis: bool,
    no_run: bool,
    lines: Vec<(usize, String)>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<(String, Block)> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let ticks = trimmed.chars().take_while(|&c| c == '`').count();
        match current.take() {
            None if ticks >= 3 => {
                let info = trimmed[ticks..].trim();
                let lang = info.split([' ', ',']).next().unwrap_or("");
                let block = Block {
                    console: matches!(lang, "console" | "trycmd") && !info.contains("ignore"),
                    synopsis: lang == "text",
                    no_run: info.split([' ', ',']).any(|w| w == "no-run"),
                    lines: Vec::new(),
                };
                current = Some(("`".repeat(ticks), block));
            }
            None => {}
            Some((fence, block)) if trimmed.starts_with(&fence) && trimmed.trim_end() == fence => out.push(block),
            Some((fence, mut block)) => {
                block.lines.push((n + 1, line.to_owned()));
                current = Some((fence, block));
            }
        }
    }
    out
}

/// `kguard ...` written in a block that does not run must be a synopsis (a ```` ```text ```` block
/// showing syntax) or be marked `no-run` on purpose.
#[test]
fn every_kguard_command_in_the_docs_is_run_or_marked() {
    let root = repo_root();
    let mut unmarked = Vec::new();
    let mut console_commands = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let rel = doc.strip_prefix(&root).unwrap_or(&doc).display().to_string();
        for block in blocks(&text) {
            for (line_no, line) in &block.lines {
                let command = line.trim_start().trim_start_matches("$ ");
                if !command.starts_with("kguard ") {
                    continue;
                }
                // A synopsis shows the syntax: optional parts, alternatives, placeholders.
                let syntax = ["[", "<", "|", "...", "…"].iter().any(|m| command.contains(m));
                if block.console {
                    console_commands += 1;
                } else if !(block.no_run || (block.synopsis && syntax)) {
                    unmarked.push(format!("{rel}:{line_no}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "these commands are shown in a block that is neither a tested ```console example nor a ```text synopsis nor marked `no-run`:\n{}",
        unmarked.join("\n")
    );
    assert!(console_commands > 10, "only {console_commands} tested commands in the docs");
}

#[test]
fn block_reader_sees_fences_and_markers() {
    let text =
        "x\n```console\n$ kguard version\n```\n```sh no-run\nkguard serve\n```\n````md\n```\nkguard a\n```\n````\n";
    let b = blocks(text);
    assert_eq!(b.len(), 3);
    assert!(b[0].console && !b[0].no_run);
    assert!(!b[1].console && b[1].no_run);
    assert_eq!(b[2].lines.len(), 3, "an inner fence of three ticks does not close a four-tick block");
}
