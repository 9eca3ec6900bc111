//! kube-bench's controls files (`cfg/<benchmark>/<target>.yaml`) and `cfg/config.yaml`, read with
//! our YAML reader (YAML 1.1 scalars like go-yaml v2). Scalars are kept as the text Go's
//! `yaml.Unmarshal` puts in a string field (`value: 0` → `"0"`).

use kguard_model::yaml::{Value, YamlNode, parse_documents};

/// A controls file.
#[derive(Clone, Debug, Default)]
pub struct Controls {
    /// `id`.
    pub id: String,
    /// `version` (the benchmark).
    pub version: String,
    /// `text`.
    pub text: String,
    /// `type`: master, node, etcd, controlplane, policies, managedservices.
    pub node_type: String,
    /// `groups`.
    pub groups: Vec<Group>,
}

/// A group of checks.
#[derive(Clone, Debug, Default)]
pub struct Group {
    /// `id`.
    pub id: String,
    /// `text`.
    pub text: String,
    /// `type` (a group may be `skip`).
    pub type_: String,
    /// `checks`.
    pub checks: Vec<Check>,
}

/// One recommendation.
#[derive(Clone, Debug, Default)]
pub struct Check {
    /// `id`.
    pub id: String,
    /// `text`.
    pub text: String,
    /// `audit`.
    pub audit: String,
    /// `audit_config`.
    pub audit_config: String,
    /// `audit_env`.
    pub audit_env: String,
    /// `type`: "", manual, skip.
    pub type_: String,
    /// `tests`.
    pub tests: Option<Tests>,
    /// `remediation`.
    pub remediation: String,
    /// `scored`.
    pub scored: bool,
    /// `use_multiple_values`.
    pub use_multiple_values: bool,
}

/// `tests`.
#[derive(Clone, Debug, Default)]
pub struct Tests {
    /// `test_items`.
    pub test_items: Vec<TestItem>,
    /// `bin_op` ("" = and).
    pub bin_op: String,
}

/// One test item.
#[derive(Clone, Debug)]
pub struct TestItem {
    /// `flag`.
    pub flag: String,
    /// `path`.
    pub path: String,
    /// `env`.
    pub env: String,
    /// `set` (default true).
    pub set: bool,
    /// `compare`.
    pub compare: Compare,
}

/// `compare`.
#[derive(Clone, Debug, Default)]
pub struct Compare {
    /// `op`.
    pub op: String,
    /// `value`.
    pub value: String,
}

/// A scalar as go-yaml v2 decodes it into a Go string.
#[must_use]
pub fn scalar(node: Option<&YamlNode>) -> String {
    match node.map(|n| &n.value) {
        Some(Value::Str(s)) => s.clone(),
        Some(Value::Int(i)) => i.to_string(),
        Some(Value::Float(f)) => f.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn boolean(node: Option<&YamlNode>, default: bool) -> bool {
    match node.map(|n| &n.value) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Str(s)) => matches!(s.as_str(), "true" | "True" | "TRUE" | "yes" | "on"),
        _ => default,
    }
}

fn seq(node: Option<&YamlNode>) -> &[YamlNode] {
    node.and_then(YamlNode::as_seq).unwrap_or(&[])
}

/// Why a controls file did not load.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

fn check(n: &YamlNode) -> Check {
    let tests = n.get("tests").filter(|t| !t.is_null()).map(|t| Tests {
        bin_op: scalar(t.get("bin_op")),
        test_items: seq(t.get("test_items"))
            .iter()
            .map(|i| TestItem {
                flag: scalar(i.get("flag")),
                path: scalar(i.get("path")),
                env: scalar(i.get("env")),
                set: boolean(i.get("set"), true),
                compare: Compare {
                    op: scalar(i.get("compare").and_then(|c| c.get("op"))),
                    value: scalar(i.get("compare").and_then(|c| c.get("value"))),
                },
            })
            .collect(),
    });
    Check {
        id: scalar(n.get("id")),
        text: scalar(n.get("text")),
        audit: scalar(n.get("audit")),
        audit_config: scalar(n.get("audit_config")),
        audit_env: scalar(n.get("audit_env")),
        type_: scalar(n.get("type")),
        tests,
        remediation: scalar(n.get("remediation")),
        scored: boolean(n.get("scored"), false),
        use_multiple_values: boolean(n.get("use_multiple_values"), false),
    }
}

/// Parses a controls file (after variable substitution, as kube-bench substitutes the text).
///
/// # Errors
/// Not YAML, or not a mapping.
pub fn parse_controls(text: &str) -> Result<Controls, LoadError> {
    let root = first_doc(text)?;
    Ok(Controls {
        id: scalar(root.get("id")),
        version: scalar(root.get("version")),
        text: scalar(root.get("text")),
        node_type: scalar(root.get("type")),
        groups: seq(root.get("groups"))
            .iter()
            .map(|g| Group {
                id: scalar(g.get("id")),
                text: scalar(g.get("text")),
                type_: scalar(g.get("type")),
                checks: seq(g.get("checks")).iter().map(check).collect(),
            })
            .collect(),
    })
}

/// The first non-empty document of a YAML text, which must be a mapping.
///
/// # Errors
/// A syntax error or no mapping.
pub fn first_doc(text: &str) -> Result<YamlNode, LoadError> {
    for d in parse_documents(text) {
        match d.root {
            Ok(Some(n)) if n.as_map().is_some() => return Ok(n),
            Ok(Some(n)) => return Err(LoadError(format!("expected a mapping, found {}", n.type_name()))),
            Ok(None) => {}
            Err(e) => return Err(LoadError(e.to_string())),
        }
    }
    Err(LoadError("empty document".to_owned()))
}
