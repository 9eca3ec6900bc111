//! Installed-package databases of a root filesystem: dpkg `status` and `status.d/`, apk
//! `installed`, rpm's sqlite `rpmdb.sqlite` (BerkeleyDB and NDB are refused with a clear
//! error). Also the OS of the root from `os-release`. Reusable by node checks:
//! [`installed`] lists the packages of a root directory.

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
    Ok(files.read(rel)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
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
        };
        out.push((pkg, get("Status").unwrap_or_default().to_owned()));
    }
    out
}

/// Parses apk's `installed` database (single-letter keys; stanzas without `V:` dropped).
#[must_use]
pub fn parse_apk_installed(text: &str) -> Vec<InstalledPackage> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let (mut name, mut version, mut arch, mut origin) = (None, None, "", None);
        for line in stanza.lines() {
            match line.split_once(':') {
                Some(("P", v)) => name = Some(v),
                Some(("V", v)) => version = Some(v),
                Some(("A", v)) => arch = v,
                Some(("o", v)) => origin = Some(v),
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
            });
        }
    }
    out
}

/// Reads one rpm header blob (the `Packages.blob` column): name, epoch, version, release,
/// arch, source rpm.
pub fn parse_rpm_header(blob: &[u8]) -> Result<InstalledPackage, String> {
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
    for i in 0..count {
        let o = 8 + i * 16;
        let (tag, ty, off) = (be32(o)?, be32(o + 4)?, be32(o + 8)? as usize);
        let string = || -> Option<String> {
            let s = data.get(off..)?;
            let end = s.iter().position(|&b| b == 0)?;
            Some(String::from_utf8_lossy(s.get(..end)?).into_owned())
        };
        match (tag, ty) {
            (1000, 6) => name = string(),
            (1001, 6) => version = string(),
            (1002, 6) => release = string(),
            (1022, 6) => arch = string(),
            (1044, 6) => src = string(),
            (1003, 4) => {
                epoch = data.get(off..off + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(u32::from_be_bytes);
            }
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
    Ok(InstalledPackage { name, version: evr, arch: arch.unwrap_or_default(), src_name, src_version, kind: Kind::Rpm })
}

/// Reads an rpm sqlite database (read-only, immutable: nothing is written beside it).
pub fn read_rpm_sqlite(path: &Path) -> Result<Vec<InstalledPackage>, PkgDbError> {
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
    for blob in rows {
        let blob = blob.map_err(err)?;
        out.push(parse_rpm_header(&blob).map_err(|e| PkgDbError::Rpm(name.clone(), e))?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
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
    for rel in ["lib/apk/db/installed", "usr/lib/apk/db/installed"] {
        if let Some(text) = read(files, rel)? {
            out.extend(parse_apk_installed(&text));
            break;
        }
    }
    for dir in RPM_DIRS {
        let sqlite = format!("{dir}/rpmdb.sqlite");
        if let Some(path) = files.on_disk(&sqlite) {
            out.extend(read_rpm_sqlite(&path)?);
            break;
        }
        if let Some(bytes) = files.read(&sqlite)? {
            // Held in memory (an image layer): the sqlite library reads a file, so a private
            // temporary copy is made and removed.
            let shown = files.display(&sqlite);
            let io = |e| PkgDbError::Io(shown.clone(), e);
            let mut tmp = tempfile::Builder::new().prefix("kguard-rpmdb-").tempfile().map_err(io)?;
            std::io::Write::write_all(&mut tmp, &bytes).map_err(io)?;
            out.extend(read_rpm_sqlite(tmp.path()).map_err(|e| match e {
                PkgDbError::Rpm(_, m) => PkgDbError::Rpm(shown.clone(), m),
                other => other,
            })?);
            break;
        }
        for (file, what) in [("Packages", "BerkeleyDB"), ("Packages.db", "NDB")] {
            let rel = format!("{dir}/{file}");
            if files.is_file(&rel) {
                return Err(PkgDbError::UnsupportedRpmdb(files.display(&rel), what));
            }
        }
    }
    Ok(out)
}
