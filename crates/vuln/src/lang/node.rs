//! npm (`package-lock.json` v1–v3), yarn (`yarn.lock` classic and berry), pnpm
//! (`pnpm-lock.yaml` v5–v9) and bun (`bun.lock`), with licenses from `node_modules`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::tree::{Node, parse_json, parse_yaml};
use super::{LangType, Location, Package, ParseError, Relationship, dedup_by_id, package_id, read_optional};

fn npm_id(name: &str, version: &str) -> String {
    package_id(LangType::Npm, name, version)
}

fn loc(n: &Node) -> Location {
    Location { start_line: n.line, end_line: n.end_line }
}

fn push_merged(pkgs: &mut Vec<Package>, index: &mut HashMap<String, usize>, p: Package) {
    match index.get(&p.id).and_then(|&i| pkgs.get_mut(i)) {
        Some(existing) => {
            for l in p.locations {
                if !existing.locations.contains(&l) {
                    existing.locations.push(l);
                }
            }
            existing.locations.sort();
            existing.dev &= p.dev;
            for d in p.depends_on {
                if !existing.depends_on.contains(&d) {
                    existing.depends_on.push(d);
                }
            }
            existing.depends_on.sort();
        }
        None => {
            index.insert(p.id.clone(), pkgs.len());
            pkgs.push(p);
        }
    }
}

/// `package-lock.json`, lockfile versions 1 to 3.
///
/// # Errors
/// [`ParseError`] for malformed JSON.
pub fn parse_npm(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, false)?;
    if !root.is_obj() {
        return Err(ParseError::new(root.line, "package-lock.json: the top level is not an object"));
    }
    let mut pkgs = Vec::new();
    let mut index = HashMap::new();
    if let Some(packages) = root.get("packages").filter(|p| p.is_obj()) {
        parse_npm_v2(packages, &mut pkgs, &mut index);
    } else if let Some(deps) = root.get("dependencies") {
        let top: HashMap<&str, &str> = deps.entries().iter().map(|(k, v)| (k.as_str(), v.str_of("version"))).collect();
        parse_npm_v1(deps, &[&top], &mut pkgs, &mut index, 0);
    }
    Ok(pkgs)
}

fn parse_npm_v1<'a>(
    deps: &'a Node,
    scopes: &[&HashMap<&'a str, &'a str>],
    pkgs: &mut Vec<Package>,
    index: &mut HashMap<String, usize>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    for (name, dep) in deps.entries() {
        let version = dep.str_of("version");
        let nested: HashMap<&str, &str> = dep
            .get("dependencies")
            .map(|d| d.entries().iter().map(|(k, v)| (k.as_str(), v.str_of("version"))).collect())
            .unwrap_or_default();
        let mut chain: Vec<&HashMap<&str, &str>> = vec![&nested];
        chain.extend_from_slice(scopes);
        let mut depends_on: Vec<String> = dep
            .get("requires")
            .map(|r| {
                r.entries()
                    .iter()
                    .filter_map(|(n, _)| chain.iter().find_map(|s| s.get(n.as_str())).map(|v| npm_id(n, v)))
                    .collect()
            })
            .unwrap_or_default();
        depends_on.sort();
        depends_on.dedup();
        let p = Package {
            id: npm_id(name, version),
            name: name.clone(),
            version: version.to_owned(),
            dev: dep.get("dev").is_some_and(Node::is_true),
            depends_on,
            locations: vec![loc(dep)],
            ..Package::default()
        };
        push_merged(pkgs, index, p);
        if let Some(d) = dep.get("dependencies") {
            parse_npm_v1(d, &chain, pkgs, index, depth + 1);
        }
    }
}

fn name_from_path(path: &str) -> &str {
    path.rsplit_once("node_modules/").map_or(path, |(_, n)| n)
}

