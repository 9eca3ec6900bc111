//! Fuzzes the kube-bench controls loader and evaluator: arbitrary text as a controls file, each
//! check run with the input's own bytes as audit, audit_config (YAML/JSON for JSONPath items) and
//! audit_env outputs, text/JSON/JUnit reports; plus compareOp on pieces of the input, and the
//! input as a KubeletConfiguration merged with a piece of it as the kubelet's flags. Any panic or
//! hang is a bug.
#![no_main]

use kguard_node::kubebench::eval::{AuditRun, compare_op};
use kguard_node::kubebench::{parse_controls, render_json, render_junit, render_text, run_controls};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(4, '\u{0}');
    let controls = parts.next().unwrap_or("");
    let output = parts.next().unwrap_or("").to_owned();
    if let Ok(c) = parse_controls(controls) {
        let mut run = |_cmd: &str| AuditRun { output: output.clone(), error: None };
        let r = run_controls(&c, &mut run);
        let _ = render_text(std::slice::from_ref(&r));
        let _ = render_json(std::slice::from_ref(&r));
        let _ = render_junit(std::slice::from_ref(&r));
    }
    let a = parts.next().unwrap_or("");
    let b = parts.next().unwrap_or("");
    for op in ["eq", "noteq", "gt", "gte", "lt", "lte", "has", "nothave", "regex", "valid_elements", "bitmask", "x"] {
        let _ = compare_op(op, a, b, "flag");
    }
    // The same text as a KubeletConfiguration, with a piece of the input as the kubelet's flags.
    let mut src = kguard_node::source::MemSource::new();
    src.insert("/c.yaml", controls);
    let flags = kguard_node::kubelet::parse_flags(&kguard_node::kubelet::split_words(a)).unwrap_or_default();
    let inputs = kguard_node::kubelet::Inputs { flags, flags_source: "fuzz".to_owned(), config: Some("/c.yaml".to_owned()) };
    let _ = kguard_node::kubelet::check(&kguard_node::kubelet::effective(&src, &inputs)).len();
    let _ = kguard_node::kubebench::jsonpath::unmarshal(a).map(|v| kguard_node::kubebench::jsonpath::execute(b, &v));
});
