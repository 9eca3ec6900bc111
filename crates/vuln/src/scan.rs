//! A root-filesystem scan: OS, installed packages, their advisories, and the report in
//! Trivy's JSON shape (SchemaVersion 2) or as a table; filters as Trivy applies them.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::files::Files;
use crate::image::{Image, ImageError};
use crate::lang::{LangTarget, LangType};
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
    /// Trivy's Java DB, to identify Java archives without `pom.properties` (`--java-db`); none:
    /// as Trivy offline, by their MANIFEST.MF only.
    pub java_db: Option<std::sync::Arc<crate::lang::javadb::JavaDb>>,
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
    /// The file of an installed package gathered into a per-language target (Trivy's
    /// `PkgPath`).
    pub pkg_path: Option<String>,
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
    /// Language packages (lockfiles) and their findings.
    pub lang: Vec<LangResult>,
    /// Trivy's `ArtifactType`: `filesystem`, `container_image`, `repository`, `cyclonedx`, `spdx`.
    pub artifact_type: &'static str,
    /// Files skipped while looking for installed language packages, one line each.
    pub warnings: Vec<String>,
}

/// One lockfile's packages and findings.
#[derive(Debug, Clone)]
pub struct LangResult {
    /// The lockfile and its packages.
    pub target: LangTarget,
    /// Findings after filters, sorted by package then id.
    pub findings: Vec<Finding>,
}

/// The OSV ecosystem of a language type (`npm`, `PyPI`, `crates.io`, `Go`, `Maven`, …).
#[must_use]
pub fn lang_ecosystem(kind: LangType) -> Option<&'static str> {
    Some(match kind.ecosystem() {
        "npm" => "npm",
        "pip" => "PyPI",
        "go" => "Go",
        "maven" => "Maven",
        "rubygems" => "RubyGems",
        "nuget" => "NuGet",
        "composer" => "Packagist",
        "cargo" => "crates.io",
        "pub" => "Pub",
        "erlang" => "Hex",
        "swift" => "SwiftURL",
        "conan" => "ConanCenter",
        _ => return None,
    })
}

/// Matches lockfile packages against OSV advisories of their ecosystem.
#[must_use]
pub fn match_lang(db: &Db, targets: Vec<LangTarget>, f: &Filters) -> Vec<LangResult> {
    targets
        .into_iter()
        .map(|target| {
            let mut findings = Vec::new();
            if let Some(eco) = lang_ecosystem(target.kind) {
                for p in &target.packages {
                    let purl = crate::lang::purl(target.kind, &p.name, &p.version);
                    let path = if p.file_path.is_empty() { &target.path } else { &p.file_path };
                    let subject = crate::ignore::Subject { purl: Some(&purl), path: Some(path) };
                    for hit in db.matches(eco, &p.name, &p.version) {
                        if let Some(mut x) = finding(hit, &p.name, &p.version, f, subject) {
                            x.pkg_path = (!p.file_path.is_empty()).then(|| p.file_path.clone());
                            findings.push(x);
                        }
                    }
                }
            }
            findings.sort_by(|a, b| {
                a.pkg
                    .cmp(&b.pkg)
                    .then(a.installed.cmp(&b.installed))
                    .then(a.pkg_path.cmp(&b.pkg_path))
                    .then(a.id.cmp(&b.id))
            });
            findings.dedup_by(|a, b| {
                a.pkg == b.pkg && a.installed == b.installed && a.pkg_path == b.pkg_path && a.id == b.id
            });
            LangResult { target, findings }
        })
        .collect()
}

/// A hit as a finding, unless the filters drop it.
fn finding(
    hit: osv::Hit<'_>,
    pkg: &str,
    installed: &str,
    f: &Filters,
    subject: crate::ignore::Subject<'_>,
) -> Option<Finding> {
    let severity = osv::severity(hit.record);
    if !f.severities.is_empty() && !f.severities.contains(severity) {
        return None;
    }
    if f.ignore_unfixed && hit.fixed.is_none() {
        return None;
    }
    let aliases: Vec<String> = hit.record.aliases.iter().chain(&hit.record.upstream).cloned().collect();
    if f.ignore.ignores_for(&hit.record.id, &aliases, f.now, subject) {
        return None;
    }
    Some(Finding {
        id: hit.record.id.clone(),
        aliases,
        pkg: pkg.to_owned(),
        installed: installed.to_owned(),
        fixed: hit.fixed.clone(),
        pkg_path: None,
        severity,
        title: hit.record.summary.clone().unwrap_or_default(),
        references: hit.record.references.iter().map(|r| r.url.clone()).collect(),
    })
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
    /// `repository@digest` of an image pulled from a registry.
    pub repo_digests: Vec<String>,
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
        let purl = crate::sbom::purl(os, p);
        let subject = crate::ignore::Subject { purl: Some(&purl), path: None };
        for hit in db.matches(&eco, name, version) {
            if let Some(mut x) = finding(hit, &p.name, &p.version, f, subject) {
                x.pkg.clone_from(&p.name);
                out.push(x);
            }
        }
    }
    out.sort_by(|a, b| a.pkg.cmp(&b.pkg).then(a.id.cmp(&b.id)));
    out
}

