//! Profile findings (SCMP001…) and the comparison of two profiles' decisions.

use std::collections::BTreeMap;
use std::sync::Arc;

use kguard_model::{Location, Pos};
use kguard_report::{Finding, RuleMeta, Severity};

use crate::action::Action;
use crate::arch::{self, Arch};
use crate::build::{self, Target};
use crate::db::Op;
use crate::filter::Filter;
use crate::profile::{ActionName, Profile, SyscallRule};

const SECCOMP_DOC: &str = "https://kubernetes.io/docs/tutorials/security/seccomp/";
const MOBY_DOC: &str = "https://docs.docker.com/engine/security/seccomp/";
const SPEC_DOC: &str = "https://github.com/opencontainers/runtime-spec/blob/main/config-linux.md#seccomp";

/// SCMP001.
pub const DEFAULT_ALLOW: RuleMeta = RuleMeta {
    id: "SCMP001",
    name: "seccomp-default-allow",
    family: "seccomp",
    severity: Severity::High,
    title: "Seccomp profile allows every syscall it does not list",
    what: "The profile's defaultAction is SCMP_ACT_ALLOW or SCMP_ACT_LOG: every syscall without a rule runs.",
    why: "A deny-list profile lets through every syscall its author did not think of, including the ones added by newer kernels (io_uring, the new mount API, …). Kernel exploits from containers go through exactly those.",
    fix: "Make defaultAction SCMP_ACT_ERRNO (with defaultErrnoRet 1 or 38) and allow what the workload needs; `kguard seccomp record` writes such a profile from a run of the program, or start from RuntimeDefault.",
    references: &[SECCOMP_DOC, SPEC_DOC],
    aliases: &[],
    opt_in: false,
};

/// SCMP002.
pub const DANGEROUS_ALLOWED: RuleMeta = RuleMeta {
    id: "SCMP002",
    name: "seccomp-dangerous-syscall",
    family: "seccomp",
    severity: Severity::High,
    title: "Seccomp profile allows a dangerous syscall without argument filters",
    what: "A syscall that gives kernel-level power or a common exploit primitive (ptrace, bpf, mount, keyctl, unshare or clone with namespace flags, kexec, userfaultfd, module loading, …) is allowed, unconditionally, by a rule or by an allowing default action. The message gives the reason for each.",
    why: "RuntimeDefault blocks these unless the container has the matching capability, because they let a process escape or attack the kernel: namespaces expose kernel code to unprivileged users, ptrace and process_vm_* read other processes, bpf and perf_event_open are frequent exploit vectors, userfaultfd makes kernel races reliable.",
    fix: "Remove the syscall from the allow rules, or restrict it with argument filters (e.g. clone with SCMP_CMP_MASKED_EQ on the CLONE_NEW* flags, as RuntimeDefault does), or gate it on a capability.",
    references: &[MOBY_DOC, SECCOMP_DOC],
    aliases: &[],
    opt_in: false,
};

/// SCMP003.
pub const WEAKER_THAN_DEFAULT: RuleMeta = RuleMeta {
    id: "SCMP003",
    name: "seccomp-weaker-than-runtime-default",
    family: "seccomp",
    severity: Severity::Medium,
    title: "Seccomp profile allows what RuntimeDefault blocks",
    what: "For the target architecture and a container with Docker's default capabilities, the profile lets a syscall run (for some arguments) where the runtimes' default profile (moby's, used by Docker and containerd; containers/common's, used by CRI-O and Podman) returns an error.",
    why: "RuntimeDefault is the baseline Kubernetes recommends and Pod Security `restricted` requires; a Localhost profile that is weaker removes protections a pod would otherwise have.",
    fix: "Block the listed syscalls (or restrict their arguments as RuntimeDefault does), or use RuntimeDefault.",
    references: &[SECCOMP_DOC, MOBY_DOC],
    aliases: &[],
    opt_in: false,
};

