//! The checks `apparmor_parser` makes on rules beyond the grammar: known names, conditions each
//! rule class accepts, address and port syntax, mount option sets, exec-transition conflicts.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::aare::{self, Aare};
use crate::ast::{Access, Cond, Policy, Profile, Qualifiers, RuleKind};
use crate::error::Error;
use crate::names;

fn perms_of(words: &mut Vec<String>, allowed: &[&str], class: &str) -> Result<Vec<String>, String> {
    let mut perms = Vec::new();
    let mut rest = Vec::new();
    let mut took = false;
    for w in words.drain(..) {
        if !took {
            if let Some(inner) = w.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
                for p in inner.split_whitespace() {
                    if !allowed.contains(&p) {
                        return Err(format!("invalid {class} permission '{p}'"));
                    }
                    perms.push(p.to_owned());
                }
                if perms.is_empty() {
                    return Err(format!("empty {class} permission list"));
                }
                took = true;
                continue;
            }
            if allowed.contains(&w.as_str()) {
                perms.push(w);
                took = true;
                continue;
            }
        }
        rest.push(w);
    }
    *words = rest;
    Ok(perms)
}

fn no_dup_conds(conds: &[Cond]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for c in conds {
        if !seen.insert(c.key.as_str()) {
            return Err(format!("'{}' given twice", c.key));
        }
        no_dup_conds(&c.nested)?;
    }
    Ok(())
}

/// `key:=value` (set, not match) exists only for a network rule's `label`.
fn no_set_operator(conds: &[Cond], network: bool) -> Result<(), String> {
    for c in conds.iter().chain(conds.iter().flat_map(|c| c.nested.iter())) {
        if c.set && !(network && c.key == "label") {
            return Err(format!("unsupported operator ':=' in the '{}' conditional", c.key));
        }
    }
    Ok(())
}

fn check_values_syntax(conds: &[Cond]) -> Result<(), String> {
    for c in conds {
        for v in &c.values {
            aare::check_syntax(v)?;
        }
        check_values_syntax(&c.nested)?;
    }
    Ok(())
}

fn ip_ok(s: &str) -> bool {
    if s == "none" {
        return true;
    }
    let one = |a: &str| -> Option<(bool, u128)> {
        if let Ok(v4) = a.parse::<Ipv4Addr>() {
            return Some((false, u128::from(u32::from(v4))));
        }
        a.parse::<Ipv6Addr>().ok().map(|v6| (true, u128::from(v6)))
    };
    if let Some((addr, bits)) = s.split_once('/') {
        let Some((v6, _)) = one(addr) else { return false };
        let Ok(n) = bits.parse::<u32>() else { return false };
        return bits.chars().all(|c| c.is_ascii_digit()) && n <= if v6 { 128 } else { 32 };
    }
    if let Some((a, b)) = s.split_once('-') {
        let (Some((fa, va)), Some((fb, vb))) = (one(a), one(b)) else { return false };
        return fa == fb && va <= vb;
    }
    one(s).is_some()
}

fn port_ok(s: &str) -> bool {
    let one = |p: &str| -> Option<u32> {
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        p.parse::<u32>().ok().filter(|n| *n <= 65535)
    };
    if let Some((a, b)) = s.split_once('-') {
        return matches!((one(a), one(b)), (Some(x), Some(y)) if x <= y);
    }
    one(s).is_some()
}

const NET_PERMS: &[&str] = &[
    "create", "bind", "listen", "accept", "connect", "shutdown", "getattr", "setattr", "getopt", "setopt", "send",
    "receive", "r", "w", "rw", "read", "write",
];
/// Socket permissions that concern no peer.
const LOCAL_ONLY: &[&str] = &["create", "bind", "listen", "shutdown", "getattr", "setattr", "getopt", "setopt"];

