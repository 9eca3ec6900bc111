//! A root-filesystem scan: OS, installed packages, their advisories, and the report in
//! Trivy's JSON shape (SchemaVersion 2) or as a table; filters as Trivy applies them.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::files::Files;
use crate::image::{Image, ImageError};
use crate::osv::{self, Db};
use crate::pkgdb::{self, InstalledPackage, Kind, Os, PkgDbError};

/// Severities in Trivy's order.
pub const SEVERITIES: [&str; 5] = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// Filters (`--severity` is a set, not a threshold).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Severities kept; empty = all.
    pub severities: BTreeSet<String>,
    /// Drop findings without a fixed version.
    pub ignore_unfixed: bool,
    /// Findings an ignore file accepts (`.trivyignore`).
    pub ignore: crate::ignore::IgnoreFile,
    /// Now, in unix seconds (for the ignore file's expiry dates).
    pub now: i64,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Advisory id.
    pub id: String,
    /// Other ids of the advisory (CVE ids of a distribution's record).
    pub aliases: Vec<String>,
    /// Binary package name.
    pub pkg: String,
    /// Installed version.
    pub installed: String,
    /// Fixed version, if any.
    pub fixed: Option<String>,
    /// UNKNOWN … CRITICAL.
    pub severity: &'static str,
    /// Summary.
    pub title: String,
    /// References.
    pub references: Vec<String>,
}

/// The result of a scan.
#[derive(Debug, Clone)]
pub struct ScanResult {
    /// What was scanned.
    pub target: String,
    /// The OS, if detected.
    pub os: Option<Os>,
    /// Installed OS packages.
    pub packages: Vec<InstalledPackage>,
    /// Findings after filters, sorted by package then id.
    pub findings: Vec<Finding>,
    /// The image, when an image was scanned.
    pub image: Option<ImageMeta>,
}

/// What a report says about a scanned image (Trivy's `Metadata`).
#[derive(Debug, Clone)]
pub struct ImageMeta {
    /// `sha256:` of the config.
    pub image_id: String,
    /// Uncompressed layer digests.
    pub diff_ids: Vec<String>,
    /// Tags recorded in the archive.
    pub repo_tags: Vec<String>,
    /// The image config.
    pub config: Value,
}

