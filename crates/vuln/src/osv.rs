//! OSV advisories (ossf/osv-schema) and the schema's evaluation of `affected[]`: `versions[]`
//! lists, and `ranges[]` of type `SEMVER` or `ECOSYSTEM` with `introduced` / `fixed` /
//! `last_affected` / `limit` events (`GIT` ranges are skipped: they need a repository).

use std::cmp::Ordering;
use std::path::Path;

use serde::Deserialize;

use crate::version::Scheme;

/// One OSV record (the fields matching and reports read).
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct Record {
    /// `GHSA-…`, `PYSEC-…`, `CVE-…`.
    pub id: String,
    /// Other ids of the same vulnerability.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Ids of the upstream vulnerability this record is about (schema 1.7: Debian's and
    /// Ubuntu's records name the CVE here).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    /// Withdrawn records match nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    /// One-line summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Longer text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Severity entries (`CVSS_V3` vectors …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<SeverityEntry>,
    /// Affected packages.
    pub affected: Vec<Affected>,
    /// References.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// `published` timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// `modified` timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// `database_specific` (GHSA puts `severity: HIGH` here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

/// `severity[]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct SeverityEntry {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The vector or label.
    pub score: String,
}

/// `references[]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct Reference {
    /// `WEB`, `ADVISORY`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The URL.
    pub url: String,
}

/// `affected[]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct Affected {
    /// The package.
    pub package: Package,
    /// Ranges.
    pub ranges: Vec<Range>,
    /// Explicit versions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

/// `affected[].package`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct Package {
    /// `PyPI`, `Debian:12`, …
    pub ecosystem: String,
    /// The name in that ecosystem.
    pub name: String,
}

/// `affected[].ranges[]`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct Range {
    /// `SEMVER`, `ECOSYSTEM` or `GIT`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Events in any order.
    pub events: Vec<Event>,
}

/// One event (exactly one field set).
#[derive(Debug, Clone, Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub struct Event {
    /// `introduced`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    /// `fixed`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// `last_affected`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
    /// `limit`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

fn cmp(scheme: Scheme, a: &str, b: &str) -> Ordering {
    if a == "0" {
        return if b == "0" { Ordering::Equal } else { Ordering::Less };
    }
    if b == "0" {
        return Ordering::Greater;
    }
    scheme.compare(a, b)
}

impl Range {
    /// Whether `v` is affected by this range, per the schema's pseudocode: events sorted by
    /// version (introduced `0` first), then `introduced ≤ v` → affected, `fixed ≤ v` → not,
    /// `last_affected < v` → not; and `v` must be below some `limit` if there is one.
    #[must_use]
    pub fn contains(&self, scheme: Scheme, v: &str) -> bool {
        if self.kind == "GIT" {
            return false;
        }
        let scheme = if self.kind == "SEMVER" { Scheme::Semver } else { scheme };
        let limits: Vec<&str> = self.events.iter().filter_map(|e| e.limit.as_deref()).collect();
        if !limits.is_empty() && !limits.iter().any(|l| *l == "*" || cmp(scheme, v, l) == Ordering::Less) {
            return false;
        }
        let mut events: Vec<(&str, u8)> = self
            .events
            .iter()
            .filter_map(|e| {
                e.introduced
                    .as_deref()
                    .map(|x| (x, 0))
                    .or_else(|| e.fixed.as_deref().map(|x| (x, 1)))
                    .or_else(|| e.last_affected.as_deref().map(|x| (x, 2)))
            })
            .collect();
        events.sort_by(|a, b| cmp(scheme, a.0, b.0).then(a.1.cmp(&b.1)));
        let mut affected = false;
        for (ev, kind) in events {
            match kind {
                0 if cmp(scheme, ev, v) != Ordering::Greater => affected = true,
                1 if cmp(scheme, ev, v) != Ordering::Greater => affected = false,
                2 if cmp(scheme, ev, v) == Ordering::Less => affected = false,
                _ => {}
            }
        }
        affected
    }

