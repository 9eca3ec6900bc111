//! The writer against the reader and against sysdig: every staged capture read and written back
//! reads the same (process, fd and user lists; every event's parameters), Falco's syscall fields
//! have the same value for every event, and Debian's sysdig prints the written capture as it
//! prints the original.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

use kguard_runtime::scap::{Block, Reader};
use kguard_runtime::writer::Writer;

const CAPTURES: &[&str] = &[
    "test/trace_files/cat_write.scap",
    "test/trace_files/connect_localhost.scap",
    "test/trace_files/empty.scap",
    "test/trace_files/open-multiple-files.scap",
    "test/trace_files/ping_sendto.scap",
    "test/trace_files/syscall.scap",
    "libs/test/libsinsp_e2e/resources/captures/curl_google.scap",
    "libs/test/libsinsp_e2e/resources/captures/curl_google_comments.scap",
    "libs/test/libsinsp_e2e/resources/captures/single_ipv6_conn.scap",
    "libs/test/libsinsp_e2e/resources/captures/test_ipv6_client.scap",
];

fn blocks(bytes: &[u8]) -> Vec<Block> {
    let mut r = Reader::new(bytes).unwrap();
    let mut out = Vec::new();
    while let Some(b) = r.next_block().unwrap() {
        out.push(b);
    }
    out
}

/// What must survive a round trip: every block but the section header and unknown ones, with
/// events' positions left out (they are where the writer put them).
fn comparable(bs: &[Block]) -> Vec<Block> {
    bs.iter()
        .filter(|b| !matches!(b, Block::Section { .. } | Block::SkippedEvent { .. } | Block::Unknown(_)))
        .cloned()
        .map(|b| match b {
            Block::Event(mut e) => {
                e.num = 0;
                e.offset = 0;
                Block::Event(e)
            }
            b => b,
        })
        .collect()
}

fn write_back(bs: &[Block]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new()).unwrap();
    for b in bs {
        w.write_block(b).unwrap();
    }
    w.into_inner()
}

fn decompressed(p: &Path) -> Vec<u8> {
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap()), &mut raw)
        .unwrap();
    raw
}

#[test]
fn captures_read_written_and_read_again_are_the_same() {
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-syscall") else { return };
    let mut events = 0;
    for c in CAPTURES {
        let orig = blocks(&decompressed(&dir.join(c)));
        let written = write_back(&orig);
        let again = blocks(&written);
        assert_eq!(Reader::new(&written[..]).unwrap().version(), (1, 2), "{c}");
        assert_eq!(comparable(&again), comparable(&orig), "{c}");
        // writing what was read back gives the same bytes
        assert_eq!(write_back(&again), written, "{c}");
        events += orig.iter().filter(|b| matches!(b, Block::Event(_))).count();
    }
    println!("scap writer: {} captures, {events} events round-trip", CAPTURES.len());
}

#[test]
fn fields_of_a_written_capture_are_the_originals() {
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-syscall") else { return };
    let fields: &[(&str, Option<&str>)] = &[
        ("evt.num", None),
        ("evt.type", None),
        ("evt.dir", None),
        ("evt.args", None),
        ("proc.name", None),
        ("proc.cmdline", None),
        ("proc.pid", None),
        ("proc.pname", None),
        ("fd.name", None),
        ("fd.num", None),
        ("user.name", None),
        ("container.id", None),
    ];
    let mut compared = 0;
    for c in CAPTURES {
        let raw = decompressed(&dir.join(c));
        let written = write_back(&blocks(&raw));
        let render = |bytes: &[u8]| -> Vec<Vec<Option<Vec<String>>>> {
            let mut cap = kguard_runtime::Capture::new(bytes).unwrap();
            let mut out = Vec::new();
            while let Some(ev) = cap.next_event().unwrap() {
                out.push(fields.iter().map(|(f, a)| ev.field(f, *a)).collect());
            }
            out
        };
        let (a, b) = (render(&raw), render(&written));
        // skipped events (types outside the table) are not written: numbers shift only then
        if a.len() == b.len() {
            assert_eq!(a, b, "{c}");
        } else {
            let strip = |v: Vec<Vec<Option<Vec<String>>>>| -> Vec<Vec<Option<Vec<String>>>> {
                v.into_iter().map(|e| e.into_iter().skip(1).collect()).collect()
            };
            assert_eq!(strip(a.clone()), strip(b), "{c}");
        }
        compared += a.len() * fields.len();
    }
    println!("scap writer: {compared} event x field values equal after a round trip");
}

#[test]
fn sysdig_prints_a_written_capture_as_the_original() {
    let Some(dir) = kguard_testkit::shared_path("oracles/falco-syscall") else { return };
    if !kguard_testkit::tool("sysdig", "sysdig_prints_a_written_capture_as_the_original") {
        return;
    }
    let tmp = kguard_testkit::TempDir::new("scap-writer");
    let mut lines = 0;
    for c in CAPTURES.iter().filter(|c| !c.contains("comments")) {
        let orig: PathBuf = dir.join(c);
        let out = tmp.path().join(Path::new(c).file_name().unwrap());
        std::fs::write(&out, write_back(&blocks(&decompressed(&orig)))).unwrap();
        let print = |p: &Path| {
            let o = std::process::Command::new("sysdig")
                .env("TZ", "UTC")
                .arg("-r")
                .arg(p)
                .arg("-p")
                .arg("*%evt.num %evt.time %evt.cpu %proc.name %thread.tid %proc.pid %evt.dir %evt.type %fd.name %user.name %evt.args")
                .output()
                .unwrap();
            assert!(o.status.success(), "{}: {}", p.display(), String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let (a, b) = (print(&orig), print(&out));
        assert_eq!(a, b, "{c}");
        lines += a.lines().count();
    }
    println!("scap writer: sysdig prints {lines} lines the same from written captures");
}
