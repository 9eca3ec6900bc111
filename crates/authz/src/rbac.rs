//! The RBAC authorizer (`plugin/pkg/auth/authorizer/rbac`, `pkg/registry/rbac/validation/rule.go`):
//! ClusterRole aggregation to a fixpoint, an index from subjects to bindings, decisions with the
//! upstream reasons, rule resolution (`RulesFor`), `who-can`, and the escalation checks.

use crate::RbacError;
use kguard_request::Forbidden;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kguard_model::{Diagnostic, Object, ObjectRef};

use super::Authorizer;
use super::attrs::{Decision, Grant, RulesReview};
use super::matching::{covers, missing_descriptions, rule_allows};
use super::policy::{self, Binding, PolicyRule, RBAC_GROUP, Role, RoleRef, RuleSource, Subject};
use kguard_model::text::go_quote;
use kguard_request::{Attributes, SYSTEM_MASTERS, UserInfo, go_quote_list, service_account_username};

/// Most passes of the aggregation fixpoint (a cycle of aggregated roles cannot converge; upstream's
/// controller would loop forever).
const MAX_AGGREGATION_PASSES: usize = 64;

/// Binding indices by the subject names they apply to.
#[derive(Debug, Default)]
struct SubjectIndex {
    /// By user name (`User` subjects, and `ServiceAccount` subjects as `system:serviceaccount:ns:n`).
    users: HashMap<String, Vec<u32>>,
    /// By group name.
    groups: HashMap<String, Vec<u32>>,
}

impl SubjectIndex {
    fn add(&mut self, binding: u32, subjects: &[Subject], binding_namespace: &str) {
        for s in subjects {
            let (map, key) = match s.kind.as_str() {
                "User" => (&mut self.users, s.name.clone()),
                "Group" => (&mut self.groups, s.name.clone()),
                "ServiceAccount" => {
                    let ns = if s.namespace.is_empty() { binding_namespace } else { &s.namespace };
                    if ns.is_empty() {
                        continue; // never matches (a ClusterRoleBinding SA subject without namespace)
                    }
                    (&mut self.users, service_account_username(ns, &s.name))
                }
                _ => continue,
            };
            let list = map.entry(key).or_default();
            if list.last() != Some(&binding) {
                list.push(binding);
            }
        }
    }

