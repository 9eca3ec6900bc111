//! Language packages installed in a root filesystem or an image, found the way Trivy's
//! analyzers for `rootfs` and `image` find them:
//!
//! - `python-pkg`: `METADATA` under a `*.dist-info` directory, and files ending
//!   `EGG-INFO/PKG-INFO`, `.egg-info`, `.egg-info/PKG-INFO`, `.egg-info/METADATA` (RFC 822
//!   headers: `Name`, `Version`, licenses);
//! - `node-pkg`: every `package.json` with a name and a version;
//! - `gemspec`: `…/specifications/*.gemspec` (`Gem::Specification.new do |s|`, `s.name`,
//!   `s.version`);
//! - `jar`: `*.jar`, `*.war`, `*.ear`, `*.par` archives: every `pom.properties` inside, else the
//!   `MANIFEST.MF` main section (Trivy's offline choice: no Maven Central look-ups), and archives
//!   nested inside (`app.war/WEB-INF/lib/x-1.0.jar`);
//! - `gobinary`: executable ELF files with Go build information ([`super::gobinary`]);
//! - `rustbinary`: executable ELF files built with cargo-auditable ([`super::rustbinary`]);
//! - `python-pkg` from `*.egg` zip archives: the first entry ending `EGG-INFO/PKG-INFO`,
//!   `.egg-info` or `.egg-info/PKG-INFO` (the archive's path is the package's file path);
//! - `conda-pkg`: `conda-meta/<name>-<version>-<build>.json` inside an environment, matched as
//!   Trivy matches it (`.*/envs/.+/conda-meta/.+-.+-.+\.json`, unanchored: the base
//!   environment's `conda-meta` is not read); `name`, `version`, `license`;
//! - the files Trivy reads in images but not as lockfiles: `Cargo.lock`, `packages.lock.json`,
//!   `*.deps.json` (`dotnet-core`), `Packages.props`, `vendor/composer/installed.json`
//!   (`composer-vendor`).
//!
//! Installed packages of one language are gathered into one target, as Trivy's applier does
//! (`Python`, `Node.js`, `Java`, `Ruby`), each package keeping its file path; Go binaries and
//! the lockfile-like types are one target per file. A file that cannot be read as what its name
//! says is skipped with a warning (Trivy logs it and goes on); nothing here panics, and every
//! read is bounded.

use std::collections::BTreeMap;
use std::io::Read;

use super::{LangTarget, LangType, Package, ParseError};
use crate::files::Files;
use crate::pkgdb::PkgDbError;

/// Most bytes of a metadata text file read (`METADATA`, `package.json`, `*.gemspec`).
pub const MAX_TEXT: usize = 16 << 20;
/// Deepest archive nesting followed (`a.ear` → `b.war` → `c.jar` → …).
pub const MAX_JAR_DEPTH: usize = 4;
/// Most bytes of one entry read out of an archive (a nested archive, `pom.properties`, the
/// manifest).
pub const MAX_JAR_ENTRY: u64 = 64 << 20;
/// Most uncompressed bytes read out of one archive and everything nested in it.
pub const MAX_JAR_TOTAL: u64 = 512 << 20;
/// Most entries of one archive looked at.
pub const MAX_JAR_ENTRIES: usize = 200_000;
/// Most files a walk returns.
pub const MAX_FILES: usize = 1_000_000;

/// What a heavy file (an archive or an executable) holds, computed once from its bytes so that
/// an image reader can keep this instead of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Analyzed {
    /// Packages of a type, with their file paths (`jar`) or without (`gobinary`).
    Packages(LangType, Vec<Package>),
    /// A Java archive: the packages its `pom.properties` files name (its own and its nested
    /// archives'), and the archives (it or nested ones) that name none of their own, to identify
    /// with [`finish_jar`].
    Jar(Vec<Package>, Vec<JarIdentity>),
    /// The file looked like one but could not be read; the reason.
    Failed(String),
}

fn base(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

/// Whether `rel` names a Java archive Trivy's `jar` analyzer reads (extension, any case).
#[must_use]
pub fn is_archive(rel: &str) -> bool {
    let b = base(rel);
    match b.rfind('.') {
        Some(i) => {
            let ext = b.get(i..).unwrap_or_default();
            [".jar", ".war", ".ear", ".par"].iter().any(|e| ext.eq_ignore_ascii_case(e))
        }
        None => false,
    }
}

/// Whether `rel` is a Python egg (Trivy's `filepath.Ext(path) == ".egg"`).
#[must_use]
pub fn is_egg(rel: &str) -> bool {
    let b = base(rel);
    b.rfind('.').is_some_and(|i| b.get(i..) == Some(".egg"))
}

/// Whether `rel` is an archive whose contents are analysed (a Java archive or a Python egg).
#[must_use]
pub fn is_analyzed_archive(rel: &str) -> bool {
    is_archive(rel) || is_egg(rel)
}

/// Whether `rel` is conda package metadata: Trivy's unanchored
/// `.*/envs/.+/conda-meta/.+-.+-.+\.json`.
#[must_use]
pub fn is_conda_meta(rel: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r".*/envs/.+/conda-meta/.+-.+-.+\.json").ok())
        .as_ref()
        .is_some_and(|re| re.is_match(rel))
}

