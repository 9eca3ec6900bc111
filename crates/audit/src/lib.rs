//! Kubernetes audit policies (audit.k8s.io/v1 `Policy`), evaluated the way the API server's
//! policy checker (`k8s.io/apiserver/pkg/audit/policy/checker.go`) does, and linted.
//!
//! * [`parse_policy`] reads a `Policy` from a YAML node, keeping each rule's position.
//! * [`Policy::evaluate`] gives the level, omitted stages and `omitManagedFields` of a request:
//!   the first matching rule wins; without one, level `None` with the policy's stages.
//! * [`lint`] reports weaknesses as [`Finding`]s; each check is one [`RuleMeta`] in [`RULES`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

use std::fmt;
use std::sync::Arc;

use kguard_model::text::{did_you_mean, go_quote};
use kguard_model::yaml::YamlNode;
use kguard_model::{Location, ObjectRef, Pos};
use kguard_report::{Finding, RuleMeta, Severity};

/// How much of a request is recorded. Ordered: `None < Metadata < Request < RequestResponse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Nothing.
    None,
    /// Request metadata (user, verb, object, timestamps, status); no bodies.
    Metadata,
    /// Metadata and the request body.
    Request,
    /// Metadata, request and response bodies.
    RequestResponse,
}

impl Level {
    /// Parses the API spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "None" => Self::None,
            "Metadata" => Self::Metadata,
            "Request" => Self::Request,
            "RequestResponse" => Self::RequestResponse,
            _ => return None,
        })
    }
    /// The API spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Metadata => "Metadata",
            Self::Request => "Request",
            Self::RequestResponse => "RequestResponse",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stage of request handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Before the handler.
    RequestReceived,
    /// Headers sent, body not yet (long-running requests).
    ResponseStarted,
    /// Response complete.
    ResponseComplete,
    /// A panic.
    Panic,
}

impl Stage {
    /// Parses the API spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RequestReceived" => Self::RequestReceived,
            "ResponseStarted" => Self::ResponseStarted,
            "ResponseComplete" => Self::ResponseComplete,
            "Panic" => Self::Panic,
            _ => return None,
        })
    }
    /// The API spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RequestReceived => "RequestReceived",
            Self::ResponseStarted => "ResponseStarted",
            Self::ResponseComplete => "ResponseComplete",
            Self::Panic => "Panic",
        }
    }
}

/// Resources of one API group in a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupResources {
    /// API group (`""` is core). Matched exactly; `*` matches every group (kube-apiserver
    /// v1.36 and later).
    pub group: String,
    /// `res`, `res/sub`, `*`, `*/sub`, `res/*`; empty = every resource of the group.
    pub resources: Vec<String>,
    /// Object names; empty = any.
    pub resource_names: Vec<String>,
}

/// One policy rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRule {
    /// Level of matching requests.
    pub level: Level,
    /// User names; empty = any.
    pub users: Vec<String>,
    /// Groups; empty = any.
    pub user_groups: Vec<String>,
    /// Verbs; empty = any.
    pub verbs: Vec<String>,
    /// Resources; a rule with resources or namespaces matches resource requests only.
    pub resources: Vec<GroupResources>,
    /// Namespaces (`""` = cluster-scoped).
    pub namespaces: Vec<String>,
    /// Non-resource URL paths (`*` suffix = prefix).
    pub non_resource_urls: Vec<String>,
    /// Stages not recorded (unioned with the policy's).
    pub omit_stages: Vec<Stage>,
    /// Overrides the policy's `omitManagedFields`.
    pub omit_managed_fields: Option<bool>,
    /// Where the rule starts.
    pub pos: Pos,
}

/// An audit policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Rules, in order.
    pub rules: Vec<PolicyRule>,
    /// Stages omitted for every request.
    pub omit_stages: Vec<Stage>,
    /// Default for rules.
    pub omit_managed_fields: bool,
    /// Where the policy starts.
    pub pos: Pos,
}

/// The attributes of a request the policy looks at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestAttributes {
    /// User name (`None`: no user, e.g. unauthenticated before authn).
    pub user: Option<String>,
    /// The user's groups.
    pub groups: Vec<String>,
    /// Verb (`get`, `list`, `create`, …).
    pub verb: String,
    /// Whether this is a resource request (else non-resource, with `path`).
    pub resource_request: bool,
    /// API group (`""` core).
    pub api_group: String,
    /// Resource, e.g. `pods`.
    pub resource: String,
    /// Subresource, e.g. `exec`.
    pub subresource: String,
    /// Namespace (`""` cluster-scoped).
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// Request path (non-resource requests).
    pub path: String,
}

