//! Fuzzes `kguard.yaml`, the configuration of `kguard serve`, through
//! `kguard_server::config::Config::parse` (YAML, unknown and mistyped fields with line:column,
//! value validation, relative paths). Parsing reads no file. Any panic or hang is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = kguard_server::config::Config::parse("kguard.yaml", text, std::path::Path::new("/etc/kguard")) {
        let _ = e.to_string();
    }
});
