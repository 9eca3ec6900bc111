//! Python: `requirements.txt`, `Pipfile.lock`, `poetry.lock` (with `pyproject.toml`),
//! `uv.lock` and `pylock.toml`.

use std::collections::HashMap;
use std::path::Path;

use super::node::apply_direct;
use super::tree::{Node, parse_json};
use super::{LangType, Location, Package, ParseError, Relationship, package_id, read_optional};

/// PEP 503 normalisation: lower case, runs of `-`, `_`, `.` as one `-`.
#[must_use]
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.extend(c.to_lowercase());
    }
    out
}

fn toml_line(text: &str, e: &toml::de::Error) -> usize {
    e.span().map_or(0, |s| text.get(..s.start).map_or(0, |t| t.matches('\n').count() + 1))
}

/// Parses TOML into a table, the error naming its line.
pub(crate) fn parse_toml(text: &str, what: &str) -> Result<toml::Table, ParseError> {
    text.parse::<toml::Table>().map_err(|e| {
        let msg = e.message().to_owned();
        ParseError::new(toml_line(text, &e), format!("{what}: invalid TOML: {msg}"))
    })
}

fn tstr<'a>(t: &'a toml::Table, key: &str) -> &'a str {
    t.get(key).and_then(toml::Value::as_str).unwrap_or_default()
}

fn tables<'a>(t: &'a toml::Table, key: &str) -> impl Iterator<Item = &'a toml::Table> {
    t.get(key).and_then(toml::Value::as_array).into_iter().flatten().filter_map(toml::Value::as_table)
}

/// `requirements.txt`: pinned (`==`) requirements, one per line.
///
/// # Errors
/// Never in practice (lines that are not pinned requirements are skipped); kept for symmetry.
pub fn parse_requirements(text: &str) -> Result<Vec<Package>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let mut line = raw;
        if let Some(j) = line.find('#') {
            line = line.get(..j).unwrap_or_default();
        }
        if let Some(j) = line.find(" --") {
            line = line.get(..j).unwrap_or_default();
        }
        if let Some(j) = line.find(';') {
            line = line.get(..j).unwrap_or_default();
        }
        let line: String = line.trim().trim_end_matches('\\').chars().filter(|c| !c.is_whitespace()).collect();
        if line.is_empty() || line.starts_with('-') {
            continue;
        }
        let Some((name, version)) = line.split_once("==") else { continue };
        let version = version.trim_start_matches('=');
        let name = name.split('[').next().unwrap_or(name);
        let version = version.split(',').next().unwrap_or(version);
        if name.is_empty() || version.is_empty() {
            continue;
        }
        out.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            locations: vec![Location { start_line: i + 1, end_line: i + 1 }],
            ..Package::default()
        });
    }
    Ok(out)
}

/// `Pipfile.lock`: the `default` section (Trivy reads no other).
///
/// # Errors
/// [`ParseError`] for malformed JSON.
pub fn parse_pipenv(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, false)?;
    let mut out = Vec::new();
    for (name, dep) in root.get("default").map(Node::entries).unwrap_or_default() {
        let version = dep.str_of("version").trim_start_matches('=');
        if version.is_empty() {
            continue;
        }
        out.push(Package {
            name: name.clone(),
            version: version.to_owned(),
            locations: vec![Location { start_line: dep.line, end_line: dep.end_line }],
            ..Package::default()
        });
    }
    Ok(out)
}

fn py_id(name: &str, version: &str) -> String {
    package_id(LangType::Poetry, name, version)
}