/// The audit configuration of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Level.
    pub level: Level,
    /// Omitted stages (sorted, unique).
    pub omit_stages: Vec<Stage>,
    /// Whether managed fields are omitted from bodies.
    pub omit_managed_fields: bool,
    /// Index of the matching rule (`None`: no rule matched).
    pub rule: Option<usize>,
}

/// A problem in a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// Where.
    pub pos: Pos,
    /// What (upstream-style field path and message).
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)
    }
}

fn union(a: &[Stage], b: &[Stage]) -> Vec<Stage> {
    let mut v: Vec<Stage> = a.iter().chain(b.iter()).copied().collect();
    v.sort();
    v.dedup();
    v
}

/// "a string", "an integer": a node's type for messages.
fn a_type(n: &YamlNode) -> String {
    let t = n.type_name();
    let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {t}")
}

fn wrong_type(n: &YamlNode, path: &str, expected: &str) -> PolicyError {
    PolicyError { pos: n.pos, message: format!("{path}: expected {expected}, found {}", a_type(n)) }
}

/// The items of a list field: absent or null is empty; anything but a sequence is an error.
fn seq<'n>(node: Option<&'n YamlNode>, path: &str, what: &str, errors: &mut Vec<PolicyError>) -> &'n [YamlNode] {
    match node {
        None => &[],
        Some(n) if n.is_null() => &[],
        Some(n) => n.as_seq().unwrap_or_else(|| {
            errors.push(wrong_type(n, path, what));
            &[]
        }),
    }
}

/// A boolean field: absent or null is unset; anything but a boolean is an error.
fn boolean(node: Option<&YamlNode>, path: &str, errors: &mut Vec<PolicyError>) -> Option<bool> {
    let n = node.filter(|n| !n.is_null())?;
    let b = n.as_bool();
    if b.is_none() {
        errors.push(wrong_type(n, path, "a boolean"));
    }
    b
}

/// A string field: absent or null is `None`; anything but a string is an error.
fn string<'n>(node: Option<&'n YamlNode>, path: &str, errors: &mut Vec<PolicyError>) -> Option<&'n str> {
    let n = node.filter(|n| !n.is_null())?;
    let s = n.as_str();
    if s.is_none() {
        errors.push(wrong_type(n, path, "a string"));
    }
    s
}

fn strings(node: Option<&YamlNode>, path: &str, errors: &mut Vec<PolicyError>) -> Vec<String> {
    let Some(n) = node else { return Vec::new() };
    if n.is_null() {
        return Vec::new();
    }
    let Some(seq) = n.as_seq() else {
        errors.push(wrong_type(n, path, "a list of strings"));
        return Vec::new();
    };
    seq.iter()
        .enumerate()
        .filter_map(|(i, s)| match s.as_str() {
            Some(v) => Some(v.to_owned()),
            None => {
                errors.push(wrong_type(s, &format!("{path}[{i}]"), "a string"));
                None
            }
        })
        .collect()
}

/// The stages of an `omitStages` list; an unknown one is upstream's `validateOmitStages` error.
fn stages(node: Option<&YamlNode>, path: &str, errors: &mut Vec<PolicyError>) -> Vec<Stage> {
    let mut out = Vec::new();
    let items = seq(node, path, "a list of strings", errors);
    for (i, item) in items.iter().enumerate() {
        let Some(s) = item.as_str() else {
            errors.push(wrong_type(item, &format!("{path}[{i}]"), "a string"));
            continue;
        };
        match Stage::parse(s) {
            Some(st) => out.push(st),
            None => errors.push(PolicyError {
                pos: item.pos,
                message: format!(
                    "{path}[{i}]: Invalid value: {}: allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic",
                    go_quote(s)
                ),
            }),
        }
    }
    out
}

/// A list of strings as `field.Invalid` shows a `[]string` value: `["a","b"]`.
fn json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| serde_json_string(s)).collect();
    format!("[{}]", quoted.join(","))
}

/// A JSON string literal.
fn serde_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `validation.IsDNS1123Subdomain`'s messages for an API group name (empty when valid).
fn dns1123_subdomain_errors(value: &str) -> Vec<&'static str> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push("must be no more than 253 characters");
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b.first().is_some_and(u8::is_ascii_alphanumeric)
            && b.last().is_some_and(u8::is_ascii_alphanumeric)
    };
    if !value.split('.').all(label_ok) {
        errs.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        );
    }
    errs
}

