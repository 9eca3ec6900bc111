//! Fuzzes the AppArmor log parser (`kguard_apparmor::log`, libapparmor's `aa_log_parse`):
//! arbitrary bytes as log lines (every framing: audit, syslog, dmesg, user AVC), each record
//! printed as test_multi prints it and turned into the rule aa-logprof would propose, all the
//! lines together into profiles (rendered), also with file paths globbed both ways. Any panic, hang or unbounded allocation is a bug.
#![no_main]

use kguard_apparmor::{glob::Glob, log};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut records = Vec::new();
    for line in text.lines().take(256) {
        let r = log::parse_line(line);
        let _ = r.print();
        let _ = log::propose_rule(&r);
        records.push(r);
    }
    for glob in [Glob::None, Glob::Path, Glob::Ext] {
        for p in log::propose_globbed(&records, glob) {
            let _ = p.render();
        }
    }
});
