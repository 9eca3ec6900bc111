//! Go binaries' embedded build information (`runtime/debug.BuildInfo`), read the way Go's
//! `debug/buildinfo` reads it and turned into packages the way Trivy's `gobinary` analyzer does.
//!
//! The blob starts with the 14-byte magic `\xff Go buildinf:`, 16-byte aligned, in the ELF
//! section `.go.buildinfo` (or, without section headers, the first writable, non-executable
//! `PT_LOAD` segment). Byte 14 is the pointer size, byte 15 the flags. With flag 2 (Go 1.18+)
//! the Go version and the module information follow the 32-byte header inline, each a uvarint
//! length and bytes; before that, two pointers at offset 16 point at Go string headers
//! (`{data, len}`) elsewhere in the image, in the byte order flag 1 says. The module text is
//! wrapped in 16-byte sentinels and holds `path`, `mod`, `dep`, `=>` (replacement of the
//! previous module) and `build` lines.
//!
//! Every read is bounded: at most 64 KiB are searched for the header, strings longer than
//! 1 MiB are refused (Go's own limits), and addresses are mapped to file offsets through the
//! `PT_LOAD` segments with checked arithmetic.

use object::ReadRef;

use super::{LangType, Package, Relationship};

const MAGIC: &[u8] = b"\xff Go buildinf:";
/// Bytes searched for the header (Go reads this much of the data start).
const SEARCH: u64 = 64 * 1024;
/// Longest string read through a pointer.
const MAX_STRING: u64 = 1 << 20;
const PF_X: u32 = 1;
const PF_W: u32 = 2;

/// One module of the build information.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Module {
    /// Module path.
    pub path: String,
    /// Version (`(devel)` for the main module of a local build).
    pub version: String,
    /// The module that replaces it, if any.
    pub replace: Option<Box<Module>>,
}

/// The build information of a Go binary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// `go1.22.1`.
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// The main module.
    pub main: Module,
    /// Dependencies, in order.
    pub deps: Vec<Module>,
    /// `build` settings (`-ldflags`, `GOOS`, `vcs.revision`, …).
    pub settings: Vec<(String, String)>,
}

/// Whether `bytes` start like an ELF file.
#[must_use]
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// The build information of an ELF Go binary; `None` for anything else (not ELF, not Go, no
/// readable build information).
#[must_use]
pub fn read_build_info(bytes: &[u8]) -> Option<BuildInfo> {
    read_build_info_from(bytes)
}

/// [`read_build_info`] over any [`ReadRef`]: a byte slice, or an [`object::ReadCache`] over a
/// file, of which only the headers and the bytes the build information spans are read.
#[must_use]
pub fn read_build_info_from<'a, R: ReadRef<'a>>(data: R) -> Option<BuildInfo> {
    let exe = Exe { data, elf: Elf::parse(data)? };
    let (vers, modinfo) = exe.raw_build_info()?;
    if vers.is_empty() {
        return None;
    }
    let mut info = parse_modinfo(&modinfo);
    info.go_version = vers;
    Some(info)
}

/// A `PT_LOAD` segment.
#[derive(Debug, Clone, Copy)]
struct Load {
    vaddr: u64,
    offset: u64,
    filesz: u64,
    flags: u32,
}

/// A section by name: its address and, unless it has no bytes in the file, its file range.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Section {
    pub(crate) addr: u64,
    pub(crate) range: Option<(u64, u64)>,
}

/// What the package readers need of an ELF file, read without its symbol tables (which
/// `object`'s full parse would load): the `PT_LOAD` segments, and the sections that hold Go
/// build information and a Rust dependency list.
#[derive(Debug, Clone)]
pub(crate) struct Elf {
    loads: Vec<Load>,
    pub(crate) go_buildinfo: Option<Section>,
    pub(crate) dep_v0: Option<Section>,
}

impl Elf {
    /// Parses the headers of an ELF file (32- or 64-bit, either byte order); `None` when it is
    /// not one or its program or section headers cannot be read.
    pub(crate) fn parse<'a, R: ReadRef<'a>>(data: R) -> Option<Self> {
        let ident = data.read_bytes_at(0, 5).ok()?;
        if !is_elf(ident) {
            return None;
        }
        match ident.get(4) {
            Some(1) => Self::parse_as::<object::elf::FileHeader32<object::Endianness>, R>(data),
            Some(2) => Self::parse_as::<object::elf::FileHeader64<object::Endianness>, R>(data),
            _ => None,
        }
    }