/// `network …` after the keyword.
pub fn network(mut words: Vec<String>, conds: Vec<Cond>) -> Result<RuleKind, String> {
    let perms = perms_of(&mut words, NET_PERMS, "network")?;
    let mut domain = None;
    let mut kind: Option<String> = None;
    let mut proto = false;
    for w in words {
        if domain.is_none() && kind.is_none() && names::DOMAINS.contains(&w.as_str()) && w != "local" {
            domain = Some(w);
        } else if kind.is_none() && names::SOCK_TYPES.contains(&w.as_str()) {
            kind = Some(w);
        } else if kind.is_none() && names::PROTOCOLS.contains(&w.as_str()) {
            kind = Some(w);
            proto = true;
        } else {
            return Err(format!("Invalid network entry '{w}'"));
        }
    }
    let _ = proto;
    no_dup_conds(&conds)?;
    no_set_operator(&conds, true)?;
    for c in &conds {
        match c.key.as_str() {
            "ip" | "port" | "interface" | "label" => {}
            "peer" if !c.nested.is_empty() => {
                for n in &c.nested {
                    if !matches!(n.key.as_str(), "ip" | "port" | "label") {
                        return Err(format!("invalid network peer condition '{}'", n.key));
                    }
                }
                if perms.iter().any(|p| LOCAL_ONLY.contains(&p.as_str())) {
                    return Err("peer conditions with a permission that has no peer".into());
                }
            }
            k => return Err(format!("invalid network condition '{k}'")),
        }
        for x in std::iter::once(c).chain(c.nested.iter()) {
            for v in &x.values {
                let ok = match x.key.as_str() {
                    "ip" => ip_ok(v),
                    "port" => port_ok(v),
                    _ => true,
                };
                if !ok {
                    return Err(format!("invalid {} value '{v}'", x.key));
                }
            }
            if x.values.len() > 1 {
                return Err(format!("{} takes one value", x.key));
            }
        }
    }
    if !conds.is_empty()
        && let Some(d) = &domain
        && d != "inet"
        && d != "inet6"
    {
        return Err(format!("ip/port conditions need family inet or inet6, not {d}"));
    }
    Ok(RuleKind::Network { perms, domain, kind, conds })
}

