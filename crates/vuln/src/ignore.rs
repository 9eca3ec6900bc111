//! Trivy's ignore file (`.trivyignore`, `--ignorefile`): one vulnerability id per line, `#`
//! comments, and an optional `exp:YYYY-MM-DD` after the id, after which the line no longer
//! applies (Trivy: the rule stops at 00:00 UTC of that date). An id matches a finding's id or
//! any of its aliases (an OSV `DEBIAN-CVE-2023-5678` is ignored by `CVE-2023-5678`).

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The id to ignore.
    pub id: String,
    /// Unix seconds at which the rule expires (00:00 UTC of its `exp:` date).
    pub expires: Option<i64>,
    /// 1-based line in the file.
    pub line: usize,
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
            rules.push(Rule { id: id.to_owned(), expires, line });
        }
        Ok(Self { rules })
    }

    /// Whether a finding with `id` and `aliases` is ignored at `now` (unix seconds).
    #[must_use]
    pub fn ignores(&self, id: &str, aliases: &[String], now: i64) -> bool {
        self.rules.iter().any(|r| r.expires.is_none_or(|e| now <= e) && (r.id == id || aliases.contains(&r.id)))
    }
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
}
