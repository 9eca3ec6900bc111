//! One Kubernetes object with its source.

use std::fmt;
use std::sync::Arc;

use crate::source::{Location, Pos};
use crate::yaml::{Entry, YamlNode};

/// Identifies an object in reports: `Kind/namespace/name` (or `Kind/name` when cluster-scoped or unset).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace`, when set.
    pub namespace: Option<String>,
    /// `metadata.name` (or `generateName` followed by `*`), `<unnamed>` when neither is set.
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// A Kubernetes object read from a file.
#[derive(Clone, Debug)]
pub struct Object {
    /// Who it is.
    pub id: ObjectRef,
    /// The file it came from.
    pub file: Arc<str>,
    /// 0-based index of its document in that file.
    pub doc_index: usize,
    /// JSON pointer of this object inside its document: `""`, or `/items/3` for an item of a `List`.
    pub doc_pointer: String,
    /// The object itself.
    pub root: YamlNode,
}

impl Object {
    /// Builds an object from a node; `Err` says which required field is missing or malformed.
    ///
    /// # Errors
    /// When the node is not a mapping or lacks a string `apiVersion` or `kind`.
    pub fn from_node(
        root: YamlNode,
        file: Arc<str>,
        doc_index: usize,
        doc_pointer: String,
    ) -> Result<Self, ObjectError> {
        if root.as_map().is_none() {
            return Err(ObjectError::NotAMapping { found: root.type_name(), pos: root.pos });
        }
        let api_version = required_str(&root, "apiVersion")?;
        let kind = required_str(&root, "kind")?;
        let meta = root.get("metadata");
        let namespace = meta.and_then(|m| m.get("namespace")).and_then(YamlNode::as_str).map(str::to_owned);
        let name = meta
            .and_then(|m| m.get("name"))
            .and_then(YamlNode::as_str)
            .map(str::to_owned)
            .or_else(|| meta.and_then(|m| m.get("generateName")).and_then(YamlNode::as_str).map(|g| format!("{g}*")))
            .unwrap_or_else(|| "<unnamed>".to_owned());
        Ok(Self { id: ObjectRef { api_version, kind, namespace, name }, file, doc_index, doc_pointer, root })
    }

    /// Builds an object from JSON (a webhook request's object, an object read from the API);
    /// `source` names where it came from (`<admission request>`, `cluster:v1/Namespace/dev`) and
    /// stands for its file. Positions are not meaningful (every node is at `1:1`).
    ///
    /// # Errors
    /// When the JSON is not an object with a string `apiVersion` and `kind`.
    pub fn from_json(value: &serde_json::Value, source: Arc<str>) -> Result<Self, ObjectError> {
        Self::from_node(YamlNode::from_json(value), source, 0, String::new())
    }

    /// `kind`.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.id.kind
    }

    /// The API group of `apiVersion` (`""` for the core group).
    #[must_use]
    pub fn group(&self) -> &str {
        self.id.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The map entries under `metadata.labels`.
    pub fn labels(&self) -> impl Iterator<Item = (&str, &str)> {
        string_map(self.root.get("metadata").and_then(|m| m.get("labels")))
    }

    /// The map entries under `metadata.annotations`.
    pub fn annotations(&self) -> impl Iterator<Item = (&str, &str)> {
        string_map(self.root.get("metadata").and_then(|m| m.get("annotations")))
    }

    /// One annotation's value.
    #[must_use]
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// One label's value.
    #[must_use]
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The source location of the field at `pointer` (relative to this object), or of its
    /// nearest existing parent.
    #[must_use]
    pub fn location(&self, pointer: &str) -> Location {
        Location::at(self.file.clone(), self.root.locate(pointer))
    }
}

/// The string-valued entries of a mapping node (non-string values are skipped).
pub fn string_map(node: Option<&YamlNode>) -> impl Iterator<Item = (&str, &str)> {
    node.and_then(YamlNode::as_map)
        .unwrap_or(&[])
        .iter()
        .filter_map(|Entry { key, value, .. }| value.as_str().map(|v| (key.as_str(), v)))
}

/// A document that is not a Kubernetes object: what is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// Not a mapping.
    #[error("expected a Kubernetes object (a mapping), found a {found}")]
    NotAMapping {
        /// What it is instead.
        found: &'static str,
        /// Where it starts.
        pos: Pos,
    },
    /// No `apiVersion` or no `kind`.
    #[error("object has no `{field}`; every Kubernetes object needs apiVersion and kind")]
    Missing {
        /// `apiVersion` or `kind`.
        field: &'static str,
        /// Where the object starts.
        pos: Pos,
    },
    /// `apiVersion` or `kind` that is not a non-empty string.
    #[error("`{field}` must be a non-empty string, found a {found}")]
    NotAString {
        /// `apiVersion` or `kind`.
        field: &'static str,
        /// What it is instead.
        found: &'static str,
        /// Where the value is.
        pos: Pos,
    },
}

impl ObjectError {
    /// Where the problem is.
    #[must_use]
    pub const fn pos(&self) -> Pos {
        match self {
            Self::NotAMapping { pos, .. } | Self::Missing { pos, .. } | Self::NotAString { pos, .. } => *pos,
        }
    }
}

fn required_str(root: &YamlNode, field: &'static str) -> Result<String, ObjectError> {
    match root.entry(field) {
        None => Err(ObjectError::Missing { field, pos: root.pos }),
        Some(e) => match e.value.as_str() {
            Some(s) if !s.is_empty() => Ok(s.to_owned()),
            _ => Err(ObjectError::NotAString { field, found: e.value.type_name(), pos: e.value.pos }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_json_names_the_object_and_its_source() {
        let value = serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "dev", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
        let obj = Object::from_json(&value, "cluster:v1/Namespace/dev".into()).unwrap();
        assert_eq!(obj.id.to_string(), "Namespace/dev");
        assert_eq!(&*obj.file, "cluster:v1/Namespace/dev");
        assert_eq!(obj.label("pod-security.kubernetes.io/enforce"), Some("restricted"));
        assert_eq!(obj.root.to_json(), value);
        let e = Object::from_json(&serde_json::json!({"kind": "Pod"}), "x".into()).unwrap_err();
        assert!(matches!(e, ObjectError::Missing { field: "apiVersion", .. }), "{e}");
    }
}
