//! Go modules: `go.mod`, merged with `go.sum` for modules written before Go 1.17 (which list
//! no indirect requirements).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::{LangType, Package, ParseError, Relationship, package_id, read_optional};

fn go_id(name: &str, version: &str) -> String {
    package_id(LangType::GoModule, name, version)
}

fn tokens(s: &str) -> Vec<String> {
    s.split_whitespace().map(|t| t.trim_matches('"').trim_matches('`').to_owned()).collect()
}

/// `go.mod`: the main module (root), `require` (direct, or indirect with `// indirect`),
/// `replace` applied, local replacements dropped.
///
/// # Errors
/// [`ParseError`] for an unterminated block or a malformed directive.
pub fn parse_mod(text: &str) -> Result<Vec<Package>, ParseError> {
    let mut module = String::new();
    let mut requires: Vec<(String, String, bool)> = Vec::new();
    let mut replaces: Vec<(String, Option<String>, String, Option<String>)> = Vec::new();
    let mut block: Option<(String, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let (code, comment) = match raw.find("//") {
            Some(j) => (raw.get(..j).unwrap_or_default(), raw.get(j + 2..).unwrap_or_default()),
            None => (raw, ""),
        };
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        let indirect = comment.split(';').any(|c| c.trim() == "indirect");
        let (verb, rest) = match &block {
            Some((verb, _)) => {
                if code == ")" {
                    block = None;
                    continue;
                }
                (verb.clone(), code.to_owned())
            }
            None => {
                let (verb, rest) = code.split_once(char::is_whitespace).unwrap_or((code, ""));
                let rest = rest.trim();
                if rest == "(" {
                    block = Some((verb.to_owned(), lineno));
                    continue;
                }
                (verb.to_owned(), rest.to_owned())
            }
        };
        let t = tokens(&rest);
        match verb.as_str() {
            "module" => module = t.first().cloned().unwrap_or_default(),
            "require" => match (t.first(), t.get(1)) {
                (Some(n), Some(v)) => requires.push((n.clone(), v.clone(), indirect)),
                _ => return Err(ParseError::new(lineno, format!("go.mod: malformed require {rest:?}"))),
            },
            "replace" => {
                let Some(arrow) = t.iter().position(|x| x == "=>") else {
                    return Err(ParseError::new(lineno, format!("go.mod: replace without => in {rest:?}")));
                };
                let (left, right) = t.split_at(arrow);
                let right = right.get(1..).unwrap_or_default();
                let (Some(old), Some(new)) = (left.first(), right.first()) else {
                    return Err(ParseError::new(lineno, format!("go.mod: malformed replace {rest:?}")));
                };
                replaces.push((old.clone(), left.get(1).cloned(), new.clone(), right.get(1).cloned()));
            }
            _ => {}
        }
    }
    if let Some((verb, line)) = block {
        return Err(ParseError::new(line, format!("go.mod: {verb} block is not closed")));
    }
    let mut out = Vec::new();
    let mut direct_ids = Vec::new();
    for (name, version, indirect) in requires {
        let (mut name, mut version) = (name, version);
        let mut dropped = false;
        for (old, old_v, new, new_v) in &replaces {
            if *old == name && old_v.as_ref().is_none_or(|v| *v == version) {
                match new_v {
                    Some(nv) => {
                        name.clone_from(new);
                        version.clone_from(nv);
                    }
                    None => dropped = true, // a local directory
                }
            }
        }
        if dropped {
            continue;
        }
        let id = go_id(&name, &version);
        if !indirect {
            direct_ids.push(id.clone());
        }
        out.push(Package {
            id,
            name,
            version,
            relationship: if indirect { Relationship::Indirect } else { Relationship::Direct },
            ..Package::default()
        });
    }
    if !module.is_empty() {
        direct_ids.sort();
        out.push(Package {
            id: module.clone(),
            name: module,
            relationship: Relationship::Root,
            depends_on: direct_ids,
            ..Package::default()
        });
    }
    Ok(out)
}

/// `go.sum`: every module, its last (newest) version.
#[must_use]
pub fn parse_sum(text: &str) -> Vec<Package> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let (Some(n), Some(v)) = (f.first(), f.get(1)) {
            m.insert((*n).to_owned(), v.trim_end_matches("/go.mod").to_owned());
        }
    }
    m.into_iter()
        .map(|(name, version)| Package { id: go_id(&name, &version), name, version, ..Package::default() })
        .collect()
}

/// The gomod analyzer's merge of `go.sum` into a `go.mod` that has no indirect requirements
/// (written before Go 1.17).
pub fn gomod_post(dir: &Path, _mod_text: &str, pkgs: &mut Vec<Package>) {
    if pkgs.iter().any(|p| p.relationship == Relationship::Indirect) {
        return;
    }
    let Some(sum) = read_optional(&dir.join("go.sum")) else { return };
    let known: HashMap<String, ()> = pkgs.iter().map(|p| (p.name.clone(), ())).collect();
    for mut p in parse_sum(&sum) {
        if known.contains_key(&p.name) {
            continue;
        }
        p.relationship = Relationship::Indirect;
        pkgs.push(p);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn go_mod() {
        let p = parse_mod(
            "module m\n\nrequire (\n\ta v1.0.0\n\tb v2.0.0+incompatible // indirect\n\tc v1.0.0\n)\nrequire d v0.1.0\nreplace c => ../c\nreplace d v0.1.0 => e v0.2.0\n",
        )
        .unwrap();
        let ids: Vec<&str> = p.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["a@v1.0.0", "b@v2.0.0+incompatible", "e@v0.2.0", "m"]);
        assert_eq!(p[1].relationship, Relationship::Indirect);
        assert_eq!(p[3].relationship, Relationship::Root);
        assert_eq!(parse_mod("require (\n a v1\n").unwrap_err().line, 1);
        assert!(parse_mod("replace a\n").is_err());
    }

    #[test]
    fn go_sum_last_version() {
        let p = parse_sum("x v1.0.0/go.mod h1:a\nx v1.1.0 h1:b\nx v1.1.0/go.mod h1:c\n");
        assert_eq!(p[0].version, "v1.1.0");
    }
}
