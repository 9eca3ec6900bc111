//! A source registered with the engine: its rules compile against its fields, fire on its events
//! only, and compare numbers, addresses and networks as libsinsp does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use kguard_detect::source::{ArgKind, Event, FieldDef, FieldKind, FieldSource};

struct Toy;

const FIELDS: &[(&str, FieldKind, bool)] = &[
    ("proc.name", FieldKind::Text, false),
    ("fd.num", FieldKind::Number, false),
    ("fd.sip", FieldKind::IpAddr, false),
    ("fd.snet", FieldKind::IpNet, false),
    ("fd.types", FieldKind::Text, true),
];

impl FieldSource for Toy {
    fn name(&self) -> &'static str {
        "toy"
    }
    fn resolve(&self, name: &str, arg: Option<&str>) -> Result<(FieldDef, Option<String>), String> {
        let (i, (n, kind, is_list)) = FIELDS
            .iter()
            .enumerate()
            .find(|(_, (n, ..))| *n == name)
            .ok_or_else(|| format!("filter_check called with nonexistent field {name}"))?;
        let def =
            FieldDef { name: n, id: u32::try_from(i).unwrap(), arg: ArgKind::None, is_list: *is_list, kind: *kind };
        Ok((def, arg.map(str::to_owned)))
    }
    fn knows(&self, name: &str) -> bool {
        FIELDS.iter().any(|(n, ..)| *n == name)
    }
}

struct Ev(&'static [&'static str]);

impl Event for Ev {
    fn time_ns(&self) -> i64 {
        1_000_000_000
    }
    fn extract(&self, field: &FieldDef, _arg: Option<&str>) -> Option<Vec<String>> {
        let v = self.0.get(field.id as usize).copied()?;
        if v == "<NA>" {
            return None;
        }
        Some(v.split(',').map(str::to_owned).collect())
    }
}

fn engine(rules: &str) -> kguard_detect::Engine {
    match kguard_detect::load_with(&[("rules.yaml", rules)], &[&Toy]) {
        Ok((e, _)) => e,
        Err(m) => panic!("{m:?}"),
    }
}

const RULES: &str = r#"
- list: private
  items: ["10.0.0.0/8", "192.168.0.0/16"]
- rule: big fd
  desc: d
  condition: fd.num > 9 and proc.name = cat
  output: "fd %fd.num by %proc.name (%fd.sip)"
  priority: WARNING
  source: toy
- rule: private peer
  desc: d
  condition: fd.snet in (private) and fd.sip != "10.1.2.3"
  output: "peer %fd.sip"
  priority: NOTICE
  source: toy
- rule: loopback
  desc: d
  condition: fd.sip = "127.0.0.0/8" or fd.sip = "::1"
  output: "loopback"
  priority: INFO
  source: toy
- rule: audit rule
  desc: d
  condition: ka.verb = get
  output: "x"
  priority: INFO
  source: k8s_audit
"#;

#[test]
fn rules_of_a_registered_source_fire_on_its_events() {
    let e = engine(RULES);
    let fire = |fields: &'static [&'static str]| -> Vec<String> {
        e.process_event("toy", &Ev(fields)).into_iter().map(|a| format!("{}: {}", a.rule, a.message)).collect()
    };
    // numbers compare numerically ("10" > "9"), the output renders fields, <NA> for no value
    assert_eq!(fire(&["cat", "10", "<NA>", "<NA>", "f"]), ["big fd: fd 10 by cat (<NA>)"]);
    assert!(fire(&["cat", "9", "<NA>", "<NA>", "f"]).is_empty());
    // networks in a list, an address excluded by `!=`
    assert_eq!(fire(&["sh", "1", "10.9.8.7", "10.9.8.7", "4"]), ["private peer: peer 10.9.8.7"]);
    assert!(fire(&["sh", "1", "10.1.2.3", "10.1.2.3", "4"]).is_empty());
    assert!(fire(&["sh", "1", "172.16.0.1", "172.16.0.1", "4"]).is_empty());
    // a network pattern with `=`, IPv6 written differently
    assert_eq!(fire(&["sh", "1", "127.4.5.6", "127.4.5.6", "4"]), ["loopback: loopback"]);
    assert_eq!(fire(&["sh", "1", "0:0:0:0:0:0:0:1", "<NA>", "4"]), ["loopback: loopback"]);
    // events of another source name match nothing; audit rules never see toy events
    assert!(e.process_event("other", &Ev(&["cat", "10", "<NA>", "<NA>", "f"])).is_empty());
    assert!(e.rules().iter().filter(|r| r.is_compiled()).count() == 4);
    assert_eq!(e.rules().iter().filter(|r| r.is_k8s_audit()).count(), 1);
}

#[test]
fn unknown_fields_and_list_operators_are_load_errors() {
    let bad = "- rule: r\n  desc: d\n  condition: proc.nobody = x\n  output: o\n  priority: INFO\n  source: toy\n";
    let msgs = kguard_detect::load_with(&[("r.yaml", bad)], &[&Toy]).expect_err("refused");
    assert!(
        msgs.iter().any(|m| m.message.contains("filter_check called with nonexistent field proc.nobody")),
        "{msgs:?}"
    );
    let list = "- rule: r\n  desc: d\n  condition: fd.types = f\n  output: o\n  priority: INFO\n  source: toy\n";
    let msgs = kguard_detect::load_with(&[("r.yaml", list)], &[&Toy]).expect_err("refused");
    assert!(
        msgs.iter().any(|m| m.message.contains("only supports operators 'exists', 'in' and 'intersects'")),
        "{msgs:?}"
    );
    // without the source registered, the same rules load and never fire
    let (e, _) = kguard_detect::load(&[("r.yaml", bad)]).expect("loads");
    assert!(!e.rules().first().unwrap().is_compiled());
}
