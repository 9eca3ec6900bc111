//! The rule registry: every rule kguard knows, and rule selection (`--select`/`--ignore`,
//! suppression annotations), ruff-style.
//!
//! A selector matches a rule when it equals (case-insensitively) the rule's id, its name, one of
//! its aliases (other tools' ids), or its family (`pss`), or is a prefix of its id (`PSS0`).
//! `ALL` selects every rule.

use kguard_report::RuleMeta;

/// Every rule family's definitions, in display order.
fn families() -> [&'static [RuleMeta]; 7] {
    [
        crate::podsec::RULES,
        crate::checks::RULES,
        crate::credentials::RULES,
        crate::netpol::RULES,
        crate::authz::RULES,
        crate::audit::RULES,
        crate::authn::pki::RULES,
    ]
}

/// Every rule, in display order.
pub fn all() -> impl Iterator<Item = &'static RuleMeta> {
    families().into_iter().flatten()
}

/// Finds a rule by id, name or alias (case-insensitive).
#[must_use]
pub fn find(name: &str) -> Option<&'static RuleMeta> {
    all().find(|r| {
        r.id.eq_ignore_ascii_case(name)
            || r.name.eq_ignore_ascii_case(name)
            || r.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Whether `selector` designates `rule` (id, name, alias, family, id prefix, or `ALL`).
#[must_use]
pub fn matches(selector: &str, rule: &RuleMeta) -> bool {
    let s = selector.trim();
    s.eq_ignore_ascii_case("all")
        || rule.id.eq_ignore_ascii_case(s)
        || rule.name.eq_ignore_ascii_case(s)
        || rule.family.eq_ignore_ascii_case(s)
        || rule.aliases.iter().any(|a| a.eq_ignore_ascii_case(s))
        || (s.len() >= 2
            && rule.id.len() > s.len()
            && rule.id.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s))
            && s.chars().any(|c| c.is_ascii_digit()))
}

/// Whether a selector designates at least one known rule.
#[must_use]
pub fn is_known_selector(selector: &str) -> bool {
    all().any(|r| matches(selector, r))
}

/// Rules that run only when selected explicitly (by id, name, alias, family or `ALL`): they fire
/// on nearly every workload and would drown the rest.
/// KG015: no AppArmor profile (most clusters rely on the runtime default);
/// KG038: `hostUsers` not false (user namespaces are new, needing kernel and runtime support).
pub const OPT_IN: &[&str] = &["KG015", "KG038"];

/// Which rules run: `select` (empty = every rule but the [`OPT_IN`] ones) minus `ignore`.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Selectors to include (empty: every rule).
    pub select: Vec<String>,
    /// Selectors to exclude.
    pub ignore: Vec<String>,
}

impl Selection {
    /// Whether the rule with this id is enabled.
    #[must_use]
    pub fn enabled(&self, rule: &RuleMeta) -> bool {
        let selected = if self.select.is_empty() {
            !OPT_IN.contains(&rule.id)
        } else {
            self.select.iter().any(|s| matches(s, rule))
        };
        selected && !self.ignore.iter().any(|s| matches(s, rule))
    }

    /// Selectors (in `select` or `ignore`) that name no rule.
    #[must_use]
    pub fn unknown(&self) -> Vec<&str> {
        self.select.iter().chain(&self.ignore).map(String::as_str).filter(|s| !is_known_selector(s)).collect()
    }
}

/// The annotation that suppresses rules on an object or pod template: a comma-separated list of
/// selectors (ids, names, aliases, families).
pub const IGNORE_ANNOTATION: &str = "kguard.io/ignore";

/// Whether an annotation value (`"PSS001, privileged"`) suppresses `rule`.
#[must_use]
pub fn suppressed_by(annotation_value: &str, rule: &RuleMeta) -> bool {
    annotation_value.split(',').map(str::trim).filter(|s| !s.is_empty()).any(|s| matches(s, rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kguard_report::Severity;

    const RULE: RuleMeta = RuleMeta {
        id: "PSS003",
        name: "privileged",
        family: "pss",
        severity: Severity::High,
        title: "t",
        what: "w",
        why: "y",
        fix: "f",
        references: &[],
        aliases: &["KSV017", "CKV_K8S_16"],
    };

    #[test]
    fn selectors() {
        for s in ["PSS003", "pss003", "privileged", "PSS", "pss", "PSS0", "ksv017", "ALL", " CKV_K8S_16 "] {
            assert!(matches(s, &RULE), "{s} should match");
        }
        for s in ["PSS004", "KSV", "P", "priv", "PS", "runAsUser"] {
            assert!(!matches(s, &RULE), "{s} should not match");
        }
    }

    #[test]
    fn selection_and_suppression() {
        let sel = Selection { select: vec!["pss".into()], ignore: vec!["privileged".into()] };
        assert!(!sel.enabled(&RULE));
        let sel = Selection { select: vec![], ignore: vec![] };
        assert!(sel.enabled(&RULE));
        assert!(suppressed_by("PSS001, privileged", &RULE));
        assert!(suppressed_by("KSV017", &RULE));
        assert!(!suppressed_by("PSS001,,", &RULE));
    }
}
