//! Rust binaries built with [cargo-auditable](https://github.com/rust-secure-code/cargo-auditable),
//! read the way Trivy's `rustbinary` analyzer reads them (through go-rustaudit).
//!
//! cargo-auditable links the dependency tree into the executable: an ELF section `.dep-v0`
//! holding zlib-compressed JSON, `{"packages":[{"name","version","source","kind","dependencies",
//! "root"}]}`, where `dependencies` are indexes into `packages` and `kind` is `runtime`
//! (the default) or `build`. Trivy keeps the runtime packages: ID `name@version`, the root
//! crate marked as such, and each package's runtime dependencies.
//!
//! Only ELF executables are read (what container images and Linux root filesystems hold);
//! go-rustaudit also reads PE, Mach-O and WebAssembly. The decompressed JSON is bounded
//! ([`MAX_JSON`]), and dependency indexes out of range are ignored rather than trusted.

use std::io::Read;

use object::{Object, ObjectSection};
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

/// The runtime packages of an ELF binary built with cargo-auditable: `None` when `bytes` is not
/// an ELF file or has no `.dep-v0` section (Trivy skips such files silently).
///
/// # Errors
/// [`Error`] when the section is there but cannot be read.
pub fn packages(bytes: &[u8]) -> Option<Result<Vec<Package>, Error>> {
    if !super::gobinary::is_elf(bytes) {
        return None;
    }
    let file = object::File::parse(bytes).ok()?;
    let section = file.section_by_name(SECTION)?;
    let data = match section.data() {
        Ok(d) => d,
        Err(e) => return Some(Err(Error::Decompress(e.to_string()))),
    };
    Some(decode(data))
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
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
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

    #[test]
    fn bad_sections_are_errors_not_panics() {
        assert!(matches!(decode(b"not zlib"), Err(Error::Decompress(_))));
        assert!(matches!(decode(&zlib("{\"packages\": 3}")), Err(Error::Json(_))));
        // a compression bomb stops at the bound
        let big = format!("{{\"packages\":[], \"x\":\"{}\"}}", "a".repeat((MAX_JSON + 10) as usize));
        assert!(matches!(decode(&zlib(&big)), Err(Error::Decompress(_))));
        assert!(packages(b"\x7fELF short").is_none());
        assert!(packages(b"MZ not elf").is_none());
    }
}
