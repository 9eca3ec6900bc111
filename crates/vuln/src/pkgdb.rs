//! Installed-package databases of a root filesystem: dpkg `status` and `status.d/`, apk
//! `installed`, rpm's sqlite `rpmdb.sqlite` (BerkeleyDB and NDB are refused with a clear
//! error). Also the OS of the root from `os-release`. Reusable by node checks:
//! [`installed`] lists the packages of a root directory.

use std::collections::HashSet;
use std::path::Path;

use crate::files::{Dir, Files};

/// The package manager a package came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// dpkg.
    Dpkg,
    /// apk.
    Apk,
    /// rpm.
    Rpm,
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstalledPackage {
    /// Binary package name.
    pub name: String,
    /// Installed version (`[epoch:]version[-release]`).
    pub version: String,
    /// Architecture.
    pub arch: String,
    /// Source package name (what Debian/Ubuntu/Alpine advisories name).
    pub src_name: String,
    /// Source package version.
    pub src_version: String,
    /// Where it came from.
    pub kind: Kind,
    /// Its licenses as Trivy reports them: dpkg's from `usr/share/doc/NAME/copyright`, apk's
    /// `L:` field, rpm's `LICENSE` tag.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
}

/// What the OS package managers of a tree installed: the packages, and which of the files
/// asked about they put there (paths relative to the root), which Trivy does not scan again
/// as language packages.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The installed packages.
    pub packages: Vec<InstalledPackage>,
    /// The files asked about that the packages installed: named by a dpkg `info/*.list` file
    /// (where no other line of that file continues them with `/`, which makes them a
    /// directory), by apk's `F:`/`R:` lines, or by the file list of an rpm package from an OS
    /// vendor.
    pub system_files: HashSet<String>,
}

/// Why a database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PkgDbError {
    /// I/O.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// An rpm database in a backend we do not read.
    #[error("{0}: unsupported rpmdb format ({1}); only the sqlite backend (rpmdb.sqlite) is read")]
    UnsupportedRpmdb(String, &'static str),
    /// A corrupt rpm database.
    #[error("{0}: corrupt rpmdb: {1}")]
    Rpm(String, String),
}

/// Most bytes read from one database file.
pub const MAX_DB: u64 = 256 << 20;

fn read(files: &dyn Files, rel: &str) -> Result<Option<String>, PkgDbError> {
    Ok(files.read(rel)?.map(|b| match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

/// Parses a dpkg status file (RFC 822 stanzas). Every stanza with `Package` and `Version` is
/// returned with its `Status`; [`installed`] keeps `install ok installed` only, as Trivy does.
#[must_use]
pub fn parse_dpkg_status(text: &str) -> Vec<(InstalledPackage, String)> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: Vec<(&str, &str)> = Vec::new();
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) || line.is_empty() {
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.push((k.trim(), v.trim()));
            }
        }
        let get = |k: &str| fields.iter().find(|(f, _)| f.eq_ignore_ascii_case(k)).map(|(_, v)| *v);
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else { continue };
        if crate::version::deb::parse(version).is_err() {
            continue; // dpkg-query warns and skips the stanza's version; Trivy drops it
        }
        let (src_name, src_version) = match get("Source") {
            Some(s) => match s.split_once(' ') {
                Some((n, v)) => (n.to_owned(), v.trim().trim_start_matches('(').trim_end_matches(')').to_owned()),
                None => (s.to_owned(), version.to_owned()),
            },
            None => (name.to_owned(), version.to_owned()),
        };
        let pkg = InstalledPackage {
            name: name.to_owned(),
            version: version.to_owned(),
            arch: get("Architecture").unwrap_or_default().to_owned(),
            src_name,
            src_version,
            kind: Kind::Dpkg,
            licenses: Vec::new(),
        };
        out.push((pkg, get("Status").unwrap_or_default().to_owned()));
    }
    out
}