/// Scans a root directory.
pub fn scan_rootfs(root: &Path, db: &Db, f: &Filters) -> Result<ScanResult, PkgDbError> {
    scan_files(&crate::files::Dir(root), root.display().to_string(), db, f)
}

/// Whether an image scan reads the file at `rel` whole: the OS package databases
/// ([`pkgdb::wanted`]) and the metadata of installed language packages
/// ([`crate::lang::installed::wanted`]).
#[must_use]
pub fn wanted(rel: &str) -> bool {
    pkgdb::wanted(rel) || crate::lang::installed::wanted(rel)
}

/// Scans a file tree: OS packages and installed language packages.
pub fn scan_files(files: &dyn Files, target: String, db: &Db, f: &Filters) -> Result<ScanResult, PkgDbError> {
    let os = pkgdb::detect_os_in(files)?;
    // The OS packages (and their copyright files) on a second thread while this one walks the
    // tree for language packages; sequentially where no thread can be started.
    let (packages, found) = std::thread::scope(|s| {
        let worker =
            std::thread::Builder::new().name("kguard-os-packages".into()).spawn_scoped(s, || pkgdb::packages_in(files));
        let found = crate::lang::installed::find_in(files, f.java_db.as_deref());
        let packages = match worker {
            Ok(w) => w.join().unwrap_or_else(|_| {
                Err(PkgDbError::Io(target.clone(), std::io::Error::other("the OS package reader stopped")))
            }),
            Err(_) => pkgdb::packages_in(files),
        };
        (packages, found)
    });
    let (packages, mut found) = (packages?, found?);
    found.drop_system_files(&pkgdb::system_files_in(files, &found.paths())?);
    let findings = match_packages(db, os.as_ref(), &packages, f);
    let lang = match_lang(db, found.targets, f);
    Ok(ScanResult {
        target,
        os,
        packages,
        findings,
        image: None,
        lang,
        artifact_type: "filesystem",
        warnings: found.warnings,
    })
}

/// Scans a read image (see [`crate::image::open`]).
pub fn scan_image(image: &Image, db: &Db, f: &Filters) -> Result<ScanResult, ScanError> {
    let mut r = scan_files(&image.files, image.name.clone(), db, f)?;
    r.artifact_type = "container_image";
    r.image = Some(ImageMeta {
        image_id: image.image_id.clone(),
        diff_ids: image.diff_ids.clone(),
        repo_tags: image.repo_tags.clone(),
        repo_digests: image.repo_digests.clone(),
        config: image.config.clone(),
    });
    Ok(r)
}

fn vuln_json(v: &Finding) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("VulnerabilityID".into(), json!(v.id));
    o.insert("PkgName".into(), json!(v.pkg));
    if let Some(p) = &v.pkg_path {
        o.insert("PkgPath".into(), json!(p));
    }
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
}

/// `Total: N (UNKNOWN: a, …)` and the table of findings, Trivy's columns.
fn table_section(s: &mut String, heading: &str, findings: &[Finding]) {
    s.push_str(heading);
    s.push('\n');
    let mut counts = [0usize; 5];
    for f in findings {
        if let Some(c) = SEVERITIES.iter().position(|x| *x == f.severity).and_then(|i| counts.get_mut(i)) {
            *c += 1;
        }
    }
    let parts: Vec<String> = SEVERITIES.iter().zip(counts).map(|(n, c)| format!("{n}: {c}")).collect();
    s.push_str(&format!("Total: {} ({})\n", findings.len(), parts.join(", ")));
    if findings.is_empty() {
        return;
    }
    let rows: Vec<[String; 5]> = findings
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
}

impl ScanResult {
    /// Every finding, OS packages' and lockfiles'.
    #[must_use]
    pub fn total_findings(&self) -> usize {
        self.findings.len() + self.lang.iter().map(|l| l.findings.len()).sum::<usize>()
    }

    /// Whether the OS part is reported (an OS or OS packages were found, or nothing else was).
    fn has_os_part(&self) -> bool {
        self.os.is_some() || !self.packages.is_empty() || self.lang.is_empty()
    }

