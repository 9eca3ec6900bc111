//! Resource names as kubectl resolves them (`kubectl auth can-i VERB TYPE`): its REST mapper over
//! discovery (`k8s.io/client-go/restmapper`: `shortcutExpander`, `NewDiscoveryRESTMapper`'s
//! `PriorityRESTMapper`; `k8s.io/apimachinery/pkg/api/meta.DefaultRESTMapper.ResourcesFor`), and
//! can-i's warnings (`k8s.io/kubectl/pkg/cmd/auth/cani.go`), with a "did you mean" added.

use kguard_model::text::did_you_mean;

use crate::{Resource, VERB_BITS, by_name, groups, is_builtin_group, resources, table};

/// The verbs `kubectl auth can-i` knows for resource requests (`resourceVerbs`).
pub const RESOURCE_VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "impersonate",
    "*",
    "approve",
    "sign",
    "escalate",
    "attest",
];

/// The verbs `kubectl auth can-i` knows for non-resource URLs (`nonResourceURLVerbs`).
pub const NON_RESOURCE_VERBS: &[&str] = &["get", "put", "post", "head", "options", "delete", "patch", "*"];

/// Resources kube-apiserver authorizes that discovery does not list: the impersonation targets
/// (`users`, `groups` in the core group as kubectl's `nonStandardResourceNames`; `uids` and
/// `userextras` in authentication.k8s.io) and the certificate signers (`signers`, verbs
/// `approve`, `sign`, `attest`).
const AUTHORIZATION_ONLY: &[(&str, &str)] = &[
    ("", "users"),
    ("", "groups"),
    ("authentication.k8s.io", "uids"),
    ("authentication.k8s.io", "userextras"),
    ("certificates.k8s.io", "signers"),
];

/// A resource named on a command line, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// API group (`""` core).
    pub group: String,
    /// Plural resource name, or the name as given (lower-cased) when it is not built in.
    pub resource: String,
    /// Subresource (`""` when none).
    pub subresource: String,
    /// The built-in resource it names (its preferred version), when it names one.
    pub known: Option<&'static Resource>,
    /// What kubectl would warn about (an unknown resource type, an ambiguous short name), with a
    /// suggestion where one is close.
    pub warnings: Vec<String>,
}

impl Resolved {
    /// `resource[/subresource]`.
    #[must_use]
    pub fn full_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// One query of the REST mapper: a resource name, maybe a group, maybe a version.
struct Query<'a> {
    resource: &'a str,
    group: Option<&'a str>,
    version: Option<&'a str>,
}

fn in_group(group: Option<&str>) -> impl Fn(&&'static Resource) -> bool + '_ {
    move |r| group.is_none_or(|g| r.group == g)
}

/// `shortcutExpander.expandResourceShortcut`: a name that is no resource's plural or singular
/// (in the group, when one is given) but is a short name becomes that resource's plural and
/// group, the first in priority order; the version is dropped. Other group-resources of the same
/// short name are warned about.
fn expand_short_name<'q>(q: Query<'q>, warnings: &mut Vec<String>) -> (Query<'q>, Option<&'static Resource>) {
    if by_name(&table::NAMES, q.resource).any(|r| in_group(q.group)(&r)) {
        return (q, None);
    }
    let mut found: Option<&'static Resource> = None;
    let mut warned: Vec<(&str, &str)> = Vec::new();
    for r in by_name(&table::SHORT_NAMES, q.resource).filter(in_group(q.group)) {
        match found {
            None => found = Some(r),
            Some(f) if (f.group, f.plural) == (r.group, r.plural) => {}
            Some(_) => {
                if !warned.contains(&(r.group, r.plural)) {
                    warned.push((r.group, r.plural));
                    warnings.push(format!(
                        "short name {:?} could also match lower priority resource {}",
                        q.resource,
                        r.group_resource()
                    ));
                }
            }
        }
    }
    match found {
        Some(r) => {
            let group = (!r.group.is_empty()).then_some(r.group);
            (Query { resource: r.plural, group, version: None }, Some(r))
        }
        None => (q, None),
    }
}