    /// The first `fixed` event above `v` (what to upgrade to), if any.
    #[must_use]
    pub fn fixed_after(&self, scheme: Scheme, v: &str) -> Option<String> {
        let scheme = if self.kind == "SEMVER" { Scheme::Semver } else { scheme };
        self.events
            .iter()
            .filter_map(|e| e.fixed.as_deref())
            .filter(|f| cmp(scheme, f, v) == Ordering::Greater)
            .min_by(|a, b| cmp(scheme, a, b))
            .map(str::to_owned)
    }
}

impl Affected {
    /// Whether `version` of this package is affected.
    #[must_use]
    pub fn contains(&self, scheme: Scheme, version: &str) -> bool {
        self.versions.iter().any(|v| v == version) || self.ranges.iter().any(|r| r.contains(scheme, version))
    }
}

/// Normalises a package name for lookup: PEP 503 for PyPI, lower case where the ecosystem is
/// case-insensitive.
#[must_use]
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    match ecosystem.split(':').next().unwrap_or(ecosystem) {
        "PyPI" => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.extend(c.to_lowercase());
                }
            }
            out
        }
        "NuGet" | "Packagist" | "Hex" => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

/// An in-memory advisory index: `(ecosystem base, normalised name)` → records.
#[derive(Debug, Default)]
pub struct Db {
    records: Vec<Record>,
    ids: std::collections::HashSet<String>,
    index: std::collections::HashMap<(String, String), Vec<(usize, usize)>>,
}

/// One match of a package against an advisory.
#[derive(Debug, Clone)]
pub struct Hit<'a> {
    /// The advisory.
    pub record: &'a Record,
    /// The first fixed version above the installed one, if known.
    pub fixed: Option<String>,
}

impl Db {
    /// Adds a record (withdrawn ones are kept out; duplicate ids keep the first).
    pub fn add(&mut self, r: Record) {
        if r.withdrawn.is_some() || !self.ids.insert(r.id.clone()) {
            return;
        }
        let i = self.records.len();
        for (j, a) in r.affected.iter().enumerate() {
            let eco = a.package.ecosystem.to_owned();
            let key = (eco.clone(), normalize_name(&eco, &a.package.name));
            self.index.entry(key).or_default().push((i, j));
        }
        self.records.push(r);
    }

    /// Every record loaded.
    #[must_use]
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Number of records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the index is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records per ecosystem.
    #[must_use]
    pub fn ecosystems(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for ((eco, _), v) in &self.index {
            *out.entry(eco.clone()).or_default() += v.len();
        }
        out
    }

    /// The advisories affecting `name@version` in `ecosystem` (exact ecosystem string, e.g.
    /// `Debian:12`, or its base name when the index has no release suffix).
    #[must_use]
    pub fn matches(&self, ecosystem: &str, name: &str, version: &str) -> Vec<Hit<'_>> {
        let Some(scheme) = Scheme::of_ecosystem(ecosystem) else { return Vec::new() };
        let base = ecosystem.split(':').next().unwrap_or(ecosystem);
        let mut out: Vec<Hit<'_>> = Vec::new();
        for eco in [ecosystem, base] {
            let key = (eco.to_owned(), normalize_name(eco, name));
            for (i, j) in self.index.get(&key).into_iter().flatten() {
                let (Some(r), Some(a)) = (self.records.get(*i), self.records.get(*i).and_then(|r| r.affected.get(*j)))
                else {
                    continue;
                };
                if a.contains(scheme, version) && !out.iter().any(|h| h.record.id == r.id) {
                    let fixed = a
                        .ranges
                        .iter()
                        .filter_map(|x| x.fixed_after(scheme, version))
                        .min_by(|x, y| scheme.compare(x, y));
                    out.push(Hit { record: r, fixed });
                }
            }
            if eco == base {
                break;
            }
        }
        out.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        out
    }
}

/// Why a database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// I/O.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// A record is not OSV JSON.
    #[error("{0}: not an OSV record: {1}")]
    Json(String, serde_json::Error),
}

/// Most bytes one OSV record may have.
pub const MAX_RECORD: u64 = 16 << 20;

/// Most members one zip may have, and most bytes all its members may inflate to.
pub const MAX_ZIP_MEMBERS: usize = 200_000;
/// See [`MAX_ZIP_MEMBERS`].
pub const MAX_ZIP_TOTAL: u64 = 2 << 30;