/// Parses apk's `installed` database (single-letter keys; stanzas without `V:` dropped).
#[must_use]
pub fn parse_apk_installed(text: &str) -> Vec<InstalledPackage> {
    apk_installed(text).0
}

/// [`parse_apk_installed`], and the files the packages installed (`F:` directory joined with
/// each `R:` file, relative, in file order), as Trivy's apk analyzer reads them.
fn apk_installed(text: &str) -> (Vec<InstalledPackage>, Vec<String>) {
    let mut out = Vec::new();
    let mut installed = Vec::new();
    for stanza in text.split("\n\n") {
        let (mut name, mut version, mut arch, mut origin, mut licenses) = (None, None, "", None, Vec::new());
        let mut dir = "";
        for line in stanza.lines() {
            match line.split_once(':') {
                Some(("P", v)) => name = Some(v),
                Some(("V", v)) => version = Some(v),
                Some(("A", v)) => arch = v,
                Some(("o", v)) => origin = Some(v),
                Some(("L", v)) => licenses = crate::license::lax_split(v),
                Some(("F", v)) => dir = v,
                Some(("R", v)) => installed.push(join_clean(dir, v)),
                _ => {}
            }
        }
        if let (Some(n), Some(v)) = (name, version) {
            out.push(InstalledPackage {
                name: n.to_owned(),
                version: v.to_owned(),
                arch: arch.to_owned(),
                src_name: origin.unwrap_or(n).to_owned(),
                src_version: v.to_owned(),
                kind: Kind::Apk,
                licenses,
            });
        }
    }
    (out, installed)
}