    fn parse_as<'a, H, R>(data: R) -> Option<Self>
    where
        H: object::read::elf::FileHeader<Endian = object::Endianness>,
        R: ReadRef<'a>,
    {
        use object::read::elf::{ProgramHeader as _, SectionHeader as _};
        let h = H::parse(data).ok()?;
        let endian = h.endian().ok()?;
        let loads = h
            .program_headers(endian, data)
            .ok()?
            .iter()
            .filter(|p| p.p_type(endian) == object::elf::PT_LOAD)
            .map(|p| Load {
                vaddr: p.p_vaddr(endian).into(),
                offset: p.p_offset(endian).into(),
                filesz: p.p_filesz(endian).into(),
                flags: p.p_flags(endian),
            })
            .collect();
        let headers = h.section_headers(endian, data).ok()?;
        let (mut go_buildinfo, mut dep_v0) = (None, None);
        if !headers.is_empty() {
            // The section names, read in one piece.
            let names = headers
                .get(usize::try_from(h.shstrndx(endian, data).ok()?).ok()?)?
                .file_range(endian)
                .and_then(|(off, size)| data.read_bytes_at(off, size).ok())?;
            for sh in headers {
                let name = usize::try_from(sh.sh_name(endian))
                    .ok()
                    .and_then(|at| names.get(at..))
                    .map(|n| n.split(|&b| b == 0).next().unwrap_or_default());
                let section = Section { addr: sh.sh_addr(endian).into(), range: sh.file_range(endian) };
                match name {
                    Some(b".go.buildinfo") if go_buildinfo.is_none() => go_buildinfo = Some(section),
                    Some(b".dep-v0") if dep_v0.is_none() => dep_v0 = Some(section),
                    _ => {}
                }
            }
        }
        Some(Self { loads, go_buildinfo, dep_v0 })
    }
}

struct Exe<R> {
    data: R,
    elf: Elf,
}

impl<'a, R: ReadRef<'a>> Exe<R> {
    /// Where to look for the header: the section, else the first writable data segment.
    fn data_start(&self) -> Option<u64> {
        if let Some(s) = self.elf.go_buildinfo {
            return Some(s.addr);
        }
        self.elf.loads.iter().find(|l| l.flags & (PF_X | PF_W) == PF_W).map(|l| l.vaddr)
    }