/// SCMP004.
pub const CONFLICTING_RULES: RuleMeta = RuleMeta {
    id: "SCMP004",
    name: "seccomp-conflicting-rules",
    family: "seccomp",
    severity: Severity::Medium,
    title: "Seccomp rules for the same syscall conflict or repeat",
    what: "A syscall is named by several entries: the same rule twice, two unconditional rules with different actions (libseccomp keeps the first), a conditional rule after an unconditional one (ignored), or an unconditional rule after conditional ones (they are discarded).",
    why: "libseccomp merges rules in ways a reader does not expect: the profile does not do what it says, and the rule a reviewer reads may be the one that has no effect.",
    fix: "Keep one entry per syscall and action; put argument-filtered rules for a syscall in one place.",
    references: &["https://man7.org/linux/man-pages/man3/seccomp_rule_add.3.html", SPEC_DOC],
    aliases: &[],
    opt_in: false,
};

/// SCMP005.
pub const INEFFECTIVE_ARG: RuleMeta = RuleMeta {
    id: "SCMP005",
    name: "seccomp-ineffective-argument-filter",
    family: "seccomp",
    severity: Severity::Medium,
    title: "Seccomp argument filter is always or never true",
    what: "An argument comparison that cannot work as written: MASKED_EQ with a mask of 0 or a value outside the mask, GE 0, LE or LT against 2^64-1 / 0, GT 2^64-1, several conditions on the same argument (runc then adds each as a separate rule: they are ORed, not ANDed), or a value above 2^32-1 on a 32-bit architecture (the upper half is ignored).",
    why: "The rule then allows (or blocks) far more or less than its author meant; a tautology turns an argument filter into an unconditional allow.",
    fix: "Fix the comparison: for flags, use SCMP_CMP_MASKED_EQ with value = the mask and valueTwo = the bits that must be set within it.",
    references: &[SPEC_DOC, "https://man7.org/linux/man-pages/man3/seccomp_rule_add.3.html"],
    aliases: &[],
    opt_in: false,
};

/// SCMP006.
pub const ACTION_SUPPORT: RuleMeta = RuleMeta {
    id: "SCMP006",
    name: "seccomp-action-needs-support",
    family: "seccomp",
    severity: Severity::Low,
    title: "Seccomp action depends on something the profile does not provide",
    what: "SCMP_ACT_NOTIFY without a listenerPath (no supervisor receives the notifications), or SCMP_ACT_TRACE (without a ptrace tracer the syscall fails with ENOSYS).",
    why: "The action does not do what it names in a normal container: the syscall fails or blocks.",
    fix: "Give SCMP_ACT_NOTIFY a listenerPath served by a seccomp agent; use SCMP_ACT_ERRNO instead of SCMP_ACT_TRACE.",
    references: &[SPEC_DOC],
    aliases: &[],
    opt_in: false,
};

/// Every rule of this crate, in id order.
pub const RULES: &[RuleMeta] =
    &[DEFAULT_ALLOW, DANGEROUS_ALLOWED, WEAKER_THAN_DEFAULT, CONFLICTING_RULES, INEFFECTIVE_ARG, ACTION_SUPPORT];