    /// Trivy's JSON report (SchemaVersion 2); `list_all_pkgs` adds each result's `Packages`.
    #[must_use]
    pub fn to_trivy_json(&self, list_all_pkgs: bool) -> Value {
        let mut results = Vec::new();
        if self.os.is_some() || !self.packages.is_empty() {
            let ty = self.os.as_ref().map_or("unknown", |o| o.family.as_str());
            let target = match &self.os {
                Some(o) => format!("{} ({} {})", self.target, o.family, o.name),
                None => self.target.clone(),
            };
            let mut result = serde_json::Map::new();
            result.insert("Target".into(), json!(target));
            result.insert("Class".into(), json!("os-pkgs"));
            result.insert("Type".into(), json!(ty));
            if list_all_pkgs {
                let pkgs: Vec<Value> = self
                    .packages
                    .iter()
                    .map(|p| {
                        let mut o = json!({"Name": p.name, "Version": p.version, "Arch": p.arch,
                            "SrcName": p.src_name, "SrcVersion": p.src_version});
                        if !p.licenses.is_empty()
                            && let Some(m) = o.as_object_mut()
                        {
                            m.insert("Licenses".into(), json!(p.licenses));
                        }
                        o
                    })
                    .collect();
                result.insert("Packages".into(), json!(pkgs));
            }
            if !self.findings.is_empty() {
                result.insert("Vulnerabilities".into(), json!(self.findings.iter().map(vuln_json).collect::<Vec<_>>()));
            }
            results.push(Value::Object(result));
        }
        for l in &self.lang {
            let mut result = serde_json::Map::new();
            result.insert("Target".into(), json!(l.target.path));
            result.insert("Class".into(), json!("lang-pkgs"));
            result.insert("Type".into(), json!(l.target.kind.as_str()));
            if list_all_pkgs {
                let pkgs: Vec<Value> = l
                    .target
                    .packages
                    .iter()
                    .map(|p| {
                        let mut o = serde_json::Map::new();
                        if !p.id.is_empty() {
                            o.insert("ID".into(), json!(p.id));
                        }
                        o.insert("Name".into(), json!(p.name));
                        o.insert("Version".into(), json!(p.version));
                        o.insert(
                            "Identifier".into(),
                            json!({"PURL": crate::lang::purl(l.target.kind, &p.name, &p.version)}),
                        );
                        if !p.licenses.is_empty() {
                            // SPDX identifiers where Trivy's mapping knows the name, as its
                            // language analyzers write them
                            let lic: Vec<String> = p.licenses.iter().map(|l| crate::license::normalize(l)).collect();
                            o.insert("Licenses".into(), json!(lic));
                        }
                        if let Some(r) = p.relationship.as_str() {
                            o.insert("Relationship".into(), json!(r));
                        }
                        if !p.depends_on.is_empty() {
                            o.insert("DependsOn".into(), json!(p.depends_on));
                        }
                        if !p.file_path.is_empty() {
                            o.insert("FilePath".into(), json!(p.file_path));
                        }
                        if !p.locations.is_empty() {
                            let locs: Vec<Value> = p
                                .locations
                                .iter()
                                .map(|x| json!({"StartLine": x.start_line, "EndLine": x.end_line}))
                                .collect();
                            o.insert("Locations".into(), json!(locs));
                        }
                        Value::Object(o)
                    })
                    .collect();
                result.insert("Packages".into(), json!(pkgs));
            }
            if !l.findings.is_empty() {
                result.insert("Vulnerabilities".into(), json!(l.findings.iter().map(vuln_json).collect::<Vec<_>>()));
            }
            results.push(Value::Object(result));
        }
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
            if !i.repo_digests.is_empty() {
                meta.insert("RepoDigests".into(), json!(i.repo_digests));
            }
            meta.insert("ImageConfig".into(), i.config.clone());
        }
        json!({
            "SchemaVersion": 2,
            "ArtifactName": self.target,
            "ArtifactType": self.artifact_type,
            "Metadata": Value::Object(meta),
            "Results": results,
        })
    }

    /// A plain-text table per target, Trivy's columns.
    #[must_use]
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        if self.has_os_part() {
            let os = self.os.as_ref().map_or_else(|| "unknown OS".to_owned(), |o| format!("{} {}", o.family, o.name));
            table_section(&mut s, &format!("{} ({os}): {} packages", self.target, self.packages.len()), &self.findings);
        }
        for l in &self.lang {
            if !s.is_empty() {
                s.push('\n');
            }
            let heading =
                format!("{} ({}): {} packages", l.target.path, l.target.kind.as_str(), l.target.packages.len());
            table_section(&mut s, &heading, &l.findings);
        }
        s
    }
}
