//! "Does profile P allow PERM on PATH?": the file rules that match, deny precedence, owner
//! conditions, rule priorities, the profile mode; and which rule decided.

use crate::aare::Aare;
use crate::ast::{Access, FilePerms, Mode, Policy, Profile, Rule, RuleKind};

/// The answer to a file query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the access happens.
    pub allowed: bool,
    /// Whether it is logged (audit rule, deny rule, complain mode, or denied by default).
    pub logged: bool,
    /// Why, in words.
    pub reason: String,
    /// Index of the deciding rule in `profile.rules`, when one decided.
    pub rule: Option<usize>,
}

/// Finds a profile by name: `name`, `parent//child` (hats and child profiles), or the
/// attachment matching an executable path. `None` with one profile picks it.
#[must_use]
pub fn find_profile<'a>(policy: &'a Policy, name: Option<&str>) -> Option<&'a Profile> {
    let Some(name) = name else {
        return if policy.profiles.len() == 1 { policy.profiles.first() } else { None };
    };
    let mut parts = name.split("//");
    let first = parts.next()?;
    let mut cur = policy.profiles.iter().find(|p| p.display_name() == first || p.name == first).or_else(|| {
        policy
            .profiles
            .iter()
            .find(|p| p.attachment.as_deref().is_some_and(|a| Aare::compile(a).is_ok_and(|re| re.matches(first))))
    })?;
    for part in parts {
        cur = cur.children.iter().find(|c| c.name == part)?;
    }
    Some(cur)
}

fn grants(perms: &FilePerms, perm: char) -> bool {
    perms.has(perm)
}

/// Decides `perm` (one of `r w a l k m x`) on `path` for `profile`. `owner`: whether the task's
/// fsuid owns the file (rules marked `owner` apply only then).
#[must_use]
pub fn decide(profile: &Profile, path: &str, perm: char, owner: bool) -> Decision {
    if profile.mode == Mode::Unconfined {
        return Decision {
            allowed: true,
            logged: false,
            reason: "the profile is in unconfined mode".into(),
            rule: None,
        };
    }
    // (index, rule, is deny)
    let mut hits: Vec<(usize, &Rule, bool)> = Vec::new();
    for (i, r) in profile.rules.iter().enumerate() {
        if r.q.owner && !owner {
            continue;
        }
        let deny = r.q.access == Access::Deny;
        match &r.kind {
            RuleKind::File { path: Some(pat), perms, .. }
                if grants(perms, perm) && Aare::compile(pat).is_ok_and(|a| a.matches(path)) =>
            {
                hits.push((i, r, deny));
            }
            RuleKind::File { path: None, .. } | RuleKind::All => hits.push((i, r, deny)),
            RuleKind::Link { from, .. } if perm == 'l' && Aare::compile(from).is_ok_and(|a| a.matches(path)) => {
                hits.push((i, r, deny));
            }
            _ => {}
        }
    }
    let top = hits.iter().map(|(_, r, _)| r.q.priority.unwrap_or(0)).max();
    let hits: Vec<&(usize, &Rule, bool)> =
        hits.iter().filter(|(_, r, _)| Some(r.q.priority.unwrap_or(0)) == top).collect();
    if let Some((i, r, _)) = hits.iter().find(|(_, _, deny)| *deny) {
        // Explicit deny rules are enforced in complain mode too, and quiet unless `audit deny`.
        return Decision {
            allowed: false,
            logged: r.q.audit,
            reason: format!(
                "denied by a deny rule (deny rules win over allow rules){}",
                if r.q.audit { ", audited" } else { ", not logged (deny rules are quiet unless audit)" }
            ),
            rule: Some(*i),
        };
    }
    if let Some((i, r, _)) = hits.first() {
        return Decision {
            allowed: true,
            logged: r.q.audit,
            reason: format!("allowed by a rule{}", if r.q.audit { ", audited" } else { "" }),
            rule: Some(*i),
        };
    }
    match profile.mode {
        Mode::Complain => Decision {
            allowed: true,
            logged: true,
            reason: "no rule allows it; the profile is in complain mode, so it is allowed and logged".into(),
            rule: None,
        },
        Mode::DefaultAllow => Decision {
            allowed: true,
            logged: false,
            reason: "no rule matches; the profile is default_allow".into(),
            rule: None,
        },
        _ => Decision {
            allowed: false,
            logged: true,
            reason: "no rule allows it (denied by default)".into(),
            rule: None,
        },
    }
}
