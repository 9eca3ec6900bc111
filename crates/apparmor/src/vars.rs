//! `@{VAR}` expansion: a variable with one value is replaced by it, one with several by the
//! alternation `{a,b}`; values may name other variables. Depth and size are bounded, so a
//! short file cannot describe an exponential expansion.

use std::collections::BTreeMap;

use crate::aare::MAX_PATTERN;
use crate::ast::{Cond, Policy, Profile, RuleKind};
use crate::error::Error;

/// Deepest chain of variables naming variables.
pub const MAX_VAR_DEPTH: usize = 32;

/// Expands `@{…}` in `text`. `builtins` come first (`profile_name`, `attach_path`).
///
/// # Errors
/// An undefined variable, a loop, or an expansion beyond the bounds.
pub fn expand(text: &str, vars: &BTreeMap<String, Vec<String>>, builtins: &[(&str, &str)]) -> Result<String, String> {
    expand_depth(text, vars, builtins, 0)
}

fn expand_depth(
    text: &str,
    vars: &BTreeMap<String, Vec<String>>,
    builtins: &[(&str, &str)],
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_VAR_DEPTH {
        return Err(format!("variables nested deeper than {MAX_VAR_DEPTH} (a loop?)"));
    }
    if !text.contains("@{") {
        return Ok(text.to_owned());
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("@{") {
        // an escaped '@' stays literal
        if i > 0 && rest.get(i - 1..i) == Some("\\") {
            out.push_str(rest.get(..i + 2).unwrap_or_default());
            rest = rest.get(i + 2..).unwrap_or_default();
            continue;
        }
        out.push_str(rest.get(..i).unwrap_or_default());
        let after = rest.get(i + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else { return Err(format!("unterminated variable reference in '{text}'")) };
        let name = after.get(..end).unwrap_or_default();
        if name.contains(',') {
            // `@{a,b}` is an alternation after a literal '@', not a variable
            out.push_str("@{");
            rest = after;
            continue;
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid variable name '@{{{name}}}'"));
        }
        let values: Vec<String> = if let Some((_, v)) = builtins.iter().find(|(n, _)| *n == name) {
            vec![(*v).to_owned()]
        } else if let Some(vs) = vars.get(name) {
            vs.iter().map(|v| expand_depth(v, vars, builtins, depth + 1)).collect::<Result<_, _>>()?
        } else {
            return Err(format!("Found reference to variable {name}, but is never declared"));
        };
        match values.as_slice() {
            [one] => out.push_str(one),
            many => {
                out.push('{');
                out.push_str(&many.join(","));
                out.push('}');
            }
        }
        if out.len() > MAX_PATTERN {
            return Err(format!("variable expansion longer than {MAX_PATTERN} characters"));
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    if out.len() > MAX_PATTERN {
        return Err(format!("variable expansion longer than {MAX_PATTERN} characters"));
    }
    Ok(out)
}

/// Expands the variables of every rule of every profile.
///
/// # Errors
/// The first undefined variable or oversized expansion, at its rule.
pub fn expand_policy(policy: &mut Policy) -> Result<(), Error> {
    let vars = policy.variables.clone();
    for p in &mut policy.profiles {
        profile(p, &vars)?;
    }
    Ok(())
}

fn profile(p: &mut Profile, vars: &BTreeMap<String, Vec<String>>) -> Result<(), Error> {
    let name = p.name.clone();
    let attach = p.attachment.clone();
    let mut builtins: Vec<(&str, &str)> = vec![("profile_name", name.as_str())];
    if let Some(a) = &attach {
        builtins.push(("attach_path", a.as_str()));
        builtins.push(("exec_path", a.as_str()));
    }
    if let Some(a) = &mut p.attachment {
        *a = expand(a, vars, &[]).map_err(|m| Error { file: p.span.file.clone(), pos: p.span.pos, message: m })?;
    }
    for r in &mut p.rules {
        let e = |s: &mut String| -> Result<(), Error> {
            *s = expand(s, vars, &builtins).map_err(|m| Error {
                file: r.span.file.clone(),
                pos: r.span.pos,
                message: m,
            })?;
            Ok(())
        };
        let conds = |cs: &mut Vec<Cond>| -> Result<(), Error> {
            for c in cs {
                for v in c.values.iter_mut() {
                    *v = expand(v, vars, &builtins).map_err(|m| Error {
                        file: r.span.file.clone(),
                        pos: r.span.pos,
                        message: m,
                    })?;
                }
                for n in &mut c.nested {
                    for v in n.values.iter_mut() {
                        *v = expand(v, vars, &builtins).map_err(|m| Error {
                            file: r.span.file.clone(),
                            pos: r.span.pos,
                            message: m,
                        })?;
                    }
                }
            }
            Ok(())
        };
        match &mut r.kind {
            RuleKind::File { path, target, .. } => {
                if let Some(x) = path {
                    e(x)?;
                }
                if let Some(x) = target {
                    e(x)?;
                }
            }
            RuleKind::Link { from, to, .. } => {
                e(from)?;
                e(to)?;
            }
            RuleKind::Mount { conds: cs, source, target, .. } => {
                conds(cs)?;
                if let Some(x) = source {
                    e(x)?;
                }
                if let Some(x) = target {
                    e(x)?;
                }
            }
            RuleKind::Mediated { conds: cs, name, .. } => {
                conds(cs)?;
                if let Some(x) = name {
                    e(x)?;
                }
            }
            RuleKind::Network { conds: cs, .. } => conds(cs)?,
            RuleKind::ChangeProfile { exec, target, .. } => {
                if let Some(x) = exec {
                    e(x)?;
                }
                if let Some(x) = target {
                    e(x)?;
                }
            }
            RuleKind::Capability(_) | RuleKind::Rlimit { .. } | RuleKind::All => {}
        }
    }
    for c in &mut p.children {
        profile(c, vars)?;
    }
    Ok(())
}