    /// Candidate bindings for a user, in binding order, without duplicates.
    fn candidates(&self, user: &UserInfo, out: &mut Vec<u32>) {
        out.clear();
        if let Some(l) = self.users.get(user.name.as_str()) {
            out.extend_from_slice(l);
        }
        for g in &user.groups {
            if let Some(l) = self.groups.get(g.as_str()) {
                out.extend_from_slice(l);
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// Upstream `appliesToUser`: whether one subject designates the user.
#[must_use]
pub fn applies_to_user(user: &UserInfo, subject: &Subject, binding_namespace: &str) -> bool {
    match subject.kind.as_str() {
        "User" => user.name == subject.name,
        "Group" => user.in_group(&subject.name),
        "ServiceAccount" => {
            let ns = if subject.namespace.is_empty() { binding_namespace } else { &subject.namespace };
            !ns.is_empty() && user.name == service_account_username(ns, &subject.name)
        }
        _ => false,
    }
}

/// The index of the first subject of a binding that designates the user.
#[must_use]
pub fn applies_to(user: &UserInfo, binding: &Binding) -> Option<usize> {
    binding.subjects.iter().position(|s| applies_to_user(user, s, &binding.namespace))
}

/// The RBAC inventory: roles (aggregated), bindings, and the index used to decide quickly.
#[derive(Debug, Default)]
pub struct Rbac {
    roles: Vec<Role>,
    bindings: Vec<Binding>,
    /// Cluster roles by name.
    cluster_roles: HashMap<String, usize>,
    /// Roles by (namespace, name).
    ns_roles: HashMap<(String, String), usize>,
    /// ClusterRoleBindings (indices into `bindings`, in order).
    crbs: Vec<u32>,
    /// RoleBindings by namespace.
    rbs: HashMap<String, Vec<u32>>,
    crb_index: SubjectIndex,
    rb_index: HashMap<String, SubjectIndex>,
    /// Resolved role of each binding (index into `roles`) or the resolution error.
    resolved: Vec<Result<usize, RbacError>>,
    diagnostics: Vec<Diagnostic>,
}

impl Rbac {
    /// Reads the RBAC objects among `objects`, aggregates cluster roles and builds the index.
    #[must_use]
    pub fn from_objects(objects: &[Object]) -> Self {
        let parsed = policy::parse_objects(objects);
        Self::from_parsed(parsed.roles, parsed.bindings, parsed.diagnostics)
    }

    /// Builds from already-parsed roles and bindings (later duplicates of a name replace earlier
    /// ones, with a warning, as a later `kubectl apply` would).
    #[must_use]
    pub fn from_parsed(roles: Vec<Role>, bindings: Vec<Binding>, mut diagnostics: Vec<Diagnostic>) -> Self {
        let mut kept_roles: Vec<Role> = Vec::with_capacity(roles.len());
        let mut cluster_roles = HashMap::new();
        let mut ns_roles = HashMap::new();
        for role in roles {
            let slot = if role.cluster {
                cluster_roles.get(&role.name).copied()
            } else {
                ns_roles.get(&(role.namespace.clone(), role.name.clone())).copied()
            };
            match slot.and_then(|i| kept_roles.get_mut(i)) {
                Some(existing) => {
                    diagnostics.push(Diagnostic::warning(
                        "rbac-duplicate",
                        role.object.location("/metadata/name"),
                        format!("{} is defined twice; the later definition is used", role.object.id),
                    ));
                    *existing = role;
                }
                None => {
                    let i = kept_roles.len();
                    if role.cluster {
                        cluster_roles.insert(role.name.clone(), i);
                    } else {
                        ns_roles.insert((role.namespace.clone(), role.name.clone()), i);
                    }
                    kept_roles.push(role);
                }
            }
        }
        let mut kept_bindings: Vec<Binding> = Vec::with_capacity(bindings.len());
        let mut seen: HashMap<(bool, String, String), usize> = HashMap::new();
        for b in bindings {
            let key = (b.cluster, b.namespace.clone(), b.name.clone());
            match seen.get(&key).copied().and_then(|i| kept_bindings.get_mut(i)) {
                Some(existing) => {
                    diagnostics.push(Diagnostic::warning(
                        "rbac-duplicate",
                        b.object.location("/metadata/name"),
                        format!("{} is defined twice; the later definition is used", b.object.id),
                    ));
                    *existing = b;
                }
                None => {
                    seen.insert(key, kept_bindings.len());
                    kept_bindings.push(b);
                }
            }
        }
        let mut rbac = Self {
            roles: kept_roles,
            bindings: kept_bindings,
            cluster_roles,
            ns_roles,
            diagnostics,
            ..Self::default()
        };
        rbac.aggregate();
        rbac.index();
        rbac
    }

    /// Fills every aggregated ClusterRole from the ClusterRoles its selectors match (sorted by
    /// name, itself skipped, deep-equal rules once), repeating until nothing changes.
    fn aggregate(&mut self) {
        let aggregated: Vec<usize> = self
            .roles
            .iter()
            .enumerate()
            .filter(|(_, r)| r.cluster && r.aggregation.is_some())
            .map(|(i, _)| i)
            .collect();
        if aggregated.is_empty() {
            return;
        }
        let mut by_name: Vec<usize> =
            self.roles.iter().enumerate().filter(|(_, r)| r.cluster).map(|(i, _)| i).collect();
        by_name.sort_by(|a, b| {
            let na = self.roles.get(*a).map(|r| r.name.as_str());
            let nb = self.roles.get(*b).map(|r| r.name.as_str());
            na.cmp(&nb)
        });
        for pass in 0..=MAX_AGGREGATION_PASSES {
            let mut changed = false;
            for &target in &aggregated {
                let Some(selectors) = self.roles.get(target).and_then(|r| r.aggregation.clone()) else { continue };
                let mut rules: Vec<PolicyRule> = Vec::new();
                let mut sources: Vec<RuleSource> = Vec::new();
                for &source in &by_name {
                    if source == target {
                        continue;
                    }
                    let Some(src) = self.roles.get(source) else { continue };
                    if !selectors.iter().any(|s| s.matches(&src.labels)) {
                        continue;
                    }
                    for (rule, loc) in src.rules.iter().zip(&src.rule_sources) {
                        if !rules.contains(rule) {
                            rules.push(rule.clone());
                            sources.push(loc.clone());
                        }
                    }
                }
                if let Some(t) = self.roles.get_mut(target)
                    && t.rules != rules
                {
                    t.rules = rules;
                    t.rule_sources = sources;
                    changed = true;
                }
            }
            if !changed {
                return;
            }
            if pass == MAX_AGGREGATION_PASSES
                && let Some(first) = aggregated.first().and_then(|i| self.roles.get(*i))
            {
                self.diagnostics.push(Diagnostic::warning(
                    "rbac-aggregation-cycle",
                    first.object.location("/aggregationRule"),
                    "ClusterRole aggregation does not converge (a cycle of aggregated roles); rules may be incomplete",
                ));
            }
        }
    }

    fn index(&mut self) {
        self.resolved = Vec::with_capacity(self.bindings.len());
        for (i, b) in self.bindings.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            let resolved = resolve_role_ref(&self.cluster_roles, &self.ns_roles, &b.role_ref, &b.namespace);
            self.resolved.push(resolved);
            if b.cluster {
                self.crbs.push(i);
                self.crb_index.add(i, &b.subjects, "");
            } else {
                self.rbs.entry(b.namespace.clone()).or_default().push(i);
                self.rb_index.entry(b.namespace.clone()).or_default().add(i, &b.subjects, &b.namespace);
            }
        }
    }

    /// Problems met while reading (invalid objects, duplicates, aggregation cycles).
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Every role and cluster role (cluster roles after aggregation).
    #[must_use]
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Every binding.
    #[must_use]
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The cluster role with this name.
    #[must_use]
    pub fn cluster_role(&self, name: &str) -> Option<&Role> {
        self.cluster_roles.get(name).and_then(|i| self.roles.get(*i))
    }

    /// The role `namespace/name`.
    #[must_use]
    pub fn role(&self, namespace: &str, name: &str) -> Option<&Role> {
        self.ns_roles.get(&(namespace.to_owned(), name.to_owned())).and_then(|i| self.roles.get(*i))
    }

    /// The role a binding references, or upstream's error text.
    ///
    /// # Errors
    /// `role.rbac.authorization.k8s.io "x" not found`, `clusterrole... not found` or
    /// `unsupported role reference kind: "X"`.
    pub fn binding_role(&self, binding_index: usize) -> Result<&Role, RbacError> {
        match self.resolved.get(binding_index) {
            Some(Ok(i)) => self.roles.get(*i).ok_or(RbacError::NoBinding(binding_index)),
            Some(Err(e)) => Err(e.clone()),
            None => Err(RbacError::NoBinding(binding_index)),
        }
    }

    /// The rules a role reference grants in `binding_namespace` (upstream `GetRoleReferenceRules`).
    ///
    /// # Errors
    /// When the role does not exist or the kind is unsupported (upstream's error text).
    pub fn role_ref_rules(&self, role_ref: &RoleRef, binding_namespace: &str) -> Result<&[PolicyRule], RbacError> {
        let i = resolve_role_ref(&self.cluster_roles, &self.ns_roles, role_ref, binding_namespace)?;
        self.roles.get(i).map(|r| r.rules.as_slice()).ok_or(RbacError::NoBinding(i))
    }

    /// Visits the applicable bindings in upstream order: every ClusterRoleBinding, then the
    /// RoleBindings of `namespace` (when non-empty). `visit` gets the binding index and returns
    /// `false` to stop.
    fn visit_bindings(&self, user: &UserInfo, namespace: &str, mut visit: impl FnMut(usize) -> bool) {
        let mut candidates = Vec::new();
        self.crb_index.candidates(user, &mut candidates);
        for &i in &candidates {
            if !visit(i as usize) {
                return;
            }
        }
        if namespace.is_empty() {
            return;
        }
        if let Some(idx) = self.rb_index.get(namespace) {
            idx.candidates(user, &mut candidates);
            for &i in &candidates {
                if !visit(i as usize) {
                    return;
                }
            }
        }
    }

    /// Decides one request the way the RBAC authorizer does: the first rule of an applicable
    /// binding that allows it wins (`RBAC: allowed by ...`); otherwise NoOpinion, with
    /// `RBAC: <errors>` when applicable bindings failed to resolve.
    #[must_use]
    pub fn decide(&self, attrs: &Attributes) -> Decision {
        let mut errors: Vec<String> = Vec::new();
        let mut grant: Option<(usize, usize, usize)> = None;
        self.visit_bindings(&attrs.user, &attrs.namespace, |bi| match self.resolved.get(bi) {
            Some(Ok(ri)) => {
                let Some(role) = self.roles.get(*ri) else { return true };
                match role.rules.iter().position(|r| rule_allows(attrs, r)) {
                    Some(rule) => {
                        grant = Some((bi, *ri, rule));
                        false
                    }
                    None => true,
                }
            }
            Some(Err(e)) => {
                errors.push(e.to_string());
                true
            }
            None => true,
        });
        if let Some((bi, ri, rule_index)) = grant
            && let (Some(b), Some(role)) = (self.bindings.get(bi), self.roles.get(ri))
        {
            let si = applies_to(&attrs.user, b).unwrap_or(0);
            let subject = b.subjects.get(si).cloned().unwrap_or_default();
            let reason = format!("RBAC: allowed by {}", b.describe(&subject));
            let mut d = Decision::allow("RBAC", reason);
            d.grant = Some(Grant {
                binding: b.object.id.clone(),
                subject_location: Some(b.subject_location(si)),
                subject,
                role: role.object.id.clone(),
                rule_index,
                rule: role.rules.get(rule_index).cloned().unwrap_or_default(),
                rule_location: role.rule_sources.get(rule_index).map(|s| s.location.clone()),
            });
            return d;
        }
        let reason = if errors.is_empty() { String::new() } else { format!("RBAC: {}", aggregate(&errors)) };
        Decision::no_opinion("RBAC", reason)
    }

    /// Why no rule allows the request: which bindings apply and which failed to resolve (for
    /// `--explain`; kept out of [`Rbac::decide`] to keep decisions fast).
    #[must_use]
    pub fn why_not(&self, attrs: &Attributes) -> Vec<String> {
        let mut notes = Vec::new();
        let mut errors = Vec::new();
        let mut n = 0usize;
        self.visit_bindings(&attrs.user, &attrs.namespace, |bi| {
            if let Some(b) = self.bindings.get(bi) {
                n += 1;
                let role = match self.resolved.get(bi) {
                    Some(Ok(ri)) => self.roles.get(*ri).map_or_else(String::new, |r| r.object.id.to_string()),
                    Some(Err(e)) => {
                        errors.push(e.clone());
                        "(unresolved)".to_owned()
                    }
                    None => "(unresolved)".to_owned(),
                };
                notes.push(format!("{} applies (role {role}) but no rule matches", b.object.id));
            }
            n < 50
        });
        if n == 0 {
            let scope = if attrs.namespace.is_empty() {
                "no ClusterRoleBinding".to_owned()
            } else {
                format!("no ClusterRoleBinding and no RoleBinding in namespace {:?}", attrs.namespace)
            };
            notes.push(format!(
                "{scope} names user {:?} or any of its groups [{}]",
                attrs.user.name,
                attrs.user.groups.join(", ")
            ));
        }
        for e in &errors {
            notes.push(format!("binding could not be resolved: {e}"));
        }
        notes
    }

    /// Upstream `RulesFor`: every rule of every applicable binding (ClusterRoleBindings, then the
    /// RoleBindings of `namespace`), plus resolution errors.
    #[must_use]
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Vec<String>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        self.visit_bindings(user, namespace, |bi| {
            match self.resolved.get(bi) {
                Some(Ok(ri)) => {
                    if let Some(r) = self.roles.get(*ri) {
                        rules.extend(r.rules.iter().cloned());
                    }
                }
                Some(Err(e)) => errors.push(e.to_string()),
                None => {}
            }
            true
        });
        (rules, errors)
    }

    /// Every (binding, subject, role, rule) that grants the request to its subject, ignoring who
    /// asks: ClusterRoleBindings, then the RoleBindings of the request namespace.
    #[must_use]
    pub fn who_can(&self, attrs: &Attributes) -> Vec<WhoCan> {
        let mut out = Vec::new();
        let ns_bindings = if attrs.namespace.is_empty() { None } else { self.rbs.get(&attrs.namespace) };
        for &bi in self.crbs.iter().chain(ns_bindings.into_iter().flatten()) {
            let bi = bi as usize;
            let (Some(b), Ok(role)) = (self.bindings.get(bi), self.binding_role(bi)) else { continue };
            let Some(rule_index) = role.rules.iter().position(|r| rule_allows(attrs, r)) else { continue };
            for (si, s) in b.subjects.iter().enumerate() {
                out.push(WhoCan {
                    subject: s.clone(),
                    binding_namespace: b.namespace.clone(),
                    binding: b.object.id.clone(),
                    binding_index: bi,
                    subject_index: si,
                    role: role.object.id.clone(),
                    rule_index,
                    rule: role.rules.get(rule_index).cloned().unwrap_or_default(),
                });
            }
        }
        out
    }

    /// The escalation check for creating or updating a Role/ClusterRole (`rules` in `namespace`,
    /// `""` for a ClusterRole): allowed for `system:masters`, for users `authz` allows to
    /// `escalate` the role, or when the user's own rules in the namespace cover `rules`.
    ///
    /// # Errors
    /// The 403 message kube-apiserver returns.
    pub fn check_role_write(
        &self,
        authz: &dyn Authorizer,
        user: &UserInfo,
        cluster: bool,
        namespace: &str,
        name: &str,
        rules: &[PolicyRule],
    ) -> Result<(), Forbidden> {
        if user.in_group(SYSTEM_MASTERS) {
            return Ok(());
        }
        let resource = if cluster { "clusterroles" } else { "roles" };
        let ns = if cluster { "" } else { namespace };
        let escalate = Attributes::resource(user.clone(), "escalate", RBAC_GROUP, resource, ns, name);
        if authz.authorize(&escalate).allowed() {
            return Ok(());
        }
        self.confirm_no_escalation(user, ns, rules).map_err(|e| forbidden_rbac(resource, name, &e))
    }

    /// The escalation check for creating or updating a RoleBinding/ClusterRoleBinding: allowed for
    /// `system:masters`, for users `authz` allows to `bind` the referenced role, or when the
    /// user's own rules cover the referenced role's rules.
    ///
    /// # Errors
    /// The 403 message kube-apiserver returns.
    pub fn check_binding_write(
        &self,
        authz: &dyn Authorizer,
        user: &UserInfo,
        cluster: bool,
        namespace: &str,
        name: &str,
        role_ref: &RoleRef,
    ) -> Result<(), Forbidden> {
        let resource = if cluster { "clusterrolebindings" } else { "rolebindings" };
        if user.in_group(SYSTEM_MASTERS) {
            return Ok(());
        }
        let ns = if cluster { "" } else { namespace };
        let role_resource = if role_ref.kind == "ClusterRole" { "clusterroles" } else { "roles" };
        let bind = Attributes::resource(user.clone(), "bind", &role_ref.api_group, role_resource, ns, &role_ref.name);
        if authz.authorize(&bind).allowed() {
            return Ok(());
        }
        let rules = self.role_ref_rules(role_ref, ns).map_err(|e| forbidden_rbac(resource, name, &e))?;
        self.confirm_no_escalation(user, ns, rules).map_err(|e| forbidden_rbac(resource, name, &e))
    }

    /// Upstream `ConfirmNoEscalation` (with RBAC as the rule resolver).
    ///
    /// # Errors
    /// `user "u" (groups=["g"]) is attempting to grant RBAC permissions not currently held:\n...`.
    pub fn confirm_no_escalation(
        &self,
        user: &UserInfo,
        namespace: &str,
        rules: &[PolicyRule],
    ) -> Result<(), RbacError> {
        let (owner, errors) = self.rules_for(user, namespace);
        let (ok, missing) = covers(&owner, rules);
        if ok {
            return Ok(());
        }
        let mut msg = format!(
            "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
            go_quote(&user.name),
            go_quote_list(&user.groups),
            missing_descriptions(&missing).join("\n")
        );
        if !errors.is_empty() {
            msg.push_str(&format!("; resolution errors: [{}]", aggregate(&errors)));
        }
        Err(RbacError::Escalation(msg))
    }
}

impl Authorizer for Rbac {
    fn name(&self) -> &'static str {
        "RBAC"
    }

    fn authorize(&self, attrs: &Attributes) -> Decision {
        self.decide(attrs)
    }

    fn why_not(&self, attrs: &Attributes) -> Vec<String> {
        Rbac::why_not(self, attrs)
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> RulesReview {
        let (rules, errors) = Rbac::rules_for(self, user, namespace);
        let (non_resource_rules, resource_rules): (Vec<_>, Vec<_>) =
            rules.into_iter().partition(|r| !r.non_resource_urls.is_empty());
        RulesReview {
            resource_rules: resource_rules.into_iter().filter(|r| !r.resources.is_empty()).collect(),
            non_resource_rules,
            // upstream's RBAC authorizer never calls its list incomplete: a binding whose role
            // cannot be found only adds to the evaluation error
            incomplete: false,
            evaluation_error: aggregate(&errors),
        }
    }
}

/// One answer of [`Rbac::who_can`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhoCan {
    /// The subject granted.
    pub subject: Subject,
    /// The binding's namespace (for service-account subjects without one).
    pub binding_namespace: String,
    /// The binding.
    pub binding: ObjectRef,
    /// Index of the binding in [`Rbac::bindings`].
    pub binding_index: usize,
    /// Index of the subject in the binding.
    pub subject_index: usize,
    /// The role.
    pub role: ObjectRef,
    /// Index of the first rule that allows the request.
    pub rule_index: usize,
    /// That rule.
    pub rule: PolicyRule,
}

fn resolve_role_ref(
    cluster_roles: &HashMap<String, usize>,
    ns_roles: &HashMap<(String, String), usize>,
    role_ref: &RoleRef,
    binding_namespace: &str,
) -> Result<usize, RbacError> {
    let not_found = |kind| RbacError::RoleNotFound { kind, name: role_ref.name.clone() };
    match role_ref.kind.as_str() {
        "Role" => ns_roles
            .get(&(binding_namespace.to_owned(), role_ref.name.clone()))
            .copied()
            .ok_or_else(|| not_found("role")),
        "ClusterRole" => cluster_roles.get(&role_ref.name).copied().ok_or_else(|| not_found("clusterrole")),
        other => Err(RbacError::UnsupportedKind(other.to_owned())),
    }
}

/// `utilerrors.NewAggregate(errs).Error()`: one error as itself, several as `[a, b]` (duplicates
/// once).
#[must_use]
pub fn aggregate(errors: &[String]) -> String {
    let mut unique: Vec<&String> = Vec::new();
    for e in errors {
        if !unique.contains(&e) {
            unique.push(e);
        }
    }
    match unique.as_slice() {
        [] => String::new(),
        [one] => (*one).clone(),
        many => format!("[{}]", many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
    }
}

fn forbidden_rbac(resource: &str, name: &str, err: &RbacError) -> Forbidden {
    Forbidden(format!("{resource}.{RBAC_GROUP} {} is forbidden: {err}", go_quote(name)))
}

/// The subjects named in bindings, per kind, with the bindings naming them (for reports).
#[must_use]
pub fn subjects_by_binding(rbac: &Rbac) -> BTreeMap<(String, String, String), Vec<usize>> {
    let mut out: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, b) in rbac.bindings().iter().enumerate() {
        for s in &b.subjects {
            let ns = if s.kind == "ServiceAccount" && s.namespace.is_empty() {
                b.namespace.clone()
            } else {
                s.namespace.clone()
            };
            out.entry((s.kind.clone(), ns, s.name.clone())).or_default().push(i);
        }
    }
    out
}

/// Shared handle used by the chain.
pub type SharedRbac = Arc<Rbac>;
