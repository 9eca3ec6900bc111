//! One finding per problem: rules that report the same problem at the same field, and how their
//! findings are merged into one.
//!
//! Several rules can judge one field: a Pod Security check and the hardening rule of that field
//! (`privileged` and KG001), or a general rule and a specific one (KG024 any hostPath, KG025 a
//! sensitive one). Two findings are about **the same problem** when
//!
//! 1. they are about the same object (same reference, same file);
//! 2. their rules are the same rule, are declared overlapping here ([`OVERLAPS`]), or share an
//!    alias (another tool's id);
//! 3. their fields overlap: a pointer of one equals a pointer of the other or is an ancestor of it
//!    (`…/hostPath` and `…/hostPath/path`). A Pod Security finding's fields are every field its
//!    check names ([`Extent`]), not only the first one its pointer shows;
//! 4. they are about the same container, or one of them is about none (a pod-level field), or
//!    one of them spans several containers (a Pod Security check).
//!
//! [`merge`] keeps one finding per problem (`kguard scan` runs it after selection and
//! suppression, so a suppressed or unselected rule neither reports nor absorbs anything):
//!
//! * **general and specific** ([`OVERLAPS`] lists pairs as general → specific): a Pod Security
//!   check is general to the hardening rules of its fields, KG024 (hostPath) to KG025 (sensitive
//!   hostPath), KG041 (wildcard) and KG044–KG047 (dangerous permissions) to KG048 (a rule granting
//!   everything). When the specific findings cover every field of a general one, the specific
//!   ones are kept (one per field, each container its own) and the general one is dropped; when
//!   they do not (the check names a field no specific rule reports, e.g. `runAsNonRoot` unset on
//!   a container whose `runAsUser` is non-zero, which KG007 accepts and Pod Security does not),
//!   the general one is kept, naming every field, and the specific ones it covers are dropped;
//! * the survivor lists the ids of the findings merged into it ([`Finding::merged`]) and takes
//!   the highest severity among them.
//!
//! Retired rule ids are not overlaps: they are aliases of the rule that replaced them
//! ([`crate::rules::RETIRED`]).

use std::collections::HashMap;
use std::sync::Arc;

use kguard_model::ObjectRef;
use kguard_report::Finding;

/// Rules declared to report the same problem where their fields overlap: `(general, specific)`.
/// Each pair is documented in `docs/rules.md` (one finding per problem).
pub const OVERLAPS: &[(&str, &[&str])] = &[
    // Pod Security checks (general: one finding per check, naming every field) and the hardening
    // rules of the same fields (specific: one finding per field).
    ("PSS001", &["KG016"]),
    ("PSS002", &["KG004", "KG005", "KG053", "KG054", "KG055"]),
    ("PSS003", &["KG020", "KG021", "KG022"]),
    ("PSS004", &["KG024", "KG025", "KG050"]),
    ("PSS005", &["KG023"]),
    ("PSS007", &["KG001"]),
    ("PSS008", &["KG018"]),
    ("PSS009", &["KG017"]),
    ("PSS010", &["KG014"]),
    ("PSS011", &["KG019"]),
    ("PSS012", &["KG037"]),
    ("PSS013", &["KG002", "KG003"]),
    ("PSS014", &["KG004", "KG005", "KG006", "KG049", "KG053", "KG054", "KG055"]),
    ("PSS015", &["KG018"]),
    ("PSS016", &["KG024", "KG025", "KG050", "KG060"]),
    ("PSS017", &["KG007", "KG052"]),
    ("PSS018", &["KG008"]),
    ("PSS019", &["KG013", "KG014"]),
    // Hardening rules: a general rule and a specific one on the same field.
    ("KG024", &["KG025", "KG050"]),
    ("KG025", &["KG050"]),
    // A peer's narrow check (general here) and the kguard rule whose finding carries it where both
    // report the same field: the finding is reported as the kguard rule.
    ("KG049", &["KG006"]),
    ("KG051", &["KG008", "KG010"]),
    ("KG052", &["KG007"]),
    ("KG053", &["KG004"]),
    ("KG054", &["KG004"]),
    ("KG055", &["KG004"]),
    ("KG041", &["KG048"]),
    ("KG044", &["KG048"]),
    ("KG045", &["KG048"]),
    ("KG046", &["KG048"]),
    ("KG047", &["KG048"]),
    ("KG063", &["KG062"]),
    ("KG067", &["KG024", "KG025"]),
    ("KG078", &["KG041", "KG048"]),
    ("KG079", &["KG044"]),
    ("KG069", &["RBAC014"]),
    ("KG080", &["KG040"]),
];