/// `poetry.lock`.
///
/// # Errors
/// [`ParseError`] for malformed TOML.
pub fn parse_poetry(text: &str) -> Result<Vec<Package>, ParseError> {
    let t = parse_toml(text, "poetry.lock")?;
    let pkgs: Vec<&toml::Table> = tables(&t, "package").collect();
    let by_name: HashMap<String, String> =
        pkgs.iter().map(|p| (pep503(tstr(p, "name")), py_id(tstr(p, "name"), tstr(p, "version")))).collect();
    let mut out = Vec::new();
    for p in pkgs {
        let (name, version) = (tstr(p, "name"), tstr(p, "version"));
        if name.is_empty() || version.is_empty() {
            continue;
        }
        let mut depends_on: Vec<String> = p
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|d| d.keys().filter_map(|k| by_name.get(&pep503(k)).cloned()).collect())
            .unwrap_or_default();
        depends_on.sort();
        depends_on.dedup();
        out.push(Package {
            id: py_id(name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            dev: tstr(p, "category") == "dev",
            depends_on,
            ..Package::default()
        });
    }
    Ok(out)
}

fn requirement_name(spec: &str) -> String {
    let end = spec.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(spec.len());
    pep503(spec.get(..end).unwrap_or_default())
}

/// The poetry analyzer's use of `pyproject.toml`: direct dependencies (main and groups).
pub fn poetry_post(dir: &Path, pkgs: &mut [Package]) {
    let Some(t) = read_optional(&dir.join("pyproject.toml")).and_then(|s| s.parse::<toml::Table>().ok()) else {
        return;
    };
    let mut prod_names: Vec<String> = Vec::new();
    let mut dev_names: Vec<String> = Vec::new();
    let poetry = t.get("tool").and_then(|v| v.get("poetry"));
    if let Some(d) = poetry.and_then(|p| p.get("dependencies")).and_then(toml::Value::as_table) {
        prod_names.extend(d.keys().filter(|k| k.as_str() != "python").map(|k| pep503(k)));
    }
    if let Some(groups) = poetry.and_then(|p| p.get("group")).and_then(toml::Value::as_table) {
        for g in groups.values() {
            if let Some(d) = g.get("dependencies").and_then(toml::Value::as_table) {
                dev_names.extend(d.keys().map(|k| pep503(k)));
            }
        }
    }
    if let Some(d) = poetry.and_then(|p| p.get("dev-dependencies")).and_then(toml::Value::as_table) {
        dev_names.extend(d.keys().map(|k| pep503(k)));
    }
    if let Some(deps) = t.get("project").and_then(|p| p.get("dependencies")).and_then(toml::Value::as_array) {
        prod_names.extend(deps.iter().filter_map(toml::Value::as_str).map(requirement_name));
    }
    let ids = |names: &[String]| -> Vec<String> {
        pkgs.iter().filter(|p| names.contains(&pep503(&p.name))).map(|p| p.id.clone()).collect()
    };
    let (prod, dev) = (ids(&prod_names), ids(&dev_names));
    let dev_before: Vec<bool> = pkgs.iter().map(|p| p.dev).collect();
    apply_direct(pkgs, &prod, &dev);
    for (p, was) in pkgs.iter_mut().zip(dev_before) {
        p.dev |= was;
    }
}

