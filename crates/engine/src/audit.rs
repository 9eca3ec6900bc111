//! Kubernetes audit policies (audit.k8s.io/v1 `Policy`), evaluated the way the API server's
//! policy checker (`k8s.io/apiserver/pkg/audit/policy/checker.go`) does, and linted.
//!
//! * [`parse_policy`] reads a `Policy` from a YAML node, keeping each rule's position.
//! * [`Policy::evaluate`] gives the level, omitted stages and `omitManagedFields` of a request:
//!   the first matching rule wins; without one, level `None` with the policy's stages.
//! * [`lint`] reports weaknesses as [`Finding`]s; each check is one [`RuleMeta`] in [`RULES`].

use std::fmt;
use std::sync::Arc;

use kguard_model::yaml::Node;
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
    /// API group (`""` is core). Matched exactly.
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

fn strings(node: Option<&Node>, path: &str, errors: &mut Vec<PolicyError>) -> Vec<String> {
    let Some(n) = node else { return Vec::new() };
    if n.is_null() {
        return Vec::new();
    }
    let Some(seq) = n.as_seq() else {
        errors.push(PolicyError { pos: n.pos, message: format!("{path}: expected a list of strings") });
        return Vec::new();
    };
    seq.iter()
        .enumerate()
        .filter_map(|(i, s)| match s.as_str() {
            Some(v) => Some(v.to_owned()),
            None => {
                errors.push(PolicyError { pos: s.pos, message: format!("{path}[{i}]: expected a string") });
                None
            }
        })
        .collect()
}

fn stages(node: Option<&Node>, path: &str, errors: &mut Vec<PolicyError>) -> Vec<Stage> {
    let mut out = Vec::new();
    for (i, s) in strings(node, path, errors).iter().enumerate() {
        match Stage::parse(s) {
            Some(st) => out.push(st),
            None => errors.push(PolicyError {
                pos: node.map_or(Pos::default(), |n| n.pos),
                message: format!("{path}[{i}]: Unsupported value: \"{s}\": supported values: \"RequestReceived\", \"ResponseStarted\", \"ResponseComplete\", \"Panic\""),
            }),
        }
    }
    out
}

/// Reads a `Policy` (apiVersion `audit.k8s.io/v1`, also v1beta1/v1alpha1) from its YAML node,
/// validating it as the API server does.
///
/// # Errors
/// Every validation error, with its position.
pub fn parse_policy(root: &Node) -> Result<Policy, Vec<PolicyError>> {
    let mut errors = Vec::new();
    let kind = root.get("kind").and_then(Node::as_str).unwrap_or("");
    if kind != "Policy" {
        errors.push(PolicyError { pos: root.pos, message: format!("kind: expected \"Policy\", got {kind:?}") });
    }
    let api = root.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    if !matches!(api, "audit.k8s.io/v1" | "audit.k8s.io/v1beta1" | "audit.k8s.io/v1alpha1") {
        errors.push(PolicyError {
            pos: root.pos,
            message: format!("apiVersion: unsupported {api:?} (expected audit.k8s.io/v1)"),
        });
    }
    let omit_stages = stages(root.get("omitStages"), "omitStages", &mut errors);
    let omit_managed_fields = root.get("omitManagedFields").and_then(Node::as_bool).unwrap_or(false);
    let mut rules = Vec::new();
    let rule_nodes = root.get("rules").and_then(Node::as_seq).unwrap_or(&[]);
    for (i, r) in rule_nodes.iter().enumerate() {
        let p = format!("rules[{i}]");
        let level = match r.get("level").and_then(Node::as_str) {
            Some(l) => Level::parse(l).unwrap_or_else(|| {
                errors.push(PolicyError { pos: r.pos, message: format!("{p}.level: Unsupported value: \"{l}\": supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\"") });
                Level::None
            }),
            None => {
                errors.push(PolicyError { pos: r.pos, message: format!("{p}.level: Required value") });
                Level::None
            }
        };
        let mut resources = Vec::new();
        if let Some(rs) = r.get("resources").and_then(Node::as_seq) {
            for (k, g) in rs.iter().enumerate() {
                let gp = format!("{p}.resources[{k}]");
                let group = g.get("group").and_then(Node::as_str).unwrap_or("").to_owned();
                if group.contains('/') {
                    errors.push(PolicyError {
                        pos: g.pos,
                        message: format!("{gp}.group: Invalid value: {group:?}: group name must not contain '/'"),
                    });
                }
                let res = strings(g.get("resources"), &format!("{gp}.resources"), &mut errors);
                let names = strings(g.get("resourceNames"), &format!("{gp}.resourceNames"), &mut errors);
                for x in &res {
                    let bad_sub = x.split('/').count() > 2;
                    if bad_sub || (x.contains('*') && x != "*" && !x.starts_with("*/") && !x.ends_with("/*")) {
                        errors
                            .push(PolicyError { pos: g.pos, message: format!("{gp}.resources: Invalid value: {x:?}") });
                    }
                    if !names.is_empty() && (x == "*" || x.starts_with("*/")) {
                        errors.push(PolicyError { pos: g.pos, message: format!("{gp}.resourceNames: Invalid value: using resourceNames with wildcard resource {x:?} is not allowed") });
                    }
                }
                resources.push(GroupResources { group, resources: res, resource_names: names });
            }
        }
        let rule = PolicyRule {
            level,
            users: strings(r.get("users"), &format!("{p}.users"), &mut errors),
            user_groups: strings(r.get("userGroups"), &format!("{p}.userGroups"), &mut errors),
            verbs: strings(r.get("verbs"), &format!("{p}.verbs"), &mut errors),
            resources,
            namespaces: strings(r.get("namespaces"), &format!("{p}.namespaces"), &mut errors),
            non_resource_urls: strings(r.get("nonResourceURLs"), &format!("{p}.nonResourceURLs"), &mut errors),
            omit_stages: stages(r.get("omitStages"), &format!("{p}.omitStages"), &mut errors),
            omit_managed_fields: r.get("omitManagedFields").and_then(Node::as_bool),
            pos: r.pos,
        };
        if !rule.non_resource_urls.is_empty() && (!rule.resources.is_empty() || !rule.namespaces.is_empty()) {
            errors.push(PolicyError { pos: r.pos, message: format!("{p}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources and non-resource URLs") });
        }
        for u in &rule.non_resource_urls {
            let star = u.find('*');
            if !u.starts_with('/') && u != "*" || star.is_some_and(|s| s + 1 != u.len()) {
                errors.push(PolicyError { pos: r.pos, message: format!("{p}.nonResourceURLs: Invalid value: {u:?}: non-resource URLs must start with '/' and may end with '*'") });
            }
        }
        rules.push(rule);
    }
    if errors.is_empty() { Ok(Policy { rules, omit_stages, omit_managed_fields, pos: root.pos }) } else { Err(errors) }
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
        self.resources.iter().filter(|gr| gr.group == a.api_group).any(|gr| {
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
    if o.group != i.group {
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
