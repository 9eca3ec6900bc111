//! Rust binaries built with [cargo-auditable](https://github.com/rust-secure-code/cargo-auditable),
//! read the way Trivy's `rustbinary` analyzer reads them (through go-rustaudit).
//!
//! cargo-auditable links the dependency tree into the executable: an ELF section `.dep-v0`
//! holding zlib-compressed JSON, `{"packages":[{"name","version","source","kind","dependencies",
//! "root"}]}`, where `dependencies` are indexes into `packages` and `kind` is `runtime`
//! (the default) or `build`. Trivy keeps the runtime packages: ID `name@version`, the root
//! crate marked as such, and each package's runtime dependencies.
//!
//! As cargo-auditable's own reader (`auditable-extract`) finds it, the section `.dep-v0` is read
//! from ELF executables, PE (Windows) executables, Mach-O files (in segment `__DATA`; one
//! architecture, not a universal binary) and WebAssembly modules (a custom section). The decompressed JSON
//! is bounded ([`MAX_JSON`]), and dependency indexes out of range are ignored rather than
//! trusted.

use std::io::Read;

use object::{Object, ObjectSection, ReadRef};
use serde::Deserialize;

use super::{LangType, Package, Relationship};

/// Most bytes of decompressed dependency JSON read (a compression bomb stops here).
pub const MAX_JSON: u64 = 8 << 20;
/// Name of the section cargo-auditable writes.
pub const SECTION: &str = ".dep-v0";

#[derive(Deserialize)]
struct Info {
    packages: Vec<Crate>,
}

#[derive(Deserialize)]
struct Crate {
    name: String,
    version: String,
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    dependencies: Vec<usize>,
    #[serde(default)]
    root: bool,
}

#[derive(Deserialize, Default, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Kind {
    #[default]
    Runtime,
    Build,
}

/// Why a binary's dependency information could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The section is not zlib data, or decompresses to more than [`MAX_JSON`] bytes.
    Decompress(String),
    /// The JSON does not have cargo-auditable's shape.
    Json(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Decompress(m) => write!(f, "{SECTION}: not zlib-compressed dependency data: {m}"),
            Error::Json(m) => write!(f, "{SECTION}: not cargo-auditable's dependency list: {m}"),
        }
    }
}

/// Whether the first bytes of a file are those of a format a Rust binary's dependency list is
/// read from: ELF, PE (`MZ`), Mach-O (32- or 64-bit, either byte order) or WebAssembly.
#[must_use]
pub fn is_binary_format(head: &[u8]) -> bool {
    super::gobinary::is_elf(head)
        || head.starts_with(b"MZ")
        || head.starts_with(b"\0asm")
        || matches!(head.get(..4), Some([0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe]))
}

/// The runtime packages of a binary built with cargo-auditable: `None` when `bytes` is not an
/// ELF, PE, Mach-O or WebAssembly file or has no dependency section (Trivy skips such files
/// silently).
///
/// # Errors
/// [`Error`] when the section is there but cannot be read.
pub fn packages(bytes: &[u8]) -> Option<Result<Vec<Package>, Error>> {
    packages_from(bytes)
}

/// [`packages`] over any [`ReadRef`]: a byte slice, or an [`object::ReadCache`] over a file, of
/// which only the headers and the dependency section are read (a WebAssembly module is read
/// whole).
pub fn packages_from<'a, R: ReadRef<'a>>(data: R) -> Option<Result<Vec<Package>, Error>> {
    let head = data.read_bytes_at(0, 4).ok()?;
    if head.starts_with(b"\0asm") {
        let bytes = data.read_bytes_at(0, data.len().ok()?).ok()?;
        return wasm_custom_section(bytes, SECTION).map(decode);
    }
    if !is_binary_format(head) {
        return None;
    }
    if super::gobinary::is_elf(head) {
        // ELF: the section table only, not the symbol tables a full parse loads.
        let Some((off, size)) = super::gobinary::Elf::parse(data)?.dep_v0?.range else {
            return Some(decode(&[])); // no bytes in the file (SHT_NOBITS)
        };
        return Some(match data.read_bytes_at(off, size) {
            Ok(d) => decode(d),
            Err(()) => {
                Err(Error::Decompress(format!("section data at {off} ({size} bytes) is past the end of the file")))
            }
        });
    }
    let file = object::File::parse(data).ok()?;
    let section = file.section_by_name(SECTION)?;
    if matches!(file.format(), object::BinaryFormat::MachO) && section.segment_name().ok().flatten() != Some("__DATA") {
        return None;
    }
    let data = match section.data() {
        Ok(d) => d,
        Err(e) => return Some(Err(Error::Decompress(e.to_string()))),
    };
    Some(decode(data))
}

