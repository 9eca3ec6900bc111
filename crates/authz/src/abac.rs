//! ABAC (`--authorization-policy-file`, `pkg/auth/authorizer/abac`): one JSON policy per line,
//! first match allows, otherwise NoOpinion `No policy matched.`. Unversioned (v0) lines are
//! converted the way upstream converts them.

use serde::Deserialize;

use super::Authorizer;
use super::attrs::{Decision, RulesReview};
use super::policy::PolicyRule;
use kguard_request::{ALL_AUTHENTICATED, Attributes, UserInfo};

/// The v1beta1 API version of policy lines.
pub const V1BETA1: &str = "abac.authorization.kubernetes.io/v1beta1";

/// One policy (`spec` of a v1beta1 line). Unset fields are empty strings, which match only empty
/// attribute values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    /// User name, or `*`.
    #[serde(default)]
    pub user: String,
    /// Group, or `*`.
    #[serde(default)]
    pub group: String,
    /// Read-only (get/list/watch) only.
    #[serde(default)]
    pub readonly: bool,
    /// API group, or `*`.
    #[serde(default)]
    pub api_group: String,
    /// Namespace, or `*` (which also matches cluster-scoped requests).
    #[serde(default)]
    pub namespace: String,
    /// Resource, or `*` (subresources are ignored).
    #[serde(default)]
    pub resource: String,
    /// Non-resource path: `*`, exact, or `prefix*`.
    #[serde(default)]
    pub non_resource_path: String,
}

/// One line of the file: the policy and its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// Whether the line was in the unversioned (v0) format and converted.
    pub converted_from_v0: bool,
    /// The policy.
    pub spec: PolicySpec,
}

/// A parsed policy file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AbacPolicy {
    /// The file name (for messages).
    pub file: String,
    /// Policies in file order.
    pub policies: Vec<PolicyLine>,
}

#[derive(Deserialize)]
struct Versioned {
    #[serde(default, rename = "apiVersion")]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    spec: Option<PolicySpec>,
}

/// The legacy flat format.
#[derive(Deserialize)]
struct V0 {
    #[serde(default)]
    user: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    readonly: bool,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    namespace: String,
}

/// Upstream's v0 → v1beta1 conversion.
fn convert_v0(v: V0) -> PolicySpec {
    let mut p = PolicySpec {
        user: v.user.clone(),
        group: v.group.clone(),
        readonly: v.readonly,
        api_group: "*".to_owned(),
        namespace: v.namespace.clone(),
        resource: v.resource.clone(),
        non_resource_path: String::new(),
    };
    if v.user.is_empty() && v.group.is_empty() {
        p.group = ALL_AUTHENTICATED.to_owned();
    }
    if v.user == "*" || v.group == "*" {
        p.group = ALL_AUTHENTICATED.to_owned();
        p.user.clear();
    }
    if v.namespace.is_empty() {
        p.namespace = "*".to_owned();
    }
    if v.resource.is_empty() {
        p.resource = "*".to_owned();
    }
    if v.namespace.is_empty() && v.resource.is_empty() {
        p.non_resource_path = "*".to_owned();
    }
    p
}