/// `DefaultRESTMapper.ResourcesFor` (plural or singular names; a group matched exactly, else as
/// a prefix: `storageclasses.storage`) and `PriorityRESTMapper.ResourceFor` (the first in
/// priority order: core v1, then each group's versions, preferred first, groups in discovery
/// order, which is the table's order).
fn map(q: Query<'_>, warnings: &mut Vec<String>) -> Option<&'static Resource> {
    let (q, _) = expand_short_name(q, warnings);
    let named = || by_name(&table::NAMES, q.resource);
    match (q.group, q.version) {
        (Some(g), Some(v)) => named().find(|r| r.group == g && r.version == v),
        (Some(g), None) => named().find(|r| r.group == g).or_else(|| named().find(|r| r.group.starts_with(g))),
        (None, Some(v)) => named().find(|r| r.version == v),
        (None, None) => named().next(),
    }
}

/// The resource `RESOURCE[.GROUP][/SUBRESOURCE]` (or `RESOURCE.VERSION.GROUP`) names, as
/// `kubectl auth can-i` resolves its TYPE argument: lower-cased, then a fully specified
/// `resource.version.group` when it has two dots and that exists, else `resource[.group]`
/// through short names, singular names and group prefixes. `*` (and `*.GROUP`) stay wildcards.
///
/// A name that is no built-in resource keeps its `RESOURCE.GROUP` split (custom resources are
/// named so) and is warned about unless its group is not a built-in one.
#[must_use]
pub fn resolve(spec: &str) -> Resolved {
    let (main, sub) = spec.split_once('/').unwrap_or((spec, ""));
    let lower = main.to_lowercase();
    let mut warnings = Vec::new();
    if lower.matches('.').count() >= 2 {
        let mut parts = lower.splitn(3, '.');
        if let (Some(resource), Some(version), Some(group)) = (parts.next(), parts.next(), parts.next())
            && let Some(r) = map(Query { resource, group: Some(group), version: Some(version) }, &mut warnings)
        {
            return found(r, sub, warnings);
        }
        warnings.clear();
    }
    let (resource, group) = match lower.split_once('.') {
        Some((r, g)) => (r, Some(g)),
        None => (lower.as_str(), None),
    };
    resolve_query(resource, group, sub, warnings)
}

/// Like [`resolve`] for a resource (`RESOURCE[/SUBRESOURCE]`: a plural, singular or short name)
/// and a group given apart (`kguard audit eval --resource R --api-group G`); `None` lets the
/// resource's name choose the group.
#[must_use]
pub fn resolve_in_group(resource: &str, group: Option<&str>) -> Resolved {
    let (main, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let lower = main.to_lowercase();
    match group {
        // the core group, named explicitly
        Some("") => {
            let mut warnings = Vec::new();
            let r = by_name(&table::NAMES, &lower)
                .find(|r| r.group.is_empty())
                .or_else(|| by_name(&table::SHORT_NAMES, &lower).find(|r| r.group.is_empty()));
            match r {
                Some(r) => found(r, sub, warnings),
                None => {
                    unknown_warning(&lower, Some(""), &mut warnings);
                    Resolved {
                        group: String::new(),
                        resource: lower,
                        subresource: sub.to_owned(),
                        known: None,
                        warnings,
                    }
                }
            }
        }
        _ => resolve_query(&lower, group, sub, Vec::new()),
    }
}

fn found(r: &'static Resource, sub: &str, warnings: Vec<String>) -> Resolved {
    Resolved {
        group: r.group.to_owned(),
        resource: r.plural.to_owned(),
        subresource: sub.to_owned(),
        known: Some(r),
        warnings,
    }
}

fn resolve_query(resource: &str, group: Option<&str>, sub: &str, mut warnings: Vec<String>) -> Resolved {
    if resource != "*"
        && let Some(r) = map(Query { resource, group, version: None }, &mut warnings)
    {
        return found(r, sub, warnings);
    }
    if resource != "*" {
        unknown_warning(resource, group, &mut warnings);
    }
    Resolved {
        group: group.unwrap_or("").to_owned(),
        resource: resource.to_owned(),
        subresource: sub.to_owned(),
        known: None,
        warnings,
    }
}

/// The warning for a name no built-in resource has: kubectl's "doesn't have a resource type",
/// with the closest built-in name. Silent for groups that are not built in (custom resources)
/// and for the resources only authorization knows.
fn unknown_warning(resource: &str, group: Option<&str>, warnings: &mut Vec<String>) {
    let builtin = |g: &str| group.is_none_or(|want| g == want || (!want.is_empty() && g.starts_with(want)));
    if group.is_some() && !groups().iter().any(|b| builtin(b)) {
        return; // a custom resource's group: nothing to say offline
    }
    if AUTHORIZATION_ONLY.contains(&(group.unwrap_or(""), resource)) {
        return;
    }
    let names = resources()
        .iter()
        .filter(|r| builtin(r.group))
        .flat_map(|r| [r.plural, r.singular].into_iter().chain(r.short_names.iter().copied()));
    let hint = match did_you_mean(resource, names) {
        Some(s) => format!("; did you mean {s:?}?"),
        None if group.is_none() => "; a custom resource is named with its group: RESOURCE.GROUP".to_owned(),
        None => String::new(),
    };
    let authz_hint = AUTHORIZATION_ONLY
        .iter()
        .find(|(_, r)| *r == resource)
        .map(|(g, r)| format!(" ({r} is authorized in group {g:?}: {r}.{g})"))
        .unwrap_or_default();
    match group {
        None => warnings.push(format!(
            "Kubernetes {} has no resource type {resource:?}{hint}{authz_hint}",
            crate::KUBERNETES_VERSION
        )),
        Some(g) => warnings.push(format!(
            "Kubernetes {} has no resource type {resource:?} in group {g:?}{hint}{authz_hint}",
            crate::KUBERNETES_VERSION
        )),
    }
}

/// kubectl can-i's checks of a resource request, and more: the verb is one kubectl knows
/// (`verb 'x' is not a known verb`), the resource is namespaced when a namespace is given
/// (`resource 'nodes' is not namespace scoped`), and, for a built-in resource, the subresource
/// exists and serves a REST verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
/// `deletecollection`) asked of it. Each with a suggestion where one is close.
#[must_use]
pub fn check_request(verb: &str, resolved: &Resolved, namespace: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !RESOURCE_VERBS.contains(&verb) {
        out.push(format!("verb '{verb}' is not a known verb{}", suggestion(verb, RESOURCE_VERBS.iter().copied())));
    }
    let Some(r) = resolved.known else { return out };
    if !namespace.is_empty() && !r.namespaced {
        if r.group.is_empty() {
            out.push(format!("resource '{}' is not namespace scoped", r.plural));
        } else {
            out.push(format!("resource '{}' is not namespace scoped in group '{}'", r.plural, r.group));
        }
    }
    let rest_verb = VERB_BITS.contains(&verb);
    if resolved.subresource.is_empty() {
        if rest_verb && !r.serves(verb) {
            out.push(format!(
                "{} does not serve the verb {verb:?} (its verbs: {})",
                r.group_resource(),
                r.verbs().collect::<Vec<_>>().join(", ")
            ));
        }
    } else if resolved.subresource != "*" {
        match r.subresource(&resolved.subresource) {
            None => out.push(format!(
                "{} has no subresource {:?}{}",
                r.group_resource(),
                resolved.subresource,
                if r.subresources.is_empty() {
                    String::new()
                } else {
                    let hint = suggestion(&resolved.subresource, r.subresources.iter().map(|s| s.name));
                    if hint.is_empty() {
                        format!(
                            " (its subresources: {})",
                            r.subresources.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
                        )
                    } else {
                        hint
                    }
                }
            )),
            Some(s) if rest_verb && !s.serves(verb) => out.push(format!(
                "{}/{} does not serve the verb {verb:?} (its verbs: {})",
                r.group_resource(),
                s.name,
                s.verbs().collect::<Vec<_>>().join(", ")
            )),
            Some(_) => {}
        }
    }
    out
}

/// kubectl can-i's check of a non-resource URL's verb.
#[must_use]
pub fn check_non_resource_verb(verb: &str) -> Option<String> {
    (!NON_RESOURCE_VERBS.contains(&verb))
        .then(|| format!("verb '{verb}' is not a known verb{}", suggestion(verb, NON_RESOURCE_VERBS.iter().copied())))
}

fn suggestion<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    did_you_mean(word, candidates).map(|s| format!("; did you mean {s:?}?")).unwrap_or_default()
}

/// Whether `group` is a built-in group or a prefix kubectl would complete to one.
#[must_use]
pub fn names_builtin_group(group: &str) -> bool {
    is_builtin_group(group) || groups().iter().any(|g| !group.is_empty() && g.starts_with(group))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gr(spec: &str) -> (String, String) {
        let r = resolve(spec);
        (r.group.clone(), r.full_resource())
    }

    #[test]
    fn names_short_names_singulars_kinds() {
        assert_eq!(gr("deployments"), ("apps".into(), "deployments".into()));
        assert_eq!(gr("deploy"), ("apps".into(), "deployments".into()));
        assert_eq!(gr("deployment"), ("apps".into(), "deployments".into()));
        assert_eq!(gr("Deployment"), ("apps".into(), "deployments".into()), "kubectl lower-cases the argument");
        assert_eq!(gr("po"), (String::new(), "pods".into()));
        assert_eq!(gr("pods/exec"), (String::new(), "pods/exec".into()));
        assert_eq!(gr("deploy/scale"), ("apps".into(), "deployments/scale".into()));
        assert_eq!(gr("crds"), ("apiextensions.k8s.io".into(), "customresourcedefinitions".into()));
        assert_eq!(gr("hpa"), ("autoscaling".into(), "horizontalpodautoscalers".into()));
        assert_eq!(resolve("hpa").known.unwrap().version, "v2", "the preferred version");
        assert!(resolve("deploy").warnings.is_empty());
    }

    #[test]
    fn groups_versions_and_prefixes() {
        assert_eq!(gr("deployments.apps"), ("apps".into(), "deployments".into()));
        assert_eq!(gr("deploy.apps"), ("apps".into(), "deployments".into()));
        assert_eq!(gr("storageclass.storage"), ("storage.k8s.io".into(), "storageclasses".into()));
        assert_eq!(
            gr("clusterroles.rbac.authorization.k8s.io"),
            ("rbac.authorization.k8s.io".into(), "clusterroles".into())
        );
        let r = resolve("horizontalpodautoscalers.v1.autoscaling");
        assert_eq!((r.group.as_str(), r.known.unwrap().version), ("autoscaling", "v1"));
        assert_eq!(gr("events"), (String::new(), "events".into()), "core before events.k8s.io");
        assert_eq!(gr("events.events.k8s.io"), ("events.k8s.io".into(), "events".into()));
    }

    #[test]
    fn ambiguous_short_name_warns_like_kubectl() {
        let r = resolve("ev");
        assert_eq!((r.group.as_str(), r.resource.as_str()), ("", "events"));
        assert_eq!(r.warnings, [r#"short name "ev" could also match lower priority resource events.events.k8s.io"#]);
        assert!(resolve("ev.events.k8s.io").warnings.is_empty(), "the group settles it");
    }

    #[test]
    fn unknown_names_warn_with_a_suggestion() {
        let r = resolve("deploymnets");
        assert_eq!((r.group.as_str(), r.resource.as_str(), r.known), ("", "deploymnets", None));
        assert_eq!(r.warnings, [r#"Kubernetes v1.37 has no resource type "deploymnets"; did you mean "deployments"?"#]);
        let r = resolve("deploymnets.apps");
        assert_eq!(r.group, "apps");
        assert_eq!(
            r.warnings,
            [r#"Kubernetes v1.37 has no resource type "deploymnets" in group "apps"; did you mean "deployments"?"#]
        );
        let r = resolve("widgets");
        assert!(r.warnings[0].ends_with("a custom resource is named with its group: RESOURCE.GROUP"), "{r:?}");
        // custom resources and authorization-only resources are left alone
        let r = resolve("widgets.example.com");
        assert_eq!((r.group.as_str(), r.resource.as_str(), r.warnings.len()), ("example.com", "widgets", 0));
        assert!(resolve("users").warnings.is_empty() && resolve("groups").warnings.is_empty());
        assert!(resolve("signers.certificates.k8s.io").warnings.is_empty());
        assert!(resolve("uids").warnings[0].contains("uids.authentication.k8s.io"), "{:?}", resolve("uids"));
        assert!(resolve("*").warnings.is_empty() && resolve("*.apps").warnings.is_empty());
        assert_eq!(gr("*.apps"), ("apps".into(), "*".into()));
    }

    #[test]
    fn explicit_group() {
        let r = resolve_in_group("deploy", None);
        assert_eq!((r.group.as_str(), r.resource.as_str()), ("apps", "deployments"));
        let r = resolve_in_group("deployments", Some(""));
        assert_eq!(r.known, None);
        assert!(r.warnings[0].contains(r#"no resource type "deployments" in group """#), "{r:?}");
        let r = resolve_in_group("pods/log", Some(""));
        assert_eq!((r.resource.as_str(), r.subresource.as_str()), ("pods", "log"));
        assert!(r.warnings.is_empty());
        let r = resolve_in_group("deployments", Some("apps"));
        assert!(r.known.is_some() && r.warnings.is_empty());
    }

    #[test]
    fn request_checks() {
        let pods = resolve("pods");
        assert!(check_request("get", &pods, "default").is_empty());
        assert_eq!(check_request("gte", &pods, "default"), [r#"verb 'gte' is not a known verb; did you mean "get"?"#]);
        assert_eq!(check_request("list", &resolve("nodes"), "default"), ["resource 'nodes' is not namespace scoped"]);
        assert_eq!(
            check_request("get", &resolve("clusterroles.rbac.authorization.k8s.io"), "dev"),
            ["resource 'clusterroles' is not namespace scoped in group 'rbac.authorization.k8s.io'"]
        );
        assert_eq!(
            check_request("create", &resolve("pods/exce"), "dev"),
            [r#"pods has no subresource "exce"; did you mean "exec"?"#]
        );
        assert_eq!(
            check_request("list", &resolve("pods/exec"), "dev"),
            [r#"pods/exec does not serve the verb "list" (its verbs: get, create)"#]
        );
        assert_eq!(
            check_request("list", &resolve("tokenreviews"), ""),
            [r#"tokenreviews.authentication.k8s.io does not serve the verb "list" (its verbs: create)"#]
        );
        assert!(check_request("impersonate", &resolve("serviceaccounts"), "dev").is_empty(), "special verbs pass");
        assert!(check_request("*", &resolve("pods/*"), "dev").is_empty());
        assert_eq!(check_non_resource_verb("post"), None);
        assert_eq!(check_non_resource_verb("lsit").as_deref(), Some("verb 'lsit' is not a known verb"));
        assert!(names_builtin_group("storage") && !names_builtin_group("example.com"));
    }
}
