//! kguard's engines. Pure: no I/O, no HTTP, no CLI.
//!
//! * [`workload`]: pod templates of workload kinds and effective security contexts.
//! * [`podsec`]: the Pod Security Standards, as the PodSecurity admission plugin evaluates them.
//! * [`psp`]: PodSecurityPolicy admission (policy/v1beta1, as kube-apiserver 1.24 ran it).
//! * [`netpol`]: NetworkPolicy (and Admin/BaselineAdminNetworkPolicy) connectivity.
//! * [`rules`]: the registry of every rule and rule selection.
//! * [`scan`]: `kguard scan` orchestration.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod admission;
pub mod audit;
pub mod authn;
pub mod authz;
pub mod checks;
pub mod credentials;
pub mod detect;
pub mod kubesec;
pub mod netpol;
pub mod podsec;
pub mod psp;
pub mod rules;
pub mod scan;
pub mod text;
pub mod workload;
