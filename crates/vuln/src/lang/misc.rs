//! Cargo (`Cargo.lock` with `Cargo.toml`), Composer (`composer.lock` with `composer.json`, and
//! `vendor/composer/installed.json`), Conan (`conan.lock`), Swift (`Package.resolved`),
//! CocoaPods (`Podfile.lock`), Dart (`pubspec.lock`) and Elixir (`mix.lock`).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::python::parse_toml;
use super::tree::{Node, parse_json, parse_yaml};
use super::{LangType, Location, Package, ParseError, Relationship, dedup_by_id, package_id, read_optional};
use crate::version::npm;

fn loc(n: &Node) -> Location {
    Location { start_line: n.line, end_line: n.end_line }
}

// ---------------------------------------------------------------------------------------------
// Cargo

/// Line ranges of `[[package]]` blocks: header line to the last non-blank line of the block.
fn cargo_blocks(text: &str) -> Vec<Location> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut last = 0usize;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            if let Some(s) = start.take() {
                out.push(Location { start_line: s, end_line: last });
            }
            if t == "[[package]]" {
                start = Some(i + 1);
                last = i + 1;
            }
            continue;
        }
        if !t.is_empty() && start.is_some() {
            last = i + 1;
        }
    }
    if let Some(s) = start {
        out.push(Location { start_line: s, end_line: last });
    }
    out
}

/// `Cargo.lock`.
///
/// # Errors
/// [`ParseError`] for malformed TOML.
pub fn parse_cargo_lock(text: &str) -> Result<Vec<Package>, ParseError> {
    let t = parse_toml(text, "Cargo.lock")?;
    let blocks = cargo_blocks(text);
    let pkgs: Vec<&toml::Table> = t
        .get("package")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_table)
        .collect();
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for p in &pkgs {
        let n = p.get("name").and_then(toml::Value::as_str).unwrap_or_default();
        let v = p.get("version").and_then(toml::Value::as_str).unwrap_or_default();
        by_name.entry(n).or_default().push(v);
    }
    let mut out = Vec::new();
    for (i, p) in pkgs.iter().enumerate() {
        let name = p.get("name").and_then(toml::Value::as_str).unwrap_or_default();
        let version = p.get("version").and_then(toml::Value::as_str).unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        let mut depends_on: Vec<String> = p
            .get("dependencies")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(toml::Value::as_str)
            .filter_map(|d| {
                let mut f = d.split_whitespace();
                let dn = f.next()?;
                let dv = match f.next() {
                    Some(v) => v,
                    None => by_name.get(dn).and_then(|v| v.first()).copied()?,
                };
                Some(package_id(LangType::Cargo, dn, dv))
            })
            .collect();
        depends_on.sort();
        depends_on.dedup();
        out.push(Package {
            id: package_id(LangType::Cargo, name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            depends_on,
            locations: blocks.get(i).copied().into_iter().collect(),
            ..Package::default()
        });
    }
    dedup_by_id(&mut out);
    Ok(out)
}

fn cargo_req_matches(version: &str, req: &str) -> bool {
    let parts: Vec<String> = req
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| if p.starts_with(|c: char| c.is_ascii_digit()) { format!("^{p}") } else { p.to_owned() })
        .collect();
    let range = if parts.is_empty() { "*".to_owned() } else { parts.join(" ") };
    npm::Range::satisfies(version, &range, npm::Options::default())
}

fn cargo_deps(t: &toml::Table, out: &mut Vec<(String, String)>) {
    let mut add = |deps: Option<&toml::Value>| {
        for (name, spec) in deps.and_then(toml::Value::as_table).into_iter().flatten() {
            let (pkg_name, req) = match spec {
                toml::Value::String(s) => (name.clone(), s.clone()),
                toml::Value::Table(tb) => (
                    tb.get("package").and_then(toml::Value::as_str).unwrap_or(name).to_owned(),
                    tb.get("version").and_then(toml::Value::as_str).unwrap_or("*").to_owned(),
                ),
                _ => (name.clone(), "*".to_owned()),
            };
            out.push((pkg_name, req));
        }
    };
    add(t.get("dependencies"));
    for target in t.get("target").and_then(toml::Value::as_table).into_iter().flatten().map(|(_, v)| v) {
        add(target.get("dependencies"));
    }
    add(t.get("workspace").and_then(|w| w.get("dependencies")));
}

fn cargo_pkg_id(t: &toml::Table, workspace_version: &str) -> Option<String> {
    let p = t.get("package")?;
    let name = p.get("name").and_then(toml::Value::as_str)?;
    let version = match p.get("version") {
        Some(toml::Value::String(s)) => s.clone(),
        _ => workspace_version.to_owned(),
    };
    Some(package_id(LangType::Cargo, name, &version))
}