/// Go's `path.Join(dir, file)`: joined by `/`, cleaned (`.`, `..` and empty parts resolved), no
/// leading `/` kept when `dir` had none.
fn join_clean(dir: &str, file: &str) -> String {
    let abs = dir.starts_with('/') || (dir.is_empty() && file.starts_with('/'));
    let mut parts: Vec<&str> = Vec::new();
    for c in dir.split('/').chain(file.split('/')) {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !abs {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if abs { format!("/{joined}") } else { joined }
}

/// Reads one rpm header blob (the `Packages.blob` column): name, epoch, version, release,
/// arch, source rpm, license.
pub fn parse_rpm_header(blob: &[u8]) -> Result<InstalledPackage, String> {
    parse_rpm(blob).map(|(p, _)| p)
}

/// Most entries of one rpm header's file lists read (real packages have tens of thousands).
const MAX_RPM_FILES: usize = 1 << 20;

/// Vendors whose packages' files Trivy counts as the OS's (its `osVendors`, by prefix).
const RPM_OS_VENDORS: [&str; 13] = [
    "Amazon Linux",
    "Amazon.com",
    "CentOS",
    "Fedora Project",
    "Oracle America",
    "Red Hat",
    "AlmaLinux",
    "CloudLinux",
    "VMware",
    "SUSE",
    "openSUSE",
    "Microsoft Corporation",
    "Rocky",
];

/// [`parse_rpm_header`], and the files the package installed (relative paths) when it comes
/// from an OS vendor (Trivy's `packageProvidedByVendor`: `VENDOR` starts with one of
/// [`RPM_OS_VENDORS`], or there is no vendor and the release names Amazon Linux).
fn parse_rpm(blob: &[u8]) -> Result<(InstalledPackage, Vec<String>), String> {
    let be32 = |o: usize| -> Result<u32, String> {
        blob.get(o..o + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| "truncated header".to_owned())
    };
    let count = be32(0)? as usize;
    let size = be32(4)? as usize;
    if count > 100_000 || size > blob.len() {
        return Err("header index out of bounds".to_owned());
    }
    let data_start = 8 + count * 16;
    let data = blob.get(data_start..data_start + size).ok_or("header data truncated")?;
    let (mut name, mut version, mut release, mut arch, mut src, mut epoch) = (None, None, None, None, None, None);
    let (mut license, mut vendor) = (None, None);
    let (mut basenames, mut dirnames, mut dirindexes) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..count {
        let o = 8 + i * 16;
        let (tag, ty, off, n) = (be32(o)?, be32(o + 4)?, be32(o + 8)? as usize, be32(o + 12)? as usize);
        let string = || -> Option<String> {
            let s = data.get(off..)?;
            let end = s.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(s.get(..end)?).into_owned())
        };
        // `n` NUL-terminated strings from `off`; none when the data ends first, or when `n` is
        // past any real package's file count (empty strings would cost 24 bytes per input byte).
        let strings = || -> Vec<String> {
            if n > MAX_RPM_FILES {
                return Vec::new();
            }
            let mut out = Vec::new();
            let mut rest = data.get(off..).unwrap_or_default();
            for _ in 0..n {
                let Some(end) = rest.iter().position(|&b| b == 0) else { return Vec::new() };
                out.push(String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned());
                rest = rest.get(end + 1..).unwrap_or_default();
            }
            out
        };
        match (tag, ty) {
            (1000, 6) => name = string(),
            (1001, 6) => version = string(),
            (1002, 6) => release = string(),
            (1011, 6) => vendor = string(),
            (1014, 6) => license = string(),
            (1022, 6) => arch = string(),
            (1044, 6) => src = string(),
            (1003, 4) => {
                epoch = data.get(off..off + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_be_bytes);
            }
            (1116, 4) if n <= MAX_RPM_FILES => {
                dirindexes = data
                    .get(off..off.saturating_add(n.saturating_mul(4)))
                    .map(|b| {
                        b.chunks_exact(4).filter_map(|c| <[u8; 4]>::try_from(c).ok()).map(u32::from_be_bytes).collect()
                    })
                    .unwrap_or_default();
            }
            (1117, 8) => basenames = strings(),
            (1118, 8) => dirnames = strings(),
            _ => {}
        }
    }
    let name = name.ok_or("no NAME tag")?;
    let ver = version.ok_or("no VERSION tag")?;
    let rel = release.ok_or("no RELEASE tag")?;
    let evr = match epoch {
        Some(e) if e > 0 => format!("{e}:{ver}-{rel}"),
        _ => format!("{ver}-{rel}"),
    };
    let (src_name, src_version) = src
        .as_deref()
        .and_then(|s| s.strip_suffix(".src.rpm").or_else(|| s.strip_suffix(".nosrc.rpm")))
        .and_then(|s| {
            let (rest, r) = s.rsplit_once('-')?;
            let (n, v) = rest.rsplit_once('-')?;
            Some((n.to_owned(), format!("{v}-{r}")))
        })
        .unwrap_or_else(|| (name.clone(), evr.clone()));
    let from_vendor = match vendor.as_deref() {
        None | Some("") => rel.contains("amzn"),
        Some(v) => RPM_OS_VENDORS.iter().any(|o| v.starts_with(o)),
    };
    // go-rpmdb's InstalledFileNames: each base name in its directory; a header whose lists
    // do not line up gives none.
    let files = if from_vendor && dirindexes.len() == basenames.len() && dirnames.len() <= basenames.len() {
        basenames
            .iter()
            .zip(&dirindexes)
            .filter_map(|(b, &d)| dirnames.get(d as usize).map(|dir| join_clean(dir, b)))
            .map(|p| p.trim_start_matches('/').to_owned())
            .collect()
    } else {
        Vec::new()
    };
    let licenses = license.filter(|l| !l.is_empty()).into_iter().collect();
    let pkg = InstalledPackage {
        name,
        version: evr,
        arch: arch.unwrap_or_default(),
        src_name,
        src_version,
        kind: Kind::Rpm,
        licenses,
    };
    Ok((pkg, files))
}

/// Reads an rpm sqlite database (read-only, immutable: nothing is written beside it).
pub fn read_rpm_sqlite(path: &Path) -> Result<Vec<InstalledPackage>, PkgDbError> {
    Ok(read_rpm_sqlite_files(path)?.0)
}

/// [`read_rpm_sqlite`], and the files its packages from OS vendors installed.
fn read_rpm_sqlite_files(path: &Path) -> Result<RpmDb, PkgDbError> {
    let name = path.display().to_string();
    let err = |e: rusqlite::Error| PkgDbError::Rpm(name.clone(), e.to_string());
    let uri = format!("file:{}?immutable=1", path.display());
    let conn = rusqlite::Connection::open_with_flags(
        uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_URI
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    let mut stmt = conn.prepare("SELECT blob FROM Packages").map_err(err)?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).map_err(err)?;
    let mut out = Vec::new();
    let mut files = Vec::new();
    for blob in rows {
        let blob = blob.map_err(err)?;
        let (p, f) = parse_rpm(&blob).map_err(|e| PkgDbError::Rpm(name.clone(), e))?;
        out.push(p);
        files.extend(f);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((out, files))
}

/// The OS of a root: `ID` and `VERSION_ID` of `etc/os-release` (else `usr/lib/os-release`),
/// with `etc/alpine-release` / `etc/debian_version` as fallbacks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Os {
    /// `alpine`, `debian`, `ubuntu`, `rhel`, `almalinux`, …
    pub family: String,
    /// `3.19.1`, `12`, `22.04`.
    pub name: String,
}

/// Detects the OS of `root`.
pub fn detect_os(root: &Path) -> Result<Option<Os>, PkgDbError> {
    detect_os_in(&Dir(root))
}

/// Detects the OS of a file tree.
pub fn detect_os_in(files: &dyn Files) -> Result<Option<Os>, PkgDbError> {
    for rel in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(text) = read(files, rel)? {
            let mut id = None;
            let mut ver = None;
            for line in text.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    let v = v.trim().trim_matches('"').trim_matches('\'');
                    match k.trim() {
                        "ID" => id = Some(v.to_owned()),
                        "VERSION_ID" => ver = Some(v.to_owned()),
                        _ => {}
                    }
                }
            }
            if let Some(family) = id {
                let mut name = ver.unwrap_or_default();
                if family == "alpine"
                    && let Some(r) = read(files, "etc/alpine-release")?
                {
                    name = r.trim().to_owned();
                }
                // Debian's point release (`12.5`) is in debian_version, which Trivy reports;
                // testing/sid write a codename there (`trixie/sid`), which is not a release.
                if family == "debian"
                    && let Some(r) = read(files, "etc/debian_version")?
                    && r.trim().starts_with(|c: char| c.is_ascii_digit())
                {
                    name = r.trim().to_owned();
                }
                return Ok(Some(Os { family, name }));
            }
        }
    }
    if let Some(r) = read(files, "etc/alpine-release")? {
        return Ok(Some(Os { family: "alpine".to_owned(), name: r.trim().to_owned() }));
    }
    if let Some(r) = read(files, "etc/debian_version")? {
        return Ok(Some(Os { family: "debian".to_owned(), name: r.trim().to_owned() }));
    }
    Ok(None)
}