/// Whether `general` is declared general to `specific`.
#[must_use]
pub fn is_general_to(general: &str, specific: &str) -> bool {
    OVERLAPS.iter().any(|(g, s)| *g == general && s.contains(&specific))
}

/// Whether two rules may report the same problem (condition 2 of the module documentation): the
/// same rule, a declared overlap in either direction, or a shared alias.
#[must_use]
pub fn same_problem_rules(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) || is_general_to(a, b) || is_general_to(b, a) {
        return true;
    }
    let (Some(ra), Some(rb)) = (crate::rules::find(a), crate::rules::find(b)) else { return false };
    ra.id != rb.id && ra.aliases.iter().any(|x| rb.aliases.iter().any(|y| x.eq_ignore_ascii_case(y)))
}

/// Every field a finding is about, and its containers: for a Pod Security finding, all the
/// fields and containers its check names; for the others, the finding's own pointer and
/// container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    /// JSON pointers, relative to the object.
    pub pointers: Vec<Arc<str>>,
    /// Container names (empty: a pod-level or object-level finding).
    pub containers: Vec<Arc<str>>,
}

impl Extent {
    /// The extent of a finding on its own (its pointer and container).
    #[must_use]
    pub fn of(f: &Finding) -> Self {
        Self { pointers: f.pointer.iter().cloned().collect(), containers: f.container.iter().cloned().collect() }
    }

    /// Whether some field of `self` overlaps some field of `other` (equal, or one an ancestor of
    /// the other).
    #[must_use]
    pub fn fields_overlap(&self, other: &Self) -> bool {
        self.pointers.iter().any(|p| other.pointers.iter().any(|q| pointers_overlap(p, q)))
    }

    /// Whether the two are about compatible containers (condition 4): one is about none, one spans
    /// several, or they share one.
    #[must_use]
    pub fn containers_compatible(&self, other: &Self) -> bool {
        self.containers.is_empty()
            || other.containers.is_empty()
            || self.containers.len() > 1
            || other.containers.len() > 1
            || self.containers.iter().any(|c| other.containers.contains(c))
    }
}