/// Whether `rel` is Python package metadata (`python-pkg`).
#[must_use]
pub fn is_python_metadata(rel: &str) -> bool {
    (rel.contains(".dist-info") && base(rel) == "METADATA")
        || ["EGG-INFO/PKG-INFO", ".egg-info", ".egg-info/PKG-INFO", ".egg-info/METADATA"]
            .iter()
            .any(|s| rel.ends_with(s))
}

/// Whether `rel` is a gem specification (`.*/specifications/.+\.gemspec`, unanchored).
#[must_use]
pub fn is_gemspec(rel: &str) -> bool {
    let mut from = 0;
    while let Some(i) = rel.get(from..).and_then(|r| r.find("/specifications/")) {
        let after = from + i + "/specifications/".len();
        // `.+` then `.gemspec`: some character before a later `.gemspec`.
        if rel.get(after + 1..).is_some_and(|r| r.contains(".gemspec")) {
            return true;
        }
        from = from + i + 1;
    }
    false
}

/// The lockfile-like type Trivy reads from images at `rel`, if any.
fn file_type(rel: &str) -> Option<LangType> {
    LangType::of_path(rel).filter(|k| !k.is_lockfile())
}

/// Whether a scan of installed language packages reads the (small, text) file at `rel`: an
/// image reader keeps these whole. Archives and executables are [`analyze_bytes`]'d instead.
#[must_use]
pub fn wanted(rel: &str) -> bool {
    is_python_metadata(rel)
        || base(rel) == "package.json"
        || is_gemspec(rel)
        || is_conda_meta(rel)
        || file_type(rel).is_some()
}

// ---------------------------------------------------------------------------------------------
// Python.

/// The headers of an RFC 822 message the way Go's `textproto.ReadMIMEHeader` reads them: up to
/// the first empty line, continuation lines folded into the previous value, keys compared
/// without case; a malformed line ends the headers (what was read so far is kept).
fn mime_headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            match out.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => break,
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else { break };
        if k.is_empty() || k.contains([' ', '\t']) {
            break;
        }
        out.push((k.to_ascii_lowercase(), v.trim().to_owned()));
    }
    out
}

fn split_licenses(s: &str) -> Vec<String> {
    crate::license::split(s)
}

/// `METADATA` / `PKG-INFO`: one package.
///
/// # Errors
/// When `Name` or `Version` is missing.
pub fn parse_python_metadata(text: &str) -> Result<Package, ParseError> {
    let h = mime_headers(text);
    let get = |k: &str| h.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str()).unwrap_or("");
    let (name, version) = (get("name"), get("version"));
    if name.is_empty() || version.is_empty() {
        return Err(ParseError::new(0, "name or version is empty"));
    }
    let mut license = get("license-expression").to_owned();
    if license.is_empty() {
        let classifiers: Vec<&str> = h
            .iter()
            .filter(|(k, _)| k == "classifier")
            .filter_map(|(_, v)| v.strip_prefix("License :: ").map(|_| v.rsplit(" :: ").next().unwrap_or(v)))
            .filter(|n| *n != "OSI Approved")
            .collect();
        license = classifiers.join(", ");
        if classifiers.is_empty() {
            license = get("license").to_owned();
        }
    }
    Ok(Package {
        name: name.to_owned(),
        version: version.to_owned(),
        licenses: split_licenses(&license),
        ..Package::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Node.js.

/// Trivy's package-name check (`^(@[A-Za-z0-9-._]+/)?[A-Za-z0-9-._]+$`; empty is allowed).
fn valid_npm_name(name: &str) -> bool {
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if name.is_empty() {
        return true;
    }
    match name.strip_prefix('@') {
        Some(rest) => rest.split_once('/').is_some_and(|(scope, n)| ok(scope) && ok(n)),
        None => ok(name),
    }
}

/// `package.json`: the package it describes, or `None` without a name and a version.
///
/// # Errors
/// Malformed JSON, a name or version that is not a string, or a name with characters npm does
/// not allow.
pub fn parse_package_json(text: &str) -> Result<Option<Package>, ParseError> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ParseError::new(e.line(), format!("JSON decode error: {e}")))?;
    let field = |k: &str| -> Result<&str, ParseError> {
        match v.get(k) {
            None | Some(serde_json::Value::Null) => Ok(""),
            Some(serde_json::Value::String(s)) => Ok(s),
            Some(_) => Err(ParseError::new(0, format!("\"{k}\" is not a string"))),
        }
    };
    if !v.is_object() {
        return Err(ParseError::new(0, "not a JSON object"));
    }
    let (name, version) = (field("name")?, field("version")?);
    if !valid_npm_name(name) {
        return Err(ParseError::new(0, "Name can only contain URL-friendly characters"));
    }
    if name.is_empty() || version.is_empty() {
        return Ok(None);
    }
    let licenses = match v.get("license") {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Object(o)) => {
            o.get("type").and_then(serde_json::Value::as_str).map(str::to_owned).into_iter().collect()
        }
        _ => v
            .get("licenses")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|l| l.as_str().or_else(|| l.get("type").and_then(serde_json::Value::as_str)))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    };
    Ok(Some(Package {
        id: format!("{name}@{version}"),
        name: name.to_owned(),
        version: version.to_owned(),
        licenses,
        ..Package::default()
    }))
}

