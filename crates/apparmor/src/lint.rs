//! Profile findings (AA001…): weak modes, broad or dangerous grants, and the denies the
//! container template (docker-default) has that a profile lacks.

use kguard_model::Location;
use kguard_report::{Finding, RuleMeta, Severity};

use crate::aare::Aare;
use crate::ast::{Access, Mode, Policy, Profile, Rule, RuleKind, Span};
use crate::query;

const AA_DOC: &str = "https://gitlab.com/apparmor/apparmor/-/wikis/QuickProfileLanguage";
const MAN: &str = "https://manpages.debian.org/bookworm/apparmor/apparmor.d.5.en.html";
const K8S_DOC: &str = "https://kubernetes.io/docs/tutorials/security/apparmor/";

/// AA001.
pub const WEAK_MODE: RuleMeta = RuleMeta {
    id: "AA001",
    name: "apparmor-profile-not-enforced",
    family: "apparmor",
    severity: Severity::High,
    title: "AppArmor profile is in complain, unconfined, prompt or default_allow mode",
    what: "The profile's flags put it in a mode where its rules do not block: complain (violations are logged and allowed), unconfined, prompt (a user-space daemon decides) or default_allow (everything not denied is allowed).",
    why: "A profile in these modes looks like confinement in `aa-status` and in a pod spec, but an attacker in the container is not stopped by it.",
    fix: "Remove the mode flag (enforce is the default) once the profile is complete; use complain only while developing it.",
    references: &[MAN, K8S_DOC],
    aliases: &[],
    opt_in: false,
};

/// AA002.
pub const BROAD_WRITE_EXEC: RuleMeta = RuleMeta {
    id: "AA002",
    name: "apparmor-broad-write-exec",
    family: "apparmor",
    severity: Severity::High,
    title: "AppArmor profile lets the program write what it can execute, or write everywhere",
    what: "A file rule grants write (w or a) together with execute (an exec mode or m) on the same paths, or grants write on a pattern that covers the whole file system (`/**`, `/{,**}`), or the profile has a bare `file,` or `all,` rule.",
    why: "Writable and executable paths let an attacker drop and run their own code; a file-system-wide write grant removes the file confinement the profile exists for.",
    fix: "Split write and exec over different, narrow paths (write to a data directory, execute only the program's binaries); replace `/** w` by the directories the program writes.",
    references: &[AA_DOC, MAN],
    aliases: &[],
    opt_in: false,
};

/// AA003.
pub const DANGEROUS_CAPABILITY: RuleMeta = RuleMeta {
    id: "AA003",
    name: "apparmor-dangerous-capability",
    family: "apparmor",
    severity: Severity::High,
    title: "AppArmor profile allows a capability that gives control of the host",
    what: "A capability rule allows sys_admin, sys_module, sys_rawio, sys_ptrace, sys_boot, mac_admin, mac_override, bpf, perfmon, dac_read_search, net_admin or syslog, or all capabilities (`capability,`).",
    why: "These capabilities load kernel modules, change the LSM policy itself, read any file or process memory, or reconfigure the host network: each is a known container-escape path.",
    fix: "Remove the capability; grant the narrow one the program needs (net_bind_service rather than net_admin, …).",
    references: &[MAN, "https://man7.org/linux/man-pages/man7/capabilities.7.html"],
    aliases: &[],
    opt_in: false,
};

/// AA004.
pub const UNRESTRICTED_MOUNT: RuleMeta = RuleMeta {
    id: "AA004",
    name: "apparmor-unrestricted-mount",
    family: "apparmor",
    severity: Severity::High,
    title: "AppArmor profile allows mount, remount, umount or pivot_root without conditions",
    what: "A mount-family rule allows the operation with no fstype, options, source or mount point restriction.",
    why: "Mounting lets a process hide or replace files, remount read-only file systems writable, mount /proc or cgroup file systems and escape a container.",
    fix: "Remove the rule, or restrict it to the fstype, options and mount points the program needs; docker-default has `deny mount,`.",
    references: &[MAN],
    aliases: &[],
    opt_in: false,
};

/// AA005.
pub const PTRACE: RuleMeta = RuleMeta {
    id: "AA005",
    name: "apparmor-ptrace-allowed",
    family: "apparmor",
    severity: Severity::Medium,
    title: "AppArmor profile allows ptrace (trace or read) of any peer",
    what: "A ptrace rule allows trace or read without a peer condition (or with a peer pattern matching any label).",
    why: "Tracing another process reads and changes its memory: secrets, tokens and code of every process the profile can reach.",
    fix: "Remove the rule, or name the peer (`ptrace (read) peer=@{profile_name},` as docker-default does).",
    references: &[MAN],
    aliases: &[],
    opt_in: false,
};