/// Whether a scan of OS packages reads the file at `rel` (relative, `/`-separated): the
/// os-release files and the package databases [`installed_in`] looks for. An image reader keeps
/// only these.
#[must_use]
pub fn wanted(rel: &str) -> bool {
    matches!(
        rel,
        "etc/os-release"
            | "usr/lib/os-release"
            | "etc/alpine-release"
            | "etc/debian_version"
            | "var/lib/dpkg/status"
            | "lib/apk/db/installed"
            | "usr/lib/apk/db/installed"
    ) || rel.strip_prefix("var/lib/dpkg/status.d/").is_some_and(|n| !n.is_empty() && !n.contains('/'))
        || rel.strip_prefix("var/lib/dpkg/info/").is_some_and(|n| n.ends_with(".list") && !n.contains('/'))
        || is_copyright(rel)
        || RPM_DIRS.iter().any(|d| {
            rel.strip_prefix(d)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|f| matches!(f, "rpmdb.sqlite" | "Packages" | "Packages.db"))
        })
}

const RPM_DIRS: [&str; 3] = ["var/lib/rpm", "usr/lib/sysimage/rpm", "usr/share/rpm"];

/// The installed OS packages of a root directory: dpkg (`var/lib/dpkg/status` and
/// `status.d/*`, only `install ok installed` stanzas of `status`), apk (`lib/apk/db/installed`,
/// `usr/lib/apk/db/installed`) and rpm (`rpmdb.sqlite` under `var/lib/rpm`,
/// `usr/lib/sysimage/rpm`, `usr/share/rpm`). Symlinked databases are not followed.
pub fn installed(root: &Path) -> Result<Vec<InstalledPackage>, PkgDbError> {
    installed_in(&Dir(root))
}

