//! Truncated, corrupt and foreign inputs give errors naming the block, never a panic; the rules
//! engine resolves the syscall fields and refuses unknown ones with libsinsp's message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use kguard_detect::source::FieldSource;
use kguard_runtime::Capture;
use kguard_runtime::fields::SyscallFields;
use kguard_runtime::scap::{Block, Reader};

fn block(ty: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    let total = u32::try_from(b.len() + 12).unwrap();
    let mut out = ty.to_le_bytes().to_vec();
    out.extend(total.to_le_bytes());
    out.extend(b);
    out.extend(total.to_le_bytes());
    out
}

fn shb() -> Vec<u8> {
    let mut body = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    body.extend(1u16.to_le_bytes());
    body.extend(2u16.to_le_bytes());
    body.extend((-1i64).to_le_bytes());
    block(0x0A0D_0D0A, &body)
}

/// An EV_V2 block: openat exit-free `close` enter event (type 4? use PPME_SYSCALL_CLOSE_E = 4).
fn close_enter(fd: i64) -> Vec<u8> {
    let mut body = 0u16.to_le_bytes().to_vec(); // cpu
    body.extend(1_000_000_000u64.to_le_bytes()); // ts
    body.extend(42u64.to_le_bytes()); // tid
    let len = 26 + 2 + 8;
    body.extend(u32::try_from(len).unwrap().to_le_bytes());
    body.extend(4u16.to_le_bytes()); // PPME_SYSCALL_CLOSE_E
    body.extend(1u32.to_le_bytes()); // nparams
    body.extend(8u16.to_le_bytes());
    body.extend(fd.to_le_bytes());
    block(0x216, &body)
}

#[test]
fn a_minimal_capture_reads() {
    let mut f = shb();
    f.extend(close_enter(3));
    let mut c = Capture::new(&f[..]).unwrap();
    let ev = c.next_event().unwrap().unwrap();
    assert_eq!(ev.field("evt.type", None).unwrap(), ["close"]);
    assert_eq!(ev.field("evt.num", None).unwrap(), ["1"]);
    assert_eq!(ev.field("evt.args", None).unwrap(), ["fd=3 "]);
    assert_eq!(ev.field("proc.name", None).unwrap(), ["<NA>"]);
    assert!(c.next_event().unwrap().is_none());
}

#[test]
fn every_truncation_is_an_error_or_a_clean_end() {
    let mut f = shb();
    f.extend(close_enter(3));
    f.extend(close_enter(4));
    for n in 0..f.len() {
        let r = Capture::new(&f[..n]);
        let Ok(mut c) = r else { continue };
        loop {
            match c.next_event() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    let m = e.to_string();
                    assert!(m.contains("offset"), "{m}");
                    break;
                }
            }
        }
    }
    let e = Capture::new(&f[..f.len() - 3]).unwrap();
    let mut c = e;
    c.next_event().unwrap();
    let err = c.next_event().unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_eq!(err.block_type, Some(0x216));
}

#[test]
fn byte_swapped_and_foreign_files_are_refused() {
    let mut f = shb();
    f[8..12].copy_from_slice(&0x1A2B_3C4Du32.to_be_bytes());
    let e = Reader::new(&f[..]).unwrap_err();
    assert!(e.message.contains("byte-swapped"), "{e}");
    let e = Reader::new(&b"hello world, not a capture"[..]).unwrap_err();
    assert!(e.to_string().contains("section header"), "{e}");
    assert!(Reader::new(&b""[..]).is_err());
}

#[test]
fn oversized_and_inconsistent_blocks_are_refused() {
    let mut f = shb();
    let mut big = 0x216u32.to_le_bytes().to_vec();
    big.extend(200_000u32.to_le_bytes());
    f.extend(big);
    let mut r = Reader::new(&f[..]).unwrap();
    let e = r.next_block().unwrap_err();
    assert!(e.message.contains("exceeds the limit"), "{e}");
    // trailer mismatch
    let mut f = shb();
    let mut b = close_enter(3);
    let n = b.len();
    b[n - 1] ^= 0x40;
    f.extend(b);
    let mut r = Reader::new(&f[..]).unwrap();
    let e = r.next_block().unwrap_err();
    assert!(e.message.contains("trailing length"), "{e}");
    // parameter lengths beyond the event
    let mut f = shb();
    let mut b = close_enter(3);
    b[8 + 2 + 8 + 8 + 4 + 2 + 4] = 0xff;
    f.extend(b);
    let mut r = Reader::new(&f[..]).unwrap();
    assert!(r.next_block().is_err());
}

#[test]
fn gzip_and_unknown_blocks() {
    use std::io::Write;
    let mut f = shb();
    f.extend(block(0x999, b"whatever"));
    f.extend(close_enter(5));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&f).unwrap();
    let z = gz.finish().unwrap();
    let mut r = Reader::new(&z[..]).unwrap();
    assert_eq!(r.next_block().unwrap(), Some(Block::Unknown(0x999)));
    assert!(r.next_event().unwrap().is_some());
}

#[test]
fn fields_resolve_as_libsinsp() {
    let s = SyscallFields;
    assert_eq!(s.name(), "syscall");
    let (d, a) = s.resolve("evt.arg.fd", None).unwrap();
    assert_eq!((d.name, a.as_deref()), ("evt.arg", Some("fd")));
    let (d, a) = s.resolve("proc.aname", Some("2")).unwrap();
    assert_eq!((d.name, a.as_deref()), ("proc.aname", Some("2")));
    let e = s.resolve("proc.nobody", None).unwrap_err();
    assert_eq!(e, "filter_check called with nonexistent field proc.nobody");
    assert!(s.knows("fd.name") && s.knows("evt.arg.flags") && !s.knows("proc.nobody"));
}

#[test]
fn the_engine_runs_syscall_rules_on_a_capture() {
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-syscall") else { return };
    let rules = "- rule: open_from_cat\n  desc: d\n  condition: evt.type=open and proc.name=cat\n  output: \"%evt.num %evt.dir %fd.name %evt.arg.flags\"\n  priority: WARNING\n  source: syscall\n";
    let (engine, _) = kguard_detect::load_with(&[("r.yaml", rules)], &[&SyscallFields]).unwrap();
    let bytes = std::fs::read(dir.join("test/trace_files/cat_write.scap")).unwrap();
    let mut c = Capture::new(&bytes[..]).unwrap();
    let mut alerts = Vec::new();
    while let Some(ev) = c.next_event().unwrap() {
        for a in engine.process_event("syscall", &ev) {
            alerts.push(a.message);
        }
    }
    assert_eq!(alerts.len(), 8, "{alerts:?}");
    assert_eq!(alerts[1], "141 < /etc/ld.so.cache O_RDONLY|O_CLOEXEC");
}

#[test]
fn section_header_options_are_skipped() {
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-syscall") else { return };
    let caps = "libs/test/libsinsp_e2e/resources/captures";
    let count = |name: &str| {
        let bytes = std::fs::read(dir.join(caps).join(name)).unwrap();
        let mut r = Reader::new(&bytes[..]).unwrap();
        while r.next_event().unwrap().is_some() {}
        r.event_blocks()
    };
    // sysdig 0.29 cannot read the commented copy; we read the same 1,536 event blocks from both
    assert_eq!(count("curl_google_comments.scap"), 1536);
    assert_eq!(count("curl_google.scap"), 1536);
}
