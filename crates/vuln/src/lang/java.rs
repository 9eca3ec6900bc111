//! Java: `pom.xml` (what the local file gives: properties, dependency management; no
//! repository access), `gradle.lockfile` and sbt's `build.sbt.lock`.

use std::collections::HashMap;

use super::tree::{Node, parse_json};
use super::{LangType, Location, Package, ParseError, Relationship, package_id};

/// An XML element: local name, attributes, children, text, line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
    pub line: usize,
    pub end_line: usize,
}

impl Element {
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    pub fn text_of(&self, name: &str) -> String {
        self.child(name).map(|c| c.text.trim().to_owned()).unwrap_or_default()
    }
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn line_at(text: &str, pos: u64) -> usize {
    let pos = usize::try_from(pos).unwrap_or(usize::MAX).min(text.len());
    text.as_bytes().get(..pos).map_or(1, |b| b.iter().filter(|&&c| c == b'\n').count() + 1)
}

/// Parses an XML document into its root element (bounded depth, no DTD expansion).
pub(crate) fn parse_xml(text: &str) -> Result<Element, ParseError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let start_of = |e: &quick_xml::events::BytesStart<'_>, line: usize| -> Element {
        let name = e.local_name().into_inner().to_owned();
        let attrs = e
            .attributes()
            .flatten()
            .map(|a| {
                let k = a.key.local_name().into_inner().to_owned();
                let v =
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0).map(|v| v.into_owned()).unwrap_or_default();
                (k, v)
            })
            .collect();
        Element { name, attrs, line, end_line: line, ..Element::default() }
    };
    loop {
        let before = reader.buffer_position();
        let ev = reader
            .read_event()
            .map_err(|e| ParseError::new(line_at(text, reader.error_position()), format!("invalid XML: {e}")))?;
        let line = line_at(text, before);
        match ev {
            Event::Start(e) => {
                if stack.len() >= 128 {
                    return Err(ParseError::new(line, "XML nesting too deep"));
                }
                stack.push(start_of(&e, line));
            }
            Event::Empty(e) => {
                let el = start_of(&e, line);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(mut el) = stack.pop() else {
                    return Err(ParseError::new(line, "unbalanced XML end tag"));
                };
                el.end_line = line_at(text, reader.buffer_position());
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(el) = stack.last_mut() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        el.text.push(c);
                    } else {
                        let s = match &*r.into_inner() {
                            "amp" => "&",
                            "lt" => "<",
                            "gt" => ">",
                            "quot" => "\"",
                            "apos" => "'",
                            _ => "",
                        };
                        el.text.push_str(s);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(ParseError::new(line_at(text, reader.buffer_position()), "XML ends inside an element"));
    }
    root.ok_or_else(|| ParseError::new(1, "no XML root element"))
}

// mitchellh/hashstructure v2 over `map[string]any{"gav": …, "path": …}` (Go's `fnv.New64`,
// FNV-1: multiply, then xor).
fn fnv1(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            h ^= u64::from(b);
        }
    }
    h
}

fn hash_string_map(entries: &[(&str, &str)]) -> u64 {
    let mut acc = 0u64;
    for (k, v) in entries {
        let (kh, vh) = (fnv1(&[k.as_bytes()]), fnv1(&[v.as_bytes()]));
        acc ^= fnv1(&[&kh.to_le_bytes(), &vh.to_le_bytes()]);
    }
    fnv1(&[&acc.to_le_bytes()])
}

/// Trivy's pom package ID: `group:artifact:version::<first 8 hex digits of a hash of the GAV
/// and the pom's path>`.
#[must_use]
pub fn pom_package_id(name: &str, version: &str, pom_path: &str) -> String {
    let gav = package_id(LangType::Pom, name, version);
    let h = hash_string_map(&[("gav", &gav), ("path", pom_path)]);
    let hex = format!("{h:x}");
    format!("{gav}::{}", hex.get(..8).unwrap_or(&hex))
}

fn substitute(s: &str, props: &HashMap<String, String>) -> String {
    let mut out = s.to_owned();
    for _ in 0..8 {
        let Some(start) = out.find("${") else { break };
        let Some(len) = out.get(start..).and_then(|r| r.find('}')) else { break };
        let key = out.get(start + 2..start + len).unwrap_or_default().to_owned();
        let Some(val) = props.get(&key) else { break };
        out = format!(
            "{}{}{}",
            out.get(..start).unwrap_or_default(),
            val,
            out.get(start + len + 1..).unwrap_or_default()
        );
    }
    out
}

