//! A profile turned into a filter the way the container stack does it: moby resolves Docker's
//! `archMap`, `includes` and `excludes` for the container's architecture, capabilities and
//! kernel (`profiles/seccomp/seccomp_linux.go`), then runc adds one libseccomp rule per syscall
//! name (`libcontainer/seccomp/seccomp_linux.go`: names unknown to libseccomp skipped, rules
//! whose action is the default skipped, conditions on one argument repeated become separate
//! rules).

use kguard_model::Pos;

use crate::arch::{self, Arch};
use crate::filter::{ApiArg, Filter, FilterError};
use crate::profile::{Condition, Profile, SyscallRule};

/// Docker's default capability set (what a container has without `--cap-add`).
pub const DOCKER_DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Where the profile is enforced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The machine's (native) architecture.
    pub arch: Arch,
    /// The container's bounding capabilities (for Docker `includes`/`excludes`).
    pub caps: Vec<String>,
    /// The host kernel `major.minor`; `None` = new enough for every `minKernel`.
    pub kernel: Option<(u32, u32)>,
}

impl Target {
    /// A container with Docker's default capabilities on `arch`, on a current kernel.
    #[must_use]
    pub fn docker_default(arch: Arch) -> Self {
        Target { arch, caps: DOCKER_DEFAULT_CAPS.iter().map(|c| (*c).to_owned()).collect(), kernel: None }
    }
}

/// Go's `runtime.GOARCH` for an architecture (what Docker's `arches` conditions name).
#[must_use]
pub const fn go_arch(a: Arch) -> &'static str {
    match a {
        Arch::X86_64 => "amd64",
        Arch::X86 => "386",
        Arch::X32 => "x32",
        Arch::Arm => "arm",
        Arch::Aarch64 => "arm64",
        Arch::Loongarch64 => "loong64",
        Arch::M68k => "m68k",
        Arch::Mips => "mips",
        Arch::Mipsel => "mipsle",
        Arch::Mips64 => "mips64",
        Arch::Mipsel64 => "mips64le",
        Arch::Mips64n32 => "mips64n32",
        Arch::Mipsel64n32 => "mips64len32",
        Arch::Parisc => "parisc",
        Arch::Parisc64 => "parisc64",
        Arch::Ppc => "ppc",
        Arch::Ppc64 => "ppc64",
        Arch::Ppc64le => "ppc64le",
        Arch::Riscv64 => "riscv64",
        Arch::S390 => "s390",
        Arch::S390x => "s390x",
        Arch::Sh => "sh",
        Arch::Sheb => "sheb",
    }
}

/// A profile resolved for a target: the architectures and the syscall entries that apply.
#[derive(Clone, Debug)]
pub struct Resolved<'p> {
    /// Architectures added to the filter (besides the native one).
    pub arches: Vec<Arch>,
    /// Entries whose `includes`/`excludes` hold for the target.
    pub rules: Vec<&'p SyscallRule>,
}

fn holds(c: &Condition, target: &Target, include: bool) -> bool {
    let arch = go_arch(target.arch);
    let kernel_ok = |min: (u32, u32)| target.kernel.is_none_or(|k| k >= min);
    if include {
        (c.arches.is_empty() || c.arches.iter().any(|a| a == arch))
            && c.caps.iter().all(|cap| target.caps.contains(cap))
            && c.min_kernel.is_none_or(kernel_ok)
    } else {
        (!c.arches.is_empty() && c.arches.iter().any(|a| a == arch))
            || c.caps.iter().any(|cap| target.caps.contains(cap))
            || c.min_kernel.is_some_and(kernel_ok)
    }
}

/// moby's conversion of a Docker profile to the OCI one for `target`.
#[must_use]
pub fn resolve<'p>(profile: &'p Profile, target: &Target) -> Resolved<'p> {
    let mut arches: Vec<Arch> = profile.architectures.iter().map(|a| a.value).collect();
    for m in &profile.arch_map {
        if m.arch == target.arch {
            arches.push(m.arch);
            arches.extend(m.sub.iter().copied());
        }
    }
    let rules = profile
        .syscalls
        .iter()
        .filter(|r| holds(&r.includes, target, true) && !holds(&r.excludes, target, false))
        .collect();
    Resolved { arches, rules }
}

/// A profile the filter cannot be built from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct BuildError {
    /// Where.
    pub pos: Pos,
    /// JSON pointer of the field.
    pub pointer: String,
    /// What.
    pub message: String,
}

/// Builds the filter runc would load for `profile` on `target`.
///
/// # Errors
/// Syscall names libseccomp does not know (on any architecture), and rules libseccomp refuses
/// (conflicting actions for the same comparisons), each with its position.
pub fn build(profile: &Profile, target: &Target) -> Result<Filter, Vec<BuildError>> {
    let resolved = resolve(profile, target);
    let default = profile.default_filter_action();
    let mut f = Filter::new(target.arch, default);
    for a in &resolved.arches {
        let _ = f.add_arch(*a); // libseccomp-golang's AddArch ignores an existing architecture
    }
    let mut errors = Vec::new();
    let arch_list = || f_arches_text(target.arch, &resolved.arches);
    for rule in &resolved.rules {
        let action = rule.filter_action();
        let args: Vec<ApiArg> = rule
            .args
            .iter()
            .map(|a| ApiArg { arg: a.index, op: a.op, datum_a: a.value, datum_b: a.value_two })
            .collect();
        let repeated = (0..6u32).any(|i| args.iter().filter(|a| a.arg == i).count() > 1);
        for name in &rule.names {
            if !arch::is_known_syscall(&name.value) {
                errors.push(BuildError {
                    pos: name.pos,
                    pointer: name.pointer.clone(),
                    message: format!(
                        "unknown syscall {:?}: libseccomp knows no such syscall on {}",
                        name.value,
                        arch_list()
                    ),
                });
                continue;
            }
            let Some(nr) = f.resolve_native(&name.value) else { continue };
            if action == default {
                continue; // runc: "this rule is redundant, silently skip it"
            }
            let result = if repeated {
                args.iter().try_for_each(|a| f.add_rule(false, action, nr, std::slice::from_ref(a)))
            } else {
                f.add_rule(false, action, nr, &args)
            };
            if let Err(e) = result {
                errors.push(BuildError {
                    pos: name.pos,
                    pointer: name.pointer.clone(),
                    message: format!("libseccomp refuses the rule for {:?} ({}): {}", name.value, action, explain(e)),
                });
            }
        }
    }
    if errors.is_empty() { Ok(f) } else { Err(errors) }
}

fn f_arches_text(native: Arch, extra: &[Arch]) -> String {
    let mut v = vec![native];
    for a in extra {
        if !v.contains(a) {
            v.push(*a);
        }
    }
    v.iter().map(|a| a.oci_name()).collect::<Vec<_>>().join(", ")
}

fn explain(e: FilterError) -> String {
    match e {
        FilterError::Exists => {
            "another rule compares the same arguments with the same values but has a different action".to_owned()
        }
        other => other.to_string(),
    }
}
