//! Version ordering per ecosystem, each faithful to its upstream tool.

pub mod apk;
pub mod deb;
pub mod goversion;
pub mod npm;
pub mod pep440;
pub mod rpm;

use std::cmp::Ordering;

/// A version scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// dpkg (Debian, Ubuntu).
    Deb,
    /// apk (Alpine, Wolfi, Chainguard).
    Apk,
    /// rpm (Red Hat family, SUSE).
    Rpm,
    /// PEP 440 (PyPI).
    Pep440,
    /// SemVer 2.0 precedence (npm, crates.io, Go without the `v`, OSV `SEMVER`).
    Semver,
    /// Dotted numbers with qualifiers (Maven, NuGet, RubyGems, Packagist): numeric segments
    /// numerically, a missing segment as 0, pre-release words (alpha, beta, milestone, rc,
    /// snapshot, dev, pre) before the release, other words after.
    Generic,
}

fn generic_tokens(v: &str) -> Vec<(u8, u128, String)> {
    // (class, number, word): class 0 = pre-release word, 1 = number or release, 2 = other word
    let mut out = Vec::new();
    let lower = v.trim_start_matches(['v', 'V']).to_ascii_lowercase();
    let mut cur = String::new();
    let push = |cur: &mut String, out: &mut Vec<(u8, u128, String)>| {
        if cur.is_empty() {
            return;
        }
        let t = std::mem::take(cur);
        if let Ok(n) = t.parse::<u128>() {
            out.push((1, n, String::new()));
        } else {
            let rank = ["alpha", "a", "beta", "b", "milestone", "m", "rc", "cr", "snapshot", "dev", "pre", "preview"];
            match t.as_str() {
                "final" | "ga" | "release" => out.push((1, 0, String::new())),
                w if rank.contains(&w)
                    || rank.iter().any(|r| {
                        w.starts_with(r)
                            && w.len() > r.len()
                            && w.as_bytes().get(r.len()).is_some_and(u8::is_ascii_digit)
                    }) =>
                {
                    out.push((0, 0, t));
                }
                _ => out.push((2, 0, t)),
            }
        }
    };
    let mut prev_digit = None;
    for c in lower.chars() {
        let d = c.is_ascii_digit();
        if !c.is_ascii_alphanumeric() {
            push(&mut cur, &mut out);
            prev_digit = None;
            continue;
        }
        if prev_digit.is_some_and(|p| p != d) {
            push(&mut cur, &mut out);
        }
        cur.push(c);
        prev_digit = Some(d);
    }
    push(&mut cur, &mut out);
    out
}

fn generic_compare(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (generic_tokens(a), generic_tokens(b));
    let zero = (1u8, 0u128, String::new());
    for i in 0..ta.len().max(tb.len()) {
        let x = ta.get(i).unwrap_or(&zero);
        let y = tb.get(i).unwrap_or(&zero);
        let o = x.0.cmp(&y.0).then(x.1.cmp(&y.1)).then_with(|| x.2.cmp(&y.2));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl Scheme {
    /// Compares two versions in this scheme.
    #[must_use]
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Scheme::Deb => deb::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::Semver => {
                let o = npm::Options::default();
                let (a, b) = (a.trim_start_matches('v'), b.trim_start_matches('v'));
                match (npm::SemVer::parse(a, o), npm::SemVer::parse(b, o)) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => generic_compare(a, b),
                }
            }
            Scheme::Generic => generic_compare(a, b),
        }
    }

    /// The scheme of an OSV ecosystem name (`Debian:12` → dpkg); `None` where unknown.
    #[must_use]
    pub fn of_ecosystem(eco: &str) -> Option<Scheme> {
        let base = eco.split(':').next().unwrap_or(eco);
        Some(match base {
            "Debian" | "Ubuntu" => Scheme::Deb,
            "Alpine" | "Wolfi" | "Chainguard" => Scheme::Apk,
            "Red Hat" | "AlmaLinux" | "Rocky Linux" | "openSUSE" | "SUSE" | "Mageia" | "openEuler" => Scheme::Rpm,
            "PyPI" => Scheme::Pep440,
            "npm" | "crates.io" | "Go" | "Hex" | "Pub" | "SwiftURL" => Scheme::Semver,
            "NuGet" | "Packagist" | "RubyGems" | "Maven" | "Hackage" | "CRAN" | "GHC" => Scheme::Generic,
            _ => return None,
        })
    }
}
