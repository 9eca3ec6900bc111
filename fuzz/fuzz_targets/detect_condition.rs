//! Fuzzes the Falco condition language of `kguard_detect`: arbitrary text through the condition
//! parser and, for what parses, the condition as a `k8s_audit` rule beside a macro (`m`) and a
//! list (`l`), loaded through `kguard_detect::load` (compilation: fields, operators, lists, the
//! macro, regexes, transformers) and evaluated against an audit event. The condition reaches the
//! rules file as a double-quoted YAML scalar (JSON's escaping), so that its text is unchanged.
//! Any panic, hang or unbounded allocation is a bug.
#![no_main]

use std::sync::OnceLock;

use kguard_detect::k8saudit::AuditEvent;
use kguard_detect::{RuleMatching, load, parser};
use libfuzzer_sys::fuzz_target;

/// The macro and the list every condition may name, before the rule.
const PRELUDE: &str = r#"- macro: m
  condition: ka.verb in (create, update) and not ka.user.name startswith system:node
- list: l
  items: [create, /api/v1, kube-system]
"#;

const EVENT: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?x=1","verb":"create","user":{"username":"system:serviceaccount:default:builder","groups":["system:serviceaccounts","system:authenticated"]},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.30","objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","metadata":{"name":"web","labels":{"app":"web"},"annotations":{"a":"b"}},"spec":{"hostNetwork":true,"hostPID":false,"serviceAccountName":"builder","volumes":[{"name":"h","hostPath":{"path":"/etc"}}],"containers":[{"name":"c","image":"nginx:latest","securityContext":{"privileged":true,"capabilities":{"add":["NET_ADMIN"]}},"ports":[{"hostPort":80}]}]}},"stageTimestamp":"2024-05-01T10:00:00.000000Z"}"#;

fn event() -> &'static AuditEvent {
    static EV: OnceLock<AuditEvent> = OnceLock::new();
    EV.get_or_init(|| AuditEvent::new(serde_json::from_str(EVENT).expect("the event is JSON"), 1))
}

/// The rules file of one condition.
fn rules(condition: &str) -> String {
    let quoted = serde_json::to_string(condition).expect("a string serializes");
    format!(
        "{PRELUDE}- rule: fuzz\n  desc: d\n  condition: {quoted}\n  output: o %ka.verb\n  priority: WARNING\n  source: k8s_audit\n"
    )
}

/// How many alerts the condition's rule raises on the event; `None` when the file does not load.
fn alerts(condition: &str) -> Option<usize> {
    let (mut engine, _) = load(&[("fuzz.yaml", &rules(condition))]).ok()?;
    engine.rule_matching = RuleMatching::All;
    Some(engine.process(event()).iter().map(|a| a.output().len()).filter(|&n| n > 0).count())
}

fn harness_works() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        // the macro, the list and a quoted string reach the engine as written
        assert_eq!(alerts("m and ka.verb in (l) and ka.user.name != \"x y\""), Some(1));
        assert_eq!(alerts("not m"), Some(0));
    });
}

fuzz_target!(|data: &[u8]| {
    harness_works();
    let Ok(text) = std::str::from_utf8(data) else { return };
    if parser::parse(text).is_ok() {
        let _ = alerts(text);
    }
});