// ---------------------------------------------------------------------------------------------
// Ruby.

fn gem_trim(s: &str) -> String {
    let s = s.trim();
    let s = s.strip_suffix(".freeze").unwrap_or(s);
    s.trim_matches(['\'', '"']).to_owned()
}

/// The first non-space run after `.{field}` `=` on `line`.
fn gem_value(line: &str, field: &str) -> String {
    let pat = format!(".{field}");
    let mut from = 0;
    while let Some(i) = line.get(from..).and_then(|r| r.find(&pat)) {
        let rest = line.get(from + i + pat.len()..).unwrap_or_default().trim_start();
        if let Some(r) = rest.strip_prefix('=') {
            return r.split_whitespace().next().unwrap_or_default().to_owned();
        }
        from += i + 1;
    }
    String::new()
}

/// `*.gemspec` as RubyGems writes it into `specifications/`.
///
/// # Errors
/// When no name or version is found.
pub fn parse_gemspec(text: &str) -> Result<Package, ParseError> {
    let (mut var, mut name, mut version, mut license) = (String::new(), String::new(), String::new(), String::new());
    for line in text.lines() {
        let line = line.trim();
        if line.contains("Gem::Specification.new") {
            // `|(?P<var>.*)|`: between the first and the last bar.
            if let (Some(a), Some(b)) = (line.find('|'), line.rfind('|'))
                && b > a
            {
                var = line.get(a + 1..b).unwrap_or_default().to_owned();
            } else {
                var.clear();
            }
        }
        if var.is_empty() {
            continue;
        }
        if line.starts_with(&format!("{var}.name")) {
            name = gem_trim(&gem_value(line, "name"));
        } else if line.starts_with(&format!("{var}.version")) {
            version = gem_trim(&gem_value(line, "version"));
        } else if line.starts_with(&format!("{var}.licenses")) {
            let inner = line.split_once('[').and_then(|(_, r)| r.rsplit_once(']')).map(|(x, _)| x).unwrap_or("");
            license = inner.split(',').map(gem_trim).collect::<Vec<_>>().join(", ");
        } else if line.starts_with(&format!("{var}.license")) {
            license = gem_trim(&gem_value(line, "license"));
        }
        if !name.is_empty() && !version.is_empty() && !license.is_empty() {
            break;
        }
    }
    if name.is_empty() || version.is_empty() {
        return Err(ParseError::new(0, "failed to parse gemspec"));
    }
    Ok(Package { name, version, licenses: split_licenses(&license), ..Package::default() })
}

// ---------------------------------------------------------------------------------------------
// Java archives.

#[derive(Debug, Default)]
struct Props {
    group: String,
    artifact: String,
    version: String,
}

impl Props {
    fn valid(&self) -> bool {
        !self.group.is_empty() && !self.artifact.is_empty() && !self.version.is_empty()
    }
    fn package(&self, file_path: &str) -> Package {
        Package {
            name: format!("{}:{}", self.group, self.artifact),
            version: self.version.clone(),
            file_path: file_path.to_owned(),
            ..Package::default()
        }
    }
}

/// Artifact id and version from a file name (`spring-beans-5.3.15.jar`), Trivy's
/// `^([a-zA-Z0-9\._-]*[^-*])-(\d\S*(?:-SNAPSHOT)?).jar$`.
fn file_name_props(path: &str) -> Option<(String, String)> {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re =
        RE.get_or_init(|| regex::Regex::new(r"^([a-zA-Z0-9\._-]*[^-*])-(\d\S*(?:-SNAPSHOT)?).jar$").ok()).as_ref()?;
    let c = re.captures(base(path))?;
    Some((c.get(1)?.as_str().to_owned(), c.get(2)?.as_str().to_owned()))
}