fn parse_npm_v2(packages: &Node, pkgs: &mut Vec<Package>, index: &mut HashMap<String, usize>) {
    let by_path: HashMap<&str, &Node> = packages.entries().iter().map(|(k, v)| (k.as_str(), v)).collect();
    let dep_keys = ["dependencies", "optionalDependencies", "peerDependencies", "devDependencies"];
    let mut direct: HashSet<String> = HashSet::new();
    if let Some(root) = by_path.get("") {
        for key in dep_keys {
            for (n, _) in root.get(key).map(Node::entries).unwrap_or_default() {
                direct.insert(format!("node_modules/{n}"));
            }
        }
    }
    let resolve = |from: &str, name: &str| -> Option<String> {
        let mut base = from.to_owned();
        loop {
            let candidate =
                if base.is_empty() { format!("node_modules/{name}") } else { format!("{base}/node_modules/{name}") };
            if let Some(n) = by_path.get(candidate.as_str()) {
                let target =
                    if n.get("link").is_some_and(Node::is_true) { n.str_of("resolved") } else { candidate.as_str() };
                let node = by_path.get(target).copied().unwrap_or(n);
                let v = node.str_of("version");
                return Some(npm_id(name_from_path(&candidate), v));
            }
            if base.is_empty() {
                return None;
            }
            base = match base.rfind("/node_modules/") {
                Some(i) => base.get(..i).unwrap_or_default().to_owned(),
                None => String::new(),
            };
        }
    };
    for (path, node) in packages.entries() {
        if path.is_empty() || node.get("link").is_some_and(Node::is_true) || !path.contains("node_modules/") {
            continue;
        }
        let name = match node.str_of("name") {
            "" => name_from_path(path),
            n => n,
        };
        let version = node.str_of("version");
        let mut depends_on: Vec<String> = Vec::new();
        for key in ["dependencies", "optionalDependencies", "peerDependencies"] {
            for (n, _) in node.get(key).map(Node::entries).unwrap_or_default() {
                if let Some(id) = resolve(path, n) {
                    depends_on.push(id);
                }
            }
        }
        depends_on.sort();
        depends_on.dedup();
        let relationship = if direct.contains(path.as_str()) { Relationship::Direct } else { Relationship::Indirect };
        let p = Package {
            id: npm_id(name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            relationship,
            dev: node.get("dev").is_some_and(Node::is_true),
            depends_on,
            locations: vec![loc(node)],
            ..Package::default()
        };
        push_merged(pkgs, index, p);
    }
}

/// Licenses of a `package.json` (`license` as a string or `{type}`, or `licenses`).
pub(crate) fn package_json_licenses(pj: &Node) -> Vec<String> {
    let one = |n: &Node| -> Option<String> {
        match n.as_str() {
            Some(s) if !s.is_empty() => Some(s.to_owned()),
            _ => Some(n.str_of("type").to_owned()).filter(|s| !s.is_empty()),
        }
    };
    if let Some(l) = pj.get("license").and_then(one) {
        return vec![l];
    }
    pj.get("licenses").map(|ls| ls.items().iter().filter_map(one).collect()).unwrap_or_default()
}

/// `name@version` → licenses of every `package.json` under `dir/node_modules`.
pub(crate) fn node_modules_licenses(dir: &Path) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    let mut stack = vec![(dir.join("node_modules"), 0usize)];
    let mut seen = 0usize;
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            seen += 1;
            if seen > 200_000 {
                return out;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && depth < 24 {
                stack.push((e.path(), depth + 1));
            } else if ft.is_file() && e.file_name() == "package.json" {
                let Some(text) = read_optional(&e.path()) else { continue };
                let Ok(pj) = parse_json(&text, true) else { continue };
                let (name, version) = (pj.str_of("name"), pj.str_of("version"));
                let lic = package_json_licenses(&pj);
                if !name.is_empty() && !version.is_empty() && !lic.is_empty() {
                    out.insert(npm_id(name, version), lic);
                }
            }
        }
    }
    out
}