/// An unsigned LEB128 number at `*at` (at most 5 bytes: a u32), moving `*at` past it.
fn leb128(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut v: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return usize::try_from(v).ok();
        }
    }
    None
}

/// The payload of the first custom section (id 0) named `name` of a WebAssembly module; `None`
/// when the module has none or is cut short.
fn wasm_custom_section<'a>(bytes: &'a [u8], name: &str) -> Option<&'a [u8]> {
    if bytes.get(4..8)? != [1, 0, 0, 0] {
        return None;
    }
    let mut at = 8;
    while at < bytes.len() {
        let id = *bytes.get(at)?;
        at += 1;
        let size = leb128(bytes, &mut at)?;
        let end = at.checked_add(size)?;
        let body = bytes.get(at..end)?;
        if id == 0 {
            let mut n = 0;
            let len = leb128(body, &mut n)?;
            let sect_name = body.get(n..n.checked_add(len)?)?;
            if sect_name == name.as_bytes() {
                return body.get(n + len..);
            }
        }
        at = end;
    }
    None
}

/// The runtime packages of one `.dep-v0` section's contents.
///
/// # Errors
/// [`Error`] when the data is not zlib-compressed cargo-auditable JSON.
pub fn decode(compressed: &[u8]) -> Result<Vec<Package>, Error> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| Error::Decompress(e.to_string()))?;
    if json.len() as u64 > MAX_JSON {
        return Err(Error::Decompress(format!("more than {MAX_JSON} bytes")));
    }
    let info: Info = serde_json::from_slice(&json).map_err(|e| Error::Json(e.to_string()))?;
    let id = |c: &Crate| super::package_id(LangType::RustBinary, &c.name, &c.version);
    let mut out = Vec::new();
    for c in info.packages.iter().filter(|c| c.kind == Kind::Runtime) {
        let mut depends_on: Vec<String> = c
            .dependencies
            .iter()
            .filter_map(|&i| info.packages.get(i))
            .filter(|d| d.kind == Kind::Runtime)
            .map(id)
            .collect();
        depends_on.sort();
        depends_on.dedup();
        out.push(Package {
            id: id(c),
            name: c.name.clone(),
            version: c.version.clone(),
            relationship: if c.root { Relationship::Root } else { Relationship::Unknown },
            depends_on,
            ..Package::default()
        });
    }
    super::sort_packages(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use std::io::Write;

    use super::*;

    fn zlib(text: &str) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn runtime_packages_with_their_dependencies() {
        let json = r#"{"packages":[
            {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2,9],"root":true},
            {"name":"serde","version":"1.0.200","source":"crates.io"},
            {"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}
        ]}"#;
        let pkgs = decode(&zlib(json)).unwrap();
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[0].id, "app@0.1.0");
        assert_eq!(pkgs[0].relationship, Relationship::Root);
        // the build dependency and the index out of range are left out
        assert_eq!(pkgs[0].depends_on, vec!["serde@1.0.200".to_owned()]);
        assert_eq!(pkgs[1].id, "serde@1.0.200");
        assert_eq!(pkgs[1].relationship, Relationship::Unknown);
    }

    const JSON: &str = r#"{"packages":[{"name":"app","version":"0.2.0","source":"local","dependencies":[1],"root":true},{"name":"log","version":"0.4.21","source":"crates.io"}]}"#;

    fn u16le(v: u16) -> [u8; 2] {
        v.to_le_bytes()
    }

    fn u32le(v: u32) -> [u8; 4] {
        v.to_le_bytes()
    }

    fn name16(n: &str) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..n.len()].copy_from_slice(n.as_bytes());
        b
    }

    /// A minimal PE32+ executable with one section `.dep-v0` holding `data`.
    fn pe(data: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 0x40];
        f[..2].copy_from_slice(b"MZ");
        f[0x3c..0x40].copy_from_slice(&u32le(0x40));
        f.extend_from_slice(b"PE\0\0");
        // COFF header: x86-64, one section, a PE32+ optional header of 240 bytes, executable
        for v in [0x8664u16, 1] {
            f.extend_from_slice(&u16le(v));
        }
        f.extend_from_slice(&[0; 12]);
        f.extend_from_slice(&u16le(240));
        f.extend_from_slice(&u16le(0x22));
        let mut opt = vec![0u8; 240];
        opt[..2].copy_from_slice(&u16le(0x20b));
        opt[32..36].copy_from_slice(&u32le(0x1000)); // section alignment
        opt[36..40].copy_from_slice(&u32le(0x200)); // file alignment
        opt[56..60].copy_from_slice(&u32le(0x2000)); // size of image
        opt[60..64].copy_from_slice(&u32le(0x200)); // size of headers
        opt[108..112].copy_from_slice(&u32le(16)); // data directories
        f.extend_from_slice(&opt);
        let mut sh = vec![0u8; 40];
        sh[..8].copy_from_slice(b".dep-v0\0");
        let len = u32::try_from(data.len()).unwrap();
        sh[8..12].copy_from_slice(&u32le(len)); // virtual size
        sh[12..16].copy_from_slice(&u32le(0x1000)); // virtual address
        sh[16..20].copy_from_slice(&u32le(len)); // raw size
        sh[20..24].copy_from_slice(&u32le(0x200)); // raw data offset
        sh[36..40].copy_from_slice(&u32le(0x4000_0040)); // initialized data, readable
        f.extend_from_slice(&sh);
        f.resize(0x200, 0);
        f.extend_from_slice(data);
        f
    }

    /// A minimal 64-bit Mach-O executable with one section `__DATA,.dep-v0` holding `data`.
    fn macho(data: &[u8]) -> Vec<u8> {
        let len = u64::try_from(data.len()).unwrap();
        let off: u32 = 32 + 72 + 80;
        let mut f = Vec::new();
        for v in [0xfeed_facf_u32, 0x0100_0007, 3, 2, 1, 72 + 80, 0, 0] {
            f.extend_from_slice(&u32le(v));
        }
        f.extend_from_slice(&u32le(0x19)); // LC_SEGMENT_64
        f.extend_from_slice(&u32le(72 + 80));
        f.extend_from_slice(&name16("__DATA"));
        for v in [0u64, len, u64::from(off), len] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        for v in [3u32, 3, 1, 0] {
            f.extend_from_slice(&u32le(v));
        }
        f.extend_from_slice(&name16(".dep-v0"));
        f.extend_from_slice(&name16("__DATA"));
        f.extend_from_slice(&0u64.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&u32le(off));
        f.extend_from_slice(&[0; 28]);
        assert_eq!(f.len(), off as usize);
        f.extend_from_slice(data);
        f
    }

    fn leb(mut v: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = u8::try_from(v & 0x7f).unwrap();
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    /// A WebAssembly module with a type section and the custom section `.dep-v0` holding `data`.
    fn wasm(data: &[u8]) -> Vec<u8> {
        let mut f = b"\0asm\x01\0\0\0".to_vec();
        f.extend_from_slice(&[1, 1, 0]); // an empty type section
        let mut body = leb(7);
        body.extend_from_slice(b".dep-v0");
        body.extend_from_slice(data);
        f.push(0);
        f.extend(leb(body.len()));
        f.extend(body);
        f
    }

    #[test]
    fn pe_macho_and_wasm_binaries_are_read_as_elf_ones() {
        let data = zlib(JSON);
        for (what, bytes) in [("PE", pe(&data)), ("Mach-O", macho(&data)), ("wasm", wasm(&data))] {
            assert!(is_binary_format(&bytes), "{what}");
            let pkgs = packages(&bytes).unwrap_or_else(|| panic!("{what}: no section found")).unwrap();
            let ids: Vec<&str> = pkgs.iter().map(|p| p.id.as_str()).collect();
            assert_eq!(ids, ["app@0.2.0", "log@0.4.21"], "{what}");
            assert_eq!(pkgs[0].depends_on, ["log@0.4.21"], "{what}");
            // the same file without the section: nothing (the name is what is looked for)
            let mut renamed = bytes.clone();
            let at = renamed.windows(6).position(|w| w == b"dep-v0").unwrap();
            renamed[at] = b'x';
            assert!(packages(&renamed).is_none(), "{what} without the section");
            // cut short anywhere: never a panic
            for n in 0..bytes.len() {
                let _ = packages(&bytes[..n]);
            }
        }
        assert!(!is_binary_format(b"#!/bin/sh\n"));
    }

    #[test]
    fn bad_sections_are_errors_not_panics() {
        assert!(matches!(decode(b"not zlib"), Err(Error::Decompress(_))));
        assert!(matches!(decode(&zlib("{\"packages\": 3}")), Err(Error::Json(_))));
        // a compression bomb stops at the bound
        let big = format!("{{\"packages\":[], \"x\":\"{}\"}}", "a".repeat((MAX_JSON + 10) as usize));
        assert!(matches!(decode(&zlib(&big)), Err(Error::Decompress(_))));
        assert!(packages(b"\x7fELF short").is_none());
        assert!(packages(b"MZ not a PE file").is_none());
        assert!(packages(b"\0asm\x01\0\0\0\0\xff\xff\xff\xff\x0f").is_none());
    }
}
