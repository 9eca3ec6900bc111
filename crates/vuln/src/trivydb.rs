//! Trivy's vulnerability DB in the YAML fixture layout its tests use (`bolt-fixtures`): a list
//! of top-level buckets, `- bucket: "<source>"` → `pairs: - bucket: <package>` →
//! `pairs: - key: <VULN-ID>, value: {VulnerableVersions, PatchedVersions, …}` for language
//! ecosystems (`pip::GitHub Security Advisory Pip`), `FixedVersion` for OS buckets; the
//! `vulnerability` bucket holds details (title, description, CVSS, `VendorSeverity`), the
//! `data-source` bucket each source's metadata.
//!
//! [`Db::detect`] matches a language package as Trivy's library detector does: every bucket
//! `<ecosystem>::…` in key order, the package name normalised per ecosystem, each advisory
//! tested with the ecosystem's version ordering (`compare.IsVulnerable`); [`Db::fill`] adds
//! details and picks the severity as Trivy's `FillInfo` does.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::lang::tree::{Node, parse_yaml};
use crate::lang::{LangType, python};
use crate::version::{Scheme, goversion, npm, pep440};

/// An advisory for one package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Advisory {
    /// `VulnerableVersions` constraints (ORed).
    pub vulnerable: Vec<String>,
    /// `PatchedVersions` constraints or versions (ORed).
    pub patched: Vec<String>,
    /// `UnaffectedVersions`.
    pub unaffected: Vec<String>,
    /// `FixedVersion` (OS buckets).
    pub fixed_version: String,
}

/// A data source (`ID`, `Name`, `URL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataSource {
    /// Source ID (`ghsa`, `glad`, …).
    pub id: String,
    /// Name.
    pub name: String,
    /// URL.
    pub url: String,
}

/// CVSS of one vendor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cvss {
    /// CVSS v2 vector.
    pub v2_vector: String,
    /// CVSS v3 vector.
    pub v3_vector: String,
    /// CVSS v4 vector.
    pub v40_vector: String,
    /// CVSS v2 score.
    pub v2_score: f64,
    /// CVSS v3 score.
    pub v3_score: f64,
    /// CVSS v4 score.
    pub v40_score: f64,
}

/// Vulnerability details (trivy-db's `types.Vulnerability`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vulnerability {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Severity as stored (`HIGH`, …), empty when none.
    pub severity: String,
    /// CWE IDs.
    pub cwe_ids: Vec<String>,
    /// Severity per vendor, 0 (UNKNOWN) to 4 (CRITICAL).
    pub vendor_severity: BTreeMap<String, u8>,
    /// CVSS per vendor.
    pub cvss: BTreeMap<String, Cvss>,
    /// References.
    pub references: Vec<String>,
    /// Published date as written.
    pub published_date: String,
    /// Last-modified date as written.
    pub last_modified_date: String,
}

/// Severity names by rank.
pub const SEVERITIES: [&str; 5] = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

/// Rank of a severity name (UNKNOWN 0 … CRITICAL 4).
#[must_use]
pub fn severity_rank(s: &str) -> u8 {
    SEVERITIES.iter().position(|x| *x == s).and_then(|i| u8::try_from(i).ok()).unwrap_or(0)
}

/// A vulnerability detected in a package.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Detected {
    /// Vulnerability ID.
    pub vulnerability_id: String,
    /// Package ID.
    pub pkg_id: String,
    /// Package name.
    pub pkg_name: String,
    /// Installed version.
    pub installed_version: String,
    /// Fixed versions, `, `-joined.
    pub fixed_version: String,
    /// `fixed` or `affected`.
    pub status: String,
    /// Where the severity came from (empty when from the record's own `Severity`).
    pub severity_source: String,
    /// Chosen severity.
    pub severity: String,
    /// Primary URL.
    pub primary_url: String,
    /// Data source of the advisory.
    pub data_source: Option<DataSource>,
    /// Details (absent when the DB has none).
    pub vulnerability: Option<Vulnerability>,
}

