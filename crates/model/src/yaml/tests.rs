//! Golden tests: every row of the Kubernetes-vs-YAML-crates table in the design notes, plus
//! positions, merges, limits and error recovery.

use super::*;

fn one(text: &str) -> Node {
    let mut docs = parse_documents(text);
    assert_eq!(docs.len(), 1, "expected one document in {text:?}");
    docs.remove(0).root.expect("parses").expect("not empty")
}

fn json(text: &str) -> serde_json::Value {
    one(text).to_json()
}

#[test]
fn yaml_1_1_booleans_like_kubernetes() {
    let v = json("a: yes\nb: on\nc: y\nd: off\ne: No\nf: TRUE\ng: 'yes'\n");
    assert_eq!(v, serde_json::json!({"a": true, "b": true, "c": true, "d": false, "e": false, "f": true, "g": "yes"}));
}

#[test]
fn legacy_octal_hex_binary_and_underscores() {
    let v = json(
        "mode: 0644\nh: 0x1F\no: 0o644\nb: 0b101\nu: 1_000\nneg: -0x10\nz: 0\nf: 1.5\ne: 1e3\nbig: 99999999999999999999\nnine: 09\n",
    );
    assert_eq!(v["mode"], 420);
    assert_eq!(v["h"], 31);
    assert_eq!(v["o"], 420);
    assert_eq!(v["b"], 5);
    assert_eq!(v["u"], 1000);
    assert_eq!(v["neg"], -16);
    assert_eq!(v["z"], 0);
    assert_eq!(v["f"], 1.5);
    assert_eq!(v["e"], 1000.0);
    assert!(v["big"].is_f64());
    assert_eq!(v["nine"], 9.0);
}

#[test]
fn nulls_and_strings() {
    let v = json("a: ~\nb: null\nc:\nd: '~'\ne: \"null\"\nf: hello world\ng: |\n  text\n");
    assert_eq!(
        v,
        serde_json::json!({"a": null, "b": null, "c": null, "d": "~", "e": "null", "f": "hello world", "g": "text\n"})
    );
}

#[test]
fn bool_keys_become_strings_like_kubernetes() {
    let v = json("y: 1\non: 2\n3: x\n");
    assert_eq!(v, serde_json::json!({"true": 2, "3": "x"}));
}

#[test]
fn merge_keys_are_applied() {
    let v = json("base: &b\n  privileged: true\n  x: 1\nsc:\n  <<: *b\n  x: 2\n");
    assert_eq!(v["sc"], serde_json::json!({"privileged": true, "x": 2}));
    // go-yaml v2: a merge written after an explicit key overrides it.
    let v = json("base: &b {privileged: true}\nsc:\n  privileged: false\n  <<: *b\n");
    assert_eq!(v["sc"]["privileged"], true);
    // A list of merges.
    let v = json("a: &a {x: 1}\nb: &b {w: 2}\nc:\n  <<: [*a, *b]\n");
    assert_eq!(v["c"], serde_json::json!({"x": 1, "w": 2}));
    // A quoted `<<` is an ordinary key.
    let v = json("a: &a {x: 1}\nc:\n  '<<': *a\n");
    assert_eq!(v["c"], serde_json::json!({"<<": {"x": 1}}));
}

#[test]
fn tags() {
    let v = json("a: !!str 0644\nb: !!int '12'\nc: !custom x\n");
    assert_eq!(v, serde_json::json!({"a": "0644", "b": 12, "c": "x"}));
}

#[test]
fn duplicate_keys_warn_and_last_wins() {
    let docs = parse_documents("a: 1\nb: 2\na: 3\n");
    let doc = &docs[0];
    assert_eq!(doc.root.as_ref().unwrap().as_ref().unwrap().to_json(), serde_json::json!({"a": 3, "b": 2}));
    assert_eq!(doc.warnings.len(), 1);
    assert_eq!(doc.warnings[0].code, "duplicate-key");
    assert_eq!(doc.warnings[0].pos, Pos::new(3, 1));
}

#[test]
fn infinities_are_rejected() {
    let docs = parse_documents("a: .inf\n");
    assert!(docs[0].root.as_ref().unwrap_err().message.contains("infinite"));
    assert_eq!(json("a: '.inf'\n")["a"], ".inf");
}

