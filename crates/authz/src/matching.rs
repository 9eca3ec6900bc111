//! RBAC rule matching (`pkg/apis/rbac/v1/evaluation_helpers.go`) and rule coverage for the
//! escalation checks (`component-helpers/auth/rbac/validation/policy_comparator.go`).

use std::collections::BTreeSet;

use super::policy::PolicyRule;
use kguard_request::Attributes;

/// `*`: every verb, group, resource or URL.
pub const ALL: &str = "*";

/// Whether the rule's verbs cover `verb` (exact, case-sensitive, or `*`).
#[must_use]
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

/// Whether the rule's API groups cover `group` (exact or `*`).
#[must_use]
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    rule.api_groups.iter().any(|g| g == ALL || g == group)
}

/// Whether the rule's resources cover `resource[/subresource]`: `*`, the exact combined string,
/// or — only when there is a subresource — `*/<subresource>`. (`pods` does not cover
/// `pods/status`; `pods/*` covers only the literal subresource `*`.)
#[must_use]
pub fn resource_matches(rule: &PolicyRule, resource: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| {
        if r == ALL {
            return true;
        }
        if subresource.is_empty() {
            return r == resource;
        }
        // r == resource + "/" + subresource, without allocating
        let exact = r.len() == resource.len() + 1 + subresource.len()
            && r.starts_with(resource)
            && r.as_bytes().get(resource.len()) == Some(&b'/')
            && r.ends_with(subresource);
        let star_sub = r.len() == 2 + subresource.len() && r.starts_with("*/") && r.ends_with(subresource);
        exact || star_sub
    })
}

/// Whether the rule's resource names allow `name` (an empty list allows any name, including none).
#[must_use]
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| n == name)
}

/// Whether one non-resource URL pattern covers `path`: `*`, exact, or `prefix*` (trailing `*`s
/// trimmed) as a prefix of the path. `/apis/*` covers `/apis/v1` but not `/apis`.
#[must_use]
pub fn url_pattern_matches(pattern: &str, path: &str) -> bool {
    if pattern == ALL || pattern == path {
        return true;
    }
    pattern.ends_with('*') && path.starts_with(pattern.trim_end_matches('*'))
}

/// Whether the rule's non-resource URLs cover `path`.
#[must_use]
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|u| url_pattern_matches(u, path))
}

/// Upstream `RuleAllows`: whether one rule allows the request.
#[must_use]
pub fn rule_allows(attrs: &Attributes, rule: &PolicyRule) -> bool {
    if attrs.resource_request {
        verb_matches(rule, &attrs.verb)
            && api_group_matches(rule, &attrs.api_group)
            && resource_matches(rule, &attrs.resource, &attrs.subresource)
            && resource_name_matches(rule, &attrs.name)
    } else {
        verb_matches(rule, &attrs.verb) && non_resource_url_matches(rule, &attrs.path)
    }
}

/// Upstream `RulesAllow`: whether any rule allows the request.
#[must_use]
pub fn rules_allow(attrs: &Attributes, rules: &[PolicyRule]) -> bool {
    rules.iter().any(|r| rule_allows(attrs, r))
}

/// Like [`rule_allows`] for a resource request, but ignoring `resourceNames` (the rule grants the
/// verb on *some* objects). Used by the risk analysis.
#[must_use]
pub fn rule_allows_some_name(verb: &str, group: &str, resource: &str, subresource: &str, rule: &PolicyRule) -> bool {
    verb_matches(rule, verb) && api_group_matches(rule, group) && resource_matches(rule, resource, subresource)
}

/// Upstream `BreakdownRule`: one rule per (group, resource, verb[, name]) and per (url, verb), in
/// upstream order.
#[must_use]
pub fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                if rule.resource_names.is_empty() {
                    out.push(PolicyRule {
                        verbs: vec![verb.clone()],
                        api_groups: vec![group.clone()],
                        resources: vec![resource.clone()],
                        ..PolicyRule::default()
                    });
                } else {
                    for name in &rule.resource_names {
                        out.push(PolicyRule {
                            verbs: vec![verb.clone()],
                            api_groups: vec![group.clone()],
                            resources: vec![resource.clone()],
                            resource_names: vec![name.clone()],
                            ..PolicyRule::default()
                        });
                    }
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            out.push(PolicyRule {
                verbs: vec![verb.clone()],
                non_resource_urls: vec![url.clone()],
                ..PolicyRule::default()
            });
        }
    }
    out
}