/// Errors loading the DB.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not fixture YAML.
    #[error("{path}:{line}: {message}")]
    Format {
        /// The path.
        path: PathBuf,
        /// Line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The loaded DB.
#[derive(Debug, Clone, Default)]
pub struct Db {
    /// bucket → package → (vulnerability ID, advisory), keys sorted as bolt keeps them.
    pub advisories: BTreeMap<String, BTreeMap<String, BTreeMap<String, Advisory>>>,
    /// Details by vulnerability ID.
    pub vulnerabilities: BTreeMap<String, Vulnerability>,
    /// Data sources by bucket name.
    pub data_sources: BTreeMap<String, DataSource>,
}

fn strings(n: Option<&Node>) -> Vec<String> {
    match n {
        Some(n) => match n.as_str() {
            Some(s) => vec![s.to_owned()],
            None => n.items().iter().filter_map(Node::as_str).map(str::to_owned).collect(),
        },
        None => Vec::new(),
    }
}

fn parse_vuln(v: &Node) -> Vulnerability {
    let num = |n: &Node, k: &str| n.str_of(k).parse::<f64>().unwrap_or(0.0);
    Vulnerability {
        title: v.str_of("Title").to_owned(),
        description: v.str_of("Description").to_owned(),
        severity: v.str_of("Severity").to_owned(),
        cwe_ids: strings(v.get("CweIDs")),
        vendor_severity: v
            .get("VendorSeverity")
            .map(Node::entries)
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, s)| {
                let s = s.as_str()?;
                let rank = match s.parse::<f64>() {
                    Ok(f) if (0.0..=4.0).contains(&f) => {
                        severity_rank(SEVERITIES.get(f as usize).copied().unwrap_or(""))
                    }
                    _ => severity_rank(s),
                };
                Some((k.clone(), rank))
            })
            .collect(),
        cvss: v
            .get("CVSS")
            .map(Node::entries)
            .unwrap_or_default()
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    Cvss {
                        v2_vector: c.str_of("V2Vector").to_owned(),
                        v3_vector: c.str_of("V3Vector").to_owned(),
                        v40_vector: c.str_of("V40Vector").to_owned(),
                        v2_score: num(c, "V2Score"),
                        v3_score: num(c, "V3Score"),
                        v40_score: num(c, "V40Score"),
                    },
                )
            })
            .collect(),
        references: strings(v.get("References")),
        published_date: v.str_of("PublishedDate").to_owned(),
        last_modified_date: v.str_of("LastModifiedDate").to_owned(),
    }
}