/// Whether two JSON pointers name the same field or one contains the other.
#[must_use]
pub fn pointers_overlap(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.strip_prefix(short).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The key of a finding's extent: its object, rule and pointer.
pub type ExtentKey = (ObjectRef, String, Option<Arc<str>>);

/// The key under which [`merge`] looks up a finding's extent.
#[must_use]
pub fn extent_key(f: &Finding) -> Option<ExtentKey> {
    Some((f.object.as_deref()?.clone(), f.rule_id.clone(), f.pointer.clone()))
}

/// Keeps one finding per problem (see the module documentation). `extents` gives the fields of
/// the findings that name more than their pointer (Pod Security checks), by [`extent_key`];
/// the others are their own pointer and container. The order of the survivors is the input's.
#[must_use]
pub fn merge(findings: Vec<Finding>, extents: &HashMap<ExtentKey, Extent>) -> Vec<Finding> {
    // Only objects with findings of rules in some declared overlap can have anything to merge.
    let mut by_object: HashMap<(&ObjectRef, Option<&str>), Vec<usize>> = HashMap::new();
    for (i, f) in findings.iter().enumerate() {
        if let Some(obj) = f.object.as_deref()
            && OVERLAPS.iter().any(|(g, s)| *g == f.rule_id || s.contains(&f.rule_id.as_str()))
        {
            let file = f.location.as_ref().map(|l| &*l.file);
            by_object.entry((obj, file)).or_default().push(i);
        }
    }
    let mut groups: Vec<Vec<usize>> = by_object.into_values().filter(|v| v.len() > 1).collect();
    groups.sort_unstable();
    if groups.is_empty() {
        return findings;
    }
    let mut alive = vec![true; findings.len()];
    let mut absorbed: Vec<Vec<usize>> = vec![Vec::new(); findings.len()];
    for group in &groups {
        merge_object(&findings, group, extents, &mut alive, &mut absorbed);
    }
    let merged_ids: Vec<Vec<&'static str>> = absorbed
        .iter()
        .map(|from| {
            let mut ids: Vec<&'static str> = Vec::new();
            for &j in from {
                if let Some(id) = findings.get(j).and_then(|f| crate::rules::find(&f.rule_id)).map(|r| r.id)
                    && !ids.contains(&id)
                {
                    ids.push(id);
                }
            }
            ids
        })
        .collect();
    let severities: Vec<_> =
        absorbed.iter().map(|from| from.iter().filter_map(|&j| findings.get(j)).map(|f| f.severity).max()).collect();
    findings
        .into_iter()
        .zip(alive)
        .zip(merged_ids.into_iter().zip(severities))
        .filter_map(|((mut f, keep), (ids, severity))| {
            if !keep {
                return None;
            }
            for id in ids {
                if id != f.rule_id && !f.merged.contains(&id) {
                    f.merged.push(id);
                }
            }
            if let Some(s) = severity {
                f.severity = f.severity.max(s);
            }
            Some(f)
        })
        .collect()
}

/// Merges the findings `group` (indices into `findings`, all about one object).
fn merge_object(
    findings: &[Finding],
    group: &[usize],
    extents: &HashMap<ExtentKey, Extent>,
    alive: &mut [bool],
    absorbed: &mut [Vec<usize>],
) {
    let rule = |i: usize| findings.get(i).map_or("", |f| f.rule_id.as_str());
    let ext: HashMap<usize, Extent> = group
        .iter()
        .filter_map(|&i| {
            let f = findings.get(i)?;
            Some((i, extent_key(f).and_then(|k| extents.get(&k).cloned()).unwrap_or_else(|| Extent::of(f))))
        })
        .collect();
    let empty = Extent::default();
    let ext = |i: usize| ext.get(&i).unwrap_or(&empty);
    let is_alive = |alive: &[bool], i: usize| alive.get(i).copied().unwrap_or(false);
    // Hardening generals first, Pod Security checks last, so that a chain (PSS004 → KG024 →
    // KG025) merges the hardening pair before the check looks at it.
    let mut generals: Vec<usize> =
        group.iter().copied().filter(|&i| OVERLAPS.iter().any(|(g, _)| *g == rule(i))).collect();
    generals.sort_by_key(|&i| (rule(i).starts_with("PSS"), i));
    for g in generals {
        if !is_alive(alive, g) {
            continue;
        }
        let ge = ext(g);
        let covering: Vec<usize> = group
            .iter()
            .copied()
            .filter(|&s| {
                s != g
                    && is_alive(alive, s)
                    && is_general_to(rule(g), rule(s))
                    && ge.fields_overlap(ext(s))
                    && ge.containers_compatible(ext(s))
            })
            .collect();
        if covering.is_empty() {
            continue;
        }
        let covered = ge
            .pointers
            .iter()
            .all(|p| covering.iter().any(|&s| ext(s).pointers.iter().any(|q| pointers_overlap(p, q))));
        let (dropped, kept): (Vec<usize>, Vec<usize>) = if covered { (vec![g], covering) } else { (covering, vec![g]) };
        let mut carried = Vec::new();
        for &d in &dropped {
            if let Some(a) = alive.get_mut(d) {
                *a = false;
            }
            carried.push(d);
            carried.extend(absorbed.get_mut(d).map(std::mem::take).unwrap_or_default());
        }
        for &k in &kept {
            if let Some(into) = absorbed.get_mut(k) {
                into.extend(carried.iter().copied());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kguard_report::Severity;

    fn f(rule: &str, pointer: &str, container: Option<&str>) -> Finding {
        let meta = crate::rules::find(rule).unwrap();
        let obj =
            ObjectRef { api_version: "v1".into(), kind: "Pod".into(), namespace: Some("ns".into()), name: "p".into() };
        Finding::new(meta, format!("{rule} at {pointer}"), Some(obj), Some(pointer.to_owned()), None)
            .in_container(container.map(str::to_owned))
    }

    fn ids(v: &[Finding]) -> Vec<(String, Vec<&'static str>)> {
        v.iter().map(|f| (f.rule_id.clone(), f.merged.clone())).collect()
    }

    fn extent_of(f: &Finding, pointers: &[&str], containers: &[&str]) -> (ExtentKey, Extent) {
        (
            extent_key(f).unwrap(),
            Extent {
                pointers: pointers.iter().map(|p| Arc::from(*p)).collect(),
                containers: containers.iter().map(|c| Arc::from(*c)).collect(),
            },
        )
    }

    #[test]
    fn pointers() {
        assert!(pointers_overlap("/spec/volumes/0/hostPath", "/spec/volumes/0/hostPath/path"));
        assert!(pointers_overlap("/a/b", "/a/b"));
        assert!(!pointers_overlap("/spec/volumes/1", "/spec/volumes/10"));
        assert!(!pointers_overlap("/spec/containers/0/ports/0/hostPort", "/spec/containers/0/ports/1/hostPort"));
    }

    #[test]
    fn rules_that_may_report_the_same_problem() {
        assert!(same_problem_rules("PSS007", "KG001") && same_problem_rules("KG001", "PSS007"));
        assert!(same_problem_rules("KG002", "KG003"), "they share KSV001");
        assert!(same_problem_rules("KG030", "KG030"));
        assert!(!same_problem_rules("KG030", "KG031"), "a `latest` tag and a missing digest are two problems");
        assert!(!same_problem_rules("PSS007", "KG002"));
    }

    #[test]
    fn specific_findings_covering_every_field_survive() {
        let c0 = "/spec/containers/0/securityContext/allowPrivilegeEscalation";
        let c1 = "/spec/containers/1/securityContext/allowPrivilegeEscalation";
        let mut pss = f("PSS013", c0, Some("a"));
        pss.severity = Severity::Critical; // stands for a higher severity carried over
        let extents: HashMap<_, _> = [extent_of(&pss, &[c0, c1], &["a", "b"])].into_iter().collect();
        let out = merge(vec![pss, f("KG002", c0, Some("a")), f("KG003", c1, Some("b"))], &extents);
        assert_eq!(ids(&out), [("KG002".into(), vec!["PSS013"]), ("KG003".into(), vec!["PSS013"])]);
        assert!(out.iter().all(|f| f.severity == Severity::Critical));
    }

    #[test]
    fn a_general_finding_naming_more_fields_survives() {
        // KG007 accepts container b (non-zero runAsUser); Pod Security does not.
        let a = "/spec/containers/0/securityContext/runAsNonRoot";
        let b = "/spec/containers/1/securityContext/runAsNonRoot";
        let pss = f("PSS017", a, Some("a"));
        let extents: HashMap<_, _> = [extent_of(&pss, &[a, b], &["a", "b"])].into_iter().collect();
        let out = merge(vec![f("KG007", a, Some("a")), pss, f("KG012", a, Some("a"))], &extents);
        assert_eq!(ids(&out), [("PSS017".into(), vec!["KG007"]), ("KG012".into(), vec![])]);
    }

    #[test]
    fn chains_and_containers() {
        // PSS004 → KG024 → KG025 on one volume: one finding, the most specific.
        let v = "/spec/volumes/0/hostPath";
        let out = merge(
            vec![f("PSS004", v, None), f("KG024", &format!("{v}/path"), None), f("KG025", &format!("{v}/path"), None)],
            &HashMap::new(),
        );
        assert_eq!(ids(&out), [("KG025".into(), vec!["KG024", "PSS004"])]);
        // The same rule for two containers on a pod-level field: two problems.
        let p = "/spec/securityContext/runAsNonRoot";
        let out = merge(vec![f("KG007", p, Some("a")), f("KG007", p, Some("b"))], &HashMap::new());
        assert_eq!(out.len(), 2);
        // A hardening rule on another volume is not merged.
        let out = merge(vec![f("PSS004", v, None), f("KG024", "/spec/volumes/1/hostPath/path", None)], &HashMap::new());
        assert_eq!(ids(&out), [("PSS004".into(), vec![]), ("KG024".into(), vec![])]);
    }
}
