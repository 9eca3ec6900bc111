//! The rule registry: every rule kguard knows, for `kguard rules`, `kguard explain` and selector
//! validation. Selection itself ([`Selection`], annotations) is [`kguard_report::select`].

use kguard_report::RuleMeta;
use kguard_report::select::{Selection, matches};

/// Every rule family's definitions, in display order.
fn families() -> [&'static [RuleMeta]; 12] {
    [
        kguard_podsec::RULES,
        kguard_hardening::RULES,
        kguard_credentials::RULES,
        kguard_netpol::RULES,
        kguard_authz::RULES,
        kguard_audit::RULES,
        kguard_authn::pki::RULES,
        kguard_seccomp::RULES,
        kguard_apparmor::RULES,
        kguard_node::RULES,
        kguard_mesh::RULES,
        kguard_dockerfile::RULES,
    ]
}

/// Every rule, in display order.
pub fn all() -> impl Iterator<Item = &'static RuleMeta> {
    families().into_iter().flatten()
}

/// Finds a rule by id, name or alias (case-insensitive).
///
/// A rule's exact id (what every finding carries, several times per finding in a scan) is looked up
/// in an index made once; the index holds, for each id, what the search in display order finds,
/// so both ways answer the same.
#[must_use]
pub fn find(name: &str) -> Option<&'static RuleMeta> {
    static BY_ID: std::sync::LazyLock<std::collections::HashMap<&'static str, Option<&'static RuleMeta>>> =
        std::sync::LazyLock::new(|| all().map(|r| (r.id, search(r.id))).collect());
    match BY_ID.get(name) {
        Some(found) => *found,
        None => search(name),
    }
}

/// [`find`] without the index: the first rule in display order whose id, name or alias is `name`.
fn search(name: &str) -> Option<&'static RuleMeta> {
    all().find(|r| {
        r.id.eq_ignore_ascii_case(name)
            || r.name.eq_ignore_ascii_case(name)
            || r.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// A rule id no longer reported: its findings are another rule's, which lists the old id (and
/// the old name) among its aliases, so `--select`, `--ignore`, `kguard.io/ignore` and
/// `kguard explain` still accept it and mean the survivor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retired {
    /// The old id.
    pub id: &'static str,
    /// The old name.
    pub name: &'static str,
    /// The rule that reports the same problem now.
    pub now: &'static str,
    /// Why.
    pub why: &'static str,
}

/// Every retired rule id.
pub const RETIRED: &[Retired] = &[
    Retired {
        id: "RBAC011",
        name: "wildcard-rule",
        now: "KG041",
        why: "KG041 and RBAC011 reported the same wildcard in the same Role rule twice; the rule is judged on the \
              Role alone (KG041, with KG048 for a rule granting everything)",
    },
    Retired {
        id: "RBAC012",
        name: "anonymous-binding",
        now: "KG039",
        why: "KG039 and RBAC012 reported the same anonymous subject of the same binding twice; the binding is \
              judged on its own (KG039)",
    },
];

/// The retired rule this id or name designates (case-insensitive).
#[must_use]
pub fn retired(name: &str) -> Option<&'static Retired> {
    let name = name.trim();
    RETIRED.iter().find(|r| r.id.eq_ignore_ascii_case(name) || r.name.eq_ignore_ascii_case(name))
}

/// Whether a selector designates at least one known rule.
#[must_use]
pub fn is_known_selector(selector: &str) -> bool {
    all().any(|r| matches(selector, r))
}

/// The selectors of a selection (in `select` or `ignore`) that name no rule.
#[must_use]
pub fn unknown_selectors(selection: &Selection) -> Vec<&str> {
    selection.selectors().filter(|s| !is_known_selector(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_opt_in_rules_are_the_documented_ones() {
        let mut ids: Vec<&str> = all().map(|r| r.id).collect();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule ids");
        let opt_in: Vec<&str> = all().filter(|r| r.opt_in).map(|r| r.id).collect();
        assert_eq!(
            opt_in,
            ["KG015", "KG038", "KG056", "KG057", "KG058", "KG061", "KG062", "KG063", "KG064", "KG065", "KG066"]
        );
    }

    #[test]
    fn retired_ids_point_to_their_survivor() {
        for r in RETIRED {
            assert!(all().all(|rule| rule.id != r.id && rule.name != r.name), "{} is still a rule", r.id);
            for old in [r.id, r.name, &r.id.to_lowercase()] {
                assert_eq!(find(old).map(|rule| rule.id), Some(r.now), "{old} must find {}", r.now);
                assert!(is_known_selector(old), "{old}");
                assert_eq!(retired(old), Some(r));
            }
            let survivor = find(r.now).unwrap();
            assert!(survivor.what.contains(r.id), "{}'s documentation must name {}", r.now, r.id);
        }
        assert!(retired("KG041").is_none());
        let sel = Selection { select: vec!["RBAC011".into()], ignore: vec![] };
        let enabled: Vec<&str> = all().filter(|r| sel.enabled(r)).map(|r| r.id).collect();
        assert_eq!(enabled, ["KG041"]);
    }

    #[test]
    fn the_index_finds_what_the_search_finds() {
        for r in all() {
            let names = [r.id, r.name].into_iter().chain(r.aliases.iter().copied());
            for name in names.flat_map(|n| [n.to_owned(), n.to_lowercase(), n.to_uppercase()]) {
                assert_eq!(find(&name).map(|x| x.id), search(&name).map(|x| x.id), "{name}");
            }
        }
        assert!(find("no-such-rule").is_none());
    }

    #[test]
    fn unknown_selectors_are_reported() {
        let sel = Selection { select: vec!["pss".into(), "nope".into()], ignore: vec!["KG0".into()] };
        assert_eq!(unknown_selectors(&sel), ["nope"]);
        assert!(find("ksv017").is_some());
    }
}