impl Db {
    /// Loads every `*.yaml` / `*.yml` file of `dir`.
    ///
    /// # Errors
    /// [`DbError`] for an unreadable or malformed file.
    pub fn load(dir: &Path) -> Result<Db, DbError> {
        let mut db = Db::default();
        let rd = std::fs::read_dir(dir).map_err(|source| DbError::Io { path: dir.to_owned(), source })?;
        let mut files: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| DbError::Io { path: f.clone(), source })?;
            db.add_yaml(&text).map_err(|(line, message)| DbError::Format { path: f.clone(), line, message })?;
        }
        Ok(db)
    }

    /// Adds one fixture file's buckets.
    ///
    /// # Errors
    /// `(line, message)` for malformed YAML or an unexpected layout.
    pub fn add_yaml(&mut self, text: &str) -> Result<(), (usize, String)> {
        let root = parse_yaml(text).map_err(|e| (e.line, e.message))?;
        for top in root.items() {
            let name = top.str_of("bucket");
            if name.is_empty() {
                return Err((top.line, "top-level entry without `bucket`".into()));
            }
            let pairs = top.get("pairs").map(Node::items).unwrap_or_default();
            match name {
                "vulnerability" => {
                    for p in pairs {
                        if let Some(v) = p.get("value") {
                            self.vulnerabilities.insert(p.str_of("key").to_owned(), parse_vuln(v));
                        }
                    }
                }
                "data-source" => {
                    for p in pairs {
                        if let Some(v) = p.get("value") {
                            self.data_sources.insert(
                                p.str_of("key").to_owned(),
                                DataSource {
                                    id: v.str_of("ID").to_owned(),
                                    name: v.str_of("Name").to_owned(),
                                    url: v.str_of("URL").to_owned(),
                                },
                            );
                        }
                    }
                }
                _ => {
                    let bucket = self.advisories.entry(name.to_owned()).or_default();
                    for pkg in pairs {
                        let pname = pkg.str_of("bucket");
                        if pname.is_empty() {
                            continue;
                        }
                        let entry = bucket.entry(pname.to_owned()).or_default();
                        for adv in pkg.get("pairs").map(Node::items).unwrap_or_default() {
                            let v = adv.get("value");
                            entry.insert(
                                adv.str_of("key").to_owned(),
                                Advisory {
                                    vulnerable: strings(v.and_then(|v| v.get("VulnerableVersions"))),
                                    patched: strings(v.and_then(|v| v.get("PatchedVersions"))),
                                    unaffected: strings(v.and_then(|v| v.get("UnaffectedVersions"))),
                                    fixed_version: v.map(|v| v.str_of("FixedVersion")).unwrap_or_default().to_owned(),
                                },
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Advisories for a language package (Trivy's library driver), with details filled
    /// ([`Db::fill`]). Packages without a version are not looked up.
    #[must_use]
    pub fn detect(
        &self,
        kind: LangType,
        pkg_id: &str,
        name: &str,
        version: &str,
        severity_sources: &[String],
    ) -> Vec<Detected> {
        if version.is_empty() {
            return Vec::new();
        }
        let eco = kind.ecosystem();
        let normalized = normalize_name(eco, name);
        let prefix = format!("{eco}::");
        let mut out = Vec::new();
        for (bucket, pkgs) in self.advisories.range(prefix.clone()..) {
            if !bucket.starts_with(&prefix) {
                break;
            }
            let Some(advs) = pkgs.get(&normalized) else { continue };
            for (id, adv) in advs {
                if !is_vulnerable(kind, version, adv) {
                    continue;
                }
                let mut d = Detected {
                    vulnerability_id: id.clone(),
                    pkg_id: pkg_id.to_owned(),
                    pkg_name: name.to_owned(),
                    installed_version: version.to_owned(),
                    fixed_version: fixed_versions(adv),
                    data_source: self.data_sources.get(bucket).cloned(),
                    ..Detected::default()
                };
                self.fill(&mut d, severity_sources);
                out.push(d);
            }
        }
        out
    }

    /// Trivy's `FillInfo`: status, details, severity and its source, primary URL.
    pub fn fill(&self, d: &mut Detected, severity_sources: &[String]) {
        d.status = if d.fixed_version.is_empty() { "affected".into() } else { "fixed".into() };
        let Some(v) = self.vulnerabilities.get(&d.vulnerability_id) else {
            d.severity = "UNKNOWN".into();
            return;
        };
        let source = d.data_source.as_ref().map(|s| s.id.clone()).unwrap_or_default();
        let auto = vec!["auto".to_owned()];
        let sources = if severity_sources.is_empty() { &auto } else { severity_sources };
        let (sev, src) = severity_of(&d.vulnerability_id, v, &source, sources);
        d.severity = sev;
        d.severity_source = src;
        d.primary_url = primary_url(&d.vulnerability_id);
        d.vulnerability = Some(v.clone());
    }
}

fn severity_of(id: &str, v: &Vulnerability, source: &str, sources: &[String]) -> (String, String) {
    let name = |r: u8| SEVERITIES.get(usize::from(r)).copied().unwrap_or("UNKNOWN").to_owned();
    for s in sources {
        if s == "auto" {
            if let Some(&r) = v.vendor_severity.get(source) {
                return (name(r), source.to_owned());
            }
            let auto: Vec<&str> =
                if id.starts_with("GHSA-") { vec![source, "ghsa", "nvd"] } else { vec![source, "nvd"] };
            for a in auto {
                if let Some(&r) = v.vendor_severity.get(a) {
                    return (name(r), a.to_owned());
                }
            }
            if v.severity.is_empty() {
                return ("UNKNOWN".into(), String::new());
            }
            return (v.severity.clone(), String::new());
        }
        if let Some(&r) = v.vendor_severity.get(s.as_str()) {
            return (name(r), s.clone());
        }
    }
    ("UNKNOWN".into(), String::new())
}

fn primary_url(id: &str) -> String {
    if id.starts_with("CVE-") {
        format!("https://avd.aquasec.com/nvd/{}", id.to_lowercase())
    } else if id.starts_with("RUSTSEC-") {
        format!("https://osv.dev/vulnerability/{id}")
    } else if id.starts_with("GHSA-") {
        format!("https://github.com/advisories/{id}")
    } else if id.starts_with("TEMP-") {
        format!("https://security-tracker.debian.org/tracker/{id}")
    } else {
        String::new()
    }
}

/// trivy-db's `NormalizePkgName`: PEP 503 for pip, lower case for NuGet and Composer.
#[must_use]
pub fn normalize_name(eco: &str, name: &str) -> String {
    match eco {
        "pip" => python::pep503(name),
        "nuget" | "composer" => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

/// Trivy's `createFixedVersions`: patched versions, else the bounds of `<` constraints.
#[must_use]
pub fn fixed_versions(adv: &Advisory) -> String {
    let mut out: Vec<String> = Vec::new();
    if adv.patched.is_empty() {
        for v in &adv.vulnerable {
            for s in v.split(',') {
                let s = s.trim();
                if !s.starts_with("<=")
                    && let Some(rest) = s.strip_prefix('<')
                {
                    out.push(rest.trim().to_owned());
                }
            }
        }
    } else {
        out.clone_from(&adv.patched);
    }
    let mut uniq: Vec<String> = Vec::new();
    for v in out {
        if !uniq.contains(&v) {
            uniq.push(v);
        }
    }
    if uniq.is_empty() && !adv.fixed_version.is_empty() {
        return adv.fixed_version.clone();
    }
    uniq.join(", ")
}

/// Trivy's `compare.IsVulnerable` with the ecosystem's comparer.
#[must_use]
pub fn is_vulnerable(kind: LangType, version: &str, adv: &Advisory) -> bool {
    if adv.vulnerable.iter().chain(&adv.patched).any(String::is_empty) {
        return true;
    }
    let mut matched = false;
    if !adv.vulnerable.is_empty() {
        match matches(kind, version, &adv.vulnerable.join(" || ")) {
            Some(true) => matched = true,
            _ => return false,
        }
    }
    let secure: Vec<String> = adv.patched.iter().chain(&adv.unaffected).cloned().collect();
    if secure.is_empty() {
        return matched;
    }
    matches!(matches(kind, version, &secure.join(" || ")), Some(false))
}

/// Whether `version` satisfies `constraint` in the ecosystem's syntax; `None` when either does
/// not parse (Trivy then reports nothing).
#[must_use]
pub fn matches(kind: LangType, version: &str, constraint: &str) -> Option<bool> {
    match kind.ecosystem() {
        "npm" => {
            let o = npm::Options { loose: false, include_prerelease: true };
            let v = npm::SemVer::parse(version, o).ok()?;
            let r = npm::Range::parse(&constraint.replace(',', " "), o).ok()?;
            Some(r.test(&v))
        }
        "pip" => {
            pep440::Version::parse(version).ok()?;
            let mut any = false;
            for alt in constraint.split("||") {
                // A bare version means `==` (go-pep440-version).
                let parts: Vec<String> = alt
                    .split(',')
                    .map(|p| {
                        let p = p.trim();
                        if p.starts_with(|c: char| c.is_ascii_alphanumeric()) { format!("=={p}") } else { p.to_owned() }
                    })
                    .collect();
                let set = pep440::SpecifierSet::parse(&parts.join(",")).ok()?;
                any |= set.contains(version);
            }
            Some(any)
        }
        "maven" => match_ops(constraint, version, true, |a, b| Scheme::Generic.compare(a, b)),
        "cocoapods" | "rubygems" => match_ops(constraint, version, false, |a, b| Scheme::Generic.compare(a, b)),
        _ => {
            goversion::Version::parse(version)?;
            match_ops(constraint, version, false, goversion::compare)
        }
    }
}

/// `a || b` alternatives of comma- (or space-) separated operator constraints; with `ranges`,
/// also Maven intervals (`[1.0,2.0)`).
fn match_ops(constraint: &str, version: &str, ranges: bool, cmp: impl Fn(&str, &str) -> Ordering) -> Option<bool> {
    let mut any = false;
    for alt in constraint.split("||") {
        let alt = alt.trim();
        if alt.is_empty() {
            return None;
        }
        if ranges && (alt.starts_with('[') || alt.starts_with('(')) {
            any |= match_interval(alt, version, &cmp)?;
            continue;
        }
        let mut all = true;
        for part in alt.split(',') {
            let part = part.trim();
            let op_len = part.find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~')).unwrap_or(part.len());
            let (op, v) = (part.get(..op_len)?, part.get(op_len..)?.trim());
            if v.is_empty() {
                return None;
            }
            let o = cmp(version, v);
            all &= match op {
                "" | "=" | "==" => o == Ordering::Equal,
                "!=" => o != Ordering::Equal,
                "<" => o == Ordering::Less,
                "<=" => o != Ordering::Greater,
                ">" => o == Ordering::Greater,
                ">=" => o != Ordering::Less,
                "~>" => {
                    // Pessimistic: >= v and < v with its last segment dropped and the one before bumped.
                    let mut segs: Vec<u64> = v.split('.').filter_map(|s| s.parse().ok()).collect();
                    if segs.len() > 1 {
                        segs.pop();
                    }
                    if let Some(last) = segs.last_mut() {
                        *last += 1;
                    }
                    let upper: Vec<String> = segs.iter().map(u64::to_string).collect();
                    o != Ordering::Less && cmp(version, &upper.join(".")) == Ordering::Less
                }
                _ => return None,
            };
        }
        any |= all;
    }
    Some(any)
}

fn match_interval(alt: &str, version: &str, cmp: &impl Fn(&str, &str) -> Ordering) -> Option<bool> {
    let lower_inclusive = alt.starts_with('[');
    let upper_inclusive = alt.ends_with(']');
    let inner = alt.get(1..alt.len().checked_sub(1)?)?;
    let (lo, hi) = match inner.split_once(',') {
        Some((l, h)) => (l.trim(), h.trim()),
        None => (inner.trim(), inner.trim()),
    };
    let lo_ok = lo.is_empty() || {
        let o = cmp(version, lo);
        o == Ordering::Greater || (lower_inclusive && o == Ordering::Equal)
    };
    let hi_ok = hi.is_empty() || {
        let o = cmp(version, hi);
        o == Ordering::Less || (upper_inclusive && o == Ordering::Equal)
    };
    Some(lo_ok && hi_ok)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn adv(v: &[&str], p: &[&str]) -> Advisory {
        Advisory {
            vulnerable: v.iter().map(|s| (*s).to_owned()).collect(),
            patched: p.iter().map(|s| (*s).to_owned()).collect(),
            ..Advisory::default()
        }
    }

    #[test]
    fn ecosystems() {
        assert!(is_vulnerable(LangType::Npm, "3.3.9", &adv(&["< 3.4.0"], &["3.4.0"])));
        assert!(!is_vulnerable(LangType::Npm, "3.3.9", &adv(&["< 3.0.0"], &["3.0.0"])));
        assert!(is_vulnerable(LangType::Pip, "0.11", &adv(&["< 0.11.6"], &["0.11.6"])));
        assert!(is_vulnerable(LangType::Pom, "2.9.1", &adv(&["[2.9.0,2.9.10.7)"], &["2.9.10.7"])));
        assert!(is_vulnerable(LangType::Pom, "2.9.1", &adv(&[">= 2.0.0, <= 2.9.10.3"], &["2.9.10.4"])));
        assert!(is_vulnerable(LangType::GoModule, "v2.7.1+incompatible", &adv(&["< v2.8.0"], &["v2.8.0"])));
        assert!(!is_vulnerable(LangType::GoModule, "v0.3.7", &adv(&[">= 0, < 0.3.7"], &["0.3.7"])));
        assert!(is_vulnerable(LangType::Cocoapods, "2.41.0", &adv(&["< 2.29.1", ">= 2.41.0, < 2.42.0"], &["2.42.0"])));
        assert!(is_vulnerable(LangType::Hex, "1.6.13", &adv(&["<= 1.6.14"], &["1.6.14"])));
        assert!(is_vulnerable(LangType::Conan, "8.43", &adv(&["<8.44"], &["8.45"])));
        assert!(!is_vulnerable(LangType::Cargo, "2.1.0", &adv(&[], &[">= 2.1.0"])));
        assert_eq!(fixed_versions(&adv(&[">= 1, < 2", "< 3"], &[])), "2, 3");
    }

    #[test]
    fn db_yaml_errors() {
        let mut db = Db::default();
        assert!(db.add_yaml("- pairs: []\n").is_err());
        assert!(db.add_yaml("- bucket: x\n  pairs: [\n").is_err());
    }
}
