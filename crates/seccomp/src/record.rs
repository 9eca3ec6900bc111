//! Profiles written from recorded syscalls (the tracing itself is the CLI's: this crate does no
//! I/O).

use std::collections::BTreeSet;

use crate::arch::Arch;

/// Syscalls `kguard seccomp run` makes between loading the filter and `execve`: a recorded
/// profile allows them so that `run` can start the command it was recorded from.
pub const RUN_PREAMBLE: [&str; 3] = ["execve", "rt_sigaction", "rt_sigprocmask"];

/// The output format of a recorded profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFormat {
    /// OCI JSON.
    Oci,
    /// A security-profiles-operator `SeccompProfile` object (YAML).
    SeccompProfile,
}

/// The names of the recorded syscalls, per architecture; numbers without a name are returned
/// apart.
#[must_use]
pub fn names(used: &BTreeSet<(Arch, u32)>) -> (BTreeSet<&'static str>, Vec<(Arch, u32)>) {
    let mut names = BTreeSet::new();
    let mut unknown = Vec::new();
    for (a, nr) in used {
        match a.syscall_name(*nr) {
            Some(n) => {
                names.insert(n);
            }
            None => unknown.push((*a, *nr)),
        }
    }
    (names, unknown)
}

/// A minimal profile: the recorded syscalls (plus [`RUN_PREAMBLE`]) allowed, everything else
/// `SCMP_ACT_ERRNO` (EPERM), for the architectures seen.
#[must_use]
pub fn profile_text(used: &BTreeSet<(Arch, u32)>, format: RecordFormat, name: &str) -> String {
    let (mut names, _) = names(used);
    names.extend(RUN_PREAMBLE);
    let mut arches: Vec<Arch> = used.iter().map(|(a, _)| *a).collect::<BTreeSet<_>>().into_iter().collect();
    if arches.is_empty() {
        arches.extend(Arch::native());
    }
    let arch_names: Vec<String> = arches.iter().map(|a| a.oci_name()).collect();
    match format {
        RecordFormat::Oci => {
            let v = serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "architectures": arch_names,
                "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
            });
            serde_json::to_string_pretty(&v).map(|s| s + "\n").unwrap_or_default()
        }
        RecordFormat::SeccompProfile => {
            let mut s = String::from(
                "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\nmetadata:\n",
            );
            s.push_str(&format!("  name: {}\n", yaml_scalar(name)));
            s.push_str("spec:\n  defaultAction: SCMP_ACT_ERRNO\n  architectures:\n");
            for a in &arch_names {
                s.push_str(&format!("  - {a}\n"));
            }
            s.push_str("  syscalls:\n  - action: SCMP_ACT_ALLOW\n    names:\n");
            for n in &names {
                s.push_str(&format!("    - {n}\n"));
            }
            s
        }
    }
}

fn yaml_scalar(s: &str) -> String {
    let safe: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let t = safe.trim_matches(|c: char| c == '-' || c == '.');
    if t.is_empty() { "recorded".to_owned() } else { t.to_owned() }
}
