//! The ABIs libseccomp knows: tokens, word size, byte order, and syscall name ↔ number
//! resolution exactly as libseccomp's `arch-*.c` and `syscalls.c` do it (multiplexed socket and
//! ipc calls on the "abi" architectures, the x32 bit, the MIPS bases).

use std::fmt;

use crate::table::SYSCALLS;

/// `X32_SYSCALL_BIT`: x32 syscall numbers carry it.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// An ABI a filter can be built for (libseccomp's `SCMP_ARCH_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Arch {
    X86,
    X86_64,
    X32,
    Arm,
    Aarch64,
    Loongarch64,
    M68k,
    Mips,
    Mipsel,
    Mips64,
    Mipsel64,
    Mips64n32,
    Mipsel64n32,
    Parisc,
    Parisc64,
    Ppc,
    Ppc64,
    Ppc64le,
    Riscv64,
    S390,
    S390x,
    Sh,
    Sheb,
}

/// Byte order of an ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// Little endian.
    Little,
    /// Big endian.
    Big,
}

/// The 32 multiplexed calls (socketcall / ipc sub-calls) and their pseudo numbers
/// (`__PNR_socket` = -101 …, `__PNR_semop` = -201 …).
pub const MUX_CALLS: [(&str, i32); 32] = [
    ("socket", -101),
    ("bind", -102),
    ("connect", -103),
    ("listen", -104),
    ("accept", -105),
    ("getsockname", -106),
    ("getpeername", -107),
    ("socketpair", -108),
    ("send", -109),
    ("recv", -110),
    ("sendto", -111),
    ("recvfrom", -112),
    ("shutdown", -113),
    ("setsockopt", -114),
    ("getsockopt", -115),
    ("sendmsg", -116),
    ("recvmsg", -117),
    ("accept4", -118),
    ("recvmmsg", -119),
    ("sendmmsg", -120),
    ("semop", -201),
    ("semget", -202),
    ("semctl", -203),
    ("semtimedop", -204),
    ("msgsnd", -211),
    ("msgrcv", -212),
    ("msgget", -213),
    ("msgctl", -214),
    ("shmat", -221),
    ("shmdt", -222),
    ("shmget", -223),
    ("shmctl", -224),
];

impl Arch {
    /// Every ABI, in libseccomp's order of `SCMP_ARCH_*` definitions.
    pub const ALL: [Arch; 23] = [
        Arch::X86,
        Arch::X86_64,
        Arch::X32,
        Arch::Arm,
        Arch::Aarch64,
        Arch::Loongarch64,
        Arch::M68k,
        Arch::Mips,
        Arch::Mipsel,
        Arch::Mips64,
        Arch::Mipsel64,
        Arch::Mips64n32,
        Arch::Mipsel64n32,
        Arch::Parisc,
        Arch::Parisc64,
        Arch::Ppc,
        Arch::Ppc64,
        Arch::Ppc64le,
        Arch::Riscv64,
        Arch::S390,
        Arch::S390x,
        Arch::Sh,
        Arch::Sheb,
    ];

    /// libseccomp's name (`seccomp_arch_resolve_name`, python `Arch("…")`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::X86_64 => "x86_64",
            Arch::X32 => "x32",
            Arch::Arm => "arm",
            Arch::Aarch64 => "aarch64",
            Arch::Loongarch64 => "loongarch64",
            Arch::M68k => "m68k",
            Arch::Mips => "mips",
            Arch::Mipsel => "mipsel",
            Arch::Mips64 => "mips64",
            Arch::Mipsel64 => "mipsel64",
            Arch::Mips64n32 => "mips64n32",
            Arch::Mipsel64n32 => "mipsel64n32",
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

