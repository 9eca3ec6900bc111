//! Bad input (clear errors with positions, bounded work), access decisions and lint findings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use kguard_apparmor::scan::{Entry, Fs};
use kguard_apparmor::{Options, lint, parse, query};

struct MapFs(BTreeMap<String, String>);

impl Fs for MapFs {
    fn entry(&self, path: &str) -> Option<Entry> {
        self.0.get(path).map(|t| Entry::File(t.clone().into_bytes()))
    }
}

fn err(text: &str) -> String {
    parse("p", text, Options::default()).unwrap_err().to_string()
}

#[test]
fn bad_input_is_a_positioned_error() {
    assert_eq!(err("/usr/bin/foo {\n  /etc/x r,\n"), "p:3:1: profile '/usr/bin/foo' is not closed (missing '}')");
    assert!(err("/a {\n  /x/@{NOPE} r,\n}\n").contains("never declared"));
    assert!(err("/a {\n  /x/@{V} r,\n}\n").starts_with("p:2:3: "));
    assert!(err("/a {\n  capability foo,\n}\n").starts_with("p:2:"));
    assert!(err("/a {\n  /x rwa,\n}\n").contains("mutually exclusive"));
}

#[test]
fn include_loops_and_depth_are_bounded() {
    let mut files = BTreeMap::new();
    files.insert("d/a".to_owned(), "include <b>\n/a r,\n".to_owned());
    files.insert("d/b".to_owned(), "include <a>\n/b r,\n".to_owned());
    let fs = MapFs(files);
    let search = ["d".to_owned()];
    let p = parse("p", "/x {\n include <a>\n}\n", Options { fs: &fs, search: &search, base: "." }).unwrap();
    assert_eq!(p.profiles[0].rules.len(), 2);
    let e = parse("p", "/x {\n include <missing>\n}\n", Options { fs: &fs, search: &search, base: "." }).unwrap_err();
    assert_eq!(e.to_string(), "p:2:19: Could not open 'missing'");
}

#[test]
fn huge_alternations_are_refused_not_expanded() {
    // 40 variables each doubling the previous one: 2^40 alternatives if expanded naively
    let mut text = String::from("@{V0} = a b\n");
    for i in 1..40 {
        text.push_str(&format!("@{{V{i}}} = @{{V{}}}x @{{V{}}}y\n", i - 1, i - 1));
    }
    text.push_str("/p {\n  /@{V39} r,\n}\n");
    let e = err(&text);
    assert!(e.contains("longer than") || e.contains("deeper than"), "{e}");
    let deep = format!("/p {{\n  /{}a{} r,\n}}\n", "{x,".repeat(100), "}".repeat(100));
    assert!(err(&deep).contains("deeper than"));
}

#[test]
fn deny_wins_and_the_deciding_rule_is_named() {
    let p = parse(
        "p",
        "/usr/bin/foo {\n  /etc/** r,\n  deny /etc/shadow r,\n  owner /home/** w,\n  priority=10 /etc/secret r,\n  priority=10 deny /etc/secret w,\n}\n",
        Options::default(),
    )
    .unwrap();
    let prof = &p.profiles[0];
    let d = query::decide(prof, "/etc/shadow", 'r', true);
    assert!(!d.allowed);
    assert_eq!(prof.rules[d.rule.unwrap()].span.pos.line, 3);
    let d = query::decide(prof, "/etc/passwd", 'r', true);
    assert!(d.allowed);
    assert_eq!(d.rule, Some(0));
    assert!(query::decide(prof, "/home/u/x", 'w', true).allowed);
    assert!(!query::decide(prof, "/home/u/x", 'w', false).allowed);
    assert!(!query::decide(prof, "/tmp/x", 'r', true).allowed);
}

#[test]
fn lint_reports_with_positions() {
    let p = parse(
        "p",
        "/usr/bin/foo flags=(complain) {\n  capability sys_admin,\n  /** rwix,\n  mount,\n  ptrace,\n  dbus,\n  /etc/apparmor.d/** w,\n}\n",
        Options::default(),
    )
    .unwrap();
    let f = lint::lint(&p);
    let ids: Vec<&str> = f.iter().map(|f| f.rule_id.as_str()).collect();
    for id in ["AA001", "AA002", "AA003", "AA004", "AA005", "AA006", "AA008"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let cap = f.iter().find(|f| f.rule_id == "AA003").unwrap();
    assert_eq!(cap.location.as_ref().unwrap().to_string(), "p:2:3");
}

/// Upstream's stress test nests 101 conditional blocks; kguard accepts up to `MAX_NESTING`
/// (128) on a test thread's default 2 MiB stack, and refuses deeper nesting with an error
/// instead of exhausting the stack.
#[test]
fn deep_nesting_is_bounded() {
    let nested = |n: usize| {
        let mut t = String::from("$a = true\n/p {\n");
        t.push_str(&"if $a {\n".repeat(n));
        t.push_str("/x r,\n");
        t.push_str(&"}\n".repeat(n));
        t.push_str("}\n");
        t
    };
    // the profile's own block counts as one level
    let deepest = kguard_apparmor::parse::MAX_NESTING - 1;
    let ok = parse("p", &nested(deepest), Options::default()).unwrap();
    assert_eq!(ok.profiles[0].rules.len(), 1);
    let e = err(&nested(deepest + 1));
    assert!(e.contains("nested deeper than 128"), "{e}");
    let e = err(&nested(100_000));
    assert!(e.contains("nested deeper than 128"), "{e}");
}

#[test]
fn globbed_log_paths_merge_into_one_rule() {
    use kguard_apparmor::{glob::Glob, log};
    let line = |name: &str| {
        format!(
            r#"type=AVC msg=audit(1733500000.1:1): apparmor="DENIED" operation="open" class="file" profile="app" name="{name}" pid=1 comm="app" requested_mask="r" denied_mask="r" fsuid=0 ouid=1"#
        )
    };
    let records: Vec<log::Record> = ["/var/log/app/a.log", "/var/log/app/b.log", "/var/log/app/c.txt"]
        .iter()
        .map(|n| log::parse_line(&line(n)))
        .collect();
    let rules = |g| log::propose_globbed(&records, g).remove(0).rules;
    assert_eq!(rules(Glob::None).len(), 3);
    assert_eq!(rules(Glob::Ext), ["/var/log/app/*.log r,", "/var/log/app/*.txt r,"]);
    assert_eq!(rules(Glob::Path), ["/var/log/app/* r,"]);
}

#[test]
fn non_utf8_profiles_are_placed_at_the_first_bad_byte() {
    let e = kguard_apparmor::error::decode("p", b"profile c {\n  /etc/\xff r,\n}\n".to_vec()).unwrap_err();
    assert_eq!(e.to_string(), "p:2:8: not UTF-8 text (byte 0xff)");
    assert_eq!(kguard_apparmor::error::decode("p", b"ok".to_vec()).unwrap(), "ok");
}
