//! Seccomp the way the Linux kernel, libseccomp, runc and the kubelet see it.
//!
//! * [`arch`], [`table`]: the 23 ABIs libseccomp knows and its syscall table (508 names,
//!   generated from libseccomp's `syscalls.csv` by `tools/gen_syscalls.py`).
//! * [`filter::Filter`]: libseccomp's filter collection (rule insertion ported from `db.c`, so
//!   overlapping rules resolve as libseccomp resolves them) and [`filter::Filter::decide`], what
//!   libseccomp's generated BPF returns.
//! * [`codegen::compile`]: our BPF for a filter (binary search on syscall numbers);
//!   [`bpf`]: the instructions, an interpreter and the kernel's verifier rules.
//! * [`profile`]: OCI/Docker JSON profiles and the security-profiles-operator `SeccompProfile`,
//!   parsed with positions; [`build`]: a profile turned into a filter as runc does.
//! * [`lint`]: findings (SCMP001…) and `diff`; [`kubelet`]: the kubelet's `seccompProfile`
//!   resolution.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod action;
pub mod arch;
pub mod bpf;
pub mod build;
pub mod codegen;
pub mod db;
pub mod defaults;
pub mod filter;
pub mod kubelet;
pub mod lint;
pub mod profile;
pub mod record;
pub mod table;

/// Every rule of this crate: profile lint (SCMP001–SCMP006, `kguard seccomp lint`) and the
/// node check (SCMP010–SCMP012, `kguard scan --seccomp-root`).
pub const RULES: &[kguard_report::RuleMeta] = &[
    lint::DEFAULT_ALLOW,
    lint::DANGEROUS_ALLOWED,
    lint::WEAKER_THAN_DEFAULT,
    lint::CONFLICTING_RULES,
    lint::INEFFECTIVE_ARG,
    lint::ACTION_SUPPORT,
    kubelet::LOCALHOST_MISSING,
    kubelet::LOCALHOST_INVALID,
    kubelet::LOCALHOST_WEAKER,
];

pub use action::Action;
pub use arch::Arch;
pub use filter::Filter;