/// Loads every `*.json` member of an OSV zip (osv.dev's `<ecosystem>/all.zip` layout, or any
/// folder layout inside), decompression bounded per record and in total.
pub fn load_zip(path: &Path, db: &mut Db) -> Result<usize, DbError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| DbError::Io(name.clone(), e))?;
    let bad = |e: String| DbError::Io(name.clone(), std::io::Error::new(std::io::ErrorKind::InvalidData, e));
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
    if zip.len() > MAX_ZIP_MEMBERS {
        return Err(bad(format!("{} members (limit {MAX_ZIP_MEMBERS})", zip.len())));
    }
    let mut total = 0u64;
    let mut n = 0;
    for i in 0..zip.len() {
        let mut m = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
        let mname = m.name().map(|n| n.into_owned()).unwrap_or_default();
        if !m.is_file() || !mname.ends_with(".json") {
            continue;
        }
        let member = format!("{name}:{mname}");
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(&mut m, MAX_RECORD + 1), &mut buf)
            .map_err(|e| DbError::Io(member.clone(), e))?;
        if buf.len() as u64 > MAX_RECORD {
            return Err(bad(format!("{member}: record larger than {MAX_RECORD} bytes")));
        }
        total += buf.len() as u64;
        if total > MAX_ZIP_TOTAL {
            return Err(bad(format!("inflates past {MAX_ZIP_TOTAL} bytes")));
        }
        let r: Record = serde_json::from_slice(&buf).map_err(|e| DbError::Json(member, e))?;
        db.add(r);
        n += 1;
    }
    Ok(n)
}

/// The first line of an index written by [`write_index`].
pub const INDEX_MAGIC: &str = "kguard-osv-index";

/// Writes `db` as kguard's compact index (`kguard db import`): gzip-compressed JSON lines, a
/// header (`{"format":"kguard-osv-index","version":1,"records":N,"ecosystems":{…}}`) then one
/// record a line, sorted by id (each id once: a database keeps the first record loaded with an
/// id, and no withdrawn one), `details` and all of `database_specific` but its `severity` left
/// out.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn write_index(db: &Db, out: &mut dyn std::io::Write) -> std::io::Result<usize> {
    let mut newest: std::collections::BTreeMap<&str, &Record> = std::collections::BTreeMap::new();
    for r in &db.records {
        match newest.get(r.id.as_str()) {
            Some(old) if old.modified >= r.modified => {}
            _ => {
                newest.insert(&r.id, r);
            }
        }
    }
    let mut ecosystems: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in newest.values() {
        for a in &r.affected {
            *ecosystems.entry(a.package.ecosystem.as_str()).or_default() += 1;
        }
    }
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let header =
        serde_json::json!({"format": INDEX_MAGIC, "version": 1, "records": newest.len(), "ecosystems": ecosystems});
    std::io::Write::write_all(&mut gz, format!("{header}\n").as_bytes())?;
    for r in newest.values() {
        let mut slim = (*r).clone();
        slim.details = None;
        slim.database_specific =
            r.database_specific.as_ref().and_then(|d| d.get("severity")).map(|s| serde_json::json!({"severity": s}));
        let line = serde_json::to_string(&slim).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut gz, line.as_bytes())?;
        std::io::Write::write_all(&mut gz, b"\n")?;
    }
    gz.finish()?;
    Ok(newest.len())
}