fn parse_pom_properties(text: &str) -> Props {
    let mut p = Props::default();
    for line in text.lines() {
        let line = line.trim();
        if let Some(v) = line.strip_prefix("groupId=") {
            v.clone_into(&mut p.group);
        } else if let Some(v) = line.strip_prefix("artifactId=") {
            v.clone_into(&mut p.artifact);
        } else if let Some(v) = line.strip_prefix("version=") {
            v.clone_into(&mut p.version);
        }
    }
    p
}

/// The main section of `MANIFEST.MF` as group, artifact and version, the way Trivy derives
/// them (vendor id, bundle symbolic name, vendor; title; version); `None` when one is missing.
fn manifest_props(text: &str) -> Option<Props> {
    let mut attrs: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut add = |line: &str| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() <= 1 || fields.get(1).is_some_and(|f| f.starts_with('%')) {
            return;
        }
        for key in [
            "Implementation-Version",
            "Implementation-Title",
            "Implementation-Vendor-Id",
            "Implementation-Vendor",
            "Specification-Version",
            "Specification-Title",
            "Specification-Vendor",
            "Bundle-Version",
            "Bundle-Name",
            "Bundle-SymbolicName",
        ] {
            if let Some(v) = line.strip_prefix(key).and_then(|r| r.strip_prefix(':')) {
                attrs.insert(key, v.to_owned());
                return;
            }
        }
    };
    let mut attr = String::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if let Some(c) = line.strip_prefix(' ') {
            attr.push_str(c);
            continue;
        }
        add(&attr);
        attr = line.to_owned();
    }
    add(&attr);
    let get = |k: &str| attrs.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let group = if let Some(v) = get("Implementation-Vendor-Id") {
        v.to_owned()
    } else if let Some(v) = get("Bundle-SymbolicName") {
        match v.rfind('.') {
            Some(i) if i > 0 => v.get(..i).unwrap_or(v).to_owned(),
            _ => v.to_owned(),
        }
    } else {
        get("Implementation-Vendor").or_else(|| get("Specification-Vendor"))?.to_owned()
    };
    let artifact = get("Implementation-Title").or_else(|| get("Specification-Title")).or_else(|| get("Bundle-Name"))?;
    let version =
        get("Implementation-Version").or_else(|| get("Specification-Version")).or_else(|| get("Bundle-Version"))?;
    Some(Props {
        group: group.trim().to_owned(),
        artifact: artifact.trim().to_owned(),
        version: version.trim().to_owned(),
    })
}

fn read_entry<R: Read>(r: R, cap: u64, budget: &mut u64) -> Result<Vec<u8>, String> {
    let limit = cap.min(*budget);
    let mut buf = Vec::new();
    r.take(limit + 1).read_to_end(&mut buf).map_err(|e| e.to_string())?;
    if buf.len() as u64 > limit {
        return Err(if limit == cap {
            format!("an entry larger than {cap} bytes")
        } else {
            format!("more than {MAX_JAR_TOTAL} bytes uncompressed in all")
        });
    }
    *budget -= buf.len() as u64;
    Ok(buf)
}

/// A Java archive (or one nested in another) with no `pom.properties` of its own: what can
/// identify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JarIdentity {
    /// Its path (`outer.war/WEB-INF/lib/inner.jar` when nested).
    pub path: String,
    /// The SHA-1 of its bytes.
    pub sha1: [u8; 20],
    /// Group, artifact and version from its `MANIFEST.MF`, when all three are there.
    pub manifest: Option<(String, String, String)>,
    /// Artifact id and version from its file name (`spring-core-5.3.4.jar`).
    pub file: Option<(String, String)>,
}

/// The packages of a Java archive at `path` (and of the archives nested in it, their paths
/// `path/inner.jar`), as Trivy's `jar` parser finds them offline.
///
/// # Errors
/// Not a zip archive, a malformed `pom.properties` or manifest, or past the size bounds.
pub fn parse_jar(path: &str, bytes: &[u8]) -> Result<Vec<Package>, String> {
    let (pkgs, ids) = parse_jar_identities(path, bytes)?;
    Ok(finish_jar(pkgs, &ids, None))
}

/// [`parse_jar`] in two halves: the packages its `pom.properties` files name, and the archives
/// to identify otherwise ([`finish_jar`]).
///
/// # Errors
/// As [`parse_jar`].
pub fn parse_jar_identities(path: &str, bytes: &[u8]) -> Result<(Vec<Package>, Vec<JarIdentity>), String> {
    let mut budget = MAX_JAR_TOTAL;
    let mut ids = Vec::new();
    let pkgs = jar_packages(path, bytes, 0, &mut budget, &mut ids)?;
    Ok((pkgs, ids))
}

