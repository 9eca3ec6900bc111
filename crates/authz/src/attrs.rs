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

impl RulesReview {
    /// The table `kubectl auth can-i --list` prints for this review (kubectl's `printStatus`):
    /// every rule broken down to one group, resource, verb and name (non-resource rules to one
    /// URL and verb), the resource rules of one group/resource/name compacted back into one
    /// row with their verbs in the order first met (each once), rows stably sorted by the Go
    /// `String()` of the rule, and the columns aligned as kubectl's tab writer aligns them
    /// (minimum width 6, padding 3). `headers` adds the `Resources  Non-Resource URLs  Resource Names  Verbs` line.
    #[must_use]
    pub fn kubectl_table(&self, headers: bool) -> String {
        let mut broken: Vec<PolicyRule> = Vec::new();
        for r in self.resource_rules.iter().chain(&self.non_resource_rules) {
            for g in &r.api_groups {
                for res in &r.resources {
                    for v in &r.verbs {
                        let one = |names: Vec<String>| PolicyRule {
                            verbs: vec![v.clone()],
                            api_groups: vec![g.clone()],
                            resources: vec![res.clone()],
                            resource_names: names,
                            ..PolicyRule::default()
                        };
                        if r.resource_names.is_empty() {
                            broken.push(one(Vec::new()));
                        } else {
                            broken.extend(r.resource_names.iter().map(|n| one(vec![n.clone()])));
                        }
                    }
                }
            }
            for u in &r.non_resource_urls {
                for v in &r.verbs {
                    broken.push(PolicyRule {
                        verbs: vec![v.clone()],
                        non_resource_urls: vec![u.clone()],
                        ..PolicyRule::default()
                    });
                }
            }
        }
        // kubectl's CompactRules: rules of one group, one resource and at most one name merge
        // their verbs; the others keep their order and come first
        let mut other: Vec<PolicyRule> = Vec::new();
        let mut simple: Vec<PolicyRule> = Vec::new();
        // (group, resource, name) of a simple rule → its place in `simple`
        type Key = (Vec<String>, Vec<String>, Vec<String>);
        let mut index: std::collections::HashMap<Key, usize> = std::collections::HashMap::new();
        for r in broken {
            let is_simple = r.non_resource_urls.is_empty()
                && r.api_groups.len() == 1
                && r.resources.len() == 1
                && r.resource_names.len() <= 1;
            if !is_simple {
                other.push(r);
                continue;
            }
            let key = (r.api_groups.clone(), r.resources.clone(), r.resource_names.clone());
            match index.get(&key).and_then(|&i| simple.get_mut(i)) {
                Some(s) => {
                    for v in r.verbs {
                        if !s.verbs.contains(&v) {
                            s.verbs.push(v);
                        }
                    }
                }
                None => {
                    index.insert(key, simple.len());
                    simple.push(r);
                }
            }
        }
        other.extend(simple);
        other.sort_by_cached_key(go_string);
        let list = |v: &[String]| format!("[{}]", v.join(" "));
        let mut rows: Vec<[String; 4]> = Vec::new();
        if headers {
            rows.push(["Resources".into(), "Non-Resource URLs".into(), "Resource Names".into(), "Verbs".into()]);
        }
        for r in &other {
            rows.push([
                combine_resource_group(&r.resources, &r.api_groups),
                list(&r.non_resource_urls),
                list(&r.resource_names),
                list(&r.verbs),
            ]);
        }
        // the first three cells are tab-terminated columns; the last is printed as it is
        let mut widths = [6usize; 3];
        for r in &rows {
            for (w, cell) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(cell.chars().count() + 3);
            }
        }
        let mut out = String::new();
        for [a, b, c, verbs] in &rows {
            for (cell, w) in [a, b, c].into_iter().zip(widths) {
                out.push_str(cell);
                out.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.chars().count())));
            }
            out.push_str(verbs);
            out.push('\n');
        }
        out
    }
}

/// The Go `String()` of an `rbacv1.PolicyRule` (`&PolicyRule{Verbs:[get],APIGroups:[],...}`),
/// kubectl's sort key.
fn go_string(r: &PolicyRule) -> String {
    let list = |v: &[String]| format!("[{}]", v.join(" "));
    format!(
        "&PolicyRule{{Verbs:{},APIGroups:{},Resources:{},ResourceNames:{},NonResourceURLs:{},}}",
        list(&r.verbs),
        list(&r.api_groups),
        list(&r.resources),
        list(&r.resource_names),
        list(&r.non_resource_urls)
    )
}

/// kubectl's `CombineResourceGroup`: `resource.group[/subresource]` of the first resource and
/// group, `""` when there is no resource.
fn combine_resource_group(resources: &[String], groups: &[String]) -> String {
    let Some(first) = resources.first() else { return String::new() };
    let (res, sub) = match first.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (first.as_str(), None),
    };
    let mut out = res.to_owned();
    if let Some(g) = groups.first().filter(|g| !g.is_empty()) {
        out.push('.');
        out.push_str(g);
    }
    if let Some(s) = sub {
        out.push('/');
        out.push_str(s);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str], urls: &[&str]) -> PolicyRule {
        let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect();
        PolicyRule {
            verbs: v(verbs),
            api_groups: v(groups),
            resources: v(resources),
            resource_names: v(names),
            non_resource_urls: v(urls),
        }
    }

    /// kubectl's layout: rules broken down and compacted (each verb once, in the order met),
    /// sorted by the Go String() (verbs first: `[get list watch]` before `[get list]`, an empty
    /// `APIGroups:[]` before `[apps]`), columns as wide as their widest cell plus 3.
    #[test]
    fn kubectl_table_layout() {
        let review = RulesReview {
            resource_rules: vec![
                rule(&["get", "list"], &[""], &["pods", "pods/log"], &[], &[]),
                rule(&["list", "watch"], &[""], &["pods"], &[], &[]),
                rule(&["get"], &["apps"], &["deployments"], &["web", "api"], &[]),
            ],
            non_resource_rules: vec![rule(&["get"], &[], &[], &[], &["/healthz", "/api/*"])],
            ..RulesReview::default()
        };
        let want = "\
Resources          Non-Resource URLs   Resource Names   Verbs
pods               []                  []               [get list watch]
pods/log           []                  []               [get list]
                   [/api/*]            []               [get]
                   [/healthz]          []               [get]
deployments.apps   []                  [api]            [get]
deployments.apps   []                  [web]            [get]
";
        assert_eq!(review.kubectl_table(true), want);
        // without the header line, the columns are as wide as the rules need
        let bare = "\
pods               []           []      [get list watch]
pods/log           []           []      [get list]
                   [/api/*]     []      [get]
                   [/healthz]   []      [get]
deployments.apps   []           [api]   [get]
deployments.apps   []           [web]   [get]
";
        assert_eq!(review.kubectl_table(false), bare);
    }
}