/// Reads an index written by [`write_index`] into `db`; the records read.
fn load_index(path: &Path, db: &mut Db) -> Result<usize, DbError> {
    use std::io::BufRead as _;
    let name = path.display().to_string();
    let bad = |m: String| DbError::Io(name.clone(), std::io::Error::new(std::io::ErrorKind::InvalidData, m));
    let file = std::fs::File::open(path).map_err(|e| DbError::Io(name.clone(), e))?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    let mut reader = std::io::BufReader::new(std::io::Read::take(gz, MAX_ZIP_TOTAL));
    let mut line = Vec::new();
    let mut n = 0usize;
    let mut lineno = 0usize;
    loop {
        line.clear();
        let got = std::io::Read::take(&mut reader, MAX_RECORD + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| DbError::Io(name.clone(), e))?;
        if got == 0 {
            break;
        }
        lineno += 1;
        if line.last() != Some(&b'\n') && got as u64 > MAX_RECORD {
            return Err(bad(format!("line {lineno}: longer than {MAX_RECORD} bytes")));
        }
        if lineno == 1 {
            let h: serde_json::Value = serde_json::from_slice(&line)
                .map_err(|e| bad(format!("line 1: not a kguard OSV index header: {e}")))?;
            if h.get("format").and_then(serde_json::Value::as_str) != Some(INDEX_MAGIC) {
                return Err(bad(format!("line 1: not a kguard OSV index (expected \"format\": \"{INDEX_MAGIC}\")")));
            }
            if h.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
                return Err(bad("line 1: unsupported index version (this kguard reads version 1)".into()));
            }
            continue;
        }
        let r: Record = serde_json::from_slice(&line).map_err(|e| DbError::Json(format!("{name}:{lineno}"), e))?;
        db.add(r);
        n += 1;
    }
    if lineno == 0 {
        return Err(bad("empty index".into()));
    }
    Ok(n)
}

fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic)).is_ok()
        && magic == [0x1f, 0x8b]
}

/// Loads an OSV database from a path: a directory of `*.json` (recursively) and `*.zip` files,
/// one zip, one JSON record, or an index written by `kguard db import` ([`write_index`]).
pub fn load(path: &Path) -> Result<Db, DbError> {
    let mut db = Db::default();
    if path.is_file() && is_gzip(path) {
        load_index(path, &mut db)?;
        return Ok(db);
    }
    if path.is_dir() {
        let mut zips = Vec::new();
        collect(path, "zip", &mut zips)?;
        zips.sort();
        for z in zips {
            load_zip(&z, &mut db)?;
        }
        let json = load_dir(path)?;
        for r in json.records {
            db.add(r);
        }
    } else if path.extension().is_some_and(|e| e == "zip") {
        load_zip(path, &mut db)?;
    } else {
        let text = std::fs::read(path).map_err(|e| DbError::Io(path.display().to_string(), e))?;
        db.add(serde_json::from_slice(&text).map_err(|e| DbError::Json(path.display().to_string(), e))?);
    }
    Ok(db)
}

fn collect(dir: &Path, ext: &str, out: &mut Vec<std::path::PathBuf>) -> Result<(), DbError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DbError::Io(dir.display().to_string(), e))?;
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            collect(&p, ext, out)?;
        } else if ft.is_file() && p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    Ok(())
}

/// Loads every `*.json` file under `dir` (recursively, sorted) as one OSV record.
pub fn load_dir(dir: &Path) -> Result<Db, DbError> {
    let mut files = Vec::new();
    collect(dir, "json", &mut files)?;
    files.sort();
    let mut db = Db::default();
    for f in files {
        let name = f.display().to_string();
        let file = std::fs::File::open(&f).map_err(|e| DbError::Io(name.clone(), e))?;
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_RECORD), &mut buf)
            .map_err(|e| DbError::Io(name.clone(), e))?;
        let r: Record = serde_json::from_slice(&buf).map_err(|e| DbError::Json(name, e))?;
        db.add(r);
    }
    Ok(db)
}

/// Trivy's severity of a record: `database_specific.severity` (GHSA), else the CVSS v3 base
/// score's band, else UNKNOWN.
#[must_use]
pub fn severity(r: &Record) -> &'static str {
    if let Some(s) = r.database_specific.as_ref().and_then(|d| d.get("severity")).and_then(|s| s.as_str()) {
        match s.to_ascii_uppercase().as_str() {
            "CRITICAL" => return "CRITICAL",
            "HIGH" => return "HIGH",
            "MODERATE" | "MEDIUM" => return "MEDIUM",
            "LOW" => return "LOW",
            _ => {}
        }
    }
    for s in &r.severity {
        if s.kind == "CVSS_V3"
            && let Some(score) = crate::cvss::v3_base_score(&s.score)
        {
            return crate::cvss::band(score);
        }
    }
    "UNKNOWN"
}