/// The packages of a Java archive once the archives without `pom.properties` are identified,
/// as Trivy's jar parser does: offline (no `db`), by their MANIFEST.MF; with the Java DB, by
/// their MANIFEST.MF when the DB knows its group and artifact, else by their SHA-1, else by the
/// artifact id and version of their file name with the group the DB gives. Then Trivy's
/// `removePackageDuplicates`: one per name, file and version.
#[must_use]
pub fn finish_jar(mut pkgs: Vec<Package>, ids: &[JarIdentity], db: Option<&super::javadb::JavaDb>) -> Vec<Package> {
    for id in ids {
        let manifest =
            id.manifest.as_ref().map(|(g, a, v)| Props { group: g.clone(), artifact: a.clone(), version: v.clone() });
        let found = match db {
            None => manifest,
            Some(db) => manifest
                .filter(|m| db.exists(&m.group, &m.artifact))
                .or_else(|| {
                    db.by_sha1(&id.sha1).map(|g| Props { group: g.group, artifact: g.artifact, version: g.version })
                })
                .or_else(|| {
                    let (a, v) = id.file.as_ref()?;
                    let group = db.group_of(a, v)?;
                    Some(Props { group, artifact: a.clone(), version: v.clone() })
                }),
        };
        if let Some(p) = found {
            pkgs.push(p.package(&id.path));
        }
    }
    let mut seen = std::collections::HashSet::new();
    pkgs.retain(|p| seen.insert((p.name.clone(), p.file_path.clone(), p.version.clone())));
    pkgs
}

fn jar_packages(
    path: &str,
    bytes: &[u8],
    depth: usize,
    budget: &mut u64,
    ids: &mut Vec<JarIdentity>,
) -> Result<Vec<Package>, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| format!("zip error: {e}"))?;
    let file_props = file_name_props(path);
    let mut pkgs = Vec::new();
    let mut manifest: Option<Props> = None;
    let mut found_pom_props = false;
    for i in 0..zip.len().min(MAX_JAR_ENTRIES) {
        let mut f = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => return Err(format!("zip error: {e}")),
        };
        if f.is_dir() {
            continue;
        }
        let name = f.name().map_or_else(|_| String::from_utf8_lossy(f.name_raw()).into_owned(), |n| n.into_owned());
        let b = base(&name);
        if b == "pom.properties" {
            let text = read_entry(&mut f, MAX_JAR_ENTRY, budget).map_err(|e| format!("{name}: {e}"))?;
            let props = parse_pom_properties(&String::from_utf8_lossy(&text));
            if props.valid() {
                if file_props.as_ref().is_some_and(|(a, v)| *a == props.artifact && *v == props.version) {
                    found_pom_props = true;
                }
                pkgs.push(props.package(path));
            }
        } else if b == "MANIFEST.MF" {
            let text = read_entry(&mut f, 10 << 20, budget).map_err(|e| format!("{name}: {e}"))?;
            manifest = manifest_props(&String::from_utf8_lossy(&text));
        } else if [".jar", ".war", ".ear"].iter().any(|e| name.ends_with(e)) {
            // Nested archives: errors are skipped, as Trivy skips them.
            if depth + 1 > MAX_JAR_DEPTH {
                continue;
            }
            let inner_path = super::go_join(path, &name);
            if !inner_path.starts_with(path) {
                continue; // `../` in the entry name
            }
            let Ok(inner) = read_entry(&mut f, MAX_JAR_ENTRY, budget) else { continue };
            drop(f);
            let mut inner_ids = Vec::new();
            if let Ok(p) = jar_packages(&inner_path, &inner, depth + 1, budget, &mut inner_ids) {
                pkgs.extend(p);
                ids.extend(inner_ids);
            }
        }
    }
    if !found_pom_props {
        ids.push(JarIdentity {
            path: path.to_owned(),
            sha1: super::javadb::sha1(bytes),
            manifest: manifest.filter(Props::valid).map(|m| (m.group, m.artifact, m.version)),
            file: file_props,
        });
    }
    Ok(pkgs)
}

// ---------------------------------------------------------------------------------------------
// Files of a tree.

/// What an archive or executable holds: `None` when it is neither a Java archive nor an ELF
/// file with Go build information.
#[must_use]
pub fn analyze_bytes(rel: &str, bytes: &[u8]) -> Option<Analyzed> {
    if is_archive(rel) {
        return Some(match parse_jar_identities(rel, bytes) {
            Ok((p, ids)) => Analyzed::Jar(p, ids),
            Err(e) => Analyzed::Failed(e),
        });
    }
    if is_egg(rel) {
        return match parse_egg(rel, bytes) {
            Ok(Some(p)) => Some(Analyzed::Packages(LangType::PythonPkg, vec![p])),
            Ok(None) => None,
            Err(e) => Some(Analyzed::Failed(e)),
        };
    }
    analyze_executable(bytes)
}

