//! Rules files that expand far beyond their size: lists of lists and macros of macros are bounded
//! by the number of items and nodes they expand to (and by their nesting), with a load error naming
//! the list, macro or rule and its `file:line:column`, never an allocation of gigabytes or a stack
//! overflow.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::fmt::Write as _;

use kguard_detect::limits;

fn load_err(files: &[(&str, &str)]) -> Vec<String> {
    match kguard_detect::load(files) {
        Ok(_) => panic!("expected a load error"),
        Err(m) => m.iter().map(ToString::to_string).collect(),
    }
}

/// `l0` has 8 items, each next list names the previous one 8 times: `l9` would hold 8^10 items.
fn list_bomb() -> String {
    let mut s = String::from("- list: l0\n  items: [a, b, c, d, e, f, g, h]\n");
    for i in 1..10 {
        let p = format!("l{}", i - 1);
        writeln!(s, "- list: l{i}\n  items: [{p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}]").unwrap();
    }
    s
}

/// `m0` is one comparison, each next macro uses the previous one 4 times: `m15` would be 4^15 nodes.
fn macro_bomb() -> String {
    let mut s = String::from("- macro: m0\n  condition: ka.verb = get\n");
    for i in 1..16 {
        let p = format!("m{}", i - 1);
        writeln!(s, "- macro: m{i}\n  condition: ({p} or {p} or {p} or {p})").unwrap();
    }
    s.push_str("- rule: Bomb\n  desc: d\n  condition: m15\n  output: o\n  priority: INFO\n  source: k8s_audit\n");
    s
}

#[test]
fn reproduction_nested_lists_are_bounded_by_items() {
    let text = list_bomb();
    assert!(text.len() < 1024, "the reproduction is a 1 KB file ({} bytes)", text.len());
    let errs = load_err(&[("bomb.yaml", &text)]);
    // l0 (8), l1 (64) … l5 (262144 > MAX_LIST_ITEMS): l5 is the first list over the limit, at line 11.
    assert!(8usize.pow(5) <= limits::MAX_LIST_ITEMS && 8usize.pow(6) > limits::MAX_LIST_ITEMS);
    let first = &errs[0];
    assert!(first.starts_with("bomb.yaml:11:3: error:"), "{errs:?}");
    assert!(first.contains("list 'l5'"), "{first}");
    assert!(first.contains(&format!("more than {} items", limits::MAX_LIST_ITEMS)), "{first}");
}

#[test]
fn reproduction_nested_macros_are_bounded_by_nodes() {
    let text = macro_bomb();
    assert!(text.len() < 1024, "the reproduction is a 1 KB file ({} bytes)", text.len());
    let errs = load_err(&[("bomb.yaml", &text)]);
    // m8 has 1 + 4 + … + 4^8 = 87381 nodes; m9 (349525) is the first macro over the limit, at line 19.
    let first = &errs[0];
    assert!(first.starts_with("bomb.yaml:19:3: error:"), "{errs:?}");
    assert!(first.contains("macro 'm9'"), "{first}");
    assert!(first.contains(&format!("more than {} nodes", limits::MAX_CONDITION_NODES)), "{first}");
    assert!(first.contains("rule 'Bomb'"), "the rule that uses it is named: {first}");
}

#[test]
fn list_items_in_a_condition_count_towards_its_size() {
    // 5 lists of 50,000 items would be fine alone; one condition naming l4 three times is not.
    let mut s = String::from("- list: l0\n  items: [a, b, c, d, e, f, g, h, i, j]\n");
    for (i, n) in [(1, 10), (2, 10), (3, 10), (4, 5)] {
        let p = format!("l{}", i - 1);
        writeln!(s, "- list: l{i}\n  items: [{}]", vec![p.as_str(); n].join(", ")).unwrap();
    }
    s.push_str("- rule: Big\n  desc: d\n  condition: ka.verb in (l4, l4, l4)\n  output: o\n  priority: INFO\n  source: k8s_audit\n");
    let errs = load_err(&[("big.yaml", &s)]);
    assert!(errs[0].starts_with("big.yaml:11:3: error:"), "{errs:?}");
    assert!(errs[0].contains("rule 'Big'"), "{errs:?}");
    assert!(errs[0].contains(&format!("more than {} nodes", limits::MAX_CONDITION_NODES)), "{errs:?}");
}

#[test]
fn many_rules_share_one_total_budget() {
    // One macro just under the per-condition limit, used by enough rules to pass the total.
    let mut s = String::from("- macro: m0\n  condition: ka.verb = get\n");
    for i in 1..9 {
        let p = format!("m{}", i - 1);
        writeln!(s, "- macro: m{i}\n  condition: ({p} or {p} or {p} or {p})").unwrap();
    }
    let rules = limits::MAX_TOTAL_NODES / 87_381 + 2;
    for r in 0..rules {
        writeln!(s, "- rule: R{r}\n  desc: d\n  condition: m8\n  output: o\n  priority: INFO\n  source: k8s_audit")
            .unwrap();
    }
    let errs = load_err(&[("many.yaml", &s)]);
    assert!(
        errs.iter().any(|e| e.contains(&format!("more than {} nodes in all", limits::MAX_TOTAL_NODES))),
        "{errs:?}"
    );
}

#[test]
fn a_long_macro_chain_is_an_error_not_a_stack_overflow() {
    let mut s = String::from("- macro: m0\n  condition: ka.verb = get\n");
    for i in 1..20_000 {
        writeln!(s, "- macro: m{i}\n  condition: not m{}", i - 1).unwrap();
    }
    s.push_str("- rule: Deep\n  desc: d\n  condition: m19999\n  output: o\n  priority: INFO\n  source: k8s_audit\n");
    let errs = load_err(&[("deep.yaml", &s)]);
    assert!(errs[0].contains("rule 'Deep'"), "{errs:?}");
    assert!(errs[0].contains(&format!("deeper than {}", limits::MAX_EXPANSION_DEPTH)), "{errs:?}");
}

#[test]
fn ordinary_rules_are_far_below_the_limits() {
    let text = "- list: verbs\n  items: [create, update]\n- list: more\n  items: [verbs, patch]\n- macro: w\n  condition: ka.verb in (more)\n- rule: R\n  desc: d\n  condition: w and not w\n  output: o\n  priority: INFO\n  source: k8s_audit\n";
    assert!(kguard_detect::load(&[("ok.yaml", text)]).is_ok());
}