    /// Parses libseccomp's name (`x86_64`) or the OCI spelling (`SCMP_ARCH_X86_64`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Arch> {
        let lower = s.strip_prefix("SCMP_ARCH_").map(str::to_ascii_lowercase);
        let key = lower.as_deref().unwrap_or(s);
        Arch::ALL.iter().copied().find(|a| a.name() == key)
    }

    /// The OCI spelling, `SCMP_ARCH_X86_64`.
    #[must_use]
    pub fn oci_name(self) -> String {
        format!("SCMP_ARCH_{}", self.name().to_ascii_uppercase())
    }

    /// The architecture this program was built for, if libseccomp knows it.
    #[must_use]
    pub fn native() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::X86_64),
            "x86" => Some(Arch::X86),
            "aarch64" => Some(Arch::Aarch64),
            "arm" => Some(Arch::Arm),
            "riscv64" => Some(Arch::Riscv64),
            "s390x" => Some(Arch::S390x),
            "powerpc64" => Some(if cfg!(target_endian = "little") { Arch::Ppc64le } else { Arch::Ppc64 }),
            "loongarch64" => Some(Arch::Loongarch64),
            "mips64" => Some(if cfg!(target_endian = "little") { Arch::Mipsel64 } else { Arch::Mips64 }),
            "mips" => Some(if cfg!(target_endian = "little") { Arch::Mipsel } else { Arch::Mips }),
            _ => None,
        }
    }

    /// The `SCMP_ARCH_*` token (for x32 differs from the audit value the kernel reports).
    #[must_use]
    pub const fn token(self) -> u32 {
        match self {
            Arch::X32 => 0x4000_003e,
            other => other.audit_arch(),
        }
    }

    /// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch`.
    #[must_use]
    pub const fn audit_arch(self) -> u32 {
        const LE: u32 = 0x4000_0000;
        const B64: u32 = 0x8000_0000;
        const N32: u32 = 0x2000_0000;
        match self {
            Arch::X86 => 3 | LE,
            Arch::X86_64 | Arch::X32 => 62 | LE | B64,
            Arch::Arm => 40 | LE,
            Arch::Aarch64 => 183 | LE | B64,
            Arch::Loongarch64 => 258 | LE | B64,
            Arch::M68k => 4,
            Arch::Mips => 8,
            Arch::Mipsel => 8 | LE,
            Arch::Mips64 => 8 | B64,
            Arch::Mipsel64 => 8 | B64 | LE,
            Arch::Mips64n32 => 8 | B64 | N32,
            Arch::Mipsel64n32 => 8 | B64 | LE | N32,
            Arch::Parisc => 15,
            Arch::Parisc64 => 15 | B64,
            Arch::Ppc => 20,
            Arch::Ppc64 => 21 | B64,
            Arch::Ppc64le => 21 | B64 | LE,
            Arch::Riscv64 => 243 | B64 | LE,
            Arch::S390 => 22,
            Arch::S390x => 22 | B64,
            Arch::Sh => 42 | LE,
            Arch::Sheb => 42,
        }
    }

    /// The ABI whose `seccomp_data.arch` is `audit` (x86_64 for `AUDIT_ARCH_X86_64`; x32 calls
    /// are told apart by [`X32_SYSCALL_BIT`]).
    #[must_use]
    pub fn from_audit(audit: u32) -> Option<Arch> {
        Arch::ALL.iter().copied().find(|a| *a != Arch::X32 && a.audit_arch() == audit)
    }

    /// Whether syscall arguments are 64 bits wide.
    #[must_use]
    pub const fn is_64(self) -> bool {
        matches!(
            self,
            Arch::X86_64
                | Arch::Aarch64
                | Arch::Loongarch64
                | Arch::Mips64
                | Arch::Mipsel64
                | Arch::Parisc64
                | Arch::Ppc64
                | Arch::Ppc64le
                | Arch::Riscv64
                | Arch::S390x
        )
    }

    /// Byte order.
    #[must_use]
    pub const fn endian(self) -> Endian {
        if self.audit_arch() & 0x4000_0000 != 0 { Endian::Little } else { Endian::Big }
    }

    /// The column of this ABI in the syscall table.
    const fn column(self) -> usize {
        match self {
            Arch::X86 => 0,
            Arch::X86_64 => 1,
            Arch::X32 => 2,
            Arch::Arm => 3,
            Arch::Aarch64 => 4,
            Arch::Loongarch64 => 5,
            Arch::M68k => 6,
            Arch::Mips | Arch::Mipsel => 7,
            Arch::Mips64 | Arch::Mipsel64 => 8,
            Arch::Mips64n32 | Arch::Mipsel64n32 => 9,
            Arch::Parisc => 10,
            Arch::Parisc64 => 11,
            Arch::Ppc => 12,
            Arch::Ppc64 | Arch::Ppc64le => 13,
            Arch::Riscv64 => 14,
            Arch::S390 => 15,
            Arch::S390x => 16,
            Arch::Sh | Arch::Sheb => 17,
        }
    }

    const fn nr_base(self) -> i32 {
        match self {
            Arch::Mips | Arch::Mipsel => 4000,
            Arch::Mips64 | Arch::Mipsel64 => 5000,
            Arch::Mips64n32 | Arch::Mipsel64n32 => 6000,
            _ => 0,
        }
    }

    /// Whether libseccomp multiplexes socket and ipc calls on this ABI (`abi_rule_add`).
    #[must_use]
    pub const fn is_mux_abi(self) -> bool {
        matches!(
            self,
            Arch::X86
                | Arch::M68k
                | Arch::Mips
                | Arch::Mipsel
                | Arch::Ppc
                | Arch::Ppc64
                | Arch::Ppc64le
                | Arch::S390
                | Arch::S390x
                | Arch::Sh
                | Arch::Sheb
        )
    }

    /// `socketcall`'s number on a multiplexing ABI.
    #[must_use]
    pub const fn sys_socketcall(self) -> i32 {
        102 + self.nr_base()
    }

    /// `ipc`'s number on a multiplexing ABI.
    #[must_use]
    pub const fn sys_ipc(self) -> i32 {
        117 + self.nr_base()
    }

    /// `syscall_resolve_name_raw`: the table number (with the MIPS base), pseudo numbers as they are.
    #[must_use]
    pub fn resolve_name_raw(self, name: &str) -> Option<i32> {
        let row = SYSCALLS.binary_search_by(|(n, _)| (*n).cmp(name)).ok().and_then(|i| SYSCALLS.get(i))?;
        let v = *row.1.get(self.column())?;
        Some(if v >= 0 { v + self.nr_base() } else { v })
    }

    /// `syscall_resolve_num_raw`.
    #[must_use]
    pub fn resolve_num_raw(self, num: i32) -> Option<&'static str> {
        let base = self.nr_base();
        let num = if base > 0 && num >= base { num - base } else { num };
        let col = self.column();
        SYSCALLS.iter().find(|(_, nums)| nums.get(col) == Some(&num)).map(|(n, _)| *n)
    }

    /// `arch_syscall_resolve_name`: what libseccomp resolves a name to on this ABI (the x32 bit,
    /// the multiplexed pseudo numbers). `None` for a name libseccomp does not know.
    #[must_use]
    pub fn resolve_name(self, name: &str) -> Option<i32> {
        if self.is_mux_abi()
            && let Some((_, n)) = MUX_CALLS.iter().find(|(m, _)| *m == name)
        {
            return Some(*n);
        }
        let raw = self.resolve_name_raw(name)?;
        if self == Arch::X32 && raw >= 0 {
            #[allow(clippy::cast_possible_wrap)]
            return Some(raw | X32_SYSCALL_BIT as i32);
        }
        Some(raw)
    }

    /// `arch_syscall_resolve_num`.
    #[must_use]
    pub fn resolve_num(self, num: i32) -> Option<&'static str> {
        if self.is_mux_abi()
            && let Some((m, _)) = MUX_CALLS.iter().find(|(_, n)| *n == num)
        {
            return Some(m);
        }
        if self == Arch::X32 && num >= 0 {
            #[allow(clippy::cast_possible_wrap)]
            return self.resolve_num_raw(num & !(X32_SYSCALL_BIT as i32));
        }
        self.resolve_num_raw(num)
    }

    /// The number the kernel sees for `name` on this ABI, or `None` when the call does not exist
    /// there (libseccomp's `seccomp_syscall_resolve_name_rewrite`, multiplexed calls mapped to
    /// `socketcall`/`ipc`).
    #[must_use]
    pub fn syscall_number(self, name: &str) -> Option<u32> {
        let mut n = self.resolve_name(name)?;
        if n < 0 && self.is_mux_abi() {
            if (-120..=-100).contains(&n) {
                n = self.sys_socketcall();
            } else if (-224..=-200).contains(&n) {
                n = self.sys_ipc();
            }
        }
        u32::try_from(n).ok()
    }

    /// The name of the syscall the kernel numbers `nr` on this ABI (without the multiplexers).
    #[must_use]
    pub fn syscall_name(self, nr: u32) -> Option<&'static str> {
        let n = i32::try_from(nr).ok()?;
        if self == Arch::X32 {
            if nr & X32_SYSCALL_BIT == 0 {
                return None;
            }
            #[allow(clippy::cast_possible_wrap)]
            return self.resolve_num_raw(n & !(X32_SYSCALL_BIT as i32));
        }
        self.resolve_num_raw(n)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every syscall name libseccomp knows.
pub fn syscall_names() -> impl Iterator<Item = &'static str> {
    SYSCALLS.iter().map(|(n, _)| *n)
}

/// Whether libseccomp knows `name` on any ABI.
#[must_use]
pub fn is_known_syscall(name: &str) -> bool {
    SYSCALLS.binary_search_by(|(n, _)| (*n).cmp(name)).is_ok()
}