/// The packages an executable holds (Go build information, else a Rust dependency list), read
/// through a [`object::ReadRef`]: of a file behind an [`object::ReadCache`], only the headers
/// and the sections that hold them are read. `None` when it holds neither.
pub fn analyze_executable<'a, R: object::ReadRef<'a>>(data: R) -> Option<Analyzed> {
    if let Some(info) = super::gobinary::read_build_info_from(data) {
        return Some(Analyzed::Packages(LangType::GoBinary, super::gobinary::packages(&info)));
    }
    match super::rustbinary::packages_from(data)? {
        Ok(p) => Some(Analyzed::Packages(LangType::RustBinary, p)),
        Err(e) => Some(Analyzed::Failed(e.to_string())),
    }
}

/// The package of a Python egg (a zip archive): its first entry ending `EGG-INFO/PKG-INFO`,
/// `.egg-info` or `.egg-info/PKG-INFO`; `None` when it has none (Trivy skips such an egg).
///
/// # Errors
/// When the archive cannot be read, or its metadata names no package.
pub fn parse_egg(rel: &str, bytes: &[u8]) -> Result<Option<Package>, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| format!("zip error: {e}"))?;
    let wanted = ["EGG-INFO/PKG-INFO", ".egg-info", ".egg-info/PKG-INFO"];
    let Some(i) = (0..zip.len().min(MAX_JAR_ENTRIES))
        .find(|&i| zip.name_for_index(i).is_some_and(|n| n.is_ok_and(|n| wanted.iter().any(|w| n.ends_with(w)))))
    else {
        return Ok(None);
    };
    let entry = zip.by_index(i).map_err(|e| format!("zip error: {e}"))?;
    let mut text = Vec::new();
    entry.take(MAX_TEXT as u64 + 1).read_to_end(&mut text).map_err(|e| format!("zip error: {e}"))?;
    if text.len() > MAX_TEXT {
        return Err(format!("PKG-INFO larger than {MAX_TEXT} bytes"));
    }
    let text = String::from_utf8_lossy(&text);
    let mut p = parse_python_metadata(&text).map_err(|e| e.to_string())?;
    p.file_path = rel.to_owned();
    Ok(Some(p))
}

/// `conda-meta/*.json`: one package (`name`, `version`, `license`).
///
/// # Errors
/// When the JSON does not parse or names no package.
pub fn parse_conda_meta(text: &str) -> Result<Package, ParseError> {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(default)]
        name: String,
        #[serde(default)]
        version: String,
        #[serde(default)]
        license: String,
    }
    let m: Meta =
        serde_json::from_str(text).map_err(|e| ParseError::new(e.line(), format!("JSON decode error: {e}")))?;
    if m.name.is_empty() || m.version.is_empty() {
        return Err(ParseError::new(0, "unable to parse conda package"));
    }
    Ok(Package { name: m.name, version: m.version, licenses: split_licenses(&m.license), ..Package::default() })
}

/// The installed language packages of a file tree, and a warning for each file skipped.
#[derive(Debug, Default, Clone)]
pub struct Found {
    /// Targets in Trivy's order (by target name).
    pub targets: Vec<LangTarget>,
    /// Files that could not be read as what they looked like.
    pub warnings: Vec<String>,
}

