//! License names as Trivy reports them: `normalize` turns the names packages declare (`Apache
//! 2.0`, `BSD License`, `GPLv2+`, `The MIT License`) into SPDX identifiers the way Trivy's
//! `licensing.Normalize` does (its mapping table, [`crate::license_map`]; names it does not know
//! are kept, trimmed), and `split` cuts a declared string into names the way its
//! `licensing.SplitLicenses` does.

use std::sync::LazyLock;

use regex::Regex;

use crate::license_map::{GNU, MAPPING};

/// What Trivy prefixes to a declared string that is license text, not a name.
pub const TEXT_PREFIX: &str = "text://";

fn re(p: &str) -> Option<Regex> {
    Regex::new(p).ok()
}

/// A version at the end of a name: `GPL V2`, `APACHE LICENSE, VERSION 2.0`, `MPL-1.1`.
static VERSION_SUFFIX: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"([A-UW-Z)])( LICENSE)?\s*[,(-]?\s*(V|V\.|VER|VER\.|VERSION|VERSION-|-)?\s*([1-9](\.\d)*)[)]?$")
});
/// The separators `SplitLicenses` cuts at: `, `, ` or `, ` and ` (`_or_` too).
static SPLIT: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"(,?[_ ]+(?:or|and)[_ ]+)|(,[ ]*)"));

/// Upper case, one space, no `THE `/` LICENSE` decorations, `+`/`-or-later` noted, the version
/// joined by `-`: the key of the mapping table.
fn standardize(name: &str) -> (String, bool) {
    let mut n = name.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
    if n.starts_with("HTTP") {
        return (n, false);
    }
    n = n.replace("LICENCE", "LICENSE");
    let strip_prefix = |n: &mut String, p: &str| {
        if let Some(r) = n.strip_prefix(p) {
            *n = r.to_owned();
        }
    };
    let strip_suffix = |n: &mut String, s: &str| {
        if let Some(r) = n.strip_suffix(s) {
            *n = r.to_owned();
        }
    };
    strip_prefix(&mut n, "THE ");
    for s in [" LICENSE", " LICENSED", "-LICENSE", "-LICENSED"] {
        strip_suffix(&mut n, s);
    }
    if n != "UNLICENSE" {
        strip_suffix(&mut n, "LICENSE");
    }
    if n != "UNLICENSED" {
        strip_suffix(&mut n, "LICENSED");
    }
    let mut plus = false;
    for s in ["+", "-OR-LATER", " OR LATER"] {
        if let Some(r) = n.strip_suffix(s) {
            n = r.to_owned();
            plus = true;
        }
    }
    for s in ["-ONLY", " ONLY"] {
        strip_suffix(&mut n, s);
    }
    if let Some(r) = VERSION_SUFFIX.as_ref() {
        n = r.replace(&n, "${1}-${4}").into_owned();
    }
    (n, plus)
}

/// How an SPDX identifier is written with or without "or later": GNU licenses as `-only` or
/// `-or-later`, others with a `+`.
fn spdx(id: &str, plus: bool) -> String {
    if GNU.contains(&id) {
        format!("{id}{}", if plus { "-or-later" } else { "-only" })
    } else if plus {
        format!("{id}+")
    } else {
        id.to_owned()
    }
}

/// A declared license name as Trivy reports it: the SPDX identifier its mapping gives, or the
/// name as declared (trimmed).
#[must_use]
pub fn normalize(name: &str) -> String {
    let name = name.trim();
    let (key, plus) = standardize(name);
    match MAPPING.binary_search_by(|(k, _, _)| (*k).cmp(key.as_str())) {
        Ok(i) => match MAPPING.get(i) {
            Some((_, id, p)) => spdx(id, plus || *p),
            None => name.to_owned(),
        },
        Err(_) => name.to_owned(),
    }
}

/// A version anywhere in a string, any case (Trivy's `versionRegexp`).
static VERSION_ANY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?i)([A-UW-Z)])( LICENSE)?\s*[,(-]?\s*(V|V\.|VER|VER\.|VERSION|VERSION-|-)?\s*([1-9](\.\d)*)[)]?")
});

/// Trivy's `LaxSplitLicenses`, for apk's `L:` field: versions joined to their names by `-`,
/// then cut at white space, `AND`/`OR` and parentheses dropped, each name [`normalize`]d.
#[must_use]
pub fn lax_split(s: &str) -> Vec<String> {
    let joined = match VERSION_ANY.as_ref() {
        Some(re) => re.replace_all(s, "${1}-${4}").into_owned(),
        None => s.to_owned(),
    };
    joined
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '(' || c == ')'))
        .filter(|w| !w.is_empty() && *w != "AND" && *w != "OR")
        .map(normalize)
        .collect()
}

