//! Fuzzes Falco rules files as `kguard detect` loads them: YAML, lists, macros, rules, overrides,
//! appends, exceptions, outputs, engine and plugin versions; alone and (one input in four) after
//! the bundled rules, so that appends and overrides find items to change. What loads is run over
//! an audit event with every rule enabled to fire. The same text is also read as a Falco
//! configuration file (`-c`: `syscall_event_drops`, `metrics`, `buf_size_preset`, `log_level`).
//! Any panic, hang or unbounded allocation is a bug.
#![no_main]

use std::sync::OnceLock;

use kguard_detect::k8saudit::AuditEvent;
use kguard_detect::{RuleMatching, load};
use libfuzzer_sys::fuzz_target;

const BUNDLED: &str = include_str!("../../rules/kguard_k8s_audit_rules.yaml");

const EVENT: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"create","user":{"username":"alice","groups":["system:masters"]},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"pods","namespace":"default","name":"web","apiVersion":"v1"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","metadata":{"name":"web"},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"nginx","securityContext":{"privileged":true}}]}},"stageTimestamp":"2024-05-01T10:00:00.000000Z"}"#;

fn event() -> &'static AuditEvent {
    static EV: OnceLock<AuditEvent> = OnceLock::new();
    EV.get_or_init(|| AuditEvent::new(serde_json::from_str(EVENT).expect("the event is JSON"), 1))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cfg) = kguard_runtime::drops::FalcoConfig::parse(text, "fuzz.yaml") {
        let _ = cfg.ring_bytes();
    }
    let _ = kguard_runtime::metrics::parse_duration(text);
    // One input in four after the bundled rules (loading them is most of the cost of a run).
    let files: &[(&str, &str)] = if data.first().is_some_and(|b| b % 4 != 0) {
        &[("fuzz.yaml", text)]
    } else {
        &[("kguard_k8s_audit_rules.yaml", BUNDLED), ("fuzz.yaml", text)]
    };
    match load(files) {
        Ok((mut engine, _)) => {
            engine.rule_matching = RuleMatching::All;
            for alert in engine.process(event()) {
                let _ = alert.output();
                let _ = alert.to_json("fuzz");
            }
        }
        Err(messages) => {
            for m in messages {
                let _ = m.to_string();
            }
        }
    }
});