/// The fields of a `Policy`, a `PolicyRule` and a `GroupResources` (audit.k8s.io/v1 types).
const POLICY_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"];
const RULE_FIELDS: &[&str] = &[
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
];
const GROUP_RESOURCES_FIELDS: &[&str] = &["group", "resources", "resourceNames"];

/// kube-apiserver reads a policy strictly first and, on unknown fields, warns and reads it again
/// leniently (`Audit policy contains errors, falling back to lenient decoding: strict decoding
/// error: unknown field "rules[0].resource"`): each unknown field is a warning, with the close
/// field name where there is one.
fn unknown_fields(node: &YamlNode, known: &[&str], path: &str, warnings: &mut Vec<PolicyError>) {
    for e in node.as_map().unwrap_or(&[]) {
        if known.contains(&e.key.as_str()) {
            continue;
        }
        let full = if path.is_empty() { e.key.clone() } else { format!("{path}.{}", e.key) };
        let hint =
            did_you_mean(&e.key, known.iter().copied()).map(|k| format!("; did you mean {k:?}?")).unwrap_or_default();
        warnings.push(PolicyError { pos: e.key_pos, message: format!("unknown field {full:?}{hint}") });
    }
}

/// A policy file read and validated: the policy when it is valid, the errors kube-apiserver
/// refuses it for (it does not start), and the warnings it logs (unknown fields) or that it
/// would not give but that mean a rule cannot do what it says (a resource pattern no request
/// has).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyCheck {
    /// The policy, when there is no error.
    pub policy: Option<Policy>,
    /// Validation errors, in document order.
    pub errors: Vec<PolicyError>,
    /// Warnings, in document order.
    pub warnings: Vec<PolicyError>,
}

/// Reads a `Policy` (apiVersion `audit.k8s.io/v1`, the only version kube-apiserver v1.36 reads) from its YAML node,
/// validating it as the API server does.
///
/// # Errors
/// Every validation error, with its position.
pub fn parse_policy(root: &YamlNode) -> Result<Policy, Vec<PolicyError>> {
    let check = check_policy(root);
    match check.policy {
        Some(p) => Ok(p),
        None => Err(check.errors),
    }
}

