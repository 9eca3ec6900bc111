//! Trivy's ignore files (`--ignorefile`). The text format (`.trivyignore`): one vulnerability id
//! per line, `#` comments, and an optional `exp:YYYY-MM-DD` after the id, after which the line no
//! longer applies (Trivy: the rule stops at 00:00 UTC of that date). The YAML format
//! (`.trivyignore.yaml`): `vulnerabilities:` entries with `id`, and optionally `expired_at`
//! (a date), `purls` (package URLs; without a version or qualifiers they match every version)
//! and `paths` (globs of the lockfile a finding is in), `statement`; the `misconfigurations`,
//! `secrets` and `licenses` lists are read and not used. An id matches a finding's id or any of
//! its aliases (an OSV `DEBIAN-CVE-2023-5678` is ignored by `CVE-2023-5678`).

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The id to ignore.
    pub id: String,
    /// Unix seconds at which the rule expires (00:00 UTC of its `exp:` date).
    pub expires: Option<i64>,
    /// 1-based line in the file.
    pub line: usize,
    /// Package URLs the rule is limited to (YAML `purls`); empty: every package.
    pub purls: Vec<String>,
    /// Lockfile path globs the rule is limited to (YAML `paths`); empty: everywhere.
    pub paths: Vec<String>,
}

/// What a finding is about, for rules limited to packages or paths.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The package URL of the package.
    pub purl: Option<&'a str>,
    /// The lockfile path (relative to the scanned directory), for language packages.
    pub path: Option<&'a str>,
}

/// An error in the file: the line and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct IgnoreError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// The rules of an ignore file.
#[derive(Debug, Clone, Default)]
pub struct IgnoreFile {
    /// Every rule, in file order.
    pub rules: Vec<Rule>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.split('-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400)
}

impl IgnoreFile {
    /// Parses the text format.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split_once('#').map_or(raw, |(a, _)| a).trim();
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            let Some(id) = words.next() else { continue };
            let mut expires = None;
            for w in words {
                match w.strip_prefix("exp:") {
                    Some(date) => {
                        expires = Some(parse_date(date).ok_or_else(|| IgnoreError {
                            line,
                            msg: format!("exp:{date}: expected a date as exp:YYYY-MM-DD"),
                        })?);
                    }
                    None => {
                        return Err(IgnoreError {
                            line,
                            msg: format!("unexpected {w:?} after the id (expected `ID` or `ID exp:YYYY-MM-DD`)"),
                        });
                    }
                }
            }
            rules.push(Rule { id: id.to_owned(), expires, line, purls: Vec::new(), paths: Vec::new() });
        }
        Ok(Self { rules })
    }

    /// Parses the YAML format (`.trivyignore.yaml`).
    pub fn parse_yaml(text: &str) -> Result<Self, IgnoreError> {
        let root = crate::lang::tree::parse_yaml(text).map_err(|e| IgnoreError { line: e.line, msg: e.message })?;
        if !root.is_obj() && !matches!(root.val, crate::lang::tree::Val::Null) {
            return Err(IgnoreError { line: root.line, msg: "expected a mapping with `vulnerabilities:`".into() });
        }
        for (key, node) in root.entries() {
            if !matches!(key.as_str(), "vulnerabilities" | "misconfigurations" | "secrets" | "licenses") {
                return Err(IgnoreError {
                    line: node.line,
                    msg: format!(
                        "unknown key {key:?} (expected vulnerabilities, misconfigurations, secrets, licenses)"
                    ),
                });
            }
        }
        let mut rules = Vec::new();
        if let Some(list) = root.get("vulnerabilities") {
            for item in list.items() {
                let line = item.line;
                let id = item.str_of("id").trim();
                if id.is_empty() {
                    return Err(IgnoreError { line, msg: "an entry without `id`".into() });
                }
                let expires = match item.get("expired_at").and_then(crate::lang::tree::Node::as_str) {
                    None => None,
                    Some(d) => {
                        let day = d.trim().get(..10).unwrap_or(d.trim());
                        Some(parse_date(day).ok_or_else(|| IgnoreError {
                            line: item.get("expired_at").map_or(line, |n| n.line),
                            msg: format!("expired_at: {d:?}: expected a date as YYYY-MM-DD"),
                        })?)
                    }
                };
                let strings = |key: &str| -> Vec<String> {
                    item.get(key).map_or_else(Vec::new, |n| {
                        n.items().iter().filter_map(|x| x.as_str()).map(str::to_owned).collect()
                    })
                };
                rules.push(Rule { id: id.to_owned(), expires, line, purls: strings("purls"), paths: strings("paths") });
            }
        }
        Ok(Self { rules })
    }

    /// Whether a finding with `id` and `aliases` is ignored at `now` (unix seconds).
    #[must_use]
    pub fn ignores(&self, id: &str, aliases: &[String], now: i64) -> bool {
        self.ignores_for(id, aliases, now, Subject::default())
    }

    /// As [`Self::ignores`], for a finding about `subject` (rules with `purls` or `paths` apply
    /// only where these match).
    #[must_use]
    pub fn ignores_for(&self, id: &str, aliases: &[String], now: i64, subject: Subject<'_>) -> bool {
        self.rules.iter().any(|r| {
            r.expires.is_none_or(|e| now <= e)
                && (r.id == id || aliases.contains(&r.id))
                && (r.purls.is_empty() || subject.purl.is_some_and(|p| r.purls.iter().any(|x| purl_matches(x, p))))
                && (r.paths.is_empty()
                    || subject.path.is_some_and(|p| r.paths.iter().any(|g| crate::lang::glob_match(g, p))))
        })
    }
}

