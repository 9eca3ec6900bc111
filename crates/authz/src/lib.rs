//! The authorization engine: kube-apiserver's authorizers evaluated over a static inventory.
//!
//! * Decisions ([`Decision`], [`Verdict`], the RBAC [`Grant`]) and [`RulesReview`]; who asks and
//!   what is asked are [`kguard_request`]'s.
//! * [`policy`] and [`matching`]: RBAC objects as validated values; rule matching and coverage.
//! * [`rbac`]: the RBAC authorizer (aggregation, index, `RulesFor`, who-can, escalation checks).
//! * [`abac`]: the ABAC policy file (`--authorization-policy-file`), v0 lines converted.
//! * The Node authorizer (`Node` in [`Mode`]: a graph of pods and what they reference);
//!   NodeRestriction is admission's (`kguard_admission::node_restriction`).
//! * [`Chain`]: authorizers in `--authorization-mode` order, the first Allow or Deny wins.
//! * [`defaults`]: the default RBAC policy of a v1.36 cluster (captured from kube-apiserver).
//! * [`risks`]: findings (`RBAC001`...) about dangerous grants and escalation paths.
//!
//! Everything is pure: callers read files and pass `Object`s (and the ABAC file's text) in.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod abac;
mod attrs;
pub mod defaults;
mod error;
pub mod matching;
mod node;
pub mod policy;
pub mod rbac;
pub mod risks;

use std::fmt;
use std::str::FromStr;

pub use attrs::{Decision, Grant, RulesReview, Verdict};
pub use error::{AbacError, ModeError, RbacError};
use kguard_request::{Attributes, UserInfo};
pub use policy::{Binding, PolicyRule, Role, RoleRef, Subject};
pub use rbac::{Rbac, WhoCan};
pub use risks::{RULES, risks};

use kguard_model::Object;

/// An authorizer: answers Allow, Deny or NoOpinion (with a reason) for one request, and lists the
/// rules a user holds (for `SelfSubjectRulesReview` / `can-i --list`).
pub trait Authorizer: kguard_request::Authorize {
    /// The mode name (`RBAC`, `Node`, `ABAC`, `AlwaysAllow`, `AlwaysDeny`).
    fn name(&self) -> &'static str;
    /// Decides one request.
    fn authorize(&self, attrs: &Attributes) -> Decision;
    /// The rules `user` holds in `namespace`.
    fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview;
    /// Explanation lines for a request this authorizer has no opinion on (default: none).
    fn why_not(&self, attrs: &Attributes) -> Vec<String> {
        let _ = attrs;
        Vec::new()
    }
}

/// The authorizers answer admission plugins' questions ([`kguard_request::Authorize`]).
macro_rules! authorize_by_decision {
    ($($t:ty),*) => {$(
        impl kguard_request::Authorize for $t {
            fn allows(&self, attrs: &Attributes) -> bool {
                self.authorize(attrs).allowed()
            }
        }
    )*};
}
authorize_by_decision!(AlwaysAllow, AlwaysDeny, Chain, Rbac, abac::AbacPolicy, node::NodeAuthorizer);

/// `AlwaysAllow`: allows everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn name(&self) -> &'static str {
        "AlwaysAllow"
    }
    fn authorize(&self, _: &Attributes) -> Decision {
        Decision::allow("AlwaysAllow", "")
    }
    fn rules_for(&self, _: &UserInfo, _: &str) -> RulesReview {
        RulesReview {
            resource_rules: vec![PolicyRule::resource(&["*"], &["*"], &["*"])],
            non_resource_rules: vec![PolicyRule::non_resource(&["*"], &["*"])],
            ..RulesReview::default()
        }
    }
}

/// `AlwaysDeny`: says NoOpinion (not Deny, as upstream) with reason `Everything is forbidden.`
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysDeny;

impl Authorizer for AlwaysDeny {
    fn name(&self) -> &'static str {
        "AlwaysDeny"
    }
    fn authorize(&self, _: &Attributes) -> Decision {
        Decision::no_opinion("AlwaysDeny", "Everything is forbidden.")
    }
    fn rules_for(&self, _: &UserInfo, _: &str) -> RulesReview {
        RulesReview::default()
    }
}

/// An `--authorization-mode` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// `AlwaysAllow`.
    AlwaysAllow,
    /// `AlwaysDeny`.
    AlwaysDeny,
    /// `ABAC` (needs the policy file).
    Abac,
    /// `RBAC`.
    Rbac,
    /// `Node`.
    Node,
}

impl Mode {
    /// The name kube-apiserver uses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AlwaysAllow => "AlwaysAllow",
            Self::AlwaysDeny => "AlwaysDeny",
            Self::Abac => "ABAC",
            Self::Rbac => "RBAC",
            Self::Node => "Node",
        }
    }

    /// Parses a comma-separated `--authorization-mode` value (duplicates are an error, as upstream).
    ///
    /// # Errors
    /// An unknown or repeated mode.
    pub fn parse_list(value: &str) -> Result<Vec<Self>, ModeError> {
        let mut out: Vec<Self> = Vec::new();
        for part in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mode: Self = part.parse()?;
            if out.contains(&mode) {
                return Err(ModeError::Repeated(part.to_owned()));
            }
            out.push(mode);
        }
        if out.is_empty() {
            return Err(ModeError::Empty);
        }
        Ok(out)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = ModeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "AlwaysAllow" => Self::AlwaysAllow,
            "AlwaysDeny" => Self::AlwaysDeny,
            "ABAC" => Self::Abac,
            "RBAC" => Self::Rbac,
            "Node" => Self::Node,
            "Webhook" => return Err(ModeError::Webhook),
            other => return Err(ModeError::Unknown(other.to_owned())),
        })
    }
}

