//! Rule selection, ruff-style: which rules run (`--select`, `--ignore`, opt-in rules) and which
//! findings an object's `kguard.io/ignore` annotation suppresses.
//!
//! A selector matches a rule when it equals (case-insensitively) the rule's id, its name, one of
//! its aliases (other tools' ids), or its family (`pss`), or is a prefix of its id (`PSS0`).
//! `ALL` selects every rule. Which selectors name a known rule is the registry's business
//! (`kguard_scan::rules`), since only it knows every rule.

use crate::RuleMeta;

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

/// Which rules run: `select` (empty = every rule but the opt-in ones, [`RuleMeta::opt_in`]) minus
/// `ignore`.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Selectors to include (empty: every rule that is not opt-in).
    pub select: Vec<String>,
    /// Selectors to exclude.
    pub ignore: Vec<String>,
}

impl Selection {
    /// Whether the rule is enabled.
    #[must_use]
    pub fn enabled(&self, rule: &RuleMeta) -> bool {
        let selected = if self.select.is_empty() { !rule.opt_in } else { self.select.iter().any(|s| matches(s, rule)) };
        selected && !self.ignore.iter().any(|s| matches(s, rule))
    }

    /// Every selector, `select` then `ignore`.
    pub fn selectors(&self) -> impl Iterator<Item = &str> {
        self.select.iter().chain(&self.ignore).map(String::as_str)
    }
}

/// The annotation that suppresses rules on an object or pod template in `kguard scan`: a
/// comma-separated list of selectors (ids, names, aliases, families). `kguard serve` never reads
/// it: there, exemptions come from the operator's configuration only.
pub const IGNORE_ANNOTATION: &str = "kguard.io/ignore";

/// Whether an annotation value (`"PSS001, privileged"`) suppresses `rule`.
#[must_use]
pub fn suppressed_by(annotation_value: &str, rule: &RuleMeta) -> bool {
    annotation_value.split(',').map(str::trim).filter(|s| !s.is_empty()).any(|s| matches(s, rule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

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
        opt_in: false,
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

    #[test]
    fn opt_in_rules_run_only_when_selected() {
        let rule = RuleMeta { opt_in: true, ..RULE };
        assert!(!Selection::default().enabled(&rule));
        assert!(Selection { select: vec!["pss".into()], ignore: vec![] }.enabled(&rule));
        assert!(Selection { select: vec!["ALL".into()], ignore: vec![] }.enabled(&rule));
    }
}