fn has(set: &[String], item: &str) -> bool {
    set.iter().any(|s| s == item)
}

fn has_all(set: &[String], items: &[String]) -> bool {
    items.iter().all(|i| has(set, i))
}

fn resource_covers_all(set: &[String], covers: &[String]) -> bool {
    if has(set, ALL) || has_all(set, covers) {
        return true;
    }
    covers.iter().all(|path| {
        if has(set, path) {
            return true;
        }
        match path.split_once('/') {
            None => false,
            Some((_, sub)) => has(set, &format!("*/{sub}")),
        }
    })
}

fn non_resource_url_covers(owner: &str, sub: &str) -> bool {
    owner == sub || (owner.ends_with('*') && sub.starts_with(owner.trim_end_matches('*')))
}

/// Upstream `ruleCovers`: whether `owner` grants everything `sub` (one atom) grants.
#[must_use]
pub fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, ALL) || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, ALL) || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resource_covers_all(&owner.resources, &sub.resources);
    let urls = sub
        .non_resource_urls
        .iter()
        .all(|path| owner.non_resource_urls.iter().any(|o| non_resource_url_covers(o, path)));
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && names && urls
}

/// Upstream `Covers`: whether `owner` rules cover every atom of `servant` rules; the uncovered
/// atoms otherwise.
#[must_use]
pub fn covers(owner: &[PolicyRule], servant: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let missing: Vec<PolicyRule> =
        servant.iter().flat_map(breakdown).filter(|atom| !owner.iter().any(|o| rule_covers(o, atom))).collect();
    (missing.is_empty(), missing)
}

/// (group, resource, name) of a simple rule.
type SimpleKey = (String, String, Option<String>);

/// Upstream `CompactRules`: rules on one group, one resource and at most one name are merged
/// (verbs appended); others are kept as they are.
#[must_use]
pub fn compact(rules: &[PolicyRule]) -> Vec<PolicyRule> {
    let mut compacted = Vec::new();
    let mut simple: Vec<(SimpleKey, PolicyRule)> = Vec::new();
    for rule in rules {
        let is_simple = !rule.verbs.is_empty()
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1
            && rule.resource_names.len() <= 1;
        if let (true, Some(g), Some(r)) = (is_simple, rule.api_groups.first(), rule.resources.first()) {
            let key = (g.clone(), r.clone(), rule.resource_names.first().cloned());
            if let Some((_, existing)) = simple.iter_mut().find(|(k, _)| *k == key) {
                existing.verbs.extend(rule.verbs.iter().cloned());
            } else {
                simple.push((key, rule.clone()));
            }
        } else {
            compacted.push(rule.clone());
        }
    }
    compacted.extend(simple.into_iter().map(|(_, r)| r));
    compacted
}

