//! Golden tests: every row of the Kubernetes-vs-YAML-crates table in the design notes, plus
//! positions, merges, limits and error recovery.

use super::*;
use serde_json::json;

fn one(text: &str) -> YamlNode {
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
    assert_eq!(root.pointer("/spec/containers/0/name").and_then(YamlNode::as_str), Some("a"));
    assert!(root.pointer("spec").is_none(), "a pointer must start with /");
}

#[test]
fn pointer_escapes() {
    let root = one("metadata:\n  annotations:\n    a/b~c: x\n");
    assert_eq!(root.pointer("/metadata/annotations/a~1b~0c").and_then(YamlNode::as_str), Some("x"));
    assert_eq!(escape_pointer_token("a/b~c"), "a~1b~0c");
}

#[test]
fn multi_document_streams_with_positions() {
    let text = "# header\n---\na: 1\n---\n# only a comment\n---\n\n---   # trailing comment\nb: 2\n...\n";
    let docs = parse_documents(text);
    let roots: Vec<_> = docs.iter().map(|d| d.root.as_ref().unwrap().as_ref().map(YamlNode::to_json)).collect();
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

/// Reproduction (issue "Trustworthy under attack and failure", item 11a): 31 KB of anchors whose
/// values nest the previous alias 250 levels deeper. Each collection passed the depth check
/// where it was written, but the tree the aliases expand to is 15,000 levels deep, and walking it
/// (drop, clone, `to_json`) overflowed a worker's stack and aborted the whole scan.
fn nested_alias_chain(levels_per_anchor: usize, anchors: usize) -> String {
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\na0: &a0 x\n");
    for i in 1..anchors {
        let prev = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} {}*a{prev}{}\n",
            "[".repeat(levels_per_anchor),
            "]".repeat(levels_per_anchor)
        ));
    }
    text
}

#[test]
fn aliases_count_toward_the_depth_limit() {
    let text = nested_alias_chain(250, 60);
    assert!(text.len() < 32 * 1024, "{}", text.len());
    // A small stack, like a worker thread's: the reader must not need a deep one.
    let docs = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || parse_documents(&text).into_iter().map(|d| d.root.map(|_| ())).collect::<Vec<_>>())
        .unwrap()
        .join()
        .expect("parsing does not overflow the stack");
    let err = docs[0].as_ref().unwrap_err();
    assert!(err.message.contains("nesting deeper than 256 levels"), "{err}");
    // The second anchor is the first whose expansion is too deep (250 + 250 levels).
    assert_eq!(err.pos, Pos::new(6, 259), "{err}");

    // Aliases that stay within the limit are read, at the full depth.
    let ok = one(&nested_alias_chain(100, 3));
    let mut node = ok.get("a2").unwrap();
    let mut depth = 0;
    while let Some([inner]) = node.as_seq() {
        node = inner;
        depth += 1;
    }
    assert_eq!((depth, node.as_str()), (200, Some("x")));
    // An alias used where the open collections already take up the depth budget is refused.
    let text = format!("a: &a [[x]]\nb: {}*a{}\n", "[".repeat(253), "]".repeat(253));
    assert!(parse_documents(&text)[0].root.as_ref().is_ok_and(Option::is_some), "1 + 253 + 2 = 256 levels");
    let text = format!("a: &a [[x]]\nb: {}*a{}\n", "[".repeat(254), "]".repeat(254));
    let err = parse_documents(&text)[0].root.as_ref().unwrap_err().clone();
    assert!(err.message.contains("nesting"), "{err}");
}

#[test]
fn aliases_count_toward_the_byte_budget() {
    // 2 MiB of text, copied 40 times: 80 MiB from a 2 MiB document.
    let text = format!("a: &a {}\nb: [{}]\n", "x".repeat(2 << 20), vec!["*a"; 40].join(", "));
    let Err(err) = &parse_documents(&text)[0].root else { panic!("80 MiB of copies accepted") };
    assert!(err.message.contains("bytes of text (alias bomb?)"), "{}", err.message);
    // Without aliases the same text is read.
    let text = format!("a: {}\nb: [{}]\n", "x".repeat(2 << 20), vec!["y"; 40].join(", "));
    assert!(one(&text).get("a").is_some());
}

/// Reproduction (item 11b): keys were checked for duplicates by a linear search, so a mapping of
/// 80,000 keys took 7.8 s (quadratic). Now linear, with the same semantics: the last value wins
/// in the place of the first, with a warning at the repeated key.
#[test]
fn many_keys_are_read_in_linear_time() {
    let n = 80_000;
    let mut text = String::with_capacity(n * 16);
    for i in 0..n {
        text.push_str(&format!("k{i}: {i}\n"));
    }
    text.push_str("k7: last\nk79999: last\n");
    let start = std::time::Instant::now();
    let docs = parse_documents(&text);
    let elapsed = start.elapsed();
    let root = docs[0].root.as_ref().unwrap().as_ref().unwrap();
    let entries = root.as_map().unwrap();
    assert_eq!(entries.len(), n);
    assert_eq!((entries[7].key.as_str(), entries[7].value.as_str()), ("k7", Some("last")));
    assert_eq!(entries[7].key_pos, Pos::new(80_001, 1));
    assert_eq!(entries[n - 1].value.as_str(), Some("last"));
    assert_eq!(entries[8].value.as_i64(), Some(8));
    assert_eq!(docs[0].warnings.len(), 2);
    assert_eq!(docs[0].warnings[0].pos, Pos::new(80_001, 1));
    // Quadratic took 7.8 s in a release build; linear takes well under a second in a debug one.
    assert!(elapsed < std::time::Duration::from_secs(5), "80,000 keys took {elapsed:?}");
}

#[test]
fn duplicate_keys_and_merges_in_large_mappings() {
    // Past the point where the key index is built, and merges into it: the same result as the
    // small case (document order of first appearance, last value, key position of the last).
    let mut text = String::from("base: &b {k3: merged, extra: 1}\nm:\n");
    for i in 0..40 {
        text.push_str(&format!("  k{i}: {i}\n"));
    }
    text.push_str("  k5: again\n  <<: *b\n  k39: end\n");
    let docs = parse_documents(&text);
    let m = docs[0].root.as_ref().unwrap().as_ref().unwrap().get("m").unwrap().to_json();
    let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    let mut expected: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    expected.push("extra".into());
    assert_eq!(keys, expected.iter().collect::<Vec<_>>());
    assert_eq!(
        (&m["k5"], &m["k3"], &m["k39"], &m["extra"]),
        (&json!("again"), &json!("merged"), &json!("end"), &json!(1))
    );
    assert_eq!(docs[0].warnings.len(), 2);
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
