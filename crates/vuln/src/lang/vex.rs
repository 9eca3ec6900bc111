//! OpenVEX documents (`--vex file.json`), applied the way Trivy applies them to language
//! results: a statement about a vulnerability hides its finding in a package when its status
//! is `not_affected` or `fixed` and either a product is the package itself, or a product is
//! one of the package's ancestors in the target's dependency graph (the project's root, say)
//! and one of that product's subcomponents is the package. The last matching statement wins.

use std::collections::{HashMap, HashSet};

use super::tree::{Node, parse_json};
use super::{LangTarget, Package, ParseError, purl};

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Vulnerability ID, name and aliases.
    pub vulnerability: Vec<String>,
    /// Products: PURL and its subcomponents' PURLs.
    pub products: Vec<(String, Vec<String>)>,
    /// `not_affected`, `affected`, `fixed`, `under_investigation`.
    pub status: String,
}

/// An OpenVEX document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenVex {
    /// Statements in document order.
    pub statements: Vec<Statement>,
}

fn ids(n: &Node) -> Vec<String> {
    let id = n.get("@id").and_then(Node::as_str).or_else(|| n.get("identifiers").map(|i| i.str_of("purl")));
    id.filter(|s| !s.is_empty()).map(str::to_owned).into_iter().collect()
}

/// Whether `pattern` (a statement's PURL) matches `purl`: type, namespace and name equal, the
/// version too when the statement names one; qualifiers and subpath are not compared.
#[must_use]
pub fn purl_matches(pattern: &str, purl: &str) -> bool {
    let base = |s: &str| s.split(['?', '#']).next().unwrap_or(s).to_owned();
    let (p, u) = (base(pattern), base(purl));
    match p.rsplit_once('@').filter(|(_, v)| !v.contains('/')) {
        Some(_) => p == u,
        None => u.rsplit_once('@').filter(|(_, v)| !v.contains('/')).map_or(u.as_str(), |(b, _)| b) == p,
    }
}

impl OpenVex {
    /// Parses an OpenVEX JSON document.
    ///
    /// # Errors
    /// [`ParseError`] for malformed JSON or a document without `statements`.
    pub fn parse(text: &str) -> Result<OpenVex, ParseError> {
        let root = parse_json(text, false)?;
        let Some(stmts) = root.get("statements") else {
            return Err(ParseError::new(root.line, "OpenVEX: no `statements`"));
        };
        let statements = stmts
            .items()
            .iter()
            .map(|s| {
                let v = s.get("vulnerability");
                let mut vulnerability: Vec<String> = v.map(ids).unwrap_or_default();
                if let Some(v) = v {
                    vulnerability.extend([v.str_of("name")].into_iter().filter(|x| !x.is_empty()).map(str::to_owned));
                    vulnerability.extend(
                        v.get("aliases")
                            .map(Node::items)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(Node::as_str)
                            .map(str::to_owned),
                    );
                }
                let products = s
                    .get("products")
                    .map(Node::items)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|p| {
                        let subs: Vec<String> =
                            p.get("subcomponents").map(Node::items).unwrap_or_default().iter().flat_map(ids).collect();
                        ids(p).into_iter().map(move |id| (id, subs.clone()))
                    })
                    .collect();
                Statement { vulnerability, products, status: s.str_of("status").to_owned() }
            })
            .collect();
        Ok(OpenVex { statements })
    }

    /// Whether the finding `vuln_id` in `pkg` of `target` is suppressed.
    #[must_use]
    pub fn suppresses(&self, target: &LangTarget, pkg: &Package, vuln_id: &str) -> bool {
        let own = purl(target.kind, &pkg.name, &pkg.version);
        let ancestors = ancestor_purls(target, pkg);
        let last = self.statements.iter().rev().find(|s| {
            s.vulnerability.iter().any(|v| v == vuln_id)
                && s.products.iter().any(|(product, subs)| {
                    purl_matches(product, &own)
                        || (subs.iter().any(|sub| purl_matches(sub, &own))
                            && ancestors.iter().any(|a| purl_matches(product, a)))
                })
        });
        last.is_some_and(|s| matches!(s.status.as_str(), "not_affected" | "fixed"))
    }
}

fn ancestor_purls(target: &LangTarget, pkg: &Package) -> Vec<String> {
    let mut parents: HashMap<&str, Vec<&Package>> = HashMap::new();
    for p in &target.packages {
        for d in &p.depends_on {
            parents.entry(d.as_str()).or_default().push(p);
        }
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![pkg.id.as_str()];
    let mut out = Vec::new();
    while let Some(id) = stack.pop() {
        for p in parents.get(id).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(p.id.as_str()) {
                out.push(purl(target.kind, &p.name, &p.version));
                stack.push(p.id.as_str());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn purl_matching() {
        assert!(purl_matches("pkg:golang/a/b", "pkg:golang/a/b@v1.0.0"));
        assert!(purl_matches("pkg:golang/a/b@v1.0.0", "pkg:golang/a/b@v1.0.0"));
        assert!(!purl_matches("pkg:golang/a/b@v1.0.1", "pkg:golang/a/b@v1.0.0"));
        assert!(!purl_matches("pkg:golang/a/c", "pkg:golang/a/b@v1.0.0"));
        assert!(OpenVex::parse("{\"statements\": [").is_err());
        assert!(OpenVex::parse("{}").is_err());
    }
}
