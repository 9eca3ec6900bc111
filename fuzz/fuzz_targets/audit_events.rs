//! Fuzzes Kubernetes audit events as kguard reads them: `kguard serve`'s audit webhook bodies
//! (`kguard_server::audit::events`, `EventList`), and `kguard detect`'s readers
//! (`kguard_detect::k8saudit`: the plugin's stream of JSON values and the line reader that skips bad
//! lines), then every `ka.*`/`jevt.*` field extracted from what was read and the bundled rules run
//! over it. Any panic, hang or unbounded allocation is a bug.
#![no_main]

use std::sync::OnceLock;

use kguard_detect::k8saudit::{self, FieldInfo, LineReader};
use kguard_detect::{Engine, RuleMatching};
use libfuzzer_sys::fuzz_target;

const BUNDLED: &str = include_str!("../../rules/kguard_k8s_audit_rules.yaml");

fn setup() -> &'static (Vec<FieldInfo>, Engine) {
    static S: OnceLock<(Vec<FieldInfo>, Engine)> = OnceLock::new();
    S.get_or_init(|| {
        let fields = k8saudit::field_names().into_iter().filter_map(k8saudit::field).collect();
        let (mut engine, _) =
            kguard_detect::load(&[("kguard_k8s_audit_rules.yaml", BUNDLED)]).expect("the bundled rules load");
        engine.rule_matching = RuleMatching::All;
        (fields, engine)
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = kguard_server::audit::events(data) {
        let _ = kguard_server::audit::lines(&events);
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (fields, engine) = setup();
    let (mut events, _) = k8saudit::parse_events(text, 1);
    let mut reader = LineReader::new(1);
    let mut errs = Vec::new();
    for line in text.split('\n') {
        reader.push_line(line, &mut events, &mut errs);
    }
    reader.finish(&mut errs);
    for ev in events.iter().take(8) {
        for f in fields {
            for arg in [None, Some("0"), Some("app"), Some("/metadata/name"), Some("-1"), Some("")] {
                let _ = k8saudit::extract(f, arg, ev);
            }
        }
        for alert in engine.process(ev) {
            let _ = alert.to_json("fuzz");
        }
    }
});