/// Dangerous syscalls and why.
pub const DANGEROUS: &[(&str, &str)] = &[
    ("ptrace", "reads and writes other processes' memory and registers; classic container-escape step"),
    ("process_vm_readv", "reads another process's memory"),
    ("process_vm_writev", "writes another process's memory"),
    ("bpf", "loads eBPF programs into the kernel: a frequent privilege-escalation vector"),
    ("perf_event_open", "kernel performance events: information leaks and a frequent exploit vector"),
    ("mount", "mounts filesystems: with a user namespace, reaches kernel filesystem code"),
    ("umount", "unmounts filesystems, can uncover hidden host paths"),
    ("umount2", "unmounts filesystems, can uncover hidden host paths"),
    ("fsopen", "new mount API: same power as mount"),
    ("fsmount", "new mount API: same power as mount"),
    ("fsconfig", "new mount API: same power as mount"),
    ("move_mount", "new mount API: same power as mount"),
    ("open_tree", "new mount API: clones mount trees"),
    ("fspick", "new mount API: reconfigures mounts"),
    ("pivot_root", "changes the root filesystem"),
    ("keyctl", "the kernel keyring is not namespaced: reads and changes keys of the host"),
    ("add_key", "the kernel keyring is not namespaced"),
    ("request_key", "the kernel keyring is not namespaced"),
    ("unshare", "creates namespaces (user namespaces expose kernel code to unprivileged processes)"),
    ("setns", "joins other namespaces"),
    ("clone", "without a filter on the CLONE_NEW* flags it creates namespaces like unshare"),
    (
        "clone3",
        "its flags are in memory and cannot be filtered: it creates namespaces freely (RuntimeDefault returns ENOSYS so libc falls back to clone)",
    ),
    ("kexec_load", "loads a new kernel"),
    ("kexec_file_load", "loads a new kernel"),
    ("init_module", "loads kernel modules"),
    ("finit_module", "loads kernel modules"),
    ("delete_module", "unloads kernel modules"),
    ("userfaultfd", "makes kernel race conditions reliably exploitable"),
    ("open_by_handle_at", "opens host files by handle, bypassing the mount namespace (the 'shocker' escape)"),
    ("reboot", "reboots the host or loads a kexec kernel"),
    ("swapon", "adds swap devices"),
    ("swapoff", "removes swap devices"),
    ("iopl", "raises the I/O privilege level"),
    ("ioperm", "grants I/O port access"),
    ("acct", "switches process accounting on the host"),
    ("quotactl", "changes disk quotas"),
    ("lookup_dcookie", "kernel dentry cookies: information leak"),
    ("syslog", "reads and clears the kernel log: kernel addresses"),
    ("settimeofday", "sets the host clock (the clock is not namespaced)"),
    ("clock_settime", "sets the host clock"),
    ("stime", "sets the host clock"),
    ("uselib", "obsolete loader interface with a history of kernel bugs"),
    ("vm86", "virtual 8086 mode: old kernel attack surface"),
    ("vm86old", "virtual 8086 mode: old kernel attack surface"),
    ("nfsservctl", "kernel NFS server control"),
    ("_sysctl", "obsolete sysctl interface"),
    ("create_module", "kernel modules (obsolete)"),
    ("get_kernel_syms", "kernel symbols (obsolete)"),
    ("query_module", "kernel modules (obsolete)"),
    ("mbind", "NUMA memory policy of the host"),
    ("set_mempolicy", "NUMA memory policy of the host"),
    ("move_pages", "moves other processes' pages"),
    ("kcmp", "compares kernel resources of other processes"),
    ("personality", "without argument filters it can disable ASLR (ADDR_NO_RANDOMIZE)"),
];

/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (what RuntimeDefault masks).
pub const CLONE_NS_FLAGS: u64 = 0x7e02_0000;

fn loc(file: &Arc<str>, pos: Pos) -> Option<Location> {
    Some(Location { file: file.clone(), pos: Some(pos) })
}

fn finding(rule: &RuleMeta, message: String, file: &Arc<str>, pos: Pos, pointer: &str) -> Finding {
    Finding::new(rule, message, None, Some(pointer.to_owned()), loc(file, pos))
}