    /// Up to `size` bytes of the file image at virtual address `addr` (fewer where the segment
    /// holding it ends first); `None` when no segment holds `addr` or the file ends first.
    fn read_data(&self, addr: u64, size: u64) -> Option<&'a [u8]> {
        for seg in &self.elf.loads {
            let end = seg.vaddr.checked_add(seg.filesz)?;
            if addr < seg.vaddr || addr >= end {
                continue;
            }
            let from = seg.offset.checked_add(addr - seg.vaddr)?;
            return self.data.read_bytes_at(from, (end - addr).min(size)).ok();
        }
        None
    }

    fn raw_build_info(&self) -> Option<(String, String)> {
        let start = self.data_start()?;
        let mut data = self.read_data(start, SEARCH)?;
        // The header is 16-byte aligned relative to the data start.
        let mut base = 0usize;
        loop {
            let i = find(data, MAGIC)?;
            if data.len() - i < 32 {
                return None;
            }
            if (base + i).is_multiple_of(16) {
                data = data.get(i..)?;
                break;
            }
            let next = (i + 15) & !15;
            let skip = if next > i { next } else { i + 1 };
            data = data.get(skip..)?;
            base += skip;
        }
        let ptr_size = usize::from(*data.get(14)?);
        let flags = *data.get(15)?;
        let (vers, modinfo): (Vec<u8>, Vec<u8>) = if flags & 2 != 0 {
            let rest = data.get(32..)?;
            let (v, rest) = decode_string(rest);
            let (m, _) = decode_string(rest);
            (v.to_vec(), m.to_vec())
        } else {
            let big = flags & 1 != 0;
            if ptr_size != 4 && ptr_size != 8 {
                return None;
            }
            let vp = read_ptr(data.get(16..16 + ptr_size)?, big)?;
            let mp = read_ptr(data.get(16 + ptr_size..16 + 2 * ptr_size)?, big)?;
            (self.read_string(ptr_size, big, vp), self.read_string(ptr_size, big, mp))
        };
        let m = modinfo.as_slice();
        let modinfo = if m.len() >= 33 && m.get(m.len() - 17) == Some(&b'\n') {
            String::from_utf8_lossy(m.get(16..m.len() - 16)?).into_owned()
        } else {
            String::new()
        };
        Some((String::from_utf8_lossy(&vers).into_owned(), modinfo))
    }

    fn read_string(&self, ptr_size: usize, big: bool, addr: u64) -> Vec<u8> {
        let Some(hdr) = self.read_data(addr, 2 * ptr_size as u64) else { return Vec::new() };
        let (Some(d), Some(l)) = (
            hdr.get(..ptr_size).and_then(|b| read_ptr(b, big)),
            hdr.get(ptr_size..2 * ptr_size).and_then(|b| read_ptr(b, big)),
        ) else {
            return Vec::new();
        };
        if l > MAX_STRING {
            return Vec::new();
        }
        match self.read_data(d, l) {
            Some(b) if b.len() as u64 == l => b.to_vec(),
            _ => Vec::new(),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_ptr(b: &[u8], big: bool) -> Option<u64> {
    Some(match b.len() {
        4 => {
            let a: [u8; 4] = b.try_into().ok()?;
            u64::from(if big { u32::from_be_bytes(a) } else { u32::from_le_bytes(a) })
        }
        8 => {
            let a: [u8; 8] = b.try_into().ok()?;
            if big { u64::from_be_bytes(a) } else { u64::from_le_bytes(a) }
        }
        _ => return None,
    })
}

/// A uvarint length and that many bytes; nothing and no rest when malformed.
fn decode_string(data: &[u8]) -> (&[u8], &[u8]) {
    let mut len: u64 = 0;
    let mut shift = 0u32;
    for (i, &b) in data.iter().enumerate() {
        if i >= 10 {
            return (&[], &[]);
        }
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            let rest = data.get(i + 1..).unwrap_or_default();
            return match usize::try_from(len).ok().filter(|&n| n <= rest.len()) {
                Some(n) => (rest.get(..n).unwrap_or_default(), rest.get(n..).unwrap_or_default()),
                None => (&[], &[]),
            };
        }
        shift += 7;
    }
    (&[], &[])
}

/// Go's `strconv.Unquote` for the double-quoted build setting values (common escapes only).
fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) else { return s.to_owned() };
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// `runtime/debug.ParseBuildInfo` on the module text (malformed lines are skipped).
#[must_use]
pub fn parse_modinfo(text: &str) -> BuildInfo {
    let mut info = BuildInfo::default();
    let module = |rest: &str| -> Module {
        let mut f = rest.split('\t');
        Module {
            path: f.next().unwrap_or_default().to_owned(),
            version: f.next().unwrap_or_default().to_owned(),
            replace: None,
        }
    };
    let mut last_is_main = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("path\t") {
            info.path = rest.to_owned();
        } else if let Some(rest) = line.strip_prefix("mod\t") {
            info.main = module(rest);
            last_is_main = true;
        } else if let Some(rest) = line.strip_prefix("dep\t") {
            info.deps.push(module(rest));
            last_is_main = false;
        } else if let Some(rest) = line.strip_prefix("=>\t") {
            let r = Box::new(module(rest));
            if last_is_main {
                info.main.replace = Some(r);
            } else if let Some(d) = info.deps.last_mut() {
                d.replace = Some(r);
            }
        } else if let Some(rest) = line.strip_prefix("build\t") {
            // `key=value`, the key quoted when it holds `=`, space, tab, `\r`, `\n` or `"`.
            let (k, v) = if rest.starts_with('"') {
                match rest.get(1..).and_then(|r| r.find("\"=")) {
                    Some(e) => (unquote(rest.get(..e + 2).unwrap_or_default()), rest.get(e + 3..).unwrap_or_default()),
                    None => continue,
                }
            } else {
                match rest.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v),
                    None => continue,
                }
            };
            info.settings.push((k, unquote(v)));
        }
    }
    info
}