/// Reads and validates a `Policy` as kube-apiserver does (`LoadPolicyFromBytes`: strict, then
/// lenient decoding; `validation.ValidatePolicy`, messages word for word), keeping the warnings.
#[must_use]
pub fn check_policy(root: &YamlNode) -> PolicyCheck {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    // kube-apiserver v1.36 decodes audit.k8s.io/v1 only (v1alpha1 and v1beta1 are gone from its
    // scheme): `failed decoding: no kind "Policy" is registered for version "audit.k8s.io/v1beta1"`.
    let kind_node = root.get("kind");
    let kind = kind_node.and_then(YamlNode::as_str).unwrap_or("");
    let api_node = root.get("apiVersion");
    let api = api_node.and_then(YamlNode::as_str).unwrap_or("");
    if api.is_empty() {
        // upstream: `unknown group version field audit.k8s.io/__internal, Kind=Policy in policy`
        errors.push(PolicyError { pos: root.pos, message: "apiVersion: Required value".to_owned() });
    } else if api != "audit.k8s.io/v1" {
        errors.push(PolicyError {
            pos: api_node.map_or(root.pos, |n| n.pos),
            message: format!(
                "apiVersion: no kind {} is registered for version {} (expected audit.k8s.io/v1)",
                go_quote(if kind.is_empty() { "Policy" } else { kind }),
                go_quote(api)
            ),
        });
    }
    if kind.is_empty() {
        errors.push(PolicyError { pos: root.pos, message: "kind: Required value".to_owned() });
    } else if kind != "Policy" && (api.is_empty() || api == "audit.k8s.io/v1") {
        errors.push(PolicyError {
            pos: kind_node.map_or(root.pos, |n| n.pos),
            message: format!(
                "kind: no kind {} is registered for version {} (expected Policy)",
                go_quote(kind),
                go_quote(if api.is_empty() { "audit.k8s.io/v1" } else { api })
            ),
        });
    }
    unknown_fields(root, POLICY_FIELDS, "", &mut warnings);
    if let Some(meta) = root.get("metadata") {
        for u in kguard_discovery::unknown_metadata_fields(meta, "metadata", "/metadata") {
            warnings.push(PolicyError { pos: u.pos, message: u.to_string() });
        }
    }
    let omit_stages = stages(root.get("omitStages"), "omitStages", &mut errors);
    let omit_managed_fields = boolean(root.get("omitManagedFields"), "omitManagedFields", &mut errors).unwrap_or(false);
    let mut rules = Vec::new();
    let rule_nodes = seq(root.get("rules"), "rules", "a list of rules", &mut errors);
    for (i, r) in rule_nodes.iter().enumerate() {
        let p = format!("rules[{i}]");
        if r.as_map().is_none() {
            errors.push(wrong_type(r, &p, "a mapping"));
            continue;
        }
        unknown_fields(r, RULE_FIELDS, &p, &mut warnings);
        let level_node = r.get("level").filter(|n| !n.is_null());
        let level = match level_node.map(|n| (n, n.as_str())) {
            Some((n, Some(l))) => Level::parse(l).unwrap_or_else(|| {
                errors.push(PolicyError { pos: n.pos, message: format!("{p}.level: Unsupported value: {}: supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\"", go_quote(l)) });
                Level::None
            }),
            Some((n, None)) => {
                errors.push(wrong_type(n, &format!("{p}.level"), "a string"));
                Level::None
            }
            None => {
                errors.push(PolicyError { pos: r.pos, message: format!("{p}.level: Required value") });
                Level::None
            }
        };
        let non_resource_urls = strings(r.get("nonResourceURLs"), &format!("{p}.nonResourceURLs"), &mut errors);
        let url_items = r.get("nonResourceURLs").and_then(YamlNode::as_seq).unwrap_or(&[]);
        for (k, u) in non_resource_urls.iter().enumerate() {
            if u == "*" {
                continue;
            }
            let pos = url_items.get(k).map_or(r.pos, |n| n.pos);
            let invalid = |detail: &str| PolicyError {
                pos,
                message: format!("{p}.nonResourceURLs[{k}]: Invalid value: {}: {detail}", go_quote(u)),
            };
            if !u.starts_with('/') {
                errors.push(invalid("non-resource URL rules must begin with a '/' character"));
            }
            let mut chars = u.chars();
            chars.next_back();
            if chars.as_str().contains('*') {
                errors.push(invalid("non-resource URL wildcards '*' must be the final character of the rule"));
            }
        }
        let mut resources = Vec::new();
        let rs = seq(r.get("resources"), &format!("{p}.resources"), "a list of group resources", &mut errors);
        for (k, g) in rs.iter().enumerate() {
            let gp = format!("{p}.resources[{k}]");
            if g.as_map().is_none() {
                errors.push(wrong_type(g, &gp, "a mapping"));
                continue;
            }
            unknown_fields(g, GROUP_RESOURCES_FIELDS, &gp, &mut warnings);
            let group = string(g.get("group"), &format!("{gp}.group"), &mut errors).unwrap_or("").to_owned();
            // `*` matches every group (kube-apiserver v1.36+, apiserver@6728d94922ae); any other
            // non-empty group must be a DNS subdomain. Upstream's path has no index.
            if !group.is_empty() && group != "*" {
                let msgs = dns1123_subdomain_errors(&group);
                if !msgs.is_empty() {
                    errors.push(PolicyError {
                        pos: g.get("group").map_or(g.pos, |n| n.pos),
                        message: format!(
                            "{p}.resources.group: Invalid value: {}: {}",
                            go_quote(&group),
                            msgs.join(",")
                        ),
                    });
                }
            }
            let res = strings(g.get("resources"), &format!("{gp}.resources"), &mut errors);
            let names = strings(g.get("resourceNames"), &format!("{gp}.resourceNames"), &mut errors);
            if !names.is_empty() && res.is_empty() {
                errors.push(PolicyError {
                    pos: g.get("resourceNames").map_or(g.pos, |n| n.pos),
                    message: format!(
                        "{p}.resources.resourceNames: Invalid value: {}: using resourceNames requires at least one resource",
                        json_list(&names)
                    ),
                });
            }
            let res_items = g.get("resources").and_then(YamlNode::as_seq).unwrap_or(&[]);
            for (j, x) in res.iter().enumerate() {
                // kube-apiserver accepts any string; these can match no request
                let parts: Vec<&str> = x.split('/').collect();
                let never = x.is_empty()
                    || parts.len() > 2
                    || parts.iter().any(|s| s.is_empty())
                    || (x.contains('*') && x != "*" && !x.starts_with("*/") && !x.ends_with("/*"))
                    || x == "*/*";
                if never {
                    warnings.push(PolicyError {
                        pos: res_items.get(j).map_or(g.pos, |n| n.pos),
                        message: format!(
                            "{gp}.resources[{j}]: {}: matches no request (expected RESOURCE, RESOURCE/SUBRESOURCE, *, */SUBRESOURCE or RESOURCE/*)",
                            go_quote(x)
                        ),
                    });
                }
            }
            resources.push(GroupResources { group, resources: res, resource_names: names });
        }
        let rule = PolicyRule {
            level,
            users: strings(r.get("users"), &format!("{p}.users"), &mut errors),
            user_groups: strings(r.get("userGroups"), &format!("{p}.userGroups"), &mut errors),
            verbs: strings(r.get("verbs"), &format!("{p}.verbs"), &mut errors),
            resources,
            namespaces: strings(r.get("namespaces"), &format!("{p}.namespaces"), &mut errors),
            non_resource_urls,
            omit_stages: stages(r.get("omitStages"), &format!("{p}.omitStages"), &mut errors),
            omit_managed_fields: boolean(r.get("omitManagedFields"), &format!("{p}.omitManagedFields"), &mut errors),
            pos: r.pos,
        };
        if !rule.non_resource_urls.is_empty() && (!rule.resources.is_empty() || !rule.namespaces.is_empty()) {
            errors.push(PolicyError {
                pos: r.get("nonResourceURLs").map_or(r.pos, |n| n.pos),
                message: format!(
                    "{p}.nonResourceURLs: Invalid value: {}: rules cannot apply to both regular resources and non-resource URLs",
                    json_list(&rule.non_resource_urls)
                ),
            });
        }
        rules.push(rule);
    }
    // `LoadPolicyFromBytes`: a valid policy without rules is refused too.
    if rule_nodes.is_empty() && errors.is_empty() {
        errors.push(PolicyError {
            pos: root.get("rules").filter(|n| !n.is_null()).map_or(root.pos, |n| n.pos),
            message: "loaded illegal policy with 0 rules".to_owned(),
        });
    }
    errors.sort_by_key(|e| e.pos);
    warnings.sort_by_key(|e| e.pos);
    let policy = errors.is_empty().then_some(Policy { rules, omit_stages, omit_managed_fields, pos: root.pos });
    PolicyCheck { policy, errors, warnings }
}

