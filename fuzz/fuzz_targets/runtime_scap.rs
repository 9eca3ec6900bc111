//! Fuzzes the scap reader, the inspector, field extraction and the writer: arbitrary bytes
//! (plain or gzip'd) are read block by block, applied to the state, and every syscall field is
//! extracted from every event; the blocks read are written again, and what is written must read
//! back without error. Any panic, hang or unbounded allocation is a bug.
#![no_main]

use kguard_runtime::Capture;
use kguard_runtime::scap::Reader;
use kguard_runtime::writer::Writer;
use libfuzzer_sys::fuzz_target;

const FIELDS: &[(&str, Option<&str>)] = &[
    ("evt.args", None), ("evt.type", None), ("evt.res", None), ("evt.arg", Some("0")), ("evt.arg", Some("fd")),
    ("evt.rawarg", Some("res")), ("evt.category", None), ("evt.buflen", None), ("evt.is_open_exec", None),
    ("proc.name", None), ("proc.cmdline", None), ("proc.pname", None), ("proc.aname", Some("3")),
    ("proc.sname", None), ("proc.loginshellid", None), ("proc.cwd", None), ("user.name", None),
    ("fd.name", None), ("fd.num", None), ("fd.typechar", None), ("fd.directory", None), ("fd.filename", None),
    ("fd.sip", None), ("fd.cip", None), ("fd.lport", None), ("fd.rport", None), ("fd.l4proto", None),
    ("fd.is_server", None), ("container.id", None), ("thread.cap_effective", None), ("syscall.type", None),
    ("thread.vtid", None), ("fs.path.name", None), ("fs.path.source", None), ("fs.path.target", None),
];

fuzz_target!(|data: &[u8]| {
    let Ok(mut cap) = Capture::new(data) else { return };
    cap.inspector.max_buf_len = 80;
    let mut writer = Writer::new(Vec::new()).ok();
    let mut n = 0;
    while let Ok(Some(block)) = cap.reader.next_block() {
        if let Some(w) = writer.as_mut() {
            let _ = w.write_block(&block);
        }
        if cap.inspector.feed(block)
            && let Some(ev) = cap.inspector.view()
        {
            for (f, a) in FIELDS {
                let _ = ev.field(f, *a);
            }
        }
        n += 1;
        if n > 10_000 {
            break;
        }
    }
    if let Some(w) = writer {
        let written = w.into_inner();
        let mut again = Reader::new(&written[..]).expect("a written capture starts with a section header");
        while let Some(_) = again.next_block().expect("a written capture reads back") {}
    }
});