/// Fills licenses from `node_modules` (npm and pnpm analyzers).
pub fn fill_licenses(dir: &Path, pkgs: &mut [Package]) {
    let lic = node_modules_licenses(dir);
    for p in pkgs.iter_mut() {
        if p.licenses.is_empty()
            && let Some(l) = lic.get(&p.id)
        {
            p.licenses.clone_from(l);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// yarn

struct YarnEntry {
    patterns: Vec<String>,
    pkg: Package,
    deps: Vec<(String, String)>,
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s)
}

/// `name@range` of a yarn pattern, with berry's `npm:` protocol removed.
fn split_pattern(p: &str) -> Option<(String, String)> {
    let p = unquote(p);
    let at = if let Some(rest) = p.strip_prefix('@') { rest.find('@').map(|i| i + 1)? } else { p.find('@')? };
    let (name, range) = (p.get(..at)?, p.get(at + 1..)?);
    let range = range.strip_prefix("npm:").unwrap_or(range);
    Some((name.to_owned(), range.to_owned()))
}

fn parse_yarn_entries(text: &str) -> Result<Vec<YarnEntry>, ParseError> {
    let mut entries: Vec<YarnEntry> = Vec::new();
    let mut cur: Option<YarnEntry> = None;
    let mut in_deps = false;
    let mut last_content = 0usize;
    let finish = |cur: &mut Option<YarnEntry>, entries: &mut Vec<YarnEntry>, last: usize| {
        if let Some(mut e) = cur.take() {
            if let Some(l) = e.pkg.locations.first_mut() {
                l.end_line = last.max(l.start_line);
            }
            entries.push(e);
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = raw.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            finish(&mut cur, &mut entries, last_content);
            in_deps = false;
            let Some(head) = line.strip_suffix(':') else {
                return Err(ParseError::new(lineno, format!("yarn.lock: expected a package pattern, got {line:?}")));
            };
            if head.starts_with("__metadata") {
                cur = None;
                last_content = lineno;
                continue;
            }
            let patterns: Vec<String> = head.split(',').map(|s| unquote(s).to_owned()).collect();
            let name = patterns.first().and_then(|p| split_pattern(p)).map(|(n, _)| n).unwrap_or_default();
            cur = Some(YarnEntry {
                patterns,
                pkg: Package {
                    name,
                    locations: vec![Location { start_line: lineno, end_line: lineno }],
                    ..Package::default()
                },
                deps: Vec::new(),
            });
            last_content = lineno;
            continue;
        }
        last_content = lineno;
        let Some(e) = cur.as_mut() else { continue };
        let body = line.trim();
        if indent <= 2 {
            in_deps = matches!(body, "dependencies:" | "optionalDependencies:");
            let (k, v) = match body.split_once(':') {
                Some((k, v)) if !v.trim().is_empty() || body.ends_with(':') => (k.trim(), v.trim()),
                _ => match body.split_once(' ') {
                    Some((k, v)) => (k.trim(), v.trim()),
                    None => (body, ""),
                },
            };
            match k {
                "version" => e.pkg.version = unquote(v).to_owned(),
                "linkType" if unquote(v) == "soft" => e.pkg.dev = true, // workspace link: dropped below
                _ => {}
            }
        } else if in_deps {
            let (k, v) = match body.split_once(": ") {
                Some((k, v)) => (k, v),
                None => body.split_once(' ').unwrap_or((body, "")),
            };
            let v = unquote(v);
            e.deps.push((unquote(k).to_owned(), v.strip_prefix("npm:").unwrap_or(v).to_owned()));
        }
    }
    finish(&mut cur, &mut entries, last_content);
    entries
        .retain(|e| !e.pkg.dev && !e.pkg.version.is_empty() && !e.patterns.iter().any(|p| p.contains("@workspace:")));
    for e in &mut entries {
        e.pkg.id = npm_id(&e.pkg.name, &e.pkg.version);
    }
    Ok(entries)
}

fn yarn_pattern_map(entries: &[YarnEntry]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for e in entries {
        for p in &e.patterns {
            if let Some((n, r)) = split_pattern(p) {
                m.insert(format!("{n}@{r}"), e.pkg.id.clone());
            }
        }
    }
    m
}

/// `yarn.lock` (classic v1 and berry).
///
/// # Errors
/// [`ParseError`] for a line that is not a pattern where one is expected.
pub fn parse_yarn(text: &str) -> Result<Vec<Package>, ParseError> {
    let entries = parse_yarn_entries(text)?;
    let patterns = yarn_pattern_map(&entries);
    let mut pkgs = Vec::new();
    let mut index = HashMap::new();
    for e in entries {
        let mut p = e.pkg;
        p.depends_on = e.deps.iter().filter_map(|(n, r)| patterns.get(&format!("{n}@{r}")).cloned()).collect();
        p.depends_on.sort();
        p.depends_on.dedup();
        push_merged(&mut pkgs, &mut index, p);
    }
    Ok(pkgs)
}

/// Reachability from `starts` over `depends_on`.
fn reachable(pkgs: &[Package], starts: &[String]) -> HashSet<String> {
    let by_id: HashMap<&str, &Package> = pkgs.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut seen: HashSet<String> = HashSet::new();
    let mut stack: Vec<String> = starts.to_vec();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        if let Some(p) = by_id.get(id.as_str()) {
            stack.extend(p.depends_on.iter().cloned());
        }
    }
    seen
}

/// Sets relationships and dev flags from a project's direct dependencies.
pub(crate) fn apply_direct(pkgs: &mut [Package], prod: &[String], dev: &[String]) {
    let prod_set = reachable(pkgs, prod);
    let dev_set = reachable(pkgs, dev);
    for p in pkgs.iter_mut() {
        if p.relationship == Relationship::Root {
            continue;
        }
        p.relationship =
            if prod.contains(&p.id) || dev.contains(&p.id) { Relationship::Direct } else { Relationship::Indirect };
        p.dev = !prod_set.contains(&p.id) && dev_set.contains(&p.id);
    }
}

/// The yarn analyzer's use of `package.json` (root package, direct and dev dependencies) and
/// `node_modules` (licenses).
pub fn yarn_post(dir: &Path, lock_text: &str, pkgs: &mut Vec<Package>) {
    fill_licenses(dir, pkgs);
    let Some(pj) = read_optional(&dir.join("package.json")).and_then(|t| parse_json(&t, true).ok()) else {
        return;
    };
    let Ok(entries) = parse_yarn_entries(lock_text) else { return };
    let patterns = yarn_pattern_map(&entries);
    let ids = |key: &str| -> Vec<String> {
        pj.get(key)
            .map(|d| {
                d.entries()
                    .iter()
                    .filter_map(|(n, r)| patterns.get(&format!("{n}@{}", r.as_str().unwrap_or_default())).cloned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut prod = ids("dependencies");
    prod.extend(ids("optionalDependencies"));
    prod.extend(ids("peerDependencies"));
    let dev = ids("devDependencies");
    apply_direct(pkgs, &prod, &dev);
    let (name, version) = (pj.str_of("name"), pj.str_of("version"));
    if !name.is_empty() {
        let mut depends_on = prod.clone();
        depends_on.extend(dev.iter().cloned());
        depends_on.sort();
        depends_on.dedup();
        pkgs.push(Package {
            id: npm_id(name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            relationship: Relationship::Root,
            licenses: package_json_licenses(&pj),
            depends_on,
            ..Package::default()
        });
    }
    dedup_by_id(pkgs);
}

// ---------------------------------------------------------------------------------------------
// pnpm

/// `(name, version)` of a pnpm package key: `/name@1.0.0`, `/name/1.0.0`, `name@1.0.0(peer@2)`.
fn pnpm_key(key: &str) -> Option<(String, String)> {
    let k = key.strip_prefix('/').unwrap_or(key);
    let k = k.split('(').next().unwrap_or(k);
    // v5: `/name/1.0.0_peer`
    if key.starts_with('/')
        && let Some((n, v)) = k.rsplit_once('/')
        && v.starts_with(|c: char| c.is_ascii_digit())
    {
        let v = v.split('_').next().unwrap_or(v);
        return (!n.is_empty() && !v.is_empty()).then(|| (n.to_owned(), v.to_owned()));
    }
    let at = if let Some(rest) = k.strip_prefix('@') { rest.find('@').map(|i| i + 1) } else { k.find('@') };
    let (name, version) = match at {
        Some(i) => (k.get(..i)?, k.get(i + 1..)?),
        None => {
            let i = k.rfind('/')?;
            (k.get(..i)?, k.get(i + 1..)?)
        }
    };
    let version = version.split('_').next().unwrap_or(version);
    if name.is_empty() || version.is_empty() {
        return None;
    }
    Some((name.to_owned(), version.to_owned()))
}

fn pnpm_dep_version(v: &str) -> String {
    let v = v.split('(').next().unwrap_or(v);
    let v = v.split('_').next().unwrap_or(v);
    if let Some((_, ver)) = pnpm_key(v).filter(|_| v.starts_with('/')) {
        return ver;
    }
    v.to_owned()
}

/// `pnpm-lock.yaml`, lockfile versions 5 to 9.
///
/// # Errors
/// [`ParseError`] for malformed YAML.
pub fn parse_pnpm(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_yaml(text)?;
    if !root.is_obj() {
        return Err(ParseError::new(root.line, "pnpm-lock.yaml: the top level is not a mapping"));
    }
    let mut direct: HashSet<String> = HashSet::new();
    let mut importers: Vec<&Node> = vec![&root];
    if let Some(i) = root.get("importers") {
        importers.extend(i.entries().iter().map(|(_, v)| v));
    }
    for imp in importers {
        for key in ["dependencies", "devDependencies", "optionalDependencies"] {
            for (n, v) in imp.get(key).map(Node::entries).unwrap_or_default() {
                let ver = v.get("version").and_then(Node::as_str).or_else(|| v.as_str()).unwrap_or_default();
                direct.insert(npm_id(n, &pnpm_dep_version(ver)));
            }
        }
    }
    let snapshots = root.get("snapshots");
    let mut pkgs = Vec::new();
    let mut index = HashMap::new();
    for (key, node) in root.get("packages").map(Node::entries).unwrap_or_default() {
        let Some((name, version)) = pnpm_key(key) else { continue };
        let name = match node.str_of("name") {
            "" => name,
            n => n.to_owned(),
        };
        let version = match node.str_of("version") {
            "" => version,
            v => v.to_owned(),
        };
        let dep_source = snapshots.and_then(|s| s.get(key)).unwrap_or(node);
        let mut depends_on: Vec<String> = Vec::new();
        for dkey in ["dependencies", "optionalDependencies"] {
            for (n, v) in dep_source.get(dkey).map(Node::entries).unwrap_or_default() {
                depends_on.push(npm_id(n, &pnpm_dep_version(v.as_str().unwrap_or_default())));
            }
        }
        depends_on.sort();
        depends_on.dedup();
        let id = npm_id(&name, &version);
        let relationship = if direct.contains(&id) { Relationship::Direct } else { Relationship::Indirect };
        let p = Package {
            id,
            name,
            version,
            relationship,
            dev: node.get("dev").is_some_and(Node::is_true),
            depends_on,
            ..Package::default()
        };
        push_merged(&mut pkgs, &mut index, p);
    }
    Ok(pkgs)
}

// ---------------------------------------------------------------------------------------------
// bun

/// `bun.lock` (JSONC, lockfile version 1).
///
/// # Errors
/// [`ParseError`] for malformed JSONC.
pub fn parse_bun(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, true)?;
    if !root.is_obj() {
        return Err(ParseError::new(root.line, "bun.lock: the top level is not an object"));
    }
    let packages = root.get("packages");
    let entries: &[(String, Node)] = packages.map(Node::entries).unwrap_or_default();
    let by_key: HashMap<&str, &Node> = entries.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ident = |n: &Node| -> Option<(String, String)> {
        let s = n.items().first()?.as_str()?;
        let at = if let Some(rest) = s.strip_prefix('@') { rest.find('@').map(|i| i + 1)? } else { s.find('@')? };
        Some((s.get(..at)?.to_owned(), s.get(at + 1..)?.to_owned()))
    };
    let resolve = |from: &str, dep: &str| -> Option<String> {
        let mut base = from.to_owned();
        loop {
            let key = if base.is_empty() { dep.to_owned() } else { format!("{base}/{dep}") };
            if let Some((n, v)) = by_key.get(key.as_str()).and_then(|n| ident(n)) {
                return Some(npm_id(&n, &v));
            }
            if base.is_empty() {
                return None;
            }
            base = base.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or_default();
        }
    };
    let mut pkgs = Vec::new();
    let mut index = HashMap::new();
    for (key, node) in entries {
        let Some((name, version)) = ident(node) else { continue };
        if version.starts_with("workspace:") {
            continue;
        }
        let mut depends_on: Vec<String> = Vec::new();
        if let Some(meta) = node.items().iter().find(|n| n.is_obj()) {
            for dkey in ["dependencies", "optionalDependencies", "peerDependencies"] {
                for (d, _) in meta.get(dkey).map(Node::entries).unwrap_or_default() {
                    if let Some(id) = resolve(key, d) {
                        depends_on.push(id);
                    }
                }
            }
        }
        depends_on.sort();
        depends_on.dedup();
        let p = Package {
            id: npm_id(&name, &version),
            name,
            version,
            depends_on,
            locations: vec![loc(node)],
            ..Package::default()
        };
        push_merged(&mut pkgs, &mut index, p);
    }
    let (mut prod, mut dev) = (Vec::new(), Vec::new());
    for (_, ws) in root.get("workspaces").map(Node::entries).unwrap_or_default() {
        for key in ["dependencies", "optionalDependencies", "peerDependencies", "devDependencies"] {
            for (d, _) in ws.get(key).map(Node::entries).unwrap_or_default() {
                if let Some(id) = resolve("", d) {
                    if key == "devDependencies" { dev.push(id) } else { prod.push(id) }
                }
            }
        }
    }
    apply_direct(&mut pkgs, &prod, &dev);
    Ok(pkgs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn npm_v1_and_errors() {
        let lock = r#"{"lockfileVersion": 1, "dependencies": {
  "a": {"version": "1.0.0", "requires": {"b": "^2"}},
  "b": {"version": "2.0.0", "dev": true}
}}"#;
        let p = parse_npm(lock).unwrap();
        assert_eq!(p[0].id, "a@1.0.0");
        assert_eq!(p[0].depends_on, vec!["b@2.0.0"]);
        assert!(p[1].dev);
        assert_eq!(p[0].locations[0].start_line, 2);
        let e = parse_npm("{\"dependencies\": {\n\"a\": {").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn npm_v3() {
        let lock = r#"{"lockfileVersion": 3, "packages": {
  "": {"name": "x", "dependencies": {"a": "^1"}},
  "node_modules/a": {"version": "1.0.0", "dependencies": {"b": "*"}},
  "node_modules/b": {"version": "2.0.0"}
}}"#;
        let p = parse_npm(lock).unwrap();
        assert_eq!(p[0].relationship, Relationship::Direct);
        assert_eq!(p[0].depends_on, vec!["b@2.0.0"]);
        assert_eq!(p[1].relationship, Relationship::Indirect);
    }

    #[test]
    fn yarn_blocks() {
        let lock = "# yarn lockfile v1\n\n\"@s/a@^1\", \"@s/a@^1.1\":\n  version \"1.2.0\"\n  dependencies:\n    b \"~2\"\n\nb@~2:\n  version \"2.0.1\"\n";
        let p = parse_yarn(lock).unwrap();
        assert_eq!(p[0].id, "@s/a@1.2.0");
        assert_eq!(p[0].depends_on, vec!["b@2.0.1"]);
        assert_eq!(p[0].locations[0], Location { start_line: 3, end_line: 6 });
        assert!(parse_yarn("  version \"1\"\nbad line\n").is_err());
    }

    #[test]
    fn pnpm_keys() {
        assert_eq!(pnpm_key("/jquery@3.3.9"), Some(("jquery".into(), "3.3.9".into())));
        assert_eq!(pnpm_key("/@a/b/1.0.0_c@1"), Some(("@a/b".into(), "1.0.0".into())));
        assert_eq!(pnpm_key("@a/b@1.0.0(x@1)"), Some(("@a/b".into(), "1.0.0".into())));
        assert!(parse_pnpm("packages: [\n").is_err());
    }

    #[test]
    fn bun_trailing_commas() {
        let lock = "{\"workspaces\": {\"\": {\"dependencies\": {\"a\": \"1\",},},},\n\"packages\": {\n\"a\": [\"a@1.0.0\", \"\", {}, \"sha\"],\n},}";
        let p = parse_bun(lock).unwrap();
        assert_eq!(p[0].id, "a@1.0.0");
        assert_eq!(p[0].relationship, Relationship::Direct);
        assert!(parse_bun("{\"packages\": {\"a\": [}").is_err());
    }
}
