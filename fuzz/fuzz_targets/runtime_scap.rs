//! Fuzzes the scap reader, the inspector and field extraction: arbitrary bytes (plain or
//! gzip'd) are read block by block, applied to the state, and every syscall field is extracted
//! from every event. Any panic, hang or unbounded allocation is a bug.
#![no_main]

use kguard_runtime::Capture;
use libfuzzer_sys::fuzz_target;

const FIELDS: &[(&str, Option<&str>)] = &[
    ("evt.args", None), ("evt.type", None), ("evt.res", None), ("evt.arg", Some("0")), ("evt.arg", Some("fd")),
    ("evt.rawarg", Some("res")), ("evt.category", None), ("evt.buflen", None), ("evt.is_open_exec", None),
    ("proc.name", None), ("proc.cmdline", None), ("proc.pname", None), ("proc.aname", Some("3")),
    ("proc.sname", None), ("proc.loginshellid", None), ("proc.cwd", None), ("user.name", None),
    ("fd.name", None), ("fd.num", None), ("fd.typechar", None), ("fd.directory", None), ("fd.filename", None),
    ("fd.sip", None), ("fd.cip", None), ("fd.lport", None), ("fd.rport", None), ("fd.l4proto", None),
    ("fd.is_server", None), ("container.id", None), ("thread.cap_effective", None),
];

fuzz_target!(|data: &[u8]| {
    let Ok(mut cap) = Capture::new(data) else { return };
    cap.inspector.max_buf_len = 80;
    let mut n = 0;
    while let Ok(Some(ev)) = cap.next_event() {
        for (f, a) in FIELDS {
            let _ = ev.field(f, *a);
        }
        n += 1;
        if n > 10_000 {
            break;
        }
    }
});
