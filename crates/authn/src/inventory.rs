//! The objects a service-account token may be bound to, for the lookups kube-apiserver makes when
//! it verifies one (`--service-account-lookup`, always on for bound tokens): the ServiceAccount,
//! and the Secret, Pod or Node named in the token's claims must still exist with the UID the token
//! carries, and not be deleted (beyond the 60 s leeway). Legacy secret-based tokens must moreover
//! still be the Secret's `token`.
//!
//! Pure: built from [`Object`]s (the CLI loads them from manifests) or entry by entry.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kguard_model::yaml::YamlNode;
use kguard_model::{Diagnostic, Object};

/// The kinds a token can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `v1/ServiceAccount`.
    ServiceAccount,
    /// `v1/Secret`.
    Secret,
    /// `v1/Pod`.
    Pod,
    /// `v1/Node` (cluster-scoped: namespace "").
    Node,
}

impl Kind {
    fn from_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "ServiceAccount" => Self::ServiceAccount,
            "Secret" => Self::Secret,
            "Pod" => Self::Pod,
            "Node" => Self::Node,
            _ => return None,
        })
    }
}

/// What the lookups need to know about one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.deletionTimestamp`, Unix seconds.
    pub deletion_timestamp: Option<i64>,
    /// Secrets: the `token` value (`data` decoded, or `stringData`).
    pub token: Option<Vec<u8>>,
    /// Secrets: the `kubernetes.io/legacy-token-invalid-since` label is set.
    pub invalid_since: bool,
}

/// The label the legacy-token cleaner puts on secret-based tokens it has invalidated.
pub const INVALID_SINCE_LABEL: &str = "kubernetes.io/legacy-token-invalid-since";

/// A set of objects, by (kind, namespace, name).
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    entries: HashMap<(Kind, String, String), Entry>,
}

impl Inventory {
    /// Adds (or replaces) an object; `namespace` is ignored for nodes.
    pub fn insert(&mut self, kind: Kind, namespace: &str, name: &str, entry: Entry) {
        let ns = if kind == Kind::Node { "" } else { namespace };
        self.entries.insert((kind, ns.to_owned(), name.to_owned()), entry);
    }

    /// The object, if present.
    #[must_use]
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Entry> {
        let ns = if kind == Kind::Node { "" } else { namespace };
        self.entries.get(&(kind, ns.to_owned(), name.to_owned()))
    }

    /// How many objects it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The core ServiceAccounts, Secrets, Pods and Nodes among `objects` (a missing namespace is
    /// `default`); other objects are ignored. Objects without `metadata.uid` (no token can match
    /// them) and unreadable deletion timestamps or tokens are reported as warnings.
    #[must_use]
    pub fn from_objects(objects: &[Object]) -> (Self, Vec<Diagnostic>) {
        let mut inv = Self::default();
        let mut diags = Vec::new();
        for obj in objects.iter().filter(|o| o.group().is_empty()) {
            let Some(kind) = Kind::from_kind(obj.kind()) else { continue };
            let meta = obj.root.get("metadata");
            let uid = meta.and_then(|m| m.get("uid")).and_then(YamlNode::as_str).unwrap_or_default().to_owned();
            if uid.is_empty() {
                diags.push(Diagnostic::warning(
                    "inventory",
                    obj.location("/metadata"),
                    format!("{}: no metadata.uid: tokens bound to it cannot match", obj.id),
                ));
            }
            let deletion_timestamp = match meta.and_then(|m| m.get("deletionTimestamp")).and_then(YamlNode::as_str) {
                None => None,
                Some(s) => {
                    let t = kguard_model::time::parse_rfc3339(s).ok();
                    if t.is_none() {
                        diags.push(Diagnostic::warning(
                            "inventory",
                            obj.location("/metadata/deletionTimestamp"),
                            format!("{}: deletionTimestamp {s:?} is not RFC 3339; ignored", obj.id),
                        ));
                    }
                    t
                }
            };
            let mut entry = Entry { uid, deletion_timestamp, ..Entry::default() };
            if kind == Kind::Secret {
                entry.invalid_since = obj.label(INVALID_SINCE_LABEL).is_some_and(|v| !v.is_empty());
                let string_data = obj.root.pointer("/stringData/token").and_then(YamlNode::as_str);
                let data = obj.root.pointer("/data/token").and_then(YamlNode::as_str);
                entry.token = match (string_data, data) {
                    (Some(s), _) => Some(s.as_bytes().to_vec()),
                    (None, Some(b64)) => match STANDARD.decode(b64.trim()) {
                        Ok(b) => Some(b),
                        Err(e) => {
                            diags.push(Diagnostic::warning(
                                "inventory",
                                obj.location("/data/token"),
                                format!("{}: data.token is not valid base64 ({e}); ignored", obj.id),
                            ));
                            None
                        }
                    },
                    (None, None) => None,
                };
            }
            let namespace = obj.id.namespace.as_deref().unwrap_or("default");
            inv.insert(kind, namespace, &obj.id.name, entry);
        }
        (inv, diags)
    }
}