/// mount, remount, umount, pivot_root after the keyword.
pub fn mount(op: &str, words: Vec<String>, conds: Vec<Cond>) -> Result<RuleKind, String> {
    let op = if op == "unmount" { "umount" } else { op };
    no_set_operator(&conds, false)?;
    let mut source = None;
    let mut target = None;
    let mut arrow = false;
    for w in words {
        if w == "->" {
            if arrow {
                return Err("'->' given twice".into());
            }
            arrow = true;
        } else if w.starts_with('(') {
            return Err(format!("unexpected list {w} in {op} rule"));
        } else if arrow {
            if target.is_some() {
                return Err(format!("unexpected '{w}' in {op} rule"));
            }
            target = Some(w);
        } else if source.is_none() {
            source = Some(w);
        } else {
            return Err(format!("unexpected '{w}' in {op} rule"));
        }
    }
    if arrow && target.is_none() {
        return Err("'->' needs a mount point".into());
    }
    let mut all_opts: Vec<&str> = Vec::new();
    for c in &conds {
        match (op, c.key.as_str()) {
            ("mount" | "remount" | "umount", "options" | "option") => {
                if c.values.is_empty() {
                    return Err("empty options".into());
                }
                // each `options=(…)` is one set of flags (several are alternatives), and
                // within one set no flag may be both set and cleared; `options in (…)` are
                // optional flags, where setting and clearing mean the same
                let mut set: Vec<(&str, &str)> = Vec::new();
                let mut clear: Vec<(&str, &str)> = Vec::new();
                for o in &c.values {
                    // an unparenthesised `options=ro,noexec` is one value, and no option
                    if !names::MOUNT_OPTIONS.contains(&o.as_str()) {
                        return Err(format!("unsupported mount option value '{o}'"));
                    }
                    all_opts.push(o);
                    match names::mount_option_flag(o) {
                        Some((flag, true)) => set.push((flag, o)),
                        Some((flag, false)) => clear.push((flag, o)),
                        None => {}
                    }
                }
                if !c.is_in
                    && let Some(((_, a), (_, b))) =
                        set.iter().find_map(|s| clear.iter().find(|c| c.0 == s.0).map(|c| (s, c)))
                {
                    return Err(format!("conflicting mount options '{a}' and '{b}'"));
                }
            }
            ("mount" | "remount" | "umount", "fstype" | "vfstype") => {
                if c.values.is_empty() {
                    return Err("empty fstype".into());
                }
            }
            ("pivot_root", "oldroot") => {}
            (_, k) => return Err(format!("invalid {op} condition '{k}'")),
        }
        if c.values.iter().any(|v| v.starts_with('(')) {
            return Err("nested list".into());
        }
        for v in &c.values {
            aare::check_syntax(v)?;
        }
    }
    let prop = all_opts.iter().any(|o| names::MOUNT_PROPAGATION.contains(o));
    let mut mount_point = target.clone();
    match op {
        "mount" => {
            if prop && source.is_some() && arrow {
                return Err("propagation-type mount options take no source".into());
            }
            if prop && source.is_some() && !arrow {
                mount_point = source.take();
            }
            if all_opts.contains(&"remount") && source.is_some() && arrow {
                return Err("remount takes no source".into());
            }
            if source.is_some() && !arrow && !prop {
                // `mount /dev/x,` names a source without a mount point
            }
        }
        "remount" | "umount" => {
            if arrow {
                return Err(format!("{op} takes no '->'"));
            }
            mount_point = source.take();
        }
        _ => {}
    }
    for p in [&source, &mount_point].into_iter().flatten() {
        aare::check_syntax(p)?;
    }
    Ok(RuleKind::Mount { op: op.to_owned(), conds, source, target: mount_point })
}

const SIGNAL_PERMS: &[&str] = &["send", "receive", "r", "w", "rw", "read", "write"];
const PTRACE_PERMS: &[&str] = &["r", "w", "rw", "read", "write", "readby", "trace", "tracedby"];
const DBUS_PERMS: &[&str] = &["send", "receive", "bind", "eavesdrop", "r", "w", "rw", "read", "write"];
const MQUEUE_PERMS: &[&str] =
    &["r", "w", "rw", "wr", "read", "write", "create", "open", "delete", "getattr", "setattr"];

