//! Fuzzes the manifest loader: arbitrary bytes through UTF-8 decoding, document splitting,
//! YAML parsing, Kubernetes scalar resolution, merge keys, aliases and object extraction, and
//! the strict validation `scan` runs on every object (kinds, versions, unknown fields and their
//! suggestions).
//! Any panic, hang or unbounded allocation is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name: std::sync::Arc<str> = "fuzz.yaml".into();
    if let Ok(text) = kguard_model::load::decode_text(name.clone(), data.to_vec()) {
        let parsed = kguard_model::load::parse_text(&name, &text);
        for obj in &parsed.objects {
            let _ = obj.root.to_json();
            let _ = obj.location("/spec/template/spec/containers/0/securityContext");
            let _ = kguard_discovery::check_object(obj);
        }
    }
});
