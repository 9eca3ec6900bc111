//! Snapshot tests: the rendered table, JSON and SARIF of `kguard scan` on fixed fixtures.
//! Review changes with `cargo insta review` (or `INSTA_UPDATE=always` and `git diff`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::Command;

fn scan(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_kguard"))
        .arg("scan")
        .args(args)
        .args(["--color", "never"])
        .current_dir(kguard_testkit::repo_root())
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn table_examples() {
    insta::assert_snapshot!(scan(&["examples/"]));
}

#[test]
fn table_bad_inputs() {
    insta::assert_snapshot!(scan(&["tests/fixtures/bad/"]));
}

#[test]
fn json_legacy_app() {
    insta::assert_snapshot!(scan(&["examples/legacy-app.yaml", "--format", "json"]));
}

#[test]
fn sarif_node_exporter() {
    insta::assert_snapshot!(scan(&["examples/namespaces.yaml", "examples/node-exporter.yaml", "--format", "sarif"]));
}

#[test]
fn verbose_notes_for_unknown_kinds() {
    insta::assert_snapshot!(scan(&["tests/fixtures/bad/crd-instance.yaml", "examples/payments-api.yaml", "-v"]));
}