/// Why a scan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A package database.
    #[error(transparent)]
    PkgDb(#[from] PkgDbError),
    /// The image.
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// The OSV ecosystem of an OS (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04`, `AlmaLinux:9`).
#[must_use]
pub fn ecosystem(os: &Os) -> Option<String> {
    let major = os.name.split('.').next().unwrap_or_default();
    let minor: String = os.name.split('.').take(2).collect::<Vec<_>>().join(".");
    Some(match os.family.as_str() {
        "debian" => format!("Debian:{major}"),
        "ubuntu" => format!("Ubuntu:{minor}"),
        "alpine" => format!("Alpine:v{minor}"),
        "almalinux" => format!("AlmaLinux:{major}"),
        "rocky" => format!("Rocky Linux:{major}"),
        "rhel" | "centos" => format!("Red Hat:{major}"),
        "wolfi" => "Wolfi".to_owned(),
        "chainguard" => "Chainguard".to_owned(),
        _ => return None,
    })
}

/// Matches packages against the database. Debian, Ubuntu and Alpine advisories name source
/// packages (matched by source name and version); rpm ones name binary packages.
#[must_use]
pub fn match_packages(db: &Db, os: Option<&Os>, packages: &[InstalledPackage], f: &Filters) -> Vec<Finding> {
    let Some(eco) = os.and_then(ecosystem) else { return Vec::new() };
    let mut out = Vec::new();
    for p in packages {
        let (name, version) = match p.kind {
            Kind::Dpkg | Kind::Apk => (&p.src_name, &p.src_version),
            Kind::Rpm => (&p.name, &p.version),
        };
        for hit in db.matches(&eco, name, version) {
            let severity = osv::severity(hit.record);
            if !f.severities.is_empty() && !f.severities.contains(severity) {
                continue;
            }
            if f.ignore_unfixed && hit.fixed.is_none() {
                continue;
            }
            let aliases: Vec<String> = hit.record.aliases.iter().chain(&hit.record.upstream).cloned().collect();
            if f.ignore.ignores(&hit.record.id, &aliases, f.now) {
                continue;
            }
            out.push(Finding {
                id: hit.record.id.clone(),
                aliases,
                pkg: p.name.clone(),
                installed: p.version.clone(),
                fixed: hit.fixed.clone(),
                severity,
                title: hit.record.summary.clone().unwrap_or_default(),
                references: hit.record.references.iter().map(|r| r.url.clone()).collect(),
            });
        }
    }
    out.sort_by(|a, b| a.pkg.cmp(&b.pkg).then(a.id.cmp(&b.id)));
    out
}

/// Scans a root directory.
pub fn scan_rootfs(root: &Path, db: &Db, f: &Filters) -> Result<ScanResult, PkgDbError> {
    scan_files(&crate::files::Dir(root), root.display().to_string(), db, f)
}

/// Scans a file tree.
pub fn scan_files(files: &dyn Files, target: String, db: &Db, f: &Filters) -> Result<ScanResult, PkgDbError> {
    let os = pkgdb::detect_os_in(files)?;
    let packages = pkgdb::installed_in(files)?;
    let findings = match_packages(db, os.as_ref(), &packages, f);
    Ok(ScanResult { target, os, packages, findings, image: None })
}

/// Scans a read image (see [`crate::image::open`]).
pub fn scan_image(image: &Image, db: &Db, f: &Filters) -> Result<ScanResult, ScanError> {
    let mut r = scan_files(&image.files, image.name.clone(), db, f)?;
    r.image = Some(ImageMeta {
        image_id: image.image_id.clone(),
        diff_ids: image.diff_ids.clone(),
        repo_tags: image.repo_tags.clone(),
        config: image.config.clone(),
    });
    Ok(r)
}

impl ScanResult {
    /// Trivy's JSON report (SchemaVersion 2), `ArtifactType: filesystem`.
    #[must_use]
    pub fn to_trivy_json(&self) -> Value {
        let ty = self.os.as_ref().map_or("unknown", |o| o.family.as_str());
        let target = match &self.os {
            Some(o) => format!("{} ({} {})", self.target, o.family, o.name),
            None => self.target.clone(),
        };
        let vulns: Vec<Value> = self
            .findings
            .iter()
            .map(|v| {
                let mut o = serde_json::Map::new();
                o.insert("VulnerabilityID".into(), json!(v.id));
                o.insert("PkgName".into(), json!(v.pkg));
                o.insert("InstalledVersion".into(), json!(v.installed));
                if let Some(fx) = &v.fixed {
                    o.insert("FixedVersion".into(), json!(fx));
                }
                o.insert("Status".into(), json!(if v.fixed.is_some() { "fixed" } else { "affected" }));
                o.insert("Severity".into(), json!(v.severity));
                if !v.title.is_empty() {
                    o.insert("Title".into(), json!(v.title));
                }
                if !v.references.is_empty() {
                    o.insert("References".into(), json!(v.references));
                }
                Value::Object(o)
            })
            .collect();
        let mut result = serde_json::Map::new();
        result.insert("Target".into(), json!(target));
        result.insert("Class".into(), json!("os-pkgs"));
        result.insert("Type".into(), json!(ty));
        if !vulns.is_empty() {
            result.insert("Vulnerabilities".into(), json!(vulns));
        }
        let result = Value::Object(result);
        let mut meta = serde_json::Map::new();
        if let Some(o) = &self.os {
            meta.insert("OS".into(), json!({"Family": o.family, "Name": o.name}));
        }
        if let Some(i) = &self.image {
            meta.insert("ImageID".into(), json!(i.image_id));
            meta.insert("DiffIDs".into(), json!(i.diff_ids));
            if !i.repo_tags.is_empty() {
                meta.insert("RepoTags".into(), json!(i.repo_tags));
            }
            meta.insert("ImageConfig".into(), i.config.clone());
        }
        let meta = Value::Object(meta);
        json!({
            "SchemaVersion": 2,
            "ArtifactName": self.target,
            "ArtifactType": if self.image.is_some() { "container_image" } else { "filesystem" },
            "Metadata": meta,
            "Results": if self.os.is_some() || !self.packages.is_empty() { json!([result]) } else { json!([]) },
        })
    }

    /// A plain-text table, Trivy's columns.
    #[must_use]
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let os = self.os.as_ref().map_or_else(|| "unknown OS".to_owned(), |o| format!("{} {}", o.family, o.name));
        s.push_str(&format!("{} ({os}): {} packages\n", self.target, self.packages.len()));
        let mut counts = [0usize; 5];
        for f in &self.findings {
            if let Some(c) = SEVERITIES.iter().position(|x| *x == f.severity).and_then(|i| counts.get_mut(i)) {
                *c += 1;
            }
        }
        let parts: Vec<String> = SEVERITIES.iter().zip(counts).map(|(n, c)| format!("{n}: {c}")).collect();
        s.push_str(&format!("Total: {} ({})\n", self.findings.len(), parts.join(", ")));
        if self.findings.is_empty() {
            return s;
        }
        let rows: Vec<[String; 5]> = self
            .findings
            .iter()
            .map(|f| {
                [
                    f.pkg.clone(),
                    f.id.clone(),
                    f.severity.to_owned(),
                    f.installed.clone(),
                    f.fixed.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let head = ["Library", "Vulnerability", "Severity", "Installed Version", "Fixed Version"];
        let mut w = head.map(str::len);
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(x) = w.get_mut(i) {
                    *x = (*x).max(c.len());
                }
            }
        }
        let line = |cells: &[String]| -> String {
            let v: Vec<String> = cells.iter().zip(w).map(|(c, n)| format!("{c:<n$}")).collect();
            format!("{}\n", v.join("  ").trim_end())
        };
        s.push('\n');
        s.push_str(&line(&head.map(str::to_owned)));
        for r in &rows {
            s.push_str(&line(r));
        }
        s
    }
}
