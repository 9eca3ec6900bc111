//! The committed table is what the generator makes of its inputs: k8s-openapi 0.29's v1_37
//! definitions (from the cargo registry, as `cargo metadata` finds them) and the discovery
//! snapshot and additions in `tools/`. Editing `src/table.rs` by hand, or changing an input
//! without regenerating, fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn the_committed_table_is_the_generators_output() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = Command::new("python3").arg(dir.join("tools/gen_discovery.py")).current_dir(dir).output();
    let out = match run {
        Ok(out) => out,
        Err(e) => {
            assert!(!kguard_testkit::strict(), "KGUARD_REQUIRE_SHARED is set (CI) but python3 does not run: {e}");
            kguard_testkit::skip("the_committed_table_is_the_generators_output", &format!("python3: {e}"));
            return;
        }
    };
    assert!(out.status.success(), "gen_discovery.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(dir.join("src/table.rs")).unwrap();
    assert!(
        generated == committed,
        "src/table.rs is stale: run `python3 crates/discovery/tools/gen_discovery.py > crates/discovery/src/table.rs`"
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("100 resources"), "{summary}");
}