/// Finds the installed language packages of a tree (see the module documentation).
///
/// # Errors
/// Only when the tree cannot be walked or read; a malformed package file is a warning.
pub fn find_in(files: &dyn Files, java_db: Option<&super::javadb::JavaDb>) -> Result<Found, PkgDbError> {
    let entries = files.walk(&|rel, exec| wanted(rel) || is_analyzed_archive(rel) || exec)?;
    let mut found = Found::default();
    let mut aggregated: BTreeMap<&'static str, (LangType, Vec<Package>)> = BTreeMap::new();
    let mut per_file: Vec<LangTarget> = Vec::new();
    let mut warn = |files: &dyn Files, rel: &str, what: &str, e: &dyn std::fmt::Display| {
        found.warnings.push(format!("{}: not read as {what}: {e}", files.display(rel)));
    };
    for (rel, exec) in entries {
        let text_kind = if is_python_metadata(&rel) {
            Some(LangType::PythonPkg)
        } else if base(&rel) == "package.json" {
            Some(LangType::NodePkg)
        } else if is_gemspec(&rel) {
            Some(LangType::GemSpec)
        } else if is_conda_meta(&rel) {
            Some(LangType::CondaPkg)
        } else {
            file_type(&rel)
        };
        if let Some(kind) = text_kind {
            let Some(bytes) = files.read(&rel)? else { continue };
            if bytes.len() > MAX_TEXT && kind.aggregate_target().is_some() {
                warn(files, &rel, kind.as_str(), &format!("larger than {MAX_TEXT} bytes"));
                continue;
            }
            let mut pkgs = match super::parse(kind, base(&rel), &bytes) {
                Ok(p) => p,
                Err(e) => {
                    warn(files, &rel, kind.as_str(), &e);
                    continue;
                }
            };
            if kind.aggregate_target().is_some() {
                for p in &mut pkgs {
                    p.file_path.clone_from(&rel);
                }
            }
            if pkgs.is_empty() {
                continue;
            }
            match kind.aggregate_target() {
                Some(t) => {
                    aggregated.entry(t).or_insert_with(|| (kind, Vec::new())).1.extend(pkgs);
                }
                None => {
                    super::sort_packages(&mut pkgs);
                    per_file.push(LangTarget { path: rel, kind, packages: pkgs });
                }
            }
            continue;
        }
        if !(is_analyzed_archive(&rel) || exec) {
            continue;
        }
        let analyzed = match files.analyze(&rel)? {
            Some(Analyzed::Jar(pkgs, ids)) => Some(Analyzed::Packages(LangType::Jar, finish_jar(pkgs, &ids, java_db))),
            other => other,
        };
        match analyzed {
            None | Some(Analyzed::Jar(..)) => {}
            Some(Analyzed::Failed(e)) => {
                let what = if is_archive(&rel) {
                    "jar"
                } else if is_egg(&rel) {
                    "python-pkg (egg)"
                } else {
                    "a Go or Rust binary"
                };
                warn(files, &rel, what, &e);
            }
            Some(Analyzed::Packages(_, pkgs)) if pkgs.is_empty() => {}
            Some(Analyzed::Packages(kind, pkgs)) => match kind.aggregate_target() {
                Some(t) => aggregated.entry(t).or_insert_with(|| (kind, Vec::new())).1.extend(pkgs),
                None => per_file.push(LangTarget { path: rel, kind, packages: pkgs }),
            },
        }
    }
    for (t, (kind, mut packages)) in aggregated {
        sort_with_path(&mut packages);
        per_file.push(LangTarget { path: t.to_owned(), kind, packages });
    }
    per_file.sort_by(|a, b| a.path.cmp(&b.path));
    found.targets = per_file;
    Ok(found)
}

impl Found {
    /// The files the packages were found in: each per-file target, and each package's own
    /// file. [`Found::drop_system_files`] asks which of them the OS package manager installed.
    #[must_use]
    pub fn paths(&self) -> std::collections::HashSet<String> {
        let mut out = std::collections::HashSet::new();
        for t in &self.targets {
            if t.kind.aggregate_target().is_none() {
                out.insert(t.path.clone());
            }
            out.extend(t.packages.iter().filter(|p| !p.file_path.is_empty()).map(|p| p.file_path.clone()));
        }
        out
    }

    /// Trivy's system-file filter: what the OS package manager installed is its package, not a
    /// language package (a Debian-built Go binary, a `python3-*` module). A file of the kinds
    /// Trivy filters (gemspec, python-pkg, conda-pkg, node-pkg, gobinary) that is a system file
    /// is dropped whole, and so is any package whose own file is one; targets left empty go.
    pub fn drop_system_files(&mut self, system: &std::collections::HashSet<String>) {
        if system.is_empty() {
            return;
        }
        self.targets.retain_mut(|t| {
            let whole = matches!(
                t.kind,
                LangType::GemSpec | LangType::PythonPkg | LangType::CondaPkg | LangType::NodePkg | LangType::GoBinary
            ) && t.kind.aggregate_target().is_none()
                && system.contains(&t.path);
            if whole {
                return false;
            }
            t.packages.retain(|p| p.file_path.is_empty() || !system.contains(&p.file_path));
            !t.packages.is_empty()
        });
    }
}