/// AA006.
pub const IPC_WIDE_OPEN: RuleMeta = RuleMeta {
    id: "AA006",
    name: "apparmor-ipc-wide-open",
    family: "apparmor",
    severity: Severity::Medium,
    title: "AppArmor profile allows all unix-socket or D-Bus communication",
    what: "A bare `unix,` or `dbus,` rule (no permissions, addresses, buses or peers).",
    why: "The host's D-Bus system bus and abstract unix sockets (systemd, container runtimes) accept privileged requests from any process that can reach them.",
    fix: "Name the buses, paths, interfaces and peers (or unix addresses) the program talks to.",
    references: &[MAN],
    aliases: &[],
    opt_in: false,
};

/// AA007.
pub const MISSING_DENIES: RuleMeta = RuleMeta {
    id: "AA007",
    name: "apparmor-missing-template-denies",
    family: "apparmor",
    severity: Severity::Medium,
    title: "AppArmor profile allows what the container template (docker-default) denies",
    what: "The profile allows an access that docker-default explicitly denies: writing /proc/sysrq-trigger, /proc/sys/kernel/core_pattern or other files under /proc/sys, reading /proc/kcore, writing under /sys (other than /sys/fs), writing /sys/kernel/security.",
    why: "docker-default's denies close the known escapes through procfs and sysfs; a custom profile that allows them is weaker than the runtime's default.",
    fix: "Add the template's deny rules (`deny @{PROC}/sysrq-trigger rwklx,`, `deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} wklx,`, `deny /sys/[^f]*/** wklx,`, …) or start from `kguard apparmor generate`.",
    references: &["https://github.com/moby/profiles/blob/main/apparmor/template.go", K8S_DOC],
    aliases: &[],
    opt_in: false,
};

/// AA008.
pub const WRITES_OWN_POLICY: RuleMeta = RuleMeta {
    id: "AA008",
    name: "apparmor-writes-policy",
    family: "apparmor",
    severity: Severity::Critical,
    title: "AppArmor profile allows changing AppArmor policy",
    what: "The profile allows writing the policy sources (/etc/apparmor.d) or the kernel's policy interface (/sys/kernel/security/apparmor/.load, .replace, .remove).",
    why: "A confined program that can load or edit policy can replace its own profile with an unconfined one.",
    fix: "Deny these paths (`deny /etc/apparmor.d/** wl,`, `deny /sys/kernel/security/** w,`).",
    references: &[MAN],
    aliases: &[],
    opt_in: false,
};

/// Every rule of the profile lint, in id order.
pub const RULES: &[RuleMeta] = &[
    WEAK_MODE,
    BROAD_WRITE_EXEC,
    DANGEROUS_CAPABILITY,
    UNRESTRICTED_MOUNT,
    PTRACE,
    IPC_WIDE_OPEN,
    MISSING_DENIES,
    WRITES_OWN_POLICY,
];

const DANGEROUS_CAPS: &[&str] = &[
    "sys_admin",
    "sys_module",
    "sys_rawio",
    "sys_ptrace",
    "sys_boot",
    "mac_admin",
    "mac_override",
    "bpf",
    "perfmon",
    "dac_read_search",
    "net_admin",
    "syslog",
];

/// Accesses docker-default denies: (path, perm).
const TEMPLATE_PROBES: &[(&str, char)] = &[
    ("/proc/sysrq-trigger", 'w'),
    ("/proc/sys/kernel/core_pattern", 'w'),
    ("/proc/sys/vm/overcommit_memory", 'w'),
    ("/proc/kcore", 'r'),
    ("/sys/kernel/debug/tracing/trace", 'w'),
    ("/sys/kernel/security/lsm", 'w'),
];

/// Policy paths: (path, perm).
const POLICY_PROBES: &[(&str, char)] = &[
    ("/etc/apparmor.d/usr.bin.example", 'w'),
    ("/sys/kernel/security/apparmor/.load", 'w'),
    ("/sys/kernel/security/apparmor/.replace", 'w'),
];

fn loc(span: &Span) -> Option<Location> {
    Some(Location::at(span.file.clone(), span.pos))
}

fn finding(rule: &RuleMeta, message: String, span: &Span) -> Finding {
    Finding::new(rule, message, None, None, loc(span))
}

