//! Fuzzes the installed-language-package analyzers (`kguard_vuln::lang::installed` and
//! `kguard_vuln::lang::gobinary`): Python `METADATA`/`PKG-INFO`, `package.json`, gemspecs, Java
//! archives (zip, nested archives, `pom.properties`, `MANIFEST.MF`), Go build information read
//! from an ELF file (the raw input, and the input placed in the writable segment of a minimal
//! ELF so that the header search, both build-info formats and the string pointers are reached),
//! the module text and `-ldflags`; cargo-auditable's `.dep-v0` data (zlib-compressed JSON, raw
//! and deflated from the input; found in ELF, PE, Mach-O or WebAssembly files), Python eggs (zip),
//! conda `conda-meta/*.json`, and declared license strings (split and normalised). The first
//! byte picks the analyzer. Any panic, hang or unbounded allocation is a bug.
#![no_main]

use std::io::Write;

use kguard_vuln::lang::{LangType, gobinary, installed, parse, rustbinary};
use libfuzzer_sys::fuzz_target;

/// A 64-bit little-endian ELF whose one RW PT_LOAD segment (vaddr 0x10000) holds `payload`.
fn elf_with(payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(0x1000 + payload.len());
    f.extend_from_slice(b"\x7fELF\x02\x01\x01");
    f.resize(16, 0);
    for (v, n) in [(2u64, 2usize), (62, 2), (1, 4), (0x401000, 8), (64, 8), (0, 8), (0, 4), (64, 2), (56, 2), (1, 2), (64, 2), (0, 2), (0, 2)] {
        f.extend_from_slice(&v.to_le_bytes()[..n]);
    }
    let len = payload.len() as u64;
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&6u32.to_le_bytes());
    for v in [0x1000u64, 0x10000, 0x10000, len, len, 0x1000] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.resize(0x1000, 0);
    f.extend_from_slice(payload);
    f
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    match selector % 12 {
        0 => {
            let _ = parse(LangType::PythonPkg, "METADATA", rest);
        }
        1 => {
            let _ = parse(LangType::NodePkg, "package.json", rest);
        }
        2 => {
            let _ = parse(LangType::GemSpec, "x.gemspec", rest);
        }
        3 => {
            let _ = installed::parse_jar("opt/app.war", rest);
        }
        4 => {
            if let Some(info) = gobinary::read_build_info(rest) {
                let _ = gobinary::packages(&info);
            }
        }
        5 => {
            if let Some(info) = gobinary::read_build_info(&elf_with(rest)) {
                let _ = gobinary::packages(&info);
            }
        }
        6 => {
            let text = String::from_utf8_lossy(rest);
            let _ = gobinary::packages(&gobinary::parse_modinfo(&text));
        }
        7 => {
            let _ = rustbinary::decode(rest);
            let _ = rustbinary::packages(rest);
        }
        8 => {
            // the input as the JSON, so that the parser behind the decompressor is reached
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            if z.write_all(rest).is_ok()
                && let Ok(c) = z.finish()
            {
                let _ = rustbinary::decode(&c);
            }
        }
        9 => {
            let _ = installed::parse_egg("site-packages/x-1.0.egg", rest);
        }
        10 => {
            let _ = parse(LangType::CondaPkg, "x-1.0-0.json", rest);
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            let _ = gobinary::ldflags_version("example.com/m", &text);
            let _ = gobinary::is_pseudo_version(&text);
            // declared license strings, split and named as Trivy does
            for l in kguard_vuln::license::split(&text) {
                let _ = kguard_vuln::license::normalize(&l);
            }
        }
    }
});
