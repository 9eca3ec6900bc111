//! AppArmor as `apparmor_parser`, the kernel and the kubelet see it.
//!
//! * [`parse`]: the profile language (preamble, profiles, hats, every rule kind) with the
//!   parser's checks; [`scan`]: the character scanner and include resolution through [`scan::Fs`]
//!   (this crate does no I/O); [`vars`]: `@{VAR}` expansion, bounded.
//! * [`aare`]: the pattern language compiled to an automaton; matching and overlap.
//! * [`ast`]: the parsed policy.
//! * [`node`]: a node's loaded profiles against the pods that name them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod aare;
pub mod ast;
pub mod check;
pub mod error;
pub mod glob;
pub mod kube;
pub mod lint;
pub mod log;
pub mod names;
pub mod node;
pub mod parse;
pub mod query;
pub mod scan;
pub mod status;
pub mod template;
pub mod vars;

pub use error::{Error, Warning};
pub use parse::{Options, parse};

/// Every rule of this crate: profile lint (AA001–AA008, `kguard apparmor lint`) and the node
/// check (AA009–AA010, `kguard scan --apparmor-profiles`).
pub const RULES: &[kguard_report::RuleMeta] = &[
    lint::WEAK_MODE,
    lint::BROAD_WRITE_EXEC,
    lint::DANGEROUS_CAPABILITY,
    lint::UNRESTRICTED_MOUNT,
    lint::PTRACE,
    lint::IPC_WIDE_OPEN,
    lint::MISSING_DENIES,
    lint::WRITES_OWN_POLICY,
    node::NOT_LOADED,
    node::NOT_ENFORCED,
];