/// `pom.xml`, from the local file only: the project (root) and its dependencies (test,
/// provided and optional ones left out), properties and dependency management applied.
///
/// # Errors
/// [`ParseError`] for malformed XML.
pub fn parse_pom(text: &str, pom_path: &str) -> Result<Vec<Package>, ParseError> {
    let project = parse_xml(text)?;
    if project.name != "project" {
        return Err(ParseError::new(
            project.line,
            format!("pom.xml: root element is <{}>, not <project>", project.name),
        ));
    }
    let parent = project.child("parent");
    let parent_field = |f: &str| parent.map(|p| p.text_of(f)).unwrap_or_default();
    let group = match project.text_of("groupId") {
        g if g.is_empty() => parent_field("groupId"),
        g => g,
    };
    let artifact = project.text_of("artifactId");
    let version = match project.text_of("version") {
        v if v.is_empty() => parent_field("version"),
        v => v,
    };
    let mut props: HashMap<String, String> = HashMap::new();
    if let Some(p) = project.child("properties") {
        for c in &p.children {
            props.insert(c.name.clone(), c.text.trim().to_owned());
        }
    }
    for (k, v) in [
        ("project.groupId", &group),
        ("pom.groupId", &group),
        ("project.artifactId", &artifact),
        ("project.version", &version),
        ("pom.version", &version),
        ("version", &version),
        ("project.parent.version", &parent_field("version")),
        ("project.parent.groupId", &parent_field("groupId")),
    ] {
        props.insert(k.to_owned(), v.clone());
    }
    let managed: HashMap<String, (String, String)> = project
        .child("dependencyManagement")
        .and_then(|d| d.child("dependencies"))
        .map(|d| {
            d.children_named("dependency")
                .map(|x| {
                    let n = format!(
                        "{}:{}",
                        substitute(&x.text_of("groupId"), &props),
                        substitute(&x.text_of("artifactId"), &props)
                    );
                    (n, (substitute(&x.text_of("version"), &props), x.text_of("scope")))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut direct = Vec::new();
    for d in
        project.child("dependencies").map(|d| d.children_named("dependency").collect::<Vec<_>>()).unwrap_or_default()
    {
        let name =
            format!("{}:{}", substitute(&d.text_of("groupId"), &props), substitute(&d.text_of("artifactId"), &props));
        let (mv, ms) = managed.get(&name).cloned().unwrap_or_default();
        let version = match substitute(&d.text_of("version"), &props) {
            v if v.is_empty() => mv,
            v => v,
        };
        let scope = match d.text_of("scope") {
            s if s.is_empty() => ms,
            s => s,
        };
        if matches!(scope.as_str(), "test" | "provided" | "system")
            || d.text_of("optional") == "true"
            || version.contains("${")
        {
            continue;
        }
        let id = pom_package_id(&name, &version, pom_path);
        direct.push(id.clone());
        out.push(Package {
            id,
            name,
            version,
            relationship: Relationship::Direct,
            locations: vec![Location { start_line: d.line, end_line: d.end_line }],
            ..Package::default()
        });
    }
    if !artifact.is_empty() {
        let name = format!("{group}:{artifact}");
        direct.sort();
        out.push(Package {
            id: pom_package_id(&name, &version, pom_path),
            name,
            version,
            relationship: Relationship::Root,
            depends_on: direct,
            ..Package::default()
        });
    }
    Ok(out)
}

/// `gradle.lockfile`: `group:artifact:version=configurations` lines.
///
/// # Errors
/// Never in practice (malformed lines are skipped); kept for symmetry.
pub fn parse_gradle(text: &str) -> Result<Vec<Package>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let coord = line.split('=').next().unwrap_or_default();
        let parts: Vec<&str> = coord.split(':').collect();
        let [g, a, v] = parts.as_slice() else { continue };
        let name = format!("{g}:{a}");
        out.push(Package {
            id: package_id(LangType::Gradle, &name, v),
            name,
            version: (*v).to_owned(),
            locations: vec![Location { start_line: i + 1, end_line: i + 1 }],
            ..Package::default()
        });
    }
    Ok(out)
}

/// sbt's `build.sbt.lock` (sbt-dependency-lock).
///
/// # Errors
/// [`ParseError`] for malformed JSON.
pub fn parse_sbt(text: &str) -> Result<Vec<Package>, ParseError> {
    let root = parse_json(text, false)?;
    let mut out = Vec::new();
    for d in root.get("dependencies").map(Node::items).unwrap_or_default() {
        let (org, name, version) = (d.str_of("org"), d.str_of("name"), d.str_of("version"));
        if org.is_empty() || name.is_empty() || version.is_empty() {
            continue;
        }
        let confs: Vec<&str> =
            d.get("configurations").map(Node::items).unwrap_or_default().iter().filter_map(Node::as_str).collect();
        let full = format!("{org}:{name}");
        out.push(Package {
            id: package_id(LangType::Sbt, &full, version),
            name: full,
            version: version.to_owned(),
            dev: !confs.is_empty() && !confs.iter().any(|c| matches!(*c, "compile" | "runtime")),
            locations: vec![Location { start_line: d.line, end_line: d.end_line }],
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
    fn pom_id_hash_matches_trivy() {
        assert_eq!(
            pom_package_id(
                "com.fasterxml.jackson.core:jackson-databind",
                "2.9.1",
                "testdata/fixtures/repo/pom/pom.xml"
            ),
            "com.fasterxml.jackson.core:jackson-databind:2.9.1::6a9e9547"
        );
    }

    #[test]
    fn pom_properties_and_errors() {
        let pom = "<project><groupId>g</groupId><artifactId>a</artifactId><version>1</version>\n<properties><v>2.0</v></properties>\n<dependencies><dependency><groupId>x</groupId><artifactId>y</artifactId><version>${v}</version></dependency>\n<dependency><groupId>t</groupId><artifactId>t</artifactId><version>1</version><scope>test</scope></dependency></dependencies></project>";
        let p = parse_pom(pom, "pom.xml").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].name.as_str(), p[0].version.as_str()), ("x:y", "2.0"));
        assert_eq!(p[1].relationship, Relationship::Root);
        assert!(parse_pom("<project><dependencies>\n<dependency>", "pom.xml").is_err());
        assert!(parse_pom("<notaproject/>", "pom.xml").is_err());
    }

    #[test]
    fn gradle_and_sbt() {
        let g = parse_gradle("# c\na:b:1.0=compileClasspath\nempty=\n").unwrap();
        assert_eq!(g[0].id, "a:b:1.0");
        assert_eq!(g[0].locations[0].start_line, 2);
        assert!(parse_sbt("{\"dependencies\": [").is_err());
    }
}