#[test]
fn positions_of_keys_and_items() {
    let text =
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    securityContext:\n      privileged: true\n";
    let root = one(text);
    assert_eq!(root.locate("/spec/containers/0/securityContext/privileged"), Pos::new(7, 7));
    assert_eq!(root.locate("/spec/containers/0"), Pos::new(5, 5));
    // Missing fields locate at the nearest existing parent.
    assert_eq!(root.locate("/spec/containers/0/securityContext/runAsUser"), Pos::new(6, 5));
    assert_eq!(root.locate("/spec/hostNetwork"), Pos::new(3, 1));
    assert_eq!(root.locate("/spec/containers/7/name"), Pos::new(4, 3));
    assert_eq!(root.pointer("/spec/containers/0/name").and_then(Node::as_str), Some("a"));
    assert!(root.pointer("spec").is_none(), "a pointer must start with /");
}

#[test]
fn pointer_escapes() {
    let root = one("metadata:\n  annotations:\n    a/b~c: x\n");
    assert_eq!(root.pointer("/metadata/annotations/a~1b~0c").and_then(Node::as_str), Some("x"));
    assert_eq!(escape_pointer_token("a/b~c"), "a~1b~0c");
}

#[test]
fn multi_document_streams_with_positions() {
    let text = "# header\n---\na: 1\n---\n# only a comment\n---\n\n---   # trailing comment\nb: 2\n...\n";
    let docs = parse_documents(text);
    let roots: Vec<_> = docs.iter().map(|d| d.root.as_ref().unwrap().as_ref().map(Node::to_json)).collect();
    assert_eq!(roots.iter().flatten().count(), 2);
    let b = docs.iter().find_map(|d| d.root.as_ref().unwrap().as_ref().filter(|n| n.get("b").is_some())).unwrap();
    assert_eq!(b.entry("b").unwrap().key_pos, Pos::new(9, 1));
}

#[test]
fn a_syntax_error_loses_only_its_document() {
    let text = "a: 1\n---\nb: [unclosed\nc: 2\n---\nd: 4\n";
    let docs = parse_documents(text);
    let ok: Vec<_> = docs.iter().filter_map(|d| d.root.as_ref().ok().and_then(Option::as_ref)).collect();
    assert_eq!(ok.len(), 2);
    let err = docs.iter().find_map(|d| d.root.as_ref().err()).unwrap();
    assert!(err.pos.line >= 3, "error position {:?} is in the broken document", err.pos);
}

#[test]
fn json_input() {
    let v =
        json("{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"spec\": {\"hostNetwork\": true, \"n\": [1, 2.5, null]}}");
    assert_eq!(v["spec"]["hostNetwork"], true);
    assert_eq!(v["spec"]["n"], serde_json::json!([1, 2.5, null]));
}

#[test]
fn alias_bomb_is_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    let docs = parse_documents(&text);
    assert!(docs[0].root.as_ref().unwrap_err().message.contains("alias bomb"));
}

#[test]
fn deep_nesting_is_bounded() {
    let text = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let docs = parse_documents(&text);
    let msg = &docs[0].root.as_ref().unwrap_err().message;
    assert!(msg.contains("nesting") || msg.contains("recursion"), "{msg}");
}

#[test]
fn bom_and_crlf() {
    let v = json("\u{feff}a: 1\r\nb: yes\r\n");
    assert_eq!(v, serde_json::json!({"a": 1, "b": true}));
}

#[test]
fn resolve_plain_edge_cases() {
    assert_eq!(resolve_plain("-"), Value::Str("-".into()));
    assert_eq!(resolve_plain("+"), Value::Str("+".into()));
    assert_eq!(resolve_plain("."), Value::Str(".".into()));
    assert_eq!(resolve_plain("1.2.3"), Value::Str("1.2.3".into()));
    assert_eq!(resolve_plain("0x"), Value::Str("0x".into()));
    assert_eq!(resolve_plain("-9223372036854775808"), Value::Int(i64::MIN));
    assert_eq!(resolve_plain("+12"), Value::Int(12));
    assert_eq!(resolve_plain(".5"), Value::Float(0.5));
    assert_eq!(resolve_plain("1."), Value::Float(1.0));
    assert_eq!(resolve_plain("1e"), Value::Str("1e".into()));
    assert_eq!(resolve_plain("10:30"), Value::Str("10:30".into()));
}