/// The sorted, de-duplicated `CompactString` lines of the missing rules (what the escalation error
/// prints).
#[must_use]
pub fn missing_descriptions(missing: &[PolicyRule]) -> Vec<String> {
    compact(missing).iter().map(PolicyRule::compact_string).collect::<BTreeSet<_>>().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kguard_request::UserInfo;
    use proptest::prelude::*;

    fn res(verb: &str, group: &str, resource: &str, name: &str) -> Attributes {
        Attributes::resource(UserInfo::new("u", [] as [&str; 0]), verb, group, resource, "ns", name)
    }

    #[test]
    fn subresources() {
        let r = PolicyRule::resource(&["get"], &[""], &["pods"]);
        assert!(rule_allows(&res("get", "", "pods", ""), &r));
        assert!(!rule_allows(&res("get", "", "pods/status", ""), &r));
        let r = PolicyRule::resource(&["get"], &[""], &["*/status"]);
        assert!(rule_allows(&res("get", "", "pods/status", ""), &r));
        assert!(!rule_allows(&res("get", "", "pods", ""), &r));
        let r = PolicyRule::resource(&["get"], &[""], &["pods/*"]);
        assert!(!rule_allows(&res("get", "", "pods/status", ""), &r));
        assert!(rule_allows(&res("get", "", "pods/*", ""), &r));
    }

    #[test]
    fn urls() {
        assert!(url_pattern_matches("/apis/*", "/apis/v1"));
        assert!(!url_pattern_matches("/apis/*", "/apis"));
        assert!(url_pattern_matches("/apis**", "/apis"));
        assert!(url_pattern_matches("*", "/x"));
    }

    #[test]
    fn covers_and_compact() {
        let owner = vec![PolicyRule::resource(&["get", "list"], &[""], &["pods", "*/status"])];
        let servant = vec![PolicyRule::resource(&["get", "delete"], &[""], &["pods", "services/status"])];
        let (ok, missing) = covers(&owner, &servant);
        assert!(!ok);
        assert_eq!(
            missing_descriptions(&missing),
            [
                r#"{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}"#,
                r#"{APIGroups:[""], Resources:["services/status"], Verbs:["delete"]}"#
            ]
        );
        let named = vec![PolicyRule::resource(&["get"], &[""], &["pods"]).with_names(&["a"])];
        assert!(!covers(&named, &[PolicyRule::resource(&["get"], &[""], &["pods"])]).0);
        assert!(covers(&[PolicyRule::resource(&["get"], &[""], &["pods"])], &named).0);
        let urls = vec![PolicyRule::non_resource(&["get"], &["/api/*"])];
        assert!(covers(&urls, &[PolicyRule::non_resource(&["get"], &["/api/v1"])]).0);
        assert!(!covers(&urls, &[PolicyRule::non_resource(&["get"], &["/api"])]).0);
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![Just("*".to_owned()), "[a-c]{1,3}", Just(String::new())]
    }

    fn rule() -> impl Strategy<Value = PolicyRule> {
        (
            proptest::collection::vec(word(), 0..3),
            proptest::collection::vec(word(), 0..3),
            proptest::collection::vec(
                prop_oneof![word(), (word(), word()).prop_map(|(a, b)| format!("{a}/{b}"))],
                0..3,
            ),
            proptest::collection::vec("[a-c]{1,2}", 0..2),
        )
            .prop_map(|(verbs, api_groups, resources, resource_names)| PolicyRule {
                verbs,
                api_groups,
                resources,
                resource_names,
                non_resource_urls: Vec::new(),
            })
    }

    proptest! {
        /// `*` in every field allows every resource request.
        #[test]
        fn star_allows_everything(verb in "[a-z]{1,5}", group in "[a-z.]{0,5}", resource in "[a-z]{1,5}", sub in "[a-z]{0,3}", name in "[a-z]{0,3}") {
            let r = PolicyRule::resource(&["*"], &["*"], &["*"]);
            let a = res(&verb, &group, &if sub.is_empty() { resource.clone() } else { format!("{resource}/{sub}") }, &name);
            prop_assert!(rule_allows(&a, &r));
        }

        /// A rule allows exactly what the literal definition says.
        #[test]
        fn matches_definition(r in rule(), verb in "[a-c*]{1,2}", group in "[a-c]{0,2}", resource in "[a-c]{1,2}", sub in "[a-c]{0,2}", name in "[a-c]{0,2}") {
            let combined = if sub.is_empty() { resource.clone() } else { format!("{resource}/{sub}") };
            let a = res(&verb, &group, &combined, &name);
            let expected = r.verbs.iter().any(|v| v == "*" || *v == verb)
                && r.api_groups.iter().any(|g| g == "*" || *g == group)
                && r.resources.iter().any(|x| x == "*" || *x == combined || (!sub.is_empty() && *x == format!("*/{sub}")))
                && (r.resource_names.is_empty() || r.resource_names.contains(&name));
            prop_assert_eq!(rule_allows(&a, &r), expected);
        }

        /// A rule covers itself; and whatever an owner covers, the owner allows.
        #[test]
        fn covers_is_sound(owner in rule(), servant in rule(), verb in "[a-c]{1,2}", group in "[a-c]{0,2}", resource in "[a-c]{1,2}", sub in "[a-c]{0,2}", name in "[a-c]{1,2}") {
            prop_assert!(covers(std::slice::from_ref(&owner), std::slice::from_ref(&owner)).0);
            if covers(std::slice::from_ref(&owner), std::slice::from_ref(&servant)).0 {
                let combined = if sub.is_empty() { resource.clone() } else { format!("{resource}/{sub}") };
                let a = res(&verb, &group, &combined, &name);
                if rule_allows(&a, &servant) {
                    prop_assert!(rule_allows(&a, &owner));
                }
            }
        }

        /// URL patterns: a trailing `*` is a prefix match of the trimmed pattern.
        #[test]
        fn url_prefix(prefix in "/[a-z/]{0,6}", rest in "[a-z/]{0,6}") {
            let pattern = format!("{prefix}*");
            let path = format!("{prefix}{rest}");
            prop_assert!(url_pattern_matches(&pattern, &path));
            prop_assert!(url_pattern_matches(&path, &path));
        }
    }
}