fn path_matches(path: &str, spec: &str) -> bool {
    spec == "*" || spec == path || (spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*')))
}

impl PolicyRule {
    /// Whether the rule matches the request (upstream `ruleMatches`).
    #[must_use]
    pub fn matches(&self, a: &RequestAttributes) -> bool {
        if !self.users.is_empty() && !a.user.as_ref().is_some_and(|u| self.users.contains(u)) {
            return false;
        }
        if !self.user_groups.is_empty() && (a.user.is_none() || !a.groups.iter().any(|g| self.user_groups.contains(g)))
        {
            return false;
        }
        if !self.verbs.is_empty() && !self.verbs.contains(&a.verb) {
            return false;
        }
        if !self.namespaces.is_empty() || !self.resources.is_empty() {
            return self.matches_resource(a);
        }
        if !self.non_resource_urls.is_empty() {
            return !a.resource_request && self.non_resource_urls.iter().any(|s| path_matches(&a.path, s));
        }
        true
    }

    fn matches_resource(&self, a: &RequestAttributes) -> bool {
        if !a.resource_request {
            return false;
        }
        if !self.namespaces.is_empty() && !self.namespaces.contains(&a.namespace) {
            return false;
        }
        if self.resources.is_empty() {
            return true;
        }
        let combined =
            if a.subresource.is_empty() { a.resource.clone() } else { format!("{}/{}", a.resource, a.subresource) };
        self.resources.iter().filter(|gr| gr.group == a.api_group || gr.group == "*").any(|gr| {
            gr.resources.is_empty()
                || gr.resources.iter().any(|res| {
                    (gr.resource_names.is_empty() || gr.resource_names.contains(&a.name))
                        && (*res == combined
                            || res == "*"
                            || (!a.subresource.is_empty() && res.strip_prefix("*/") == Some(a.subresource.as_str()))
                            || res.strip_suffix("/*") == Some(a.resource.as_str()))
                })
        })
    }

    /// A rule with no selector at all: it matches every request.
    #[must_use]
    pub fn is_catch_all(&self) -> bool {
        self.users.is_empty()
            && self.user_groups.is_empty()
            && self.verbs.is_empty()
            && self.resources.is_empty()
            && self.namespaces.is_empty()
            && self.non_resource_urls.is_empty()
    }
}

impl RequestAttributes {
    /// Whether kube-apiserver serves the request as long-running (its `LongRunningFunc`:
    /// `BasicLongRunningRequestCheck` with verbs `watch` and `proxy`, subresources `attach`,
    /// `exec`, `proxy`, `log` and `portforward` of resource requests, and non-resource paths
    /// under `/debug/pprof/`). The audit filter records a `ResponseStarted` event for these only.
    #[must_use]
    pub fn is_long_running(&self) -> bool {
        if matches!(self.verb.as_str(), "watch" | "proxy") {
            return true;
        }
        if self.resource_request {
            matches!(self.subresource.as_str(), "attach" | "exec" | "proxy" | "log" | "portforward")
        } else {
            self.path.starts_with("/debug/pprof/")
        }
    }
}

impl Decision {
    /// The stages kube-apiserver records for the request, in order: none at level `None`;
    /// else `RequestReceived`, `ResponseStarted` (long-running requests only) and
    /// `ResponseComplete`, less the omitted ones. A request without a user (authentication
    /// failed: `WithFailedAuthenticationAudit`) is recorded at `ResponseStarted` only. `Panic`
    /// happens only when a handler panics.
    #[must_use]
    pub fn stages(&self, a: &RequestAttributes) -> Vec<Stage> {
        if self.level == Level::None {
            return Vec::new();
        }
        let all: &[Stage] = if a.user.is_none() {
            &[Stage::ResponseStarted]
        } else if a.is_long_running() {
            &[Stage::RequestReceived, Stage::ResponseStarted, Stage::ResponseComplete]
        } else {
            &[Stage::RequestReceived, Stage::ResponseComplete]
        };
        all.iter().copied().filter(|s| !self.omit_stages.contains(s)).collect()
    }
}

impl Policy {
    /// The audit configuration of a request: the first matching rule's level, its stages
    /// unioned with the policy's, and its `omitManagedFields` (else the policy's); without a
    /// matching rule, `None` with the policy's stages.
    #[must_use]
    pub fn evaluate(&self, a: &RequestAttributes) -> Decision {
        for (i, r) in self.rules.iter().enumerate() {
            if r.matches(a) {
                return Decision {
                    level: r.level,
                    omit_stages: union(&self.omit_stages, &r.omit_stages),
                    omit_managed_fields: r.omit_managed_fields.unwrap_or(self.omit_managed_fields),
                    rule: Some(i),
                };
            }
        }
        Decision {
            level: Level::None,
            omit_stages: union(&self.omit_stages, &[]),
            omit_managed_fields: self.omit_managed_fields,
            rule: None,
        }
    }
}

/// The linter's rules.
pub const RULES: &[RuleMeta] = &[
    RuleMeta {
        id: "AUD001",
        name: "sensitive-bodies-logged",
        family: "audit",
        severity: Severity::High,
        title: "Secrets, ConfigMaps or TokenReviews are logged with request or response bodies",
        what: "Evaluates the policy for reads and writes of secrets, configmaps and tokenreviews and reports a rule that records them at level Request or RequestResponse.",
        why: "At Request/RequestResponse the audit log holds the bodies: secret values, configuration credentials and bearer tokens end up in log files and log pipelines readable by far more people than the secrets themselves.",
        fix: "Add a rule before it that logs secrets, configmaps and tokenreviews at level Metadata, as the upstream example policy does.",
        references: &[
            "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy",
            "https://github.com/kubernetes/kubernetes/blob/master/cluster/gce/gci/configure-helper.sh",
        ],
        aliases: &["CIS 3.2.2"],
        opt_in: false,
    },
    RuleMeta {
        id: "AUD002",
        name: "no-catch-all",
        family: "audit",
        severity: Severity::Medium,
        title: "No catch-all rule logs the remaining requests",
        what: "Reports a policy without a final rule that has no selector (users, groups, verbs, resources, namespaces, nonResourceURLs) and a level of at least Metadata.",
        why: "Requests that match no rule get level None and are not recorded: new resources, CRDs and unexpected clients leave no trace.",
        fix: "End the policy with `- level: Metadata` (and omitStages: [RequestReceived]).",
        references: &["https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy"],
        aliases: &["CIS 3.2.1"],
        opt_in: false,
    },
    RuleMeta {
        id: "AUD003",
        name: "shadowed-rule",
        family: "audit",
        severity: Severity::Low,
        title: "A rule can never match: an earlier rule matches every request it would",
        what: "Reports a rule whose selectors are all covered by an earlier rule; since the first matching rule wins, it is dead.",
        why: "A dead rule usually means the intended level (e.g. Metadata for secrets) is not applied: the earlier, broader rule decides instead.",
        fix: "Move the more specific rule before the broader one, or delete it.",
        references: &["https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy"],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "AUD004",
        name: "request-received-not-omitted",
        family: "audit",
        severity: Severity::Info,
        title: "The RequestReceived stage is recorded",
        what: "Reports a policy that records the RequestReceived stage (neither the policy nor every logging rule omits it).",
        why: "Every request is then logged twice (RequestReceived and ResponseComplete), doubling log volume without adding information beyond the response status.",
        fix: "Add `omitStages: [RequestReceived]` at the policy level.",
        references: &["https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy"],
        aliases: &[],
        opt_in: false,
    },
    RuleMeta {
        id: "AUD005",
        name: "exec-not-logged",
        family: "audit",
        severity: Severity::High,
        title: "pods/exec, pods/attach or pods/portforward are not logged",
        what: "Evaluates the policy for create and get on pods/exec, pods/attach and pods/portforward and reports those at level None.",
        why: "Interactive access to containers is the main way an attacker with credentials acts inside the cluster; without these events there is no record of it.",
        fix: "Log pods/exec, pods/attach and pods/portforward at least at Metadata (Request to record the command).",
        references: &[
            "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/",
            "https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit",
        ],
        aliases: &[],
        opt_in: false,
    },
];

fn meta(id: &str) -> Option<&'static RuleMeta> {
    RULES.iter().find(|r| r.id == id)
}