/// Lints a profile for `target`. `defaults` are the RuntimeDefault profiles to compare with
/// (name, profile); pass [`runtime_defaults`].
#[must_use]
pub fn lint(profile: &Profile, file: &Arc<str>, target: &Target, defaults: &[(&str, Profile)]) -> Vec<Finding> {
    let mut out = Vec::new();
    let default = profile.default_filter_action();
    let da = &profile.default_action;
    if default.runs() {
        out.push(finding(
            &DEFAULT_ALLOW,
            format!("defaultAction is {}: every syscall without a rule runs", da.value),
            file,
            da.pos,
            &da.pointer,
        ));
    }
    let resolved = build::resolve(profile, target);
    // SCMP002: dangerous syscalls allowed without argument filters
    let mut explicit: BTreeMap<&str, Vec<&SyscallRule>> = BTreeMap::new();
    for r in &resolved.rules {
        for n in &r.names {
            explicit.entry(n.value.as_str()).or_default().push(r);
        }
    }
    for (name, why) in DANGEROUS {
        if target.arch.syscall_number(name).is_none() {
            continue;
        }
        match explicit.get(name) {
            Some(rules) => {
                for r in rules {
                    let runs = r.filter_action().runs();
                    let unfiltered = r.args.is_empty()
                        || (*name == "clone"
                            && !r.args.iter().any(|a| {
                                a.op == Op::MaskedEq
                                    && a.value & CLONE_NS_FLAGS == CLONE_NS_FLAGS
                                    && a.value_two & CLONE_NS_FLAGS == 0
                            }))
                        || (*name == "personality" && !r.args.iter().any(|a| a.op == Op::Eq));
                    if runs && unfiltered {
                        let too = if ["ptrace", "process_vm_readv", "process_vm_writev"].contains(name) {
                            " (moby's RuntimeDefault allows it too, on kernels >= 4.8)"
                        } else {
                            ""
                        };
                        let n = r.names.iter().find(|n| n.value == *name);
                        let (pos, ptr) = n.map_or((r.pos, r.pointer.clone()), |n| (n.pos, n.pointer.clone()));
                        out.push(finding(
                            &DANGEROUS_ALLOWED,
                            format!("{name} is allowed ({}) without argument filters: {why}{too}", r.action.value),
                            file,
                            pos,
                            &ptr,
                        ));
                    }
                }
            }
            None if default.runs() => out.push(finding(
                &DANGEROUS_ALLOWED,
                format!("{name} is allowed by defaultAction {}: {why}", da.value),
                file,
                da.pos,
                &da.pointer,
            )),
            None => {}
        }
    }
    // SCMP004: conflicts and repeats
    for (name, rules) in &explicit {
        let mut first_uncond: Option<&SyscallRule> = None;
        let mut seen: Vec<&SyscallRule> = Vec::new();
        for r in rules {
            let n = r.names.iter().find(|n| n.value == *name);
            let (pos, ptr) = n.map_or((r.pos, r.pointer.clone()), |n| (n.pos, n.pointer.clone()));
            if let Some(prev) = seen.iter().find(|p| p.filter_action() == r.filter_action() && same_args(p, r)) {
                out.push(finding(
                    &CONFLICTING_RULES,
                    format!("{name}: repeats the rule at line {} ({})", prev.pos.line, r.action.value),
                    file,
                    pos,
                    &ptr,
                ));
            } else if let Some(u) = first_uncond {
                if r.args.is_empty() && u.filter_action() != r.filter_action() {
                    out.push(finding(
                        &CONFLICTING_RULES,
                        format!(
                            "{name}: {} here has no effect: libseccomp keeps the first unconditional rule ({} at line {})",
                            r.filter_action(),
                            u.filter_action(),
                            u.pos.line
                        ),
                        file,
                        pos,
                        &ptr,
                    ));
                } else if !r.args.is_empty() && u.filter_action() != r.filter_action() {
                    out.push(finding(
                        &CONFLICTING_RULES,
                        format!(
                            "{name}: this argument-filtered rule is ignored: the rule at line {} already decides {name} for every argument",
                            u.pos.line
                        ),
                        file,
                        pos,
                        &ptr,
                    ));
                }
            } else if r.args.is_empty()
                && seen.iter().any(|p| !p.args.is_empty() && p.filter_action() != r.filter_action())
            {
                out.push(finding(
                    &CONFLICTING_RULES,
                    format!(
                        "{name}: this unconditional rule discards the argument-filtered rules for {name} before it"
                    ),
                    file,
                    pos,
                    &ptr,
                ));
            }
            if r.args.is_empty() && first_uncond.is_none() {
                first_uncond = Some(r);
            }
            seen.push(r);
        }
    }
    // SCMP005: ineffective argument filters
    for r in &profile.syscalls {
        for (i, a) in r.args.iter().enumerate() {
            let issue = match a.op {
                Op::MaskedEq if a.value == 0 => Some(
                    "the mask (value) is 0: the comparison is always true when valueTwo is 0, never otherwise"
                        .to_owned(),
                ),
                Op::MaskedEq if a.value_two & !a.value != 0 => Some(format!(
                    "valueTwo {:#x} has bits outside the mask {:#x}: the comparison is never true",
                    a.value_two, a.value
                )),
                Op::Ge if a.value == 0 => Some("GE 0 is always true".to_owned()),
                Op::Lt if a.value == 0 => Some("LT 0 is never true".to_owned()),
                Op::Le if a.value == u64::MAX => Some("LE 2^64-1 is always true".to_owned()),
                Op::Gt if a.value == u64::MAX => Some("GT 2^64-1 is never true".to_owned()),
                _ => None,
            };
            let issue = issue.or_else(|| {
                (r.args.iter().take(i).any(|b| b.index == a.index)).then(|| {
                    format!("argument {} is compared more than once: runc adds each comparison as its own rule, so they are ORed, not ANDed", a.index)
                })
            });
            let issue = issue.or_else(|| {
                let big = a.value > u64::from(u32::MAX) || (a.op == Op::MaskedEq && a.value_two > u64::from(u32::MAX));
                let arches: Vec<Arch> = std::iter::once(target.arch)
                    .chain(resolved.arches.iter().copied())
                    .filter(|x| !x.is_64())
                    .collect();
                (big && !arches.is_empty()).then(|| {
                    format!(
                        "value {:#x} exceeds 32 bits: on {} only the low 32 bits are compared",
                        a.value,
                        arches.first().map_or("", |x| x.name())
                    )
                })
            });
            if let Some(msg) = issue {
                let names: Vec<&str> = r.names.iter().map(|n| n.value.as_str()).collect();
                out.push(finding(&INEFFECTIVE_ARG, format!("{}: {msg}", names.join(", ")), file, a.pos, &a.pointer));
            }
        }
    }
    // SCMP006
    for r in &profile.syscalls {
        let msg = match r.action.value {
            ActionName::Notify if profile.listener_path.as_deref().is_none_or(str::is_empty) => {
                Some("SCMP_ACT_NOTIFY without listenerPath: no agent receives the notifications")
            }
            ActionName::Trace => Some("SCMP_ACT_TRACE: without a ptrace tracer attached the syscall fails with ENOSYS"),
            _ => None,
        };
        if let Some(m) = msg {
            out.push(finding(&ACTION_SUPPORT, m.to_owned(), file, r.action.pos, &r.action.pointer));
        }
    }
    // SCMP003: weaker than RuntimeDefault: runs where every runtime's default blocks
    if let Ok(ours) = build::build(profile, target) {
        let theirs: Vec<(&str, Filter, &Profile)> =
            defaults.iter().filter_map(|(n, p)| build::build(p, target).ok().map(|f| (*n, f, p))).collect();
        if let Some((first_name, first, first_prof)) = theirs.first() {
            let audit = target.arch.audit_arch();
            let weaker: Vec<Difference> = compare(&ours, first, target.arch, &[profile, first_prof])
                .into_iter()
                .filter(|d| d.a.runs() && !d.b.runs())
                .filter(|d| theirs.iter().all(|(_, f, _)| !Action::from_ret(f.decide(audit, d.nr, &d.args)).runs()))
                .collect();
            if !weaker.is_empty() {
                let list: Vec<String> = weaker.iter().take(12).map(Difference::describe).collect();
                let more = if weaker.len() > 12 { format!(" and {} more", weaker.len() - 12) } else { String::new() };
                let first_syscall = weaker.first().map(|d| d.name).unwrap_or_default();
                let (pos, ptr) = explicit
                    .get(first_syscall)
                    .and_then(|rs| rs.first())
                    .and_then(|r| r.names.iter().find(|n| n.value == first_syscall))
                    .map_or((da.pos, da.pointer.clone()), |n| (n.pos, n.pointer.clone()));
                let others: Vec<&str> = theirs.iter().skip(1).map(|t| t.0).collect();
                let also = if others.is_empty() { String::new() } else { format!(" (and {})", others.join(", ")) };
                out.push(finding(
                    &WEAKER_THAN_DEFAULT,
                    format!(
                        "on {} allows {} syscall(s) that {first_name}{also} blocks: {}{more}",
                        target.arch.oci_name(),
                        weaker.len(),
                        list.join("; ")
                    ),
                    file,
                    pos,
                    &ptr,
                ));
            }
        }
    }
    out
}