/// signal, ptrace, unix, dbus, mqueue, io_uring, userns after the keyword.
pub fn mediated(class: &str, mut words: Vec<String>, conds: Vec<Cond>, _q: &Qualifiers) -> Result<RuleKind, String> {
    let allowed: &[&str] = match class {
        "signal" => SIGNAL_PERMS,
        "ptrace" => PTRACE_PERMS,
        "unix" => NET_PERMS,
        "dbus" => DBUS_PERMS,
        "mqueue" => MQUEUE_PERMS,
        "io_uring" => &["sqpoll", "override_creds"],
        "userns" => &["create"],
        _ => &[],
    };
    let perms = perms_of(&mut words, allowed, class)?;
    no_set_operator(&conds, false)?;
    if class != "signal" {
        no_dup_conds(&conds)?;
    } else if conds.iter().filter(|c| c.key == "peer").count() > 1 {
        // several `set=` add up; the peer is one label
        return Err("signal conditional \"peer\" can only be specified once".into());
    }
    check_values_syntax(&conds)?;
    let keys: Vec<&str> = conds.iter().map(|c| c.key.as_str()).collect();
    let allowed_keys: &[&str] = match class {
        "signal" => &["set", "peer"],
        "ptrace" => &["peer"],
        "unix" => &["type", "protocol", "addr", "peer"],
        "dbus" => &["bus", "path", "interface", "member", "name", "peer"],
        "mqueue" => &["type", "label"],
        "io_uring" => &["label"],
        _ => &[],
    };
    for k in &keys {
        if !allowed_keys.contains(k) {
            if class == "unix" && *k == "label" {
                return Err("unix rule: 'label' conditional is only valid in the peer expression".into());
            }
            return Err(format!("invalid {class} condition '{k}'"));
        }
    }
    if matches!(class, "unix" | "dbus" | "signal") {
        single_valued_eq(class, &conds)?;
    }
    if class == "unix" {
        unix_conds(&conds)?;
    }
    for c in &conds {
        if c.key == "peer" {
            let nested_ok: &[&str] = match class {
                "unix" => &["addr", "label"],
                "dbus" => &["name", "label"],
                _ => &[],
            };
            if c.nested.is_empty() && nested_ok.len() > 1 && !c.values.is_empty() {
                return Err(format!("{class} peer needs peer=(…)"));
            }
            if !c.nested.is_empty() && nested_ok.is_empty() {
                return Err(format!("{class} peer takes a label, not a list"));
            }
            for n in &c.nested {
                if !nested_ok.contains(&n.key.as_str()) {
                    return Err(format!("invalid {class} peer condition '{}'", n.key));
                }
                if n.values.len() != 1 {
                    return Err(format!("{class} peer {} takes one value", n.key));
                }
            }
            if c.nested.is_empty() && c.values.len() != 1 && nested_ok.is_empty() {
                return Err(format!("{class} peer takes one label"));
            }
        } else if !c.nested.is_empty() {
            return Err(format!("{} takes no nested conditions", c.key));
        }
    }
    let mut name = None;
    match class {
        "signal" => {
            for c in &conds {
                if c.key == "set" {
                    for v in &c.values {
                        for s in v.split(',') {
                            if names::signal_number(s).is_none() {
                                return Err(format!("unknown signal '{s}'"));
                            }
                        }
                    }
                }
            }
        }
        "unix" | "dbus" => {
            let has_peer = keys.contains(&"peer");
            if class == "unix" && has_peer && perms.iter().any(|p| LOCAL_ONLY.contains(&p.as_str())) {
                return Err("unix peer conditions with a permission that has no peer".into());
            }
            if class == "dbus" {
                let bind = perms.iter().any(|p| p == "bind");
                let eaves = perms.iter().any(|p| p == "eavesdrop");
                let msg = perms.iter().any(|p| !matches!(p.as_str(), "bind" | "eavesdrop"));
                if bind && keys.iter().any(|k| matches!(*k, "path" | "interface" | "member" | "peer")) {
                    return Err("dbus bind takes only bus= and name=".into());
                }
                if eaves && keys.iter().any(|k| *k != "bus") {
                    return Err("dbus eavesdrop takes only bus=".into());
                }
                if (msg || eaves) && keys.contains(&"name") {
                    return Err("dbus name= is only for bind".into());
                }
            }
        }
        "mqueue" => {
            let ty = conds.iter().find(|c| c.key == "type").and_then(|c| c.values.first().cloned());
            if let Some(t) = &ty
                && t != "posix"
                && t != "sysv"
            {
                return Err(format!("invalid mqueue type '{t}'"));
            }
            if let Some(w) = words.first() {
                let t = ty.as_deref().unwrap_or(if w.starts_with('/') { "posix" } else { "sysv" });
                if t == "posix" && !w.starts_with('/') {
                    return Err(format!("posix mqueue name '{w}' must start with '/'"));
                }
                if t == "sysv" && !w.chars().all(|c| c.is_ascii_digit()) {
                    return Err(format!("sysv mqueue name '{w}' must be a number"));
                }
                name = Some(words.remove(0));
            }
        }
        _ => {}
    }
    if let Some(w) = words.first() {
        return Err(format!("unexpected '{w}' in {class} rule"));
    }
    for c in &conds {
        if c.key == "label" && c.values.len() != 1 {
            return Err("label takes one value".into());
        }
    }
    Ok(RuleKind::Mediated { class: class.to_owned(), perms, conds, name })
}

