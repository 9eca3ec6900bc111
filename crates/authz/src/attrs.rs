//! What an authorizer answers: verdicts, decisions with the RBAC grant behind them, and the rules
//! a user holds (k8s.io/apiserver `authorizer.Decision`, `SelfSubjectRulesReview`). Who asks and
//! what is asked are [`kguard_request`]'s.

use kguard_model::{Location, ObjectRef};

use super::policy::{PolicyRule, Subject};

/// What an authorizer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The request is allowed.
    Allow,
    /// The request is denied; later authorizers are not asked.
    Deny,
    /// No opinion; the next authorizer is asked (at the end of the chain: forbidden).
    NoOpinion,
}

/// The RBAC grant that allowed a request: binding, role and rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The binding (`RoleBinding` or `ClusterRoleBinding`).
    pub binding: ObjectRef,
    /// The subject of the binding that matched the user.
    pub subject: Subject,
    /// Where that subject is written.
    pub subject_location: Option<Location>,
    /// The role (`Role/ns/name` or `ClusterRole/name`).
    pub role: ObjectRef,
    /// Index of the rule in the role's (aggregated) rules.
    pub rule_index: usize,
    /// The rule.
    pub rule: PolicyRule,
    /// Where the rule is written (for aggregated roles: in the role it came from).
    pub rule_location: Option<Location>,
}

/// An authorizer's answer: verdict, reason (as upstream words it) and, for RBAC, the grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allow, Deny or NoOpinion.
    pub verdict: Verdict,
    /// The reason string the authorizer returns (often empty).
    pub reason: String,
    /// The authorizer that decided (`RBAC`, `Node`, `ABAC`, ...), empty when none did.
    pub authorizer: &'static str,
    /// For an RBAC allow: what allowed it.
    pub grant: Option<Grant>,
    /// Human-readable explanation lines (why nothing matched, what was tried).
    pub notes: Vec<String>,
}

impl Decision {
    /// An `Allow` by `authorizer`.
    #[must_use]
    pub fn allow(authorizer: &'static str, reason: impl Into<String>) -> Self {
        Self { verdict: Verdict::Allow, reason: reason.into(), authorizer, grant: None, notes: Vec::new() }
    }

    /// A `Deny` by `authorizer`.
    #[must_use]
    pub fn deny(authorizer: &'static str, reason: impl Into<String>) -> Self {
        Self { verdict: Verdict::Deny, reason: reason.into(), authorizer, grant: None, notes: Vec::new() }
    }

    /// `NoOpinion` from `authorizer`.
    #[must_use]
    pub fn no_opinion(authorizer: &'static str, reason: impl Into<String>) -> Self {
        Self { verdict: Verdict::NoOpinion, reason: reason.into(), authorizer, grant: None, notes: Vec::new() }
    }

    /// Whether the request is allowed.
    #[must_use]
    pub fn allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }
}

/// The rules a user holds in a namespace (the `SelfSubjectRulesReview` status).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RulesReview {
    /// Resource rules (verbs, apiGroups, resources, resourceNames).
    pub resource_rules: Vec<PolicyRule>,
    /// Non-resource rules (verbs, nonResourceURLs).
    pub non_resource_rules: Vec<PolicyRule>,
    /// Whether the list may be incomplete (an authorizer cannot enumerate its rules).
    pub incomplete: bool,
    /// Errors met while resolving rules, joined.
    pub evaluation_error: String,
}