fn finding(id: &str, file: &Arc<str>, pos: Pos, pointer: String, message: String) -> Option<Finding> {
    let policy = ObjectRef {
        api_version: "audit.k8s.io/v1".to_owned(),
        kind: "Policy".to_owned(),
        namespace: None,
        name: "<policy>".to_owned(),
    };
    Some(Finding::new(meta(id)?, message, Some(policy), Some(pointer), Some(Location::at(file.clone(), pos))))
}

/// Probe identities: a generic authenticated user, plus every user and group a rule names.
fn probe_identities(p: &Policy) -> Vec<(Option<String>, Vec<String>)> {
    let mut ids = vec![(Some("kguard:probe".to_owned()), vec!["system:authenticated".to_owned()])];
    for r in &p.rules {
        for u in &r.users {
            ids.push((Some(u.clone()), vec!["system:authenticated".to_owned()]));
        }
        for g in &r.user_groups {
            ids.push((Some("kguard:probe".to_owned()), vec![g.clone(), "system:authenticated".to_owned()]));
        }
    }
    ids.dedup();
    ids
}

fn covers(outer: &[String], inner: &[String]) -> bool {
    outer.is_empty() || (!inner.is_empty() && inner.iter().all(|x| outer.contains(x)))
}

fn gr_covers(o: &GroupResources, i: &GroupResources) -> bool {
    if o.group != "*" && o.group != i.group {
        return false;
    }
    let names_ok = o.resource_names.is_empty()
        || (!i.resource_names.is_empty() && i.resource_names.iter().all(|n| o.resource_names.contains(n)));
    if !names_ok {
        return false;
    }
    if o.resources.is_empty() {
        return true;
    }
    if i.resources.is_empty() {
        // the whole group (subresources included): conservatively not covered by a list
        return false;
    }
    i.resources.iter().all(|r| {
        o.resources.iter().any(|x| {
            x == r
                || (x == "*" && !r.contains('/'))
                || (x
                    .strip_suffix("/*")
                    .is_some_and(|base| r == base || r.strip_prefix(base).is_some_and(|rest| rest.starts_with('/'))))
                || (x.strip_prefix("*/").is_some_and(|sub| r.split_once('/').is_some_and(|(_, s)| s == sub)))
        })
    })
}