/// Trivy's `SplitLicenses`: a declared license string cut into names at commas and ` or `/
/// ` and ` (`Apache License, Version 2.0` and `… or later (…)` kept whole, the Python
/// classifier names that contain ` or `/` and ` kept whole); text that looks like license text
/// (URLs, `(c)`, `permission is`, …) is one item prefixed `text://`.
#[must_use]
pub fn split(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    let lower = s.to_lowercase();
    const TEXT: &[&str] = &[
        "http://",
        "https://",
        "(c)",
        "as-is",
        ";",
        "hereby",
        "permission to use",
        "permission is",
        "use in source",
        "use, copy, modify",
        "using",
    ];
    if TEXT.iter().any(|k| lower.contains(k)) {
        return vec![format!("{TEXT_PREFIX}{s}")];
    }
    let Some(sep) = SPLIT.as_ref() else { return vec![s.to_owned()] };
    let mut out: Vec<String> = Vec::new();
    for part in sep.split(s) {
        let first = part.to_lowercase();
        let first = first.split(' ').next().unwrap_or_default().to_owned();
        if let Some(last) = out.last_mut() {
            if first == "ver" || first == "version" {
                last.push_str(", ");
                last.push_str(part);
                continue;
            }
            if first == "later" {
                last.push_str(" or ");
                last.push_str(part);
                continue;
            }
            let exception = match first.as_str() {
                "lesser" => Some("GNU Library or Lesser General Public License (LGPL)"),
                "distribution" => Some("Common Development and Distribution License 1.0 (CDDL-1.0)"),
                "disclaimer" => Some("Historical Permission Notice and Disclaimer (HPND)"),
                _ => None,
            };
            if let Some(lic) = exception {
                if lic == format!("{last} or {part}") || lic == format!("{last} and {part}") {
                    *last = lic.to_owned();
                }
                continue;
            }
        }
        out.push(part.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn apk_license_fields_split_laxly() {
        assert_eq!(lax_split("MIT BSD GPL2+"), ["MIT", "BSD-3-Clause", "GPL-2.0-or-later"]);
        assert_eq!(lax_split("( Apache-2.0 OR MIT ) AND MPL-2.0"), ["Apache-2.0", "MIT", "MPL-2.0"]);
        assert_eq!(lax_split("GPL2"), ["GPL-2.0-only"]);
        assert!(lax_split("").is_empty());
    }

    #[test]
    fn names_become_spdx_identifiers() {
        for (declared, want) in [
            ("MIT", "MIT"),
            ("The MIT License", "MIT"),
            ("Apache 2.0", "Apache-2.0"),
            ("Apache License, Version 2.0", "Apache-2.0"),
            ("apache-2.0", "Apache-2.0"),
            ("BSD License", "BSD-3-Clause"),
            ("GPLv2+", "GPL-2.0-or-later"),
            ("GPL-2", "GPL-2.0-only"),
            ("LGPL", "LGPL-2.0-or-later"),
            ("  Python Software Foundation License ", "Python Software Foundation License"),
            ("Unlicense", "Unlicense"),
            ("not a known license", "not a known license"),
        ] {
            assert_eq!(normalize(declared), want, "{declared:?}");
        }
        let keys: Vec<&str> = MAPPING.iter().map(|(k, _, _)| *k).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "the table is sorted");
    }

    #[test]
    fn declared_strings_split_as_trivy_splits_them() {
        assert_eq!(split("GPL-1+,GPL-2"), ["GPL-1+", "GPL-2"]);
        assert_eq!(split("GPL-1+ or Artistic or Artistic-dist"), ["GPL-1+", "Artistic", "Artistic-dist"]);
        assert_eq!(split("LGPLv3+_or_GPLv2+"), ["LGPLv3+", "GPLv2+"]);
        assert_eq!(
            split("BSD 3-Clause License or Apache License, Version 2.0"),
            ["BSD 3-Clause License", "Apache License, Version 2.0"]
        );
        assert_eq!(
            split("GNU Lesser General Public License v2 or later (LGPLv2+)"),
            ["GNU Lesser General Public License v2 or later (LGPLv2+)"]
        );
        assert_eq!(
            split("GNU Library or Lesser General Public License (LGPL)"),
            ["GNU Library or Lesser General Public License (LGPL)"]
        );
        assert_eq!(split("see https://example.com/license"), ["text://see https://example.com/license"]);
        assert!(split("").is_empty());
    }
}