/// The installed OS packages of a file tree (see [`installed`]).
pub fn installed_in(files: &dyn Files) -> Result<Vec<InstalledPackage>, PkgDbError> {
    Ok(inventory_in(files, &HashSet::new())?.packages)
}

/// Whether `rel` is a package's copyright file, as Trivy's dpkg license analyzer takes them:
/// `usr/share/doc/*/copyright`, one directory deep.
#[must_use]
pub fn is_copyright(rel: &str) -> bool {
    rel.strip_prefix("usr/share/doc/")
        .and_then(|r| r.strip_suffix("/copyright"))
        .is_some_and(|n| !n.is_empty() && !n.contains('/'))
}

/// The licenses a Debian copyright file names, as Trivy's dpkg license analyzer finds them:
/// each `License:` line (the machine-readable format), cut at `(`, split and normalized; and
/// each reference to `/usr/share/common-licenses/NAME`. In order, each once.
#[must_use]
pub fn copyright_licenses(text: &str) -> Vec<String> {
    static COMMON: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"/?usr/share/common-licenses/([0-9A-Za-z_.+-]+[0-9A-Za-z+])").ok()
    });
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut add = |l: String| {
        if seen.insert(l.clone()) {
            out.push(l);
        }
    };
    // Only two kinds of line matter; find them with a substring search over the whole text
    // (a copyright file can be hundreds of kilobytes), then read them in order.
    let bytes = text.as_bytes();
    let mut starts: Vec<usize> = Vec::new();
    if text.starts_with("License:") {
        starts.push(0);
    }
    starts.extend(memchr::memmem::find_iter(bytes, b"\nLicense:").map(|i| i + 1));
    for i in memchr::memmem::find_iter(bytes, b"/usr/share/common-licenses/") {
        starts.push(bytes.get(..i).and_then(|b| memchr::memrchr(b'\n', b)).map_or(0, |p| p + 1));
    }
    starts.sort_unstable();
    starts.dedup();
    for start in starts {
        let Some(rest) = text.get(start..) else { continue };
        // As `str::lines`: up to the newline, a carriage return before it dropped.
        let line = rest.split_once('\n').map_or(rest, |(l, _)| l);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(rest) = line.strip_prefix("License:") {
            let l = rest.trim();
            let l = l.split_once('(').map_or(l, |(a, _)| a);
            let l = l.strip_prefix("The main library is licensed under ").unwrap_or(l);
            let l = l.strip_suffix(" license").unwrap_or(l).trim();
            if !l.is_empty() {
                for part in crate::license::split(l) {
                    add(crate::license::normalize(&part));
                }
            }
        } else if line.contains("/usr/share/common-licenses/")
            && let Some(c) = COMMON.as_ref().and_then(|re| re.captures(line))
            && let Some(m) = c.get(1)
        {
            add(crate::license::normalize(m.as_str()));
        }
    }
    out
}