/// The cargo analyzer's use of `Cargo.toml`: root and workspace packages, direct dependencies
/// (dev-dependencies are not), and only what is reachable from them kept.
pub fn cargo_post(dir: &Path, pkgs: &mut Vec<Package>) {
    let Some(t) = read_optional(&dir.join("Cargo.toml")).and_then(|s| s.parse::<toml::Table>().ok()) else {
        return;
    };
    let ws_version = t
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(toml::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let root = cargo_pkg_id(&t, &ws_version);
    let mut deps = Vec::new();
    cargo_deps(&t, &mut deps);
    let mut workspaces = Vec::new();
    for m in t.get("workspace").and_then(|w| w.get("members")).and_then(toml::Value::as_array).into_iter().flatten() {
        let Some(m) = m.as_str() else { continue };
        if m.contains('*') || m.contains("..") {
            continue;
        }
        if let Some(mt) = read_optional(&dir.join(m).join("Cargo.toml")).and_then(|s| s.parse::<toml::Table>().ok()) {
            if let Some(id) = cargo_pkg_id(&mt, &ws_version) {
                workspaces.push(id);
            }
            cargo_deps(&mt, &mut deps);
        }
    }
    let mut keep: HashSet<String> = HashSet::new();
    let mut direct: Vec<String> = Vec::new();
    for (name, req) in &deps {
        if let Some(p) = pkgs.iter().find(|p| p.name == *name && cargo_req_matches(&p.version, req)) {
            direct.push(p.id.clone());
        }
    }
    let by_id: HashMap<String, Vec<String>> = pkgs.iter().map(|p| (p.id.clone(), p.depends_on.clone())).collect();
    let mut stack = direct.clone();
    while let Some(id) = stack.pop() {
        if keep.insert(id.clone())
            && let Some(d) = by_id.get(&id)
        {
            stack.extend(d.iter().cloned());
        }
    }
    let reachable = keep.clone();
    if let Some(r) = &root {
        keep.insert(r.clone());
    }
    keep.extend(workspaces.iter().cloned());
    pkgs.retain(|p| keep.contains(&p.id));
    for p in pkgs.iter_mut() {
        if root.as_ref() == Some(&p.id) || workspaces.contains(&p.id) {
            p.relationship = if root.as_ref() == Some(&p.id) { Relationship::Root } else { Relationship::Workspace };
            p.depends_on.retain(|d| reachable.contains(d));
        } else if direct.contains(&p.id) {
            p.relationship = Relationship::Direct;
        } else {
            p.relationship = Relationship::Indirect;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Composer

/// `composer.lock` (`packages`, and `packages-dev` as development dependencies) or
/// `installed.json` (Composer 1 array or Composer 2 `{packages}`).
///
/// # Errors
/// [`ParseError`] for malformed JSON.
pub fn parse_composer(text: &str, kind: LangType) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, false)?;
    let mut list: Vec<(&Node, bool)> = Vec::new();
    match &root.val {
        super::tree::Val::Arr(items) => list.extend(items.iter().map(|n| (n, false))),
        _ => {
            list.extend(root.get("packages").map(Node::items).unwrap_or_default().iter().map(|n| (n, false)));
            if kind == LangType::Composer {
                list.extend(root.get("packages-dev").map(Node::items).unwrap_or_default().iter().map(|n| (n, true)));
            }
        }
    }
    let versions: HashMap<&str, &str> = list.iter().map(|(n, _)| (n.str_of("name"), n.str_of("version"))).collect();
    let mut out = Vec::new();
    for (n, dev) in list {
        let (name, version) = (n.str_of("name"), n.str_of("version"));
        if name.is_empty() || version.is_empty() {
            continue;
        }
        let mut depends_on: Vec<String> = n
            .get("require")
            .map(Node::entries)
            .unwrap_or_default()
            .iter()
            .filter_map(|(d, _)| versions.get(d.as_str()).map(|v| package_id(kind, d, v)))
            .collect();
        depends_on.sort();
        depends_on.dedup();
        let licenses: Vec<String> = match n.get("license") {
            Some(l) => match l.as_str() {
                // a string may name several (`MIT or Apache-2.0`), as Trivy's `SplitLicenses` reads it
                Some(s) => crate::license::split(s),
                None => l.items().iter().filter_map(Node::as_str).map(str::to_owned).collect(),
            },
            None => Vec::new(),
        };
        out.push(Package {
            id: package_id(kind, name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            dev,
            licenses,
            depends_on,
            locations: vec![loc(n)],
            ..Package::default()
        });
    }
    Ok(out)
}

/// The composer analyzer's use of `composer.json`: `require` names direct dependencies.
pub fn composer_post(dir: &Path, pkgs: &mut [Package]) {
    let Some(cj) = read_optional(&dir.join("composer.json")).and_then(|t| parse_json(&t, false).ok()) else {
        return;
    };
    let direct: HashSet<&str> =
        cj.get("require").map(Node::entries).unwrap_or_default().iter().map(|(k, _)| k.as_str()).collect();
    for p in pkgs.iter_mut() {
        p.relationship = if direct.contains(p.name.as_str()) { Relationship::Direct } else { Relationship::Indirect };
    }
}

// ---------------------------------------------------------------------------------------------
// Conan

/// `conan.lock` (Conan 1 `graph_lock` and Conan 2 `requires`).
///
/// # Errors
/// [`ParseError`] for malformed JSON.
pub fn parse_conan(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, false)?;
    let split_ref = |r: &str| -> Option<(String, String)> {
        let r = r.split('#').next().unwrap_or(r);
        let r = r.split('@').next().unwrap_or(r);
        let (n, v) = r.split_once('/')?;
        (!n.is_empty() && !v.is_empty()).then(|| (n.to_owned(), v.to_owned()))
    };
    let mut out = Vec::new();
    if let Some(nodes) = root.get("graph_lock").and_then(|g| g.get("nodes")) {
        let refs: HashMap<&str, (String, String)> =
            nodes.entries().iter().filter_map(|(k, n)| Some((k.as_str(), split_ref(n.str_of("ref"))?))).collect();
        let mut direct: HashSet<&str> = HashSet::new();
        for (k, n) in nodes.entries() {
            if !refs.contains_key(k.as_str()) {
                for r in n.get("requires").map(Node::items).unwrap_or_default() {
                    if let Some(s) = r.as_str() {
                        direct.insert(s);
                    }
                }
            }
        }
        for (k, n) in nodes.entries() {
            let Some((name, version)) = refs.get(k.as_str()) else { continue };
            let depends_on: Vec<String> = n
                .get("requires")
                .map(Node::items)
                .unwrap_or_default()
                .iter()
                .filter_map(|r| refs.get(r.as_str()?))
                .map(|(dn, dv)| package_id(LangType::Conan, dn, dv))
                .collect();
            out.push(Package {
                id: package_id(LangType::Conan, name, version),
                name: name.clone(),
                version: version.clone(),
                relationship: if direct.contains(k.as_str()) { Relationship::Direct } else { Relationship::Indirect },
                depends_on,
                locations: vec![loc(n)],
                ..Package::default()
            });
        }
    } else {
        for key in ["requires", "build_requires"] {
            for r in root.get(key).map(Node::items).unwrap_or_default() {
                let Some((name, version)) = r.as_str().and_then(split_ref) else { continue };
                out.push(Package {
                    id: package_id(LangType::Conan, &name, &version),
                    name,
                    version,
                    dev: key == "build_requires",
                    locations: vec![loc(r)],
                    ..Package::default()
                });
            }
        }
    }
    dedup_by_id(&mut out);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Swift, CocoaPods, pub, mix

/// `Package.resolved` (versions 1 to 3).
///
/// # Errors
/// [`ParseError`] for malformed JSON.
pub fn parse_swift(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, false)?;
    let pins = root.get("object").and_then(|o| o.get("pins")).or_else(|| root.get("pins"));
    let mut out = Vec::new();
    for pin in pins.map(Node::items).unwrap_or_default() {
        let url = match pin.str_of("repositoryURL") {
            "" => pin.str_of("location"),
            u => u,
        };
        let name = url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches(".git");
        let state = pin.get("state");
        let version =
            state.map(|s| s.str_of("version")).filter(|v| !v.is_empty()).or_else(|| state.map(|s| s.str_of("branch")));
        let version = version.unwrap_or_default();
        if name.is_empty() || version.is_empty() {
            continue;
        }
        out.push(Package {
            id: package_id(LangType::Swift, name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            locations: vec![loc(pin)],
            ..Package::default()
        });
    }
    Ok(out)
}

fn pod_name_version(s: &str) -> Option<(String, String)> {
    let (name, rest) = s.trim().split_once(" (")?;
    let version = rest.strip_suffix(')')?;
    Some((name.trim().to_owned(), version.trim().to_owned()))
}

/// `Podfile.lock`: the `PODS` section.
///
/// # Errors
/// [`ParseError`] for malformed YAML.
pub fn parse_podfile_lock(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_yaml(text)?;
    let mut entries: Vec<(String, String, Vec<String>)> = Vec::new();
    for item in root.get("PODS").map(Node::items).unwrap_or_default() {
        let (head, deps) = match item.as_str() {
            Some(s) => (s.to_owned(), Vec::new()),
            None => match item.entries().first() {
                Some((k, v)) => (k.clone(), v.items().iter().filter_map(Node::as_str).map(str::to_owned).collect()),
                None => continue,
            },
        };
        let Some((name, version)) = pod_name_version(&head) else { continue };
        entries.push((name, version, deps));
    }
    let versions: HashMap<String, String> = entries.iter().map(|(n, v, _)| (n.clone(), v.clone())).collect();
    Ok(entries
        .iter()
        .map(|(name, version, deps)| {
            let mut depends_on: Vec<String> = deps
                .iter()
                .filter_map(|d| {
                    let dn = d.split(" (").next().unwrap_or(d).trim();
                    versions.get(dn).map(|v| package_id(LangType::Cocoapods, dn, v))
                })
                .collect();
            depends_on.sort();
            Package {
                id: package_id(LangType::Cocoapods, name, version),
                name: name.clone(),
                version: version.clone(),
                depends_on,
                ..Package::default()
            }
        })
        .collect())
}

/// `pubspec.lock`.
///
/// # Errors
/// [`ParseError`] for malformed YAML.
pub fn parse_pubspec_lock(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_yaml(text)?;
    let mut out = Vec::new();
    for (name, p) in root.get("packages").map(Node::entries).unwrap_or_default() {
        let version = p.str_of("version");
        if version.is_empty() {
            continue;
        }
        let dep = p.str_of("dependency");
        out.push(Package {
            id: package_id(LangType::Pub, name, version),
            name: name.clone(),
            version: version.to_owned(),
            relationship: if dep.starts_with("direct") { Relationship::Direct } else { Relationship::Indirect },
            dev: dep == "direct dev",
            ..Package::default()
        });
    }
    Ok(out)
}

/// `mix.lock`: one `"name": {:hex, :name, "version", …}` per line.
///
/// # Errors
/// Never in practice (lines that are not hex packages are skipped); kept for symmetry.
pub fn parse_mix_lock(text: &str) -> Result<Vec<Package>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some((_, rest)) = line.split_once(": {:hex, :") else { continue };
        let mut f = rest.splitn(3, ',');
        let (Some(name), Some(version)) = (f.next(), f.next()) else { continue };
        let name = name.trim();
        let version = version.trim().trim_matches('"');
        if name.is_empty() || version.is_empty() {
            continue;
        }
        out.push(Package {
            id: package_id(LangType::Hex, name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            locations: vec![Location { start_line: i + 1, end_line: i + 1 }],
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
    fn cargo_lock_blocks_and_deps() {
        let lock = "version = 3\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\ndependencies = [\n \"b\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"0.1.0\"\n";
        let p = parse_cargo_lock(lock).unwrap();
        assert_eq!(p[0].depends_on, vec!["b@0.1.0"]);
        assert_eq!(p[0].locations[0], Location { start_line: 3, end_line: 8 });
        assert_eq!(p[1].locations[0], Location { start_line: 10, end_line: 12 });
        let e = parse_cargo_lock("[[package]]\nname = \"a\nversion = \"1\"\n").unwrap_err();
        assert!(e.line >= 2 && e.message.contains("Cargo.lock"), "{e}");
        assert!(cargo_req_matches("1.7.3", "=1.7.3"));
        assert!(cargo_req_matches("1.0.2", "1.*"));
        assert!(!cargo_req_matches("2.7.4", "1.*"));
    }

    #[test]
    fn small_formats() {
        let m = parse_mix_lock("%{\n  \"plug\": {:hex, :plug, \"1.14.0\", \"x\", [:mix], [], \"hexpm\", \"y\"},\n}")
            .unwrap();
        assert_eq!((m[0].id.as_str(), m[0].locations[0].start_line), ("plug@1.14.0", 2));
        let pods = parse_podfile_lock("PODS:\n  - A (1.0):\n    - B (~> 2)\n  - B (2.1)\n").unwrap();
        assert_eq!(pods[0].depends_on, vec!["B@2.1"]);
        let pubs = parse_pubspec_lock("packages:\n  http:\n    dependency: \"direct main\"\n    version: \"0.13.2\"\n")
            .unwrap();
        assert_eq!(pubs[0].relationship, Relationship::Direct);
        assert!(parse_pubspec_lock("packages: {\n").is_err());
        let s = parse_swift(
            "{\"pins\": [{\"location\": \"https://github.com/a/b.git\", \"state\": {\"version\": \"1.0\"}}]}",
        )
        .unwrap();
        assert_eq!(s[0].id, "github.com/a/b@1.0");
        assert!(parse_conan("{\"graph_lock\": ").is_err());
        assert!(
            parse_composer("[{\"name\": \"a/b\", \"version\": \"1\"}]", LangType::ComposerVendor).unwrap().len() == 1
        );
    }
}
