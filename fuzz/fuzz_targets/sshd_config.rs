//! Fuzzes the sshd_config evaluator: arbitrary text as /etc/ssh/sshd_config (with one drop-in it
//! may Include), evaluated globally and for a connection, then rendered and judged. Any panic,
//! hang or unbounded allocation is a bug; refusals must be `ConfigError`s.
#![no_main]

use kguard_node::source::MemSource;
use kguard_node::sshd::{Connection, effective, findings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (main, dropin) = text.split_once('\u{0}').unwrap_or((text, "Include /etc/ssh/sshd_config\n"));
    let mut src = MemSource::new();
    src.insert("/etc/ssh/sshd_config", main);
    src.insert("/etc/ssh/sshd_config.d/10-a.conf", dropin);
    let conn: Connection = "user=alice,host=h.example.com,addr=192.0.2.10,laddr=10.0.0.1,lport=22".parse().unwrap();
    for c in [None, Some(&conn)] {
        if let Ok(eff) = effective(&src, "/etc/ssh/sshd_config", c) {
            let lines = eff.lines();
            assert!(lines.iter().any(|l| l.starts_with("port ")));
            let _ = findings::check(&eff);
        }
    }
    let _ = kguard_node::sshd::convtime(main);
});
