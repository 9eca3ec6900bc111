//! Service-mesh mTLS, the pure half: workload identity (SPIFFE IDs, X.509-SVIDs), the policy
//! objects of Istio that decide whether a port takes mTLS, plaintext or both, and the
//! ClientHello detection a PERMISSIVE port runs on a connection's first bytes.
//!
//! * [`spiffe`]: SPIFFE IDs and trust domains, go-spiffe's parser and error texts.
//! * [`svid`]: the X.509-SVID rules (one URI SAN, leaf not a CA, key usage bits).
//! * [`istio`]: PeerAuthentication selection and composition (Istio's
//!   `ComposePeerAuthentication`), DestinationRule `tls.mode` against the server's mode,
//!   AuthorizationPolicy identity conditions on PERMISSIVE ports; [`findings`]: the `MESH` rules.
//! * [`linkerd`]: Linkerd's inbound policy per pod port (injection, default inbound policy,
//!   Servers, ServerAuthorizations, AuthorizationPolicies and their authentications, opaque
//!   ports) and the object that decided it.
//! * [`ca`]: a mesh CA issuing leaf SVIDs that pass [`svid`]'s rules.
//! * [`detect`]: linkerd2-proxy's `parse_sni` and a buffering detector for the proxy.
//! * [`proxy`]: the sidecar proxy's configuration file and its per-connection decisions (port
//!   modes, allow-lists, the upstream's identity).
//!
//! No I/O: the proxy (sockets, rustls) lives in `kguard_server::mesh_proxy` and calls [`proxy`],
//! [`detect`] and [`svid`].
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

pub mod ca;
pub mod detect;
pub mod findings;
pub mod istio;
pub mod linkerd;
pub mod proxy;
pub mod spiffe;
pub mod svid;

pub use spiffe::{IdError, SpiffeId, TrustDomain};

/// Every rule of this crate (`kguard scan`, `kguard explain`).
pub const RULES: &[kguard_report::RuleMeta] = findings::RULES;
