//! Property tests for the loader: no input panics it, and every reported position is inside
//! the input. (The cargo-fuzz target `fuzz/fuzz_targets/load.rs` explores the same entry points
//! without bounds; this runs on every `cargo test`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use kguard_model::load::{decode_text, parse_text};
use proptest::prelude::*;

const SEED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: &l {app: web}\nspec:\n  template:\n    metadata:\n      labels: *l\n    spec:\n      hostNetwork: yes\n      containers:\n      - name: c\n        image: \"nginx:1\"\n        securityContext:\n          <<: {privileged: on}\n          runAsUser: 0644\n---\nkind: List\napiVersion: v1\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: p}}]\n";

fn check(bytes: Vec<u8>) {
    let name: Arc<str> = "p.yaml".into();
    let Ok(text) = decode_text(name.clone(), bytes) else { return };
    let lines = u32::try_from(text.lines().count()).unwrap() + 1;
    let parsed = parse_text(&name, &text);
    for d in &parsed.diagnostics {
        if let Some(pos) = d.location.pos {
            assert!(pos.line >= 1 && pos.line <= lines, "diagnostic line {} outside 1..={lines}: {d}", pos.line);
        }
    }
    for o in &parsed.objects {
        let pos = o.root.locate("/spec/template/spec/containers/0/securityContext/privileged");
        assert!(pos.line >= 1 && pos.line <= lines);
        let _ = o.root.to_json();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_yamlish_text(s in "[-a-z:{}\\[\\],&*!|>'\"#<\n ]{0,200}") {
        check(s.into_bytes());
    }

    #[test]
    fn mutated_manifest(pos in 0usize..SEED.len(), byte in any::<u8>(), cut in 0usize..SEED.len()) {
        let mut b = SEED.as_bytes().to_vec();
        b[pos] = byte;
        check(b.clone());
        b.truncate(cut);
        check(b);
    }

    #[test]
    fn arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(b);
    }
}

#[test]
fn seed_parses_as_kubernetes_reads_it() {
    let name: Arc<str> = "seed.yaml".into();
    let parsed = parse_text(&name, SEED);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert_eq!(parsed.objects.len(), 2);
    let dep = &parsed.objects[0];
    assert_eq!(dep.id.to_string(), "Deployment/web");
    let spec = dep.root.pointer("/spec/template/spec").unwrap().to_json();
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["containers"][0]["securityContext"]["privileged"], true);
    assert_eq!(spec["containers"][0]["securityContext"]["runAsUser"], 420);
    assert_eq!(dep.label("app"), Some("web"));
    let pod = &parsed.objects[1];
    assert_eq!(pod.doc_index, 1);
    assert_eq!(pod.doc_pointer, "/items/0");
    assert_eq!(pod.id.to_string(), "Pod/p");
}

#[test]
fn typed_list_items_inherit_kind_and_api_version() {
    let name: Arc<str> = "l.yaml".into();
    let text = "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n- kind: Pod\n  apiVersion: v1\n  metadata: {name: b}\n---\napiVersion: v1\nkind: List\nitems:\n- metadata: {name: c}\n";
    let parsed = parse_text(&name, text);
    let ids: Vec<String> = parsed.objects.iter().map(|o| o.id.to_string()).collect();
    assert_eq!(ids, ["Pod/a", "Pod/b"]);
    // A `kind: List` item without a kind is not guessed: it is reported.
    assert_eq!(parsed.diagnostics.len(), 1, "{:?}", parsed.diagnostics);
    assert!(parsed.diagnostics[0].message.contains("apiVersion"));
}

#[test]
fn template_placeholders_are_reported_not_dropped() {
    let name: Arc<str> = "t.yaml".into();
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${APP_NAME}\n  namespace: \"{{ .Release.Namespace }}\"\nspec: {}\n";
    let parsed = parse_text(&name, text);
    assert_eq!(parsed.objects.len(), 1, "the object is still scanned");
    let lines: Vec<u32> = parsed.diagnostics.iter().map(|d| d.location.pos.unwrap().line).collect();
    assert_eq!(lines, [4, 5], "{:?}", parsed.diagnostics);
    assert!(parsed.diagnostics.iter().all(|d| d.code == "template-placeholder"));
}
