//! Filter actions: libseccomp's `SCMP_ACT_*` values, which are the kernel's `SECCOMP_RET_*`
//! return values.

use std::fmt;

/// What a filter returns for a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Kill the whole process (`SECCOMP_RET_KILL_PROCESS`).
    KillProcess,
    /// Kill the calling thread (`SECCOMP_RET_KILL_THREAD`, libseccomp's `SCMP_ACT_KILL`).
    KillThread,
    /// Send `SIGSYS` (`SECCOMP_RET_TRAP`).
    Trap,
    /// Fail with this errno (`SECCOMP_RET_ERRNO`, low 16 bits).
    Errno(u16),
    /// Notify a userspace supervisor (`SECCOMP_RET_USER_NOTIF`).
    Notify,
    /// Notify a ptrace tracer with this message (`SECCOMP_RET_TRACE`).
    Trace(u16),
    /// Allow and log (`SECCOMP_RET_LOG`).
    Log,
    /// Allow (`SECCOMP_RET_ALLOW`).
    Allow,
}

impl Action {
    /// The 32-bit return value of the BPF program.
    #[must_use]
    pub const fn ret(self) -> u32 {
        match self {
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0,
            Action::Trap => 0x0003_0000,
            Action::Errno(e) => 0x0005_0000 | e as u32,
            Action::Notify => 0x7fc0_0000,
            Action::Trace(m) => 0x7ff0_0000 | m as u32,
            Action::Log => 0x7ffc_0000,
            Action::Allow => 0x7fff_0000,
        }
    }

    /// The action of a return value, as the kernel reads it (`SECCOMP_RET_ACTION_FULL`); an
    /// unknown action is `KillProcess`, as in `seccomp_run_filters`' caller.
    #[must_use]
    pub const fn from_ret(ret: u32) -> Action {
        #[allow(clippy::cast_possible_truncation)]
        let data = (ret & 0xffff) as u16;
        match ret & 0xffff_0000 {
            0x0000_0000 => Action::KillThread,
            0x0003_0000 => Action::Trap,
            0x0005_0000 => Action::Errno(data),
            0x7fc0_0000 => Action::Notify,
            0x7ff0_0000 => Action::Trace(data),
            0x7ffc_0000 => Action::Log,
            0x7fff_0000 => Action::Allow,
            _ => Action::KillProcess,
        }
    }

    /// How restrictive the kernel considers the action when filters are stacked (lower wins).
    #[must_use]
    pub const fn precedence(self) -> u8 {
        match self {
            Action::KillProcess => 0,
            Action::KillThread => 1,
            Action::Trap => 2,
            Action::Errno(_) => 3,
            Action::Notify => 4,
            Action::Trace(_) => 5,
            Action::Log => 6,
            Action::Allow => 7,
        }
    }

    /// Whether the syscall runs (ALLOW, LOG).
    #[must_use]
    pub const fn runs(self) -> bool {
        matches!(self, Action::Allow | Action::Log)
    }

    /// The OCI spelling (`SCMP_ACT_ERRNO`), without the errno.
    #[must_use]
    pub const fn oci_name(self) -> &'static str {
        match self {
            Action::KillProcess => "SCMP_ACT_KILL_PROCESS",
            Action::KillThread => "SCMP_ACT_KILL_THREAD",
            Action::Trap => "SCMP_ACT_TRAP",
            Action::Errno(_) => "SCMP_ACT_ERRNO",
            Action::Notify => "SCMP_ACT_NOTIFY",
            Action::Trace(_) => "SCMP_ACT_TRACE",
            Action::Log => "SCMP_ACT_LOG",
            Action::Allow => "SCMP_ACT_ALLOW",
        }
    }

    /// Parses libseccomp's test spelling: `ALLOW`, `KILL`, `KILL_PROCESS`, `TRAP`, `LOG`,
    /// `NOTIFY`, `ERRNO(n)`, `TRACE(n)`.
    #[must_use]
    pub fn parse_sim(s: &str) -> Option<Action> {
        let num = |inner: &str| -> Option<u16> {
            let v: u64 = inner.trim().parse().ok()?;
            #[allow(clippy::cast_possible_truncation)]
            Some((v & 0xffff) as u16)
        };
        Some(match s {
            "ALLOW" => Action::Allow,
            "KILL" | "KILL_THREAD" => Action::KillThread,
            "KILL_PROCESS" => Action::KillProcess,
            "TRAP" => Action::Trap,
            "LOG" => Action::Log,
            "NOTIFY" => Action::Notify,
            _ => {
                if let Some(inner) = s.strip_prefix("ERRNO(").and_then(|r| r.strip_suffix(')')) {
                    Action::Errno(num(inner)?)
                } else if let Some(inner) = s.strip_prefix("TRACE(").and_then(|r| r.strip_suffix(')')) {
                    Action::Trace(num(inner)?)
                } else {
                    return None;
                }
            }
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::KillProcess => f.write_str("KILL_PROCESS"),
            Action::KillThread => f.write_str("KILL"),
            Action::Trap => f.write_str("TRAP"),
            Action::Errno(e) => write!(f, "ERRNO({e})"),
            Action::Notify => f.write_str("NOTIFY"),
            Action::Trace(m) => write!(f, "TRACE({m})"),
            Action::Log => f.write_str("LOG"),
            Action::Allow => f.write_str("ALLOW"),
        }
    }
}