/// Unix, D-Bus and signal conditions are written `key=value` (not `in (…)`), and take one
/// value, except a signal `set`.
fn single_valued_eq(class: &str, conds: &[Cond]) -> Result<(), String> {
    for c in conds {
        if c.is_in {
            return Err(format!("only \"=\" allowed in conditions of {class} rules ('{}')", c.key));
        }
        if c.values.len() > 1 && !(class == "signal" && c.key == "set") {
            return Err(format!("{class} conditional '{}' only supports a single value", c.key));
        }
        single_valued_eq(class, &c.nested)?;
    }
    Ok(())
}

/// A unix socket's `addr=` is abstract (`@…`), `none` or `auto`; `protocol=` is not supported.
fn unix_conds(conds: &[Cond]) -> Result<(), String> {
    for c in conds.iter().chain(conds.iter().flat_map(|c| c.nested.iter())) {
        match c.key.as_str() {
            "protocol" => return Err("unix rule: 'protocol' conditional is not currently supported".into()),
            "addr" => {
                for v in &c.values {
                    if !(v.starts_with('@') || v == "none" || v == "auto") {
                        return Err(format!("unix rule: invalid value for addr='{v}'"));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// `set rlimit RESOURCE <= VALUE`.
pub fn rlimit(resource: &str, value: &str) -> Result<(), String> {
    if !names::RLIMITS.contains(&resource) {
        return Err(format!("invalid rlimit '{resource}'"));
    }
    if value == "infinity" {
        return Ok(());
    }
    let digits: String = value.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
    let unit = value.get(digits.len()..).unwrap_or_default();
    let n: i64 = digits.parse().map_err(|_| format!("invalid rlimit value '{value}'"))?;
    let ok_unit = match resource {
        "cpu" => matches!(
            unit,
            "" | "s"
                | "sec"
                | "seconds"
                | "min"
                | "minutes"
                | "h"
                | "hour"
                | "hours"
                | "d"
                | "day"
                | "days"
                | "week"
                | "weeks"
        ),
        "rttime" => matches!(
            unit,
            "" | "us"
                | "microsecond"
                | "microseconds"
                | "ms"
                | "millisecond"
                | "milliseconds"
                | "s"
                | "sec"
                | "seconds"
                | "min"
                | "minutes"
                | "h"
                | "hour"
                | "hours"
                | "d"
                | "day"
                | "days"
                | "week"
                | "weeks"
        ),
        "nofile" | "ofile" | "nproc" | "locks" | "sigpending" | "rtprio" => unit.is_empty(),
        "nice" => unit.is_empty() && (-20..=19).contains(&n),
        _ => matches!(unit, "" | "K" | "KB" | "M" | "MB" | "G" | "GB"),
    };
    if !ok_unit || (n < 0 && resource != "nice") {
        return Err(format!("invalid rlimit value '{value}' for {resource}"));
    }
    Ok(())
}

/// Checks over the whole policy after variables are expanded: names, duplicate profiles,
/// pattern syntax, exec-transition conflicts.
pub fn policy(policy: &Policy) -> Result<(), Error> {
    let mut seen = BTreeSet::new();
    for p in &policy.profiles {
        if !seen.insert((p.namespace.clone(), p.name.clone())) {
            return Err(Error {
                file: p.span.file.clone(),
                pos: p.span.pos,
                message: format!("Profile {} already exists", p.name),
            });
        }
        profile(p, 0)?;
    }
    Ok(())
}

/// The exec mode a rule really grants: `safe` makes `px`/`cx`/`ux` scrub the environment
/// (`Px`/`Cx`/`Ux`), `unsafe` the reverse.
fn effective_exec(x: &str, cond: Option<&str>) -> String {
    // only the first letter's case means something (`pIx` is `pix`, `PUx` is `Pux`)
    let mut chars: Vec<char> =
        x.chars().enumerate().map(|(i, c)| if i == 0 { c } else { c.to_ascii_lowercase() }).collect();
    if let Some(first) = chars.first_mut() {
        match cond {
            Some("safe") if matches!(*first, 'p' | 'c' | 'u') => *first = first.to_ascii_uppercase(),
            Some("unsafe") if matches!(*first, 'P' | 'C' | 'U') => *first = first.to_ascii_lowercase(),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn profile(p: &Profile, depth: usize) -> Result<(), Error> {
    let err = |span: &crate::ast::Span, m: String| Error { file: span.file.clone(), pos: span.pos, message: m };
    if let Some(a) = &p.attachment {
        aare::check_syntax(a).map_err(|m| err(&p.span, m))?;
    }
    let mut execs: Vec<(Aare, String, Option<String>, &crate::ast::Span)> = Vec::new();
    // `change_profile [safe|unsafe] ONEXEC -> TARGET`: (onexec, target, unsafe, span)
    let mut onexecs: Vec<(Aare, Aare, bool, &crate::ast::Span)> = Vec::new();
    for r in &p.rules {
        match &r.kind {
            RuleKind::File { path: Some(path), perms, target, exec_cond } => {
                aare::check_syntax(path).map_err(|m| err(&r.span, m))?;
                let a = Aare::compile(path).map_err(|m| err(&r.span, m))?;
                if let Some(x) = &perms.exec
                    && r.q.access == Access::Allow
                {
                    execs.push((a, effective_exec(x, exec_cond.as_deref()), target.clone(), &r.span));
                }
            }
            RuleKind::Link { from, to, .. } => {
                for x in [from, to] {
                    aare::check_syntax(x).map_err(|m| err(&r.span, m))?;
                    Aare::compile(x).map_err(|m| err(&r.span, m))?;
                }
            }
            RuleKind::ChangeProfile { exec: Some(x), exec_mode, target } => {
                aare::check_syntax(x).map_err(|m| err(&r.span, m))?;
                let a = Aare::compile(x).map_err(|m| err(&r.span, m))?;
                if let Some(t) = target
                    && r.q.access == Access::Allow
                    && let Ok(t) = Aare::compile(t)
                {
                    onexecs.push((a, t, exec_mode.as_deref() == Some("unsafe"), &r.span));
                }
            }
            _ => {}
        }
    }
    // exec transitions: two rules that match a common path must agree (exact paths win over
    // patterns).
    for (i, (a, xa, ta, _)) in execs.iter().enumerate() {
        for (b, xb, tb, span) in execs.iter().skip(i + 1) {
            if xa == xb && ta == tb {
                continue;
            }
            if a.literal != b.literal && a.source != b.source {
                continue;
            }
            if a.overlaps(b) {
                return Err(err(span, format!("conflicting x modifiers between '{}' and '{}'", a.source, b.source)));
            }
        }
    }
    // the onexec transition records whether the exec may keep an unsafe environment: two
    // rules whose exec conditions and targets meet must agree on it
    for (i, (a, ta, ua, _)) in onexecs.iter().enumerate() {
        for (b, tb, ub, span) in onexecs.iter().skip(i + 1) {
            if ua != ub && a.overlaps(b) && ta.overlaps(tb) {
                return Err(err(
                    span,
                    format!(
                        "conflicting x modifiers between change_profile rules for '{}' -> '{}'",
                        b.source, tb.source
                    ),
                ));
            }
        }
    }
    let mut names = BTreeSet::new();
    for c in &p.children {
        if depth >= 1 && c.hat {
            return Err(err(&c.span, format!("hat '{}' inside a hat or child profile", c.name)));
        }
        if !names.insert((c.namespace.clone(), c.name.clone())) {
            return Err(err(&c.span, format!("'{}' is defined twice", c.name)));
        }
        profile(c, depth + 1)?;
    }
    Ok(())
}