/// `uv.lock`.
///
/// # Errors
/// [`ParseError`] for malformed TOML.
pub fn parse_uv(text: &str) -> Result<Vec<Package>, ParseError> {
    let t = parse_toml(text, "uv.lock")?;
    let pkgs: Vec<&toml::Table> = tables(&t, "package").collect();
    let mut by_name: HashMap<String, String> = HashMap::new();
    for p in &pkgs {
        by_name.entry(pep503(tstr(p, "name"))).or_insert_with(|| py_id(tstr(p, "name"), tstr(p, "version")));
    }
    let dep_ids = |list: Option<&toml::Value>| -> Vec<String> {
        list.and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(toml::Value::as_table)
            .filter_map(|d| match tstr(d, "version") {
                "" => by_name.get(&pep503(tstr(d, "name"))).cloned(),
                v => Some(py_id(tstr(d, "name"), v)),
            })
            .collect()
    };
    let is_root = |p: &toml::Table| {
        p.get("source")
            .and_then(toml::Value::as_table)
            .is_some_and(|s| s.get("virtual").or_else(|| s.get("editable")).and_then(toml::Value::as_str) == Some("."))
    };
    let mut out = Vec::new();
    let (mut prod, mut dev) = (Vec::new(), Vec::new());
    for p in &pkgs {
        let (name, version) = (tstr(p, "name"), tstr(p, "version"));
        if name.is_empty() {
            continue;
        }
        let mut depends_on = dep_ids(p.get("dependencies"));
        if let Some(opt) = p.get("optional-dependencies").and_then(toml::Value::as_table) {
            for v in opt.values() {
                depends_on.extend(dep_ids(Some(v)));
            }
        }
        let root = is_root(p);
        if root {
            prod.extend(depends_on.iter().cloned());
            if let Some(groups) = p.get("dev-dependencies").and_then(toml::Value::as_table) {
                for v in groups.values() {
                    dev.extend(dep_ids(Some(v)));
                }
            }
        }
        depends_on.sort();
        depends_on.dedup();
        out.push(Package {
            id: py_id(name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            relationship: if root { Relationship::Root } else { Relationship::Unknown },
            depends_on,
            ..Package::default()
        });
    }
    if out.iter().any(|p| p.relationship == Relationship::Root) {
        apply_direct(&mut out, &prod, &dev);
        let dev_ids: Vec<String> = out.iter().filter(|p| p.dev).map(|p| p.id.clone()).collect();
        for p in &mut out {
            if p.relationship == Relationship::Root {
                p.depends_on.retain(|d| !dev_ids.contains(d) || prod.contains(d));
            }
        }
    }
    Ok(out)
}

/// `pylock.toml` (PEP 751).
///
/// # Errors
/// [`ParseError`] for malformed TOML.
pub fn parse_pylock(text: &str) -> Result<Vec<Package>, ParseError> {
    let t = parse_toml(text, "pylock.toml")?;
    let pkgs: Vec<&toml::Table> = tables(&t, "packages").collect();
    let by_name: HashMap<String, String> =
        pkgs.iter().map(|p| (pep503(tstr(p, "name")), py_id(tstr(p, "name"), tstr(p, "version")))).collect();
    let mut out = Vec::new();
    for p in pkgs {
        let (name, version) = (tstr(p, "name"), tstr(p, "version"));
        if name.is_empty() || version.is_empty() {
            continue;
        }
        let mut depends_on: Vec<String> = tables(p, "dependencies")
            .filter_map(|d| match tstr(d, "version") {
                "" => by_name.get(&pep503(tstr(d, "name"))).cloned(),
                v => Some(py_id(tstr(d, "name"), v)),
            })
            .collect();
        depends_on.sort();
        depends_on.dedup();
        out.push(Package {
            id: py_id(name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            depends_on,
            ..Package::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn requirements() {
        let p = parse_requirements(
            "# c\nFlask==2.0.0 # x\nMarkupSafe>2.0.0\nfoo[bar]==1.0 ; python_version<'3'\n-r other.txt\n",
        )
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].name.as_str(), p[0].version.as_str(), p[0].locations[0].start_line), ("Flask", "2.0.0", 2));
        assert_eq!(p[1].name, "foo");
        assert!(p[0].id.is_empty());
    }

    #[test]
    fn bad_toml_names_the_line() {
        let e = parse_poetry("[[package]]\nname = \"a\"\nversion = \n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("invalid TOML"), "{e}");
        assert!(parse_uv("[[package]\n").is_err());
        assert!(parse_pylock("packages = 1\n").unwrap().is_empty());
    }

    #[test]
    fn pipenv_truncated() {
        let e = parse_pipenv("{\"default\": {\"a\": {\"version\": \"==1\"}").unwrap_err();
        assert_eq!(e.line, 1);
        let p = parse_pipenv("{\"default\": {\"a\": {\"version\": \"==1.0\"}}}").unwrap();
        assert_eq!(p[0].version, "1.0");
    }

    #[test]
    fn normalisation() {
        assert_eq!(pep503("Foo__Bar.baz"), "foo-bar-baz");
    }
}
