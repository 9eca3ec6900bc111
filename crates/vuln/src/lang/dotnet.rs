//! .NET: NuGet `packages.lock.json`, `*.deps.json` and `Directory.Packages.props`.

use std::collections::HashMap;

use super::java::parse_xml;
use super::tree::{Node, parse_json};
use super::{LangType, Location, Package, ParseError, Relationship, package_id};

/// NuGet `packages.lock.json`.
///
/// # Errors
/// [`ParseError`] for malformed JSON.
pub fn parse_nuget_lock(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, false)?;
    let mut out: Vec<Package> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (_, framework) in root.get("dependencies").map(Node::entries).unwrap_or_default() {
        let versions: HashMap<&str, &str> =
            framework.entries().iter().map(|(n, d)| (n.as_str(), d.str_of("resolved"))).collect();
        for (name, dep) in framework.entries() {
            let ty = dep.str_of("type");
            let version = dep.str_of("resolved");
            if ty == "Project" || version.is_empty() {
                continue;
            }
            let mut depends_on: Vec<String> = dep
                .get("dependencies")
                .map(Node::entries)
                .unwrap_or_default()
                .iter()
                .filter_map(|(n, _)| {
                    versions.get(n.as_str()).filter(|v| !v.is_empty()).map(|v| package_id(LangType::NuGet, n, v))
                })
                .collect();
            depends_on.sort();
            let id = package_id(LangType::NuGet, name, version);
            let location = Location { start_line: dep.line, end_line: dep.end_line };
            if let Some(p) = index.get(&id).and_then(|&i| out.get_mut(i)) {
                if !p.locations.contains(&location) {
                    p.locations.push(location);
                }
                continue;
            }
            index.insert(id.clone(), out.len());
            out.push(Package {
                id,
                name: name.clone(),
                version: version.to_owned(),
                relationship: if ty == "Direct" { Relationship::Direct } else { Relationship::Indirect },
                depends_on,
                locations: vec![location],
                ..Package::default()
            });
        }
    }
    Ok(out)
}

/// `*.deps.json`: `libraries` of type `package` (and the `project` itself, as root).
///
/// # Errors
/// [`ParseError`] for malformed JSON.
pub fn parse_deps_json(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, false)?;
    let mut out = Vec::new();
    for (key, lib) in root.get("libraries").map(Node::entries).unwrap_or_default() {
        let ty = lib.str_of("type");
        if !matches!(ty, "package" | "project") {
            continue;
        }
        let Some((name, version)) = key.split_once('/') else { continue };
        out.push(Package {
            id: package_id(LangType::DotNetCore, name, version),
            name: name.to_owned(),
            version: version.to_owned(),
            relationship: if ty == "project" { Relationship::Root } else { Relationship::Unknown },
            locations: vec![Location { start_line: lib.line, end_line: lib.end_line }],
            ..Package::default()
        });
    }
    Ok(out)
}

/// `Directory.Packages.props` / `Packages.props`: `PackageVersion` and `PackageReference`.
///
/// # Errors
/// [`ParseError`] for malformed XML.
pub fn parse_packages_props(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_xml(text)?;
    let mut out = Vec::new();
    let mut stack = vec![&root];
    while let Some(el) = stack.pop() {
        for c in el.children.iter().rev() {
            stack.push(c);
        }
        if !matches!(el.name.as_str(), "PackageVersion" | "PackageReference") {
            continue;
        }
        let name = el.attr("Include").or_else(|| el.attr("Update")).unwrap_or_default().trim();
        let version = el.attr("Version").map(str::to_owned).unwrap_or_else(|| el.text_of("Version"));
        let version = version.trim();
        if name.is_empty() || version.is_empty() || name.contains("$(") || version.contains("$(") {
            continue;
        }
        out.push(Package {
            id: package_id(LangType::PackagesProps, name, version),
            name: name.to_owned(),
            version: version.to_owned(),
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
    fn nuget_and_deps() {
        let n = parse_nuget_lock("{\"dependencies\": {\"f\": {\"A\": {\"type\": \"Direct\", \"resolved\": \"1.0\", \"dependencies\": {\"B\": \"2.0\"}}, \"B\": {\"type\": \"Transitive\", \"resolved\": \"2.0\"}}}}").unwrap();
        assert_eq!(n[0].depends_on, vec!["B@2.0"]);
        assert_eq!(n[1].relationship, Relationship::Indirect);
        let d = parse_deps_json("{\"libraries\": {\"X/1.0\": {\"type\": \"package\"}}}").unwrap();
        assert_eq!(d[0].id, "X/1.0");
        assert!(parse_deps_json("{\"libraries\": {").is_err());
    }

    #[test]
    fn props() {
        let p = parse_packages_props("<Project><ItemGroup><PackageVersion Include=\"A\" Version=\"1.0\" /><PackageVersion Include=\"B\" Version=\"$(V)\" /></ItemGroup></Project>").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].id, "A@1.0");
        assert!(parse_packages_props("<Project><ItemGroup>").is_err());
    }
}
