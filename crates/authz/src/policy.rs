//! RBAC objects as validated values: rules, subjects, role references, roles and bindings,
//! parsed once from `Object`s (keeping the objects, so findings can point at any field).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use kguard_model::{Diagnostic, Location, Object, ObjectRef, YamlNode};
use serde::Deserialize;

/// The RBAC API group.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One `PolicyRule` (`rbac/v1`). Empty lists stay empty (a rule with no verbs matches nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// Verbs (`*` = all).
    #[serde(default, deserialize_with = "null_vec")]
    pub verbs: Vec<String>,
    /// API groups (`""` = core, `*` = all).
    #[serde(default, deserialize_with = "null_vec")]
    pub api_groups: Vec<String>,
    /// Resources (`*`, `res`, `res/sub`, `*/sub`).
    #[serde(default, deserialize_with = "null_vec")]
    pub resources: Vec<String>,
    /// Object names (empty = any).
    #[serde(default, deserialize_with = "null_vec")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs (`*`, exact, `prefix*`).
    #[serde(default, rename = "nonResourceURLs", deserialize_with = "null_vec")]
    pub non_resource_urls: Vec<String>,
}

impl PolicyRule {
    /// A resource rule.
    #[must_use]
    pub fn resource(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Self {
        Self {
            verbs: owned(verbs),
            api_groups: owned(groups),
            resources: owned(resources),
            resource_names: Vec::new(),
            non_resource_urls: Vec::new(),
        }
    }

    /// A non-resource rule.
    #[must_use]
    pub fn non_resource(verbs: &[&str], urls: &[&str]) -> Self {
        Self { verbs: owned(verbs), non_resource_urls: owned(urls), ..Self::default() }
    }

    /// The same rule restricted to these names.
    #[must_use]
    pub fn with_names(mut self, names: &[&str]) -> Self {
        self.resource_names = owned(names);
        self
    }

    /// Upstream's `CompactString`: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}` (empty
    /// fields left out).
    #[must_use]
    pub fn compact_string(&self) -> String {
        use kguard_request::go_quote_list;
        let mut parts = Vec::new();
        if !self.api_groups.is_empty() {
            parts.push(format!("APIGroups:{}", go_quote_list(&self.api_groups)));
        }
        if !self.resources.is_empty() {
            parts.push(format!("Resources:{}", go_quote_list(&self.resources)));
        }
        if !self.non_resource_urls.is_empty() {
            parts.push(format!("NonResourceURLs:{}", go_quote_list(&self.non_resource_urls)));
        }
        if !self.resource_names.is_empty() {
            parts.push(format!("ResourceNames:{}", go_quote_list(&self.resource_names)));
        }
        if !self.verbs.is_empty() {
            parts.push(format!("Verbs:{}", go_quote_list(&self.verbs)));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.compact_string())
    }
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn null_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// A binding subject.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// `User`, `Group` or `ServiceAccount`.
    #[serde(default)]
    pub kind: String,
    /// API group (not checked when matching, as upstream).
    #[serde(default)]
    pub api_group: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Namespace (service accounts; empty means the binding's namespace).
    #[serde(default)]
    pub namespace: String,
}

impl Subject {
    /// A `User` subject.
    #[must_use]
    pub fn user(name: &str) -> Self {
        Self { kind: "User".into(), api_group: RBAC_GROUP.into(), name: name.into(), namespace: String::new() }
    }

    /// A `Group` subject.
    #[must_use]
    pub fn group(name: &str) -> Self {
        Self { kind: "Group".into(), api_group: RBAC_GROUP.into(), name: name.into(), namespace: String::new() }
    }

    /// A `ServiceAccount` subject.
    #[must_use]
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self { kind: "ServiceAccount".into(), api_group: String::new(), name: name.into(), namespace: namespace.into() }
    }

    /// Upstream's `describeSubject`: `User "alice"`, `ServiceAccount "name/ns"` (the binding's
    /// namespace when the subject has none).
    #[must_use]
    pub fn describe(&self, binding_namespace: &str) -> String {
        use kguard_model::text::go_quote;
        if self.kind == "ServiceAccount" {
            let ns = if self.namespace.is_empty() { binding_namespace } else { &self.namespace };
            format!("{} {}", self.kind, go_quote(&format!("{}/{ns}", self.name)))
        } else {
            format!("{} {}", self.kind, go_quote(&self.name))
        }
    }

    /// A short form for paths and tables: `user jane`, `group dev`, `sa ci/deployer`.
    #[must_use]
    pub fn short(&self, binding_namespace: &str) -> String {
        match self.kind.as_str() {
            "User" => format!("user {}", self.name),
            "Group" => format!("group {}", self.name),
            "ServiceAccount" => {
                let ns = if self.namespace.is_empty() { binding_namespace } else { &self.namespace };
                format!("sa {ns}/{}", self.name)
            }
            other => format!("{other} {}", self.name),
        }
    }
}

/// A binding's `roleRef`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    /// API group (`rbac.authorization.k8s.io`).
    #[serde(default)]
    pub api_group: String,
    /// `Role` or `ClusterRole`.
    #[serde(default)]
    pub kind: String,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// One `LabelSelectorRequirement`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct SelectorRequirement {
    /// Label key.
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[serde(default)]
    pub operator: String,
    /// Values (for `In` / `NotIn`).
    #[serde(default, deserialize_with = "null_vec")]
    pub values: Vec<String>,
}

