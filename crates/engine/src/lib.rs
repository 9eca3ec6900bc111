//! kguard's engines. Pure: no I/O, no HTTP, no CLI.
//!
//! * [`workload`]: pod templates of workload kinds and effective security contexts.
//! * [`podsec`]: the Pod Security Standards, as the PodSecurity admission plugin evaluates them.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod netpol;
pub mod podsec;
pub mod workload;