/// Authorizers in `--authorization-mode` order, behind kube-apiserver's `system:masters`
/// short-circuit: the first Allow or Deny wins with its own reason; when all say NoOpinion the
/// reasons are joined with `\n` and the request is forbidden.
pub struct Chain {
    authorizers: Vec<Box<dyn Authorizer>>,
    /// Whether `system:masters` members are allowed before any authorizer runs (kube-apiserver
    /// always does this).
    pub privileged_group: bool,
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("authorizers", &self.authorizers.iter().map(|a| a.name()).collect::<Vec<_>>())
            .field("privileged_group", &self.privileged_group)
            .finish()
    }
}

impl Default for Chain {
    fn default() -> Self {
        Self { authorizers: Vec::new(), privileged_group: true }
    }
}

impl Chain {
    /// An empty chain (with the `system:masters` short-circuit).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an authorizer.
    #[must_use]
    pub fn with(mut self, authorizer: Box<dyn Authorizer>) -> Self {
        self.authorizers.push(authorizer);
        self
    }

    /// Builds the chain for `modes` from the inventory (`objects`) and, for ABAC, the policy.
    ///
    /// # Errors
    /// When `ABAC` is requested without a policy.
    pub fn from_modes(modes: &[Mode], objects: &[Object], abac: Option<abac::AbacPolicy>) -> Result<Self, ModeError> {
        let mut chain = Self::new();
        let mut abac = abac;
        for mode in modes {
            let a: Box<dyn Authorizer> = match mode {
                Mode::AlwaysAllow => Box::new(AlwaysAllow),
                Mode::AlwaysDeny => Box::new(AlwaysDeny),
                Mode::Rbac => Box::new(Rbac::from_objects(objects)),
                Mode::Node => Box::new(node::NodeAuthorizer::from_objects(objects)),
                Mode::Abac => match abac.take() {
                    Some(p) => Box::new(p),
                    None => return Err(ModeError::AbacWithoutPolicy),
                },
            };
            chain.authorizers.push(a);
        }
        Ok(chain)
    }

    /// The authorizers, in order.
    pub fn authorizers(&self) -> impl Iterator<Item = &dyn Authorizer> {
        self.authorizers.iter().map(AsRef::as_ref)
    }

    /// Decides a request (fast path: no explanation).
    #[must_use]
    pub fn decide(&self, attrs: &Attributes) -> Decision {
        self.run(attrs, false)
    }

    /// Decides a request; [`Decision::notes`] records every authorizer's answer and, for those
    /// without an opinion, why not.
    #[must_use]
    pub fn explain(&self, attrs: &Attributes) -> Decision {
        self.run(attrs, true)
    }

    fn run(&self, attrs: &Attributes, explain: bool) -> Decision {
        if self.privileged_group && attrs.user.in_group(kguard_request::SYSTEM_MASTERS) {
            let mut d = Decision::allow("system:masters", "");
            d.notes.push("the user is in system:masters, which kube-apiserver allows before any authorizer".into());
            return d;
        }
        let mut reasons: Vec<String> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        for a in &self.authorizers {
            let d = a.authorize(attrs);
            match d.verdict {
                Verdict::Allow | Verdict::Deny => {
                    let mut d = d;
                    let mut all = notes;
                    all.append(&mut d.notes);
                    d.notes = all;
                    return d;
                }
                Verdict::NoOpinion if !explain => {
                    if !d.reason.is_empty() {
                        reasons.push(d.reason);
                    }
                }
                Verdict::NoOpinion => {
                    if d.reason.is_empty() {
                        notes.push(format!("{}: no opinion", a.name()));
                    } else {
                        notes.push(format!("{}: no opinion ({})", a.name(), d.reason));
                    }
                    notes.extend(d.notes.into_iter().chain(a.why_not(attrs)).map(|n| format!("  {n}")));
                    if !d.reason.is_empty() {
                        reasons.push(d.reason);
                    }
                }
            }
        }
        let mut d = Decision::no_opinion("", reasons.join("\n"));
        d.notes = notes;
        d
    }

    /// The union of every authorizer's rules (`SelfSubjectRulesReview`); `incomplete` is ORed and
    /// evaluation errors are joined.
    #[must_use]
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview {
        let mut out = RulesReview::default();
        let mut errors = Vec::new();
        for a in &self.authorizers {
            let r = a.rules_for(user, namespace);
            out.resource_rules.extend(r.resource_rules);
            out.non_resource_rules.extend(r.non_resource_rules);
            out.incomplete |= r.incomplete;
            if !r.evaluation_error.is_empty() {
                errors.push(r.evaluation_error);
            }
        }
        out.evaluation_error = rbac::aggregate(&errors);
        out
    }
}

impl Authorizer for Chain {
    fn name(&self) -> &'static str {
        "Chain"
    }
    fn authorize(&self, attrs: &Attributes) -> Decision {
        self.decide(attrs)
    }
    fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview {
        Chain::rules_for(self, user, namespace)
    }
}