/// Whether every request `later` matches is matched by `earlier`.
fn shadows(earlier: &PolicyRule, later: &PolicyRule) -> bool {
    if !covers(&earlier.users, &later.users)
        || !covers(&earlier.user_groups, &later.user_groups)
        || !covers(&earlier.verbs, &later.verbs)
    {
        return false;
    }
    let e_res = !earlier.resources.is_empty() || !earlier.namespaces.is_empty();
    let l_res = !later.resources.is_empty() || !later.namespaces.is_empty();
    if e_res {
        if !l_res {
            return false;
        }
        if !covers(&earlier.namespaces, &later.namespaces) {
            return false;
        }
        if earlier.resources.is_empty() {
            return true;
        }
        return !later.resources.is_empty()
            && later.resources.iter().all(|l| earlier.resources.iter().any(|e| gr_covers(e, l)));
    }
    if !earlier.non_resource_urls.is_empty() {
        return !l_res
            && !later.non_resource_urls.is_empty()
            && later.non_resource_urls.iter().all(|u| {
                earlier.non_resource_urls.iter().any(|s| {
                    s == "*"
                        || s == u
                        || (s.ends_with('*') && u.trim_end_matches('*').starts_with(s.trim_end_matches('*')))
                })
            });
    }
    true
}

/// Lints a policy. `file` names the policy file in findings.
#[must_use]
pub fn lint(policy: &Policy, file: &str) -> Vec<Finding> {
    let file: Arc<str> = Arc::from(file);
    let mut out = Vec::new();
    let ids = probe_identities(policy);
    let rule_pos = |i: Option<usize>| i.and_then(|i| policy.rules.get(i)).map_or(policy.pos, |r| r.pos);
    let ptr = |i: Option<usize>| i.map_or_else(String::new, |i| format!("/rules/{i}"));

    // AUD001: sensitive bodies
    let sensitive: &[(&str, &str, &[&str], &str)] = &[
        ("", "secrets", &["get", "list", "watch", "create", "update", "patch", "delete"], "default"),
        ("", "configmaps", &["get", "list", "watch", "create", "update", "patch", "delete"], "default"),
        ("authentication.k8s.io", "tokenreviews", &["create"], ""),
    ];
    let mut reported: Vec<(usize, &str)> = Vec::new();
    for (group, resource, verbs, ns) in sensitive {
        for (user, groups) in &ids {
            for verb in *verbs {
                let a = RequestAttributes {
                    user: user.clone(),
                    groups: groups.clone(),
                    verb: (*verb).to_owned(),
                    resource_request: true,
                    api_group: (*group).to_owned(),
                    resource: (*resource).to_owned(),
                    namespace: (*ns).to_owned(),
                    name: "probe".to_owned(),
                    ..RequestAttributes::default()
                };
                let d = policy.evaluate(&a);
                if d.level >= Level::Request {
                    let idx = d.rule.unwrap_or(usize::MAX);
                    if !reported.contains(&(idx, resource)) {
                        reported.push((idx, resource));
                        out.extend(finding(
                            "AUD001",
                            &file,
                            rule_pos(d.rule),
                            ptr(d.rule),
                            format!(
                                "{resource} are recorded at level {} ({verb} by {}): bodies end up in the audit log",
                                d.level,
                                user.as_deref().unwrap_or("<none>")
                            ),
                        ));
                    }
                }
            }
        }
    }

    // AUD002: catch-all
    if !policy.rules.iter().any(|r| r.is_catch_all() && r.level >= Level::Metadata) {
        out.extend(finding(
            "AUD002",
            &file,
            policy.pos,
            "/rules".to_owned(),
            "no rule without selectors logs at Metadata or above: requests matching no rule are not recorded"
                .to_owned(),
        ));
    }

    // AUD003: shadowed rules
    for (j, later) in policy.rules.iter().enumerate() {
        if let Some(i) = policy.rules.iter().take(j).position(|e| shadows(e, later)) {
            out.extend(finding(
                "AUD003",
                &file,
                later.pos,
                format!("/rules/{j}"),
                format!(
                    "rule {j} (level {}) never matches: rule {i} (level {}) matches every request it would",
                    later.level,
                    policy.rules.get(i).map_or(Level::None, |r| r.level)
                ),
            ));
        }
    }

    // AUD004: RequestReceived recorded
    if !policy.omit_stages.contains(&Stage::RequestReceived)
        && policy.rules.iter().any(|r| r.level > Level::None && !r.omit_stages.contains(&Stage::RequestReceived))
    {
        out.extend(finding(
            "AUD004",
            &file,
            policy.pos,
            "/omitStages".to_owned(),
            "the RequestReceived stage is recorded: every request is logged twice".to_owned(),
        ));
    }

    // AUD005: exec/attach/portforward
    for sub in ["exec", "attach", "portforward"] {
        for (user, groups) in ids.iter().take(1) {
            let not_logged = ["create", "get"].iter().find_map(|verb| {
                let a = RequestAttributes {
                    user: user.clone(),
                    groups: groups.clone(),
                    verb: (*verb).to_owned(),
                    resource_request: true,
                    resource: "pods".to_owned(),
                    subresource: sub.to_owned(),
                    namespace: "default".to_owned(),
                    name: "probe".to_owned(),
                    ..RequestAttributes::default()
                };
                let d = policy.evaluate(&a);
                (d.level == Level::None).then_some((d, *verb))
            });
            if let Some((d, verb)) = not_logged {
                out.extend(finding(
                    "AUD005",
                    &file,
                    rule_pos(d.rule),
                    ptr(d.rule),
                    format!("pods/{sub} ({verb}) is not recorded (level None)"),
                ));
            }
        }
    }
    out
}
