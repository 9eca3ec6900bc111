//! Fuzzes the AppArmor profile parser and the AARE compiler: arbitrary bytes as a profile
//! (includes resolve to nothing), then every file rule's pattern compiled and matched against a
//! few paths, every pair of exec patterns checked for overlap; and the raw bytes as one pattern.
//! Any panic, hang or unbounded allocation is a bug.
#![no_main]

use kguard_apparmor::aare::Aare;
use kguard_apparmor::ast::RuleKind;
use kguard_apparmor::{Options, lint, parse, query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = parse("fuzz", text, Options::default()) {
        let _ = lint::lint(&policy);
        for p in &policy.profiles {
            let _ = query::decide(p, "/etc/passwd", 'r', true);
            for r in &p.rules {
                if let RuleKind::File { path: Some(path), .. } = &r.kind {
                    if let Ok(a) = Aare::compile(path) {
                        let _ = a.matches("/usr/bin/foo");
                        let _ = a.overlaps(&a);
                    }
                }
            }
        }
    }
    if text.len() < 4096 {
        if let Ok(a) = Aare::compile(text) {
            let _ = a.matches("/a/b/c");
            if let Ok(b) = Aare::compile("/**") {
                let _ = a.overlaps(&b);
            }
        }
    }
});