/// Which of `candidates` one dpkg `info/*.list` file names as files, as Trivy's dpkg
/// analyzer reads the list: its lines but `/.` sorted, each kept (leading `/` dropped) unless
/// the next one continues it with `/` (a directory).
#[must_use]
pub fn dpkg_list_system(text: &str, candidates: &HashSet<String>) -> HashSet<String> {
    let lines = || text.lines().filter(|l| *l != "/.");
    let mut listed: Vec<&str> =
        lines().filter(|l| !l.is_empty() && candidates.contains(l.trim_start_matches('/'))).collect();
    listed.sort_unstable();
    // A line listed twice is followed by itself in sorted order, so it is kept.
    let twice: HashSet<&str> =
        listed.windows(2).filter(|w| w.first() == w.get(1)).filter_map(|w| w.first().copied()).collect();
    listed.dedup();
    // The next line after each listed one in sorted order: of the lines past a listed line,
    // only those up to the next listed line (itself a line) can be the least.
    let mut next: Vec<Option<&str>> = vec![None; listed.len()];
    for l in lines() {
        let below = listed.partition_point(|p| *p < l);
        if let Some(slot) = below.checked_sub(1).and_then(|i| next.get_mut(i))
            && slot.is_none_or(|n| l < n)
        {
            *slot = Some(l);
        }
    }
    listed
        .iter()
        .zip(next)
        .filter(|(p, n)| {
            twice.contains(**p) || !n.is_some_and(|n| n.strip_prefix(**p).is_some_and(|r| r.starts_with('/')))
        })
        .map(|(p, _)| p.trim_start_matches('/').to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The OS packages of a file tree (see [`installed`]), and which of `candidates` (relative
/// paths) they installed. dpkg packages get their licenses from
/// `usr/share/doc/NAME/copyright` ([`copyright_licenses`]).
pub fn inventory_in(files: &dyn Files, candidates: &HashSet<String>) -> Result<Inventory, PkgDbError> {
    let packages = packages_in(files)?;
    Ok(Inventory { packages, system_files: system_files_in(files, candidates)? })
}

/// The OS packages of a file tree (see [`installed`]), dpkg's with their licenses.
pub fn packages_in(files: &dyn Files) -> Result<Vec<InstalledPackage>, PkgDbError> {
    let mut out = Vec::new();
    if let Some(text) = read(files, "var/lib/dpkg/status")? {
        out.extend(parse_dpkg_status(&text).into_iter().filter(|(_, s)| s == "install ok installed").map(|(p, _)| p));
    }
    for name in files.list("var/lib/dpkg/status.d")? {
        if name.ends_with(".md5sums") {
            continue;
        }
        if let Some(text) = read(files, &format!("var/lib/dpkg/status.d/{name}"))? {
            out.extend(parse_dpkg_status(&text).into_iter().map(|(p, _)| p));
        }
    }
    let mut licenses: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for p in &mut out {
        if !licenses.contains_key(&p.name) {
            let l = read(files, &format!("usr/share/doc/{}/copyright", p.name))?
                .map(|t| copyright_licenses(&t))
                .unwrap_or_default();
            licenses.insert(p.name.clone(), l);
        }
        if let Some(l) = licenses.get(&p.name) {
            p.licenses.clone_from(l);
        }
    }
    if let Some(text) = apk_db(files)? {
        out.extend(apk_installed(&text).0);
    }
    if let Some((pkgs, _)) = rpm_db(files)? {
        out.extend(pkgs);
    }
    Ok(out)
}

/// Which of `candidates` (relative paths) the OS packages of a file tree installed (see
/// [`Inventory::system_files`]).
pub fn system_files_in(files: &dyn Files, candidates: &HashSet<String>) -> Result<HashSet<String>, PkgDbError> {
    let mut out = HashSet::new();
    if candidates.is_empty() {
        return Ok(out);
    }
    for name in files.list("var/lib/dpkg/info")? {
        if name.ends_with(".list")
            && let Some(text) = read(files, &format!("var/lib/dpkg/info/{name}"))?
        {
            out.extend(dpkg_list_system(&text, candidates));
        }
    }
    if let Some(text) = apk_db(files)? {
        out.extend(
            apk_installed(&text)
                .1
                .into_iter()
                .map(|p| p.trim_start_matches('/').to_owned())
                .filter(|p| candidates.contains(p)),
        );
    }
    if let Some((_, installed)) = rpm_db(files)? {
        out.extend(installed.into_iter().filter(|p| candidates.contains(p)));
    }
    Ok(out)
}

/// The apk database of a tree: `lib/apk/db/installed`, else `usr/lib/apk/db/installed`.
fn apk_db(files: &dyn Files) -> Result<Option<String>, PkgDbError> {
    for rel in ["lib/apk/db/installed", "usr/lib/apk/db/installed"] {
        if let Some(text) = read(files, rel)? {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// An rpm database read: its packages, and the files its OS vendors' packages installed.
type RpmDb = (Vec<InstalledPackage>, Vec<String>);

/// The first rpm sqlite database of a tree (under [`RPM_DIRS`]): its packages and the files
/// its OS vendors' packages installed; an error for a BerkeleyDB or NDB one.
fn rpm_db(files: &dyn Files) -> Result<Option<RpmDb>, PkgDbError> {
    for dir in RPM_DIRS {
        let sqlite = format!("{dir}/rpmdb.sqlite");
        if let Some(path) = files.on_disk(&sqlite) {
            return read_rpm_sqlite_files(&path).map(Some);
        }
        if let Some(bytes) = files.read(&sqlite)? {
            // Held in memory (an image layer): the sqlite library reads a file, so a private
            // temporary copy is made and removed.
            let shown = files.display(&sqlite);
            let io = |e| PkgDbError::Io(shown.clone(), e);
            let mut tmp = tempfile::Builder::new().prefix("kguard-rpmdb-").tempfile().map_err(io)?;
            std::io::Write::write_all(&mut tmp, &bytes).map_err(io)?;
            return read_rpm_sqlite_files(tmp.path())
                .map_err(|e| match e {
                    PkgDbError::Rpm(_, m) => PkgDbError::Rpm(shown.clone(), m),
                    other => other,
                })
                .map(Some);
        }
        for (file, what) in [("Packages", "BerkeleyDB"), ("Packages.db", "NDB")] {
            let rel = format!("{dir}/{file}");
            if files.is_file(&rel) {
                return Err(PkgDbError::UnsupportedRpmdb(files.display(&rel), what));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn copyright_files_give_licenses_as_trivy_reads_them() {
        let dep5 = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
            Files: *\nLicense: GPL-2+ (with exception)\n\nFiles: lib/*\nLicense: LGPL-2.1+ or MIT\n\
            License: GPL-2+\n Text of the license\nLicense: The MIT License (MIT)\n";
        assert_eq!(copyright_licenses(dep5), ["GPL-2.0-or-later", "LGPL-2.1-or-later", "MIT"]);
        // Not machine-readable: the common-licenses references, in order, each once.
        let old = "This package is free software.\nOn Debian systems, see /usr/share/common-licenses/GPL-2.\n\
            and `/usr/share/common-licenses/Artistic'.\nagain /usr/share/common-licenses/GPL-2\n";
        assert_eq!(copyright_licenses(old), ["GPL-2.0-only", "Artistic-2.0"]);
        assert!(copyright_licenses("no license here\n").is_empty());
        assert!(is_copyright("usr/share/doc/bash/copyright"));
        assert!(!is_copyright("usr/share/doc/ca-certificates/examples/x/copyright"));
        assert!(!is_copyright("usr/share/doc//copyright"));
    }

    #[test]
    fn dpkg_lists_keep_files_not_directories() {
        let list = "/.\n/usr\n/usr/bin\n/usr/bin/tar\n/usr/sbin\n/usr/sbin/tarcat\n/etc/empty-dir\n";
        let ask: HashSet<String> =
            ["usr/bin", "usr/bin/tar", "usr/sbin/tarcat", "etc/empty-dir", "usr/bin/gzip", ""].map(String::from).into();
        let mut got: Vec<String> = dpkg_list_system(list, &ask).into_iter().collect();
        got.sort();
        assert_eq!(got, ["etc/empty-dir", "usr/bin/tar", "usr/sbin/tarcat"]);
        assert!(dpkg_list_system("", &ask).is_empty());
        // Only the next line in sorted order makes a directory (`-` sorts before `/`).
        let ask: HashSet<String> = ["a/tar".to_owned()].into();
        assert_eq!(dpkg_list_system("/a/tar/y\n/a/tar-x\n/a/tar\n", &ask).len(), 1);
        assert!(dpkg_list_system("/a/tar/y\n/a/tar\n", &ask).is_empty());
        // Listed twice, it is followed by itself.
        assert_eq!(dpkg_list_system("/a/tar/y\n/a/tar\n/a/tar\n", &ask).len(), 1);
        // Many listed lines take one pass, not one per line.
        let many: String = (0..200_000).map(|i| format!("/a/tar/{i}\n/a/tar\n")).collect();
        assert_eq!(dpkg_list_system(&many, &ask).len(), 1);
    }

    #[test]
    fn apk_paths_join_as_go_path_join() {
        assert_eq!(join_clean("usr/bin", "x"), "usr/bin/x");
        assert_eq!(join_clean("", "etc/x"), "etc/x");
        assert_eq!(join_clean("usr/./lib/../bin", "y"), "usr/bin/y");
        assert_eq!(join_clean("/usr", "z"), "/usr/z");
        assert_eq!(join_clean("..", "x"), "../x");
    }

    #[test]
    fn rpm_files_only_from_os_vendors() {
        // NAME, VERSION, RELEASE, VENDOR, DIRINDEXES, BASENAMES, DIRNAMES
        fn header(vendor: Option<&str>) -> Vec<u8> {
            let mut data = Vec::new();
            let mut index = Vec::new();
            let mut push = |tag: u32, ty: u32, count: u32, bytes: &[u8]| {
                index.extend_from_slice(&tag.to_be_bytes());
                index.extend_from_slice(&ty.to_be_bytes());
                index.extend_from_slice(&(data.len() as u32).to_be_bytes());
                index.extend_from_slice(&count.to_be_bytes());
                data.extend_from_slice(bytes);
            };
            push(1000, 6, 1, b"bash\0");
            push(1001, 6, 1, b"5.1\0");
            push(1002, 6, 1, b"1.el9\0");
            push(1014, 6, 1, b"GPLv3+\0");
            if let Some(v) = vendor {
                push(1011, 6, 1, format!("{v}\0").as_bytes());
            }
            push(1116, 4, 2, &[0, 0, 0, 0, 0, 0, 0, 1]);
            push(1117, 8, 2, b"bash\0bashrc\0");
            push(1118, 8, 2, b"/usr/bin/\0/etc/\0");
            let mut blob = Vec::new();
            blob.extend_from_slice(&((index.len() / 16) as u32).to_be_bytes());
            blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
            blob.extend(index);
            blob.extend(data);
            blob
        }
        let (p, files) = parse_rpm(&header(Some("Red Hat, Inc."))).unwrap();
        assert_eq!(p.licenses, ["GPLv3+"]);
        assert_eq!(files, ["usr/bin/bash", "etc/bashrc"]);
        assert!(parse_rpm(&header(Some("Example Corp"))).unwrap().1.is_empty());
        assert!(parse_rpm(&header(None)).unwrap().1.is_empty());
    }
}