/// Trivy's `Packages.Less`, file path last.
fn sort_with_path(pkgs: &mut [Package]) {
    super::sort_packages(pkgs);
    pkgs.sort_by(|a, b| {
        let rank = |r: super::Relationship| if r == super::Relationship::Unknown { 99 } else { r as u8 };
        rank(a.relationship)
            .cmp(&rank(b.relationship))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.version.cmp(&b.version))
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.file_path.cmp(&b.file_path))
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn paths() {
        assert!(is_python_metadata("usr/lib/python3/site-packages/requests-2.31.0.dist-info/METADATA"));
        assert!(is_python_metadata("usr/lib/python2.7/site-packages/setuptools-0.9.8-py2.7.egg-info/PKG-INFO"));
        assert!(is_python_metadata("x/foo.egg-info"));
        assert!(!is_python_metadata("x/foo.dist-info/RECORD"));
        assert!(is_gemspec("usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec"));
        assert!(!is_gemspec("specifications/rake.gemspec"));
        assert!(!is_gemspec("a/specifications/.gemspec"));
        assert!(is_archive("opt/app/App.JAR") && is_archive("x.war") && !is_archive("jar"));
        assert!(wanted("app/node_modules/lodash/package.json"));
        assert!(wanted("app/vendor/composer/installed.json"));
        assert!(wanted("app/bin/app.deps.json"));
        assert!(!wanted("app/package-lock.json"));
    }

    #[test]
    fn python() {
        let p = parse_python_metadata(
            "Metadata-Version: 2.1\nName: Flask\nVersion: 2.0.1\nClassifier: License :: OSI Approved :: BSD License\nSummary: x\n  continued\n\nBody: no\n",
        )
        .unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("Flask", "2.0.1"));
        assert_eq!(p.licenses, vec!["BSD License"]);
        assert!(parse_python_metadata("Name: x\n").is_err());
        // A malformed line ends the headers; what came before is kept.
        let p = parse_python_metadata("Name: a\nVersion: 1\nnot a header\nLicense: MIT\n").unwrap();
        assert!(p.licenses.is_empty());
    }

    #[test]
    fn node() {
        let p = parse_package_json(r#"{"name":"@babel/core","version":"7.1.0","license":"MIT"}"#).unwrap().unwrap();
        assert_eq!(p.id, "@babel/core@7.1.0");
        assert_eq!(p.licenses, vec!["MIT"]);
        assert!(parse_package_json(r#"{"name":"x"}"#).unwrap().is_none());
        assert!(parse_package_json(r#"{"name":"a b","version":"1"}"#).is_err());
        assert!(parse_package_json(r#"{"name":1}"#).is_err());
        assert!(parse_package_json("[").is_err());
    }

    #[test]
    fn gems() {
        let text = "# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n  s.required_rubygems_version = Gem::Requirement.new(\">= 1.3.2\".freeze)\n  s.licenses = [\"MIT\".freeze]\nend\n";
        let p = parse_gemspec(text).unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("rake", "13.0.6"));
        assert_eq!(p.licenses, vec!["MIT"]);
        assert!(parse_gemspec("s.name = 'x'\n").is_err());
    }

    pub(crate) fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut w, data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn jars() {
        let inner = zip_of(&[(
            "META-INF/maven/org.springframework/spring-beans/pom.properties",
            b"groupId=org.springframework\nartifactId=spring-beans\nversion=5.3.15\n",
        )]);
        let manifest_only =
            zip_of(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nImplementation-Title: guava\r\nImplementation-Version: 31.1\r\nBundle-SymbolicName: com.google.guava\r\n\r\nName: x\r\nImplementation-Title: other\r\n")]);
        let war = zip_of(&[
            ("WEB-INF/lib/spring-beans-5.3.15.jar", &inner),
            ("WEB-INF/lib/guava-31.1.jar", &manifest_only),
            ("WEB-INF/lib/broken.jar", b"not a zip"),
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"),
        ]);
        let pkgs = parse_jar("usr/local/tomcat/webapps/app.war", &war).unwrap();
        let got: Vec<(String, String, String)> =
            pkgs.iter().map(|p| (p.name.clone(), p.version.clone(), p.file_path.clone())).collect();
        assert_eq!(
            got,
            vec![
                (
                    "org.springframework:spring-beans".into(),
                    "5.3.15".into(),
                    "usr/local/tomcat/webapps/app.war/WEB-INF/lib/spring-beans-5.3.15.jar".into()
                ),
                (
                    "com.google:guava".into(),
                    "31.1".into(),
                    "usr/local/tomcat/webapps/app.war/WEB-INF/lib/guava-31.1.jar".into()
                ),
            ]
        );
        assert!(parse_jar("x.jar", b"PK\x03\x04garbage").is_err());
        assert_eq!(file_name_props("a/spring-beans-5.3.15.jar"), Some(("spring-beans".into(), "5.3.15".into())));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut j = zip_of(&[("META-INF/maven/g/a/pom.properties", b"groupId=g\nartifactId=a\nversion=1\n")]);
        for _ in 0..8 {
            j = zip_of(&[("lib/n.jar", &j)]);
        }
        assert!(parse_jar("x.jar", &j).unwrap().is_empty());
    }
}