fn same_args(a: &SyscallRule, b: &SyscallRule) -> bool {
    a.args.len() == b.args.len()
        && a.args
            .iter()
            .zip(&b.args)
            .all(|(x, y)| x.index == y.index && x.op == y.op && x.value == y.value && x.value_two == y.value_two)
}

/// The RuntimeDefault profiles kguard compares with: moby's and containers/common's.
#[must_use]
pub fn runtime_defaults() -> Vec<(&'static str, Profile)> {
    let mut out = Vec::new();
    for (name, text) in [
        ("RuntimeDefault (moby: Docker, containerd)", crate::defaults::MOBY_DEFAULT),
        ("RuntimeDefault (containers/common: CRI-O, Podman)", crate::defaults::CONTAINERS_COMMON_DEFAULT),
    ] {
        if let Ok(mut ps) = crate::profile::parse_file(text)
            && let Some(p) = ps.pop()
        {
            out.push((name, p));
        }
    }
    out
}

/// One syscall on which two filters decide differently, with arguments that show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The syscall.
    pub name: &'static str,
    /// Its number on the architecture.
    pub nr: u32,
    /// Arguments where the decisions differ.
    pub args: [u64; 6],
    /// The first filter's action.
    pub a: Action,
    /// The second filter's action.
    pub b: Action,
    /// Whether the difference depends on the arguments.
    pub by_args: bool,
}