fn allow(r: &Rule) -> bool {
    r.q.access == Access::Allow
}

/// Lints every profile (hats and children included) of a policy.
#[must_use]
pub fn lint(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in &policy.profiles {
        profile(p, &p.display_name(), &mut out);
    }
    out
}

fn profile(p: &Profile, name: &str, out: &mut Vec<Finding>) {
    if matches!(p.mode, Mode::Complain | Mode::Unconfined | Mode::Prompt | Mode::DefaultAllow) {
        out.push(finding(&WEAK_MODE, format!("profile {name} is in {} mode", p.mode.as_str()), &p.span));
    }
    for r in p.rules.iter().filter(|r| allow(r)) {
        match &r.kind {
            RuleKind::File { path: None, .. } => {
                out.push(finding(
                    &BROAD_WRITE_EXEC,
                    format!("profile {name}: bare `file,` allows every file access"),
                    &r.span,
                ));
            }
            RuleKind::All => {
                out.push(finding(&BROAD_WRITE_EXEC, format!("profile {name}: `all,` allows everything"), &r.span));
            }
            RuleKind::File { path: Some(path), perms, .. } => {
                let writes = perms.write || perms.append;
                let execs = perms.exec.is_some() || perms.mmap_exec;
                let everywhere = Aare::compile(path).is_ok_and(|a| a.matches("/etc/passwd") && a.matches("/usr/bin/x"));
                if writes && execs {
                    out.push(finding(
                        &BROAD_WRITE_EXEC,
                        format!("profile {name}: `{path} {}` is writable and executable", perms.text()),
                        &r.span,
                    ));
                } else if writes && everywhere {
                    out.push(finding(
                        &BROAD_WRITE_EXEC,
                        format!("profile {name}: `{path} {}` allows writing the whole file system", perms.text()),
                        &r.span,
                    ));
                }
            }
            RuleKind::Capability(caps) => {
                if caps.is_empty() {
                    out.push(finding(
                        &DANGEROUS_CAPABILITY,
                        format!("profile {name}: `capability,` allows every capability"),
                        &r.span,
                    ));
                }
                for c in caps.iter().filter(|c| DANGEROUS_CAPS.contains(&c.as_str())) {
                    out.push(finding(&DANGEROUS_CAPABILITY, format!("profile {name} allows capability {c}"), &r.span));
                }
            }
            RuleKind::Mount { op, conds, source, target }
                if conds.is_empty() && source.is_none() && target.is_none() =>
            {
                out.push(finding(&UNRESTRICTED_MOUNT, format!("profile {name}: `{op},` without conditions"), &r.span));
            }
            RuleKind::Mediated { class, perms, conds, .. } if class == "ptrace" => {
                let tracing =
                    perms.is_empty() || perms.iter().any(|p| matches!(p.as_str(), "trace" | "read" | "r" | "rw" | "w"));
                let peer = conds.iter().find(|c| c.key == "peer").and_then(|c| c.values.first());
                let any_peer = peer.is_none_or(|v| v == "**" || v == "*" || v == "unconfined");
                if tracing && any_peer {
                    out.push(finding(&PTRACE, format!("profile {name} allows ptrace of any peer"), &r.span));
                }
            }
            RuleKind::Mediated { class, perms, conds, name: n }
                if (class == "unix" || class == "dbus") && perms.is_empty() && conds.is_empty() && n.is_none() =>
            {
                out.push(finding(&IPC_WIDE_OPEN, format!("profile {name}: bare `{class},`"), &r.span));
            }
            _ => {}
        }
    }
    if p.mode == Mode::Enforce {
        let missing: Vec<String> = TEMPLATE_PROBES
            .iter()
            .filter(|(path, perm)| query::decide(p, path, *perm, true).allowed)
            .map(|(path, perm)| format!("{perm} {path}"))
            .collect();
        if !missing.is_empty() {
            out.push(finding(
                &MISSING_DENIES,
                format!("profile {name} allows what docker-default denies: {}", missing.join(", ")),
                &p.span,
            ));
        }
    }
    for (path, perm) in POLICY_PROBES {
        let d = query::decide(p, path, *perm, true);
        if d.allowed && d.rule.is_some() {
            let span = d.rule.and_then(|i| p.rules.get(i)).map_or(&p.span, |r| &r.span);
            out.push(finding(&WRITES_OWN_POLICY, format!("profile {name} may write {path}"), span));
            break;
        }
    }
    for c in &p.children {
        profile(c, &format!("{name}//{}", c.name), out);
    }
}