/// Go's `golang.org/x/mod/semver.IsValid`.
#[must_use]
pub fn semver_valid(v: &str) -> bool {
    let Some(v) = v.strip_prefix('v') else { return false };
    let (core, build) = match v.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (v, None),
    };
    let (nums, pre) = match core.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (core, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return false;
    }
    let num = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'));
    if !parts.iter().all(|p| num(p)) {
        return false;
    }
    // Shorthand (v1, v1.2) allows no prerelease or build suffix.
    if parts.len() < 3 && (pre.is_some() || build.is_some()) {
        return false;
    }
    let ident = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if let Some(p) = pre
        && !p
            .split('.')
            .all(|x| ident(x) && (!x.bytes().all(|b| b.is_ascii_digit()) || x == "0" || !x.starts_with('0')))
    {
        return false;
    }
    if let Some(b) = build
        && !b.split('.').all(ident)
    {
        return false;
    }
    true
}

/// `golang.org/x/mod/module.IsPseudoVersion`.
#[must_use]
pub fn is_pseudo_version(v: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$",
        )
        .ok()
    });
    v.matches('-').count() >= 2 && semver_valid(v) && re.as_ref().is_some_and(|r| r.is_match(v))
}

/// Splits `-ldflags` the way a POSIX shell would (quotes and backslashes), enough for
/// `-X 'main.version=1.2.3'` and friends; `None` for an unterminated quote.
fn shell_words(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        x => cur.push(x),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => cur.push(chars.next()?),
                        x => cur.push(x),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            x => {
                in_word = true;
                cur.push(x);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Some(out)
}

fn is_version_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.ends_with(".version") || k.ends_with(".ver")
}

fn classify(found: &mut [Vec<String>; 3], key: &str, module: &str, val: &str) {
    let last = key.rsplit('/').next().unwrap_or(key);
    let prefix = last.split('.').next().unwrap_or(last).to_ascii_lowercase();
    let i = if key.starts_with(&format!("{module}/cmd/")) {
        0
    } else if matches!(prefix.as_str(), "main" | "common" | "version" | "cmd") {
        1
    } else {
        2
    };
    if let Some(v) = found.get_mut(i) {
        v.push(val.to_owned());
    }
}

/// The main module's version from `-X key=value` link flags, as Trivy chooses it: keys ending
/// `.version`/`.ver` with a semantic-version value; `MODULE/cmd/…` keys first, then `main.`,
/// `common.`, `version.`, `cmd.` ones, then any; more than one in the first group that has
/// any gives no version.
#[must_use]
pub fn ldflags_version(module: &str, ldflags: &str) -> String {
    let Some(words) = shell_words(ldflags) else { return String::new() };
    let mut found: [Vec<String>; 3] = Default::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let arg = if w == "-X" || w == "--X" {
            match it.next() {
                Some(a) => a.as_str(),
                None => break,
            }
        } else if let Some(a) = w.strip_prefix("-X=").or_else(|| w.strip_prefix("--X=")) {
            a
        } else if let Some(a) = w.strip_prefix("-X").filter(|a| !a.is_empty() && !w.starts_with("--")) {
            a
        } else {
            continue;
        };
        // pflag's string-to-string value: comma-separated `key=value` pairs.
        for pair in arg.split(',') {
            let Some((k, v)) = pair.split_once('=') else { continue };
            let k = k.trim_start_matches('\'');
            let v = v.trim_end_matches('\'');
            if is_version_key(k) && (semver_valid(v) || semver_valid(&format!("v{v}"))) {
                classify(&mut found, k, module, v);
            }
        }
    }
    for group in &found {
        match group.len() {
            0 => {}
            1 => return group.first().cloned().unwrap_or_default(),
            _ => return String::new(),
        }
    }
    String::new()
}