/// Whether the package URL `pattern` covers `purl`: same type, namespace and name; and when the
/// pattern has a version or qualifiers, those too.
fn purl_matches(pattern: &str, purl: &str) -> bool {
    let (Ok(a), Ok(b)) = (crate::sbom::parse_purl(pattern), crate::sbom::parse_purl(purl)) else { return false };
    a.ty == b.ty
        && a.namespace == b.namespace
        && a.name == b.name
        && a.version.as_ref().is_none_or(|v| b.version.as_ref() == Some(v))
        && a.qualifiers.iter().all(|(k, v)| b.qualifiers.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn ids_comments_and_expiry() {
        let f = IgnoreFile::parse(
            "# Accept the risk\nCVE-2023-5678\n\n  CVE-2019-14697 exp:2023-01-01  # until the upgrade\nGHSA-xxxx # trailing\n",
        )
        .unwrap();
        assert_eq!(f.rules.len(), 3);
        assert_eq!(f.rules[1].line, 4);
        let jan1 = parse_date("2023-01-01").unwrap();
        assert_eq!(jan1, 1_672_531_200);
        let alias = ["CVE-2023-5678".to_owned()];
        assert!(f.ignores("DEBIAN-CVE-2023-5678", &alias, 0), "by alias");
        assert!(f.ignores("CVE-2019-14697", &[], jan1), "up to 00:00 UTC of the date");
        assert!(!f.ignores("CVE-2019-14697", &[], jan1 + 1), "expired after");
        assert!(!f.ignores("CVE-2000-0001", &[], 0));
        assert_eq!(parse_date("2024-02-29").unwrap() - parse_date("2024-02-28").unwrap(), 86_400);
        assert!(parse_date("2023-02-29").is_none());
        let e = IgnoreFile::parse("CVE-1\nCVE-2 exp:tomorrow\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("exp:YYYY-MM-DD"));
        assert!(IgnoreFile::parse("CVE-1 because\n").unwrap_err().to_string().contains("unexpected"));
    }

    #[test]
    fn yaml_format_with_purls_paths_and_expiry() {
        let f = IgnoreFile::parse_yaml(
            "vulnerabilities:\n  - id: CVE-2023-5678\n    purls:\n      - pkg:deb/debian/libssl3\n    statement: accepted\n  - id: GHSA-1\n    paths: [\"web/**\"]\n    expired_at: 2023-01-01\nmisconfigurations: []\n",
        )
        .unwrap();
        assert_eq!(f.rules.len(), 2);
        let ssl = Subject { purl: Some("pkg:deb/debian/libssl3@3.0.11-1?arch=amd64&distro=debian-12"), path: None };
        let ssh = Subject { purl: Some("pkg:deb/debian/openssl@3.0.11-1?arch=amd64"), path: None };
        assert!(f.ignores_for("DEBIAN-CVE-2023-5678", &["CVE-2023-5678".to_owned()], 0, ssl));
        assert!(!f.ignores_for("DEBIAN-CVE-2023-5678", &["CVE-2023-5678".to_owned()], 0, ssh), "another package");
        let web = Subject { purl: None, path: Some("web/package-lock.json") };
        let api = Subject { purl: None, path: Some("api/package-lock.json") };
        assert!(f.ignores_for("GHSA-1", &[], 0, web));
        assert!(!f.ignores_for("GHSA-1", &[], 0, api));
        assert!(!f.ignores_for("GHSA-1", &[], 1_700_000_000, web), "expired");
        let e = IgnoreFile::parse_yaml("vulnerabilities:\n  - id: X\n    expired_at: soon\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(IgnoreFile::parse_yaml("vulnerabilites: []\n").unwrap_err().to_string().contains("unknown key"));
        assert!(IgnoreFile::parse_yaml("vulnerabilities:\n  - statement: no id\n").is_err());
    }
}