/// A `LabelSelector` (matchLabels ANDed with matchExpressions; empty matches everything).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Exact labels.
    #[serde(default)]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Set-based requirements.
    #[serde(default)]
    pub match_expressions: Option<Vec<SelectorRequirement>>,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector. An unknown operator matches nothing (upstream
    /// rejects such a selector).
    #[must_use]
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let exact = self.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
        exact
            && self.match_expressions.iter().flatten().all(|r| {
                let value = labels.get(&r.key);
                match r.operator.as_str() {
                    "In" => value.is_some_and(|v| r.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRole {
    #[serde(default)]
    rules: Option<Vec<PolicyRule>>,
    #[serde(default)]
    aggregation_rule: Option<RawAggregation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAggregation {
    #[serde(default)]
    cluster_role_selectors: Option<Vec<LabelSelector>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBinding {
    #[serde(default)]
    role_ref: Option<RoleRef>,
    #[serde(default)]
    subjects: Option<Vec<Subject>>,
}

/// Where one (possibly aggregated) rule was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSource {
    /// The role that holds the rule text.
    pub role: ObjectRef,
    /// Its location (`/rules/<i>` of that role).
    pub location: Location,
}

/// A `Role` or `ClusterRole`.
#[derive(Clone, Debug)]
pub struct Role {
    /// The object.
    pub object: Arc<Object>,
    /// Whether it is a `ClusterRole`.
    pub cluster: bool,
    /// Namespace (empty for cluster roles).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Rules (for aggregated cluster roles: after aggregation).
    pub rules: Vec<PolicyRule>,
    /// Where each rule is written (parallel to `rules`).
    pub rule_sources: Vec<RuleSource>,
    /// The aggregation selectors, when the role has an `aggregationRule`.
    pub aggregation: Option<Vec<LabelSelector>>,
}

impl Role {
    /// Whether it carries `kubernetes.io/bootstrapping: rbac-defaults` (an upstream default).
    #[must_use]
    pub fn is_default(&self) -> bool {
        self.labels.get("kubernetes.io/bootstrapping").is_some_and(|v| v == "rbac-defaults")
    }
}

/// A `RoleBinding` or `ClusterRoleBinding`.
#[derive(Clone, Debug)]
pub struct Binding {
    /// The object.
    pub object: Arc<Object>,
    /// Whether it is a `ClusterRoleBinding`.
    pub cluster: bool,
    /// Namespace (empty for cluster role bindings).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The role referenced.
    pub role_ref: RoleRef,
    /// Subjects, in order.
    pub subjects: Vec<Subject>,
}

impl Binding {
    /// Upstream's describer: `ClusterRoleBinding "crb" of ClusterRole "cr" to User "alice"` or
    /// `RoleBinding "rb/ns" of Role "r" to Group "g"`.
    #[must_use]
    pub fn describe(&self, subject: &Subject) -> String {
        use kguard_model::text::go_quote;
        if self.cluster {
            format!(
                "ClusterRoleBinding {} of {} {} to {}",
                go_quote(&self.name),
                self.role_ref.kind,
                go_quote(&self.role_ref.name),
                subject.describe("")
            )
        } else {
            format!(
                "RoleBinding {} of {} {} to {}",
                go_quote(&format!("{}/{}", self.name, self.namespace)),
                self.role_ref.kind,
                go_quote(&self.role_ref.name),
                subject.describe(&self.namespace)
            )
        }
    }

    /// The location of subject `i`.
    #[must_use]
    pub fn subject_location(&self, i: usize) -> Location {
        self.object.location(&format!("/subjects/{i}"))
    }

    /// Whether it carries `kubernetes.io/bootstrapping: rbac-defaults` (an upstream default).
    #[must_use]
    pub fn is_default(&self) -> bool {
        self.object.label("kubernetes.io/bootstrapping") == Some("rbac-defaults")
    }
}

/// What [`parse_objects`] found.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// Roles and cluster roles, in input order.
    pub roles: Vec<Role>,
    /// Role bindings and cluster role bindings, in input order.
    pub bindings: Vec<Binding>,
    /// Problems (malformed RBAC objects are skipped with an error).
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether an object is an RBAC object kguard reads (any `rbac.authorization.k8s.io` version).
#[must_use]
pub fn is_rbac(obj: &Object) -> bool {
    obj.group() == RBAC_GROUP && matches!(obj.kind(), "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding")
}

/// Parses the RBAC objects among `objects` (others are ignored).
#[must_use]
pub fn parse_objects(objects: &[Object]) -> Parsed {
    let mut out = Parsed::default();
    for obj in objects.iter().filter(|o| is_rbac(o)) {
        let cluster = obj.kind().starts_with("Cluster");
        let namespace = if cluster { String::new() } else { obj.id.namespace.clone().unwrap_or_default() };
        let name = obj.id.name.clone();
        if !cluster && namespace.is_empty() {
            out.diagnostics.push(Diagnostic::warning(
                "rbac-no-namespace",
                obj.location("/metadata"),
                format!("{} has no metadata.namespace; read as in namespace \"default\"", obj.id),
            ));
        }
        let namespace = if !cluster && namespace.is_empty() { "default".to_owned() } else { namespace };
        let json = obj.root.to_json();
        let object = Arc::new(obj.clone());
        if obj.kind().ends_with("Binding") {
            match serde_path_to_error::deserialize::<_, RawBinding>(json) {
                Ok(raw) => {
                    let Some(role_ref) = raw.role_ref else {
                        out.diagnostics.push(Diagnostic::error(
                            "rbac-invalid",
                            obj.location(""),
                            format!("{} has no roleRef; skipped", obj.id),
                        ));
                        continue;
                    };
                    out.bindings.push(Binding {
                        object,
                        cluster,
                        namespace,
                        name,
                        role_ref,
                        subjects: raw.subjects.unwrap_or_default(),
                    });
                }
                Err(e) => out.diagnostics.push(invalid(obj, &e)),
            }
        } else {
            match serde_path_to_error::deserialize::<_, RawRole>(json) {
                Ok(raw) => {
                    let rules = raw.rules.unwrap_or_default();
                    let rule_sources = (0..rules.len())
                        .map(|i| RuleSource { role: obj.id.clone(), location: obj.location(&format!("/rules/{i}")) })
                        .collect();
                    let labels = obj.labels().map(|(k, v)| (k.to_owned(), v.to_owned())).collect::<BTreeMap<_, _>>();
                    let aggregation = if cluster {
                        raw.aggregation_rule.map(|a| a.cluster_role_selectors.unwrap_or_default())
                    } else {
                        None
                    };
                    out.roles.push(Role { object, cluster, namespace, name, labels, rules, rule_sources, aggregation });
                }
                Err(e) => out.diagnostics.push(invalid(obj, &e)),
            }
        }
    }
    out
}

fn invalid(obj: &Object, e: &serde_path_to_error::Error<serde_json::Error>) -> Diagnostic {
    let path = e.path().to_string();
    let pointer = if path == "." {
        String::new()
    } else {
        path.replace('[', ".").replace(']', "").split('.').filter(|s| !s.is_empty()).fold(
            String::new(),
            |mut acc, seg| {
                acc.push('/');
                acc.push_str(seg);
                acc
            },
        )
    };
    Diagnostic::error(
        "rbac-invalid",
        obj.location(&pointer),
        format!("{} is not a valid RBAC object ({}: {}); skipped", obj.id, path, e.inner()),
    )
}

/// The string at `pointer` in a node, for callers that need one field.
#[must_use]
pub fn str_at<'a>(node: &'a YamlNode, pointer: &str) -> Option<&'a str> {
    node.pointer(pointer).and_then(YamlNode::as_str)
}