/// Trivy's `gobinary` packages of a build: `stdlib` (direct), every dependency (its
/// replacement where replaced; `(devel)` versions left empty) and the main module (root, its
/// version from the build, else `-ldflags -X`, depending on all the others).
#[must_use]
pub fn packages(info: &BuildInfo) -> Vec<Package> {
    let id = |name: &str, version: &str| super::package_id(LangType::GoBinary, name, version);
    let check = |v: &str| if v == "(devel)" { String::new() } else { v.to_owned() };
    let mut stdlib = info.go_version.strip_prefix("go").unwrap_or(&info.go_version);
    stdlib = stdlib.split(' ').next().unwrap_or(stdlib);
    stdlib = stdlib.split("-X:").next().unwrap_or(stdlib);
    let stdlib = format!("v{stdlib}");
    let mut pkgs = vec![Package {
        id: id("stdlib", &stdlib),
        name: "stdlib".into(),
        version: stdlib,
        relationship: Relationship::Direct,
        ..Package::default()
    }];
    for dep in &info.deps {
        if dep.path.is_empty() {
            continue;
        }
        let m = dep.replace.as_deref().unwrap_or(dep);
        let version = check(&m.version);
        pkgs.push(Package { id: id(&m.path, &version), name: m.path.clone(), version, ..Package::default() });
    }
    if !info.main.path.is_empty() {
        let mut version = check(&info.main.version);
        if version.is_empty() || is_pseudo_version(&version) {
            let ld = info.settings.iter().find(|(k, _)| k == "-ldflags").map(|(_, v)| v.as_str()).unwrap_or("");
            let from_flags = ldflags_version(&info.main.path, ld);
            if !from_flags.is_empty() {
                version = from_flags;
            }
        }
        let mut depends_on: Vec<String> = pkgs.iter().map(|p| p.id.clone()).collect();
        depends_on.sort();
        pkgs.push(Package {
            id: id(&info.main.path, &version),
            name: info.main.path.clone(),
            version,
            relationship: Relationship::Root,
            depends_on,
            ..Package::default()
        });
    }
    super::sort_packages(&mut pkgs);
    pkgs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A 64-bit little-endian ELF with one writable PT_LOAD segment at vaddr 0x10000 holding
    /// `payload` at file offset 0x1000, and no section headers.
    pub(crate) fn elf_with(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 0x1000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[6] = 1; // version
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        let ph = 64;
        f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        f[ph + 4..ph + 8].copy_from_slice(&(PF_W | 4).to_le_bytes()); // RW
        f[ph + 8..ph + 16].copy_from_slice(&0x1000u64.to_le_bytes()); // p_offset
        f[ph + 16..ph + 24].copy_from_slice(&0x10000u64.to_le_bytes()); // p_vaddr
        f[ph + 24..ph + 32].copy_from_slice(&0x10000u64.to_le_bytes()); // p_paddr
        f[ph + 32..ph + 40].copy_from_slice(&(payload.len() as u64).to_le_bytes()); // p_filesz
        f[ph + 40..ph + 48].copy_from_slice(&(payload.len() as u64).to_le_bytes()); // p_memsz
        f[ph + 48..ph + 56].copy_from_slice(&0x1000u64.to_le_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn varint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    /// The module text between cmd/go's binary sentinels (not UTF-8).
    pub(crate) fn wrap_mod(m: &str) -> Vec<u8> {
        let mut out = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
        out.extend_from_slice(m.as_bytes());
        out.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
        out
    }

    /// The Go 1.18+ inline form.
    pub(crate) fn inline_blob(vers: &str, modinfo: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.push(8);
        b.push(2);
        b.resize(32, 0);
        varint(vers.len(), &mut b);
        b.extend_from_slice(vers.as_bytes());
        let m = wrap_mod(modinfo);
        varint(m.len(), &mut b);
        b.extend_from_slice(&m);
        b
    }

    const MODINFO: &str = "path\texample.com/app/cmd/app\nmod\texample.com/app\t(devel)\t\n\
        dep\tgolang.org/x/text\tv0.3.7\th1:abc=\n\
        dep\tgithub.com/old/dep\tv1.0.0\th1:x=\n=>\tgithub.com/new/dep\tv1.2.0\th1:y=\n\
        build\t-ldflags=\"-s -X 'main.version=1.4.2'\"\nbuild\tGOOS=linux\n";

    #[test]
    fn inline_build_info() {
        let mut payload = vec![0u8; 48];
        payload.extend(inline_blob("go1.22.1", MODINFO));
        let info = read_build_info(&elf_with(&payload)).unwrap();
        assert_eq!(info.go_version, "go1.22.1");
        assert_eq!(info.path, "example.com/app/cmd/app");
        assert_eq!(info.main.path, "example.com/app");
        assert_eq!(info.deps.len(), 2);
        assert_eq!(info.deps[1].replace.as_ref().unwrap().path, "github.com/new/dep");
        assert_eq!(info.settings[0], ("-ldflags".into(), "-s -X 'main.version=1.4.2'".into()));
        let pkgs = packages(&info);
        let names: Vec<(String, String, Option<&str>)> =
            pkgs.iter().map(|p| (p.name.clone(), p.version.clone(), p.relationship.as_str())).collect();
        assert_eq!(
            names,
            vec![
                ("example.com/app".into(), "1.4.2".into(), Some("root")),
                ("stdlib".into(), "v1.22.1".into(), Some("direct")),
                ("github.com/new/dep".into(), "v1.2.0".into(), None),
                ("golang.org/x/text".into(), "v0.3.7".into(), None),
            ]
        );
        assert_eq!(pkgs[0].id, "example.com/app@v1.4.2");
        assert_eq!(pkgs[0].depends_on, vec!["github.com/new/dep@v1.2.0", "golang.org/x/text@v0.3.7", "stdlib@v1.22.1"]);
    }

    #[test]
    fn pointer_build_info() {
        // Header at vaddr 0x10000 (16-aligned after 16 bytes of padding), pointers to string
        // headers, string headers to the bytes.
        let base = 0x10000u64;
        let vers = b"go1.16.5";
        let m = wrap_mod("path\tx\nmod\tx\tv1.0.0\t\n");
        let mut p = vec![0u8; 16];
        p.extend_from_slice(MAGIC);
        p.push(8);
        p.push(0);
        let hdrs = 64u64; // offset of the two string headers
        p.extend_from_slice(&(base + hdrs).to_le_bytes());
        p.extend_from_slice(&(base + hdrs + 16).to_le_bytes());
        p.resize(hdrs as usize, 0);
        let data = hdrs + 32;
        p.extend_from_slice(&(base + data).to_le_bytes());
        p.extend_from_slice(&(vers.len() as u64).to_le_bytes());
        p.extend_from_slice(&(base + data + vers.len() as u64).to_le_bytes());
        p.extend_from_slice(&(m.len() as u64).to_le_bytes());
        p.extend_from_slice(vers);
        p.extend_from_slice(&m);
        let info = read_build_info(&elf_with(&p)).unwrap();
        assert_eq!(info.go_version, "go1.16.5");
        assert_eq!(info.main.version, "v1.0.0");
        // A string header claiming more than the file holds gives an empty string.
        let mut bad = p.clone();
        let at = (hdrs + 24) as usize;
        bad[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let info = read_build_info(&elf_with(&bad)).unwrap();
        assert!(info.main.path.is_empty());
    }

    #[test]
    fn not_go_and_truncated() {
        assert!(read_build_info(b"\x7fELF").is_none());
        assert!(read_build_info(&elf_with(b"nothing here")).is_none());
        let blob = inline_blob("go1.21.0", MODINFO);
        for n in [0, 10, 20, 31, 33, 40] {
            let _ = read_build_info(&elf_with(&blob[..n]));
        }
        // Misaligned magic is not taken.
        let mut p = vec![0u8; 3];
        p.extend(inline_blob("go1.21.0", MODINFO));
        assert!(read_build_info(&elf_with(&p)).is_none());
    }

    #[test]
    fn versions() {
        assert!(semver_valid("v1.2.3-rc.1+meta"));
        assert!(semver_valid("v1"));
        assert!(!semver_valid("1.2.3"));
        assert!(!semver_valid("v1.02.3"));
        assert!(is_pseudo_version("v0.0.0-20210101000000-abcdefabcdef"));
        assert!(!is_pseudo_version("v1.2.3"));
        assert_eq!(ldflags_version("m", "-X main.version=1.2.3 -X other.Version=v9.9.9"), "1.2.3");
        assert_eq!(ldflags_version("m", "-X m/cmd/x.version=v2.0.0 -X main.version=1.2.3"), "v2.0.0");
        assert_eq!(ldflags_version("m", "-X main.version=1 -X main.ver=2"), "");
        assert_eq!(ldflags_version("m", "-X main.version=dev"), "");
        assert_eq!(ldflags_version("m", "-X 'main.version"), "");
    }
}
