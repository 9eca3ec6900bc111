//! Fuzzes the configuration of `kguard mesh proxy` through `kguard_mesh::proxy::Config::parse`
//! (YAML, unknown and mistyped fields with line:column, SPIFFE IDs in allow-lists and routes,
//! addresses, `host:port`, limits). Parsing reads no file. Any panic or hang is a bug; an error's
//! position is 1-based.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match kguard_mesh::proxy::Config::parse("proxy.yaml", text, std::path::Path::new("/etc/kguard")) {
        Ok(c) => {
            for r in &c.outbound {
                assert!(!r.server_name.is_empty());
                let _ = r.to();
            }
        }
        Err(e) => {
            if let Some(p) = e.pos {
                assert!(p.line >= 1 && p.column >= 1, "{e}");
            }
            let _ = e.to_string();
        }
    }
});