impl Difference {
    /// `clone: ALLOW vs ERRNO(1) (arg0=0x10000000)`.
    #[must_use]
    pub fn describe(&self) -> String {
        if self.by_args {
            let args: Vec<String> = self.args.iter().map(|v| format!("{v:#x}")).collect();
            format!("{} ({} vs {} for args {})", self.name, self.a, self.b, args.join(","))
        } else {
            format!("{} ({} vs {})", self.name, self.a, self.b)
        }
    }
}

/// Candidate argument values for a syscall from the profiles' comparisons (boundaries and
/// masks), to find arguments on which two filters differ.
fn candidates(profiles: &[&Profile], name: &str) -> [Vec<u64>; 6] {
    let mut c: [Vec<u64>; 6] = Default::default();
    for p in profiles {
        for r in &p.syscalls {
            if !r.names.iter().any(|n| n.value == name) {
                continue;
            }
            for a in &r.args {
                let Some(slot) = usize::try_from(a.index).ok().and_then(|i| c.get_mut(i)) else { continue };
                let vals = match a.op {
                    Op::MaskedEq => vec![a.value_two, a.value_two | !a.value, a.value, a.value_two ^ a.value],
                    _ => vec![a.value, a.value.wrapping_add(1), a.value.wrapping_sub(1)],
                };
                for v in vals {
                    if !slot.contains(&v) {
                        slot.push(v);
                    }
                }
            }
        }
    }
    for s in &mut c {
        if !s.is_empty() {
            for v in [0u64, u64::MAX] {
                if !s.contains(&v) {
                    s.push(v);
                }
            }
            s.truncate(16);
        }
    }
    c
}

/// Where filters `a` and `b` decide differently on `arch`, per syscall libseccomp knows
/// (arguments taken from the profiles' comparisons).
#[must_use]
pub fn compare(a: &Filter, b: &Filter, arch: Arch, profiles: &[&Profile]) -> Vec<Difference> {
    let mut out = Vec::new();
    let audit = arch.audit_arch();
    for name in arch::syscall_names() {
        let Some(nr) = arch.resolve_name(name).and_then(|n| u32::try_from(n).ok()) else {
            continue;
        };
        let cands = candidates(profiles, name);
        let zero = [0u64; 6];
        let da = a.decide(audit, nr, &zero);
        let db = b.decide(audit, nr, &zero);
        if da != db {
            out.push(Difference {
                name,
                nr,
                args: zero,
                a: Action::from_ret(da),
                b: Action::from_ret(db),
                by_args: false,
            });
            continue;
        }
        // walk the combinations of candidate values (bounded)
        let dims: Vec<(usize, &Vec<u64>)> = cands.iter().enumerate().filter(|(_, v)| !v.is_empty()).collect();
        if dims.is_empty() {
            continue;
        }
        let total: usize = dims.iter().map(|(_, v)| v.len()).product::<usize>().min(8192);
        for k in 0..total {
            let mut args = [0u64; 6];
            let mut rest = k;
            for (i, vals) in &dims {
                let n = vals.len().max(1);
                if let (Some(slot), Some(v)) = (args.get_mut(*i), vals.get(rest % n)) {
                    *slot = *v;
                }
                rest /= n;
            }
            let (x, y) = (a.decide(audit, nr, &args), b.decide(audit, nr, &args));
            if x != y {
                out.push(Difference { name, nr, args, a: Action::from_ret(x), b: Action::from_ret(y), by_args: true });
                break;
            }
        }
    }
    out
}