impl AbacPolicy {
    /// Parses the text of a policy file named `file`. Blank lines and lines starting with `#`
    /// are skipped; lines without apiVersion/kind are read as v0 and converted.
    ///
    /// # Errors
    /// `error reading policy file <file>, line <n>: <line>: <error>`, as kube-apiserver reports it.
    pub fn parse(file: &str, text: &str) -> Result<Self, crate::AbacError> {
        let mut policies = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let err = |e: &dyn std::fmt::Display| crate::AbacError {
                file: file.to_owned(),
                line,
                text: raw.to_owned(),
                reason: e.to_string(),
            };
            let versioned: Versioned = serde_json::from_str(raw).map_err(|e| err(&e))?;
            let is_v1beta1 =
                versioned.api_version.as_deref() == Some(V1BETA1) && versioned.kind.as_deref() == Some("Policy");
            if is_v1beta1 {
                let mut spec = versioned.spec.unwrap_or_default();
                // v1beta1's conversion: a `*` user or group means every authenticated subject
                // (not system:anonymous), whatever the other of the two says
                if spec.user == "*" || spec.group == "*" {
                    ALL_AUTHENTICATED.clone_into(&mut spec.group);
                    spec.user.clear();
                }
                policies.push(PolicyLine { line, converted_from_v0: false, spec });
            } else if versioned.kind.is_some() && versioned.api_version.as_deref() == Some(V1BETA1) {
                return Err(err(&format!("unrecognized kind {:?}", versioned.kind.unwrap_or_default())));
            } else {
                let v0: V0 = serde_json::from_str(raw).map_err(|e| err(&e))?;
                policies.push(PolicyLine { line, converted_from_v0: true, spec: convert_v0(v0) });
            }
        }
        Ok(Self { file: file.to_owned(), policies })
    }

    /// How many lines were in the unversioned format (kube-apiserver warns about them).
    #[must_use]
    pub fn unversioned_lines(&self) -> usize {
        self.policies.iter().filter(|p| p.converted_from_v0).count()
    }

    /// The first policy that matches, if any.
    #[must_use]
    pub fn matching(&self, attrs: &Attributes) -> Option<&PolicyLine> {
        self.policies.iter().find(|p| matches(&p.spec, attrs))
    }
}

/// Whether the policy's subject matches the user: a set `user` must be `*` or the name, a set
/// `group` must be `*` or one of the groups, and at least one of them must be set.
#[must_use]
pub fn subject_matches(p: &PolicySpec, user: &UserInfo) -> bool {
    let mut matched = false;
    if !p.user.is_empty() {
        if p.user == "*" {
            matched = true;
        } else {
            matched = p.user == user.name;
            if !matched {
                return false;
            }
        }
    }
    if !p.group.is_empty() {
        if p.group == "*" {
            matched = true;
        } else {
            matched = user.in_group(&p.group);
            if !matched {
                return false;
            }
        }
    }
    matched
}

fn verb_matches(p: &PolicySpec, a: &Attributes) -> bool {
    a.is_read_only() || !p.readonly
}

fn resource_matches(p: &PolicySpec, a: &Attributes) -> bool {
    a.resource_request
        && (p.namespace == "*" || p.namespace == a.namespace)
        && (p.resource == "*" || p.resource == a.resource)
        && (p.api_group == "*" || p.api_group == a.api_group)
}

fn non_resource_matches(p: &PolicySpec, a: &Attributes) -> bool {
    if a.resource_request {
        return false;
    }
    let np = &p.non_resource_path;
    np == "*" || *np == a.path || (np.ends_with('*') && a.path.starts_with(np.trim_end_matches('*')))
}

/// Whether one policy allows the request.
#[must_use]
pub fn matches(p: &PolicySpec, a: &Attributes) -> bool {
    subject_matches(p, &a.user) && verb_matches(p, a) && (resource_matches(p, a) || non_resource_matches(p, a))
}

fn verbs(readonly: bool) -> Vec<String> {
    if readonly { vec!["get".into(), "list".into(), "watch".into()] } else { vec!["*".into()] }
}

impl Authorizer for AbacPolicy {
    fn name(&self) -> &'static str {
        "ABAC"
    }

    fn authorize(&self, attrs: &Attributes) -> Decision {
        match self.matching(attrs) {
            Some(p) => {
                let mut d = Decision::allow("ABAC", "");
                d.notes.push(format!("allowed by {}:{} (policy line {})", self.file, p.line, p.line));
                d
            }
            None => Decision::no_opinion("ABAC", "No policy matched."),
        }
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview {
        let mut out = RulesReview::default();
        for p in self.policies.iter().map(|p| &p.spec) {
            if !subject_matches(p, user) || !(p.namespace == "*" || p.namespace == namespace) {
                continue;
            }
            if !p.resource.is_empty() {
                out.resource_rules.push(PolicyRule {
                    verbs: verbs(p.readonly),
                    api_groups: vec![p.api_group.clone()],
                    resources: vec![p.resource.clone()],
                    ..PolicyRule::default()
                });
            }
            if !p.non_resource_path.is_empty() {
                out.non_resource_rules.push(PolicyRule {
                    verbs: verbs(p.readonly),
                    non_resource_urls: vec![p.non_resource_path.clone()],
                    ..PolicyRule::default()
                });
            }
        }
        out
    }
}
