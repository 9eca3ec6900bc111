//! Fuzzes the AARE compiler and matcher alone (the profile target reaches it only through rules
//! that parse): the input's first line is a pattern, the second a path, the third another
//! pattern. The pattern is compiled, matched against the path and against itself turned into a
//! path, and checked for overlap with the other pattern both ways. Any panic, hang or unbounded
//! allocation (alternations, nested brackets, `**` runs) is a bug.
#![no_main]

use kguard_apparmor::aare::{Aare, check_syntax, filter_slashes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() > 4096 {
        return;
    }
    let mut lines = text.splitn(3, '\n');
    let pattern = lines.next().unwrap_or("");
    let path = lines.next().unwrap_or("/");
    let other = lines.next().unwrap_or("/**");
    let _ = check_syntax(pattern);
    let _ = filter_slashes(pattern);
    let Ok(a) = Aare::compile(pattern) else { return };
    let _ = a.matches(path);
    let _ = a.matches(pattern);
    if let Ok(b) = Aare::compile(other) {
        let _ = a.overlaps(&b);
        let _ = b.overlaps(&a);
        let _ = b.matches(path);
    }
});
