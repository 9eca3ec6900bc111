//! Trivy's JSON report (`SchemaVersion` 2) for language targets: one `lang-pkgs` result per
//! lockfile, its packages (with `--list-all-pkgs`) and the vulnerabilities the DB reports,
//! deduplicated and ordered as Trivy orders them (package name, ID, installed version,
//! severity descending, vulnerability ID).

use serde_json::{Map, Value, json};

use super::{LangTarget, Package, exclude_dev, purl};
use crate::trivydb::{Db, Detected, severity_rank};

/// What the report says about the scan, and Trivy's flags that shape it.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// `ArtifactName` (the path as given).
    pub artifact_name: String,
    /// `ArtifactType`: `repository` (`trivy repo`) or `filesystem` (`trivy fs`, `rootfs`).
    pub artifact_type: String,
    /// `--list-all-pkgs`.
    pub list_all_pkgs: bool,
    /// `--include-dev-deps`.
    pub include_dev_deps: bool,
    /// `--vuln-severity-source` (empty: `auto`).
    pub severity_sources: Vec<String>,
    /// `Trivy.Version`.
    pub version: String,
    /// `ReportID` (omitted when empty).
    pub report_id: String,
    /// `CreatedAt` (RFC 3339; omitted when empty).
    pub created_at: String,
    /// `--vex`: an OpenVEX document whose `not_affected` / `fixed` statements hide findings.
    pub vex: Option<super::vex::OpenVex>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            artifact_name: String::new(),
            artifact_type: "repository".into(),
            list_all_pkgs: false,
            include_dev_deps: false,
            severity_sources: Vec::new(),
            version: concat!("kguard-", env!("CARGO_PKG_VERSION")).into(),
            report_id: String::new(),
            created_at: String::new(),
            vex: None,
        }
    }
}

fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in p.as_bytes().iter().chain(std::iter::once(&0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A stable package UID (Trivy's is a hash of its own structures; ours hashes target and ID).
fn uid(target: &str, p: &Package) -> String {
    format!("{:x}", fnv(&[target, &p.id, &p.name, &p.version]))
}

fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        // Go prints float64 6 as `6`.
        json!(f as i64)
    } else {
        json!(f)
    }
}

fn package_json(kind: super::LangType, target: &str, p: &Package) -> Value {
    let mut m = Map::new();
    if !p.id.is_empty() {
        m.insert("ID".into(), json!(p.id));
    }
    m.insert("Name".into(), json!(p.name));
    m.insert("Identifier".into(), json!({"PURL": purl(kind, &p.name, &p.version), "UID": uid(target, p)}));
    if !p.version.is_empty() {
        m.insert("Version".into(), json!(p.version));
    }
    if p.dev {
        m.insert("Dev".into(), json!(true));
    }
    if !p.licenses.is_empty() {
        // SPDX identifiers where Trivy's mapping knows the name, as its language analyzers write them
        let licenses: Vec<String> = p.licenses.iter().map(|l| crate::license::normalize(l)).collect();
        m.insert("Licenses".into(), json!(licenses));
    }
    if p.relationship == super::Relationship::Indirect {
        m.insert("Indirect".into(), json!(true));
    }
    if let Some(r) = p.relationship.as_str() {
        m.insert("Relationship".into(), json!(r));
    }
    if !p.depends_on.is_empty() {
        m.insert("DependsOn".into(), json!(p.depends_on));
    }
    if !p.locations.is_empty() {
        let locs: Vec<Value> =
            p.locations.iter().map(|l| json!({"StartLine": l.start_line, "EndLine": l.end_line})).collect();
        m.insert("Locations".into(), Value::Array(locs));
    }
    m.insert("AnalyzedBy".into(), json!(kind.analyzer()));
    Value::Object(m)
}

fn vuln_json(kind: super::LangType, target: &str, p: &Package, d: &Detected) -> Value {
    let mut m = Map::new();
    m.insert("VulnerabilityID".into(), json!(d.vulnerability_id));
    if !d.pkg_id.is_empty() {
        m.insert("PkgID".into(), json!(d.pkg_id));
    }
    m.insert("PkgName".into(), json!(d.pkg_name));
    m.insert("PkgIdentifier".into(), json!({"PURL": purl(kind, &p.name, &p.version), "UID": uid(target, p)}));
    m.insert("InstalledVersion".into(), json!(d.installed_version));
    if !d.fixed_version.is_empty() {
        m.insert("FixedVersion".into(), json!(d.fixed_version));
    }
    m.insert("Status".into(), json!(d.status));
    if !d.severity_source.is_empty() {
        m.insert("SeveritySource".into(), json!(d.severity_source));
    }
    if !d.primary_url.is_empty() {
        m.insert("PrimaryURL".into(), json!(d.primary_url));
    }
    if let Some(ds) = &d.data_source {
        m.insert("DataSource".into(), json!({"ID": ds.id, "Name": ds.name, "URL": ds.url}));
    }
    m.insert(
        "Fingerprint".into(),
        json!(format!("fnv64:{:016x}", fnv(&[target, &d.pkg_id, &d.pkg_name, &d.vulnerability_id]))),
    );
    let v = d.vulnerability.clone().unwrap_or_default();
    if !v.title.is_empty() {
        m.insert("Title".into(), json!(v.title));
    }
    if !v.description.is_empty() {
        m.insert("Description".into(), json!(v.description));
    }
    m.insert("Severity".into(), json!(d.severity));
    if !v.cwe_ids.is_empty() {
        m.insert("CweIDs".into(), json!(v.cwe_ids));
    }
    if !v.vendor_severity.is_empty() {
        let vs: Map<String, Value> = v.vendor_severity.iter().map(|(k, r)| (k.clone(), json!(r))).collect();
        m.insert("VendorSeverity".into(), Value::Object(vs));
    }
    if !v.cvss.is_empty() {
        let mut cvss = Map::new();
        for (k, c) in &v.cvss {
            let mut e = Map::new();
            for (key, s) in [("V2Vector", &c.v2_vector), ("V3Vector", &c.v3_vector), ("V40Vector", &c.v40_vector)] {
                if !s.is_empty() {
                    e.insert(key.into(), json!(s));
                }
            }
            for (key, f) in [("V2Score", c.v2_score), ("V3Score", c.v3_score), ("V40Score", c.v40_score)] {
                if f != 0.0 {
                    e.insert(key.into(), number(f));
                }
            }
            cvss.insert(k.clone(), Value::Object(e));
        }
        m.insert("CVSS".into(), Value::Object(cvss));
    }
    if !v.references.is_empty() {
        m.insert("References".into(), json!(v.references));
    }
    if !v.published_date.is_empty() {
        m.insert("PublishedDate".into(), json!(v.published_date));
    }
    if !v.last_modified_date.is_empty() {
        m.insert("LastModifiedDate".into(), json!(v.last_modified_date));
    }
    Value::Object(m)
}

/// The vulnerabilities of one target, deduplicated and in Trivy's order.
#[must_use]
pub fn detect_target(db: &Db, target: &LangTarget, severity_sources: &[String]) -> Vec<(Package, Detected)> {
    let mut out: Vec<(Package, Detected)> = Vec::new();
    for p in &target.packages {
        for d in db.detect(target.kind, &p.id, &p.name, &p.version, severity_sources) {
            let dup = out.iter().any(|(_, o)| {
                o.vulnerability_id == d.vulnerability_id
                    && o.pkg_id == d.pkg_id
                    && o.pkg_name == d.pkg_name
                    && o.installed_version == d.installed_version
            });
            if !dup {
                out.push((p.clone(), d));
            }
        }
    }
    out.sort_by(|(_, a), (_, b)| {
        a.pkg_name
            .cmp(&b.pkg_name)
            .then_with(|| a.pkg_id.cmp(&b.pkg_id))
            .then_with(|| a.installed_version.cmp(&b.installed_version))
            .then_with(|| severity_rank(&b.severity).cmp(&severity_rank(&a.severity)))
            .then_with(|| a.vulnerability_id.cmp(&b.vulnerability_id))
    });
    out
}

/// The report for `targets` against `db`.
#[must_use]
pub fn trivy_json(targets: &[LangTarget], db: &Db, opts: &ReportOptions) -> Value {
    let mut results = Vec::new();
    for t in targets {
        let mut target = t.clone();
        if !opts.include_dev_deps {
            exclude_dev(&mut target.packages);
        }
        if target.packages.is_empty() {
            continue;
        }
        let mut r = Map::new();
        r.insert("Target".into(), json!(target.path));
        r.insert("Class".into(), json!("lang-pkgs"));
        r.insert("Type".into(), json!(target.kind.as_str()));
        if opts.list_all_pkgs {
            let pkgs: Vec<Value> = target.packages.iter().map(|p| package_json(target.kind, &target.path, p)).collect();
            r.insert("Packages".into(), Value::Array(pkgs));
        }
        let vulns: Vec<Value> = detect_target(db, &target, &opts.severity_sources)
            .iter()
            .filter(|(p, d)| !opts.vex.as_ref().is_some_and(|v| v.suppresses(&target, p, &d.vulnerability_id)))
            .map(|(p, d)| vuln_json(target.kind, &target.path, p, d))
            .collect();
        if !vulns.is_empty() {
            r.insert("Vulnerabilities".into(), Value::Array(vulns));
        }
        results.push(Value::Object(r));
    }
    let mut m = Map::new();
    m.insert("SchemaVersion".into(), json!(2));
    m.insert("Trivy".into(), json!({"Version": opts.version}));
    if !opts.report_id.is_empty() {
        m.insert("ReportID".into(), json!(opts.report_id));
    }
    if !opts.created_at.is_empty() {
        m.insert("CreatedAt".into(), json!(opts.created_at));
    }
    m.insert("ArtifactName".into(), json!(opts.artifact_name));
    m.insert("ArtifactType".into(), json!(opts.artifact_type));
    if !results.is_empty() {
        m.insert("Results".into(), Value::Array(results));
    }
    Value::Object(m)
}
